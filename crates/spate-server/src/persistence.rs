//! The persistence manager: saves app states as revisions in the configured
//! [`PersistenceStore`] (cleaning old ones per app) and loads them back — the latest one when an
//! app starts, or a named one on request. A store that is down is retried with backoff when an
//! app starts and reported (ERROR + metric) when a save fails; nothing here panics and nothing
//! here stalls event processing, which happens in the app tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use spate_store::{PersistenceStore, Revision, StoreError};

use crate::app::saved_state::SavedState;
use crate::input_log::now_millis;
use crate::metrics::{Metrics, app_labels};

/// The longest wait between attempts to reach the store when an app starts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Why a state could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// No store is configured.
    #[error("state persistence has no store configured (see state.persistence)")]
    NoStore,
    /// Nothing stored for the app (or no such revision).
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// HA: this node is not the active node (or lost its lease); only the active persists.
    #[error("this node is not the active node of the HA pair; the active node persists")]
    NotActive,
    /// The stored bytes are not a usable state.
    #[error("revision {revision} cannot be read: {reason}")]
    Damaged { revision: String, reason: String },
}

impl PersistError {
    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, PersistError::Store(e) if e.is_transient())
    }
}

/// Settings and the store.
#[derive(Debug)]
pub struct Persistence {
    store: Option<Arc<dyn PersistenceStore>>,
    /// `state.persistence.enabled`: restore on start, persist on schedule and on shutdown.
    pub enabled: bool,
    /// How often to persist (`None`: only on request).
    pub interval: Option<Duration>,
    revisions_to_keep: usize,
    last: Mutex<HashMap<String, Revision>>,
    metrics: Arc<Metrics>,
}

impl Persistence {
    pub fn new(
        store: Option<Arc<dyn PersistenceStore>>,
        enabled: bool,
        interval: Option<Duration>,
        revisions_to_keep: u32,
        metrics: Arc<Metrics>,
    ) -> Persistence {
        Persistence {
            store,
            enabled,
            interval,
            revisions_to_keep: revisions_to_keep.max(1) as usize,
            last: Mutex::default(),
            metrics,
        }
    }

    fn store(&self) -> Result<&Arc<dyn PersistenceStore>, PersistError> {
        self.store.as_ref().ok_or(PersistError::NoStore)
    }

    /// Saves `state` as a new revision of `app` and cleans revisions beyond the ones to keep.
    /// `started` is when taking the snapshot began (for the duration metric).
    pub async fn save(
        &self,
        app: &str,
        state: &SavedState,
        started: Instant,
    ) -> Result<Revision, PersistError> {
        let labels = app_labels(app);
        let result = self.try_save(app, state).await;
        match &result {
            Ok(_) => {
                let bytes = state.encode().len();
                self.metrics
                    .snapshot_seconds
                    .get_or_create(&labels)
                    .observe(started.elapsed().as_secs_f64());
                self.metrics
                    .snapshot_bytes
                    .get_or_create(&labels)
                    .set(bytes as i64);
            }
            Err(_) => {
                self.metrics.snapshot_failures.get_or_create(&labels).inc();
            }
        }
        result
    }

    async fn try_save(&self, app: &str, state: &SavedState) -> Result<Revision, PersistError> {
        let store = self.store()?;
        let last = self.lock().get(app).cloned();
        let revision = Revision::next(app, now_millis(), last.as_ref())?;
        store.save(app, &revision, &state.encode()).await?;
        self.lock().insert(app.to_string(), revision.clone());
        if let Err(e) = store.clean(app, self.revisions_to_keep).await {
            tracing::warn!(app, error = %e, "Could not delete old revisions; they are retried at the next persist.");
        }
        Ok(revision)
    }

    /// The state saved as `revision` of `app`, or the latest one when `revision` is `None`.
    pub async fn load(
        &self,
        app: &str,
        revision: Option<&str>,
    ) -> Result<(Revision, SavedState), PersistError> {
        let store = self.store()?;
        let revision = match revision {
            Some(name) => {
                let r = Revision::parse(name)?;
                if r.app() != app {
                    return Err(PersistError::NotFound(format!(
                        "revision {name} belongs to app `{}`, not `{app}`",
                        r.app()
                    )));
                }
                r
            }
            None => store.latest(app).await?.ok_or_else(|| {
                PersistError::NotFound(format!("app `{app}` has no saved revision"))
            })?,
        };
        let bytes = store.load(app, &revision).await?.ok_or_else(|| {
            PersistError::NotFound(format!("app `{app}` has no revision {revision}"))
        })?;
        let state = SavedState::decode(&bytes).map_err(|e| PersistError::Damaged {
            revision: revision.to_string(),
            reason: e.to_string(),
        })?;
        Ok((revision, state))
    }

    /// What an app starting now should restore: the latest revision when persistence is
    /// enabled. While the store is unreachable this waits and retries (the app does not take
    /// events meanwhile); a revision that cannot be read is an ERROR and the app starts empty.
    pub async fn state_to_restore(&self, app: &str) -> Option<SavedState> {
        if !self.enabled || self.store.is_none() {
            return None;
        }
        let mut backoff = Duration::from_millis(200);
        let mut attempts = 0u32;
        loop {
            match self.load(app, None).await {
                Ok((revision, state)) => {
                    self.lock().insert(app.to_string(), revision.clone());
                    tracing::info!(app, %revision, covered_seq = state.covered_seq, "Restoring the app's state from the latest revision.");
                    return Some(state);
                }
                Err(PersistError::NotFound(_)) => return None,
                Err(e) if e.is_transient() => {
                    attempts += 1;
                    if attempts == 1 || attempts.is_multiple_of(10) {
                        tracing::warn!(app, attempts, error = %e, "The persistence store is unreachable; the app waits for it to restore its state.");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    tracing::error!(app, error = %e, "The app's saved state cannot be restored; it starts with an empty state.");
                    return None;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Revision>> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
