//! JDBC URLs from `deployment.yaml` translated to what sqlx connects to.
//!
//! | JDBC URL | Spate connects to |
//! |---|---|
//! | `jdbc:mysql://host[:3306]/db?k=v` | MySQL/MariaDB `mysql://host:port/db` |
//! | `jdbc:mariadb://host[:3306]/db?k=v` | the same |
//! | `jdbc:postgresql://host[:5432]/db?k=v`, `jdbc:postgresql:db` | PostgreSQL |
//! | `jdbc:sqlite:<path>`, `jdbc:sqlite::memory:` | an SQLite file (relative to the base dir) |
//! | `jdbc:h2:[file:]<path>[;...]`, `jdbc:h2:mem:<name>` | an SQLite file `<path>.sqlite` (warned) |
//!
//! Driver parameters are mapped where they mean something here (`useSSL=false`, `sslmode`,
//! `currentSchema`, `user`, `password`), accepted silently where they only tune the Java driver,
//! and warned about otherwise. A parameter that asks for something this build cannot do (TLS to
//! the database) is an error rather than a silent downgrade.

use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// The database family a datasource points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (also what H2 URLs map to).
    Sqlite,
    /// MySQL or MariaDB.
    MySql,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The SQL dialect for this backend.
    pub fn dialect(self) -> &'static dyn crate::dialect::Dialect {
        match self {
            Backend::Sqlite => &crate::dialect::SqliteDialect,
            Backend::MySql => &crate::dialect::MySqlDialect,
            Backend::Postgres => &crate::dialect::PostgresDialect,
        }
    }
}

/// Where a JDBC URL points, before credentials are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A database server.
    Server {
        /// Host name or address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
        /// Database name (may be empty: the server's default).
        database: String,
        /// sqlx connection parameters, already translated from the JDBC ones.
        params: Vec<(String, String)>,
    },
    /// An SQLite database file.
    File(PathBuf),
    /// A named in-memory SQLite database shared by the pool's connections.
    Memory(String),
}

/// A JDBC URL read and translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdbcUrl {
    /// The database family.
    pub backend: Backend,
    /// Where it is.
    pub location: Location,
    /// `user` given as a URL parameter (the datasource's `username` wins over it).
    pub user: Option<String>,
    /// `password` given as a URL parameter (the datasource's `password` wins over it).
    pub password: Option<String>,
    /// Things the operator should know (H2 mapped to SQLite, parameters ignored).
    pub warnings: Vec<String>,
}

/// Driver parameters that only tune the Java driver or the connection pool; harmless to drop.
const IGNORED_MYSQL_PARAMS: &[&str] = &[
    "allowPublicKeyRetrieval",
    "autoReconnect",
    "cachePrepStmts",
    "characterEncoding",
    "connectTimeout",
    "failOverReadOnly",
    "maxReconnects",
    "nullCatalogMeansCurrent",
    "prepStmtCacheSize",
    "prepStmtCacheSqlLimit",
    "rewriteBatchedStatements",
    "serverTimezone",
    "socketTimeout",
    "tcpKeepAlive",
    "useJDBCCompliantTimezoneShift",
    "useLegacyDatetimeCode",
    "useServerPrepStmts",
    "useUnicode",
    "verifyServerCertificate",
    "zeroDateTimeBehavior",
];

const IGNORED_POSTGRES_PARAMS: &[&str] = &[
    "connectTimeout",
    "loginTimeout",
    "prepareThreshold",
    "reWriteBatchedInserts",
    "socketTimeout",
    "stringtype",
    "tcpKeepAlive",
];

/// What to tell the operator when the URL asks for TLS.
const NO_TLS_HELP: &str = "this build of Spate connects to databases without TLS; \
    use `useSSL=false` / `sslmode=disable` on a trusted network, or a local TLS-terminating proxy";

