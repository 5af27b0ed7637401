//! Persistence stores: where app snapshots go, one trait and two implementations.
//!
//! A store keeps, per app, revisions named `<epochMillis>__<app>` holding the snapshot bytes as
//! the engine sealed them (the engine's envelope carries its own magic, version and checksum).
//! Every operation is scoped to one app: cleaning or deleting one app's revisions never touches
//! another's.

mod db;
mod file;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

pub use db::DbStore;
pub use file::FileStore;

use crate::datasource::Datasource;
use crate::error::{Result, StoreError};
use crate::revision::Revision;

/// A boxed, sendable future: what the object-safe store methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Keeps snapshots of apps by revision.
///
/// Saving a revision that already exists replaces it. Errors carry a
/// [`RetryHint`](crate::RetryHint); the store itself never retries or hides a failure.
pub trait PersistenceStore: Send + Sync + fmt::Debug {
    /// Stores `snapshot` as `revision` of `app`; the write is durable when this returns.
    fn save<'a>(
        &'a self,
        app: &'a str,
        revision: &'a Revision,
        snapshot: &'a [u8],
    ) -> BoxFuture<'a, Result<()>>;

    /// The bytes of `revision` of `app`, or `None` if there is no such revision.
    fn load<'a>(
        &'a self,
        app: &'a str,
        revision: &'a Revision,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>>>;

    /// All revisions of `app`, oldest first.
    fn revisions<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Vec<Revision>>>;

    /// The newest revision of `app` (greatest timestamp), if any.
    fn latest<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Option<Revision>>> {
        Box::pin(async move { Ok(self.revisions(app).await?.pop()) })
    }

    /// Deletes every revision of `app`; returns how many were deleted.
    fn delete_all<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<u64>>;

    /// Deletes the oldest revisions of `app` so that at most `keep` remain; returns how many
    /// were deleted. Other apps' revisions are never touched.
    fn clean<'a>(&'a self, app: &'a str, keep: usize) -> BoxFuture<'a, Result<u64>>;
}

/// Which store, configured: what `state.persistence` resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// Files under `location`.
    File {
        /// The directory that holds one subdirectory per app.
        location: PathBuf,
    },
    /// Rows of `table` in the database of `datasource`.
    Database {
        /// The datasource.
        datasource: Datasource,
        /// The table (WSO2's default is `PERSISTENCE_TABLE`).
        table: String,
    },
}

impl StoreSpec {
    /// Opens the store. Relative paths (the file store's location, SQLite files) resolve against
    /// `base_dir`. A database store connects lazily: this fails only on configuration errors.
    pub fn open(&self, base_dir: &std::path::Path) -> Result<Arc<dyn PersistenceStore>> {
        Ok(match self {
            StoreSpec::File { location } => Arc::new(FileStore::new(base_dir.join(location))),
            StoreSpec::Database { datasource, table } => {
                let target = datasource.target(base_dir)?;
                for warning in &target.warnings {
                    tracing::warn!(datasource = %datasource.name, "{warning}.");
                }
                Arc::new(DbStore::open(&target, table)?)
            }
        })
    }
}

/// Fails unless `revision` belongs to `app`.
pub(crate) fn check_revision_app(app: &str, revision: &Revision) -> Result<()> {
    crate::revision::validate_app_name(app)?;
    if revision.app() == app {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "revision",
            revision.as_str(),
            format!("it belongs to app `{}`, not `{app}`", revision.app()),
        ))
    }
}
