//! The app runtime: stream junctions, the app clock and timers, and depth-first delivery of
//! every event through the queries, exactly in Siddhi's order.
//!
//! An input event first moves the clock (firing due timers, which may emit events of their
//! own), then goes to the receivers of its stream in subscription order; each receiver's
//! output is delivered downstream completely before the next receiver runs. A runtime error
//! in a query stops the delivery of that chunk to the stream's later receivers and is logged,
//! as Siddhi's junction does; processing goes on with the next event.

mod batch;
#[cfg(test)]
mod batch_tests;
mod partition;
#[cfg(test)]
mod purge_tests;
mod store_query;
mod trigger;

use std::sync::Arc;

use spate_ql::Diagnostic;

use crate::aggregation::AggregationRuntime;
use crate::env::Env;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::named_window::NamedWindowRuntime;
use crate::plan::{AppPlan, InputSource, OutputTarget, StreamId};
use crate::query::{QueryRuntime, Side};
use crate::scheduler::{OwnerKind, Scheduler, TimerId, TimerOwner};
use crate::snapshot::{self, SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::table::{TableChange, TableRuntime, ops};
use crate::value::Value;
use partition::{PartitionRt, query_slot, subscriptions};

pub use store_query::QueryResult;

/// Receives the events that reach observed streams.
pub trait OutputSink {
    /// `events` arrived at `stream`; the first of them is the stream's `first_seq`-th output
    /// (counting from 0 over the app's life, snapshots included), the basis of output ids.
    fn on_events(&mut self, stream: StreamId, first_seq: u64, events: ChunkRef<'_>);
}

/// A sink that drops everything.
pub struct NullSink;

impl OutputSink for NullSink {
    fn on_events(&mut self, _stream: StreamId, _first_seq: u64, _events: ChunkRef<'_>) {}
}

/// A query input subscribed to a stream or a named window.
#[derive(Clone, Copy, Debug)]
enum Receiver {
    Query {
        query: u32,
        side: Side,
    },
    /// A partition reading the stream: by key, or (for streams it does not key) every
    /// instance.
    Partition(u32),
    /// An incremental aggregation fed by the stream.
    Aggregation(u32),
}

/// Where a chunk is being delivered: a stream's or a named window's subscribers, or the
/// queries of one partition instance reading a stream.
#[derive(Clone, Copy, Debug)]
enum Junction {
    Stream(usize),
    Window(usize),
    Local { p: usize, k: usize, s: usize },
}

/// A running query: a plain one, or query `j` of instance `k` of partition `p`.
#[derive(Clone, Copy, Debug)]
enum QueryRef {
    Global(usize),
    Part { p: usize, k: usize, j: usize },
}

/// Deepest nesting of deliveries before a cycle is assumed (a query feeding its own input).
const MAX_DEPTH: u32 = 512;

pub struct AppRuntime {
    plan: Arc<AppPlan>,
    /// By plan index; none for queries of partitions (their copies live per instance).
    queries: Vec<Option<QueryRuntime>>,
    partitions: Vec<PartitionRt>,
    /// Reused buffer for partition keys.
    key_buf: String,
    /// App time of the next partition purge (see [`AppRuntime::next_purge_due`]).
    purge_due: i64,
    triggers: Vec<trigger::TriggerRt>,
    /// Periodic and cron triggers have been armed (the clock has moved).
    triggers_armed: bool,
    /// Partition instances in creation order (their timers were registered in this order).
    instance_order: Vec<(u32, u32)>,
    tables: Vec<TableRuntime>,
    windows: Vec<NamedWindowRuntime>,
    aggregations: Vec<AggregationRuntime>,
    receivers: Vec<Vec<Receiver>>,
    window_receivers: Vec<Vec<Receiver>>,
    observed: Vec<bool>,
    out_seq: Vec<u64>,
    scheduler: Scheduler,
    clock: i64,
    input_seq: u64,
    due: Vec<TimerId>,
    depth: u32,
    /// Empty chunks that stand in for queries' outputs while [`AppRuntime::emit`] delivers
    /// them (one per nesting level). Boxed: they trade places with the queries' boxed outputs.
    #[allow(clippy::vec_box)]
    spares: Vec<Box<Chunk>>,
    /// Per input stream: the query that may take a run of its events as one chunk (see
    /// [`AppRuntime::send_batch`]).
    batch_query: Vec<Option<u32>>,
    /// The clock each row of a run sees, reused.
    batch_nows: Vec<i64>,
}

impl AppRuntime {
    /// Builds a runtime; fails if the plan uses something this build cannot run.
    pub fn new(plan: Arc<AppPlan>) -> Result<AppRuntime, Diagnostic> {
        if let Some(d) = plan.unsupported_diagnostic() {
            return Err(d);
        }
        let mut scheduler = Scheduler::new();
        let mut receivers = vec![Vec::new(); plan.streams.len()];
        let mut window_receivers = vec![Vec::new(); plan.windows.len()];
        let mut queries = Vec::with_capacity(plan.queries.len());
        // Aggregations are defined before any query runs, so they read their streams first.
        for (a, agg) in plan.aggregations.iter().enumerate() {
            receivers[agg.source as usize].push(Receiver::Aggregation(a as u32));
        }
        let aggregations = (0..plan.aggregations.len())
            .map(|a| AggregationRuntime::new(plan.clone(), a))
            .collect();
        let mut partitions: Vec<PartitionRt> = plan
            .partitions
            .iter()
            .map(|_| PartitionRt::new(plan.streams.len()))
            .collect();
        for (i, q) in plan.queries.iter().enumerate() {
            let query = i as u32;
            if let Some(p) = q.partition {
                let p = p as usize;
                let j = plan.partitions[p]
                    .queries
                    .iter()
                    .position(|&x| x == i)
                    .unwrap_or(0);
                if j == 0 {
                    // The partition subscribes where it stands in the app.
                    for s in partition::global_reads(&plan, p) {
                        receivers[s as usize].push(Receiver::Partition(p as u32));
                    }
                }
                let local = &mut partitions[p].local;
                subscriptions(q, |source, side| {
                    if let InputSource::Stream(s) = source {
                        local[s as usize].push((j as u32, side));
                    }
                });
                queries.push(None);
                continue;
            }
            subscriptions(q, |source, side| match source {
                InputSource::Stream(s) => {
                    receivers[s as usize].push(Receiver::Query { query, side })
                }
                InputSource::Window(w) => {
                    window_receivers[w as usize].push(Receiver::Query { query, side })
                }
                InputSource::Table(_) | InputSource::Aggregation(_) => {}
            });
            queries.push(Some(QueryRuntime::new(plan.clone(), i, &mut scheduler)));
        }
        let triggers = trigger::triggers(&plan, &mut scheduler);
        let tables = plan
            .tables
            .iter()
            .map(|t| {
                TableRuntime::new(&t.name, t.schema.clone(), t.primary_key.clone(), &t.indexes)
            })
            .collect();
        let windows = plan
            .windows
            .iter()
            .enumerate()
            .map(|(i, w)| NamedWindowRuntime::new(w, i as u32, &mut scheduler))
            .collect();
        let n = plan.streams.len();
        let purge_due = if plan.partitions.iter().any(|p| p.purge.is_some()) {
            i64::MIN
        } else {
            i64::MAX
        };
        let batch_query = batch::batch_queries(&plan, &queries, &receivers);
        Ok(AppRuntime {
            batch_query,
            batch_nows: Vec::new(),
            plan,
            purge_due,
            queries,
            partitions,
            key_buf: String::new(),
            triggers_armed: triggers.is_empty(),
            triggers,
            instance_order: Vec::new(),
            tables,
            windows,
            aggregations,
            receivers,
            window_receivers,
            observed: vec![false; n],
            out_seq: vec![0; n],
            scheduler,
            clock: 0,
            input_seq: 0,
            due: Vec::new(),
            depth: 0,
            spares: Vec::new(),
        })
    }

    /// Keeps the row changes of table `table` (an index into the plan's tables) for
    /// [`AppRuntime::take_table_changes`]: for hosts that mirror `@store` tables.
    pub fn record_table_changes(&mut self, table: usize) {
        if let Some(t) = self.tables.get_mut(table) {
            t.record_changes();
        }
    }

    /// Calls `f` with each recorded table's changes since the last call, oldest first.
    pub fn take_table_changes(&mut self, f: &mut dyn FnMut(usize, Vec<TableChange>)) {
        for (i, t) in self.tables.iter_mut().enumerate() {
            if t.has_changes() {
                f(i, t.take_changes());
            }
        }
    }

    /// Adds rows read from a table's store without recording them as changes; returns how
    /// many were dropped because their primary key was taken.
    pub fn load_table(&mut self, table: usize, rows: Vec<Vec<Value>>) -> usize {
        self.tables.get_mut(table).map_or(0, |t| t.load(rows))
    }

    /// The rows of table `table` in scan order.
    pub fn table_rows(&self, table: usize) -> Vec<Vec<Value>> {
        self.tables
            .get(table)
            .map(|t| t.rows().map(<[Value]>::to_vec).collect())
            .unwrap_or_default()
    }

    pub fn plan(&self) -> &Arc<AppPlan> {
        &self.plan
    }

    /// The app clock: the latest event time seen (playback) or the last tick (live).
    pub fn clock(&self) -> i64 {
        self.clock
    }

    /// Input events handled so far.
    pub fn input_seq(&self) -> u64 {
        self.input_seq
    }

    /// Makes the sink receive the events of `stream`.
    pub fn observe(&mut self, stream: StreamId) {
        self.observed[stream as usize] = true;
    }

    /// Sends one event into an input stream. `row` must match the stream's schema.
    // Kept out of line: it is the unit profiles measure (callgrind `--toggle-collect`).
    #[inline(never)]
    pub fn send(&mut self, stream: StreamId, ts: i64, row: &[Value], sink: &mut dyn OutputSink) {
        debug_assert_eq!(row.len(), self.plan.stream(stream).schema.len());
        self.input_seq += 1;
        self.advance(ts, sink);
        let tsa = [ts];
        self.deliver(stream, ChunkRef::single(&tsa, row), sink);
    }

    /// Moves the clock to `now` (if it is not behind) and fires the timers due by then.
    pub fn advance(&mut self, now: i64, sink: &mut dyn OutputSink) {
        if now < self.clock {
            return;
        }
        self.clock = now;
        if !self.triggers_armed {
            self.arm_triggers(now);
        }
        if now >= self.purge_due {
            self.purge_partitions(now);
        }
        for a in &mut self.aggregations {
            a.advance(now);
        }
        if self.scheduler.next_due().is_none_or(|t| t > now) {
            return;
        }
        let mut due = std::mem::take(&mut self.due);
        self.scheduler.take_due(now, &mut due);
        for &id in &due {
            while let Some(t) = self.scheduler.pop_due(id, now) {
                let owner = self.scheduler.owner(id);
                self.fire(owner, t, sink);
            }
            self.scheduler.rearm(id);
        }
        due.clear();
        self.due = due;
    }

    fn fire(&mut self, owner: TimerOwner, due: i64, sink: &mut dyn OutputSink) {
        let e = owner.element as usize;
        match owner.kind {
            OwnerKind::Query | OwnerKind::PartitionQuery => {
                let Some(r) = self.query_ref(owner) else {
                    return;
                };
                let env = Env {
                    tables: &self.tables,
                    windows: &self.windows,
                    aggregations: &self.aggregations,
                };
                let Some(query) = query_slot(&mut self.queries, &mut self.partitions, r) else {
                    return;
                };
                let result =
                    query.on_timer(owner.stage, due, self.clock, &mut self.scheduler, &env);
                match result {
                    Ok(()) => self.emit(r, sink),
                    Err(err) => log_dropped(&err.query, &err.message),
                }
            }
            OwnerKind::NamedWindow => {
                self.windows[e].on_timer(due, self.clock, &mut self.scheduler);
                self.publish_window(e, sink);
            }
            OwnerKind::Trigger => self.fire_trigger(e, due, sink),
        }
    }

    fn deliver(&mut self, stream: StreamId, chunk: ChunkRef<'_>, sink: &mut dyn OutputSink) {
        let s = stream as usize;
        if self.observed[s] {
            sink.on_events(stream, self.out_seq[s], chunk);
            self.out_seq[s] += chunk.len() as u64;
        }
        if !self.receivers[s].is_empty() {
            self.run_receivers(Junction::Stream(s), chunk, sink);
        }
    }

    /// Hands `chunk` to every subscriber of a junction in turn, each depth first.
    fn run_receivers(
        &mut self,
        junction: Junction,
        chunk: ChunkRef<'_>,
        sink: &mut dyn OutputSink,
    ) {
        if self.depth >= MAX_DEPTH {
            let name = match junction {
                Junction::Stream(s) | Junction::Local { s, .. } => &self.plan.streams[s].name,
                Junction::Window(w) => &self.plan.windows[w].name,
            };
            log_dropped(
                name,
                "events loop back into their own stream too deeply; dropping",
            );
            return;
        }
        self.depth += 1;
        let count = match junction {
            Junction::Stream(s) => self.receivers[s].len(),
            Junction::Window(w) => self.window_receivers[w].len(),
            Junction::Local { p, s, .. } => self.partitions[p].local[s].len(),
        };
        for i in 0..count {
            let (r, side) = match junction {
                Junction::Stream(s) => match self.receivers[s][i] {
                    Receiver::Query { query, side } => (QueryRef::Global(query as usize), side),
                    Receiver::Partition(p) => {
                        self.route_partition(p as usize, s, chunk, sink);
                        continue;
                    }
                    Receiver::Aggregation(a) => {
                        let agg = &mut self.aggregations[a as usize];
                        if let Err(e) = agg.process(chunk, self.clock, &self.tables) {
                            log_dropped(&agg.name, &e);
                            break;
                        }
                        continue;
                    }
                },
                Junction::Window(w) => match self.window_receivers[w][i] {
                    Receiver::Query { query, side } => (QueryRef::Global(query as usize), side),
                    Receiver::Partition(_) | Receiver::Aggregation(_) => continue,
                },
                Junction::Local { p, k, s } => {
                    let (j, side) = self.partitions[p].local[s][i];
                    (
                        QueryRef::Part {
                            p,
                            k,
                            j: j as usize,
                        },
                        side,
                    )
                }
            };
            let env = Env {
                tables: &self.tables,
                windows: &self.windows,
                aggregations: &self.aggregations,
            };
            let Some(query) = query_slot(&mut self.queries, &mut self.partitions, r) else {
                continue;
            };
            match query.process(side, chunk, self.clock, &mut self.scheduler, &env) {
                Ok(()) => self.emit(r, sink),
                Err(e) => {
                    log_dropped(&e.query, &e.message);
                    break;
                }
            }
        }
        self.depth -= 1;
    }

    /// Delivers what named window `w` just published to its readers.
    fn publish_window(&mut self, w: usize, sink: &mut dyn OutputSink) {
        if self.windows[w].out.is_empty() {
            return;
        }
        let arity = self.windows[w].out.arity();
        let out = std::mem::replace(&mut self.windows[w].out, Chunk::new(arity));
        for (start, end) in out.segments() {
            // Readers of a named window take what it publishes as one batch (Siddhi allows
            // batch processing on receivers fed by a window).
            let chunk = ChunkRef {
                batch: true,
                ..out.slice(start, end)
            };
            self.run_receivers(Junction::Window(w), chunk, sink);
        }
        let mut out = out;
        out.clear();
        self.windows[w].out = out;
    }

    /// Delivers what query `r` produced to its target.
    fn emit(&mut self, r: QueryRef, sink: &mut dyn OutputSink) {
        let q = self.plan_index(r);
        let Some(query) = query_slot(&mut self.queries, &mut self.partitions, r) else {
            return;
        };
        if query.out_mut().is_empty() {
            return;
        }
        let plan = &self.plan.queries[q];
        if let OutputTarget::Stream(target) = plan.output.target {
            let t = target as usize;
            let local =
                matches!(r, QueryRef::Part { .. }) && self.plan.streams[t].partition.is_some();
            if !local && self.receivers[t].is_empty() {
                // Nothing in the app reads the target: only the sink sees these rows, so they
                // are handed over in place (no spare swap; nothing can re-enter this query).
                let out = query.out_mut();
                normalise_kinds(out, plan.selector.expired_on);
                if self.observed[t] {
                    for (start, end) in out.segments() {
                        sink.on_events(target, self.out_seq[t], out.slice(start, end));
                        self.out_seq[t] += (end - start) as u64;
                    }
                }
                out.clear();
                return;
            }
        }
        // Swapped with a spare (empty) chunk, so nothing is built or dropped per call.
        let mut out = self.spares.pop().unwrap_or_default();
        out.set_arity(query.out_mut().arity());
        std::mem::swap(query.out_mut(), &mut out);
        let expired_on = self.plan.queries[q].selector.expired_on;
        normalise_kinds(&mut out, expired_on);
        match self.plan.queries[q].output.target {
            OutputTarget::Stream(target) => self.emit_to_stream(r, target, &out, sink),
            OutputTarget::Table(t) => {
                if let Some(op) = &self.plan.queries[q].output.table_op {
                    for (start, end) in out.segments() {
                        let rows = out.slice(start, end);
                        if let Err(e) =
                            ops::apply(&mut self.tables[t as usize], op, rows, self.clock)
                        {
                            log_dropped(&self.plan.queries[q].name, &e);
                            break;
                        }
                    }
                }
            }
            OutputTarget::Window(w) => {
                for (start, end) in out.segments() {
                    self.windows[w as usize].insert(
                        out.slice(start, end),
                        self.clock,
                        &mut self.scheduler,
                    );
                    self.publish_window(w as usize, sink);
                }
            }
            OutputTarget::Discard => {}
        }
        out.clear();
        if let Some(query) = query_slot(&mut self.queries, &mut self.partitions, r)
            && query.out_mut().is_empty()
        {
            std::mem::swap(query.out_mut(), &mut out);
        }
        self.spares.push(out);
    }

    /// Output rows into a stream: an inner stream stays within the partition instance.
    fn emit_to_stream(
        &mut self,
        r: QueryRef,
        target: StreamId,
        out: &Chunk,
        sink: &mut dyn OutputSink,
    ) {
        let t = target as usize;
        if let (QueryRef::Part { p, k, .. }, Some(_)) = (r, self.plan.streams[t].partition) {
            for (start, end) in out.segments() {
                self.run_receivers(Junction::Local { p, k, s: t }, out.slice(start, end), sink);
            }
            return;
        }
        for (start, end) in out.segments() {
            self.deliver(target, out.slice(start, end), sink);
        }
    }

    fn plan_index(&self, r: QueryRef) -> usize {
        match r {
            QueryRef::Global(q) => q,
            QueryRef::Part { p, j, .. } => self.plan.partitions[p].queries[j],
        }
    }

    /// The running query a timer belongs to.
    fn query_ref(&self, owner: TimerOwner) -> Option<QueryRef> {
        let q = owner.element as usize;
        match owner.kind {
            OwnerKind::Query => Some(QueryRef::Global(q)),
            _ => {
                let p = self.plan.queries.get(q)?.partition? as usize;
                let j = self.plan.partitions[p]
                    .queries
                    .iter()
                    .position(|&x| x == q)?;
                Some(QueryRef::Part {
                    p,
                    k: owner.instance as usize,
                    j,
                })
            }
        }
    }

    /// The whole app state as a sealed snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = StateWriter::new();
        w.str(&self.plan.name);
        w.i64(self.clock);
        w.u64(self.input_seq);
        w.usize(self.out_seq.len());
        for s in &self.out_seq {
            w.u64(*s);
        }
        snapshot_all(
            &mut w,
            &self.queries,
            |q| q.as_ref().map_or("", |q| q.plan().element_id.as_str()),
            |q, w| {
                if let Some(q) = q {
                    q.snapshot(w);
                }
            },
        );
        snapshot_all(&mut w, &self.tables, |t| &t.name, |t, w| t.snapshot(w));
        snapshot_all(
            &mut w,
            &self.windows,
            |win| &win.name,
            |win, w| win.snapshot(w),
        );
        snapshot_all(
            &mut w,
            &self.aggregations,
            |a| &a.name,
            |a, w| a.snapshot(w),
        );
        self.snapshot_partitions(&mut w);
        self.snapshot_triggers(&mut w);
        w.section(|w| self.scheduler.snapshot(w));
        snapshot::seal(&w.into_bytes())
    }

    /// Restores a snapshot taken from a runtime of the same app.
    pub fn restore(&mut self, bytes: &[u8]) -> SnapshotResult<()> {
        let body = snapshot::unseal(bytes)?;
        let mut r = StateReader::new(body);
        let name = r.str()?;
        if name != self.plan.name {
            return Err(SnapshotError::Mismatch(format!(
                "snapshot is of app `{name}`, not `{}`",
                self.plan.name
            )));
        }
        self.clock = r.i64()?;
        self.input_seq = r.u64()?;
        let n = r.usize()?;
        if n != self.out_seq.len() {
            return Err(SnapshotError::Mismatch(format!(
                "app has {} streams, snapshot {n}",
                self.out_seq.len()
            )));
        }
        for s in &mut self.out_seq {
            *s = r.u64()?;
        }
        restore_all(
            &mut r,
            "queries",
            &mut self.queries,
            |q| {
                q.as_ref()
                    .map_or(String::new(), |q| q.plan().element_id.clone())
            },
            |q, r| match q {
                Some(q) => q.restore(r),
                None => Ok(()),
            },
        )?;
        restore_all(
            &mut r,
            "tables",
            &mut self.tables,
            |t| t.name.clone(),
            |t, r| t.restore(r),
        )?;
        restore_all(
            &mut r,
            "windows",
            &mut self.windows,
            |w| w.name.clone(),
            |w, r| w.restore(r),
        )?;
        restore_all(
            &mut r,
            "aggregations",
            &mut self.aggregations,
            |a| a.name.clone(),
            |a, r| a.restore(r),
        )?;
        self.restore_partitions(&mut r)?;
        self.restore_triggers(&mut r)?;
        let mut sec = r.section()?;
        self.scheduler.restore(&mut sec)?;
        sec.finish()?;
        r.finish()
    }
}

/// Writes the count of `items`, then each one's id and state section.
fn snapshot_all<T>(
    w: &mut StateWriter,
    items: &[T],
    id: impl Fn(&T) -> &str,
    snapshot: impl Fn(&T, &mut StateWriter),
) {
    w.usize(items.len());
    for item in items {
        w.str(id(item));
        w.section(|w| snapshot(item, w));
    }
}

/// Reads what [`snapshot_all`] wrote into `items`, checking counts and ids.
fn restore_all<T>(
    r: &mut StateReader<'_>,
    what: &str,
    items: &mut [T],
    id: impl Fn(&T) -> String,
    mut restore: impl FnMut(&mut T, &mut StateReader<'_>) -> SnapshotResult<()>,
) -> SnapshotResult<()> {
    let n = r.usize()?;
    if n != items.len() {
        return Err(SnapshotError::Mismatch(format!(
            "app has {} {what}, snapshot {n}",
            items.len()
        )));
    }
    for item in items {
        let (expected, found) = (id(item), r.str()?);
        if found != expected {
            return Err(SnapshotError::Mismatch(format!(
                "expected state of {expected}, found {found}"
            )));
        }
        let mut sec = r.section()?;
        restore(item, &mut sec)?;
        sec.finish()?;
    }
    Ok(())
}

/// Rows inserted into a stream are ordinary events there: expired rows become current.
#[inline]
fn normalise_kinds(out: &mut Chunk, expired_on: bool) {
    if expired_on {
        for r in 0..out.len() {
            if out.kind(r) == EventKind::Expired {
                out.set_kind(r, EventKind::Current);
            }
        }
    }
    out.batch = false;
}

#[cold]
fn log_dropped(query: &str, message: &str) {
    crate::diagnostics::runtime_error(&format!("query `{query}`: {message}"));
}
