//! Persistence on MariaDB and PostgreSQL: skipped with a printed reason when the server is not
//! reachable, a failure instead when `SPATE_REQUIRE_SERVICES=1` (as in CI).

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use libtest_mimic::{Completion, Failed};
use serde_json::json;

use super::node::{Node, free_port, request, test_dir};
use super::proxy::FaultProxy;
use super::{TOTALS, deploy_counter, send, trade, wait_active};

/// Set to `1` to turn a missing database into a test failure instead of a skip.
const REQUIRE_ENV: &str = "SPATE_REQUIRE_SERVICES";

#[derive(Debug, Clone, Copy)]
pub enum Database {
    MariaDb,
    Postgres,
}

impl Database {
    pub const ALL: [Database; 2] = [Database::MariaDb, Database::Postgres];

    pub fn name(self) -> &'static str {
        match self {
            Database::MariaDb => "mariadb",
            Database::Postgres => "postgres",
        }
    }

    pub fn port(self) -> u16 {
        match self {
            Database::MariaDb => 3306,
            Database::Postgres => 5432,
        }
    }

    /// The JDBC URL of the test database reached on `port`, and the user.
    pub fn jdbc(self, port: u16) -> (String, &'static str) {
        match self {
            Database::MariaDb => (format!("jdbc:mysql://127.0.0.1:{port}/test"), "root"),
            Database::Postgres => (
                format!("jdbc:postgresql://127.0.0.1:{port}/postgres"),
                "postgres",
            ),
        }
    }

    /// A `deployment.yaml` persisting every second to this database reached on `port`, in a
    /// table of its own.
    fn config(self, port: u16) -> Result<String, Failed> {
        let (url, user) = self.jdbc(port);
        let table = format!("SPATE_IT_{}_{}", std::process::id(), free_port()?);
        Ok(format!(
            "wso2.carbon:\n  id: it-{name}\n\
             wso2.datasources:\n  dataSources:\n    - name: STATE_DB\n      definition:\n        type: RDBMS\n        configuration:\n          jdbcUrl: '{url}'\n          username: {user}\n          password: ''\n          connectionTimeout: 1000\n\
             state.persistence:\n  enabled: true\n  intervalInSec: 1\n  revisionsToKeep: 2\n  persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore\n  config:\n    datasource: STATE_DB\n    table: {table}\n",
            name = self.name()
        ))
    }

    /// `None` to run; `Some(skip)` when unreachable; an error when unreachable but required.
    pub fn check(self) -> Result<Option<Completion>, Failed> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port()));
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => Ok(None),
            Err(e) => {
                let reason = format!("{} at {addr} is unreachable: {e}", self.name());
                if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                    return Err(format!("{reason} ({REQUIRE_ENV}=1)").into());
                }
                eprintln!("note: skipping: {reason}");
                Ok(Some(Completion::ignored_with(reason)))
            }
        }
    }
}

/// State persisted on schedule to the database survives `kill -9`.
pub fn persistence_survives_restart(db: Database) -> Result<(), Failed> {
    let dir = test_dir(db.name())?;
    let config = db.config(db.port())?;
    let port = free_port()?;
    let node = Node::start(&dir, Some(&config))?;
    deploy_counter(&node, port)?;
    send(port, &format!("[{},{},{}]", trade(1), trade(2), trade(3)))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 3, 6]]))?;
    let persisted = node
        .output()
        .matches("Siddhi apps persisted successfully")
        .count();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while node
        .output()
        .matches("Siddhi apps persisted successfully")
        .count()
        <= persisted
    {
        if std::time::Instant::now() > deadline {
            return Err(format!("no periodic persist:\n{}", node.output()).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    node.kill()?;
    let node = Node::start(&dir, Some(&config))?;
    wait_active(&node, "Counter")?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 3, 6]]))?;
    send(port, &trade(4))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 4, 10]]))?;
    let (status, output) = node.terminate()?;
    if !status.success() {
        return Err(format!("unclean shutdown ({status}):\n{output}").into());
    }
    super::node::remove_dir(&dir)
}

const PERSISTED: &str = "Siddhi apps persisted successfully";
const PERSIST_FAILED: &str = "Persisting the app's state failed";

