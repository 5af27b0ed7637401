//! `deployment.yaml`: the WSO2 Streaming Integrator server configuration, loaded as users write
//! it for SI, into typed settings for the node.
//!
//! Spate reads six sections — `wso2.carbon` ([`carbon`]), `wso2.datasources` ([`datasources`]),
//! `state.persistence` ([`persistence`]), `cluster.config` ([`cluster`]), `deployment.config`
//! ([`deployment`]) and its own `spate` ([`spate_section`]) — and accepts every other section of
//! the SI file, listing them once at INFO as ignored. Inside the sections it reads, a key it does
//! not know or cannot honour is an error naming the key path and what to do; all such problems
//! are reported together. Risky values load with a warning ([`Loaded::notes`]).
//!
//! Loading order: parse → environment overrides ([`env_overrides`], `SPATE__SECTION__KEY`) →
//! `${...}` placeholders ([`placeholders`]) → typed sections → checks across sections (the
//! datasources named by persistence and the cluster exist and have usable JDBC URLs; HA needs
//! the cluster and persistence enabled).

pub mod carbon;
pub mod cluster;
pub mod datasources;
pub mod deployment;
pub mod env_overrides;
pub mod persistence;
pub mod placeholders;
mod problems;
mod reader;
pub mod sections;
pub mod spate_section;
mod yaml;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use spate_store::{Backend, Datasource, StoreKind, StoreSpec};

pub use problems::{ConfigError, Level, Note, Problem};
pub use yaml::Origin;

use self::carbon::CarbonConfig;
use self::cluster::ClusterConfig;
use self::datasources::DatasourceEntry;
use self::deployment::DeploymentMode;
use self::persistence::PersistenceConfig;
use self::placeholders::Variables;
use self::problems::Report;
use self::spate_section::SpateConfig;
use self::yaml::{Node, Value};

/// Where environment variables and system properties come from while loading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The file's name in messages.
    pub source_name: String,
    /// Environment variables (overrides and `${env:...}`).
    pub env: BTreeMap<String, String>,
    /// System properties for `${sys:...}`.
    pub system_properties: BTreeMap<String, String>,
}

impl LoadOptions {
    /// The process environment; `carbon.home` is `CARBON_HOME` or the working directory, and
    /// `wso2.runtime` is `server`.
    pub fn from_process() -> LoadOptions {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let home = env.get("CARBON_HOME").cloned().unwrap_or_else(|| {
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| ".".into())
        });
        LoadOptions::with_env(env, home)
    }

    /// Only the given environment, with `carbon.home` set to `carbon_home` (for tests and tools).
    pub fn with_env(env: BTreeMap<String, String>, carbon_home: impl Into<String>) -> LoadOptions {
        let system_properties = BTreeMap::from([
            ("carbon.home".to_string(), carbon_home.into()),
            ("wso2.runtime".to_string(), "server".to_string()),
        ]);
        LoadOptions {
            source_name: "deployment.yaml".to_string(),
            env,
            system_properties,
        }
    }
}

/// Everything Spate takes from `deployment.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `wso2.carbon`.
    pub carbon: CarbonConfig,
    /// `wso2.datasources.dataSources`.
    pub datasources: Vec<DatasourceEntry>,
    /// `state.persistence`.
    pub persistence: PersistenceConfig,
    /// `cluster.config`.
    pub cluster: ClusterConfig,
    /// `deployment.config`.
    pub deployment: DeploymentMode,
    /// `spate`.
    pub spate: SpateConfig,
}

impl Default for ServerConfig {
    /// What an empty file means: a standalone node with SI's defaults.
    fn default() -> Self {
        ServerConfig {
            carbon: CarbonConfig::default(),
            datasources: Vec::new(),
            persistence: PersistenceConfig::default(),
            cluster: ClusterConfig::default(),
            deployment: DeploymentMode::Standalone,
            spate: SpateConfig::default(),
        }
    }
}

