//! The store contract, run on every backend: what the persistence manager and the HA failover
//! rely on, whatever `state.persistence.persistenceStore` says.

use std::sync::Arc;

use spate_store::{PersistenceStore, Revision, StoreError};

use crate::backends::{Case, Fixture};
use crate::support::Context;
use crate::{ensure, ensure_eq};

/// The cases, by name.
pub fn cases() -> Vec<(&'static str, Case)> {
    vec![
        ("save_load_latest_revisions", |f| {
            Box::pin(save_load_latest_revisions(f))
        }),
        ("save_replaces_the_same_revision", |f| {
            Box::pin(save_replaces_the_same_revision(f))
        }),
        ("clean_keeps_newest_per_app", |f| {
            Box::pin(clean_keeps_newest_per_app(f))
        }),
        ("delete_all_only_that_app", |f| {
            Box::pin(delete_all_only_that_app(f))
        }),
        ("concurrent_saves", |f| Box::pin(concurrent_saves(f))),
        ("large_snapshot_10mb", |f| Box::pin(large_snapshot(f))),
        ("empty_snapshot_and_unusual_app_names", |f| {
            Box::pin(empty_and_unusual_names(f))
        }),
        ("revision_of_another_app_is_refused", |f| {
            Box::pin(revision_of_another_app(f))
        }),
    ]
}

fn rev(millis: i64, app: &str) -> Result<Revision, String> {
    Revision::new(millis, app).ctx("revision")
}

/// Bytes that differ per revision, so a mix-up cannot pass.
fn bytes_for(revision: &Revision, len: usize) -> Vec<u8> {
    let seed = revision
        .as_str()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (0..len)
        .map(|i| (seed.wrapping_add(i as u32).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

async fn save(store: &dyn PersistenceStore, revision: &Revision, len: usize) -> Result<(), String> {
    store
        .save(revision.app(), revision, &bytes_for(revision, len))
        .await
        .ctx("save")
}

async fn revision_times(store: &dyn PersistenceStore, app: &str) -> Result<Vec<i64>, String> {
    Ok(store
        .revisions(app)
        .await
        .ctx("revisions")?
        .iter()
        .map(Revision::epoch_millis)
        .collect())
}

async fn save_load_latest_revisions(fx: Arc<Fixture>) -> Result<(), String> {
    let store = fx.store.as_ref();
    ensure_eq!(store.latest("App").await.ctx("latest")?, None);
    ensure_eq!(
        store.revisions("App").await.ctx("revisions")?,
        Vec::<Revision>::new()
    );
    // Saved out of order; 999 < 1000 numerically although not as text.
    for t in [1000, 999, 1_700_000_000_000] {
        save(store, &rev(t, "App")?, 100).await?;
    }
    ensure_eq!(
        revision_times(store, "App").await?,
        vec![999, 1000, 1_700_000_000_000]
    );
    ensure_eq!(
        store.latest("App").await.ctx("latest")?,
        Some(rev(1_700_000_000_000, "App")?)
    );
    for t in [999, 1000, 1_700_000_000_000] {
        let r = rev(t, "App")?;
        ensure_eq!(
            store.load("App", &r).await.ctx("load")?,
            Some(bytes_for(&r, 100))
        );
    }
    ensure_eq!(
        store
            .load("App", &rev(5, "App")?)
            .await
            .ctx("load missing")?,
        None
    );
    ensure_eq!(store.latest("Other").await.ctx("latest other")?, None);
    Ok(())
}

async fn save_replaces_the_same_revision(fx: Arc<Fixture>) -> Result<(), String> {
    let store = fx.store.as_ref();
    let r = rev(42, "App")?;
    store.save("App", &r, b"first").await.ctx("save")?;
    store.save("App", &r, b"second").await.ctx("save again")?;
    ensure_eq!(
        store.load("App", &r).await.ctx("load")?,
        Some(b"second".to_vec())
    );
    ensure_eq!(revision_times(store, "App").await?, vec![42]);
    Ok(())
}

async fn clean_keeps_newest_per_app(fx: Arc<Fixture>) -> Result<(), String> {
    let store = fx.store.as_ref();
    for t in [5, 1, 4, 2, 3] {
        save(store, &rev(t, "A")?, 10).await?;
    }
    // `B`'s revisions are all older than `A`'s: a cleanup that ignores the app would take them.
    // `A_` shares a prefix with `A`.
    for (t, app) in [(0, "B"), (1, "B"), (0, "A_")] {
        save(store, &rev(t, app)?, 10).await?;
    }
    ensure_eq!(store.clean("A", 2).await.ctx("clean")?, 3);
    ensure_eq!(revision_times(store, "A").await?, vec![4, 5]);
    ensure_eq!(revision_times(store, "B").await?, vec![0, 1]);
    ensure_eq!(revision_times(store, "A_").await?, vec![0]);
    ensure_eq!(store.clean("A", 2).await.ctx("clean again")?, 0);
    ensure_eq!(store.clean("Nobody", 1).await.ctx("clean unknown app")?, 0);
    ensure_eq!(store.clean("B", 0).await.ctx("clean to zero")?, 2);
    ensure_eq!(revision_times(store, "B").await?, Vec::<i64>::new());
    ensure_eq!(revision_times(store, "A").await?, vec![4, 5]);
    Ok(())
}

async fn delete_all_only_that_app(fx: Arc<Fixture>) -> Result<(), String> {
    let store = fx.store.as_ref();
    for (t, app) in [(1, "A"), (2, "A"), (3, "B")] {
        save(store, &rev(t, app)?, 10).await?;
    }
    ensure_eq!(store.delete_all("A").await.ctx("delete_all")?, 2);
    ensure_eq!(store.latest("A").await.ctx("latest")?, None);
    ensure_eq!(revision_times(store, "B").await?, vec![3]);
    ensure_eq!(store.delete_all("A").await.ctx("delete_all again")?, 0);
    Ok(())
}

async fn concurrent_saves(fx: Arc<Fixture>) -> Result<(), String> {
    let mut tasks = Vec::new();
    for i in 0..24 {
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let app = if i % 2 == 0 { "Even" } else { "Odd" };
            let revision = Revision::now(app).ctx("now")?;
            save(fx.store.as_ref(), &revision, 64 * 1024).await?;
            Ok::<_, String>(revision)
        }));
    }
    let mut saved = Vec::new();
    for task in tasks {
        saved.push(task.await.ctx("join")??);
    }
    let store = fx.store.as_ref();
    for app in ["Even", "Odd"] {
        ensure_eq!(store.revisions(app).await.ctx("revisions")?.len(), 12);
    }
    for revision in &saved {
        let loaded = store.load(revision.app(), revision).await.ctx("load")?;
        ensure!(
            loaded == Some(bytes_for(revision, 64 * 1024)),
            "{revision} came back different"
        );
    }
    // Concurrent cleanups of both apps leave the newest of each.
    let cleaners: Vec<_> = ["Even", "Odd"]
        .into_iter()
        .map(|app| {
            let fx = fx.clone();
            tokio::spawn(async move { fx.store.clean(app, 3).await })
        })
        .collect();
    for cleaner in cleaners {
        ensure_eq!(cleaner.await.ctx("join")?.ctx("clean")?, 9);
    }
    let newest = saved.iter().filter(|r| r.app() == "Even").max().cloned();
    ensure_eq!(store.latest("Even").await.ctx("latest")?, newest);
    Ok(())
}

