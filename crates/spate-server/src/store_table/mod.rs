//! `@store(type='rdbms')` tables: the engine keeps the table's rows as it keeps any table (so
//! joins, conditions and row order behave exactly as in memory), and the server mirrors every
//! change to the database table, in order, in the background.
//!
//! - At deploy the options are checked (see [`options`]); a bad option fails the deploy.
//! - When the app starts without a saved state, the rows are read from the database (a table
//!   filled by someone else is there to join against). With a saved state, the database table
//!   is made to hold exactly the restored rows, so events replayed after the snapshot do not
//!   apply their changes twice.
//! - Changes are written in batches, each in one transaction. A database outage is logged and
//!   retried with backoff; processing goes on and nothing is dropped. A change the database
//!   refuses for good (a constraint someone else added, say) is logged as an ERROR and skipped.
//!
//! Writes made to the database table by others while the app runs are not seen by the app.

mod db;
pub mod options;
mod sql;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use spate_engine::plan::AppPlan;
use spate_engine::runtime::AppRuntime;
use spate_engine::table::TableChange;
use spate_engine::value::Value;
use spate_store::Datasource;
use tokio::sync::mpsc;

use db::TableDb;
use sql::TableSql;

/// The longest pause between two attempts while a table's database is down.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Changes taken together into one transaction at most.
const MAX_BATCH: usize = 4096;

/// What the app task hands the writer.
enum Write {
    Changes(usize, Vec<TableChange>),
    Replace(usize, Vec<Vec<Value>>),
}

/// The mirrored tables of one app.
pub struct StoreTables {
    app: String,
    /// By engine table index; `None` for in-memory tables.
    tables: Vec<Option<TableDb>>,
    writes: mpsc::UnboundedSender<Write>,
    receiver: Option<mpsc::UnboundedReceiver<Write>>,
}

impl StoreTables {
    /// Resolves the `@store` tables of `plan`; `None` when it has none.
    pub fn open(
        plan: &AppPlan,
        datasources: &[Datasource],
        base_dir: &Path,
    ) -> Result<Option<StoreTables>, String> {
        if plan.tables.iter().all(|t| t.store.is_none()) {
            return Ok(None);
        }
        let mut tables = Vec::with_capacity(plan.tables.len());
        for t in &plan.tables {
            let Some(store) = &t.store else {
                tables.push(None);
                continue;
            };
            let target = options::resolve(&t.name, &t.schema, store, datasources, base_dir)?;
            for w in &target.warnings {
                tracing::warn!(app = plan.name, table = t.name, "{w}");
            }
            let pool = target
                .connect
                .connect_lazy()
                .map_err(|e| format!("table `{}`: {e}", t.name))?;
            let sql = TableSql::new(
                target.connect.backend,
                &target.table,
                &t.schema,
                t.primary_key.as_deref(),
                &target.string_lengths,
            );
            tables.push(Some(TableDb {
                name: t.name.clone(),
                pool,
                sql,
            }));
        }
        let (writes, receiver) = mpsc::unbounded_channel();
        Ok(Some(StoreTables {
            app: plan.name.clone(),
            tables,
            writes,
            receiver: Some(receiver),
        }))
    }

    /// Has `runtime` record the changes of every mirrored table.
    pub fn record(&self, runtime: &mut AppRuntime) {
        for (i, t) in self.tables.iter().enumerate() {
            if t.is_some() {
                runtime.record_table_changes(i);
            }
        }
    }

    /// Before the first event: creates missing tables, then either loads their rows into
    /// `runtime` (fresh state) or makes them hold the restored rows. Retries while a database
    /// is down. Starts the writer.
    pub async fn start(&mut self, runtime: &mut AppRuntime, restored: bool) {
        for (i, t) in self.tables.iter().enumerate() {
            let Some(t) = t else { continue };
            retry(&self.app, t, "create the table", || t.ensure()).await;
            if restored {
                let rows = runtime.table_rows(i);
                retry(&self.app, t, "write the restored rows", || t.replace(&rows)).await;
            } else {
                let rows = retry(&self.app, t, "read the rows", || t.read_all()).await;
                let count = rows.len();
                let dropped = runtime.load_table(i, rows);
                tracing::info!(
                    app = self.app,
                    table = t.name,
                    rows = count - dropped,
                    "Loaded the table's rows from its database."
                );
            }
        }
        if let Some(receiver) = self.receiver.take() {
            let tables: Vec<Option<TableDb>> = self.tables.clone();
            tokio::spawn(writer(self.app.clone(), Arc::new(tables), receiver));
        }
    }

