//! SQL dialects: everything that differs between SQLite, MySQL/MariaDB and PostgreSQL lives
//! behind the [`Dialect`] trait, so the stores never ask which database they talk to.

mod mysql;
mod postgres;
mod sqlite;

use std::fmt;

use sqlx::error::DatabaseError;

pub use mysql::MySqlDialect;
pub use postgres::PostgresDialect;
pub use sqlite::SqliteDialect;

use crate::error::{Result, StoreError};

/// The longest table name the stores accept: leaves room for the `_app_rev` index suffix within
/// PostgreSQL's 63 and MySQL's 64 character identifier limits.
pub const MAX_TABLE_NAME_CHARS: usize = 54;

/// The column names of the persistence table, as WSO2's `DBPersistenceStore` names them.
pub mod columns {
    /// Auto-incremented row id.
    pub const ID: &str = "id";
    /// The Siddhi app the snapshot belongs to.
    pub const APP: &str = "siddhiAppName";
    /// The revision name, `<epochMillis>__<app>`.
    pub const REVISION: &str = "revision";
    /// The snapshot bytes.
    pub const SNAPSHOT: &str = "snapshot";
}

/// What one database backend needs said its own way.
pub trait Dialect: Send + Sync + fmt::Debug {
    /// A human name for messages (`SQLite`, `MySQL/MariaDB`, `PostgreSQL`).
    fn name(&self) -> &'static str;

    /// The bind placeholder for the `n`-th parameter (1-based): `?` or `$n`.
    fn placeholder(&self, n: usize) -> String;

    /// Quotes an identifier so that it is taken as written.
    fn quote_identifier(&self, ident: &str) -> String;

    /// The identifier an unquoted `ident` stands for on this backend. PostgreSQL folds unquoted
    /// names to lower case; quoting the folded name refers to the same table WSO2 creates.
    fn fold_identifier(&self, ident: &str) -> String {
        ident.to_string()
    }

    /// The column type for snapshot bytes (large enough for snapshots of hundreds of MB).
    fn blob_type(&self) -> &'static str;

    /// The statements that create the persistence table and its `(siddhiAppName, revision)`
    /// index if they are missing; `table` is a checked plain identifier.
    fn create_persistence_table(&self, table: &str) -> Vec<String>;

    /// An SQL expression for the database server's current time in epoch milliseconds, as a
    /// `BIGINT`. The cluster lease is measured on this clock, never on a node's own clock.
    fn current_millis(&self) -> &'static str;

    /// Statements to run once per pool before first use (e.g. SQLite's journal mode).
    fn setup_statements(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether a database error is transient (deadlock, lock timeout, server shutting down,
    /// too many connections): the same call may succeed later.
    fn is_transient(&self, error: &dyn DatabaseError) -> bool;

    /// `ident` folded and quoted: how the stores write every table and column name.
    fn identifier(&self, ident: &str) -> String {
        self.quote_identifier(&self.fold_identifier(ident))
    }

    /// `count` placeholders starting at `first`, comma separated.
    fn placeholders(&self, first: usize, count: usize) -> String {
        (first..first + count)
            .map(|n| self.placeholder(n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Checks that a configured table name is a plain identifier (`[A-Za-z_][A-Za-z0-9_]*`, at most
/// [`MAX_TABLE_NAME_CHARS`]): table names come from configuration and end up in SQL text.
pub fn validate_table_name(table: &str) -> Result<()> {
    let mut chars = table.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return Err(StoreError::invalid(
            "table name",
            table,
            "use letters, digits and `_` only, starting with a letter or `_`",
        ));
    }
    if table.len() > MAX_TABLE_NAME_CHARS {
        return Err(StoreError::invalid(
            "table name",
            table,
            format!("it is longer than {MAX_TABLE_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Quotes `ident` with `quote`, doubling any quote character inside it.
pub(crate) fn quote_with(ident: &str, quote: char) -> String {
    let doubled = format!("{quote}{quote}");
    format!("{quote}{}{quote}", ident.replace(quote, &doubled))
}

/// The persistence table's columns, typed for `dialect`, after the id column.
pub(crate) fn persistence_columns(dialect: &dyn Dialect) -> String {
    format!(
        "{} VARCHAR(100) NOT NULL, {} VARCHAR(300) NOT NULL, {} {} NOT NULL",
        dialect.identifier(columns::APP),
        dialect.identifier(columns::REVISION),
        dialect.identifier(columns::SNAPSHOT),
        dialect.blob_type()
    )
}

/// The name of the `(siddhiAppName, revision)` index of `table`.
pub(crate) fn index_name(dialect: &dyn Dialect, table: &str) -> String {
    dialect.identifier(&format!("{table}_app_rev"))
}

/// `CREATE TABLE IF NOT EXISTS` with an id column declared as `id_declaration`, then
/// `CREATE INDEX IF NOT EXISTS` on `(siddhiAppName, revision)` (SQLite and PostgreSQL).
pub(crate) fn table_then_index(
    dialect: &dyn Dialect,
    table: &str,
    id_declaration: &str,
) -> Vec<String> {
    let t = dialect.identifier(table);
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {t} ({} {id_declaration}, {})",
            dialect.identifier(columns::ID),
            persistence_columns(dialect)
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {t} ({}, {})",
            index_name(dialect, table),
            dialect.identifier(columns::APP),
            dialect.identifier(columns::REVISION)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        for good in ["PERSISTENCE_TABLE", "_t", "t1"] {
            validate_table_name(good).unwrap();
        }
        for bad in [
            "",
            "1t",
            "a-b",
            "a b",
            "t;DROP TABLE x",
            "s.t",
            &"t".repeat(55),
        ] {
            assert!(validate_table_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn placeholders_per_backend() {
        assert_eq!(SqliteDialect.placeholders(1, 3), "?, ?, ?");
        assert_eq!(MySqlDialect.placeholders(1, 2), "?, ?");
        assert_eq!(PostgresDialect.placeholders(2, 3), "$2, $3, $4");
    }

    #[test]
    fn identifiers_are_folded_and_quoted() {
        assert_eq!(
            PostgresDialect.identifier("siddhiAppName"),
            "\"siddhiappname\""
        );
        assert_eq!(MySqlDialect.identifier("siddhiAppName"), "`siddhiAppName`");
        assert_eq!(SqliteDialect.identifier("a\"b"), "\"a\"\"b\"");
    }
}
