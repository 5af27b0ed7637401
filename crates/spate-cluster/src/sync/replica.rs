//! The passive's copy of the active's input logs: a bounded queue per app, trimmed by control
//! messages, plus the last control (the revision to restore) and the published-output
//! watermarks; handed over in seq order for replay when this node becomes active.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use super::frame::{Control, Entry, Watermark};

/// What the failover needs for one app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppReplay {
    /// The app.
    pub app: String,
    /// The last control message: restore exactly this revision (none: start from empty state).
    pub restore: Option<Control>,
    /// The entries after the restored revision, in seq order, with their original timestamps.
    pub entries: Vec<Entry>,
    /// Highest published output seq per output stream: suppress outputs at or below.
    pub published: BTreeMap<String, u64>,
    /// Whether `restore` + `entries` is a complete log: the first entry follows the covered
    /// seq (or is seq 1 with no control) and no seq is missing. When false, replaying would
    /// lose events (the active ran without this passive for a while); the server must say so.
    pub replayable: bool,
}

/// Counters for health and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaStats {
    /// The highest sender epoch accepted.
    pub epoch: u64,
    /// Entries queued, all apps.
    pub queued: usize,
    /// Entries received since start (duplicates excluded).
    pub received: u64,
    /// Duplicates ignored (resent entries the queue already had).
    pub duplicates: u64,
    /// Entries refused because an app's queue was full.
    pub refused_full: u64,
    /// Frames rejected as malformed, and handshakes refused.
    pub rejected: u64,
    /// Control messages applied.
    pub controls: u64,
    /// The last protocol error seen, for `/health`.
    pub last_error: Option<String>,
}

/// Why an entry was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued.
    Queued,
    /// Already held (a resend); acknowledge it again.
    Duplicate,
    /// The app's queue is at capacity.
    Full,
    /// The connection is no longer the current one (superseded, sealed, or older epoch).
    Stale,
}

#[derive(Debug, Default)]
struct AppQueue {
    entries: VecDeque<Entry>,
    last_seq: Option<u64>,
    control: Option<Control>,
    gap_from: Option<u64>,
    published: BTreeMap<String, u64>,
}

impl AppQueue {
    fn replayable(&self) -> bool {
        let base = self.control.as_ref().map_or(0, |c| c.covered_seq);
        self.gap_from.is_none() && self.entries.front().is_none_or(|e| e.seq == base + 1)
    }
}

#[derive(Debug, Default)]
struct State {
    apps: BTreeMap<String, AppQueue>,
    epoch: u64,
    sealed: Option<u64>,
    current_conn: u64,
    stats: ReplicaStats,
}

/// The passive's queues; shared by the receiver's connections and the failover code.
#[derive(Debug)]
pub struct Replica {
    capacity: usize,
    state: Mutex<State>,
}

