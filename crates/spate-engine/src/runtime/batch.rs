//! Taking input events in runs: [`AppRuntime::send_batch`].
//!
//! Per-event delivery has a fixed cost (moving the clock, the receivers loop, the output
//! hand-over) that dominates stateless queries. A run of events may instead go through the
//! query as one chunk when nothing could tell the difference from sending them one at a time:
//!
//! - structurally (decided once, at construction): the stream's only receiver is a plain
//!   global query on the direct path (filters and a projection: no state, no timers, no
//!   rate limiter), whose output goes to a stream nothing in the app reads, or nowhere. Then
//!   delivering an event cannot change anything later events see, and each row's output is
//!   exactly the rows it would produce alone.
//! - per event: moving the clock to it would do nothing but move the clock (no timer due,
//!   triggers armed, no partition purge due, no incremental aggregation to advance). The
//!   first event of each run gets a full [`AppRuntime::advance`], so a run is cut wherever
//!   per-event processing would fire something.
//! - per call: the sink would see only one stream (the input stream or the query's target),
//!   so handing it all rows of a run in one call keeps the order it would see.
//!
//! Each row is evaluated with the clock it would have had (the running maximum of the event
//! times), and an evaluation error drops only that row's output, is logged after the rows
//! before it are delivered, and processing goes on with the next row, as [`AppRuntime::send`]
//! would do.

use super::{AppRuntime, OutputSink, QueryRef, Receiver, log_dropped};
use crate::env::Env;
use crate::event::{ChunkRef, EventKind};
use crate::plan::{AppPlan, OutputTarget, StreamId};
use crate::query::{QueryRuntime, Side};
use crate::value::Value;

/// Longest run handed over as one chunk (bounds the output buffer's growth).
const MAX_RUN: usize = 1024;

/// Kinds of a run: all current.
static CURRENT: [EventKind; MAX_RUN] = [EventKind::Current; MAX_RUN];

/// Per stream, the query that may take a run of the stream's events as one chunk.
pub(super) fn batch_queries(
    plan: &AppPlan,
    queries: &[Option<QueryRuntime>],
    receivers: &[Vec<Receiver>],
) -> Vec<Option<u32>> {
    receivers
        .iter()
        .map(|rs| {
            if !plan.aggregations.is_empty() {
                return None;
            }
            let [
                Receiver::Query {
                    query,
                    side: Side::Left,
                },
            ] = rs.as_slice()
            else {
                return None;
            };
            let q = &plan.queries[*query as usize];
            queries.get(*query as usize)?.as_ref()?;
            let sink_only = match q.output.target {
                OutputTarget::Stream(t) => {
                    receivers[t as usize].is_empty() && plan.streams[t as usize].partition.is_none()
                }
                OutputTarget::Discard => true,
                OutputTarget::Table(_) | OutputTarget::Window(_) => false,
            };
            (q.direct && q.rate.is_none() && q.partition.is_none() && sink_only).then_some(*query)
        })
        .collect()
}

impl AppRuntime {
    /// Sends events into input stream `stream`, in order: event `i` has time `ts[i]` and the
    /// row `values[i * arity..(i + 1) * arity]` (rows back to back, each matching the
    /// stream's schema). What the sink sees (rows, order, sequence numbers), the state, and
    /// the errors logged are those of calling [`AppRuntime::send`] for each event in turn;
    /// only the sink may get several consecutive rows in one call.
    // Kept out of line: it is the unit profiles measure (callgrind `--toggle-collect`).
    #[inline(never)]
    pub fn send_batch(
        &mut self,
        stream: StreamId,
        ts: &[i64],
        values: &[Value],
        sink: &mut dyn OutputSink,
    ) {
        let arity = self.plan.stream(stream).schema.len();
        debug_assert_eq!(values.len(), ts.len() * arity);
        let Some(q) = self.batch_target(stream) else {
            for (i, &t) in ts.iter().enumerate() {
                self.send(stream, t, &values[i * arity..(i + 1) * arity], sink);
            }
            return;
        };
        let mut nows = std::mem::take(&mut self.batch_nows);
        let n = ts.len();
        let mut i = 0;
        while i < n {
            // The first event of a run moves the clock as `send` would, firing what is due.
            self.input_seq += 1;
            self.advance(ts[i], sink);
            nows.clear();
            nows.push(self.clock);
            // Delivering the run changes nothing `advance` looks at (see the module doc).
            let quiet = self.quiet_until();
            let end = n.min(i + MAX_RUN);
            let mut j = i + 1;
            while j < end && (ts[j] < quiet || ts[j] < self.clock) {
                self.clock = self.clock.max(ts[j]);
                nows.push(self.clock);
                j += 1;
            }
            self.input_seq += (j - i - 1) as u64;
            let chunk = ChunkRef {
                arity,
                ts: &ts[i..j],
                kinds: &CURRENT[..j - i],
                values: &values[i * arity..j * arity],
                batch: false,
            };
            self.deliver_run(stream, q, chunk, &nows, sink);
            i = j;
        }
        self.batch_nows = nows;
    }

    /// The query taking runs of `stream` now, if runs may be taken: the sink must not see
    /// both the input and the output (it would see them interleaved event by event).
    fn batch_target(&self, stream: StreamId) -> Option<usize> {
        let q = (*self.batch_query.get(stream as usize)?)? as usize;
        if self.observed[stream as usize]
            && let OutputTarget::Stream(t) = self.plan.queries[q].output.target
            && self.observed[t as usize]
        {
            return None;
        }
        Some(q)
    }

    /// `advance(now)` only moves the clock for any `now` before this time (triggers armed, no
    /// incremental aggregations, no purge or timer due), or for any `now` behind the clock.
    #[inline]
    fn quiet_until(&self) -> i64 {
        if !self.triggers_armed || !self.aggregations.is_empty() {
            return i64::MIN;
        }
        let next_timer = self.scheduler.next_due().unwrap_or(i64::MAX);
        self.purge_due.min(next_timer)
    }

    /// Delivers a run of events of `stream` to its one (direct) query `q`, row `i` seeing
    /// the clock `nows[i]`.
    fn deliver_run(
        &mut self,
        stream: StreamId,
        q: usize,
        chunk: ChunkRef<'_>,
        nows: &[i64],
        sink: &mut dyn OutputSink,
    ) {
        let s = stream as usize;
        let n = chunk.len();
        let mut from = 0;
        while from < n {
            let rest = chunk.slice(from, n);
            let env = Env {
                tables: &self.tables,
                windows: &self.windows,
                aggregations: &self.aggregations,
            };
            let Some(query) = self.queries[q].as_mut() else {
                return;
            };
            let result = query.process_direct(rest, &nows[from..], &env);
            // Rows up to and including a failing one have been handled.
            let end = match &result {
                Ok(()) => n,
                Err((row, _)) => from + row + 1,
            };
            if self.observed[s] {
                sink.on_events(stream, self.out_seq[s], chunk.slice(from, end));
                self.out_seq[s] += (end - from) as u64;
            }
            self.emit(QueryRef::Global(q), sink);
            if let Err((_, e)) = result {
                log_dropped(&e.query, &e.message);
            }
            from = end;
        }
    }
}
