//! `@store(type='rdbms')` tables on SQLite, MariaDB and PostgreSQL: the database table is
//! created, follows every insert, update and delete, is read when an app starts fresh, and
//! holds exactly the app's rows after a `kill -9` and restart (no change applied twice).

use std::path::Path;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use serde_json::json;
use sqlx::{AnyPool, AssertSqlSafe, Row};

use super::databases::Database;
use super::node::{Node, free_port, request, test_dir};
use super::wait_active;

/// Where the test's `@store` table lives.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Server(Database),
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Server(db) => db.name(),
        }
    }

    /// The JDBC URL for the app and the sqlx URL for the test's own reads.
    fn urls(self, dir: &Path) -> (String, String) {
        match self {
            Backend::Sqlite => {
                let file = dir.join("tables.db");
                (
                    format!("jdbc:sqlite:{}", file.display()),
                    format!("sqlite:{}?mode=rwc", file.display()),
                )
            }
            Backend::Server(Database::MariaDb) => (
                "jdbc:mysql://127.0.0.1:3306/test?user=root".into(),
                "mysql://root@127.0.0.1:3306/test".into(),
            ),
            Backend::Server(Database::Postgres) => (
                "jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres".into(),
                "postgres://postgres@127.0.0.1:5432/postgres".into(),
            ),
        }
    }
}

fn app(name: &str, port: u16, jdbc: &str, suffix: &str) -> String {
    format!(
        "@app:name('{name}')\n\
         @source(type='http', receiver.url='http://127.0.0.1:{port}/trades', @map(type='json'))\n\
         define stream TradeStream (symbol string, price double, volume long);\n\
         @primaryKey('symbol')\n\
         @store(type='rdbms', jdbc.url='{jdbc}', table.name='TOTALS_{suffix}', field.length='symbol:20')\n\
         define table Totals (symbol string, trades long, volume long);\n\
         @store(type='rdbms', jdbc.url='{jdbc}', table.name='TRADES_{suffix}')\n\
         define table Trades (symbol string, price double, volume long);\n\
         from TradeStream[volume >= 0] select symbol, count() as trades, sum(volume) as volume group by symbol\n\
         update or insert into Totals on Totals.symbol == symbol;\n\
         from TradeStream[volume >= 0] insert into Trades;\n\
         from TradeStream[volume < 0] delete Trades on Trades.symbol == symbol;\n"
    )
}

fn post(port: u16, symbol: &str, price: f64, volume: i64) -> Result<(), Failed> {
    let body = json!({"event": {"symbol": symbol, "price": price, "volume": volume}}).to_string();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    request(addr, "POST", "/trades", None, &body)?.expect(200)?;
    Ok(())
}

