//! The coordinator's database calls: one method per statement, each bounded by a timeout and
//! mapped to a typed error with a retry hint. Nothing here retries or sleeps; the loops in
//! [`super::lease`] and [`super::members`] decide that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use spate_store::{Dialect, StoreError};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use super::schema::Statements;
use crate::error::{ClusterError, Result};

/// The lease row as the database sees it, with the database's clock at the time of reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The node holding (or last holding) the lease; empty when never held.
    pub holder: String,
    /// The fencing token: grows by one with every acquisition.
    pub epoch: u64,
    /// When the lease expires (db clock, epoch ms).
    pub expires_at: i64,
    /// When it was acquired (db clock, epoch ms).
    pub acquired_at: i64,
    /// The db clock when the row was read.
    pub db_now: i64,
}

impl LeaseRow {
    /// Whether someone holds an unexpired lease.
    pub fn is_live(&self) -> bool {
        !self.holder.is_empty() && self.expires_at > self.db_now
    }

    /// How long until it expires, as far as the database can tell (zero if expired).
    pub fn remaining(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.expires_at - self.db_now).unwrap_or(0))
    }
}

/// A node row as the database sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// `NODE_ID`.
    pub node_id: String,
    /// `PROPERTY_MAP` (JSON text).
    pub properties: String,
    /// `HEARTBEAT_AT` (db clock, epoch ms).
    pub heartbeat_at: i64,
    /// `STARTED_AT`: changes when the node registers again (a restart).
    pub started_at: i64,
    /// The db clock when the row was read.
    pub db_now: i64,
}

/// The coordinator's handle on the cluster database.
#[derive(Debug, Clone)]
pub struct CoordDb {
    pool: AnyPool,
    dialect: &'static dyn Dialect,
    sql: Arc<Statements>,
    name: Arc<str>,
    timeout: Duration,
    outage: Arc<AtomicBool>,
}

