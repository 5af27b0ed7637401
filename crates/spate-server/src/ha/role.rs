//! The cluster's events drive the node's role (docs/ha.md §4).

use std::sync::Arc;

use spate_cluster::coord::ClusterEvent;
use spate_cluster::sync::SenderConfig;

use super::{HaState, NodeRole, failover};
use crate::app::AppManager;

/// What the role changes act on.
pub struct RoleDriver {
    pub manager: Arc<AppManager>,
    pub ha: Arc<HaState>,
    pub group_id: String,
    pub node_id: String,
}

impl RoleDriver {
    fn sender_config(&self, epoch: u64) -> SenderConfig {
        SenderConfig::new(self.group_id.clone(), self.node_id.clone(), epoch)
    }

    /// Acts on one event.
    pub async fn handle(&self, event: ClusterEvent) {
        match event {
            ClusterEvent::BecameActive { epoch, peers, .. } => {
                failover::take_over(
                    &self.manager,
                    &self.ha,
                    self.sender_config(epoch),
                    epoch,
                    &peers,
                )
                .await;
            }
            ClusterEvent::BecamePassive { leader, epoch } => {
                if self.ha.role() == NodeRole::Active {
                    self.step_down().await;
                }
                self.ha.set_role(NodeRole::Passive);
                tracing::info!(
                    leader = leader.as_deref().unwrap_or("none"),
                    epoch,
                    "Passive node: queuing the active node's events; sources stay closed."
                );
            }
            ClusterEvent::Fenced { epoch, reason, .. } => {
                tracing::warn!(
                    epoch,
                    reason,
                    "Lost the lease: stopping sources and sinks; this node is passive now."
                );
                self.step_down().await;
            }
            ClusterEvent::MemberAdded(node) => {
                if node.node_id == self.node_id || self.ha.role() != NodeRole::Active {
                    return;
                }
                let Some(sender) = self.ha.sender() else {
                    return;
                };
                let Some(addr) = node.properties.event_sync_address() else {
                    tracing::warn!(
                        node = node.node_id,
                        "The new member published no event-sync address; it gets no events."
                    );
                    return;
                };
                tracing::info!(
                    node = node.node_id,
                    addr,
                    "Forwarding events to the passive node."
                );
                sender.set_peer(Some(addr));
                // A baseline for the new passive: it replays from here on.
                let manager = self.manager.clone();
                tokio::spawn(async move { manager.persist_all(false).await });
            }
            ClusterEvent::MemberRemoved(node) => {
                if node.node_id == self.node_id || self.ha.role() != NodeRole::Active {
                    return;
                }
                if let Some(sender) = self.ha.sender() {
                    sender.set_peer(None);
                    tracing::warn!(
                        node = node.node_id,
                        "The passive node is gone: the active node goes on alone, without failover protection, until a passive node joins."
                    );
                }
            }
            ClusterEvent::DbUnavailable { error } => {
                tracing::warn!(error, "The cluster database is unreachable.");
            }
            ClusterEvent::DbRestored => tracing::info!("The cluster database answers again."),
        }
    }

    /// Fenced: sources and sinks stop first, then the apps; the replica takes events again.
    async fn step_down(&self) {
        failover::end_term(&self.ha);
        self.ha.set_role(NodeRole::Passive);
        self.manager.stop_sources();
        self.manager.stop_all().await;
        self.ha.replica.unseal();
    }

    /// SIGTERM on the active node: stop sources, drain, persist and send the controls, wait
    /// for the passive to hold everything. The caller then releases the lease.
    pub async fn hand_over(&self) {
        if self.ha.role() != NodeRole::Active {
            return;
        }
        self.manager.stop_sources();
        self.manager.persist_all(true).await;
        if let Some(sender) = self.ha.sender()
            && !sender.drain(std::time::Duration::from_secs(5)).await
        {
            tracing::warn!("The passive node did not acknowledge every event before shutdown.");
        }
        // Let the controls just queued go out (they are state, not log: losing them only
        // means a longer replay on the passive).
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        failover::end_term(&self.ha);
        self.ha.set_role(NodeRole::Passive);
    }
}
