//! External test services (MariaDB, PostgreSQL): reachable, or skipped with a printed reason, or
//! — when `SPATE_REQUIRE_SERVICES=1` (as in CI) — a failure.

use std::sync::OnceLock;
use std::time::Duration;

use libtest_mimic::{Completion, Failed};
use sqlx::Connection;

/// Set to `1` to turn a missing service into a test failure instead of a skip.
pub const REQUIRE_ENV: &str = "SPATE_REQUIRE_SERVICES";

/// A database server the tests can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    MariaDb,
    Postgres,
}

impl Service {
    /// An admin URL (sqlx form), overridable by `SPATE_TEST_MYSQL_URL` / `SPATE_TEST_POSTGRES_URL`.
    pub fn admin_url(self) -> String {
        let (var, default) = match self {
            Service::MariaDb => ("SPATE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
            Service::Postgres => (
                "SPATE_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
        };
        std::env::var(var).unwrap_or_else(|_| default.to_string())
    }

    fn name(self) -> &'static str {
        match self {
            Service::MariaDb => "MariaDB",
            Service::Postgres => "PostgreSQL",
        }
    }

    fn cell(self) -> &'static OnceLock<Option<String>> {
        static MARIADB: OnceLock<Option<String>> = OnceLock::new();
        static POSTGRES: OnceLock<Option<String>> = OnceLock::new();
        match self {
            Service::MariaDb => &MARIADB,
            Service::Postgres => &POSTGRES,
        }
    }
}

/// `Ok(None)` when `service` is usable; `Ok(Some(skip))` to skip (the reason is printed once);
/// `Err` when it is missing and services are required. Call outside any tokio runtime.
pub fn check(service: Option<Service>) -> Result<Option<Completion>, Failed> {
    let Some(service) = service else {
        return Ok(None);
    };
    let problem = service.cell().get_or_init(|| {
        let problem = probe(service);
        if let Some(p) = &problem {
            eprintln!("note: {} is unusable for tests: {p}", service.name());
        }
        problem
    });
    match problem {
        None => Ok(None),
        Some(p) if required() => Err(format!(
            "{} is required ({REQUIRE_ENV}=1) but unusable: {p}",
            service.name()
        )
        .into()),
        Some(p) => Ok(Some(Completion::ignored_with(format!(
            "{} unreachable: {p}",
            service.name()
        )))),
    }
}

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn probe(service: Service) -> Option<String> {
    sqlx::any::install_default_drivers();
    let url = service.admin_url();
    let runtime = match crate::support::runtime() {
        Ok(rt) => rt,
        Err(e) => return Some(e),
    };
    runtime.block_on(async {
        let attempt =
            tokio::time::timeout(Duration::from_secs(5), sqlx::AnyConnection::connect(&url));
        match attempt.await {
            Ok(Ok(conn)) => {
                let _closed = conn.close().await;
                None
            }
            Ok(Err(e)) => Some(format!("cannot connect to {url}: {e}")),
            Err(_) => Some(format!("no answer from {url} within 5 s")),
        }
    })
}
