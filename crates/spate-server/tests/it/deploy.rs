//! The deployments in `deploy/`: the image's HA template loaded with exactly the environment the
//! compose file (`deploy/compose/env/*.env`) and the ECS task definition
//! (`deploy/aws-ecs/template.yaml`) give each node. A renamed key or a misspelt variable there
//! fails here, not on a cluster.

use libtest_mimic::Failed;
use spate_server::config::deployment::DeploymentMode;
use spate_server::config::{Loaded, ServerConfig};
use spate_store::{Backend, StoreSpec};

use crate::{Test, load_ok, warnings};

/// `/etc/spate/deployment-ha.yaml` in the image.
const HA_TEMPLATE: &str = include_str!("../../../../deploy/docker/deployment-ha.yaml");
const COMPOSE_COMMON: &str = include_str!("../../../../deploy/compose/env/spate-common.env");
const COMPOSE_NODES: [(&str, &str); 2] = [
    (
        "spate-1",
        include_str!("../../../../deploy/compose/env/spate-1.env"),
    ),
    (
        "spate-2",
        include_str!("../../../../deploy/compose/env/spate-2.env"),
    ),
];
const ECS_TEMPLATE: &str = include_str!("../../../../deploy/aws-ecs/template.yaml");

pub fn tests() -> Vec<Test> {
    vec![
        ("compose_nodes_load_as_an_ha_pair", compose_nodes),
        ("ecs_task_environment_loads", ecs_task),
        (
            "template_without_datasources_names_them",
            template_alone_fails,
        ),
    ]
}

/// `KEY=VALUE` lines of a compose env file (no quoting or interpolation, as compose reads it).
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(env: &[(String, String)]) -> Result<Loaded, Failed> {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    load_ok(HA_TEMPLATE, &pairs)
}

/// What both deployments need: HA on, one shared MySQL-family database for the coordinator and
/// the persistence store, event sync on 9893.
fn check_ha(c: &ServerConfig, db_host: &str) -> Result<(), Failed> {
    let DeploymentMode::Ha(ha) = &c.deployment else {
        return Err("not an HA node".into());
    };
    if ha.event_sync_server.port != 9893 || ha.event_sync_server.host != "0.0.0.0" {
        return Err(format!("event sync server: {:?}", ha.event_sync_server).into());
    }
    let Some(StoreSpec::Database { datasource, table }) = c.persistence_store() else {
        return Err("persistence is not a database store".into());
    };
    let cluster_db = c
        .cluster
        .datasource
        .as_deref()
        .ok_or("no cluster datasource")?;
    let cluster = c
        .datasource(cluster_db)
        .ok_or("cluster datasource missing")?;
    for ds in [&datasource, cluster] {
        let target = ds.target(&c.spate.data_dir)?;
        if target.backend != Backend::MySql || !target.display_url.contains(db_host) {
            return Err(format!("{}: {target:?}", ds.name).into());
        }
        if ds.username.is_none() || ds.password.is_none() {
            return Err(format!("{}: no credentials", ds.name).into());
        }
    }
    if table != "PERSISTENCE_TABLE" || !c.cluster.enabled || !c.persistence.enabled {
        return Err("cluster or persistence settings".into());
    }
    Ok(())
}

fn compose_nodes() -> Result<(), Failed> {
    for (node, file) in COMPOSE_NODES {
        let mut env = env_file(COMPOSE_COMMON);
        env.extend(env_file(file));
        let loaded = load(&env)?;
        let c = &loaded.config;
        if c.node_id() != node {
            return Err(format!("{node}: node id {}", c.node_id()).into());
        }
        check_ha(c, "mariadb:3306")?;
        let DeploymentMode::Ha(ha) = &c.deployment else {
            return Err("not HA".into());
        };
        if ha.event_sync_server.advertised() != (node, 9893) {
            return Err(
                format!("{node}: advertised {:?}", ha.event_sync_server.advertised()).into(),
            );
        }
        let detection = c.cluster.failure_detection_window();
        if detection.as_millis() != 6000 {
            return Err(format!("{node}: failure detection {detection:?}").into());
        }
        let warned = warnings(&loaded);
        if !warned.is_empty() {
            return Err(format!("{node}: unexpected warnings {warned:?}").into());
        }
    }
    Ok(())
}

/// The `SPATE__` variables of the task definition: `Environment` values with the stack's
/// references replaced by examples, `Secrets` by a stand-in for the secret's value.
fn ecs_environment() -> Result<Vec<(String, String)>, Failed> {
    let lines: Vec<&str> = ECS_TEMPLATE.lines().collect();
    let mut env = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(start) = line.find("Name: SPATE__") else {
            continue;
        };
        let rest = &line[start + "Name: ".len()..];
        let name = rest
            .split([',', '}'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let value_line = if rest.contains("Value:") {
            rest
        } else {
            lines.get(i + 1).copied().unwrap_or_default()
        };
        let value = if value_line.contains("ValueFrom:") {
            "from-secrets-manager".to_string()
        } else {
            let raw = value_line
                .split_once("Value:")
                .ok_or_else(|| format!("no value for {name}"))?
                .1;
            raw.trim()
                .trim_end_matches('}')
                .trim()
                .trim_start_matches("!Sub")
                .trim()
                .trim_matches('"')
                .replace("${DbEngine}", "mariadb")
                .replace("${Db.Endpoint.Address}", "db.example.internal")
                .replace("${Db.Endpoint.Port}", "3306")
        };
        if value.contains("${") {
            return Err(format!("{name}: unreplaced reference in {value}").into());
        }
        env.push((name, value));
    }
    if env.len() < 8 {
        return Err(format!("found only {env:?} in the task definition").into());
    }
    Ok(env)
}

fn ecs_task() -> Result<(), Failed> {
    let env = ecs_environment()?;
    let loaded = load(&env)?;
    let c = &loaded.config;
    check_ha(c, "db.example.internal:3306")?;
    // Both resolved by the node at start (the ECS service name; the task's private IP).
    let DeploymentMode::Ha(ha) = &c.deployment else {
        return Err("not HA".into());
    };
    if c.node_id() != "auto" || ha.event_sync_server.advertised_host.as_deref() != Some("auto") {
        return Err("node id and advertised host should be `auto`".into());
    }
    Ok(())
}

fn template_alone_fails() -> Result<(), Failed> {
    let problems = crate::load_err(HA_TEMPLATE, &[])?;
    crate::expect_line(&problems, &["no datasource named `PERSISTENCE_DB`"])?;
    crate::expect_line(&problems, &["no datasource named `WSO2_CLUSTER_DB`"])
}
