//! The app manager: deploys apps (from the apps directory at start, or over REST), runs each in
//! its own task fed from its [`InputLog`], and stops them.
//!
//! Deploying is all-or-nothing and happens without awaiting, so two requests for one name
//! cannot both succeed: the app is checked, its sinks made, its sources bound (ports are taken
//! now, so a busy port fails the deploy) but closed, and only then is it registered. Its task
//! first restores the latest saved state, then opens the log to the sources.

pub mod definition;
pub mod saved_state;
pub mod task;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use spate_engine::runtime::{AppRuntime, QueryResult};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::connector::{self, Services, SinkContext, SourceContext, SourceGuard};
use crate::ha::failover::Takeover;
use crate::ha::forward::Forwarder;
use crate::input_journal::{self, Journal};
use crate::input_log::{self, InputLog};
use crate::metrics::{app_labels, stream_labels};
use crate::persistence::{PersistError, Persistence};
use crate::store_table::StoreTables;
pub use definition::{AppDefinition, InvalidApp};
use saved_state::SavedState;
use task::{AppTask, Command, Outputs};

/// How often the wall clock is appended to every app's log as a tick.
pub const TICK_INTERVAL: Duration = Duration::from_millis(100);
/// How long a stop waits for an app task to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where an app is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AppStatus {
    /// Restoring its state; sources do not take events yet.
    Starting = 0,
    /// Taking events.
    Active = 1,
    /// Stopped (being undeployed or the node is shutting down).
    Stopped = 2,
}

impl AppStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Starting => "starting",
            AppStatus::Active => "active",
            AppStatus::Stopped => "inactive",
        }
    }

    fn from_u8(v: u8) -> AppStatus {
        match v {
            0 => AppStatus::Starting,
            1 => AppStatus::Active,
            _ => AppStatus::Stopped,
        }
    }
}

/// A deployed app.
pub struct AppHandle {
    pub def: Arc<AppDefinition>,
    /// The file the app text lives in (deleted on undeploy).
    pub file: Option<PathBuf>,
    pub log: Arc<InputLog>,
    commands: mpsc::UnboundedSender<Command>,
    status: Arc<AtomicU8>,
    sources: Mutex<Vec<SourceGuard>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl AppHandle {
    pub fn status(&self) -> AppStatus {
        AppStatus::from_u8(self.status.load(Ordering::Acquire))
    }

    /// Stops the sources: the log takes no more events.
    pub fn stop_sources(&self) {
        self.log.close();
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(command(tx)).ok()?;
        rx.await.ok()
    }

    /// A snapshot and the sequence number it covers.
    pub async fn snapshot(&self, drain: bool) -> Option<SavedState> {
        self.snapshot_with_outputs(drain).await.map(|(s, _)| s)
    }

    /// A snapshot, and the last output seq produced per observed stream at that cut.
    pub async fn snapshot_with_outputs(
        &self,
        drain: bool,
    ) -> Option<(SavedState, Vec<(String, u64)>)> {
        self.ask(|reply| Command::Snapshot { drain, reply }).await
    }

    /// Replaces the running state.
    pub async fn restore(&self, state: SavedState) -> Result<(), String> {
        self.ask(|reply| Command::Restore { state, reply })
            .await
            .unwrap_or_else(|| Err("the app has stopped".into()))
    }

    /// Runs an on-demand query.
    pub async fn query(&self, text: String) -> Result<QueryResult, String> {
        self.ask(|reply| Command::Query { text, reply })
            .await
            .unwrap_or_else(|| Err("the app has stopped".into()))
    }
}

/// Why a deploy failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Invalid(#[from] InvalidApp),
    #[error("an app named `{0}` is already deployed")]
    Exists(String),
    #[error("app `{app}`: {message}")]
    Connector { app: String, message: String },
    #[error("app `{app}`: cannot save the app file {file}: {message}")]
    Save {
        app: String,
        file: String,
        message: String,
    },
    #[error(
        "this node is the passive node of an HA pair; deploy on the active node (GET /siddhi-apps/ha/is-active-node answers true there)"
    )]
    NotActive,
}

