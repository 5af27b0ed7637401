//! `SPATE__SECTION__KEY` overrides and `${...}` placeholders.

use std::time::Duration;

use libtest_mimic::Failed;
use spate_server::config::Level;
use spate_store::{Backend, StoreSpec};

use crate::{SEED, SEED_HA, Test, expect_line, load_err, load_ok};

pub fn tests() -> Vec<Test> {
    vec![
        ("overrides_keys_of_every_section", overrides),
        ("interval_in_sec_wins_over_interval_in_min", interval_in_sec),
        ("datasources_by_name_changed_and_added", datasources),
        ("placeholders_filled_from_the_environment", placeholders),
        ("bad_overrides_name_the_variable", bad_overrides),
    ]
}

fn ensure(ok: bool, what: &str) -> Result<(), Failed> {
    if ok { Ok(()) } else { Err(what.into()) }
}

fn overrides() -> Result<(), Failed> {
    let loaded = load_ok(
        SEED,
        &[
            ("SPATE__STATE_PERSISTENCE__INTERVAL_IN_MIN", "5"),
            ("SPATE__STATE_PERSISTENCE__REVISIONS_TO_KEEP", "4"),
            ("SPATE__WSO2_CARBON__ID", "node-b"),
            ("SPATE__WSO2_CARBON__PORTS__OFFSET", "1"),
            (
                "SPATE__CLUSTER_CONFIG__STRATEGY_CONFIG__HEARTBEAT_INTERVAL",
                "4000",
            ),
            ("SPATE__SPATE__DATA_DIR", "/var/lib/spate"),
        ],
    )?;
    let c = &loaded.config;
    ensure(
        c.persistence.interval == Some(Duration::from_secs(300)),
        "intervalInMin",
    )?;
    ensure(c.persistence.revisions_to_keep == 4, "revisionsToKeep")?;
    ensure(c.node_id() == "node-b", "id")?;
    ensure(
        c.api_bind().port() == 9091,
        "ports.offset moves the API port",
    )?;
    ensure(
        c.cluster.heartbeat_interval == Duration::from_millis(4000),
        "heartbeatInterval",
    )?;
    ensure(
        c.spate.data_dir == std::path::Path::new("/var/lib/spate"),
        "dataDir",
    )?;
    let bound = load_ok(SEED, &[("SPATE__SPATE__API__BIND", "127.0.0.1:19090")])?;
    ensure(
        bound.config.api_bind().to_string() == "127.0.0.1:19090",
        "api.bind",
    )
}

fn interval_in_sec() -> Result<(), Failed> {
    let loaded = load_ok(SEED, &[("SPATE__STATE_PERSISTENCE__INTERVAL_IN_SEC", "10")])?;
    ensure(
        loaded.config.persistence.interval == Some(Duration::from_secs(10)),
        "10 s",
    )?;
    let note = loaded
        .notes
        .iter()
        .find(|n| n.level == Level::Info)
        .ok_or("no info note")?;
    ensure(
        note.to_string()
            .contains("intervalInSec (10) is used; intervalInMin (1) is ignored"),
        "note",
    )?;
    let off = load_ok(SEED, &[("SPATE__STATE_PERSISTENCE__INTERVAL_IN_SEC", "0")])?;
    ensure(
        off.config.persistence.interval.is_none(),
        "0 turns the schedule off",
    )
}

