//! `wso2.datasources.dataSources`: named databases. Spate reads `name`, `description`,
//! `definition.type` (`RDBMS`) and `definition.configuration`; `jndiConfig` is accepted and
//! ignored. In `configuration`, `jdbcUrl`, `username`, `password`, `driverClassName`,
//! `maxPoolSize`, `minIdle`, `connectionTimeout`, `idleTimeout` and `maxLifetime` are used; the
//! other HikariCP settings WSO2 passes through are accepted and have no effect.

use std::time::Duration;

use spate_store::{Datasource, PoolSettings};

use super::problems::Report;
use super::reader::MapReader;
use super::yaml::{Node, Origin};

/// HikariCP settings accepted without effect (sqlx validates connections itself).
const ACCEPTED_POOL_KEYS: &[&str] = &[
    "connectionTestQuery",
    "validationTimeout",
    "isAutoCommit",
    "autoCommit",
    "leakDetectionThreshold",
    "poolName",
    "initializationFailTimeout",
    "isolateInternalQueries",
    "allowPoolSuspension",
    "readOnly",
    "registerMbeans",
    "catalog",
    "connectionInitSql",
    "transactionIsolation",
    "schema",
    "keepaliveTime",
    "dataSourceProperties",
];

/// A datasource entry and where it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasourceEntry {
    /// The datasource.
    pub datasource: Datasource,
    /// `description`.
    pub description: Option<String>,
    /// The key path of the entry, e.g. `wso2.datasources.dataSources[1]`.
    pub path: String,
    /// Where the entry was written.
    pub origin: Origin,
}

/// Reads `wso2.datasources`.
pub fn read(node: &Node, report: &mut Report) -> Vec<DatasourceEntry> {
    let Some(mut r) = MapReader::new(super::sections::DATASOURCES, node, report) else {
        return Vec::new();
    };
    let path = r.path_of("dataSources");
    let mut entries: Vec<DatasourceEntry> = Vec::new();
    for (i, item) in r.seq("dataSources", report).iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(entry) = read_entry(&item_path, item, report) else {
            continue;
        };
        if entries
            .iter()
            .any(|e| e.datasource.name == entry.datasource.name)
        {
            report.problem(
                format!("{item_path}.name"),
                &item.origin,
                format!(
                    "datasource `{}` is defined twice; keep one",
                    entry.datasource.name
                ),
            );
        }
        entries.push(entry);
    }
    r.finish(report);
    entries
}

fn read_entry(path: &str, node: &Node, report: &mut Report) -> Option<DatasourceEntry> {
    let mut r = MapReader::new(path, node, report)?;
    let name = r.string("name", report);
    let description = r.string("description", report);
    r.accept(&["jndiConfig"]);
    let mut datasource = Datasource {
        name: name.clone().unwrap_or_default(),
        ..Datasource::default()
    };
    if let Some(mut definition) = r.map("definition", report) {
        if let Some(kind) = definition.string("type", report)
            && !kind.eq_ignore_ascii_case("RDBMS")
        {
            report.problem(
                definition.path_of("type"),
                definition.origin(),
                format!("datasource type `{kind}` is not supported; Spate reads RDBMS datasources"),
            );
        }
        if let Some(mut conf) = definition.map("configuration", report) {
            read_configuration(&mut conf, &mut datasource, report);
            conf.finish(report);
        }
        definition.finish(report);
    }
    if name.is_none() {
        report.problem(
            r.path_of("name"),
            r.origin(),
            "every datasource needs a name",
        );
    }
    if datasource.jdbc_url.is_empty() && name.is_some() {
        report.problem(
            format!("{path}.definition.configuration.jdbcUrl"),
            r.origin(),
            "missing; give the datasource a JDBC URL",
        );
    }
    let origin = r.origin().clone();
    r.finish(report);
    Some(DatasourceEntry {
        datasource,
        description,
        path: path.to_string(),
        origin,
    })
}

fn read_configuration(conf: &mut MapReader<'_>, ds: &mut Datasource, report: &mut Report) {
    ds.jdbc_url = conf.string("jdbcUrl", report).unwrap_or_default();
    ds.username = conf.string("username", report);
    ds.password = conf.string("password", report);
    ds.driver_class_name = conf.string("driverClassName", report);
    let max_size = conf
        .positive("maxPoolSize", report)
        .or(conf.positive("maximumPoolSize", report));
    ds.pool = PoolSettings {
        max_size,
        min_idle: conf
            .number("minIdle", report)
            .or(conf.number("minimumIdle", report)),
        connection_timeout: conf.millis("connectionTimeout", report),
        idle_timeout: conf
            .millis("idleTimeout", report)
            .filter(|d| *d > Duration::ZERO),
        max_lifetime: conf
            .millis("maxLifetime", report)
            .filter(|d| *d > Duration::ZERO),
    };
    conf.accept(ACCEPTED_POOL_KEYS);
}
