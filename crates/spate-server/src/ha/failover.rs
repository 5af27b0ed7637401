//! Taking over from a failed active node, in the order of `docs/ha.md` §4: seal the replica and
//! take its queues; build the apps without opening any port; restore exactly the revision the
//! last control message named; replay the queued entries with their original timestamps,
//! suppressing outputs the failed node published; then open the sources and answer `true` on
//! the probe; persist once as the new passive's baseline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spate_cluster::coord::NodeInfo;
use spate_cluster::sync::{SenderConfig, SyncSender};

use super::convert::entry_from_sync;
use super::{HaState, NodeRole};
use crate::app::saved_state::SavedState;
use crate::app::task::AppTask;
use crate::app::{AppManager, AppStatus};
use crate::persistence::Persistence;

/// How long a control message waits for the outputs the snapshot produced to be delivered.
const DELIVERY_WAIT: Duration = Duration::from_secs(10);
/// How long the takeover waits for the apps to be replayed and open.
const START_WAIT: Duration = Duration::from_secs(60);

/// What a node taking over from a failed active node starts an app from (docs/ha.md §4).
#[derive(Debug, Default)]
pub struct Takeover {
    /// The revision named by the last control message (`None`: an empty state).
    pub revision: Option<String>,
    /// The entries after it, in seq order, with their original timestamps.
    pub entries: Vec<spate_cluster::sync::Entry>,
    /// The outputs the failed node published, per output stream: not published again.
    pub published: std::collections::BTreeMap<String, u64>,
}

/// Takes over as the active node at `epoch`.
pub async fn take_over(
    manager: &Arc<AppManager>,
    ha: &HaState,
    sender: SenderConfig,
    epoch: u64,
    peers: &[NodeInfo],
) {
    let started = Instant::now();
    ha.replica.seal(epoch);
    let mut takeovers = HashMap::new();
    let mut replayed = 0;
    for r in ha.replica.take_replay() {
        if !r.replayable {
            tracing::error!(
                app = r.app,
                "The passive queue of the app is not a complete log since its last snapshot (the pair ran degraded); events acknowledged meanwhile may be lost."
            );
        }
        replayed += r.entries.len();
        takeovers.insert(
            r.app.clone(),
            Takeover {
                revision: r.restore.map(|c| c.revision),
                entries: r.entries,
                published: r.published,
            },
        );
    }
    let peer = peers.iter().find_map(|p| p.properties.event_sync_address());
    ha.begin_term(epoch, SyncSender::start(sender, peer));
    manager.set_takeovers(takeovers);
    if let Some(catalog) = ha.catalog.get() {
        match catalog.all().await {
            Ok(apps) => {
                let changed = super::apps::sync_dir(manager.apps_dir(), apps);
                if changed > 0 {
                    tracing::info!(
                        changed,
                        "Apps directory brought in line with the apps deployed over REST on the failed node."
                    );
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "Cannot read the apps deployed over REST on the failed node; deploying the local apps directory.")
            }
        }
    }
    manager.deploy_directory().await;
    manager.set_takeovers(HashMap::new());
    let deadline = Instant::now() + START_WAIT;
    while manager
        .list()
        .iter()
        .any(|a| a.status() == AppStatus::Starting)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    ha.set_role(NodeRole::Active);
    tracing::info!(
        epoch,
        entries = replayed,
        "Took over as the active node: state restored, {replayed} queued entries replayed, sources open in {} ms.",
        started.elapsed().as_millis()
    );
    // The baseline for the passive; not awaited: its control waits for the outputs to be
    // delivered, and the role loop must stay free to act on a fence meanwhile.
    let manager = manager.clone();
    tokio::spawn(async move { manager.persist_all(false).await });
}

/// The state an app restores on takeover: exactly the revision the last control named; with
/// no control, an empty state when the queue starts at the first entry, else the latest.
pub async fn state_of(persistence: &Persistence, app: &str, t: &Takeover) -> Option<SavedState> {
    let Some(revision) = &t.revision else {
        if t.entries.first().is_none_or(|e| e.seq == 1) {
            return None;
        }
        return persistence.state_to_restore(app).await;
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        match persistence.load(app, Some(revision)).await {
            Ok((_, state)) => {
                tracing::info!(app, %revision, covered_seq = state.covered_seq, "Restoring the revision named by the last control message.");
                return Some(state);
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(app, error = %e, "The persistence store is unreachable; the takeover waits for it.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(app, %revision, error = %e, "The revision named by the last control message cannot be restored; restoring the latest.");
                return persistence.state_to_restore(app).await;
            }
        }
    }
}

/// Replays the queued entries in seq order, suppressing what the failed node published.
pub fn replay(task: &mut AppTask, t: Takeover) {
    task.outputs.suppress(&t.published);
    let plan = task.def.plan.clone();
    let mut batch = Vec::with_capacity(t.entries.len());
    for entry in t.entries {
        match entry_from_sync(&plan, entry) {
            Ok(e) => batch.push(e),
            Err(e) => {
                tracing::error!(app = task.def.name, error = %e, "A queued entry does not fit the app; it is skipped.")
            }
        }
    }
    let n = batch.len();
    task.apply(batch);
    tracing::info!(
        app = task.def.name,
        entries = n,
        applied_seq = task.applied_seq,
        "Replayed the passive queue."
    );
}

/// After a persist: once the outputs the snapshot produced are delivered (so none of them is
/// lost when the passive trims its queue), tell the passive.
pub async fn send_control(
    ha: &HaState,
    app: &str,
    revision: &spate_store::Revision,
    state: &SavedState,
    produced: &[(String, u64)],
) {
    let until = Instant::now() + DELIVERY_WAIT;
    while !ha.delivered_all(app, produced) {
        if Instant::now() > until {
            tracing::warn!(
                app,
                "Outputs of the snapshot are not delivered yet; the passive keeps its queue until the next persist."
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    ha.control(app, &revision.to_string(), state.covered_seq);
}

/// Fenced or shutting down: stop publishing and forwarding.
pub fn end_term(ha: &HaState) {
    if let Some(sender) = ha.end_term() {
        match Arc::try_unwrap(sender) {
            Ok(sender) => sender.shutdown(),
            Err(shared) => drop(shared),
        }
    }
}
