//! Datasources: a named database as `wso2.datasources` defines it (JDBC URL, credentials, pool
//! settings), and the sqlx pool Spate opens for it.
//!
//! Pool settings that map onto sqlx are honoured (`maxPoolSize`, `minIdle`, `connectionTimeout`,
//! `idleTimeout`, `maxLifetime`); the rest of HikariCP's settings are accepted by the config
//! loader and have no effect (sqlx checks a connection before handing it out on its own).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::pool::PoolOptions;

use crate::error::{Result, StoreError};
use crate::jdbc::{self, Backend, JdbcUrl, Location, percent_encode};

/// The pool size when `maxPoolSize` is not given (HikariCP's default).
pub const DEFAULT_MAX_POOL_SIZE: u32 = 10;

/// How long to wait for a connection when `connectionTimeout` is not given (HikariCP's default).
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Connection pool settings of a datasource (HikariCP's names in `deployment.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSettings {
    /// `maxPoolSize`: the most connections the pool opens.
    pub max_size: Option<u32>,
    /// `minIdle` / `minimumIdle`: connections kept open while idle.
    pub min_idle: Option<u32>,
    /// `connectionTimeout`: how long an operation waits for a connection.
    pub connection_timeout: Option<Duration>,
    /// `idleTimeout`: when an idle connection above `min_idle` is closed.
    pub idle_timeout: Option<Duration>,
    /// `maxLifetime`: when any connection is replaced.
    pub max_lifetime: Option<Duration>,
}

/// One entry of `wso2.datasources.dataSources`, as far as Spate uses it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Datasource {
    /// `name`: what `state.persistence.config.datasource` and `cluster.config` refer to.
    pub name: String,
    /// `definition.configuration.jdbcUrl`.
    pub jdbc_url: String,
    /// `definition.configuration.username`.
    pub username: Option<String>,
    /// `definition.configuration.password`.
    pub password: Option<String>,
    /// `definition.configuration.driverClassName` (checked against the URL, otherwise unused).
    pub driver_class_name: Option<String>,
    /// Pool settings.
    pub pool: PoolSettings,
}

impl fmt::Debug for Datasource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Datasource")
            .field("name", &self.name)
            .field("jdbc_url", &jdbc::redact(&self.jdbc_url))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("driver_class_name", &self.driver_class_name)
            .field("pool", &self.pool)
            .finish()
    }
}

/// A datasource resolved to something sqlx can connect to.
#[derive(Clone)]
pub struct ConnectTarget {
    /// The datasource's name.
    pub datasource: String,
    /// The database family.
    pub backend: Backend,
    /// The sqlx URL without the password, for logs.
    pub display_url: String,
    /// The SQLite file, whose directory is created before connecting.
    pub sqlite_file: Option<PathBuf>,
    /// Things the operator should be told (H2 mapped to SQLite, parameters ignored).
    pub warnings: Vec<String>,
    url: String,
    pool: PoolSettings,
}

impl fmt::Debug for ConnectTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectTarget")
            .field("datasource", &self.datasource)
            .field("backend", &self.backend)
            .field("url", &self.display_url)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl Datasource {
    /// A datasource with just a name and a JDBC URL.
    pub fn new(name: impl Into<String>, jdbc_url: impl Into<String>) -> Datasource {
        Datasource {
            name: name.into(),
            jdbc_url: jdbc_url.into(),
            ..Datasource::default()
        }
    }

    /// Translates the JDBC URL and credentials; relative SQLite/H2 paths resolve against
    /// `base_dir`. Fails (naming the datasource) on URLs Spate cannot honour.
    pub fn target(&self, base_dir: &Path) -> Result<ConnectTarget> {
        let parsed = jdbc::parse(&self.name, &self.jdbc_url, base_dir)?;
        let mut warnings = parsed.warnings.clone();
        if let Some(driver) = &self.driver_class_name
            && let Some(expected) = driver_mismatch(driver, parsed.backend)
        {
            warnings.push(format!(
                "driverClassName `{driver}` does not match the URL (expected {expected}); \
                 Spate goes by the URL"
            ));
        }
        let user = self.username.clone().or_else(|| parsed.user.clone());
        let password = self.password.clone().or_else(|| parsed.password.clone());
        let (url, display_url, sqlite_file) =
            sqlx_url(&parsed, user.as_deref(), password.as_deref());
        Ok(ConnectTarget {
            datasource: self.name.clone(),
            backend: parsed.backend,
            display_url,
            sqlite_file,
            warnings,
            url,
            pool: self.pool.clone(),
        })
    }
}

