//! Persistence on MariaDB and PostgreSQL: skipped with a printed reason when the server is not
//! reachable, a failure instead when `SPATE_REQUIRE_SERVICES=1` (as in CI).

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use libtest_mimic::{Completion, Failed};
use serde_json::json;

use super::node::{Node, free_port, test_dir};
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

    fn port(self) -> u16 {
        match self {
            Database::MariaDb => 3306,
            Database::Postgres => 5432,
        }
    }

    /// The datasource as a `deployment.yaml` writes it.
    fn datasource(self) -> (&'static str, &'static str) {
        match self {
            Database::MariaDb => ("jdbc:mysql://127.0.0.1:3306/test", "root"),
            Database::Postgres => ("jdbc:postgresql://127.0.0.1:5432/postgres", "postgres"),
        }
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
    let (url, user) = db.datasource();
    let table = format!("SPATE_IT_{}_{}", std::process::id(), free_port()?);
    let config = format!(
        "wso2.carbon:\n  id: it-{name}\n\
         wso2.datasources:\n  dataSources:\n    - name: STATE_DB\n      definition:\n        type: RDBMS\n        configuration:\n          jdbcUrl: '{url}'\n          username: {user}\n          password: ''\n\
         state.persistence:\n  enabled: true\n  intervalInSec: 1\n  revisionsToKeep: 2\n  persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore\n  config:\n    datasource: STATE_DB\n    table: {table}\n",
        name = db.name()
    );
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
    Ok(())
}