impl Replica {
    /// Queues of at most `capacity` entries per app (`eventByteBufferQueueCapacity`).
    pub fn new(capacity: usize) -> Replica {
        Replica {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a sender connection at `epoch`; it supersedes every earlier connection. A newer
    /// epoch than any seen clears the queues (a new active's log). `Err` names why not.
    pub(crate) fn admit(&self, epoch: u64, conn: u64) -> Result<Vec<(String, u64)>, String> {
        let mut s = self.lock();
        if let Some(sealed) = s.sealed {
            return Err(format!(
                "this node became the active node at epoch {sealed}; it accepts no events"
            ));
        }
        if epoch < s.epoch {
            return Err(format!(
                "epoch {epoch} is older than epoch {} already seen: the sender has been fenced",
                s.epoch
            ));
        }
        if epoch > s.epoch {
            if !s.apps.is_empty() {
                tracing::info!(
                    old = s.epoch,
                    new = epoch,
                    "New active epoch; event-sync queues cleared."
                );
            }
            s.apps.clear();
            s.stats.queued = 0;
            s.epoch = epoch;
            s.stats.epoch = epoch;
        }
        s.current_conn = conn;
        Ok(s.apps
            .iter()
            .filter_map(|(app, q)| q.last_seq.map(|seq| (app.clone(), seq)))
            .collect())
    }

    /// Whether `conn` is still the connection entries are taken from.
    pub(crate) fn is_current(&self, conn: u64) -> bool {
        let s = self.lock();
        s.sealed.is_none() && s.current_conn == conn
    }

    /// Queues an entry received on `conn`.
    pub(crate) fn push(&self, conn: u64, entry: Entry) -> PushOutcome {
        let capacity = self.capacity;
        let mut s = self.lock();
        if s.sealed.is_some() || s.current_conn != conn {
            return PushOutcome::Stale;
        }
        let q = s.apps.entry(entry.app.clone()).or_default();
        if q.last_seq.is_some_and(|last| entry.seq <= last)
            || q.control
                .as_ref()
                .is_some_and(|c| entry.seq <= c.covered_seq)
        {
            s.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        if q.entries.len() >= capacity {
            s.stats.refused_full += 1;
            return PushOutcome::Full;
        }
        let expected = q
            .last_seq
            .or(q.control.as_ref().map(|c| c.covered_seq))
            .map(|last| last + 1);
        if expected.is_some_and(|next| entry.seq != next) && q.gap_from.is_none() {
            tracing::warn!(app = %entry.app, seq = entry.seq, expected = ?expected,
                "Event-sync log has a gap; the app cannot fail over without loss until the next snapshot.");
            q.gap_from = Some(entry.seq);
        }
        q.last_seq = Some(entry.seq);
        q.entries.push_back(entry);
        s.stats.received += 1;
        s.stats.queued += 1;
        PushOutcome::Queued
    }

    /// The last seq held for `app`.
    pub fn last_seq(&self, app: &str) -> Option<u64> {
        self.lock().apps.get(app).and_then(|q| q.last_seq)
    }

    /// Applies a control message: drops the entries the revision covers and remembers it.
    pub(crate) fn control(&self, conn: u64, control: Control) -> bool {
        let mut s = self.lock();
        if s.sealed.is_some() || s.current_conn != conn {
            return false;
        }
        let q = s.apps.entry(control.app.clone()).or_default();
        if q.control
            .as_ref()
            .is_some_and(|c| c.covered_seq > control.covered_seq)
        {
            return true; // an older snapshot than the one we know; nothing to do
        }
        let before = q.entries.len();
        while q
            .entries
            .front()
            .is_some_and(|e| e.seq <= control.covered_seq)
        {
            q.entries.pop_front();
        }
        let trimmed = before - q.entries.len();
        if q.gap_from.is_some_and(|gap| gap <= control.covered_seq + 1) {
            q.gap_from = None;
        }
        if q.last_seq.is_none_or(|last| last < control.covered_seq) {
            q.last_seq = Some(control.covered_seq);
        }
        tracing::debug!(app = %control.app, revision = %control.revision,
            covered = control.covered_seq, trimmed, "Event-sync queue trimmed.");
        q.control = Some(control);
        s.stats.queued = s.stats.queued.saturating_sub(trimmed);
        s.stats.controls += 1;
        true
    }

    /// Records a published-output watermark.
    pub(crate) fn published(&self, conn: u64, w: Watermark) -> bool {
        let mut s = self.lock();
        if s.sealed.is_some() || s.current_conn != conn {
            return false;
        }
        let q = s.apps.entry(w.app).or_default();
        let seq = q.published.entry(w.stream).or_insert(0);
        *seq = (*seq).max(w.seq);
        true
    }

    /// Records a protocol error for the stats.
    pub(crate) fn rejected(&self, error: String) {
        let mut s = self.lock();
        s.stats.rejected += 1;
        s.stats.last_error = Some(error);
    }

    /// This node became active at `epoch`: accept nothing more from any sender (the old
    /// active's connections are closed at their next frame).
    pub fn seal(&self, epoch: u64) {
        let mut s = self.lock();
        s.sealed = Some(epoch);
        s.current_conn = 0;
    }

    /// Opens the replica again (this node is passive again, e.g. after being fenced).
    pub fn unseal(&self) {
        let mut s = self.lock();
        s.sealed = None;
        s.apps.clear();
        s.stats.queued = 0;
    }

    /// Entries queued for `app`.
    pub fn depth(&self, app: &str) -> usize {
        self.lock().apps.get(app).map_or(0, |q| q.entries.len())
    }

    /// Counters.
    pub fn stats(&self) -> ReplicaStats {
        self.lock().stats.clone()
    }

    /// A copy of what a failover would replay now (for inspection and tests).
    pub fn snapshot(&self) -> Vec<AppReplay> {
        let s = self.lock();
        s.apps.iter().map(|(app, q)| replay_of(app, q)).collect()
    }

    /// Takes everything for replay, in seq order per app, leaving the queues empty. Seal first
    /// so nothing arrives after.
    pub fn take_replay(&self) -> Vec<AppReplay> {
        let mut s = self.lock();
        let apps = std::mem::take(&mut s.apps);
        s.stats.queued = 0;
        apps.iter().map(|(app, q)| replay_of(app, q)).collect()
    }
}

fn replay_of(app: &str, q: &AppQueue) -> AppReplay {
    AppReplay {
        app: app.to_string(),
        restore: q.control.clone(),
        entries: q.entries.iter().cloned().collect(),
        published: q.published.clone(),
        replayable: q.replayable(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::frame::EntryKind;

    fn tick(app: &str, seq: u64) -> Entry {
        Entry {
            app: app.into(),
            seq,
            timestamp: seq as i64,
            kind: EntryKind::Tick,
        }
    }

    fn control(app: &str, covered: u64) -> Control {
        Control {
            app: app.into(),
            revision: format!("{covered}__{app}"),
            covered_seq: covered,
        }
    }

    #[test]
    fn trimming_keeps_what_the_snapshot_does_not_cover() {
        let r = Replica::new(10);
        r.admit(1, 1).unwrap();
        for seq in 1..=5 {
            assert_eq!(r.push(1, tick("A", seq)), PushOutcome::Queued);
        }
        r.push(1, tick("B", 1));
        assert!(r.control(1, control("A", 3)));
        let replay = r.take_replay();
        assert_eq!(replay[0].restore, Some(control("A", 3)));
        assert_eq!(
            replay[0].entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [4, 5]
        );
        assert!(replay[0].replayable);
        assert_eq!(replay[1].entries.len(), 1, "other apps are untouched");
        assert!(
            replay[1].replayable,
            "seq 1 without a control is a complete log"
        );
    }

    #[test]
    fn duplicates_full_queues_and_gaps() {
        let r = Replica::new(2);
        r.admit(1, 1).unwrap();
        r.push(1, tick("A", 1));
        assert_eq!(r.push(1, tick("A", 1)), PushOutcome::Duplicate);
        r.push(1, tick("A", 2));
        assert_eq!(r.push(1, tick("A", 3)), PushOutcome::Full);
        r.control(1, control("A", 2));
        assert_eq!(r.push(1, tick("A", 5)), PushOutcome::Queued);
        assert!(!r.snapshot()[0].replayable, "seq 3 and 4 are missing");
        r.control(1, control("A", 4));
        assert!(r.snapshot()[0].replayable);
    }

    #[test]
    fn epochs_supersede_and_sealing_stops_everything() {
        let r = Replica::new(5);
        r.admit(2, 1).unwrap();
        r.push(1, tick("A", 1));
        assert!(r.admit(1, 2).is_err(), "a fenced sender is refused");
        assert_eq!(r.admit(2, 3).unwrap(), vec![("A".to_string(), 1)]);
        assert_eq!(
            r.push(1, tick("A", 2)),
            PushOutcome::Stale,
            "superseded connection"
        );
        assert!(
            r.admit(3, 4).unwrap().is_empty(),
            "a new epoch starts a new log"
        );
        r.seal(3);
        assert_eq!(r.push(4, tick("A", 1)), PushOutcome::Stale);
        assert!(r.admit(3, 5).is_err());
    }
}