/// Reads `jdbc_url` of datasource `datasource`; relative file paths resolve against `base_dir`.
pub fn parse(datasource: &str, jdbc_url: &str, base_dir: &Path) -> Result<JdbcUrl> {
    let err = |message: String, help: &str| StoreError::config(datasource, message, help);
    let shown = redact(jdbc_url);
    let Some(rest) = jdbc_url.strip_prefix("jdbc:") else {
        return Err(err(
            format!("jdbcUrl `{shown}` does not start with `jdbc:`"),
            "write a JDBC URL such as `jdbc:mysql://host:3306/db` or `jdbc:sqlite:data/db.sqlite`",
        ));
    };
    let (scheme, body) = rest.split_once(':').unwrap_or((rest, ""));
    match scheme {
        "mysql" | "mariadb" => parse_server(datasource, Backend::MySql, body, 3306, &shown),
        "postgresql" => parse_server(datasource, Backend::Postgres, body, 5432, &shown),
        "sqlite" => Ok(parse_sqlite(body, base_dir)),
        "h2" => parse_h2(datasource, body, base_dir, &shown),
        other => Err(err(
            format!("jdbcUrl `{shown}` uses the `{other}` driver, which Spate does not support"),
            "use MySQL/MariaDB (`jdbc:mysql://`), PostgreSQL (`jdbc:postgresql://`) or an \
             embedded SQLite file (`jdbc:sqlite:<path>`)",
        )),
    }
}

fn parse_server(
    datasource: &str,
    backend: Backend,
    body: &str,
    default_port: u16,
    shown: &str,
) -> Result<JdbcUrl> {
    let err = |message: String, help: &str| StoreError::config(datasource, message, help);
    let (address, query) = body.split_once('?').unwrap_or((body, ""));
    let (host, port, database) = if let Some(authority_and_path) = address.strip_prefix("//") {
        let (authority, database) = authority_and_path
            .split_once('/')
            .unwrap_or((authority_and_path, ""));
        if authority.contains(',') || authority.starts_with("address=") {
            return Err(err(
                format!("jdbcUrl `{shown}` names several hosts"),
                "give one host (or a load balancer / proxy address); Spate's HA does not rely \
                 on driver-level failover",
            ));
        }
        let (host, port) = split_host_port(authority, default_port).ok_or_else(|| {
            err(
                format!("jdbcUrl `{shown}` has an invalid host or port"),
                "write `//host:port/db`",
            )
        })?;
        (host, port, database.to_string())
    } else if backend == Backend::Postgres && !address.is_empty() && !address.contains('/') {
        // `jdbc:postgresql:db` means localhost:5432/db.
        ("localhost".to_string(), default_port, address.to_string())
    } else {
        return Err(err(
            format!("jdbcUrl `{shown}` is not of the form `//host[:port]/database`"),
            "write e.g. `jdbc:mysql://db.example:3306/persistence`; failover and replication \
             variants (`jdbc:mysql:loadbalance:`) are not supported",
        ));
    };
    let mut url = JdbcUrl {
        backend,
        location: Location::Server {
            host,
            port,
            database,
            params: Vec::new(),
        },
        user: None,
        password: None,
        warnings: Vec::new(),
    };
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match key {
            "user" => url.user = Some(value),
            "password" => url.password = Some(value),
            _ => match backend {
                Backend::MySql => mysql_param(key, &value, &mut params, &mut url.warnings),
                _ => postgres_param(key, &value, &mut params, &mut url.warnings),
            }
            .map_err(|message| err(format!("jdbcUrl `{shown}`: {message}"), NO_TLS_HELP))?,
        }
    }
    if let Location::Server { params: p, .. } = &mut url.location {
        *p = params;
    }
    Ok(url)
}

type Params = Vec<(String, String)>;

