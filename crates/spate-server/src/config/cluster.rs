//! `cluster.config`: the RDBMS coordinator both HA nodes share.
//!
//! | Key | Default | Notes |
//! |---|---|---|
//! | `enabled` | `false` | `true` for HA |
//! | `groupId` | — | required when enabled; the same on both nodes |
//! | `coordinationStrategyClass` | `org.wso2.carbon.cluster.coordinator.rdbms.RDBMSCoordinationStrategy` | the only strategy |
//! | `strategyConfig.datasource` | — | required when enabled |
//! | `strategyConfig.heartbeatInterval` | `5000` ms | |
//! | `strategyConfig.heartbeatMaxRetry` | `3` | at least 1; a node is dead after interval × retries |
//! | `strategyConfig.eventPollingInterval` | `5000` ms | |

use std::time::Duration;

use super::problems::Report;
use super::reader::MapReader;
use super::yaml::{Node, Origin};

/// The one coordination strategy (and SI's default).
pub const RDBMS_STRATEGY: &str =
    "org.wso2.carbon.cluster.coordinator.rdbms.RDBMSCoordinationStrategy";
/// A failure-detection window (interval × retries) shorter than this is warned about.
pub const MIN_SAFE_DETECTION_WINDOW: Duration = Duration::from_millis(2000);

/// What `cluster.config` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `groupId`.
    pub group_id: Option<String>,
    /// `coordinationStrategyClass` as written.
    pub coordination_strategy_class: String,
    /// `strategyConfig.datasource`.
    pub datasource: Option<String>,
    /// `strategyConfig.heartbeatInterval`.
    pub heartbeat_interval: Duration,
    /// `strategyConfig.heartbeatMaxRetry`.
    pub heartbeat_max_retry: u32,
    /// `strategyConfig.eventPollingInterval`.
    pub event_polling_interval: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            enabled: false,
            group_id: None,
            coordination_strategy_class: RDBMS_STRATEGY.to_string(),
            datasource: None,
            heartbeat_interval: Duration::from_millis(5000),
            heartbeat_max_retry: 3,
            event_polling_interval: Duration::from_millis(5000),
        }
    }
}

impl ClusterConfig {
    /// How long a node may miss heartbeats before it is taken for dead.
    pub fn failure_detection_window(&self) -> Duration {
        self.heartbeat_interval
            .saturating_mul(self.heartbeat_max_retry)
    }
}

/// Reads `cluster.config`.
pub fn read(node: &Node, report: &mut Report) -> ClusterConfig {
    let mut config = ClusterConfig::default();
    let Some(mut r) = MapReader::new(super::sections::CLUSTER, node, report) else {
        return config;
    };
    config.enabled = r.bool("enabled", report).unwrap_or(false);
    config.group_id = r.string("groupId", report);
    if let Some(class) = r.string("coordinationStrategyClass", report) {
        if class != RDBMS_STRATEGY {
            report.problem(
                r.path_of("coordinationStrategyClass"),
                r.origin(),
                format!("`{class}` is not supported; Spate coordinates through a database: use {RDBMS_STRATEGY}"),
            );
        }
        config.coordination_strategy_class = class;
    }
    if let Some(mut strategy) = r.map("strategyConfig", report) {
        config.datasource = strategy.string("datasource", report);
        if let Some(interval) = strategy.positive::<u64>("heartbeatInterval", report) {
            config.heartbeat_interval = Duration::from_millis(interval);
        }
        if let Some(retry) = strategy.positive("heartbeatMaxRetry", report) {
            config.heartbeat_max_retry = retry;
        }
        if let Some(interval) = strategy.millis("eventPollingInterval", report) {
            config.event_polling_interval = interval.max(Duration::from_millis(1));
        }
        strategy.finish(report);
    }
    let origin = r.origin().clone();
    r.finish(report);
    if config.enabled {
        check_enabled(&config, &origin, report);
    }
    config
}

fn check_enabled(config: &ClusterConfig, origin: &Origin, report: &mut Report) {
    let path = super::sections::CLUSTER;
    if config
        .group_id
        .as_deref()
        .is_none_or(|g| g.trim().is_empty())
    {
        report.problem(
            format!("{path}.groupId"),
            origin,
            "required when the cluster is enabled; use the same value on both nodes",
        );
    }
    if config.datasource.is_none() {
        report.problem(
            format!("{path}.strategyConfig.datasource"),
            origin,
            "required when the cluster is enabled; name the datasource of the cluster database",
        );
    }
    let window = config.failure_detection_window();
    if window < MIN_SAFE_DETECTION_WINDOW {
        report.warn(
            format!("{path}.strategyConfig"),
            format!(
                "heartbeatInterval {} ms × heartbeatMaxRetry {} declares a node dead after {} ms: a \
                 GC pause or a slow database can fail over a healthy node; keep it at 2000 ms or more",
                config.heartbeat_interval.as_millis(),
                config.heartbeat_max_retry,
                window.as_millis()
            ),
        );
    }
    if config.event_polling_interval > window {
        report.warn(
            format!("{path}.strategyConfig.eventPollingInterval"),
            format!(
                "{} ms is longer than the failure-detection window ({} ms): role changes are noticed late",
                config.event_polling_interval.as_millis(),
                window.as_millis()
            ),
        );
    }
}
