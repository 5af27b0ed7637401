//! Coordination on the cluster database: node rows with heartbeats, a leader lease with an
//! epoch (fencing token) measured on the database's clock, and member events.
//!
//! ```no_run
//! # async fn demo(target: &spate_store::ConnectTarget) -> spate_cluster::Result<()> {
//! use spate_cluster::coord::{ClusterEvent, CoordConfig, Coordinator};
//! let mut config = CoordConfig::new("si", "wso2-si-1");
//! config.properties.event_sync_port = Some(9893);
//! let coordinator = Coordinator::connect(target, config).await?;
//! let mut events = coordinator.take_events().expect("taken once");
//! while let Some(event) = events.recv().await {
//!     match event {
//!         ClusterEvent::BecameActive { epoch, .. } => { /* restore, replay, open ports */ }
//!         ClusterEvent::Fenced { .. } => { /* stop sources and sinks now */ }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod db;
pub mod lease;
pub mod members;
pub mod schema;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use spate_store::{ConnectTarget, Dialect};
use sqlx::AnyPool;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::error::{ClusterError, Result};
use db::CoordDb;
pub use lease::LeaseTiming;
pub use members::{MemberChange, NodeInfo, NodeProperties};
pub use schema::DEFAULT_TABLE_PREFIX;

/// What `cluster.config` (plus the node's identity) gives the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordConfig {
    /// `groupId`: the same on both nodes.
    pub group_id: String,
    /// This node's id (`wso2.carbon.id`); unique in the group.
    pub node_id: String,
    /// `strategyConfig.heartbeatInterval`.
    pub heartbeat_interval: Duration,
    /// `strategyConfig.heartbeatMaxRetry`.
    pub heartbeat_max_retry: u32,
    /// `strategyConfig.eventPollingInterval`.
    pub event_polling_interval: Duration,
    /// Prefix of the two coordination tables (default `SPATE_CLUSTER_`).
    pub table_prefix: String,
    /// How long before the lease's expiry the active fences itself (default: a quarter of the
    /// lease, see [`LeaseTiming::new`]).
    pub fence_margin: Option<Duration>,
    /// What this node publishes in its `propertyMap`.
    pub properties: NodeProperties,
}

impl CoordConfig {
    /// SI's code defaults: heartbeat 5000 ms, 3 retries, polling 5000 ms.
    pub fn new(group_id: impl Into<String>, node_id: impl Into<String>) -> CoordConfig {
        CoordConfig {
            group_id: group_id.into(),
            node_id: node_id.into(),
            heartbeat_interval: Duration::from_millis(5000),
            heartbeat_max_retry: 3,
            event_polling_interval: Duration::from_millis(5000),
            table_prefix: DEFAULT_TABLE_PREFIX.to_string(),
            fence_margin: None,
            properties: NodeProperties::default(),
        }
    }

    /// The lease timing these settings give.
    pub fn timing(&self) -> LeaseTiming {
        LeaseTiming::new(
            self.heartbeat_interval,
            self.heartbeat_max_retry,
            self.fence_margin,
        )
    }

    fn validate(&self) -> Result<()> {
        let id_ok = |id: &str| !id.trim().is_empty() && id.chars().count() <= schema::MAX_ID_CHARS;
        if !id_ok(&self.group_id) || !id_ok(&self.node_id) {
            return Err(ClusterError::Config(format!(
                "group id `{}` and node id `{}` must be non-empty and at most {} characters",
                self.group_id,
                self.node_id,
                schema::MAX_ID_CHARS
            )));
        }
        if self.heartbeat_interval.is_zero()
            || self.event_polling_interval.is_zero()
            || self.heartbeat_max_retry == 0
        {
            return Err(ClusterError::Config(
                "heartbeatInterval, eventPollingInterval and heartbeatMaxRetry must be positive"
                    .to_string(),
            ));
        }
        Ok(())
    }
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not decided yet (the database has not answered).
    Starting,
    /// Holds the lease: runs the apps, opens ports, forwards events.
    Active,
    /// Does not hold the lease: queues the active's events, watches the lease.
    Passive,
}

