//! The WSO2 SI seed file as shipped, and as the minimum-HA guide edits it.

use std::net::SocketAddr;
use std::time::Duration;

use libtest_mimic::Failed;
use spate_server::config::Loaded;
use spate_server::config::deployment::DeploymentMode;
use spate_store::{Backend, StoreKind, StoreSpec};

use crate::{SEED, SEED_HA, Test, load_ok, warnings};

pub fn tests() -> Vec<Test> {
    vec![
        ("shipped_file_loads_as_a_standalone_node", shipped_file),
        ("ha_guide_edits_load_as_an_ha_node", ha_guide),
        (
            "ha_on_the_shipped_h2_cluster_db_loads_with_warnings",
            ha_on_h2,
        ),
    ]
}

fn check(ok: bool, what: &str, loaded: &Loaded) -> Result<(), Failed> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}; loaded: {:#?}", loaded).into())
    }
}

fn shipped_file() -> Result<(), Failed> {
    let loaded = load_ok(SEED, &[])?;
    let c = &loaded.config;
    let ignored = [
        "wso2.transport.http",
        "siddhi.stores.query.api",
        "databridge.config",
        "data.agent.config",
        "wso2.metrics",
        "wso2.metrics.jdbc",
        "wso2.artifact.deployment",
        "error.store",
        "wso2.securevault",
        "auth.configs",
        "service.catalog.configs",
    ];
    check(
        loaded.ignored_sections == ignored,
        "ignored sections",
        &loaded,
    )?;
    check(
        loaded.notes.is_empty(),
        "no notes for the shipped file",
        &loaded,
    )?;
    check(c.node_id() == "wso2-si", "node id", &loaded)?;
    let p = &c.persistence;
    check(
        !p.enabled && p.interval == Some(Duration::from_secs(60)),
        "persistence",
        &loaded,
    )?;
    check(
        p.revisions_to_keep == 2 && p.store_kind == StoreKind::File,
        "store",
        &loaded,
    )?;
    let spec = StoreSpec::File {
        location: "siddhi-app-persistence".into(),
    };
    check(
        c.persistence_store() == Some(spec),
        "file store spec",
        &loaded,
    )?;
    check(
        !c.cluster.enabled && c.cluster.group_id.as_deref() == Some("si"),
        "cluster",
        &loaded,
    )?;
    check(
        c.cluster.heartbeat_interval == Duration::from_millis(3000),
        "heartbeat",
        &loaded,
    )?;
    check(
        c.deployment == DeploymentMode::Standalone,
        "standalone",
        &loaded,
    )?;
    let names: Vec<&str> = c
        .datasources
        .iter()
        .map(|e| e.datasource.name.as_str())
        .collect();
    check(
        names == ["WSO2_CLUSTER_DB", "WSO2_PERMISSIONS_DB", "WSO2_METRICS_DB"],
        "datasources",
        &loaded,
    )?;
    let cluster_db = c
        .datasource("WSO2_CLUSTER_DB")
        .ok_or("no WSO2_CLUSTER_DB")?;
    check(
        cluster_db
            .jdbc_url
            .starts_with("jdbc:h2:/opt/si/wso2/server/database/WSO2_CLUSTER_DB;"),
        "${sys:carbon.home} and ${sys:wso2.runtime} filled",
        &loaded,
    )?;
    check(cluster_db.pool.max_size == Some(10), "maxPoolSize", &loaded)?;
    let api: SocketAddr = "0.0.0.0:9090".parse()?;
    check(c.api_bind() == api, "API on SI's port", &loaded)?;
    Ok(())
}

fn ha_guide() -> Result<(), Failed> {
    let loaded = load_ok(SEED_HA, &[])?;
    let c = &loaded.config;
    check(
        loaded.notes.is_empty(),
        "the guide's settings need no warning",
        &loaded,
    )?;
    check(c.node_id() == "wso2-si-1" && c.is_ha(), "HA node", &loaded)?;
    let Some(StoreSpec::Database { datasource, table }) = c.persistence_store() else {
        return Err("expected the database store".into());
    };
    check(
        table == "PERSISTENCE_TABLE" && datasource.name == "PERSISTENCE_DB",
        "db store",
        &loaded,
    )?;
    check(
        datasource.pool.max_size == Some(50),
        "maxPoolSize 50",
        &loaded,
    )?;
    check(
        datasource.username.as_deref() == Some("root"),
        "username",
        &loaded,
    )?;
    let target = datasource.target(&c.spate.data_dir)?;
    check(target.backend == Backend::MySql, "MySQL", &loaded)?;
    check(
        target.display_url
            == "mysql://root:***@wso2db.cxtsxcdgcayr.ap-south-1.rds.amazonaws.com:3306/persistencedb?ssl-mode=disabled",
        "translated URL",
        &loaded,
    )?;
    let cl = &c.cluster;
    check(
        cl.enabled && cl.datasource.as_deref() == Some("WSO2_CLUSTER_DB"),
        "cluster",
        &loaded,
    )?;
    check(
        cl.failure_detection_window() == Duration::from_millis(25_000),
        "5000 x 5",
        &loaded,
    )?;
    check(
        cl.event_polling_interval == Duration::from_millis(5000),
        "polling",
        &loaded,
    )?;
    let DeploymentMode::Ha(ha) = &c.deployment else {
        return Err("not HA".into());
    };
    check(
        ha.event_sync_server.advertised() == ("localhost", 9893),
        "event sync",
        &loaded,
    )?;
    check(
        ha.event_queue_capacity == 20_000,
        "queue capacity default",
        &loaded,
    )?;
    check(
        ha.passive_node_details_wait_timeout == Duration::from_secs(300),
        "wait",
        &loaded,
    )?;
    check(
        ha.event_sync_client_pool.max_wait == Duration::from_secs(60),
        "pool",
        &loaded,
    )?;
    Ok(())
}

/// Turning HA on with nothing but environment variables, on the shipped H2 cluster database.
fn ha_on_h2() -> Result<(), Failed> {
    let loaded = load_ok(
        SEED,
        &[
            ("SPATE__CLUSTER_CONFIG__ENABLED", "true"),
            ("SPATE__STATE_PERSISTENCE__ENABLED", "true"),
            ("SPATE__DEPLOYMENT_CONFIG__TYPE", "ha"),
        ],
    )?;
    check(loaded.config.is_ha(), "HA", &loaded)?;
    let warnings = warnings(&loaded);
    for expected in [
        "is mapped to the SQLite file `/opt/si/wso2/server/database/WSO2_CLUSTER_DB.sqlite`",
        "cluster.config.strategyConfig.datasource: `WSO2_CLUSTER_DB` is an embedded SQLite file",
        "state.persistence.persistenceStore: with the file store both HA nodes must see",
        "deployment.config.eventSyncServer.advertisedHost: not set, so the peer is told to connect to 0.0.0.0",
        "wso2.carbon.id: still the shipped `wso2-si`",
    ] {
        check(
            warnings.iter().any(|w| w.contains(expected)),
            expected,
            &loaded,
        )?;
    }
    Ok(())
}
