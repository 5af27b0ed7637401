//! The app task: the one owner of an app's runtime. It applies input-log entries in sequence
//! order and answers commands (snapshot, restore, on-demand query) between entries, so a
//! snapshot and the sequence number it covers are taken at the same instant.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use spate_engine::event::ChunkRef;
use spate_engine::plan::{Schema, StreamId};
use spate_engine::runtime::{AppRuntime, OutputSink, QueryResult};
use spate_engine::value::Value;
use tokio::sync::{mpsc, oneshot};

use super::definition::AppDefinition;
use super::saved_state::SavedState;
use crate::connector::{OutputBatch, Sink};
use crate::ha::HaState;
use crate::input_log::{Entry, LogReader};
use crate::store_table::StoreTables;

/// What the node asks of a running app.
pub enum Command {
    /// Snapshot the state; with `drain`, first apply every entry already in the log.
    Snapshot {
        drain: bool,
        reply: oneshot::Sender<(SavedState, Vec<(String, u64)>)>,
    },
    /// Replace the state with a saved one.
    Restore {
        state: SavedState,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Run an on-demand query on the app's tables and windows.
    Query {
        text: String,
        reply: oneshot::Sender<Result<QueryResult, String>>,
    },
    /// Stop after the entries already taken.
    Stop,
}

/// Where the events of observed streams go.
pub struct Outputs {
    app: String,
    /// By stream id: the stream's name, schema and sinks.
    streams: Vec<StreamOutputs>,
    /// HA: the output gate, the term's epoch and the delivery reports.
    ha: Option<Arc<HaState>>,
    /// By stream id: the last output seq produced (to wait for before a control message).
    produced: Vec<Option<u64>>,
    /// By stream id: outputs at or below this seq were published by the previous active node.
    suppress: Vec<Option<u64>>,
}

/// A stream's name, schema, sinks and events-out counter.
type StreamOutputs = (String, Arc<Schema>, Vec<Box<dyn Sink>>, Option<Counter>);

impl Outputs {
    /// No sinks yet for the streams of `def`.
    pub fn new(def: &AppDefinition, ha: Option<Arc<HaState>>) -> Outputs {
        let n = def.plan.streams.len();
        Outputs {
            app: def.name.clone(),
            streams: def
                .plan
                .streams
                .iter()
                .map(|s| (s.name.clone(), s.schema.clone(), Vec::new(), None))
                .collect(),
            ha,
            produced: vec![None; n],
            suppress: vec![None; n],
        }
    }

    /// Suppresses the outputs the previous active node published (`stream` → last seq).
    pub fn suppress(&mut self, published: &std::collections::BTreeMap<String, u64>) {
        for (i, (name, ..)) in self.streams.iter().enumerate() {
            if let Some(seq) = published.get(name) {
                self.suppress[i] = Some(*seq);
            }
        }
    }

    /// The last output seq produced per observed stream.
    pub fn produced(&self) -> Vec<(String, u64)> {
        self.streams
            .iter()
            .zip(&self.produced)
            .filter_map(|((name, ..), seq)| seq.map(|s| (name.clone(), s)))
            .collect()
    }

    /// Adds a sink to `stream`, counting its events in `events_out`.
    pub fn add(&mut self, stream: StreamId, sink: Box<dyn Sink>, events_out: Counter) {
        if let Some(s) = self.streams.get_mut(stream as usize) {
            s.2.push(sink);
            s.3 = Some(events_out);
        }
    }

    /// The streams that have sinks.
    pub fn observed(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.streams
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.2.is_empty())
            .map(|(i, _)| i as StreamId)
    }
}

impl OutputSink for Outputs {
    fn on_events(&mut self, stream: StreamId, first_seq: u64, events: ChunkRef<'_>) {
        let i = stream as usize;
        let Some((name, schema, sinks, counter)) = self.streams.get_mut(i) else {
            return;
        };
        if events.is_empty() {
            return;
        }
        let last = first_seq + events.len() as u64 - 1;
        self.produced[i] = Some(last);
        let epoch = match &self.ha {
            // The output gate: a node that lost its lease publishes nothing more.
            Some(ha) if !ha.may_publish() => return,
            Some(ha) => ha.epoch(),
            None => 0,
        };
        // Outputs the previous active node already published are not published again.
        let skip = match self.suppress[i] {
            Some(w) if w >= first_seq => usize::try_from(w - first_seq + 1)
                .unwrap_or(usize::MAX)
                .min(events.len()),
            _ => 0,
        };
        if skip > 0
            && let Some(ha) = &self.ha
        {
            ha.published(&self.app, name, first_seq + skip as u64 - 1);
        }
        if skip == events.len() {
            return;
        }
        let events = ChunkRef {
            arity: events.arity,
            ts: &events.ts[skip..],
            kinds: &events.kinds[skip..],
            values: &events.values[skip * events.arity..],
            batch: events.batch,
        };
        let batch = OutputBatch {
            app: &self.app,
            epoch,
            stream: name,
            schema,
            first_seq: first_seq + skip as u64,
            events,
        };
        for sink in sinks.iter_mut() {
            sink.publish(&batch);
        }
        if let Some(c) = counter {
            c.inc_by(events.len() as u64);
        }
        if let Some(ha) = &self.ha
            && !sinks.iter().any(|s| s.reports_delivery())
        {
            ha.published(&self.app, name, last);
        }
    }
}

