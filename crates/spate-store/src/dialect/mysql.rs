//! MySQL and MariaDB: `?` placeholders, back-quoted identifiers, `LONGBLOB` (a `BLOB` holds only
//! 64 KiB), the index declared inside `CREATE TABLE` (MySQL has no `CREATE INDEX IF NOT EXISTS`).

use sqlx::error::DatabaseError;
use sqlx::mysql::MySqlDatabaseError;

use super::{Dialect, index_name, persistence_columns, quote_with};

/// MySQL 5.7+/8 and MariaDB 10.3+.
#[derive(Debug, Clone, Copy, Default)]
pub struct MySqlDialect;

/// Server error numbers worth retrying: lock wait timeout (1205), deadlock (1213), too many
/// connections (1040), server shutdown (1053, 1927 connection killed), read-only during a
/// failover (1290, 1836), and the client-side "gone away" / "lost connection" (2006, 2013).
const TRANSIENT_ERRORS: [u16; 9] = [1205, 1213, 1040, 1053, 1927, 1290, 1836, 2006, 2013];

impl Dialect for MySqlDialect {
    fn name(&self) -> &'static str {
        "MySQL/MariaDB"
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".to_string()
    }

    fn quote_identifier(&self, ident: &str) -> String {
        quote_with(ident, '`')
    }

    fn current_millis(&self) -> &'static str {
        // UTC arithmetic: independent of the session time zone and of daylight saving changes.
        "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)"
    }

    fn blob_type(&self) -> &'static str {
        "LONGBLOB"
    }

    fn create_persistence_table(&self, table: &str) -> Vec<String> {
        vec![format!(
            "CREATE TABLE IF NOT EXISTS {} ({} BIGINT NOT NULL AUTO_INCREMENT, {}, \
             PRIMARY KEY ({}), INDEX {} ({}, {}))",
            self.identifier(table),
            self.identifier(super::columns::ID),
            persistence_columns(self),
            self.identifier(super::columns::ID),
            index_name(self, table),
            self.identifier(super::columns::APP),
            self.identifier(super::columns::REVISION)
        )]
    }

    fn is_transient(&self, error: &dyn DatabaseError) -> bool {
        if let Some(e) = error.try_downcast_ref::<MySqlDatabaseError>()
            && TRANSIENT_ERRORS.contains(&e.number())
        {
            return true;
        }
        // SQLSTATE 40001: serialization failure / deadlock; class 08: connection exception.
        error
            .code()
            .is_some_and(|c| c == "40001" || c.starts_with("08"))
    }
}
