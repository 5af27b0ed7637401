//! The per-app input log: the ordered entries an app runtime consumes — event rows and clock
//! ticks — each with a sequence number and the time it was given.
//!
//! Everything that reaches an app goes through [`InputLog::append_events`] or
//! [`InputLog::append_tick`]: sources call the first, the wall-clock ticker the second. Each
//! entry gets the next sequence number and a timestamp that never goes backwards, under one
//! lock together with its enqueueing, so the order of sequence numbers is the order the
//! runtime sees. Replaying the same entries into a fresh runtime gives the same outputs,
//! because the runtime's only notion of time is the timestamps in the log.
//!
//! This is the seam for HA event sync: on the active node of a pair every appended batch also
//! goes, in seq order, to the app's forwarder ([`crate::ha::forward`]), which sends it to the
//! passive; an http source in `ack` mode answers its client once the passive holds it. A
//! snapshot names the last sequence number it covers, so the passive trims what the snapshot
//! holds and replays the rest after a failover.
//!
//! The log is bounded: when the app falls behind, appends fail with [`AppendError::Full`] and
//! sources answer with backpressure (HTTP 503) instead of buffering without limit. Until the
//! app has restored its state the log is closed to sources ([`AppendError::NotReady`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use spate_engine::plan::StreamId;
use spate_engine::value::Value;
use tokio::sync::mpsc;

use crate::ha::forward::{AckWait, Forwarder};
use crate::input_journal::Journal;

/// Batches the log holds before appends fail with [`AppendError::Full`].
pub const DEFAULT_CAPACITY: usize = 4096;

/// One entry of the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// An event for input stream `stream`, timestamped when it was appended.
    Event {
        seq: u64,
        stream: StreamId,
        ts: i64,
        row: Vec<Value>,
    },
    /// The wall clock reached `now` (epoch millis): timers due by then fire.
    Tick { seq: u64, now: i64 },
}

impl Entry {
    /// The entry's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Entry::Event { seq, .. } | Entry::Tick { seq, .. } => *seq,
        }
    }
}

/// Why an append was refused; nothing was appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The app is behind: the queue is full.
    #[error("the app's input queue is full; retry later")]
    Full,
    /// The app is starting (restoring its state) and does not take events yet.
    #[error("the app is starting and does not accept events yet; retry later")]
    NotReady,
    /// The app has stopped.
    #[error("the app has stopped")]
    Closed,
    /// The input journal could not be written (the disk is full or failing).
    #[error("the app's input journal cannot be written; retry later")]
    Journal,
}

/// What an accepted append covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The first sequence number given.
    pub first_seq: u64,
    /// How many entries.
    pub count: u64,
}

#[derive(Debug)]
struct Cursor {
    /// The sequence number the next entry gets.
    next_seq: u64,
    /// The last timestamp given (timestamps never go backwards).
    last_ts: i64,
    /// Where entries are written before they are acknowledged, when the journal is on.
    journal: Option<Journal>,
    /// Where entries are forwarded to the passive node (HA, active).
    forward: Option<Forwarder>,
}

/// The writing side of an app's input log.
#[derive(Debug)]
pub struct InputLog {
    cursor: Mutex<Cursor>,
    tx: mpsc::Sender<Vec<Entry>>,
    open: AtomicBool,
}

/// The reading side: the app task takes batches of entries in sequence order.
#[derive(Debug)]
pub struct LogReader {
    rx: mpsc::Receiver<Vec<Entry>>,
}

impl LogReader {
    /// The next batch; `None` once every writer is gone.
    pub async fn recv(&mut self) -> Option<Vec<Entry>> {
        self.rx.recv().await
    }

    /// A batch if one is waiting.
    pub fn try_recv(&mut self) -> Option<Vec<Entry>> {
        self.rx.try_recv().ok()
    }
}

