//! The deployments in `deploy/` run as an HA pair: two real `spate server` processes started the
//! way the compose file and the ECS task definition start the container (the image's HA
//! template, `--config`/`--apps`, and exactly their environment), against the local MariaDB.
//! Only what one host forces is changed: the database host (the compose service or the RDS
//! endpoint becomes 127.0.0.1), and the ports, which two containers would each have to
//! themselves. The ECS variant resolves `auto` node ids and addresses through a stand-in for
//! the task metadata endpoint, as on Fargate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use sqlx::{AnyPool, AssertSqlSafe};

use super::node::{Node, free_port, request, test_dir};

const HA_TEMPLATE: &str = include_str!("../../../../../deploy/docker/deployment-ha.yaml");
const COMPOSE_COMMON: &str = include_str!("../../../../../deploy/compose/env/spate-common.env");
const COMPOSE_NODES: [&str; 2] = [
    include_str!("../../../../../deploy/compose/env/spate-1.env"),
    include_str!("../../../../../deploy/compose/env/spate-2.env"),
];
const COMPOSE_DB: &str = include_str!("../../../../../deploy/compose/env/mariadb.env");
const ECS_TEMPLATE: &str = include_str!("../../../../../deploy/aws-ecs/template.yaml");
const SAMPLE_APP: &str =
    include_str!("../../../../../deploy/compose/siddhi-files/SweetProduction.siddhi");

/// `KEY=VALUE` lines of a compose env file.
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn value<'a>(env: &'a [(String, String)], key: &str) -> Result<&'a str, Failed> {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| format!("{key} is not set").into())
}

/// The compose database (`MARIADB_DATABASE`, user, password) made on the local MariaDB, under
/// a name of this run's own; returns the database's name.
fn compose_database(suffix: &str) -> Result<(String, String, String), Failed> {
    let db_env = env_file(COMPOSE_DB);
    let name = format!("{}_{suffix}", value(&db_env, "MARIADB_DATABASE")?);
    let user = value(&db_env, "MARIADB_USER")?.to_string();
    let password = value(&db_env, "MARIADB_PASSWORD")?.to_string();
    let rt = runtime()?;
    sqlx::any::install_default_drivers();
    rt.block_on(async {
        let pool = AnyPool::connect("mysql://root@127.0.0.1:3306/test").await?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE DATABASE IF NOT EXISTS {name}"
        )))
        .execute(&pool)
        .await?;
        // MariaDB's anonymous ''@localhost would shadow a '%' user for local logins.
        for host in ["%", "localhost", "127.0.0.1"] {
            sqlx::query(AssertSqlSafe(format!(
                "CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}'"
            )))
            .execute(&pool)
            .await?;
            sqlx::query(AssertSqlSafe(format!(
                "GRANT ALL PRIVILEGES ON {name}.* TO '{user}'@'{host}'"
            )))
            .execute(&pool)
            .await?;
        }
        Ok::<(), sqlx::Error>(())
    })?;
    Ok((name, user, password))
}