async fn large_snapshot(fx: Arc<Fixture>) -> Result<(), String> {
    let store = fx.store.as_ref();
    let r = rev(1_700_000_000_123, "Big")?;
    let big = bytes_for(&r, 10 * 1024 * 1024);
    store.save("Big", &r, &big).await.ctx("save 10 MB")?;
    let loaded = store.load("Big", &r).await.ctx("load 10 MB")?;
    ensure!(
        loaded.as_deref() == Some(big.as_slice()),
        "10 MB snapshot came back different"
    );
    Ok(())
}

async fn empty_and_unusual_names(fx: Arc<Fixture>) -> Result<(), String> {
    let store = fx.store.as_ref();
    for app in ["Sales App (ü)", "a__b", "x".repeat(100).as_str()] {
        let r = rev(7, app)?;
        store.save(app, &r, &[]).await.ctx("save empty")?;
        ensure_eq!(
            store.load(app, &r).await.ctx("load empty")?,
            Some(Vec::new())
        );
        ensure_eq!(store.latest(app).await.ctx("latest")?, Some(r));
    }
    Ok(())
}

async fn revision_of_another_app(fx: Arc<Fixture>) -> Result<(), String> {
    let store = fx.store.as_ref();
    let theirs = rev(1, "B")?;
    let err = store
        .save("A", &theirs, b"x")
        .await
        .err()
        .ok_or("saving B's revision as A worked")?;
    ensure!(
        matches!(err, StoreError::InvalidName { .. }),
        "unexpected error: {err}"
    );
    ensure!(!err.is_transient(), "a refused name must not be retried");
    for bad in ["", "../etc", "a/b"] {
        ensure!(
            store.revisions(bad).await.is_err(),
            "app name `{bad}` was accepted"
        );
    }
    Ok(())
}
