//! A database that is not there, or goes away mid-run: typed, retryable errors, never a panic,
//! and the same store works again once the database is back.

use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Completion, Failed};
use spate_store::{
    Datasource, DbStore, PersistenceStore, PoolSettings, RetryHint, Revision, StoreError,
};

use crate::backends::{self, Backend, Case, Fixture, Route};
use crate::proxy::FaultProxy;
use crate::services::{self, Service};
use crate::support::{Context, runtime};
use crate::{ensure, ensure_eq};

/// A loopback port where nothing listens.
fn closed_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ctx("bind")?;
    Ok(listener.local_addr().ctx("addr")?.port())
}

fn expect_unavailable<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, StoreError>,
) -> Result<(), String> {
    match result {
        Err(e @ StoreError::Unavailable { .. }) => {
            ensure_eq!(e.retry_hint(), RetryHint::WithBackoff);
            ensure!(
                e.to_string().contains("retry"),
                "{what}: message should say to retry: {e}"
            );
            Ok(())
        }
        other => Err(format!("{what}: expected Unavailable, got {other:?}")),
    }
}

/// No server at all: every operation fails fast with `Unavailable`.
pub fn unreachable(jdbc_scheme: &'static str) -> Result<(), Failed> {
    let runtime = runtime()?;
    runtime.block_on(async move {
        let url = format!("jdbc:{jdbc_scheme}://127.0.0.1:{}/nothing", closed_port()?);
        let mut ds = Datasource::new("DOWN_DB", url);
        ds.pool = PoolSettings {
            connection_timeout: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        let target = ds.target(std::path::Path::new(".")).ctx("target")?;
        let store =
            DbStore::open(&target, "PERSISTENCE_TABLE").ctx("open is lazy and must work")?;
        let r = Revision::new(1, "App").ctx("revision")?;
        expect_unavailable("save", store.save("App", &r, b"x").await)?;
        expect_unavailable("latest", store.latest("App").await)?;
        expect_unavailable("clean", store.clean("App", 1).await)?;
        Ok::<(), String>(())
    })?;
    Ok(())
}

/// The server goes away under a working store and comes back.
pub fn cut_and_restored(backend: Backend) -> Result<Completion, Failed> {
    let service = backend.service().ok_or("needs a database server")?;
    if let Some(skip) = services::check(Some(service))? {
        return Ok(skip);
    }
    let runtime = runtime()?;
    runtime.block_on(async move {
        // The fixture owns the test database; a second store reaches it through the proxy.
        let fixture = Fixture::new(backend, Route::Direct).await?;
        let result = through_proxy(service, &fixture).await;
        fixture.teardown().await;
        result.map(|()| Completion::Completed).map_err(Failed::from)
    })
}

async fn through_proxy(service: Service, fixture: &Fixture) -> Result<(), String> {
    let upstream = service.admin_url();
    let host_port = upstream
        .split("://")
        .nth(1)
        .and_then(|r| r.rsplit('@').next())
        .unwrap_or("");
    let host_port = host_port.split('/').next().unwrap_or(host_port).to_string();
    let proxy = FaultProxy::start(host_port).await?;
    let schema = fixture_database(fixture).await?;
    let ds = backends::server_datasource(service, &schema, Route::Via(proxy.port))?;
    let store = DbStore::open(
        &ds.target(std::path::Path::new(".")).ctx("target")?,
        "PERSISTENCE_TABLE",
    )
    .ctx("open")?;
    let r1 = Revision::new(1, "App").ctx("revision")?;
    store
        .save("App", &r1, b"before")
        .await
        .ctx("save before the cut")?;

    proxy.cut();
    let r2 = Revision::new(2, "App").ctx("revision")?;
    expect_unavailable("save while cut", store.save("App", &r2, b"during").await)?;
    expect_unavailable("load while cut", store.load("App", &r1).await)?;

    proxy.restore();
    store
        .save("App", &r2, b"after")
        .await
        .ctx("save after the database is back")?;
    ensure_eq!(
        store.load("App", &r1).await.ctx("load")?,
        Some(b"before".to_vec())
    );
    ensure_eq!(store.latest("App").await.ctx("latest")?, Some(r2));
    store.close().await;
    Ok(())
}

/// The name of the fixture's database (MariaDB) or schema (PostgreSQL), asked of the server.
async fn fixture_database(fixture: &Fixture) -> Result<String, String> {
    let raw = fixture.raw.as_ref().ok_or("no raw pool")?;
    let sql = match fixture.backend {
        Backend::Postgres => "SELECT CAST(current_schema() AS TEXT)",
        _ => "SELECT DATABASE()",
    };
    let row: (String,) = sqlx::query_as(sql)
        .fetch_one(raw)
        .await
        .ctx("current database")?;
    Ok(row.0)
}

/// Database-only checks that run on every database backend.
pub fn cases() -> Vec<(&'static str, Case)> {
    vec![("table_is_wso2_shaped_and_unquoted_names_reach_it", |f| {
        Box::pin(table_shape(f))
    })]
}

/// The table can be read with WSO2's unquoted SQL, so operators' scripts keep working.
async fn table_shape(fx: Arc<Fixture>) -> Result<(), String> {
    let r = Revision::new(3, "App").ctx("revision")?;
    fx.store.save("App", &r, b"abc").await.ctx("save")?;
    let raw = fx.raw.as_ref().ok_or("no raw pool")?;
    let row: (String, String) =
        sqlx::query_as("SELECT siddhiAppName, revision FROM PERSISTENCE_TABLE WHERE id > 0")
            .fetch_one(raw)
            .await
            .ctx("unquoted select")?;
    ensure_eq!((row.0.as_str(), row.1.as_str()), ("App", "3__App"));
    Ok(())
}
