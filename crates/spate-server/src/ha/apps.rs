//! Apps deployed over REST on the active node reach the passive through the cluster database:
//! the active writes each deployed app's text (and an empty text for an undeployed one) to the
//! table `SPATE_CLUSTER_APPS`; a node taking over first brings its apps directory in line with
//! it, then deploys the directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use spate_store::{ConnectTarget, Dialect};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use tokio::sync::OnceCell;

/// The table (next to the coordinator's `SPATE_CLUSTER_NODE` and `SPATE_CLUSTER_LEASE`).
pub const TABLE: &str = "SPATE_CLUSTER_APPS";

/// The apps of a cluster group, in the cluster database.
#[derive(Debug)]
pub struct AppCatalog {
    pool: AnyPool,
    dialect: &'static dyn Dialect,
    group: String,
    created: OnceCell<()>,
}

impl AppCatalog {
    /// A catalog on the cluster database (connects on first use).
    pub fn new(target: &ConnectTarget, group: &str) -> Result<AppCatalog, spate_store::StoreError> {
        Ok(AppCatalog {
            pool: target.connect_lazy()?,
            dialect: target.backend.dialect(),
            group: group.to_string(),
            created: OnceCell::new(),
        })
    }

    fn p(&self, n: usize) -> String {
        self.dialect.placeholder(n)
    }

    async fn ensure_table(&self) -> Result<(), String> {
        self.created
            .get_or_try_init(|| async {
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {TABLE} (GROUP_ID VARCHAR(255) NOT NULL, \
                     APP_NAME VARCHAR(255) NOT NULL, CONTENT {} NOT NULL, \
                     PRIMARY KEY (GROUP_ID, APP_NAME))",
                    self.dialect.blob_type()
                );
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("cannot create {TABLE}: {e}"))
            })
            .await
            .map(|_| ())
    }

    /// Records `app` as deployed with `text`, or undeployed (`None`).
    pub async fn put(&self, app: &str, text: Option<&str>) -> Result<(), String> {
        self.ensure_table().await?;
        let mut tx = self.pool.begin().await.map_err(|e| e.to_string())?;
        let delete = format!(
            "DELETE FROM {TABLE} WHERE GROUP_ID = {} AND APP_NAME = {}",
            self.p(1),
            self.p(2)
        );
        sqlx::query(AssertSqlSafe(delete))
            .bind(self.group.as_str())
            .bind(app)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        let insert = format!(
            "INSERT INTO {TABLE} (GROUP_ID, APP_NAME, CONTENT) VALUES ({}, {}, {})",
            self.p(1),
            self.p(2),
            self.p(3)
        );
        sqlx::query(AssertSqlSafe(insert))
            .bind(self.group.as_str())
            .bind(app)
            .bind(text.unwrap_or_default().as_bytes().to_vec())
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    }

    /// Every app recorded: its text, or `None` when it was undeployed.
    pub async fn all(&self) -> Result<Vec<(String, Option<String>)>, String> {
        self.ensure_table().await?;
        let select = format!(
            "SELECT APP_NAME, CONTENT FROM {TABLE} WHERE GROUP_ID = {}",
            self.p(1)
        );
        let rows = sqlx::query(AssertSqlSafe(select))
            .bind(self.group.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get(0).map_err(|e| e.to_string())?;
                let content: Vec<u8> = row.try_get(1).map_err(|e| e.to_string())?;
                let text = String::from_utf8(content).map_err(|e| e.to_string())?;
                Ok((name, (!text.is_empty()).then_some(text)))
            })
            .collect()
    }
}

/// Brings `apps_dir` in line with the catalog: writes the text of every app recorded as
/// deployed (into the file that already holds an app of that name, or `<name>.siddhi`) and
/// deletes the file of every app recorded as undeployed. Returns how many files changed.
pub fn sync_dir(apps_dir: &Path, apps: Vec<(String, Option<String>)>) -> usize {
    let mut files: HashMap<String, PathBuf> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir(apps_dir) {
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().is_some_and(|x| x == "siddhi")
                && let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(def) = crate::app::definition::define(&text, |v| std::env::var(v).ok())
            {
                files.insert(def.name.clone(), path);
            }
        }
    }
    let mut changed = 0;
    for (name, text) in apps {
        let existing = files.get(&name);
        let result = match (text, existing) {
            (Some(text), Some(path)) => {
                if std::fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
                    continue;
                }
                std::fs::write(path, text)
            }
            (Some(text), None) => std::fs::write(apps_dir.join(format!("{name}.siddhi")), text),
            (None, Some(path)) => std::fs::remove_file(path),
            (None, None) => continue,
        };
        match result {
            Ok(()) => changed += 1,
            Err(e) => {
                tracing::error!(app = name, error = %e, "Cannot bring the app file in line with the active node's apps.")
            }
        }
    }
    changed
}