/// Waits until `text` appears once more than it does now.
fn wait_for_another(node: &Node, text: &str) -> Result<(), Failed> {
    let seen = node.output().matches(text).count();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while node.output().matches(text).count() <= seen {
        if std::time::Instant::now() > deadline {
            return Err(format!("no new `{text}`:\n{}", node.output()).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The database goes away mid-run: events keep flowing, snapshots fail loudly (ERROR, metric,
/// 503 on backup) and succeed again when it is back. Then a node starting while the database
/// is away waits to restore before taking events (503), and catches up when it returns.
pub fn outages(db: Database) -> Result<(), Failed> {
    let dir = test_dir(&format!("{}-outage", db.name()))?;
    let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], db.port())))?;
    let config = db.config(proxy.port)?;
    let port = free_port()?;
    let node = Node::start(&dir, Some(&config))?;
    deploy_counter(&node, port)?;
    send(port, &format!("[{},{}]", trade(1), trade(2)))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 2, 3]]))?;
    wait_for_another(&node, PERSISTED)?;

    proxy.cut();
    send(port, &format!("[{},{}]", trade(3), trade(4)))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 4, 10]]))?;
    wait_for_another(&node, PERSIST_FAILED)?;
    let backup = node.call("POST", "/siddhi-apps/Counter/backup", "")?;
    if backup.status != 503 && backup.status != 500 {
        return Err(format!(
            "backup with the database away: {} {}",
            backup.status, backup.body
        )
        .into());
    }
    let metrics = node.call("GET", "/metrics", "")?.expect(200)?.body;
    if !metrics.contains("spate_snapshot_failures_total{app=\"Counter\"}") {
        return Err(format!("no snapshot failure metric:\n{metrics}").into());
    }
    proxy.restore();
    wait_for_another(&node, PERSISTED)?;
    node.kill()?;

    proxy.cut();
    let node = Node::start(&dir, Some(&config))?;
    std::thread::sleep(Duration::from_millis(300));
    let status = node
        .call("GET", "/siddhi-apps/Counter/status", "")?
        .expect(200)?
        .json()?;
    if status["status"] != "starting" {
        return Err(format!("expected the app to wait for the database: {status}").into());
    }
    let source = SocketAddr::from(([127, 0, 0, 1], port));
    request(source, "POST", "/trades", None, &trade(5))?.expect(503)?;
    proxy.restore();
    wait_active(&node, "Counter")?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 4, 10]]))?;
    send(port, &trade(5))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 5, 15]]))?;
    drop(node);
    super::node::remove_dir(&dir)
}

/// WSO2's shipped `deployment.yaml` with the minimum-HA edits, unchanged, its datasources
/// pointed at the local MariaDB through `SPATE__...` environment overrides, starts a node that
/// persists to it.
pub fn seed_deployment_yaml_on_mariadb() -> Result<(), Failed> {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spate-server/tests/data/wso2-si-deployment-ha.yaml"
    );
    let config = std::fs::read_to_string(seed)?;
    let dir = test_dir("seed")?;
    let url = "jdbc:mysql://127.0.0.1:3306/test";
    // A table of its own, so runs do not see each other's revisions.
    let table = format!("SPATE_IT_{}_{}", std::process::id(), free_port()?);
    // The template is an HA node: a group and an event-sync port of its own.
    let group = table.to_lowercase();
    let sync_port = free_port()?.to_string();
    let env = [
        ("SPATE__CLUSTER_CONFIG__GROUP_ID", group.as_str()),
        (
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__PORT",
            sync_port.as_str(),
        ),
        (
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__ADVERTISED_PORT",
            sync_port.as_str(),
        ),
        ("SPATE__STATE_PERSISTENCE__CONFIG__TABLE", table.as_str()),
        ("SPATE__WSO2_DATASOURCES__PERSISTENCE_DB__JDBC_URL", url),
        ("SPATE__WSO2_DATASOURCES__PERSISTENCE_DB__PASSWORD", ""),
        ("SPATE__WSO2_DATASOURCES__WSO2_CLUSTER_DB__JDBC_URL", url),
        ("SPATE__WSO2_DATASOURCES__WSO2_CLUSTER_DB__PASSWORD", ""),
    ];
    let node = Node::start_with_env(&dir, Some(&config), &env)?;
    node.wait_for_output("HA Deployment: Starting up as Active Node")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while request(node.api, "GET", "/siddhi-apps/ha/is-active-node", None, "")?.body != "true" {
        if std::time::Instant::now() > deadline {
            return Err(format!("the node did not become active:\n{}", node.output()).into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let port = free_port()?;
    deploy_counter(&node, port)?;
    send(port, &trade(2))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 1, 2]]))?;
    node.call("POST", "/siddhi-apps/Counter/backup", "")?
        .expect(201)?;

    // The same file as the second node of the pair: its own id and event-sync port.
    let dir2 = test_dir("seed-2")?;
    let sync_port2 = free_port()?.to_string();
    let mut env2 = env.to_vec();
    env2.retain(|(k, _)| !k.contains("EVENT_SYNC_SERVER"));
    env2.extend([
        ("SPATE__WSO2_CARBON__ID", "wso2-si-2"),
        (
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__PORT",
            sync_port2.as_str(),
        ),
        (
            "SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__ADVERTISED_PORT",
            sync_port2.as_str(),
        ),
    ]);
    let node2 = Node::start_with_env(&dir2, Some(&config), &env2)?;
    node2.wait_for_output("HA Deployment: Starting up as Passive Node")?;
    node.wait_for_output("memberAdded event received for node id : wso2-si-2")?;
    send(port, &trade(3))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 2, 5]]))?;

    // A clean stop of the active hands the lease over; the passive carries the count on.
    let (status, output) = node.terminate()?;
    if !status.success() || !output.contains(PERSISTED) || !output.contains("wso2-si-1") {
        return Err(format!("unexpected run ({status}):\n{output}").into());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while request(node2.api, "GET", "/siddhi-apps/ha/is-active-node", None, "")?.body != "true" {
        if std::time::Instant::now() > deadline {
            return Err(format!("the passive did not take over:\n{}", node2.output()).into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_active(&node2, "Counter")?;
    node2.wait_for_records("Counter", TOTALS, &json!([["IBM", 2, 5]]))?;
    send(port, &trade(4))?;
    node2.wait_for_records("Counter", TOTALS, &json!([["IBM", 3, 9]]))?;
    drop(node2);
    super::node::remove_dir(&dir2)?;
    super::node::remove_dir(&dir)
}