fn drop_database(name: &str) {
    if let Ok(rt) = runtime() {
        rt.block_on(async {
            if let Ok(pool) = AnyPool::connect("mysql://root@127.0.0.1:3306/test").await {
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                    .execute(&pool)
                    .await
                    .ok();
            }
        });
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failed> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The sample app with its source on `port` instead of 8006 (both nodes share one host).
fn sample_apps(dir: &Path, port: u16) -> Result<PathBuf, Failed> {
    let apps = dir.join("apps");
    std::fs::create_dir_all(&apps)?;
    if !SAMPLE_APP.contains(":8006/") {
        return Err("the sample app no longer listens on 8006".into());
    }
    std::fs::write(
        apps.join("SweetProduction.siddhi"),
        SAMPLE_APP.replace(":8006/", &format!(":{port}/")),
    )?;
    Ok(apps)
}

/// One node's process environment as (key, value) pairs, plus the per-host overrides.
struct NodeEnv {
    env: Vec<(String, String)>,
    dir: PathBuf,
}

fn start(node: &NodeEnv) -> Result<Node, Failed> {
    let pairs: Vec<(&str, &str)> = node
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Node::start_with_env(&node.dir, Some(HA_TEMPLATE), &pairs)
}

/// Whether the node's probe says it is the active node.
fn is_active(node: &Node) -> Result<Option<bool>, Failed> {
    let Ok(answer) = request(node.api, "GET", "/siddhi-apps/ha/is-active-node", None, "") else {
        return Ok(None);
    };
    Ok(match answer.body.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    })
}

/// Waits until exactly one of `nodes` says it is active; returns its index.
fn one_active(nodes: &[&Node], within: Duration) -> Result<usize, Failed> {
    let deadline = Instant::now() + within;
    loop {
        let states: Vec<Option<bool>> = nodes
            .iter()
            .map(|n| is_active(n))
            .collect::<Result<_, _>>()?;
        let active: Vec<usize> = (0..nodes.len())
            .filter(|&i| states[i] == Some(true))
            .collect();
        if active.len() == 1 && states.iter().all(Option::is_some) {
            return Ok(active[0]);
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = nodes.iter().map(|n| n.output()).collect();
            return Err(format!(
                "no single active node ({states:?}):\n{}",
                logs.join("\n----\n")
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two nodes from the compose files: one active, one passive, each saying so in the spec's
/// words; the passive opens no source port; killing the active hands over to the passive.
pub fn compose_pair() -> Result<(), Failed> {
    let suffix = format!("{}_{}", std::process::id(), free_port()?);
    let (database, _, _) = compose_database(&suffix)?;
    let result = compose_pair_on(&database);
    drop_database(&database);
    result
}

fn compose_pair_on(database: &str) -> Result<(), Failed> {
    let source_port = free_port()?;
    let mut nodes = Vec::new();
    for (i, node_env) in COMPOSE_NODES.iter().enumerate() {
        let dir = test_dir(&format!("compose-pair-{i}"))?;
        sample_apps(&dir, source_port)?;
        let sync_port = free_port()?;
        let mut env: Vec<(String, String)> = env_file(COMPOSE_COMMON)
            .into_iter()
            .chain(env_file(node_env))
            .map(|(k, v)| {
                let v = v.replace(
                    "//mariadb:3306/spate",
                    &format!("//127.0.0.1:3306/{database}"),
                );
                (k, v)
            })
            .collect();
        // Per host: the compose service name does not resolve here, and the two nodes cannot
        // both have port 9893.
        env.retain(|(k, _)| k != "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__ADVERTISED_HOST");
        env.push((
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__ADVERTISED_HOST".into(),
            "127.0.0.1".into(),
        ));
        env.push((
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__PORT".into(),
            sync_port.to_string(),
        ));
        env.push((
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__ADVERTISED_PORT".into(),
            sync_port.to_string(),
        ));
        if !env.iter().any(|(_, v)| v.contains(&format!("/{database}"))) {
            return Err("the compose env no longer points at mariadb:3306/spate".into());
        }
        nodes.push(NodeEnv { env, dir });
    }
    let first = start(&nodes[0])?;
    let second = start(&nodes[1])?;
    let active = one_active(&[&first, &second], Duration::from_secs(30))?;
    let (active_node, passive_node) = if active == 0 {
        (&first, &second)
    } else {
        (&second, &first)
    };
    active_node.wait_for_output("HA Deployment: Starting up as Active Node")?;
    passive_node.wait_for_output("HA Deployment: Starting up as Passive Node")?;
    // Until the active has seen its passive (one event poll), it serves alone, unprotected.
    active_node.wait_for_output("Active node retrieved node details of passive node")?;

    // Clients reach the app on the active node only.
    let source = SocketAddr::from(([127, 0, 0, 1], source_port));
    let event = r#"{"event":{"name":"Toffee","amount":5.5}}"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    while request(source, "POST", "/sweetProduction", None, event)
        .ok()
        .map(|a| a.status)
        != Some(200)
    {
        if Instant::now() > deadline {
            return Err(format!(
                "the active node's source does not take events:\n{}",
                active_node.output()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    active_node.wait_for_output("SweetTotals")?;

    // kill -9 the active: the passive takes over (2 s x 3 in the compose env) and serves.
    let (active_node, passive_node) = if active == 0 {
        (first, second)
    } else {
        (second, first)
    };
    active_node.kill()?;
    let started = Instant::now();
    one_active(&[&passive_node], Duration::from_secs(30))?;
    let took = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    while request(source, "POST", "/sweetProduction", None, event)
        .ok()
        .map(|a| a.status)
        != Some(200)
    {
        if Instant::now() > deadline {
            return Err(format!(
                "the new active node's source does not take events:\n{}",
                passive_node.output()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its running total includes the event sent to the old active (2 batches of Toffee).
    passive_node
        .wait_for_output("batches=2")
        .or_else(|_| passive_node.wait_for_output("11.0, 2]"))?;
    eprintln!(
        "compose pair: takeover {} ms after kill -9",
        took.as_millis()
    );
    Ok(())
}

/// A stand-in for the ECS task metadata endpoint v4 of one task.
fn metadata_server(service: &'static str, ip: &'static str) -> Result<String, Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 2048];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let body = if head.starts_with("GET /v4/task ") {
                format!(
                    r#"{{"TaskARN":"arn:aws:ecs:eu-west-1:1:task/spate/0123","ServiceName":"{service}"}}"#
                )
            } else {
                format!(r#"{{"Networks":[{{"NetworkMode":"awsvpc","IPv4Addresses":["{ip}"]}}]}}"#)
            };
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .ok();
        }
    });
    Ok(format!("http://{addr}/v4"))
}

/// The ECS task definition's environment (secrets filled from the compose demo database):
/// `auto` ids and addresses resolve through the metadata endpoint to two distinct nodes.
pub fn ecs_pair() -> Result<(), Failed> {
    let suffix = format!("{}_{}", std::process::id(), free_port()?);
    let (database, user, password) = compose_database(&suffix)?;
    let result = ecs_pair_on(&database, &user, &password);
    drop_database(&database);
    result
}

fn ecs_environment(
    database: &str,
    user: &str,
    password: &str,
) -> Result<Vec<(String, String)>, Failed> {
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
        let value_line = if rest.contains("Value") {
            rest
        } else {
            lines.get(i + 1).copied().unwrap_or_default()
        };
        let value = if value_line.contains("ValueFrom:") {
            if value_line.contains(":username::") {
                user.to_string()
            } else {
                password.to_string()
            }
        } else {
            value_line
                .split_once("Value:")
                .ok_or_else(|| format!("no value for {name}"))?
                .1
                .trim()
                .trim_end_matches('}')
                .trim()
                .trim_start_matches("!Sub")
                .trim()
                .trim_matches('"')
                .replace("${DbEngine}", "mariadb")
                .replace("${Db.Endpoint.Address}", "127.0.0.1")
                .replace("${Db.Endpoint.Port}", "3306")
                .replace("/spate", &format!("/{database}"))
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

fn ecs_pair_on(database: &str, user: &str, password: &str) -> Result<(), Failed> {
    let task_env = ecs_environment(database, user, password)?;
    let source_port = free_port()?;
    let mut nodes = Vec::new();
    for (i, service) in ["spate-node-1", "spate-node-2"].into_iter().enumerate() {
        let dir = test_dir(&format!("ecs-pair-{i}"))?;
        sample_apps(&dir, source_port)?;
        let sync_port = free_port()?;
        let mut env = task_env.clone();
        env.push((
            "ECS_CONTAINER_METADATA_URI_V4".into(),
            metadata_server(service, "127.0.0.1")?,
        ));
        env.push((
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__PORT".into(),
            sync_port.to_string(),
        ));
        env.push((
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__ADVERTISED_PORT".into(),
            sync_port.to_string(),
        ));
        nodes.push(NodeEnv { env, dir });
    }
    let first = start(&nodes[0])?;
    let second = start(&nodes[1])?;
    let active = one_active(&[&first, &second], Duration::from_secs(60))?;
    let (active_node, passive_node) = if active == 0 {
        (&first, &second)
    } else {
        (&second, &first)
    };
    active_node.wait_for_output("HA Deployment: Starting up as Active Node")?;
    passive_node.wait_for_output("HA Deployment: Starting up as Passive Node")?;
    for (node, id) in [(&first, "spate-node-1"), (&second, "spate-node-2")] {
        if !node.output().contains(id) {
            return Err(format!(
                "node id `{id}` from the metadata endpoint is not in the log:\n{}",
                node.output()
            )
            .into());
        }
    }
    Ok(())
}