/// The role as last decided, with what it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleState {
    /// Active or passive.
    pub role: Role,
    /// When active, the epoch of this node's lease; otherwise the last epoch seen.
    pub epoch: u64,
    /// The live leader last seen, if known.
    pub leader: Option<String>,
    /// When active: the local deadline by which the next renewal must succeed.
    pub deadline: Option<Instant>,
}

impl RoleState {
    /// Whether this node holds the lease at `epoch` right now, by the local deadline (no
    /// database call; turns false at the deadline even if the role loop is late).
    pub fn holds(&self, epoch: u64) -> bool {
        self.role == Role::Active
            && self.epoch == epoch
            && self.deadline.is_some_and(|d| Instant::now() < d)
    }
}

/// Something the server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// This node took the lease: restore, replay, then open ports (see `docs/ha.md`).
    BecameActive {
        /// The new epoch: every output and persistence write of this term carries it.
        epoch: u64,
        /// When the lease was won.
        at: Instant,
        /// The live peers at that moment (the passive to forward events to).
        peers: Vec<NodeInfo>,
    },
    /// This node starts as the passive node.
    BecamePassive {
        /// The active node, if one is live.
        leader: Option<String>,
        /// The current epoch.
        epoch: u64,
    },
    /// This node could not renew its lease before its deadline: stop sources and sinks now;
    /// the node is passive from here on.
    Fenced {
        /// The epoch that ended.
        epoch: u64,
        /// When the deadline was reached.
        at: Instant,
        /// Why.
        reason: String,
    },
    /// A node joined (or restarted). Logged as `memberAdded event received for node id : <id>`.
    MemberAdded(NodeInfo),
    /// A node missed `heartbeatMaxRetry` heartbeats, left, or restarted.
    MemberRemoved(NodeInfo),
    /// The cluster database stopped answering (reported once per outage).
    DbUnavailable {
        /// The error.
        error: String,
    },
    /// The cluster database answers again.
    DbRestored,
}

/// Settings shared by the loops.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub group: String,
    pub node: String,
    pub props_json: String,
    pub timing: LeaseTiming,
    pub poll_every: Duration,
}

