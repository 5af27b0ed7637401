//! Starting a node of an HA pair: the event-sync server and the coordinator come up next to
//! the REST API (which is already serving, so `/health` answers with role `unknown` while the
//! cluster database is unreachable); the cluster's events then drive the role until shutdown.

use std::future::Future;
use std::sync::Arc;

use spate_cluster::coord::{CoordConfig, Coordinator, NodeProperties};
use spate_cluster::sync::{ReceiverConfig, SyncReceiver};
use spate_store::ConnectTarget;

use super::HaState;
use super::role::RoleDriver;
use crate::app::AppManager;
use crate::config::cluster::ClusterConfig;
use crate::config::deployment::HaConfig;

/// What an HA node needs besides the app manager.
pub struct HaSettings {
    pub cluster: ClusterConfig,
    pub deployment: HaConfig,
    pub target: ConnectTarget,
    pub node_id: String,
    pub api_address: String,
}

/// Runs the HA node until `shutdown` resolves, then hands over (when active) and leaves the
/// group. Fails only when the event-sync port cannot be bound.
pub async fn run(
    settings: HaSettings,
    manager: Arc<AppManager>,
    ha: Arc<HaState>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let group_id = settings.cluster.group_id.clone().unwrap_or_default();
    let server = &settings.deployment.event_sync_server;
    let bind = if server.host.contains(':') {
        format!("[{}]:{}", server.host, server.port)
    } else {
        format!("{}:{}", server.host, server.port)
    };
    let receiver = SyncReceiver::bind(
        ReceiverConfig::new(bind.clone(), group_id.clone(), settings.node_id.clone()),
        ha.replica.clone(),
    )
    .await
    .map_err(|e| {
        format!(
            "cannot start the event-sync server on {bind} (deployment.config.eventSyncServer): {e}"
        )
    })?;
    let bound_port = receiver.local_addr().port();
    match super::apps::AppCatalog::new(&settings.target, &group_id) {
        Ok(catalog) => {
            let _already = ha.catalog.set(catalog);
        }
        Err(e) => {
            tracing::error!(error = %e, "Apps deployed over REST will not reach the passive node.")
        }
    }
    let mut config = CoordConfig::new(group_id.clone(), settings.node_id.clone());
    config.heartbeat_interval = settings.cluster.heartbeat_interval;
    config.heartbeat_max_retry = settings.cluster.heartbeat_max_retry;
    config.event_polling_interval = settings.cluster.event_polling_interval;
    config.properties = NodeProperties {
        event_sync_host: Some(server.host.clone()),
        event_sync_port: Some(bound_port),
        advertised_host: server.advertised_host.clone(),
        advertised_port: server.advertised_port,
        api_address: Some(settings.api_address.clone()),
        ..NodeProperties::default()
    };
    let driver = RoleDriver {
        manager,
        ha: ha.clone(),
        group_id,
        node_id: settings.node_id.clone(),
    };
    tokio::pin!(shutdown);
    // The coordinator retries an unreachable database inside; the API already answers.
    let coordinator = tokio::select! {
        c = Coordinator::connect(&settings.target, config) => c,
        () = &mut shutdown => {
            receiver.shutdown().await;
            return Ok(());
        }
    };
    let coordinator = match coordinator {
        Ok(c) => c,
        Err(e) => {
            receiver.shutdown().await;
            return Err(format!("cannot join the cluster (cluster.config): {e}"));
        }
    };
    ha.set_lease(coordinator.role());
    let Some(mut events) = coordinator.take_events() else {
        return Err("the coordinator's events were already taken".to_string());
    };
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => driver.handle(event).await,
                None => break,
            },
            () = &mut shutdown => break,
        }
    }
    tracing::info!("Shutting down: stopping sources, draining, persisting, handing over.");
    driver.hand_over().await;
    coordinator.shutdown().await;
    driver.manager.stop_all().await;
    receiver.shutdown().await;
    Ok(())
}
