//! Spate's minimum-HA cluster: two nodes, one active and one passive.
//!
//! - [`coord`]: coordination on the cluster database (SQLite, MySQL/MariaDB, PostgreSQL): node
//!   rows with heartbeats, a leader lease with an **epoch** (fencing token) measured on the
//!   database's clock, member events, and the active's self-fencing before its lease can expire.
//! - [`sync`]: the event-sync protocol between the active and the passive: versioned,
//!   length-delimited, checksummed frames over TCP; a [`sync::SyncSender`] with a bounded
//!   in-flight window and per-entry acknowledgements, and a [`sync::SyncReceiver`] that keeps a
//!   bounded queue per app, trimmed by control messages, for replay after a failover.
//!
//! The design, the timing math and the wire format are in `docs/ha.md`.

pub mod coord;
mod error;
pub mod sync;

pub use error::{ClusterError, RefusalCode, Result};
