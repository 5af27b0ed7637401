//! Cluster members: what a node publishes about itself (its `propertyMap`), who is alive, and
//! the member-added / member-removed events every node computes for itself from the node table
//! each `eventPollingInterval` (no event table to lose or double-deliver rows from).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value as Json};
use tokio::sync::{mpsc, watch};

use super::db::{CoordDb, NodeRow};
use super::{ClusterEvent, Role, RoleState, Settings};

/// `propertyMap` keys, as SI's HA layer names them (plus Spate's API address).
pub mod keys {
    /// Event-sync server bind host.
    pub const HOST: &str = "host";
    /// Event-sync server port.
    pub const PORT: &str = "port";
    /// Host the peer should connect to.
    pub const ADVERTISED_HOST: &str = "advertisedHost";
    /// Port the peer should connect to.
    pub const ADVERTISED_PORT: &str = "advertisedPort";
    /// The node's REST API address (`http://host:port`).
    pub const API_ADDRESS: &str = "apiAddress";
}

/// What a node publishes in its `propertyMap` (stored as a JSON object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeProperties {
    /// `eventSyncServer.host`.
    pub event_sync_host: Option<String>,
    /// `eventSyncServer.port`.
    pub event_sync_port: Option<u16>,
    /// `eventSyncServer.advertisedHost`.
    pub advertised_host: Option<String>,
    /// `eventSyncServer.advertisedPort`.
    pub advertised_port: Option<u16>,
    /// The REST API address.
    pub api_address: Option<String>,
    /// Anything else, kept as written.
    pub extra: BTreeMap<String, String>,
}

impl NodeProperties {
    /// Where the peer should connect for event sync: the advertised host/port, falling back to
    /// the bind host/port (as SI does). `None` when the node published no event-sync server.
    pub fn event_sync_address(&self) -> Option<String> {
        let host = self
            .advertised_host
            .as_deref()
            .or(self.event_sync_host.as_deref())?;
        let port = self.advertised_port.or(self.event_sync_port)?;
        Some(if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        })
    }

    /// The JSON text stored in `PROPERTY_MAP`.
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        let mut put = |key: &str, value: Json| {
            map.insert(key.to_string(), value);
        };
        if let Some(h) = &self.event_sync_host {
            put(keys::HOST, Json::from(h.as_str()));
        }
        if let Some(p) = self.event_sync_port {
            put(keys::PORT, Json::from(p));
        }
        if let Some(h) = &self.advertised_host {
            put(keys::ADVERTISED_HOST, Json::from(h.as_str()));
        }
        if let Some(p) = self.advertised_port {
            put(keys::ADVERTISED_PORT, Json::from(p));
        }
        if let Some(a) = &self.api_address {
            put(keys::API_ADDRESS, Json::from(a.as_str()));
        }
        for (k, v) in &self.extra {
            map.entry(k.clone())
                .or_insert_with(|| Json::from(v.as_str()));
        }
        Json::Object(map).to_string()
    }

    /// Reads a `PROPERTY_MAP`; anything unreadable gives empty properties (a row written by
    /// something else must not stop the cluster).
    pub fn from_json(text: &str) -> NodeProperties {
        let Ok(Json::Object(map)) = serde_json::from_str::<Json>(text) else {
            return NodeProperties::default();
        };
        let text = |v: &Json| match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let port = |v: &Json| {
            text(v)
                .and_then(|s| s.parse::<u16>().ok())
                .filter(|p| *p != 0)
        };
        let mut props = NodeProperties::default();
        for (key, value) in &map {
            match key.as_str() {
                keys::HOST => props.event_sync_host = text(value),
                keys::PORT => props.event_sync_port = port(value),
                keys::ADVERTISED_HOST => props.advertised_host = text(value),
                keys::ADVERTISED_PORT => props.advertised_port = port(value),
                keys::API_ADDRESS => props.api_address = text(value),
                _ => {
                    if let Some(v) = text(value) {
                        props.extra.insert(key.clone(), v);
                    }
                }
            }
        }
        props
    }
}

/// A live member of the cluster group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `nodeId` (`wso2.carbon.id`).
    pub node_id: String,
    /// Its `propertyMap`.
    pub properties: NodeProperties,
    /// Its last heartbeat (db clock, epoch ms).
    pub heartbeat_at: i64,
    /// When it registered (db clock, epoch ms); a restart gives a new value.
    pub started_at: i64,
}

/// A change in membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// A node appeared, or registered again after a restart.
    Added(NodeInfo),
    /// A node missed `heartbeatMaxRetry` heartbeats, or left, or restarted.
    Removed(NodeInfo),
}

