//! Spate's persistence layer: where app snapshots are kept between runs and across a failover.
//!
//! - [`Datasource`]: a named database from `wso2.datasources`, with its JDBC URL translated
//!   ([`jdbc`]) to MySQL/MariaDB, PostgreSQL or SQLite (H2 URLs become SQLite files).
//! - [`Dialect`]: what each SQL backend says its own way; callers never branch on the backend.
//! - [`PersistenceStore`]: save / load / list / clean snapshots per app by [`Revision`]
//!   (`<epochMillis>__<app>`), implemented by [`FileStore`] and [`DbStore`]; [`StoreSpec`] opens
//!   the one `state.persistence` asks for, and [`store_class()`] maps WSO2's class names to it.
//!
//! Errors are [`StoreError`]s with a [`RetryHint`]: a database that is down gives
//! [`StoreError::Unavailable`], which the caller may retry; nothing here retries or panics.

pub mod datasource;
pub mod dialect;
mod error;
pub mod jdbc;
pub mod revision;
pub mod store;
pub mod store_class;

pub use datasource::{ConnectTarget, Datasource, PoolSettings};
pub use dialect::Dialect;
pub use error::{Cause, Result, RetryHint, StoreError, sqlx_is_transient};
pub use jdbc::Backend;
pub use revision::Revision;
pub use store::{BoxFuture, DbStore, FileStore, PersistenceStore, StoreSpec};
pub use store_class::{StoreClass, StoreKind, store_class};