/// Where a deploy comes from.
pub enum DeploySource {
    /// A file in the apps directory.
    File(PathBuf),
    /// The REST API: the text is saved to the apps directory; `replace` allows an update.
    Rest { replace: bool },
}

/// Every deployed app.
pub struct AppManager {
    apps: Mutex<BTreeMap<String, Arc<AppHandle>>>,
    services: Arc<Services>,
    persistence: Arc<Persistence>,
    apps_dir: PathBuf,
    /// Where apps' input journals live, when the journal is on.
    journal_root: Option<PathBuf>,
    /// HA: how the apps deployed next start after a failover, by app name.
    takeovers: Mutex<std::collections::HashMap<String, Takeover>>,
    /// HA: the next input-log seq of apps undeployed in this process, by name.
    next_seqs: Mutex<std::collections::HashMap<String, u64>>,
}

impl AppManager {
    /// A manager deploying into `apps_dir`; with `journal_root`, every app's input log is
    /// journaled there.
    pub fn new(
        services: Arc<Services>,
        persistence: Arc<Persistence>,
        apps_dir: PathBuf,
        journal_root: Option<PathBuf>,
    ) -> AppManager {
        AppManager {
            apps: Mutex::default(),
            services,
            persistence,
            apps_dir,
            journal_root,
            takeovers: Mutex::default(),
            next_seqs: Mutex::default(),
        }
    }

    /// HA: the apps deployed next restore and replay these instead of the latest revision.
    pub fn set_takeovers(&self, takeovers: std::collections::HashMap<String, Takeover>) {
        *self
            .takeovers
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = takeovers;
    }

    fn ha(&self) -> Option<&Arc<crate::ha::HaState>> {
        self.services.ha.as_ref()
    }

    /// The directory apps are deployed from.
    pub fn apps_dir(&self) -> &Path {
        &self.apps_dir
    }

