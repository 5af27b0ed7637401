//! The database store: one row per snapshot in WSO2's `PERSISTENCE_TABLE` shape
//! (`id`, `siddhiAppName`, `revision`, `snapshot`), on SQLite, MySQL/MariaDB or PostgreSQL.
//!
//! The table is created on first use if it is missing. Saving replaces a row with the same app
//! and revision in one transaction. Cleaning picks the revisions to drop by their timestamps in
//! Rust and deletes them by `(siddhiAppName, revision)`, so it cannot reach another app's rows
//! (WSO2's MySQL statement `WHERE siddhiAppName = ? IS NOT NULL ... LIMIT ?` deleted the oldest
//! rows of every app).

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::AnyPool;
use sqlx::{AssertSqlSafe, Row};

use super::{BoxFuture, PersistenceStore, check_revision_app};
use crate::datasource::ConnectTarget;
use crate::dialect::{Dialect, columns, validate_table_name};
use crate::error::{Result, StoreError};
use crate::revision::{Revision, oldest_beyond, validate_app_name};

/// The SQL text of every statement, built once from the dialect.
#[derive(Debug)]
struct Statements {
    create: Vec<String>,
    setup: Vec<String>,
    insert: String,
    count_revision: String,
    delete_revision: String,
    select_snapshot: String,
    select_revisions: String,
    delete_app: String,
}

impl Statements {
    fn new(dialect: &dyn Dialect, table: &str) -> Statements {
        let t = dialect.identifier(table);
        let app = dialect.identifier(columns::APP);
        let revision = dialect.identifier(columns::REVISION);
        let snapshot = dialect.identifier(columns::SNAPSHOT);
        let id = dialect.identifier(columns::ID);
        let (p1, p2) = (dialect.placeholder(1), dialect.placeholder(2));
        let this_revision = format!("{app} = {p1} AND {revision} = {p2}");
        Statements {
            create: dialect.create_persistence_table(table),
            setup: dialect.setup_statements(),
            insert: format!(
                "INSERT INTO {t} ({app}, {revision}, {snapshot}) VALUES ({})",
                dialect.placeholders(1, 3)
            ),
            count_revision: format!("SELECT COUNT(*) FROM {t} WHERE {this_revision}"),
            delete_revision: format!("DELETE FROM {t} WHERE {this_revision}"),
            select_snapshot: format!(
                "SELECT {snapshot} FROM {t} WHERE {this_revision} ORDER BY {id} DESC LIMIT 1"
            ),
            select_revisions: format!("SELECT {revision} FROM {t} WHERE {app} = {p1}"),
            delete_app: format!("DELETE FROM {t} WHERE {app} = {p1}"),
        }
    }
}

/// Snapshots as rows of one table in a datasource's database.
#[derive(Debug)]
pub struct DbStore {
    pool: AnyPool,
    dialect: &'static dyn Dialect,
    name: String,
    sql: Statements,
    table_ready: AtomicBool,
}

impl DbStore {
    /// A store on `table` in `target`'s database. Connects lazily; the table is created (if
    /// missing) by the first operation.
    pub fn open(target: &ConnectTarget, table: &str) -> Result<DbStore> {
        validate_table_name(table)?;
        let dialect = target.backend.dialect();
        Ok(DbStore {
            pool: target.connect_lazy()?,
            dialect,
            name: format!(
                "database store `{table}` on datasource `{}`",
                target.datasource
            ),
            sql: Statements::new(dialect, table),
            table_ready: AtomicBool::new(false),
        })
    }