impl ServerConfig {
    /// This node's id (`wso2.carbon.id`).
    pub fn node_id(&self) -> &str {
        &self.carbon.id
    }

    /// The datasource called `name`.
    pub fn datasource(&self, name: &str) -> Option<&Datasource> {
        self.datasources
            .iter()
            .map(|e| &e.datasource)
            .find(|d| d.name == name)
    }

    /// Where the REST API listens.
    pub fn api_bind(&self) -> SocketAddr {
        self.spate.api_bind.unwrap_or_else(|| {
            let port = spate_section::DEFAULT_API_PORT.saturating_add(self.carbon.ports_offset);
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
        })
    }

    /// Whether this node is one of an HA pair.
    pub fn is_ha(&self) -> bool {
        matches!(self.deployment, DeploymentMode::Ha(_))
    }

    /// The store `state.persistence` selects (relative paths still to be resolved against
    /// `spate.dataDir`); `None` for a database store whose datasource is not defined.
    pub fn persistence_store(&self) -> Option<StoreSpec> {
        let p = &self.persistence;
        match p.store_kind {
            StoreKind::File => Some(StoreSpec::File {
                location: p.location.clone(),
            }),
            StoreKind::Database => self
                .datasource(&p.datasource)
                .map(|ds| StoreSpec::Database {
                    datasource: ds.clone(),
                    table: p.table.clone(),
                }),
        }
    }
}

/// A loaded configuration and what the operator should be told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The settings.
    pub config: ServerConfig,
    /// Warnings and information, each to be logged once.
    pub notes: Vec<Note>,
    /// Top-level sections present in the file that Spate does not read.
    pub ignored_sections: Vec<String>,
}

impl Loaded {
    /// Logs the ignored sections (once, at INFO) and every note at its level.
    pub fn log(&self) {
        if !self.ignored_sections.is_empty() {
            let sections = self.ignored_sections.join(", ");
            tracing::info!(%sections, "Configuration sections Spate does not use are ignored.");
        }
        for note in &self.notes {
            match note.level {
                Level::Info => tracing::info!(key = %note.path, "{}.", note.message),
                Level::Warn => tracing::warn!(key = %note.path, "{}.", note.message),
            }
        }
    }
}

/// Loads `path` (see [`load_str`]).
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    let options = LoadOptions {
        source_name: path.display().to_string(),
        ..options.clone()
    };
    load_str(&text, &options)
}

/// Loads a `deployment.yaml` text.
pub fn load_str(text: &str, options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let file = options.source_name.clone();
    let mut root = yaml::parse(text).map_err(|e| ConfigError::Syntax {
        file: file.clone(),
        line: e.line,
        message: e.message,
    })?;
    let mut report = Report::default();
    if !matches!(root.value, Value::Map(_)) {
        report.problem(
            "(top level)",
            &root.origin,
            "expected a mapping of sections",
        );
        return Err(ConfigError::Invalid {
            file,
            problems: report.problems,
        });
    }
    env_overrides::apply(&mut root, &options.env, &mut report);
    let (mut sections, ignored_sections) = split_sections(root, &mut report);
    let vars = Variables {
        env: options.env.clone(),
        system: options.system_properties.clone(),
    };
    for (name, node) in &mut sections {
        placeholders::fill(node, name, &vars, &mut report);
    }
    let null = Node::new(Value::Null, Origin::Default);
    let section = |name: &str| sections.get(name).unwrap_or(&null);
    let config = ServerConfig {
        carbon: carbon::read(section(sections::CARBON), &mut report),
        datasources: datasources::read(section(sections::DATASOURCES), &mut report),
        persistence: persistence::read(section(sections::PERSISTENCE), &mut report),
        cluster: cluster::read(section(sections::CLUSTER), &mut report),
        deployment: deployment::read_if_present(sections.get(sections::DEPLOYMENT), &mut report),
        spate: spate_section::read(section(sections::SPATE), &mut report),
    };
    check_across_sections(&config, &mut report);
    if report.problems.is_empty() {
        Ok(Loaded {
            config,
            notes: report.notes,
            ignored_sections,
        })
    } else {
        Err(ConfigError::Invalid {
            file,
            problems: report.problems,
        })
    }
}

