//! The node's life: load the configuration, open the store, deploy the apps, serve the REST
//! API, persist on schedule, and on SIGTERM/SIGINT stop the sources, drain, persist, exit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use spate_cluster::sync::Replica;
use std::time::Instant;

use crate::api::{self, ApiState};
use crate::app::AppManager;
use crate::auth::{Users, UsersOrigin};
use crate::config::deployment::DeploymentMode;
use crate::config::{self, LoadOptions, Loaded};
use crate::connector::Services;
use crate::ha::HaState;
use crate::ha::node::{self as ha_node, HaSettings};
use crate::identity;
use crate::metrics::Metrics;
use crate::persistence::Persistence;

/// The configuration used without `--config`: standalone, state persisted every minute to
/// SQLite in the data directory.
pub const EMBEDDED_DEFAULT: &str = include_str!("default-deployment.yaml");

/// How long shutdown waits for the final persist (a database that is away must not hang it).
const SHUTDOWN_PERSIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The input journal's directory in the data directory.
pub const INPUT_JOURNAL_DIR: &str = "input-log";

/// Where the apps are read from by default.
pub const DEFAULT_APPS_DIR: &str = "siddhi-files";

/// What the command line says.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// `--config`: a `deployment.yaml`; the embedded default when absent.
    pub config: Option<PathBuf>,
    /// `--apps`: the directory of `*.siddhi` files.
    pub apps_dir: Option<PathBuf>,
    /// `--node-id`: overrides `wso2.carbon.id`.
    pub node_id: Option<String>,
    /// `--api-bind`: overrides `spate.api.bind`.
    pub api_bind: Option<SocketAddr>,
    /// `--data-dir`: overrides `spate.dataDir`.
    pub data_dir: Option<PathBuf>,
}

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] spate_store::StoreError),
    #[error("HA: {0}")]
    Ha(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NodeError {
    let what = what.into();
    move |source| NodeError::Io { what, source }
}

/// Loads the configuration the options name and applies the flags over it.
pub fn load_config(options: &NodeOptions) -> Result<Loaded, NodeError> {
    let load = LoadOptions::from_process();
    let mut loaded = match &options.config {
        Some(path) => config::load_file(path, &load)?,
        None => config::load_str(
            EMBEDDED_DEFAULT,
            &LoadOptions {
                source_name: "(embedded default deployment.yaml)".into(),
                ..load
            },
        )?,
    };
    let c = &mut loaded.config;
    if let Some(id) = &options.node_id {
        c.carbon.id = id.clone();
    }
    if let Some(bind) = options.api_bind {
        c.spate.api_bind = Some(bind);
    }
    if let Some(dir) = &options.data_dir {
        c.spate.data_dir = dir.clone();
    }
    Ok(loaded)
}

/// Runs the node until SIGTERM or SIGINT.
pub async fn run(options: NodeOptions) -> Result<(), NodeError> {
    let started = Instant::now();
    let loaded = load_config(&options)?;
    loaded.log();
    let mut config = loaded.config;
    resolve_identity(&mut config)?;
    let data_dir = config.spate.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(io(format!(
        "cannot create the data directory {}",
        data_dir.display()
    )))?;
    let apps_dir = options
        .apps_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_APPS_DIR));
    std::fs::create_dir_all(&apps_dir).map_err(io(format!(
        "cannot create the apps directory {}",
        apps_dir.display()
    )))?;

    let (users, origin) = Users::load_or_generate(&config.spate.users, &data_dir)
        .map_err(io("cannot keep the generated admin password"))?;
    match origin {
        UsersOrigin::Generated { file, password } => {
            println!(
                "Generated a password for the REST API user `admin`: {password}\n\
                 (kept in {}; it is not shown again — set spate.users in deployment.yaml to choose users)",
                file.display()
            );
        }
        UsersOrigin::Kept(file) => {
            tracing::info!(file = %file.display(), "REST API user `admin` uses the password kept in the data directory.")
        }
        UsersOrigin::Configured => {}
    }
    let users = Arc::new(users);
    let metrics = Arc::new(Metrics::new());

    let p = &config.persistence;
    let store = match config.persistence_store() {
        Some(spec) => Some(spec.open(&data_dir)?),
        None => None,
    };
    let persistence = Arc::new(Persistence::new(
        store,
        p.enabled,
        p.interval,
        p.revisions_to_keep,
        metrics.clone(),
    ));
    let ha = match &config.deployment {
        DeploymentMode::Ha(d) => Some(Arc::new(HaState::new(
            Arc::new(Replica::new(d.event_queue_capacity as usize)),
            config.spate.ha_ack,
            config.spate.ha_ack_timeout,
        ))),
        DeploymentMode::Standalone => None,
    };
    let services = Arc::new(Services {
        ha: ha.clone(),
        http: Arc::default(),
        tcp: Arc::default(),
        in_memory: Default::default(),
        users: users.clone(),
        metrics: metrics.clone(),
        datasources: Arc::new(
            config
                .datasources
                .iter()
                .map(|e| e.datasource.clone())
                .collect(),
        ),
        data_dir: data_dir.clone(),
    });
    let journal_root = match (config.spate.input_log, persistence.enabled) {
        // HA: the passive node holds the events since the last snapshot instead.
        (true, _) if ha.is_some() => {
            tracing::info!(
                key = "spate.inputLog.enabled",
                "HA: the input journal is off; the passive node holds the events since the last snapshot."
            );
            None
        }
        (true, true) => Some(data_dir.join(INPUT_JOURNAL_DIR)),
        (true, false) => {
            tracing::warn!(
                key = "spate.inputLog.enabled",
                "The input journal needs state.persistence enabled (snapshots trim it); it is off."
            );
            None
        }
        (false, _) => None,
    };
    let manager = Arc::new(AppManager::new(
        services,
        persistence.clone(),
        apps_dir.clone(),
        journal_root,
    ));

    let bind = config.api_bind();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(io(format!("cannot listen on {bind} for the REST API")))?;
    let api_addr = listener.local_addr().map_err(io("REST API listener"))?;
    let state = Arc::new(ApiState {
        manager: manager.clone(),
        metrics,
        users,
        ha: ha.clone(),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut api_stop = stop_rx.clone();
    let api = tokio::spawn(async move {
        let serve = axum::serve(listener, api::router(state)).with_graceful_shutdown(async move {
            // An error means the sender is gone: stop then too.
            api_stop.wait_for(|stop| *stop).await.ok();
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "The REST API stopped.");
        }
    });

    let ha_settings = match (&ha, &config.deployment) {
        (Some(_), DeploymentMode::Ha(deployment)) => {
            let name = config.cluster.datasource.clone().unwrap_or_default();
            let datasource = config.datasource(&name).ok_or_else(|| {
                NodeError::Ha(format!(
                    "cluster.config.strategyConfig.datasource `{name}` is not in wso2.datasources"
                ))
            })?;
            Some(HaSettings {
                cluster: config.cluster.clone(),
                deployment: deployment.clone(),
                target: datasource.target(&data_dir)?,
                node_id: config.carbon.id.clone(),
                api_address: format!("http://{api_addr}"),
            })
        }
        _ => None,
    };
    // HA: the apps are deployed when this node becomes the active one.
    let deployed = if ha.is_some() {
        0
    } else {
        manager.deploy_directory().await
    };
    let persister = persistence
        .enabled
        .then_some(persistence.interval)
        .flatten()
        .map(|every| {
            let manager = manager.clone();
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                interval.tick().await;
                loop {
                    interval.tick().await;
                    manager.persist_all(false).await;
                }
            })
        });
    tracing::info!(
        node = config.carbon.id,
        api = %api_addr,
        apps = deployed,
        apps_dir = %apps_dir.display(),
        data_dir = %data_dir.display(),
        "Spate started in {} ms.",
        started.elapsed().as_millis()
    );

    if let (Some(ha), Some(settings)) = (ha, ha_settings) {
        let result = ha_node::run(settings, manager.clone(), ha, shutdown_signal()).await;
        if let Some(p) = persister {
            p.abort();
        }
        stop_tx.send_replace(true);
        if let Err(e) = api.await {
            tracing::warn!(error = %e, "The REST API task ended abnormally.");
        }
        result.map_err(NodeError::Ha)?;
        tracing::info!("Spate stopped.");
        return Ok(());
    }
    shutdown_signal().await;
    tracing::info!("Shutting down: stopping sources, draining, persisting.");
    manager.stop_sources();
    if let Some(p) = persister {
        p.abort();
    }
    if persistence.enabled
        && tokio::time::timeout(SHUTDOWN_PERSIST_TIMEOUT, manager.persist_all(true))
            .await
            .is_err()
    {
        tracing::error!(
            "Persisting at shutdown did not finish in {} s; the last persisted state remains.",
            SHUTDOWN_PERSIST_TIMEOUT.as_secs()
        );
    }
    manager.stop_all().await;
    stop_tx.send_replace(true);
    if let Err(e) = api.await {
        tracing::warn!(error = %e, "The REST API task ended abnormally.");
    }
    tracing::info!("Spate stopped.");
    Ok(())
}

/// Resolves `auto` in `wso2.carbon.id` and (HA) `eventSyncServer.advertisedHost`.
fn resolve_identity(config: &mut config::ServerConfig) -> Result<(), NodeError> {
    let env = |k: &str| std::env::var(k).ok();
    if config.carbon.id.trim().eq_ignore_ascii_case(identity::AUTO) {
        let r = identity::node_id(&config.carbon.id, env).map_err(NodeError::Ha)?;
        tracing::info!(node = r.value, source = r.source, "Node id resolved.");
        config.carbon.id = r.value;
    }
    if let DeploymentMode::Ha(ha) = &mut config.deployment {
        let server = &mut ha.event_sync_server;
        if server
            .advertised_host
            .as_deref()
            .is_some_and(|h| h.trim().eq_ignore_ascii_case(identity::AUTO))
        {
            let r = identity::advertised_host(server.advertised_host.as_deref(), env)
                .map_err(NodeError::Ha)?;
            tracing::info!(
                host = r.value,
                source = r.source,
                "Event-sync address resolved."
            );
            server.advertised_host = Some(r.value);
        }
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "Cannot listen for Ctrl-C.");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "Cannot listen for SIGTERM.");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
