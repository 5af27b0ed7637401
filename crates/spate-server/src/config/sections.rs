//! The top-level sections of `deployment.yaml` that Spate reads; every other section is accepted
//! and listed once at INFO as ignored.

/// `wso2.carbon`: the node id.
pub const CARBON: &str = "wso2.carbon";
/// `wso2.datasources`: named databases.
pub const DATASOURCES: &str = "wso2.datasources";
/// `state.persistence`: periodic snapshots.
pub const PERSISTENCE: &str = "state.persistence";
/// `cluster.config`: the RDBMS coordinator.
pub const CLUSTER: &str = "cluster.config";
/// `deployment.config`: minimum HA (active/passive).
pub const DEPLOYMENT: &str = "deployment.config";
/// `spate`: Spate's own settings.
pub const SPATE: &str = "spate";

/// Every section Spate reads.
pub const ALL: [&str; 6] = [CARBON, DATASOURCES, PERSISTENCE, CLUSTER, DEPLOYMENT, SPATE];
