//! PostgreSQL: `$n` placeholders, `BYTEA`, a `BIGSERIAL` id, unquoted names folded to lower case.

use sqlx::error::DatabaseError;

use super::{Dialect, quote_with, table_then_index};

/// PostgreSQL 12+.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresDialect;

/// SQLSTATEs worth retrying besides class 08 (connection exception): serialization failure,
/// deadlock, too many connections, and the server shutting down or starting up.
const TRANSIENT_STATES: [&str; 6] = ["40001", "40P01", "53300", "57P01", "57P02", "57P03"];

impl Dialect for PostgresDialect {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn quote_identifier(&self, ident: &str) -> String {
        quote_with(ident, '"')
    }

    fn fold_identifier(&self, ident: &str) -> String {
        ident.to_ascii_lowercase()
    }

    fn current_millis(&self) -> &'static str {
        // `clock_timestamp()`, not `now()`: the time of the statement, not of the transaction's start.
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    }

    fn blob_type(&self) -> &'static str {
        "BYTEA"
    }

    fn create_persistence_table(&self, table: &str) -> Vec<String> {
        table_then_index(self, table, "BIGSERIAL PRIMARY KEY")
    }

    fn is_transient(&self, error: &dyn DatabaseError) -> bool {
        error
            .code()
            .is_some_and(|c| c.starts_with("08") || TRANSIENT_STATES.contains(&&*c))
    }
}