fn mysql_param(
    key: &str,
    value: &str,
    params: &mut Params,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let is_true = value.eq_ignore_ascii_case("true");
    match key {
        "useSSL" | "useSsl" | "requireSSL" | "requireSsl" if is_true => {
            return Err(format!("`{key}=true` asks for TLS"));
        }
        "useSSL" | "useSsl" => params.push(("ssl-mode".into(), "disabled".into())),
        "requireSSL" | "requireSsl" => {}
        "sslMode" | "sslmode" => match value.to_ascii_uppercase().as_str() {
            "DISABLED" | "DISABLE" => params.push(("ssl-mode".into(), "disabled".into())),
            "PREFERRED" | "PREFER" => params.push(("ssl-mode".into(), "preferred".into())),
            _ => return Err(format!("`{key}={value}` requires TLS")),
        },
        "characterEncoding"
            if !matches!(
                value.to_ascii_lowercase().as_str(),
                "utf8" | "utf-8" | "utf8mb4"
            ) =>
        {
            warnings.push(format!(
                "`characterEncoding={value}` is ignored: Spate always talks utf8mb4 to MySQL"
            ));
        }
        _ if IGNORED_MYSQL_PARAMS.contains(&key) => {}
        _ => warnings.push(format!(
            "JDBC parameter `{key}` has no meaning for Spate and is ignored"
        )),
    }
    Ok(())
}

fn postgres_param(
    key: &str,
    value: &str,
    params: &mut Params,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    match key {
        "ssl" if value.eq_ignore_ascii_case("true") => {
            return Err("`ssl=true` asks for TLS".to_string());
        }
        "ssl" => params.push(("sslmode".into(), "disable".into())),
        "sslmode" => match value {
            "disable" | "allow" | "prefer" => params.push(("sslmode".into(), value.into())),
            _ => return Err(format!("`sslmode={value}` requires TLS")),
        },
        "currentSchema" => params.push(("options".into(), format!("-c search_path={value}"))),
        "ApplicationName" | "applicationName" => {
            params.push(("application_name".into(), value.into()));
        }
        _ if IGNORED_POSTGRES_PARAMS.contains(&key) => {}
        _ => warnings.push(format!(
            "JDBC parameter `{key}` has no meaning for Spate and is ignored"
        )),
    }
    Ok(())
}

fn parse_sqlite(body: &str, base_dir: &Path) -> JdbcUrl {
    let (path, query) = body.split_once('?').unwrap_or((body, ""));
    let mut warnings = Vec::new();
    if !query.is_empty() {
        warnings.push(format!("SQLite URL parameters `{query}` are ignored"));
    }
    let location = if path == ":memory:" || path.is_empty() {
        Location::Memory("sqlite".to_string())
    } else {
        Location::File(resolve(
            path.strip_prefix("file:").unwrap_or(path),
            base_dir,
        ))
    };
    JdbcUrl {
        backend: Backend::Sqlite,
        location,
        user: None,
        password: None,
        warnings,
    }
}

