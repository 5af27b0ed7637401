//! The cluster database per backend: a shared SQLite file, or the test MariaDB / PostgreSQL
//! (skipped with a printed reason when unreachable, a failure when `SPATE_REQUIRE_SERVICES=1`).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use libtest_mimic::{Completion, Failed};
use spate_store::{ConnectTarget, Datasource};
use sqlx::{AnyPool, AssertSqlSafe};

use crate::support::{Context, unique_name};

/// Set to `1` to turn a missing service into a test failure instead of a skip.
pub const REQUIRE_ENV: &str = "SPATE_REQUIRE_SERVICES";

/// A cluster database backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MariaDb,
    Postgres,
}

pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::MariaDb, Backend::Postgres];

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::MariaDb => "mariadb",
            Backend::Postgres => "postgres",
        }
    }

    pub fn from_name(name: &str) -> Option<Backend> {
        ALL.into_iter().find(|b| b.name() == name)
    }

    fn jdbc_url(self) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::MariaDb => {
                Some(std::env::var("SPATE_TEST_MYSQL_JDBC").unwrap_or_else(|_| {
                    "jdbc:mysql://127.0.0.1:3306/test?useSSL=false".to_string()
                }))
            }
            Backend::Postgres => Some(
                std::env::var("SPATE_TEST_POSTGRES_JDBC")
                    .unwrap_or_else(|_| "jdbc:postgresql://127.0.0.1:5432/test".to_string()),
            ),
        }
    }

    fn user(self) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::MariaDb => Some("root".into()),
            Backend::Postgres => Some("postgres".into()),
        }
    }

    fn cell(self) -> &'static OnceLock<Option<String>> {
        static MARIADB: OnceLock<Option<String>> = OnceLock::new();
        static POSTGRES: OnceLock<Option<String>> = OnceLock::new();
        static SQLITE: OnceLock<Option<String>> = OnceLock::new();
        match self {
            Backend::Sqlite => &SQLITE,
            Backend::MariaDb => &MARIADB,
            Backend::Postgres => &POSTGRES,
        }
    }
}

/// One test's cluster database: a target every coordinator opens its own pool on (as separate
/// processes would), and a unique table prefix.
pub struct ClusterDb {
    pub target: ConnectTarget,
    datasource: Datasource,
    pub prefix: String,
    pub name: String,
    pub backend: Backend,
    pub sqlite_file: Option<PathBuf>,
}

impl ClusterDb {
    pub fn new(backend: Backend) -> Result<ClusterDb, String> {
        let name = unique_name();
        ClusterDb::named(backend, &name)
    }

    /// The database of the test called `name` (a child process opens its parent's this way).
    pub fn named(backend: Backend, name: &str) -> Result<ClusterDb, String> {
        let (mut datasource, sqlite_file) = match backend.jdbc_url() {
            Some(url) => {
                let mut ds = Datasource::new("CLUSTER_DB", url);
                ds.username = backend.user();
                (ds, None)
            }
            None => {
                let file = std::env::temp_dir().join(format!("spate_cluster_{name}.db"));
                (
                    Datasource::new("CLUSTER_DB", format!("jdbc:sqlite:{}", file.display())),
                    Some(file),
                )
            }
        };
        datasource.pool.max_size = Some(3);
        datasource.pool.connection_timeout = Some(Duration::from_secs(2));
        Ok(ClusterDb {
            target: datasource.target(&std::env::temp_dir()).ctx("datasource")?,
            datasource,
            prefix: format!("{}_", name.to_uppercase()),
            name: name.to_string(),
            backend,
            sqlite_file,
        })
    }

    /// The database server's `host:port` (none for SQLite).
    pub fn upstream(&self) -> Option<String> {
        let url = &self.datasource.jdbc_url;
        let start = url.find("//")? + 2;
        let end = url[start..].find('/').map_or(url.len(), |i| start + i);
        Some(url[start..end].to_string())
    }

    /// The same database reached through a proxy on `127.0.0.1:port`.
    pub fn target_via(&self, port: u16) -> Result<ConnectTarget, String> {
        let upstream = self.upstream().ok_or("no server to proxy")?;
        let mut datasource = self.datasource.clone();
        datasource.jdbc_url =
            datasource
                .jdbc_url
                .replacen(&upstream, &format!("127.0.0.1:{port}"), 1);
        datasource.target(&std::env::temp_dir()).ctx("datasource")
    }

    pub fn pool(&self) -> Result<AnyPool, String> {
        self.target.connect_lazy().ctx("pool")
    }

    /// Drops the test's tables (or file).
    pub async fn cleanup(&self) {
        if let Some(file) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _gone = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            return;
        }
        let Ok(pool) = self.pool() else { return };
        let dialect = self.target.backend.dialect();
        for table in ["NODE", "LEASE", "WRITES"] {
            let sql = format!(
                "DROP TABLE IF EXISTS {}",
                dialect.identifier(&format!("{}{table}", self.prefix))
            );
            let _dropped = sqlx::query(AssertSqlSafe(sql)).execute(&pool).await;
        }
        pool.close().await;
    }
}

/// `Ok(None)` when `backend` is usable; `Ok(Some(skip))` to skip (the reason is printed once);
/// `Err` when it is missing and services are required. Call outside any tokio runtime.
pub fn check(backend: Backend) -> Result<Option<Completion>, Failed> {
    let problem = backend.cell().get_or_init(|| {
        let problem = probe(backend);
        if let Some(p) = &problem {
            eprintln!("note: {} is unusable for tests: {p}", backend.name());
        }
        problem
    });
    match problem {
        None => Ok(None),
        Some(p) if required() => Err(format!(
            "{} is required ({REQUIRE_ENV}=1) but unusable: {p}",
            backend.name()
        )
        .into()),
        Some(p) => Ok(Some(Completion::ignored_with(format!(
            "{} unreachable: {p}",
            backend.name()
        )))),
    }
}

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn probe(backend: Backend) -> Option<String> {
    if backend == Backend::Sqlite {
        return None;
    }
    let runtime = match crate::support::runtime() {
        Ok(rt) => rt,
        Err(e) => return Some(e),
    };
    runtime.block_on(async {
        let db = match ClusterDb::new(backend) {
            Ok(db) => db,
            Err(e) => return Some(e),
        };
        let pool = match db.pool() {
            Ok(pool) => pool,
            Err(e) => return Some(e),
        };
        let attempt = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::query("SELECT 1").execute(&pool),
        );
        let problem = match attempt.await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(format!("cannot connect to {}: {e}", db.target.display_url)),
            Err(_) => Some(format!(
                "no answer from {} within 5 s",
                db.target.display_url
            )),
        };
        pool.close().await;
        problem
    })
}