/// The sections Spate reads (by name) and the names of the others, in file order.
fn split_sections(root: Node, report: &mut Report) -> (BTreeMap<String, Node>, Vec<String>) {
    let mut ours = BTreeMap::new();
    let mut ignored = Vec::new();
    let Value::Map(entries) = root.value else {
        return (ours, ignored);
    };
    for (key, node) in entries {
        if sections::ALL.contains(&key.name.as_str()) {
            if ours.contains_key(&key.name) {
                report.problem(
                    &key.name,
                    &key.origin,
                    "the section is written twice; merge them",
                );
            }
            ours.insert(key.name, node);
        } else if !ignored.contains(&key.name) {
            ignored.push(key.name);
        }
    }
    (ours, ignored)
}

/// The datasources persistence and the cluster name exist and can be connected to; HA has what
/// it needs.
fn check_across_sections(config: &ServerConfig, report: &mut Report) {
    let p = &config.persistence;
    if p.store_kind == StoreKind::Database {
        let path = "state.persistence.config.datasource";
        check_datasource(config, &p.datasource, path, p.enabled, report);
    }
    if config.cluster.enabled
        && let Some(name) = &config.cluster.datasource
    {
        let path = "cluster.config.strategyConfig.datasource";
        if check_datasource(config, name, path, true, report) == Some(Backend::Sqlite) {
            report.warn(
                path,
                format!(
                    "`{name}` is an embedded SQLite file: both nodes must use one shared database \
                     for coordination; use MySQL/MariaDB or PostgreSQL"
                ),
            );
        }
    }
    if config.is_ha() {
        let section = sections::DEPLOYMENT;
        if !config.cluster.enabled {
            report.problem(
                format!("{section}.type"),
                &Origin::Default,
                "`ha` needs the coordinator: set cluster.config.enabled: true (with groupId and \
                 strategyConfig.datasource)",
            );
        }
        if !p.enabled {
            report.problem(
                format!("{section}.type"),
                &Origin::Default,
                "`ha` needs state persistence to restore state on failover: set \
                 state.persistence.enabled: true",
            );
        }
        if config.carbon.id == carbon::DEFAULT_NODE_ID {
            report.warn(
                "wso2.carbon.id",
                "still the shipped `wso2-si`: the two nodes of an HA pair need different ids \
                 (e.g. wso2-si-1 and wso2-si-2)",
            );
        }
        if p.store_kind == StoreKind::File {
            report.warn(
                "state.persistence.persistenceStore",
                "with the file store both HA nodes must see the same `config.location` (shared \
                 storage); a database store avoids that",
            );
        }
    }
}

/// Checks that datasource `name` exists and has a usable URL; returns its backend if so.
/// A missing datasource is an error when `required`, a warning otherwise.
fn check_datasource(
    config: &ServerConfig,
    name: &str,
    path: &str,
    required: bool,
    report: &mut Report,
) -> Option<Backend> {
    let Some(entry) = config
        .datasources
        .iter()
        .find(|e| e.datasource.name == name)
    else {
        let message = format!(
            "no datasource named `{name}` in wso2.datasources.dataSources; define it there or \
             name an existing one"
        );
        if required {
            report.problem(path, &Origin::Default, message);
        } else {
            report.warn(path, message);
        }
        return None;
    };
    let url_path = format!("{}.definition.configuration.jdbcUrl", entry.path);
    match entry.datasource.target(&config.spate.data_dir) {
        Ok(target) => {
            for warning in target.warnings {
                report.warn(&url_path, warning);
            }
            Some(target.backend)
        }
        Err(e) if required => {
            report.problem(url_path, &entry.origin, e.to_string());
            None
        }
        Err(e) => {
            report.warn(url_path, e.to_string());
            None
        }
    }
}