fn parse_h2(datasource: &str, body: &str, base_dir: &Path, shown: &str) -> Result<JdbcUrl> {
    let path = body.split(';').next().unwrap_or_default();
    if path.starts_with("tcp:") || path.starts_with("ssl:") || path.starts_with("zip:") {
        return Err(StoreError::config(
            datasource,
            format!("jdbcUrl `{shown}` points at an H2 server or archive"),
            "H2 is a Java database; use MySQL/MariaDB, PostgreSQL, or an embedded \
             `jdbc:sqlite:<path>` file",
        ));
    }
    let (location, target) = match path.strip_prefix("mem:") {
        Some(name) => (
            Location::Memory(name.to_string()),
            "an in-memory SQLite database".into(),
        ),
        None => {
            let file = resolve(path.strip_prefix("file:").unwrap_or(path), base_dir);
            let file = PathBuf::from(format!("{}.sqlite", file.display()));
            let shown_file = format!("the SQLite file `{}`", file.display());
            (Location::File(file), shown_file)
        }
    };
    Ok(JdbcUrl {
        backend: Backend::Sqlite,
        location,
        user: None,
        password: None,
        warnings: vec![format!(
            "H2 URL `{shown}` is mapped to {target} (Spate has no H2 driver; nothing is read \
             from an existing H2 file). Both nodes of a cluster must share one database: use \
             MySQL/MariaDB or PostgreSQL there"
        )],
    })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// `~` is the home directory; relative paths resolve against `base_dir`.
fn resolve(path: &str, base_dir: &Path) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// The URL with the value of any `password=` parameter replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(at) = rest.find("password=") {
        let value_start = at + "password=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        rest = &rest[value_start..];
        let end = rest.find(['&', ';']).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for URL user info, paths and
/// query values).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &JdbcUrl) -> (&str, u16, &str, &[(String, String)]) {
        match &url.location {
            Location::Server {
                host,
                port,
                database,
                params,
            } => (host, *port, database, params),
            other => panic!("not a server: {other:?}"),
        }
    }

    #[test]
    fn mysql_urls_from_the_ha_docs() {
        let url = parse(
            "PERSISTENCE_DB",
            "jdbc:mysql://wso2db.example.com:3306/persistencedb?useSSL=false",
            Path::new("/base"),
        )
        .unwrap();
        assert_eq!(url.backend, Backend::MySql);
        let (host, port, db, params) = server(&url);
        assert_eq!(
            (host, port, db),
            ("wso2db.example.com", 3306, "persistencedb")
        );
        assert_eq!(params, [("ssl-mode".to_string(), "disabled".to_string())]);
        assert!(url.warnings.is_empty());
    }

    #[test]
    fn mariadb_default_port_and_url_credentials() {
        let url = parse(
            "D",
            "jdbc:mariadb://db/x?user=u&password=p%40ss&foo=1",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(server(&url).1, 3306);
        assert_eq!(url.user.as_deref(), Some("u"));
        assert_eq!(url.password.as_deref(), Some("p@ss"));
        assert_eq!(url.warnings.len(), 1, "{:?}", url.warnings);
    }

    #[test]
    fn postgres_forms() {
        let url = parse(
            "D",
            "jdbc:postgresql://[::1]/db?currentSchema=s&sslmode=disable",
            Path::new("/"),
        )
        .unwrap();
        let (host, port, db, params) = server(&url);
        assert_eq!((host, port, db), ("::1", 5432, "db"));
        assert_eq!(params.len(), 2);
        let short = parse("D", "jdbc:postgresql:events", Path::new("/")).unwrap();
        assert_eq!(server(&short).0, "localhost");
        assert_eq!(server(&short).2, "events");
    }

    #[test]
    fn tls_and_unknown_drivers_are_errors_naming_the_datasource() {
        for bad in [
            "jdbc:mysql://h/db?useSSL=true",
            "jdbc:postgresql://h/db?sslmode=require",
            "jdbc:oracle:thin:@h:1521:x",
            "jdbc:mysql://h1,h2/db",
            "mysql://h/db",
            "jdbc:h2:tcp://localhost/~/x",
        ] {
            let e = parse("MY_DB", bad, Path::new("/")).unwrap_err().to_string();
            assert!(e.contains("MY_DB"), "{e}");
        }
    }

    #[test]
    fn sqlite_and_h2_paths_resolve_against_the_base_dir() {
        let url = parse("D", "jdbc:sqlite:data/p.db", Path::new("/base")).unwrap();
        assert_eq!(url.location, Location::File("/base/data/p.db".into()));
        let abs = parse("D", "jdbc:sqlite:/abs/p.db", Path::new("/base")).unwrap();
        assert_eq!(abs.location, Location::File("/abs/p.db".into()));
        let h2 = parse(
            "WSO2_CLUSTER_DB",
            "jdbc:h2:./database/WSO2_CLUSTER_DB;DB_CLOSE_ON_EXIT=FALSE;LOCK_TIMEOUT=60000",
            Path::new("/base"),
        )
        .unwrap();
        assert_eq!(
            h2.location,
            Location::File("/base/./database/WSO2_CLUSTER_DB.sqlite".into())
        );
        assert_eq!(h2.warnings.len(), 1);
        let mem = parse("D", "jdbc:h2:mem:test", Path::new("/")).unwrap();
        assert_eq!(mem.location, Location::Memory("test".into()));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("jdbc:mysql://h/d?user=u&password=secret&x=1"),
            "jdbc:mysql://h/d?user=u&password=***&x=1"
        );
        assert_eq!(percent_encode("a b@c"), "a%20b%40c");
    }
}
