//! SQLite: `?` placeholders, `BLOB`, an `INTEGER PRIMARY KEY AUTOINCREMENT` id, WAL journal.

use sqlx::error::DatabaseError;

use super::{Dialect, quote_with, table_then_index};

/// SQLite (embedded; also what `jdbc:h2:` URLs are mapped to).
#[derive(Debug, Clone, Copy, Default)]
pub struct SqliteDialect;

/// SQLite's primary result codes for "the database is busy" and "a table is locked"; extended
/// codes (`SQLITE_BUSY_SNAPSHOT` = 517, ...) keep them in their low byte.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;

impl Dialect for SqliteDialect {
    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".to_string()
    }

    fn quote_identifier(&self, ident: &str) -> String {
        quote_with(ident, '"')
    }

    fn current_millis(&self) -> &'static str {
        // Julian days since the Unix epoch, in UTC; `now` is fixed for one statement.
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    }

    fn blob_type(&self) -> &'static str {
        "BLOB"
    }

    fn create_persistence_table(&self, table: &str) -> Vec<String> {
        table_then_index(self, table, "INTEGER PRIMARY KEY AUTOINCREMENT")
    }

    fn setup_statements(&self) -> Vec<String> {
        // WAL lets readers proceed while a snapshot is written; it is a property of the file,
        // so setting it once per pool is enough (in-memory databases ignore it).
        vec!["PRAGMA journal_mode=WAL".to_string()]
    }

    fn is_transient(&self, error: &dyn DatabaseError) -> bool {
        let code = error
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .unwrap_or(0);
        matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)
    }
}