/// Milliseconds since the epoch by the wall clock.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl InputLog {
    /// A closed log holding at most `capacity` batches, and its reader.
    pub fn new(capacity: usize) -> (InputLog, LogReader) {
        InputLog::with_journal(capacity, None)
    }

    /// [`InputLog::new`], writing every entry to `journal` before acknowledging it.
    pub fn with_journal(capacity: usize, journal: Option<Journal>) -> (InputLog, LogReader) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let log = InputLog {
            cursor: Mutex::new(Cursor {
                next_seq: 1,
                last_ts: i64::MIN,
                journal,
                forward: None,
            }),
            tx,
            open: AtomicBool::new(false),
        };
        (log, LogReader { rx })
    }

    /// Numbers the entries of this log from `next_seq` on at least (HA: an app replaced or
    /// redeployed under the same name goes on with the numbers its predecessor used, as the
    /// passive node and the event-sync sender know the app by name).
    pub fn continue_from(&self, next_seq: u64) {
        let mut cursor = self.lock();
        cursor.next_seq = cursor.next_seq.max(next_seq);
    }

    /// Opens the log to sources; the next entry gets sequence number `next_seq` (one past what
    /// the restored snapshot covers) and no timestamp before `min_ts`.
    pub fn open_at(&self, next_seq: u64, min_ts: i64) {
        let mut cursor = self.lock();
        cursor.next_seq = cursor.next_seq.max(next_seq);
        cursor.last_ts = cursor.last_ts.max(min_ts);
        let first = cursor.next_seq;
        if let Some(journal) = cursor.journal.as_mut()
            && let Err(e) = journal.start(first)
        {
            // Events cannot be acknowledged durably: refuse them rather than lose them.
            tracing::error!(error = %e, "Cannot start the input journal; sources answer 503 until it can be written.");
        }
        drop(cursor);
        self.open.store(true, Ordering::Release);
    }

    /// Forwards every entry appended from now on (HA: the active's event sync).
    pub fn set_forwarder(&self, forward: Forwarder) {
        self.lock().forward = Some(forward);
    }

    /// The journal's entries after `after` (to replay on start); none without a journal.
    pub fn journal_after(&self, after: u64) -> std::io::Result<Vec<Entry>> {
        match self.lock().journal.as_ref() {
            Some(journal) => journal.read_after(after),
            None => Ok(Vec::new()),
        }
    }

    /// Drops journal segments a stored snapshot covering `covered_seq` makes unnecessary.
    pub fn trim_journal(&self, covered_seq: u64) {
        let mut cursor = self.lock();
        let next = cursor.next_seq;
        if let Some(journal) = cursor.journal.as_mut()
            && let Err(e) = journal.trim(covered_seq, next)
        {
            tracing::warn!(error = %e, "Cannot trim the input journal; it is retried after the next persist.");
        }
    }

    /// Deletes the journal (the app is undeployed).
    pub fn remove_journal(&self) {
        let journal = self.lock().journal.take();
        if let Some(journal) = journal
            && let Err(e) = journal.remove()
        {
            tracing::warn!(error = %e, "Cannot delete the input journal.");
        }
    }

    /// Closes the log to sources (shutdown); entries already appended stay.
    pub fn close(&self) {
        self.open.store(false, Ordering::Release);
    }

    /// Whether sources may append.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// The sequence number the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    /// Appends events for `stream`, all with the current time, in order. Succeeds only when
    /// all of them are in the log.
    pub fn append_events(
        &self,
        stream: StreamId,
        rows: Vec<Vec<Value>>,
    ) -> Result<Appended, AppendError> {
        self.append_events_acked(stream, rows, false)
            .map(|(a, _)| a)
    }

    /// [`InputLog::append_events`]; with `wait` and a forwarder, also what resolves once the
    /// passive node holds the events.
    pub fn append_events_acked(
        &self,
        stream: StreamId,
        rows: Vec<Vec<Value>>,
        wait: bool,
    ) -> Result<(Appended, Option<AckWait>), AppendError> {
        if !self.is_open() {
            return Err(AppendError::NotReady);
        }
        if rows.is_empty() {
            let appended = Appended {
                first_seq: self.next_seq(),
                count: 0,
            };
            return Ok((appended, None));
        }
        self.append_with(wait, |seq, ts| {
            let n = rows.len() as u64;
            let batch = rows
                .into_iter()
                .enumerate()
                .map(|(i, row)| Entry::Event {
                    seq: seq + i as u64,
                    stream,
                    ts,
                    row,
                })
                .collect();
            (batch, n)
        })
    }

    /// Appends a clock tick at the current time. A tick that does not fit is dropped (the
    /// next one carries the clock on), so this never blocks.
    pub fn append_tick(&self) -> Result<Appended, AppendError> {
        if !self.is_open() {
            return Err(AppendError::NotReady);
        }
        self.append_with(false, |seq, now| (vec![Entry::Tick { seq, now }], 1))
            .map(|(a, _)| a)
    }

    /// Gives the entries built by `build(first_seq, ts)` their place in the log.
    fn append_with(
        &self,
        wait: bool,
        build: impl FnOnce(u64, i64) -> (Vec<Entry>, u64),
    ) -> Result<(Appended, Option<AckWait>), AppendError> {
        let mut cursor = self.lock();
        let permit = self.tx.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(()) => AppendError::Full,
            mpsc::error::TrySendError::Closed(()) => AppendError::Closed,
        })?;
        let ts = now_millis().max(cursor.last_ts);
        let first_seq = cursor.next_seq;
        let (batch, count) = build(first_seq, ts);
        if let Some(journal) = cursor.journal.as_mut()
            && let Err(e) = journal.write(&batch)
        {
            tracing::error!(error = %e, "Cannot write the input journal; the events are refused.");
            return Err(AppendError::Journal);
        }
        let acked = match cursor.forward.as_ref() {
            Some(forward) => forward.forward(&batch, wait)?,
            None => None,
        };
        cursor.next_seq += count;
        cursor.last_ts = ts;
        permit.send(batch);
        Ok((Appended { first_seq, count }, acked))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cursor> {
        // A panic while holding the lock cannot leave the cursor half-updated.
        self.cursor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_numbered_in_order_and_time_never_goes_back() {
        let (log, mut reader) = InputLog::new(8);
        assert_eq!(
            log.append_events(0, vec![vec![Value::Int(1)]]),
            Err(AppendError::NotReady)
        );
        log.open_at(10, i64::MAX - 5);
        let a = log
            .append_events(0, vec![vec![Value::Int(1)], vec![Value::Int(2)]])
            .expect("room");
        assert_eq!((a.first_seq, a.count), (10, 2));
        log.append_tick().expect("room");
        let first = reader.recv().await.expect("batch");
        assert_eq!(
            first.iter().map(Entry::seq).collect::<Vec<_>>(),
            vec![10, 11]
        );
        let Some(Entry::Tick { seq: 12, now }) =
            reader.recv().await.and_then(|b| b.first().cloned())
        else {
            panic!("expected a tick");
        };
        assert_eq!(now, i64::MAX - 5, "time does not go back");
    }

    #[tokio::test]
    async fn a_full_log_refuses_without_taking_a_number() {
        let (log, _reader) = InputLog::new(1);
        log.open_at(1, 0);
        log.append_tick().expect("room for one");
        assert_eq!(log.append_tick(), Err(AppendError::Full));
        assert_eq!(log.next_seq(), 2);
    }
}