impl ConnectTarget {
    /// Opens a pool that connects on first use, so a node can start while its database is
    /// down; errors surface from the first operation, typed and with a retry hint.
    pub fn connect_lazy(&self) -> Result<AnyPool> {
        sqlx::any::install_default_drivers();
        if let Some(dir) = self.sqlite_file.as_deref().and_then(Path::parent) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create directory", dir, e))?;
        }
        let max = self.pool.max_size.unwrap_or(DEFAULT_MAX_POOL_SIZE).max(1);
        let mut options = PoolOptions::<sqlx::Any>::new()
            .max_connections(max)
            .min_connections(self.pool.min_idle.unwrap_or(0).min(max))
            .acquire_timeout(
                self.pool
                    .connection_timeout
                    .unwrap_or(DEFAULT_CONNECTION_TIMEOUT),
            )
            .test_before_acquire(true);
        if let Some(idle) = self.pool.idle_timeout {
            options = options.idle_timeout(idle);
        }
        if let Some(lifetime) = self.pool.max_lifetime {
            options = options.max_lifetime(lifetime);
        }
        options
            .connect_lazy(&self.url)
            .map_err(|e| StoreError::Config {
                datasource: self.datasource.clone(),
                message: format!("cannot use `{}`: {e}", self.display_url),
                help: "check the datasource's jdbcUrl".to_string(),
            })
    }
}

/// Builds the sqlx URL, the same URL with the password hidden, and the SQLite file if any.
fn sqlx_url(
    parsed: &JdbcUrl,
    user: Option<&str>,
    password: Option<&str>,
) -> (String, String, Option<PathBuf>) {
    match &parsed.location {
        Location::Server {
            host,
            port,
            database,
            params,
        } => {
            let scheme = if parsed.backend == Backend::Postgres {
                "postgres"
            } else {
                "mysql"
            };
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            let user_info = |secret: &str| match (user, password) {
                (Some(u), Some(_)) => format!("{}:{secret}@", percent_encode(u)),
                (Some(u), None) => format!("{}@", percent_encode(u)),
                (None, Some(_)) => format!(":{secret}@"),
                (None, None) => String::new(),
            };
            let query: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            let path = format!("{host}:{port}/{}{query}", percent_encode(database));
            let real = user_info(&password.map(percent_encode).unwrap_or_default());
            (
                format!("{scheme}://{real}{path}"),
                format!("{scheme}://{}{path}", user_info("***")),
                None,
            )
        }
        Location::File(file) => {
            let url = format!("sqlite://{}?mode=rwc", encode_path(file));
            (url.clone(), url, Some(file.clone()))
        }
        Location::Memory(name) => {
            let url = format!(
                "sqlite:file:spate-{}?mode=memory&cache=shared",
                percent_encode(name)
            );
            (url.clone(), url, None)
        }
    }
}

/// Percent-encodes the characters sqlx's SQLite URL parser would take as syntax.
fn encode_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// `Some(what the URL wants)` when a Java driver class plainly belongs to another database.
fn driver_mismatch(driver: &str, backend: Backend) -> Option<&'static str> {
    let lower = driver.to_ascii_lowercase();
    let family = if lower.contains("mysql") || lower.contains("mariadb") {
        Backend::MySql
    } else if lower.contains("postgresql") {
        Backend::Postgres
    } else if lower.contains("h2") || lower.contains("sqlite") {
        Backend::Sqlite
    } else {
        return None;
    };
    (family != backend).then_some(match backend {
        Backend::MySql => "a MySQL/MariaDB driver",
        Backend::Postgres => "org.postgresql.Driver",
        Backend::Sqlite => "org.h2.Driver or org.sqlite.JDBC",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_the_definition_win_and_are_hidden() {
        let mut ds = Datasource::new(
            "P",
            "jdbc:mysql://h:3307/db?user=url&password=url&useSSL=false",
        );
        ds.username = Some("root".into());
        ds.password = Some("p@ss word".into());
        let target = ds.target(Path::new("/")).unwrap();
        assert_eq!(
            target.url,
            "mysql://root:p%40ss%20word@h:3307/db?ssl-mode=disabled"
        );
        assert_eq!(
            target.display_url,
            "mysql://root:***@h:3307/db?ssl-mode=disabled"
        );
        assert!(!format!("{ds:?}{target:?}").contains("p@ss"));
    }

    #[test]
    fn sqlite_targets() {
        let target = Datasource::new("S", "jdbc:sqlite:dir/x#1.db")
            .target(Path::new("/b"))
            .unwrap();
        assert_eq!(target.url, "sqlite:///b/dir/x%231.db?mode=rwc");
        assert_eq!(
            target.sqlite_file.as_deref(),
            Some(Path::new("/b/dir/x#1.db"))
        );
    }

    #[test]
    fn driver_class_mismatch_is_a_warning() {
        let mut ds = Datasource::new("P", "jdbc:postgresql://h/db");
        ds.driver_class_name = Some("com.mysql.jdbc.Driver".into());
        let target = ds.target(Path::new("/")).unwrap();
        assert_eq!(target.backend, Backend::Postgres);
        assert_eq!(target.warnings.len(), 1);
    }
}