/// The live members among `rows`: a heartbeat younger than `dead_after` by the db's clock.
pub fn live_members(rows: &[NodeRow], dead_after: Duration) -> Vec<NodeInfo> {
    let window = i64::try_from(dead_after.as_millis()).unwrap_or(i64::MAX);
    rows.iter()
        .filter(|r| r.db_now.saturating_sub(r.heartbeat_at) < window)
        .map(|r| NodeInfo {
            node_id: r.node_id.clone(),
            properties: NodeProperties::from_json(&r.properties),
            heartbeat_at: r.heartbeat_at,
            started_at: r.started_at,
        })
        .collect()
}

/// What changed between two views of the live members. A node whose `started_at` changed
/// restarted: it is reported removed, then added (its queue and state are new).
pub fn diff(before: &[NodeInfo], after: &[NodeInfo]) -> Vec<MemberChange> {
    let mut changes = Vec::new();
    for old in before {
        match after.iter().find(|n| n.node_id == old.node_id) {
            Some(new) if new.started_at == old.started_at => {}
            _ => changes.push(MemberChange::Removed(old.clone())),
        }
    }
    for new in after {
        match before.iter().find(|n| n.node_id == new.node_id) {
            Some(old) if old.started_at == new.started_at => {}
            _ => changes.push(MemberChange::Added(new.clone())),
        }
    }
    changes
}

/// Polls the node table every `eventPollingInterval` and reports changes (other nodes only;
/// this node's own row is its heartbeat). Runs until `shutdown` turns true.
pub(super) async fn run(
    db: CoordDb,
    s: Settings,
    role: watch::Receiver<RoleState>,
    members: watch::Sender<Vec<NodeInfo>>,
    events: mpsc::UnboundedSender<ClusterEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut known: Vec<NodeInfo> = Vec::new();
    let mut failing = false;
    let mut ticker = tokio::time::interval(s.poll_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let rows = match db.select_nodes(&s.group).await {
            Ok(rows) => rows,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "Could not read the cluster members; retrying.");
                }
                failing = true;
                continue;
            }
        };
        failing = false;
        let live = live_members(&rows, s.timing.ttl);
        let others = |v: &[NodeInfo]| -> Vec<NodeInfo> {
            v.iter().filter(|n| n.node_id != s.node).cloned().collect()
        };
        for change in diff(&others(&known), &others(&live)) {
            match change {
                MemberChange::Added(node) => {
                    tracing::info!(group = %s.group, "memberAdded event received for node id : {}", node.node_id);
                    if role.borrow().role == Role::Active
                        && node.properties.event_sync_address().is_some()
                    {
                        tracing::info!(group = %s.group, peer = %node.node_id,
                            "Active node retrieved node details of passive node");
                    }
                    let _unobserved = events.send(ClusterEvent::MemberAdded(node));
                }
                MemberChange::Removed(node) => {
                    tracing::info!(group = %s.group, "memberRemoved event received for node id : {}", node.node_id);
                    let _unobserved = events.send(ClusterEvent::MemberRemoved(node));
                }
            }
        }
        members.send_replace(live.clone());
        known = live;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, hb: i64, started: i64, now: i64) -> NodeRow {
        NodeRow {
            node_id: id.into(),
            properties: "{}".into(),
            heartbeat_at: hb,
            started_at: started,
            db_now: now,
        }
    }

    #[test]
    fn properties_round_trip_and_fall_back_like_si() {
        let props = NodeProperties {
            event_sync_host: Some("0.0.0.0".into()),
            event_sync_port: Some(9893),
            advertised_host: Some("10.0.0.2".into()),
            api_address: Some("http://10.0.0.2:9090".into()),
            ..NodeProperties::default()
        };
        let back = NodeProperties::from_json(&props.to_json());
        assert_eq!(back, props);
        assert_eq!(back.event_sync_address().as_deref(), Some("10.0.0.2:9893"));
        let si = NodeProperties::from_json(r#"{"host":"h","port":"9893","advertisedPort":0}"#);
        assert_eq!(si.event_sync_address().as_deref(), Some("h:9893"));
        assert_eq!(
            NodeProperties::from_json("\u{0}garbage"),
            NodeProperties::default()
        );
    }

    #[test]
    fn liveness_is_judged_on_the_db_clock() {
        let rows = [row("a", 1_000, 1, 2_000), row("b", 500, 1, 2_000)];
        let live = live_members(&rows, Duration::from_millis(1_200));
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].node_id, "a");
    }

    #[test]
    fn a_restart_is_removed_then_added() {
        let before = live_members(&[row("a", 10, 1, 10)], Duration::from_secs(1));
        let after = live_members(
            &[row("a", 20, 2, 20), row("b", 20, 3, 20)],
            Duration::from_secs(1),
        );
        let changes = diff(&before, &after);
        assert!(matches!(&changes[0], MemberChange::Removed(n) if n.node_id == "a"));
        assert!(matches!(&changes[1], MemberChange::Added(n) if n.node_id == "a"));
        assert!(matches!(&changes[2], MemberChange::Added(n) if n.node_id == "b"));
        assert!(diff(&after, &after).is_empty());
    }
}