    /// Hands the changes `runtime` recorded to the writer.
    pub fn flush(&self, runtime: &mut AppRuntime) {
        runtime.take_table_changes(&mut |i, changes| {
            if self.writes.send(Write::Changes(i, changes)).is_err() {
                tracing::error!(
                    app = self.app,
                    "The table writer has stopped; changes are not written."
                );
            }
        });
    }

    /// After a restore on a running app: the tables' databases are made to hold the restored
    /// rows (after the writes already queued).
    pub fn restored(&self, runtime: &AppRuntime) {
        for (i, t) in self.tables.iter().enumerate() {
            if t.is_some() {
                self.writes
                    .send(Write::Replace(i, runtime.table_rows(i)))
                    .ok();
            }
        }
    }
}

/// Runs `op` until it succeeds, logging the first failure and every tenth after it.
async fn retry<T, F, Fut>(app: &str, table: &TableDb, what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut backoff = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match op().await {
            Ok(v) => {
                if failures > 0 {
                    tracing::info!(
                        app,
                        table = table.name,
                        "The table's database answers again."
                    );
                }
                return v;
            }
            Err(e) => {
                if failures.is_multiple_of(10) {
                    tracing::error!(
                        app,
                        table = table.name,
                        error = %e,
                        retry_in_ms = backoff.as_millis() as u64,
                        "Cannot {what} in the table's database; retrying. Check that the database is up and the @store options are right."
                    );
                }
                failures += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Whether the database may accept the same statement later (it is down, busy or deadlocked),
/// as opposed to refusing it for good (a constraint, a missing column).
fn transient(t: &TableDb, e: &sqlx::Error) -> bool {
    spate_store::sqlx_is_transient(t.sql.backend.dialect(), e)
}

/// Writes changes in order, batching what is queued into one transaction per table.
async fn writer(
    app: String,
    tables: Arc<Vec<Option<TableDb>>>,
    mut receiver: mpsc::UnboundedReceiver<Write>,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let mut size = 0;
        while size < MAX_BATCH {
            match receiver.try_recv() {
                Ok(w) => {
                    if let Write::Changes(_, c) = &w {
                        size += c.len();
                    }
                    batch.push(w);
                }
                Err(_) => break,
            }
        }
        for w in coalesce(batch) {
            let (Write::Changes(i, _) | Write::Replace(i, _)) = &w;
            let Some(Some(t)) = tables.get(*i) else {
                continue;
            };
            match &w {
                Write::Changes(_, changes) => write_changes(&app, t, changes).await,
                Write::Replace(_, rows) => {
                    retry(&app, t, "write the restored rows", || t.replace(rows)).await;
                }
            }
        }
    }
}

/// Joins consecutive change lists of the same table.
fn coalesce(batch: Vec<Write>) -> Vec<Write> {
    let mut out: Vec<Write> = Vec::with_capacity(batch.len());
    for w in batch {
        match (out.last_mut(), w) {
            (Some(Write::Changes(a, into)), Write::Changes(b, more)) if *a == b => {
                into.extend(more)
            }
            (_, w) => out.push(w),
        }
    }
    out
}

/// Applies one table's changes: all in one transaction, retried while the database is away;
/// if the database refuses the batch for good, one by one, skipping the refused ones.
async fn write_changes(app: &str, t: &TableDb, changes: &[TableChange]) {
    let mut backoff = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match t.apply(changes).await {
            Ok(()) => return,
            Err(e) if transient(t, &e) => {
                if failures.is_multiple_of(10) {
                    tracing::error!(app, table = t.name, error = %e, pending = changes.len(), "Cannot write to the table's database; retrying (processing goes on).");
                }
                failures += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(_) => break,
        }
    }
    for change in changes {
        if let Err(e) = t.apply(std::slice::from_ref(change)).await {
            tracing::error!(app, table = t.name, error = %e, change = ?change, "The table's database refused a change; it is skipped.");
        }
    }
}