impl CoordDb {
    /// Wraps `pool`; every call gives up after `timeout`.
    pub fn new(
        pool: AnyPool,
        dialect: &'static dyn Dialect,
        prefix: &str,
        timeout: Duration,
    ) -> Result<CoordDb> {
        Ok(CoordDb {
            pool,
            dialect,
            sql: Arc::new(Statements::new(dialect, prefix)?),
            name: format!("cluster database ({}, tables {prefix}*)", dialect.name()).into(),
            timeout,
            outage: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The SQL dialect.
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    /// Fault injection: while set, every call fails as if the database were unreachable.
    pub fn set_outage(&self, on: bool) {
        self.outage.store(on, Ordering::SeqCst);
    }

    /// Creates the tables if missing.
    pub async fn ensure_schema(&self) -> Result<()> {
        for statement in self.sql.setup.iter().chain(&self.sql.create) {
            let sql = statement.clone();
            let done = self
                .run("create the coordination tables", async {
                    sqlx::query(AssertSqlSafe(sql)).execute(&self.pool).await
                })
                .await;
            if let Err(e) = done {
                // Two nodes creating the tables at once can collide; fine if they exist now.
                if self.select_lease("").await.is_err() {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The database's clock (epoch ms).
    pub async fn now(&self) -> Result<i64> {
        self.run("read the database clock", async {
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(self.sql.now.as_str()))
                .fetch_one(&self.pool)
                .await
        })
        .await
    }

    /// Registers the node (a fresh `STARTED_AT`), inserting its row if missing.
    pub async fn register(&self, group: &str, node: &str, props: &str) -> Result<()> {
        let sql = &self.sql.restart_node;
        self.upsert_node("register the node", sql, group, node, props)
            .await
    }

    /// Beats the node's heartbeat (re-inserting the row if someone deleted it).
    pub async fn heartbeat(&self, group: &str, node: &str, props: &str) -> Result<()> {
        let sql = &self.sql.heartbeat;
        self.upsert_node("write the node heartbeat", sql, group, node, props)
            .await
    }

    /// Runs `update` (binds props, group, node); inserts the row if it updated nothing.
    async fn upsert_node(
        &self,
        op: &'static str,
        update: &str,
        group: &str,
        node: &str,
        props: &str,
    ) -> Result<()> {
        let updated = self
            .execute(op, update, |q| {
                q.bind(props.to_string())
                    .bind(group.to_string())
                    .bind(node.to_string())
            })
            .await?;
        if updated == 0 {
            self.insert_node(group, node, props).await?;
        }
        Ok(())
    }

    async fn insert_node(&self, group: &str, node: &str, props: &str) -> Result<()> {
        self.execute("insert the node row", &self.sql.insert_node, |q| {
            q.bind(group.to_string())
                .bind(node.to_string())
                .bind(props.to_string())
        })
        .await
        .map(drop)
    }

    /// Deletes the node's row (clean shutdown).
    pub async fn delete_node(&self, group: &str, node: &str) -> Result<()> {
        self.execute("delete the node row", &self.sql.delete_node, |q| {
            q.bind(group.to_string()).bind(node.to_string())
        })
        .await
        .map(drop)
    }

    /// Every node row of the group.
    pub async fn select_nodes(&self, group: &str) -> Result<Vec<NodeRow>> {
        const OP: &str = "read the node table";
        let rows = self
            .run(OP, async {
                sqlx::query(AssertSqlSafe(self.sql.select_nodes.as_str()))
                    .bind(group.to_string())
                    .fetch_all(&self.pool)
                    .await
            })
            .await?;
        rows.iter()
            .map(|row| {
                Ok(NodeRow {
                    node_id: row.try_get(0)?,
                    properties: row.try_get(1)?,
                    heartbeat_at: row.try_get(2)?,
                    started_at: row.try_get(3)?,
                    db_now: row.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(|e| self.error(OP, e))
    }

    /// The lease row, created vacant if missing.
    pub async fn lease(&self, group: &str) -> Result<LeaseRow> {
        if let Some(row) = self.select_lease(group).await? {
            return Ok(row);
        }
        let inserted = self
            .execute("create the lease row", &self.sql.insert_lease, |q| {
                q.bind(group.to_string())
            })
            .await;
        match (inserted, self.select_lease(group).await?) {
            (_, Some(row)) => Ok(row),
            (Err(e), None) => Err(e),
            (Ok(_), None) => Err(ClusterError::Config(format!(
                "the lease row of group `{group}` vanished right after it was created"
            ))),
        }
    }

    async fn select_lease(&self, group: &str) -> Result<Option<LeaseRow>> {
        const OP: &str = "read the lease";
        let row = self
            .run(OP, async {
                sqlx::query(AssertSqlSafe(self.sql.select_lease.as_str()))
                    .bind(group.to_string())
                    .fetch_optional(&self.pool)
                    .await
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        let read = || -> Result<LeaseRow, sqlx::Error> {
            Ok(LeaseRow {
                holder: row.try_get(0)?,
                epoch: u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
                expires_at: row.try_get(2)?,
                acquired_at: row.try_get(3)?,
                db_now: row.try_get(4)?,
            })
        };
        read().map(Some).map_err(|e| self.error(OP, e))
    }

    /// Takes the lease if it is still at `observed_epoch` and expired. `true` = won, with epoch
    /// `observed_epoch + 1`.
    pub async fn acquire(
        &self,
        group: &str,
        node: &str,
        observed_epoch: u64,
        ttl: Duration,
    ) -> Result<bool> {
        let updated = self
            .execute("acquire the lease", &self.sql.acquire, |q| {
                q.bind(node.to_string())
                    .bind(millis(ttl))
                    .bind(group.to_string())
                    .bind(epoch_i64(observed_epoch))
            })
            .await?;
        Ok(updated == 1)
    }

    /// Extends the lease held at `epoch`. `false` = it is no longer ours (expired or taken).
    pub async fn renew(&self, group: &str, node: &str, epoch: u64, ttl: Duration) -> Result<bool> {
        let updated = self
            .execute("renew the lease", &self.sql.renew, |q| {
                q.bind(millis(ttl))
                    .bind(group.to_string())
                    .bind(node.to_string())
                    .bind(epoch_i64(epoch))
            })
            .await?;
        Ok(updated == 1)
    }

    /// Expires the lease held at `epoch` now, so the peer need not wait for it.
    pub async fn release(&self, group: &str, node: &str, epoch: u64) -> Result<bool> {
        let updated = self
            .execute("release the lease", &self.sql.release, |q| {
                q.bind(group.to_string())
                    .bind(node.to_string())
                    .bind(epoch_i64(epoch))
            })
            .await?;
        Ok(updated == 1)
    }

    /// Whether `node` holds an unexpired lease at `epoch`, by the database's clock.
    pub async fn is_leader(&self, group: &str, node: &str, epoch: u64) -> Result<bool> {
        let count = self
            .run("check the lease", async {
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(self.sql.is_leader.as_str()))
                    .bind(group.to_string())
                    .bind(node.to_string())
                    .bind(epoch_i64(epoch))
                    .fetch_one(&self.pool)
                    .await
            })
            .await?;
        Ok(count > 0)
    }

    /// Runs one statement that changes rows; returns how many.
    async fn execute<'q>(
        &self,
        op: &'static str,
        sql: &'q str,
        bind: impl FnOnce(
            sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<u64> {
        let query = bind(sqlx::query(AssertSqlSafe(sql)));
        let done = self
            .run(op, async { query.execute(&self.pool).await })
            .await?;
        Ok(done.rows_affected())
    }

    /// Runs a database call under the timeout and the outage switch.
    async fn run<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T> {
        if self.outage.load(Ordering::SeqCst) {
            return Err(ClusterError::Db(StoreError::Unavailable {
                store: self.name.to_string(),
                op,
                cause: "injected outage".into(),
            }));
        }
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(|e| self.error(op, e)),
            Err(_) => Err(ClusterError::DbTimeout {
                op,
                millis: self.timeout.as_millis(),
            }),
        }
    }

    fn error(&self, op: &'static str, e: sqlx::Error) -> ClusterError {
        ClusterError::Db(StoreError::from_sqlx(
            self.name.to_string(),
            op,
            self.dialect,
            e,
        ))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn epoch_i64(epoch: u64) -> i64 {
    i64::try_from(epoch).unwrap_or(i64::MAX)
}