    pub fn persistence(&self) -> &Arc<Persistence> {
        &self.persistence
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<AppHandle>>> {
        self.apps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The app called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<AppHandle>> {
        self.lock().get(name).cloned()
    }

    /// Every app, by name.
    pub fn list(&self) -> Vec<Arc<AppHandle>> {
        self.lock().values().cloned().collect()
    }

    /// Deploys every `*.siddhi` file of the apps directory; failures are logged.
    pub async fn deploy_directory(&self) -> usize {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&self.apps_dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "siddhi"))
                .collect(),
            Err(e) => {
                tracing::warn!(dir = %self.apps_dir.display(), error = %e, "Cannot read the apps directory.");
                return 0;
            }
        };
        files.sort();
        let mut deployed = 0;
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(file = %file.display(), error = %e, "Cannot read the app file.");
                    continue;
                }
            };
            match self.deploy(&text, DeploySource::File(file.clone())).await {
                Ok((app, _)) => {
                    deployed += 1;
                    tracing::info!(app = app.def.name, file = %file.display(), "Siddhi app deployed.");
                }
                Err(e) => {
                    tracing::error!(file = %file.display(), error = %e, "Siddhi app not deployed.")
                }
            }
        }
        deployed
    }

    /// Deploys an app; returns it and whether it is new (false: it replaced one).
    pub async fn deploy(
        &self,
        text: &str,
        source: DeploySource,
    ) -> Result<(Arc<AppHandle>, bool), DeployError> {
        if matches!(source, DeploySource::Rest { .. })
            && self
                .ha()
                .is_some_and(|ha| ha.role() != crate::ha::NodeRole::Active)
        {
            return Err(DeployError::NotActive);
        }
        let def = Arc::new(definition::define(text, |v| std::env::var(v).ok())?);
        let mut file = match &source {
            DeploySource::File(path) => Some(path.clone()),
            DeploySource::Rest { .. } => Some(self.apps_dir.join(format!("{}.siddhi", def.name))),
        };
        let mut replaced = false;
        if let DeploySource::Rest { replace: true } = source
            && let Some(old) = self.get(&def.name)
        {
            // The new text goes where the old one was, so a restart deploys it once.
            file = old.file.clone().or(file);
            self.undeploy(&def.name, false).await;
            replaced = true;
        }
        let handle = {
            let mut apps = self.lock();
            if apps.contains_key(&def.name) {
                return Err(DeployError::Exists(def.name.clone()));
            }
            let (handle, task) = self.build(def.clone(), file.clone())?;
            if let (DeploySource::Rest { .. }, Some(file)) = (&source, &file) {
                save_file(file, text).map_err(|e| DeployError::Save {
                    app: def.name.clone(),
                    file: file.display().to_string(),
                    message: e.to_string(),
                })?;
            }
            let handle = Arc::new(handle);
            apps.insert(def.name.clone(), handle.clone());
            self.spawn(handle.clone(), task);
            handle
        };
        if let (DeploySource::Rest { .. }, Some(ha)) = (&source, self.ha()) {
            ha.record_app(&def.name, Some(text)).await;
            self.baseline(&handle).await;
        }
        Ok((handle, !replaced))
    }

    /// HA: persists an app deployed over REST once it runs, so the passive node's queue of it
    /// starts from a control message (a replaced app's old entries are trimmed).
    async fn baseline(&self, handle: &AppHandle) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while handle.status() == AppStatus::Starting && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Err(e) = self.persist(handle, false).await {
            tracing::warn!(app = handle.def.name, error = %e, "No baseline snapshot for the passive node; it gets one at the next persist.");
        }
    }

    /// Makes the app's log, sinks, runtime and sources (closed); nothing runs yet.
    fn build(
        &self,
        def: Arc<AppDefinition>,
        file: Option<PathBuf>,
    ) -> Result<(AppHandle, AppTask), DeployError> {
        let app = def.name.as_str();
        let fail = |message: String| DeployError::Connector {
            app: app.to_string(),
            message,
        };
        let journal = match &self.journal_root {
            Some(root) => Some(
                Journal::open(input_journal::app_dir(root, app))
                    .map_err(|e| fail(format!("cannot open the input journal: {e}")))?,
            ),
            None => None,
        };
        let (log, reader) = InputLog::with_journal(input_log::DEFAULT_CAPACITY, journal);
        if let Some(next) = self
            .next_seqs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(app)
        {
            log.continue_from(next);
        }
        let log = Arc::new(log);
        if let Some(ha) = self.ha() {
            log.set_forwarder(Forwarder::start(
                ha.clone(),
                app.to_string(),
                def.plan.clone(),
            ));
        }
        let mut outputs = Outputs::new(&def, self.ha().cloned());
        for a in &def.sinks {
            let schema = def.plan.stream(a.stream).schema.clone();
            let ctx = SinkContext {
                app,
                stream_name: &a.stream_name,
                schema: &schema,
                services: &self.services,
            };
            let sink = connector::sink(&a.spec.kind)
                .and_then(|f| f.create(&a.spec, &ctx))
                .map_err(fail)?;
            let counter = self
                .services
                .metrics
                .events_out
                .get_or_create(&stream_labels(app, &a.stream_name))
                .clone();
            outputs.add(a.stream, sink, counter);
        }
        let mut runtime =
            AppRuntime::new(def.plan.clone()).map_err(|d| fail(d.one_line(&def.text)))?;
        for s in outputs.observed() {
            runtime.observe(s);
        }
        let stores = StoreTables::open(
            &def.plan,
            &self.services.datasources,
            &self.services.data_dir,
        )
        .map_err(fail)?;
        if let Some(stores) = &stores {
            stores.record(&mut runtime);
        }
        // HA: no port opens before the state is restored and the passive's queue replayed.
        let sources = if self.ha().is_some() {
            Vec::new()
        } else {
            start_sources(&def, &log, &self.services).map_err(fail)?
        };
        let (commands, command_rx) = mpsc::unbounded_channel();
        let task = AppTask {
            def: def.clone(),
            runtime,
            outputs,
            reader,
            commands: command_rx,
            processing: self
                .services
                .metrics
                .processing_seconds
                .get_or_create(&app_labels(app))
                .clone(),
            applied_seq: 0,
            pending_start: true,
            stores,
        };
        let handle = AppHandle {
            def,
            file,
            log,
            commands,
            status: Arc::new(AtomicU8::new(AppStatus::Starting as u8)),
            sources: Mutex::new(sources),
            task: Mutex::new(None),
        };
        Ok((handle, task))
    }

    /// Runs the app: restore, open the log, tick the clock, apply entries.
    fn spawn(&self, handle: Arc<AppHandle>, mut task: AppTask) {
        let persistence = self.persistence.clone();
        let (log, status) = (handle.log.clone(), handle.status.clone());
        let name = handle.def.name.clone();
        let takeover = self
            .takeovers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&name);
        let deferred = self
            .ha()
            .is_some()
            .then(|| (handle.clone(), self.services.clone()));
        let join = tokio::spawn(async move {
            let saved = match &takeover {
                Some(t) => crate::ha::failover::state_of(&persistence, &name, t).await,
                None => persistence.state_to_restore(&name).await,
            };
            if let Err(e) = task.begin(saved) {
                tracing::error!(app = name, error = %e, "The saved state does not fit the app; it starts with an empty state.");
                task.begin(None).ok();
            }
            task.start_stores(!task.pending_start).await;
            if let Some(t) = takeover {
                crate::ha::failover::replay(&mut task, t);
            }
            match log.journal_after(task.applied_seq) {
                Ok(entries) if !entries.is_empty() => {
                    let count = entries.len();
                    task.apply(entries);
                    tracing::info!(
                        app = name,
                        entries = count,
                        applied_seq = task.applied_seq,
                        "Replayed the input journal."
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(app = name, error = %e, "Cannot read the input journal; acknowledged events after the last snapshot are lost.")
                }
            }
            log.open_at(task.applied_seq + 1, task.runtime.clock());
            if let Some((handle, services)) = deferred {
                match start_sources(&handle.def, &log, &services) {
                    Ok(sources) => {
                        *handle
                            .sources
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner) = sources
                    }
                    Err(e) => {
                        tracing::error!(app = name, error = %e, "The app's sources cannot start; it takes no events.")
                    }
                }
            }
            status.store(AppStatus::Active as u8, Ordering::Release);
            let ticker = tokio::spawn(tick(log.clone()));
            task.run().await;
            ticker.abort();
            status.store(AppStatus::Stopped as u8, Ordering::Release);
        });
        *handle.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(join);
    }

    /// Stops and removes an app; with `delete_file`, its file too. Returns false if unknown.
    pub async fn undeploy(&self, name: &str, delete_file: bool) -> bool {
        let Some(handle) = self.lock().remove(name) else {
            return false;
        };
        stop(&handle).await;
        if self.ha().is_some() {
            self.next_seqs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name.to_string(), handle.log.next_seq());
        }
        handle.log.remove_journal();
        let streams: Vec<String> = handle
            .def
            .plan
            .streams
            .iter()
            .map(|s| s.name.clone())
            .collect();
        self.services.metrics.forget_app(name, &streams);
        if delete_file
            && let Some(file) = &handle.file
            && let Err(e) = std::fs::remove_file(file)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(app = name, file = %file.display(), error = %e, "Cannot delete the app file.");
        }
        if delete_file && let Some(ha) = self.ha() {
            ha.record_app(name, None).await;
        }
        tracing::info!(app = name, "Siddhi app undeployed.");
        true
    }

    /// Snapshots an app (after applying what its log holds when `drain`) and saves it.
    pub async fn persist(
        &self,
        handle: &AppHandle,
        drain: bool,
    ) -> Result<spate_store::Revision, PersistError> {
        let started = Instant::now();
        let ha = self.ha();
        if ha.is_some_and(|ha| !ha.may_publish()) {
            return Err(PersistError::NotActive);
        }
        let (state, produced) = handle.snapshot_with_outputs(drain).await.ok_or_else(|| {
            PersistError::NotFound(format!("app `{}` has stopped", handle.def.name))
        })?;
        if ha.is_some_and(|ha| !ha.may_publish()) {
            return Err(PersistError::NotActive);
        }
        let revision = self
            .persistence
            .save(&handle.def.name, &state, started)
            .await?;
        handle.log.trim_journal(state.covered_seq);
        if let Some(ha) = ha {
            crate::ha::failover::send_control(ha, &handle.def.name, &revision, &state, &produced)
                .await;
        }
        Ok(revision)
    }

    /// Persists every active app; logs one line for the lot. Returns whether all succeeded.
    pub async fn persist_all(&self, drain: bool) -> bool {
        let apps: Vec<_> = self
            .list()
            .into_iter()
            .filter(|a| a.status() == AppStatus::Active)
            .collect();
        if apps.is_empty() {
            return true;
        }
        let mut ok = true;
        for app in &apps {
            match self.persist(app, drain).await {
                Ok(revision) => {
                    tracing::debug!(app = app.def.name, %revision, "App state persisted.")
                }
                Err(e) => {
                    ok = false;
                    tracing::error!(app = app.def.name, error = %e, "Persisting the app's state failed; it is retried at the next persist.");
                }
            }
        }
        if ok {
            tracing::info!(apps = apps.len(), "Siddhi apps persisted successfully");
        }
        ok
    }

    /// Closes every source (shutdown, first step).
    pub fn stop_sources(&self) {
        for app in self.list() {
            app.stop_sources();
        }
    }

    /// Stops every app task (shutdown, last step).
    pub async fn stop_all(&self) {
        let apps: Vec<_> = std::mem::take(&mut *self.lock()).into_values().collect();
        for app in apps {
            stop(&app).await;
        }
    }
}