/// A running coordinator. Dropping it stops its loops without releasing the lease (as a
/// crash would); call [`Coordinator::shutdown`] to leave cleanly.
#[derive(Debug)]
pub struct Coordinator {
    db: CoordDb,
    settings: Settings,
    prefix: String,
    role: watch::Receiver<RoleState>,
    members: watch::Receiver<Vec<NodeInfo>>,
    events: Mutex<Option<mpsc::UnboundedReceiver<ClusterEvent>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Coordinator {
    /// Opens a pool on `target` (the `cluster.config` datasource) and starts.
    pub async fn connect(target: &ConnectTarget, config: CoordConfig) -> Result<Coordinator> {
        let pool = target.connect_lazy()?;
        Coordinator::start(pool, target.backend.dialect(), config).await
    }

    /// Creates the tables if missing, registers this node and starts the role and member
    /// loops. Returns once the node row is written; the role follows within a heartbeat (watch
    /// [`Coordinator::role`] or the events). Fails only on bad settings or when the database
    /// refuses the schema; a database that is down is retried inside (reported as
    /// [`ClusterEvent::DbUnavailable`]) — but the first registration is awaited, so use a
    /// timeout if the caller must not wait.
    pub async fn start(
        pool: AnyPool,
        dialect: &'static dyn Dialect,
        config: CoordConfig,
    ) -> Result<Coordinator> {
        config.validate()?;
        let timing = config.timing();
        let db_timeout = timing
            .ttl
            .clamp(Duration::from_secs(1), Duration::from_secs(10));
        let db = CoordDb::new(pool, dialect, &config.table_prefix, db_timeout)?;
        let settings = Settings {
            group: config.group_id.clone(),
            node: config.node_id.clone(),
            props_json: config.properties.to_json(),
            timing,
            poll_every: config.event_polling_interval,
        };
        let mut delay = Duration::from_millis(100);
        loop {
            let attempt = async {
                db.ensure_schema().await?;
                db.register(&settings.group, &settings.node, &settings.props_json)
                    .await
            };
            match attempt.await {
                Ok(()) => break,
                Err(e) if e.retry_hint() == spate_store::RetryHint::WithBackoff => {
                    tracing::warn!(error = %e, "Cluster database unavailable at start; retrying.");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(timing.renew_every.max(Duration::from_millis(100)));
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(group = %settings.group, node = %settings.node,
            lease_ms = timing.ttl.as_millis(), margin_ms = timing.margin.as_millis(),
            "Joined the cluster group.");
        let (role_tx, role) = watch::channel(RoleState {
            role: Role::Starting,
            epoch: 0,
            leader: None,
            deadline: None,
        });
        let (members_tx, members) = watch::channel(Vec::new());
        let (events_tx, events) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(lease::run(
                db.clone(),
                settings.clone(),
                role_tx,
                events_tx.clone(),
                stop_rx.clone(),
            )),
            tokio::spawn(members::run(
                db.clone(),
                settings.clone(),
                role.clone(),
                members_tx,
                events_tx,
                stop_rx,
            )),
        ];
        Ok(Coordinator {
            db,
            settings,
            prefix: config.table_prefix,
            role,
            members,
            events: Mutex::new(Some(events)),
            stop,
            tasks,
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.settings.node
    }

    /// The lease timing in force.
    pub fn timing(&self) -> LeaseTiming {
        self.settings.timing
    }

    /// The current role (a watch: `changed().await` to follow it).
    pub fn role(&self) -> watch::Receiver<RoleState> {
        self.role.clone()
    }

    /// The live members (this node included) as of the last poll.
    pub fn members(&self) -> Vec<NodeInfo> {
        self.members.borrow().clone()
    }

    /// The live peers (other nodes) as of the last poll.
    pub fn peers(&self) -> Vec<NodeInfo> {
        self.members
            .borrow()
            .iter()
            .filter(|n| n.node_id != self.settings.node)
            .cloned()
            .collect()
    }

    /// The event stream; `None` after the first call.
    pub fn take_events(&self) -> Option<mpsc::UnboundedReceiver<ClusterEvent>> {
        self.events.lock().ok().and_then(|mut e| e.take())
    }

    /// Whether this node holds the lease at `epoch`, by the local deadline (cheap; use before
    /// every publish).
    pub fn holds_lease(&self, epoch: u64) -> bool {
        self.role.borrow().holds(epoch)
    }

    /// Whether this node holds the lease at `epoch`, asked of the database (one round trip;
    /// use before a persistence write or other irreversible step).
    pub async fn is_leader(&self, epoch: u64) -> Result<bool> {
        if !self.holds_lease(epoch) {
            return Ok(false);
        }
        self.db
            .is_leader(&self.settings.group, &self.settings.node, epoch)
            .await
    }

    /// An SQL predicate true only while this node holds the lease at some epoch, for writes to
    /// the cluster database made conditional on the epoch; placeholders from `first`, bind
    /// [`Coordinator::leader_binds`].
    pub fn leader_predicate(&self, first: usize) -> Result<String> {
        schema::leader_predicate(self.db.dialect(), &self.prefix, first)
    }

    /// The values to bind to [`Coordinator::leader_predicate`]: group, node id, epoch.
    pub fn leader_binds(&self, epoch: u64) -> (String, String, i64) {
        (
            self.settings.group.clone(),
            self.settings.node.clone(),
            i64::try_from(epoch).unwrap_or(i64::MAX),
        )
    }

    /// Fault injection for tests and drills: while on, every database call of this coordinator
    /// fails as if the database were unreachable (the active fences itself at its deadline).
    pub fn inject_db_outage(&self, on: bool) {
        self.db.set_outage(on);
    }

    /// Leaves cleanly: releases the lease if held (the peer takes over at its next beat) and
    /// deletes this node's row (the peer sees it removed at its next poll).
    pub async fn shutdown(mut self) {
        let _no_receivers = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _joined = task.await;
        }
        if let Err(e) = self
            .db
            .delete_node(&self.settings.group, &self.settings.node)
            .await
        {
            tracing::warn!(error = %e, "Could not delete this node's row on shutdown.");
        }
    }
}
