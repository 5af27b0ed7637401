//! Limiters that emit on a period: `output all|last every <time>` and every `output snapshot`.
//! [`Ticking`] keeps the schedule and asks a [`Period`] state for what to emit at each tick.
//!
//! Siddhi starts the schedule when the query starts (or its partition instance is created), at
//! wall-clock time + period, and keeps it on the wall clock even in playback. Spate starts it
//! when the query receives its first event, at that app time + period, and asks for a timer
//! at each scheduled time; a due time that a clock jump left behind fires on its own, so a
//! jump over several periods ticks once per period, as Siddhi's scheduler does. A timer fires
//! before an event at the same time (`docs/divergences.md`).

use std::fmt::Debug;

use super::rows::{read_time, write_time};
use super::{RateCtx, RateLimiter};
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};

/// The period schedule (Siddhi's `scheduledTime`).
#[derive(Debug, Clone, Copy)]
struct Ticks {
    period: i64,
    next: Option<i64>,
}

impl Ticks {
    /// Starts the schedule (once).
    fn start(&mut self, cx: &mut RateCtx<'_>) {
        if self.next.is_none() {
            let first = cx.now.saturating_add(self.period);
            self.next = Some(first);
            cx.notify_at(first);
        }
    }

    /// Siddhi's `timestamp >= scheduledTime` test: when an event or timer at `time` reaches the
    /// scheduled time, the schedule moves one period on (with a timer for it) and the caller
    /// emits.
    fn reached(&mut self, time: i64, cx: &mut RateCtx<'_>) -> bool {
        match self.next {
            Some(next) if time >= next => {
                let after = next.saturating_add(self.period);
                self.next = Some(after);
                cx.notify_at(after);
                true
            }
            _ => false,
        }
    }
}

/// What a ticking limiter keeps between ticks and emits at them.
pub(super) trait Period: Send + Debug {
    /// Whether an event of this kind at or after the scheduled time emits before it is
    /// applied, like a tick (snapshots do; `all`/`last` per time only emit on timers).
    fn flushes_on(&self, _kind: EventKind) -> bool {
        true
    }
    /// Takes row `i` into the state; `Err` where Siddhi throws.
    fn apply(&mut self, input: ChunkRef<'_>, i: usize) -> Result<(), String>;
    /// Appends the rows of one tick (possibly none).
    fn emit(&mut self, out: &mut Chunk);
    fn save(&self, w: &mut StateWriter);
    fn load(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()>;
}

pub(super) fn ticking<P: Period + 'static>(period: i64, state: P) -> Box<dyn RateLimiter> {
    Box::new(Ticking {
        ticks: Ticks { period, next: None },
        state,
    })
}

#[derive(Debug)]
struct Ticking<P> {
    ticks: Ticks,
    state: P,
}

impl<P: Period> Ticking<P> {
    fn flush(&mut self, out: &mut Chunk) {
        out.split_here();
        self.state.emit(out);
    }
}

impl<P: Period> RateLimiter for Ticking<P> {
    fn start(&mut self, cx: &mut RateCtx<'_>) {
        self.ticks.start(cx);
    }

    fn process(&mut self, input: ChunkRef<'_>, out: &mut Chunk, cx: &mut RateCtx<'_>) {
        let before = out.len();
        for i in 0..input.len() {
            if self.state.flushes_on(input.kind(i)) && self.ticks.reached(input.ts(i), cx) {
                self.flush(out);
            }
            if let Err(e) = self.state.apply(input, i) {
                // Siddhi's exception leaves before anything of this chunk is sent.
                out.retain_rows(|r| r < before);
                cx.error = Some(e);
                return;
            }
        }
    }

    fn on_timer(&mut self, due: i64, out: &mut Chunk, cx: &mut RateCtx<'_>) {
        if self.ticks.reached(due, cx) {
            self.flush(out);
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        write_time(w, self.ticks.next);
        self.state.save(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.ticks.next = read_time(r)?;
        self.state.load(r)
    }
}