/// An app's runtime and everything that feeds it.
pub struct AppTask {
    pub def: Arc<AppDefinition>,
    pub runtime: AppRuntime,
    pub outputs: Outputs,
    pub reader: LogReader,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub processing: Histogram,
    /// The last input-log entry applied (0: none).
    pub applied_seq: u64,
    /// `start()` is still due: it runs at the time of the first entry (a fresh app only).
    pub pending_start: bool,
    /// The app's `@store(type='rdbms')` tables, mirrored to their databases.
    pub stores: Option<StoreTables>,
}

impl AppTask {
    /// Puts a saved state in place before the first entry; the state's sequence number becomes
    /// the applied one.
    pub fn begin(&mut self, saved: Option<SavedState>) -> Result<(), String> {
        let Some(saved) = saved else {
            self.pending_start = true;
            return Ok(());
        };
        self.restore(&saved)?;
        self.applied_seq = saved.covered_seq;
        self.pending_start = false;
        Ok(())
    }

    /// Builds a fresh runtime from the plan, restores `saved` into it and swaps it in; the
    /// running state is untouched if that fails.
    fn restore(&mut self, saved: &SavedState) -> Result<(), String> {
        let mut fresh = AppRuntime::new(self.def.plan.clone()).map_err(|d| d.message)?;
        fresh.restore(&saved.engine).map_err(|e| e.to_string())?;
        for s in self.outputs.observed().collect::<Vec<_>>() {
            fresh.observe(s);
        }
        if let Some(stores) = &self.stores {
            stores.record(&mut fresh);
        }
        self.runtime = fresh;
        Ok(())
    }

    /// Before the first entry: brings the `@store` tables and the state together (see
    /// [`StoreTables::start`]).
    pub async fn start_stores(&mut self, restored: bool) {
        if let Some(stores) = &mut self.stores {
            stores.start(&mut self.runtime, restored).await;
        }
    }

    /// Applies entries and answers commands until stopped.
    pub async fn run(mut self) {
        loop {
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    Some(Command::Stop) | None => break,
                    Some(c) => self.command(c),
                },
                batch = self.reader.recv() => match batch {
                    Some(batch) => self.apply(batch),
                    None => break,
                },
            }
        }
        tracing::debug!(
            app = self.def.name,
            applied_seq = self.applied_seq,
            "App task stopped."
        );
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Snapshot { drain, reply } => {
                if drain {
                    while let Some(batch) = self.reader.try_recv() {
                        self.apply(batch);
                    }
                }
                let state = SavedState {
                    covered_seq: self.applied_seq,
                    engine: self.runtime.snapshot(),
                };
                answer(reply, (state, self.outputs.produced()));
            }
            Command::Restore { state, reply } => {
                // Entries up to `applied_seq` have been taken from the log, so it stays: the
                // restored state simply stands in for what they did.
                let result = self.restore(&state);
                if result.is_ok() {
                    self.pending_start = false;
                    if let Some(stores) = &self.stores {
                        stores.restored(&self.runtime);
                    }
                }
                answer(reply, result);
            }
            Command::Query { text, reply } => {
                let result = self.runtime.query(&text).map_err(|diags| {
                    let first = diags.first().map(|d| d.one_line(&text)).unwrap_or_default();
                    if diags.len() > 1 {
                        format!("{first} (and {} more)", diags.len() - 1)
                    } else {
                        first
                    }
                });
                answer(reply, result);
            }
            Command::Stop => {}
        }
    }

    /// Applies entries in order, skipping those the state already holds. Consecutive events
    /// of one stream go to the engine as a batch (same outputs as one at a time).
    pub fn apply(&mut self, batch: Vec<Entry>) {
        let started = Instant::now();
        let mut run = Run::default();
        for entry in batch {
            let (seq, now) = match &entry {
                Entry::Event { seq, ts, .. } => (*seq, *ts),
                Entry::Tick { seq, now } => (*seq, *now),
            };
            if seq <= self.applied_seq {
                continue; // already in the restored state
            }
            if self.pending_start {
                self.pending_start = false;
                self.runtime.advance(now, &mut self.outputs);
                self.runtime.start(&mut self.outputs);
            }
            match entry {
                Entry::Event {
                    seq,
                    stream,
                    ts,
                    row,
                } => {
                    if run.stream != Some(stream) {
                        self.flush(&mut run);
                        run.stream = Some(stream);
                    }
                    run.times.push(ts);
                    run.values.extend(row);
                    run.last_seq = seq;
                }
                Entry::Tick { now, .. } => {
                    self.flush(&mut run);
                    self.runtime.advance(now, &mut self.outputs);
                    self.applied_seq = seq;
                }
            }
        }
        self.flush(&mut run);
        if let Some(stores) = &self.stores {
            stores.flush(&mut self.runtime);
        }
        self.processing.observe(started.elapsed().as_secs_f64());
    }

    /// Sends the events gathered in `run` and empties it.
    fn flush(&mut self, run: &mut Run) {
        if let Some(stream) = run.stream.take() {
            self.runtime
                .send_batch(stream, &run.times, &run.values, &mut self.outputs);
            self.applied_seq = run.last_seq;
        }
        run.times.clear();
        run.values.clear();
    }
}

/// Consecutive events of one stream waiting to be applied.
#[derive(Default)]
struct Run {
    stream: Option<StreamId>,
    times: Vec<i64>,
    values: Vec<Value>,
    /// The log sequence number of the last event in the run.
    last_seq: u64,
}

/// Sends a command's answer; the asker may have given up waiting, which is fine.
fn answer<T>(reply: oneshot::Sender<T>, value: T) {
    if reply.send(value).is_err() {
        tracing::debug!("A command's asker left before the answer.");
    }
}
