//! Output rate limiting (`output [all|first|last] every N events | <time>`, `output snapshot
//! every <time>`): what leaves a query after its selector, and when.
//!
//! A limiter receives the selector's output of one chunk and appends what should be emitted
//! now to `out` (several chunks separated with `split_here`, as Siddhi sends several). The
//! selector leaves Siddhi's reset events in a plain ungrouped chunk, as `QuerySelector` does,
//! because some limiters react to them; a limiter never emits one (Siddhi's
//! `sendToCallBacks` drops them). For grouped limiters the selector appends the group key
//! after the output attributes (`key_arity` hidden columns) and the limiter strips them.
//!
//! Timed limiters run on the app clock through the scheduler (`ticking.rs`); Siddhi 5.1.7 runs
//! `all`/`last` per time and every snapshot limiter on the wall clock even in playback, which
//! makes them untestable there — see `docs/divergences.md`.

use std::fmt;

use crate::event::{Chunk, ChunkRef};
use crate::query::selector::SelectorPlan;
use crate::scheduler::{Scheduler, TimerId};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};

mod latest;
mod per_event;
mod per_time;
mod rows;
mod snapshot;
mod ticking;

pub(crate) use rows::{Held, Keyed, Row};

/// Which events of a period a limiter emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateKind {
    All,
    First,
    Last,
}

/// A validated rate limit.
#[derive(Clone, Debug, PartialEq)]
pub enum RateSpec {
    /// `output [all|first|last] every N events`.
    Events { kind: RateKind, count: u64 },
    /// `output [all|first|last] every <time>`.
    Time { kind: RateKind, millis: i64 },
    /// `output snapshot every <time>`.
    Snapshot {
        millis: i64,
        /// The query reads through a window (or several streams, as a join does): Siddhi's
        /// `isWindow`.
        windowed: bool,
        /// Output attributes that are aggregate calls at top level, ascending.
        aggregate_outputs: Vec<usize>,
    },
}

/// A rate limit as compiled into a query.
#[derive(Clone, Debug)]
pub struct RatePlan {
    pub spec: RateSpec,
    /// Width of the output rows (without hidden key columns).
    pub arity: usize,
    /// Hidden group-key columns after the outputs (0 when the query has no `group by`).
    pub key_arity: usize,
    pub timer_template: Option<u32>,
}

impl RatePlan {
    /// `output first every <time>` compares the clock on arrival; other timed limits tick.
    pub fn needs_timer(spec: &RateSpec) -> bool {
        match spec {
            RateSpec::Events { .. } => false,
            RateSpec::Time { kind, .. } => *kind != RateKind::First,
            RateSpec::Snapshot { .. } => true,
        }
    }

    /// What the selector must do for this limiter: append group keys, leave reset events in
    /// its output, and — for snapshots — not collapse batches (Siddhi's
    /// `setBatchingEnabled(false)` in `QueryParser`).
    pub fn configure(&self, selector: &mut SelectorPlan) {
        selector.emit_keys = self.key_arity > 0;
        selector.keep_resets = true;
        if matches!(self.spec, RateSpec::Snapshot { .. }) {
            selector.batching_enabled = false;
        }
    }

    pub fn instantiate(&self) -> Box<dyn RateLimiter> {
        let (arity, key_arity) = (self.arity, self.key_arity);
        match &self.spec {
            RateSpec::Events {
                kind: RateKind::All,
                count,
            } => Box::new(per_event::AllPerEvent::new(*count, arity)),
            RateSpec::Events { kind, count } if key_arity > 0 => Box::new(
                per_event::GroupedPerEvent::new(*kind, *count, arity, key_arity),
            ),
            RateSpec::Events { kind, count } => {
                Box::new(per_event::PerEvent::new(*kind, *count, arity))
            }
            RateSpec::Time { kind, millis } => {
                per_time::instantiate(*kind, *millis, arity, key_arity)
            }
            RateSpec::Snapshot {
                millis,
                windowed,
                aggregate_outputs,
            } => snapshot::instantiate(*millis, *windowed, aggregate_outputs, arity, key_arity),
        }
    }
}

/// What a limiter sees of the runtime.
pub struct RateCtx<'a> {
    pub now: i64,
    pub scheduler: &'a mut Scheduler,
    pub timer: Option<TimerId>,
    /// Set by a limiter where Siddhi's throws: the query drops what the chunk produced and
    /// logs it, as Siddhi's stream junction logs the exception.
    pub error: Option<String>,
}

impl RateCtx<'_> {
    pub fn notify_at(&mut self, time: i64) {
        if let Some(id) = self.timer {
            self.scheduler.notify_at(id, time);
        }
    }
}

pub trait RateLimiter: Send + fmt::Debug {
    /// The query received a chunk (before its filters and window): ticking limiters start
    /// their schedule at the first one, as Siddhi starts it when the query starts.
    fn start(&mut self, _cx: &mut RateCtx<'_>) {}
    /// Takes the selector's output for one (non-empty) chunk.
    fn process(&mut self, input: ChunkRef<'_>, out: &mut Chunk, cx: &mut RateCtx<'_>);
    /// A timer this limiter asked for is due.
    fn on_timer(&mut self, _due: i64, _out: &mut Chunk, _cx: &mut RateCtx<'_>) {}
    fn snapshot(&self, w: &mut StateWriter);
    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()>;
}

/// Copies row `i` of `input` into `out` without its hidden key columns.
pub(crate) fn emit_row(input: ChunkRef<'_>, i: usize, arity: usize, out: &mut Chunk) {
    let row = input.row(i);
    let dst = out.begin_row(input.ts(i), input.kind(i));
    dst.extend_from_slice(&row[..arity]);
}

#[cfg(test)]
mod tests;