fn datasources() -> Result<(), Failed> {
    let loaded = load_ok(
        SEED_HA,
        &[
            (
                "SPATE__WSO2_DATASOURCES__PERSISTENCE_DB__JDBC_URL",
                "jdbc:postgresql://pg:5432/p",
            ),
            (
                "SPATE__WSO2_DATASOURCES__PERSISTENCE_DB__PASSWORD",
                "${env:PG_PASSWORD}",
            ),
            ("PG_PASSWORD", "s3cret"),
            (
                "SPATE__WSO2_DATASOURCES__EXTRA_DB__JDBC_URL",
                "jdbc:sqlite:extra.db",
            ),
            ("SPATE__WSO2_DATASOURCES__EXTRA_DB__MAX_POOL_SIZE", "2"),
        ],
    )?;
    let c = &loaded.config;
    let Some(StoreSpec::Database { datasource, .. }) = c.persistence_store() else {
        return Err("no database store".into());
    };
    ensure(
        datasource.password.as_deref() == Some("s3cret"),
        "password from ${env:...}",
    )?;
    ensure(
        datasource.target(&c.spate.data_dir)?.backend == Backend::Postgres,
        "now PostgreSQL",
    )?;
    let extra = c.datasource("EXTRA_DB").ok_or("EXTRA_DB not added")?;
    ensure(
        extra.jdbc_url == "jdbc:sqlite:extra.db" && extra.pool.max_size == Some(2),
        "EXTRA_DB",
    )
}

fn placeholders() -> Result<(), Failed> {
    let yaml = "
wso2.carbon:
  id: ${env:NODE_ID}
wso2.datasources:
  dataSources:
    - name: PERSISTENCE_DB
      definition:
        type: RDBMS
        configuration:
          jdbcUrl: jdbc:mysql://${env:DB_HOST}:${env:DB_PORT,3306}/persistence?useSSL=false
          username: ${DB_USER}
          password: ${env:DB_PASSWORD}
state.persistence:
  enabled: true
  intervalInMin: ${env:PERSIST_MINUTES}
  persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
  config:
    datasource: PERSISTENCE_DB
# Ignored sections are not filled: this one would fail.
wso2.securevault:
  secret: ${sec:never.resolved}
";
    let loaded = load_ok(
        yaml,
        &[
            ("NODE_ID", "si-east-1"),
            ("DB_HOST", "db.internal"),
            ("DB_USER", "spate"),
            ("DB_PASSWORD", "0123"),
            ("PERSIST_MINUTES", "2"),
        ],
    )?;
    let c = &loaded.config;
    ensure(c.node_id() == "si-east-1", "id")?;
    let ds = c.datasource("PERSISTENCE_DB").ok_or("no datasource")?;
    ensure(
        ds.jdbc_url == "jdbc:mysql://db.internal:3306/persistence?useSSL=false",
        "url",
    )?;
    ensure(ds.username.as_deref() == Some("spate"), "bare ${VAR}")?;
    ensure(
        ds.password.as_deref() == Some("0123"),
        "password kept as text",
    )?;
    ensure(
        c.persistence.interval == Some(Duration::from_secs(120)),
        "number from a placeholder",
    )
}

fn bad_overrides() -> Result<(), Failed> {
    let lines = load_err(
        SEED,
        &[
            (
                "SPATE__CLUSTER_CONFIG__STRATEGY_CONFIG__HEARTBEAT_INTERVAL",
                "fast",
            ),
            (
                "SPATE__CLUSTER_CONFIG__STRATEGY_CONFIG__HEARTBEAT_INTRVAL",
                "1",
            ),
            ("SPATE__CLUSTERS__ENABLED", "true"),
            ("SPATE__STATE_PERSISTENCE", "true"),
        ],
    )?;
    expect_line(
        &lines,
        &[
            "environment variable SPATE__CLUSTER_CONFIG__STRATEGY_CONFIG__HEARTBEAT_INTERVAL",
            "cluster.config.strategyConfig.heartbeatInterval: expected a whole number",
            "found `fast`",
        ],
    )?;
    expect_line(
        &lines,
        &[
            "cluster.config.strategyConfig.heartbeatIntrval: unknown key; did you mean heartbeatInterval?",
        ],
    )?;
    expect_line(
        &lines,
        &[
            "SPATE__CLUSTERS__ENABLED",
            "unknown section `CLUSTERS`",
            "CLUSTER_CONFIG",
        ],
    )?;
    expect_line(
        &lines,
        &[
            "SPATE__STATE_PERSISTENCE",
            "expected SPATE__<SECTION>__<KEY>",
        ],
    )?;
    ensure(
        lines.len() == 4,
        &format!("exactly four problems: {lines:#?}"),
    )
}