async fn stop(handle: &AppHandle) {
    handle.stop_sources();
    if handle.commands.send(Command::Stop).is_err() {
        tracing::debug!(app = handle.def.name, "The app task had already stopped.");
    }
    let join = handle
        .task
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(join) = join
        && tokio::time::timeout(STOP_TIMEOUT, join).await.is_err()
    {
        tracing::warn!(app = handle.def.name, "The app task did not stop in time.");
    }
}

/// Starts the sources of `def`, appending to `log`.
fn start_sources(
    def: &AppDefinition,
    log: &Arc<InputLog>,
    services: &Arc<Services>,
) -> Result<Vec<SourceGuard>, String> {
    let mut sources = Vec::new();
    for a in &def.sources {
        let schema = def.plan.stream(a.stream).schema.clone();
        let ctx = SourceContext {
            app: &def.name,
            stream: a.stream,
            stream_name: &a.stream_name,
            schema: &schema,
            log,
            services,
        };
        sources.push(connector::source(&a.spec.kind).and_then(|f| f.start(&a.spec, &ctx))?);
    }
    Ok(sources)
}

/// Appends the wall clock to the log every [`TICK_INTERVAL`] until the log closes for good.
async fn tick(log: Arc<InputLog>) {
    let mut interval = tokio::time::interval(TICK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if let Err(input_log::AppendError::Closed) = log.append_tick() {
            return;
        }
    }
}

/// Writes the app text next to the others: to a temporary file, then renamed into place.
fn save_file(file: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("siddhi.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}
