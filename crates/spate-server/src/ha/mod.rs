//! Minimum HA: the node side of `spate-cluster` (design in `docs/ha.md`, sections 4 and 5).
//!
//! - [`HaState`]: what the app manager, the connectors and the REST API share: the term's
//!   epoch, the output gate, the event-sync sender and the passive's replica.
//! - [`convert`]: engine values and input-log entries to and from the sync protocol's.
//! - [`forward`]: the active forwards every input-log entry to the passive, in seq order.
//! - [`failover`]: the passive takes over (restore, replay, then open the ports).
//! - [`role`]: the cluster events drive the role changes.
//! - [`node`]: starting a node of an HA pair.

pub mod apps;
pub mod convert;
pub mod failover;
pub mod forward;
pub mod node;
pub mod role;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use spate_cluster::coord::RoleState;
use spate_cluster::sync::{Control, Replica, SyncSender, Watermark};
use tokio::sync::watch;

/// What the node is in the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum NodeRole {
    /// The cluster database has not answered yet.
    Unknown = 0,
    Passive = 1,
    Active = 2,
}

impl NodeRole {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Unknown => "unknown",
            NodeRole::Passive => "passive",
            NodeRole::Active => "active",
        }
    }
}

/// The HA state shared across the node.
#[derive(Debug)]
pub struct HaState {
    role: AtomicU8,
    /// The epoch of this node's term while active; 0 otherwise.
    epoch: AtomicU64,
    lease: RwLock<Option<watch::Receiver<RoleState>>>,
    sender: RwLock<Option<Arc<SyncSender>>>,
    /// The passive's queues.
    pub replica: Arc<Replica>,
    /// `spate.ha.eventSync: ack`.
    pub ack: bool,
    /// `spate.ha.ackTimeoutMillis`.
    pub ack_timeout: Duration,
    /// Highest output seq delivered per (app, stream) in this term.
    delivered: Mutex<HashMap<(String, String), u64>>,
    /// Epoch-millis of the last successful persist.
    pub last_snapshot: AtomicU64,
    /// The apps deployed over REST, shared through the cluster database.
    pub catalog: std::sync::OnceLock<apps::AppCatalog>,
}

impl HaState {
    pub fn new(replica: Arc<Replica>, ack: bool, ack_timeout: Duration) -> HaState {
        HaState {
            role: AtomicU8::new(NodeRole::Unknown as u8),
            epoch: AtomicU64::new(0),
            lease: RwLock::new(None),
            sender: RwLock::new(None),
            replica,
            ack,
            ack_timeout,
            delivered: Mutex::default(),
            last_snapshot: AtomicU64::new(0),
            catalog: std::sync::OnceLock::new(),
        }
    }

    pub fn role(&self) -> NodeRole {
        match self.role.load(Ordering::Acquire) {
            1 => NodeRole::Passive,
            2 => NodeRole::Active,
            _ => NodeRole::Unknown,
        }
    }

    pub fn set_role(&self, role: NodeRole) {
        self.role.store(role as u8, Ordering::Release);
    }

    /// The coordinator's role watch (for the output gate).
    pub fn set_lease(&self, lease: watch::Receiver<RoleState>) {
        *self.lease.write().unwrap_or_else(PoisonError::into_inner) = Some(lease);
    }

    /// Starts a term at `epoch` with its sender.
    pub fn begin_term(&self, epoch: u64, sender: SyncSender) {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        *self.sender.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(sender));
        self.epoch.store(epoch, Ordering::Release);
    }

    /// Ends the term: the gate closes at once; the sender is handed back to be shut down.
    pub fn end_term(&self) -> Option<Arc<SyncSender>> {
        self.epoch.store(0, Ordering::Release);
        self.sender
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The current term's epoch (0: not active).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The output gate: whether this node may publish now — it holds the lease at its term's
    /// epoch by the local deadline (no I/O).
    pub fn may_publish(&self) -> bool {
        let epoch = self.epoch();
        epoch != 0
            && self
                .lease
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .is_some_and(|l| l.borrow().holds(epoch))
    }

    /// The term's event-sync sender.
    pub fn sender(&self) -> Option<Arc<SyncSender>> {
        self.sender
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// After a confirmed persist: tell the passive it may drop entries up to `covered_seq`.
    pub fn control(&self, app: &str, revision: &str, covered_seq: u64) {
        self.last_snapshot.store(
            crate::input_log::now_millis().max(0) as u64,
            Ordering::Release,
        );
        if let Some(sender) = self.sender() {
            sender.control(Control {
                app: app.to_string(),
                revision: revision.to_string(),
                covered_seq,
            });
        }
    }

    /// Outputs of `(app, stream)` up to `seq` were delivered.
    pub fn published(&self, app: &str, stream: &str, seq: u64) {
        {
            let mut d = self
                .delivered
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let entry = d
                .entry((app.to_string(), stream.to_string()))
                .or_insert(seq);
            *entry = (*entry).max(seq);
        }
        if let Some(sender) = self.sender() {
            sender.published(Watermark {
                app: app.to_string(),
                stream: stream.to_string(),
                seq,
            });
        }
    }

    /// Whether every output in `produced` (stream, last seq) of `app` was delivered.
    pub fn delivered_all(&self, app: &str, produced: &[(String, u64)]) -> bool {
        let d = self
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        produced.iter().all(|(stream, seq)| {
            d.get(&(app.to_string(), stream.clone()))
                .is_some_and(|got| got >= seq)
        })
    }

    /// Records an app deployed (`Some(text)`) or undeployed over REST for the other node.
    pub async fn record_app(&self, app: &str, text: Option<&str>) {
        if let Some(catalog) = self.catalog.get()
            && let Err(e) = catalog.put(app, text).await
        {
            tracing::error!(app, error = %e, "Cannot record the app in the cluster database; the passive node will not have this change after a failover.");
        }
    }

    /// Refreshes the HA gauges of `/metrics`.
    pub fn update_metrics(&self, metrics: &crate::metrics::Metrics) {
        let sender = self.sender().map(|s| s.stats());
        let replica = self.replica.stats();
        let values = [
            self.role() as i64,
            self.epoch().max(replica.epoch) as i64,
            sender.map_or(0, |s| s.in_flight) as i64,
            replica.queued as i64,
            self.last_snapshot.load(Ordering::Acquire) as i64,
        ];
        for (gauge, value) in metrics.ha.iter().zip(values) {
            gauge.set(value);
        }
    }

    /// For `/health`.
    pub fn health(&self) -> serde_json::Value {
        let sender = self.sender().map(|s| s.stats());
        let replica = self.replica.stats();
        serde_json::json!({
            "role": self.role().as_str(),
            "epoch": self.epoch().max(replica.epoch),
            "syncConnected": sender.as_ref().is_some_and(|s| s.connected),
            "syncLag": sender.as_ref().map_or(0, |s| s.in_flight),
            "syncLastError": sender.and_then(|s| s.last_error),
            "passiveQueueDepth": replica.queued,
            "lastSnapshotMillis": self.last_snapshot.load(Ordering::Acquire),
        })
    }
}