/// The rows of a table, sorted, as text.
async fn rows(pool: &AnyPool, sql: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut out: Vec<String> = sqlx::query(AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let symbol: String = r.try_get(0).unwrap_or_default();
            let b: String = r
                .try_get::<f64, _>(1)
                .map(|v| v.to_string())
                .or_else(|_| r.try_get::<i64, _>(1).map(|v| v.to_string()))
                .unwrap_or_default();
            let c: i64 = r.try_get(2).unwrap_or_default();
            format!("{symbol}|{b}|{c}")
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Waits until `sql` reads `want` from the database.
fn wait_rows(
    rt: &tokio::runtime::Runtime,
    pool: &AnyPool,
    sql: &str,
    want: &[&str],
    node: &Node,
) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = rt.block_on(rows(pool, sql));
        if let Ok(got) = &got
            && got.iter().map(String::as_str).eq(want.iter().copied())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(
                format!("`{sql}` read {got:?}, expected {want:?}\n{}", node.output()).into(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn store_tables(backend: Backend) -> Result<(), Failed> {
    let dir = test_dir(&format!("store-{}", backend.name()))?;
    let port = free_port()?;
    let suffix = format!("{}_{port}", std::process::id());
    let (jdbc, url) = backend.urls(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    sqlx::any::install_default_drivers();
    let pool = rt.block_on(AnyPool::connect(&url))?;
    let (totals, trades) = match backend {
        Backend::Server(Database::Postgres) => (
            format!("SELECT symbol, trades, volume FROM totals_{suffix}"),
            format!("SELECT symbol, price, volume FROM trades_{suffix}"),
        ),
        _ => (
            format!("SELECT symbol, trades, volume FROM TOTALS_{suffix}"),
            format!("SELECT symbol, price, volume FROM TRADES_{suffix}"),
        ),
    };

    let node = Node::start(&dir, None)?;
    node.call("POST", "/siddhi-apps", &app("Stored", port, &jdbc, &suffix))?
        .expect(201)?;
    wait_active(&node, "Stored")?;
    post(port, "IBM", 10.5, 100)?;
    post(port, "IBM", 11.0, 50)?;
    post(port, "ORCL", 5.25, 7)?;
    wait_rows(&rt, &pool, &totals, &["IBM|2|150", "ORCL|1|7"], &node)?;
    wait_rows(
        &rt,
        &pool,
        &trades,
        &["IBM|10.5|100", "IBM|11|50", "ORCL|5.25|7"],
        &node,
    )?;
    post(port, "IBM", 0.0, -1)?;
    wait_rows(&rt, &pool, &trades, &["ORCL|5.25|7"], &node)?;

    // kill -9 after a backup and more events: the restart restores the backup, replays the
    // journal, and the database ends up with the same rows as the app (no change doubled).
    node.call("POST", "/siddhi-apps/Stored/backup", "")?
        .expect(201)?;
    post(port, "ORCL", 6.0, 3)?;
    wait_rows(&rt, &pool, &totals, &["IBM|2|150", "ORCL|2|10"], &node)?;
    node.kill()?;
    let node = Node::start(&dir, None)?;
    wait_active(&node, "Stored")?;
    node.wait_for_records(
        "Stored",
        "from Totals select symbol, trades, volume order by symbol",
        &json!([["IBM", 2, 150], ["ORCL", 2, 10]]),
    )?;
    post(port, "ORCL", 6.0, 1)?;
    wait_rows(&rt, &pool, &totals, &["IBM|2|150", "ORCL|3|11"], &node)?;
    wait_rows(
        &rt,
        &pool,
        &trades,
        &["ORCL|5.25|7", "ORCL|6|1", "ORCL|6|3"],
        &node,
    )?;

    // A row written by someone else is there for an app that starts fresh on the same table.
    rt.block_on(
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} VALUES ('MSFT', 9, 90)",
            totals.rsplit(' ').next().unwrap_or_default()
        )))
        .execute(&pool),
    )?;
    node.call("DELETE", "/siddhi-apps/Stored", "")?
        .expect(200)?;
    let port2 = free_port()?;
    node.call("POST", "/siddhi-apps", &app("Fresh", port2, &jdbc, &suffix))?
        .expect(201)?;
    wait_active(&node, "Fresh")?;
    node.wait_for_records(
        "Fresh",
        "from Totals select symbol, trades, volume order by symbol",
        &json!([["IBM", 2, 150], ["MSFT", 9, 90], ["ORCL", 3, 11]]),
    )?;
    node.wait_for_output("Loaded the table's rows from its database.")?;

    // A bad @store option fails the deploy with a message that names it.
    let bad = app("Bad", free_port()?, &jdbc, &suffix)
        .replace("table.name=", "colour='red', table.name=");
    let answer = node.call("POST", "/siddhi-apps", &bad)?;
    if answer.status != 400 || !answer.body.contains("colour") {
        return Err(format!("bad @store option: {} {}", answer.status, answer.body).into());
    }
    for t in [&totals, &trades] {
        let table = t.rsplit(' ').next().unwrap_or_default();
        rt.block_on(sqlx::query(AssertSqlSafe(format!("DROP TABLE {table}"))).execute(&pool))
            .ok();
    }
    drop(node);
    super::node::remove_dir(&dir)
}
