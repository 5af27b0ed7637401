//! `state.persistence`: periodic snapshots of every app.
//!
//! | Key | Default | Notes |
//! |---|---|---|
//! | `enabled` | `false` | must be `true` for HA |
//! | `intervalInMin` | `1` | `0` turns the schedule off |
//! | `intervalInSec` | — | Spate's finer interval; wins over `intervalInMin` when both are set |
//! | `revisionsToKeep` | `3` | at least 1 |
//! | `persistenceStore` | `...FileSystemPersistenceStore` | see [`spate_store::store_class()`] |
//! | `config.location` | `siddhi-app-persistence` | file store; relative to `spate.dataDir` |
//! | `config.datasource` | `WSO2_CARBON_DB` | database store |
//! | `config.table` | `PERSISTENCE_TABLE` | database store |

use std::path::PathBuf;
use std::time::Duration;

use spate_store::store_class::{DEFAULT_STORE_CLASS, accepted_store_classes};
use spate_store::{StoreKind, store_class};

use super::problems::Report;
use super::reader::MapReader;
use super::yaml::Node;

/// `config.location` when not given.
pub const DEFAULT_LOCATION: &str = "siddhi-app-persistence";
/// `config.datasource` when not given.
pub const DEFAULT_DATASOURCE: &str = "WSO2_CARBON_DB";
/// `config.table` when not given.
pub const DEFAULT_TABLE: &str = "PERSISTENCE_TABLE";
/// `revisionsToKeep` when not given (the code default; the shipped file says 2).
pub const DEFAULT_REVISIONS_TO_KEEP: u32 = 3;

/// What `state.persistence` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceConfig {
    /// `enabled`.
    pub enabled: bool,
    /// How often to persist; `None` when the interval is 0 (no schedule).
    pub interval: Option<Duration>,
    /// `revisionsToKeep`.
    pub revisions_to_keep: u32,
    /// `persistenceStore` as written.
    pub store_class: String,
    /// The store it maps to.
    pub store_kind: StoreKind,
    /// `config.location` (file store).
    pub location: PathBuf,
    /// `config.datasource` (database store).
    pub datasource: String,
    /// `config.table` (database store).
    pub table: String,
}

impl Default for PersistenceConfig {
    fn default() -> Self {
        PersistenceConfig {
            enabled: false,
            interval: Some(Duration::from_secs(60)),
            revisions_to_keep: DEFAULT_REVISIONS_TO_KEEP,
            store_class: DEFAULT_STORE_CLASS.to_string(),
            store_kind: StoreKind::File,
            location: PathBuf::from(DEFAULT_LOCATION),
            datasource: DEFAULT_DATASOURCE.to_string(),
            table: DEFAULT_TABLE.to_string(),
        }
    }
}

/// Reads `state.persistence`.
pub fn read(node: &Node, report: &mut Report) -> PersistenceConfig {
    let mut config = PersistenceConfig::default();
    let Some(mut r) = MapReader::new(super::sections::PERSISTENCE, node, report) else {
        return config;
    };
    config.enabled = r.bool("enabled", report).unwrap_or(false);
    let minutes = r.number::<u64>("intervalInMin", report);
    let seconds = r.number::<u64>("intervalInSec", report);
    if let (Some(m), Some(s)) = (minutes, seconds) {
        report.info(
            r.path_of("intervalInSec"),
            format!("intervalInSec ({s}) is used; intervalInMin ({m}) is ignored"),
        );
    }
    let secs = seconds
        .or(minutes.map(|m| m.saturating_mul(60)))
        .unwrap_or(60);
    config.interval = (secs > 0).then(|| Duration::from_secs(secs));
    if config.enabled && config.interval.is_none() {
        report.warn(
            r.path_of("intervalInMin"),
            "the interval is 0: snapshots are taken only on request (REST backup), never on a schedule",
        );
    }
    if let Some(keep) = r.number::<u32>("revisionsToKeep", report) {
        if keep == 0 {
            let message = "must be at least 1 (the newest snapshot is what a restart restores)";
            report.problem(r.path_of("revisionsToKeep"), r.origin(), message);
        } else if keep == 1 && config.enabled {
            report.warn(
                r.path_of("revisionsToKeep"),
                "keeping one revision leaves nothing to fall back to if it is damaged; 2 or more is safer",
            );
        }
        config.revisions_to_keep = keep.max(1);
    }
    if let Some(class) = r.string("persistenceStore", report) {
        match store_class(&class) {
            Some(found) => {
                config.store_kind = found.kind;
                if found.incremental {
                    report.warn(
                        r.path_of("persistenceStore"),
                        format!(
                            "`{class}` is accepted as a full-snapshot store: Spate writes the whole \
                             state at each persist (incremental persistence is not implemented)"
                        ),
                    );
                }
            }
            None => report.problem(
                r.path_of("persistenceStore"),
                r.origin(),
                format!(
                    "`{class}` is not a store Spate has; use {}",
                    accepted_store_classes()
                ),
            ),
        }
        config.store_class = class;
    }
    if let Some(mut store) = r.map("config", report) {
        read_store_config(&mut store, &mut config, report);
        store.finish(report);
    }
    r.finish(report);
    config
}

fn read_store_config(r: &mut MapReader<'_>, config: &mut PersistenceConfig, report: &mut Report) {
    let location = r.string("location", report);
    let datasource = r.string("datasource", report);
    let table = r.string("table", report);
    let (uses, ignored): (&str, Vec<(&str, bool)>) = match config.store_kind {
        StoreKind::File => (
            "location",
            vec![
                ("datasource", datasource.is_some()),
                ("table", table.is_some()),
            ],
        ),
        StoreKind::Database => (
            "datasource and table",
            vec![("location", location.is_some())],
        ),
    };
    for (key, given) in ignored {
        if given {
            let kind = kind_name(config.store_kind);
            report.warn(
                r.path_of(key),
                format!("ignored: the {kind} store uses {uses}"),
            );
        }
    }
    if let Some(table) = table {
        if let Err(e) = spate_store::dialect::validate_table_name(&table) {
            report.problem(r.path_of("table"), r.origin(), e.to_string());
        }
        config.table = table;
    }
    config.location = location.map_or(config.location.clone(), PathBuf::from);
    config.datasource = datasource.unwrap_or(config.datasource.clone());
}

fn kind_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::File => "file",
        StoreKind::Database => "database",
    }
}
