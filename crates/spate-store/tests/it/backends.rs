//! One store per backend for the contract matrix: the file store, SQLite, MariaDB and
//! PostgreSQL. Each fixture gets its own directory, database (MariaDB) or schema (PostgreSQL)
//! and removes it afterwards.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Completion, Failed};
use spate_store::{Datasource, DbStore, FileStore, PersistenceStore, PoolSettings};
use sqlx::{AnyPool, AssertSqlSafe};

use crate::services::{self, Service};
use crate::support::{Context, remove_dir, runtime, temp_dir, unique_name};

/// The backends of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    File,
    Sqlite,
    MariaDb,
    Postgres,
}

pub const ALL: [Backend; 4] = [
    Backend::File,
    Backend::Sqlite,
    Backend::MariaDb,
    Backend::Postgres,
];

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Sqlite => "sqlite",
            Backend::MariaDb => "mariadb",
            Backend::Postgres => "postgres",
        }
    }

    pub fn service(self) -> Option<Service> {
        match self {
            Backend::MariaDb => Some(Service::MariaDb),
            Backend::Postgres => Some(Service::Postgres),
            _ => None,
        }
    }
}

/// A store under test and what is needed to inspect and remove it.
pub struct Fixture {
    pub backend: Backend,
    pub store: Arc<dyn PersistenceStore>,
    /// The file store's root (file backend only).
    pub file_root: Option<PathBuf>,
    /// A pool on the test database, for checks behind the store's back (database backends).
    pub raw: Option<AnyPool>,
    db: Option<Arc<DbStore>>,
    temp: Option<PathBuf>,
    admin_cleanup: Option<(String, String)>,
}

pub type Case = fn(Arc<Fixture>) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Where the database store should connect: straight to the server or through a proxy port.
#[derive(Debug, Clone, Copy)]
pub enum Route {
    Direct,
    Via(u16),
}

impl Fixture {
    /// Sets up a fresh store on `backend`.
    pub async fn new(backend: Backend, route: Route) -> Result<Fixture, String> {
        match backend {
            Backend::File => {
                let dir = temp_dir()?;
                let root = dir.join("siddhi-app-persistence");
                Ok(Fixture {
                    backend,
                    store: Arc::new(FileStore::new(&root)),
                    file_root: Some(root),
                    raw: None,
                    db: None,
                    temp: Some(dir),
                    admin_cleanup: None,
                })
            }
            Backend::Sqlite => {
                let dir = temp_dir()?;
                let ds =
                    Datasource::new("SQLITE_DB", format!("jdbc:sqlite:{}/p.db", dir.display()));
                Fixture::database(backend, ds, Some(dir), None).await
            }
            Backend::MariaDb | Backend::Postgres => {
                let service = backend.service().ok_or("no service")?;
                let admin = AnyPool::connect(&service.admin_url())
                    .await
                    .ctx("admin connect")?;
                let name = unique_name();
                let (create, drop) = if backend == Backend::MariaDb {
                    (
                        format!("CREATE DATABASE {name}"),
                        format!("DROP DATABASE IF EXISTS {name}"),
                    )
                } else {
                    (
                        format!("CREATE SCHEMA {name}"),
                        format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
                    )
                };
                sqlx::query(AssertSqlSafe(create))
                    .execute(&admin)
                    .await
                    .ctx("create test db")?;
                admin.close().await;
                let ds = server_datasource(service, &name, route)?;
                Fixture::database(backend, ds, None, Some((service.admin_url(), drop))).await
            }
        }
    }

    async fn database(
        backend: Backend,
        ds: Datasource,
        temp: Option<PathBuf>,
        admin_cleanup: Option<(String, String)>,
    ) -> Result<Fixture, String> {
        let base = temp.clone().unwrap_or_else(std::env::temp_dir);
        let target = ds.target(&base).ctx("datasource")?;
        let db = Arc::new(DbStore::open(&target, "PERSISTENCE_TABLE").ctx("open store")?);
        let raw = target.connect_lazy().ctx("raw pool")?;
        Ok(Fixture {
            backend,
            store: db.clone(),
            file_root: None,
            raw: Some(raw),
            db: Some(db),
            temp,
            admin_cleanup,
        })
    }

    /// Closes pools and removes the directory, database or schema.
    pub async fn teardown(&self) {
        if let Some(db) = &self.db {
            db.close().await;
        }
        if let Some(raw) = &self.raw {
            raw.close().await;
        }
        if let Some((url, drop)) = &self.admin_cleanup {
            match AnyPool::connect(url).await {
                Ok(admin) => {
                    if let Err(e) = sqlx::query(AssertSqlSafe(drop.as_str()))
                        .execute(&admin)
                        .await
                    {
                        eprintln!("warning: `{drop}` failed: {e}");
                    }
                    admin.close().await;
                }
                Err(e) => eprintln!("warning: could not clean up with `{drop}`: {e}"),
            }
        }
        if let Some(dir) = &self.temp {
            remove_dir(dir);
        }
    }
}

/// A datasource on the test database `name`, written as a JDBC URL like a user would.
pub fn server_datasource(service: Service, name: &str, route: Route) -> Result<Datasource, String> {
    let admin = service.admin_url();
    let (_scheme, rest) = admin.split_once("://").ok_or("admin URL without scheme")?;
    let (user_info, host_and_path) = rest.rsplit_once('@').unwrap_or(("", rest));
    let host_port = host_and_path.split('/').next().unwrap_or(host_and_path);
    let host_port = match route {
        Route::Direct => host_port.to_string(),
        Route::Via(port) => format!("127.0.0.1:{port}"),
    };
    let (user, password) = match user_info.split_once(':') {
        Some((u, p)) => (u, Some(p.to_string())),
        None => (user_info, None),
    };
    let jdbc = match service {
        Service::MariaDb => format!("jdbc:mysql://{host_port}/{name}?useSSL=false"),
        Service::Postgres => {
            let database = host_and_path.split_once('/').map_or("postgres", |(_, d)| d);
            format!("jdbc:postgresql://{host_port}/{database}?currentSchema={name}")
        }
    };
    let mut ds = Datasource::new("TEST_DB", jdbc);
    ds.username = (!user.is_empty()).then(|| user.to_string());
    ds.password = password;
    ds.pool = PoolSettings {
        max_size: Some(8),
        connection_timeout: Some(Duration::from_secs(3)),
        ..PoolSettings::default()
    };
    Ok(ds)
}

/// Runs `case` on a fresh fixture of `backend`, removing it afterwards even if the case panics.
pub fn run(backend: Backend, case: Case) -> Result<Completion, Failed> {
    if let Some(skip) = services::check(backend.service())? {
        return Ok(skip);
    }
    let runtime = runtime()?;
    runtime.block_on(async move {
        let fixture = Arc::new(Fixture::new(backend, Route::Direct).await?);
        let outcome = tokio::spawn(case(fixture.clone())).await;
        fixture.teardown().await;
        match outcome {
            Ok(result) => result.map(|()| Completion::Completed).map_err(Failed::from),
            Err(e) => Err(format!("the case panicked: {e}").into()),
        }
    })
}
