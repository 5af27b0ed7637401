//! `spate`: Spate's own settings, which WSO2's file does not have.
//!
//! ```yaml
//! spate:
//!   dataDir: spate-data          # relative paths below resolve against it (default `spate-data`)
//!   api:
//!     bind: 0.0.0.0:9090         # REST API (default port 9090 + wso2.carbon.ports.offset)
//!     tls:                       # serve the REST API over HTTPS only (rustls)
//!       certFile: api-cert.pem   # PEM certificate chain, the server's certificate first
//!       keyFile: api-key.pem     # PEM private key (PKCS#8, PKCS#1 or SEC1)
//!   inputLog:
//!     enabled: true              # journal input to dataDir/input-log so kill -9 loses no
//!                                # acknowledged event (needs state.persistence; default false)
//!   ha:                          # only read when deployment.config.type is ha
//!     eventSync: ack             # ack: a source answers its client once the passive holds
//!                                # the event (default); async: at once
//!     ackTimeoutMillis: 5000     # ack mode: no ack by then -> 503, event not acknowledged
//!   users:                       # REST API users (HTTP basic auth)
//!     - username: admin
//!       password: ${env:SPATE_ADMIN_PASSWORD}
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::problems::Report;
use super::reader::MapReader;
use super::yaml::Node;

/// `dataDir` when not given.
pub const DEFAULT_DATA_DIR: &str = "spate-data";
/// The REST API port before `wso2.carbon.ports.offset` (SI's 9090).
pub const DEFAULT_API_PORT: u16 = 9090;

/// A REST API user.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// `spate.api.tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// What the `spate` section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpateConfig {
    /// `dataDir`: where SQLite files, mapped H2 files and the file store live (relative to the
    /// working directory when relative).
    pub data_dir: PathBuf,
    /// `api.bind`: the REST API's address; `None` means `0.0.0.0:(9090 + ports.offset)`.
    pub api_bind: Option<SocketAddr>,
    /// `api.tls`: certificate chain and key files (PEM) for HTTPS.
    pub api_tls: Option<ApiTls>,
    /// `users`.
    pub users: Vec<User>,
    /// `inputLog.enabled`: journal every app's input between snapshots.
    pub input_log: bool,
    /// `ha.eventSync`: whether sources wait for the passive's ack (true: `ack`, the default).
    pub ha_ack: bool,
    /// `ha.ackTimeoutMillis`.
    pub ha_ack_timeout: Duration,
}

impl Default for SpateConfig {
    fn default() -> Self {
        SpateConfig {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            api_bind: None,
            api_tls: None,
            users: Vec::new(),
            input_log: false,
            ha_ack: true,
            ha_ack_timeout: Duration::from_millis(5000),
        }
    }
}

/// Reads `spate`.
pub fn read(node: &Node, report: &mut Report) -> SpateConfig {
    let mut config = SpateConfig::default();
    let Some(mut r) = MapReader::new(super::sections::SPATE, node, report) else {
        return config;
    };
    if let Some(dir) = r.string("dataDir", report) {
        config.data_dir = PathBuf::from(dir);
    }
    if let Some(mut api) = r.map("api", report) {
        if let Some(bind) = api.string("bind", report) {
            match bind.parse::<SocketAddr>() {
                Ok(addr) => config.api_bind = Some(addr),
                Err(_) => report.problem(
                    api.path_of("bind"),
                    api.origin(),
                    format!("`{bind}` is not an address; write host:port, e.g. 0.0.0.0:9090"),
                ),
            }
        }
        if let Some(mut tls) = api.map("tls", report) {
            let cert = tls.string("certFile", report);
            let key = tls.string("keyFile", report);
            match (cert, key) {
                (Some(cert), Some(key)) => {
                    config.api_tls = Some(ApiTls {
                        cert_file: PathBuf::from(cert),
                        key_file: PathBuf::from(key),
                    });
                }
                (None, None) => {}
                _ => report.problem(
                    api.path_of("tls"),
                    api.origin(),
                    "`tls` needs both certFile and keyFile (PEM files)".to_string(),
                ),
            }
            tls.finish(report);
        }
        api.finish(report);
    }
    if let Some(mut input_log) = r.map("inputLog", report) {
        config.input_log = input_log.bool("enabled", report).unwrap_or(false);
        input_log.finish(report);
    }
    if let Some(mut ha) = r.map("ha", report) {
        match ha.string("eventSync", report).as_deref() {
            None | Some("ack") => {}
            Some("async") => config.ha_ack = false,
            Some(other) => report.problem(
                ha.path_of("eventSync"),
                ha.origin(),
                format!("`{other}` is not `ack` or `async`"),
            ),
        }
        if let Some(t) = ha.positive::<u64>("ackTimeoutMillis", report) {
            config.ha_ack_timeout = Duration::from_millis(t);
        }
        ha.finish(report);
    }
    let users_path = r.path_of("users");
    for (i, item) in r.seq("users", report).iter().enumerate() {
        let Some(mut u) = MapReader::new(format!("{users_path}[{i}]"), item, report) else {
            continue;
        };
        match (u.string("username", report), u.string("password", report)) {
            (Some(username), Some(password)) => config.users.push(User { username, password }),
            _ => report.problem(
                u.path_of("username"),
                u.origin(),
                "each user needs a username and a password",
            ),
        }
        u.finish(report);
    }
    r.finish(report);
    config
}