    /// The SQL dialect in use.
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates the table and index if missing (idempotent; also done by the first operation).
    pub async fn ensure_table(&self) -> Result<()> {
        if self.table_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        for statement in self.sql.setup.iter().chain(&self.sql.create) {
            if let Err(e) = sqlx::query(AssertSqlSafe(statement.as_str()))
                .execute(&self.pool)
                .await
            {
                // Two nodes creating the table at once can collide; fine if it now exists.
                if !self.table_exists().await {
                    return Err(self.error("create the persistence table", e));
                }
            }
        }
        self.table_ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn table_exists(&self) -> bool {
        let probe = format!("{} AND 1 = 0", self.sql.select_revisions);
        sqlx::query(AssertSqlSafe(probe))
            .bind("")
            .fetch_all(&self.pool)
            .await
            .is_ok()
    }

    /// Maps a driver error to a typed store error with the right retry hint.
    fn error(&self, op: &'static str, e: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(self.name.clone(), op, self.dialect, e)
    }

    async fn revision_names(&self, app: &str) -> Result<Vec<Revision>> {
        validate_app_name(app)?;
        self.ensure_table().await?;
        let rows = sqlx::query(AssertSqlSafe(self.sql.select_revisions.as_str()))
            .bind(app)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error("list revisions", e))?;
        let mut revisions = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row
                .try_get(0)
                .map_err(|e| self.error("list revisions", e))?;
            match Revision::parse(&name) {
                Ok(revision) if revision.app() == app => revisions.push(revision),
                _ => tracing::warn!(store = %self.name, %app, revision = %name,
                    "Row with an unreadable revision name skipped."),
            }
        }
        revisions.sort();
        revisions.dedup();
        Ok(revisions)
    }

    /// Deletes the given revisions of `app` in one transaction.
    async fn delete_revisions(&self, app: &str, revisions: &[Revision]) -> Result<u64> {
        if revisions.is_empty() {
            return Ok(0);
        }
        const OP: &str = "delete old revisions";
        let mut tx = self.pool.begin().await.map_err(|e| self.error(OP, e))?;
        let mut deleted = 0;
        for revision in revisions {
            deleted += sqlx::query(AssertSqlSafe(self.sql.delete_revision.as_str()))
                .bind(app)
                .bind(revision.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(OP, e))?
                .rows_affected();
        }
        tx.commit().await.map_err(|e| self.error(OP, e))?;
        Ok(deleted)
    }
}

impl PersistenceStore for DbStore {
    fn save<'a>(
        &'a self,
        app: &'a str,
        revision: &'a Revision,
        snapshot: &'a [u8],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            const OP: &str = "save a snapshot";
            check_revision_app(app, revision)?;
            self.ensure_table().await?;
            let insert = sqlx::query(AssertSqlSafe(self.sql.insert.as_str()))
                .bind(app)
                .bind(revision.as_str())
                .bind(snapshot);
            // A new revision is a plain insert. Only a re-save of an existing revision deletes
            // first: on InnoDB a DELETE that matches nothing still takes gap locks, and
            // concurrent saves of distinct revisions would then deadlock.
            let existing: i64 = sqlx::query_scalar(AssertSqlSafe(self.sql.count_revision.as_str()))
                .bind(app)
                .bind(revision.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.error(OP, e))?;
            if existing == 0 {
                insert
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.error(OP, e))?;
                return Ok(());
            }
            let mut tx = self.pool.begin().await.map_err(|e| self.error(OP, e))?;
            sqlx::query(AssertSqlSafe(self.sql.delete_revision.as_str()))
                .bind(app)
                .bind(revision.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(OP, e))?;
            insert
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(OP, e))?;
            tx.commit().await.map_err(|e| self.error(OP, e))
        })
    }

    fn load<'a>(
        &'a self,
        app: &'a str,
        revision: &'a Revision,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            const OP: &str = "load a snapshot";
            check_revision_app(app, revision)?;
            self.ensure_table().await?;
            let row = sqlx::query(AssertSqlSafe(self.sql.select_snapshot.as_str()))
                .bind(app)
                .bind(revision.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.error(OP, e))?;
            row.map(|r| r.try_get::<Vec<u8>, _>(0))
                .transpose()
                .map_err(|e| self.error(OP, e))
        })
    }

    fn revisions<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Vec<Revision>>> {
        Box::pin(self.revision_names(app))
    }

    fn delete_all<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            validate_app_name(app)?;
            self.ensure_table().await?;
            let done = sqlx::query(AssertSqlSafe(self.sql.delete_app.as_str()))
                .bind(app)
                .execute(&self.pool)
                .await
                .map_err(|e| self.error("delete all revisions", e))?;
            Ok(done.rows_affected())
        })
    }

    fn clean<'a>(&'a self, app: &'a str, keep: usize) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let doomed = oldest_beyond(self.revision_names(app).await?, keep);
            self.delete_revisions(app, &doomed).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{MySqlDialect, PostgresDialect};

    #[test]
    fn statements_are_scoped_to_one_app() {
        let pg = Statements::new(&PostgresDialect, "PERSISTENCE_TABLE");
        assert_eq!(
            pg.delete_revision,
            "DELETE FROM \"persistence_table\" WHERE \"siddhiappname\" = $1 AND \"revision\" = $2"
        );
        let my = Statements::new(&MySqlDialect, "PERSISTENCE_TABLE");
        assert_eq!(
            my.delete_app,
            "DELETE FROM `PERSISTENCE_TABLE` WHERE `siddhiAppName` = ?"
        );
        assert!(my.insert.ends_with("VALUES (?, ?, ?)"));
    }
}
