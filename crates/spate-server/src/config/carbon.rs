//! `wso2.carbon`: the node's identity. `id` is the node id in the cluster tables and must differ
//! between the two nodes of an HA pair; `ports.offset` shifts Spate's default API port as it
//! shifts SI's listener ports.

use super::problems::Report;
use super::reader::MapReader;
use super::yaml::Node;

/// SI's shipped `wso2.carbon.id`.
pub const DEFAULT_NODE_ID: &str = "wso2-si";

/// What Spate uses of `wso2.carbon`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarbonConfig {
    /// `id`: this node's id (default `wso2-si`).
    pub id: String,
    /// `ports.offset`: added to the default API port (default 0).
    pub ports_offset: u16,
}

impl Default for CarbonConfig {
    fn default() -> Self {
        CarbonConfig {
            id: DEFAULT_NODE_ID.to_string(),
            ports_offset: 0,
        }
    }
}

/// Reads `wso2.carbon`.
pub fn read(node: &Node, report: &mut Report) -> CarbonConfig {
    let mut config = CarbonConfig::default();
    let Some(mut r) = MapReader::new(super::sections::CARBON, node, report) else {
        return config;
    };
    if let Some(id) = r.string("id", report) {
        if id.trim().is_empty() {
            report.problem(
                r.path_of("id"),
                r.origin(),
                "the node id is empty; give each node a unique id",
            );
        } else {
            config.id = id;
        }
    }
    if let Some(mut ports) = r.map("ports", report) {
        config.ports_offset = ports.number("offset", report).unwrap_or(0);
        ports.finish(report);
    }
    r.accept(&["name", "type", "version", "tenant"]);
    r.finish(report);
    config
}
