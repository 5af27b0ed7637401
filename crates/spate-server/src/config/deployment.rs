//! `deployment.config`: minimum HA (one active and one passive node). Without this section, or
//! with it commented out as shipped, the node runs standalone.
//!
//! | Key | Default |
//! |---|---|
//! | `type` | required: `ha` (`distributed` is not supported) |
//! | `passiveNodeDetailsWaitTimeOutMillis` | `300000` |
//! | `passiveNodeDetailsRetrySleepTimeMillis` | `500` |
//! | `eventByteBufferQueueCapacity` | `20000` (at least 1) |
//! | `byteBufferExtractorThreadPoolSize` | `5` (accepted; unused in SI too) |
//! | `eventSyncServer.host` / `.port` | `0.0.0.0` / `9893` |
//! | `eventSyncServer.advertisedHost` / `.advertisedPort` | `host` / `port` |
//! | `eventSyncServer.bossThreads` / `.workerThreads` | `10` / `10` (accepted; Spate sizes its own runtime) |
//! | `eventSyncClientPool.maxActive`, `maxTotal`, `maxIdle` | `10` |
//! | `eventSyncClientPool.maxWait` | `60000` |
//! | `eventSyncClientPool.minEvictableIdleTimeMillis` | `120000` |
//!
//! The SP 4.0–4.2 keys (`liveSync`, `outputSyncInterval`, ...) belong to an HA design neither SI
//! nor Spate has, and are errors.

use std::time::Duration;

use super::problems::Report;
use super::reader::MapReader;
use super::yaml::Node;

/// Keys of the SP 4.0–4.2 "liveSync" HA design.
const LIVE_SYNC_KEYS: [&str; 6] = [
    "liveSync",
    "outputSyncInterval",
    "stateSyncGracePeriod",
    "sinkQueueCapacity",
    "sourceQueueCapacity",
    "retryAppSyncPeriod",
];

/// How the node is deployed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeploymentMode {
    /// One node on its own.
    #[default]
    Standalone,
    /// One of the two nodes of a minimum HA pair.
    Ha(HaConfig),
}

/// The event-sync TCP server every HA node runs (the passive receives the active's events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSyncServer {
    /// `host`: bind address.
    pub host: String,
    /// `port`.
    pub port: u16,
    /// `advertisedHost`: what the peer connects to, when it differs from `host`.
    pub advertised_host: Option<String>,
    /// `advertisedPort`: when it differs from `port` (`0` means unset, as in SI).
    pub advertised_port: Option<u16>,
    /// `bossThreads` (accepted).
    pub boss_threads: u32,
    /// `workerThreads` (accepted).
    pub worker_threads: u32,
}

impl EventSyncServer {
    /// The host and port the peer should connect to.
    pub fn advertised(&self) -> (&str, u16) {
        (
            self.advertised_host.as_deref().unwrap_or(&self.host),
            self.advertised_port.unwrap_or(self.port),
        )
    }
}

/// The active's connections to the passive's event-sync server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSyncClientPool {
    /// `maxActive`.
    pub max_active: u32,
    /// `maxTotal`.
    pub max_total: u32,
    /// `maxIdle`.
    pub max_idle: u32,
    /// `maxWait`.
    pub max_wait: Duration,
    /// `minEvictableIdleTimeMillis`.
    pub min_evictable_idle: Duration,
}

/// Settings of a minimum-HA node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaConfig {
    /// `passiveNodeDetailsWaitTimeOutMillis`.
    pub passive_node_details_wait_timeout: Duration,
    /// `passiveNodeDetailsRetrySleepTimeMillis`.
    pub passive_node_details_retry_sleep: Duration,
    /// `eventByteBufferQueueCapacity`: the passive's queue bound.
    pub event_queue_capacity: u32,
    /// `eventSyncServer`.
    pub event_sync_server: EventSyncServer,
    /// `eventSyncClientPool`.
    pub event_sync_client_pool: EventSyncClientPool,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            passive_node_details_wait_timeout: Duration::from_millis(300_000),
            passive_node_details_retry_sleep: Duration::from_millis(500),
            event_queue_capacity: 20_000,
            event_sync_server: EventSyncServer {
                host: "0.0.0.0".to_string(),
                port: 9893,
                advertised_host: None,
                advertised_port: None,
                boss_threads: 10,
                worker_threads: 10,
            },
            event_sync_client_pool: EventSyncClientPool {
                max_active: 10,
                max_total: 10,
                max_idle: 10,
                max_wait: Duration::from_millis(60_000),
                min_evictable_idle: Duration::from_millis(120_000),
            },
        }
    }
}

/// Reads `deployment.config` if the file has it (absent or empty: standalone).
pub fn read_if_present(node: Option<&Node>, report: &mut Report) -> DeploymentMode {
    match node {
        Some(node) if node.value != super::yaml::Value::Null => read(node, report),
        _ => DeploymentMode::Standalone,
    }
}

/// Reads `deployment.config`.
pub fn read(node: &Node, report: &mut Report) -> DeploymentMode {
    let Some(mut r) = MapReader::new(super::sections::DEPLOYMENT, node, report) else {
        return DeploymentMode::Standalone;
    };
    for key in LIVE_SYNC_KEYS {
        r.reject(
            key,
            "belongs to the SP 4.0-4.2 \"liveSync\" HA design, which SI and Spate replaced by event \
             sync; remove it (see eventSyncServer)",
            report,
        );
    }
    for key in ["host", "port", "advertisedHost", "advertisedPort"] {
        r.reject(
            key,
            &format!("not a key of deployment.config; did you mean eventSyncServer.{key}?"),
            report,
        );
    }
    let mode = match r.string("type", report) {
        Some(t) if t.eq_ignore_ascii_case("ha") => DeploymentMode::Ha(read_ha(&mut r, report)),
        Some(t) if t.eq_ignore_ascii_case("distributed") => {
            report.problem(
                r.path_of("type"),
                r.origin(),
                "the distributed deployment is not supported; use `ha` (two nodes, active/passive) \
                 or remove deployment.config to run standalone",
            );
            r.accept(&[
                "isReceiverNode",
                "httpsInterface",
                "leaderRetryInterval",
                "resourceManagers",
            ]);
            DeploymentMode::Standalone
        }
        other => {
            let _consumed = read_ha(&mut r, report);
            let found = other.map_or("nothing".to_string(), |t| format!("`{t}`"));
            report.problem(
                r.path_of("type"),
                r.origin(),
                format!("expected `ha`, found {found}; set `type: ha`, or remove deployment.config to run standalone"),
            );
            DeploymentMode::Standalone
        }
    };
    r.finish(report);
    mode
}

fn read_ha(r: &mut MapReader<'_>, report: &mut Report) -> HaConfig {
    let mut ha = HaConfig::default();
    if let Some(wait) = r.millis("passiveNodeDetailsWaitTimeOutMillis", report) {
        ha.passive_node_details_wait_timeout = wait;
    }
    if let Some(sleep) = r.millis("passiveNodeDetailsRetrySleepTimeMillis", report) {
        ha.passive_node_details_retry_sleep = sleep;
    }
    if let Some(capacity) = r.positive("eventByteBufferQueueCapacity", report) {
        ha.event_queue_capacity = capacity;
    }
    r.accept(&["byteBufferExtractorThreadPoolSize"]);
    if let Some(mut server) = r.map("eventSyncServer", report) {
        let s = &mut ha.event_sync_server;
        s.host = server.string("host", report).unwrap_or(s.host.clone());
        s.port = server.number("port", report).unwrap_or(s.port);
        s.advertised_host = server.string("advertisedHost", report);
        s.advertised_port = server.number("advertisedPort", report).filter(|p| *p != 0);
        s.boss_threads = server
            .number("bossThreads", report)
            .unwrap_or(s.boss_threads);
        s.worker_threads = server
            .number("workerThreads", report)
            .unwrap_or(s.worker_threads);
        server.finish(report);
        if s.advertised_host.is_none() && matches!(s.host.as_str(), "0.0.0.0" | "::" | "[::]") {
            report.warn(
                "deployment.config.eventSyncServer.advertisedHost",
                format!(
                    "not set, so the peer is told to connect to {}; set it to an address the other node can reach",
                    s.host
                ),
            );
        }
    }
    if let Some(mut pool) = r.map("eventSyncClientPool", report) {
        let p = &mut ha.event_sync_client_pool;
        p.max_active = pool.number("maxActive", report).unwrap_or(p.max_active);
        p.max_total = pool.number("maxTotal", report).unwrap_or(p.max_total);
        p.max_idle = pool.number("maxIdle", report).unwrap_or(p.max_idle);
        p.max_wait = pool.millis("maxWait", report).unwrap_or(p.max_wait);
        p.min_evictable_idle = pool
            .millis("minEvictableIdleTimeMillis", report)
            .unwrap_or(p.min_evictable_idle);
        pool.finish(report);
    }
    ha
}
