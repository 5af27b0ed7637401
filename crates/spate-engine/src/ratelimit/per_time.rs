//! `output all|first|last every <time>`, with and without `group by` (Siddhi's
//! `*PerTimeOutputRateLimiter`s, chosen as `OutputParser` chooses them: `all` ignores
//! `group by`).
//!
//! - `all`: holds every current/expired event and emits them as one chunk at each tick.
//! - `last`: keeps the latest current/expired event (per group with `group by`, groups in
//!   first-seen order) and emits it at each tick; the kept events are then forgotten.
//! - `first`: no ticks. A chunk arriving when no output happened yet, or at least one period
//!   after the last output (by the app clock, not the events' timestamps), emits its *first
//!   event* — whatever its kind: a reset event sets the output time and emits nothing, as in
//!   Siddhi. With `group by` every event of the chunk is tested against its group's output
//!   time.
//!
//! Ticks follow `ticking.rs`: on the app clock from the query's first event, where Siddhi
//! 5.1.7 uses the wall clock (`docs/divergences.md`).

use super::latest::{Keep, Latest, LatestPerGroup};
use super::per_event::counts;
use super::rows::{read_time, write_time};
use super::ticking::{Period, ticking};
use super::{Held, Keyed, RateCtx, RateKind, RateLimiter, emit_row};
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};

pub(super) fn instantiate(
    kind: RateKind,
    period: i64,
    arity: usize,
    key_arity: usize,
) -> Box<dyn RateLimiter> {
    match kind {
        RateKind::All => ticking(
            period,
            AllPerTime {
                held: Held::new(arity),
            },
        ),
        RateKind::First if key_arity > 0 => Box::new(FirstGroupByPerTime {
            period,
            arity,
            key_arity,
            output_times: Keyed::default(),
        }),
        RateKind::First => Box::new(FirstPerTime {
            period,
            arity,
            output_time: None,
        }),
        RateKind::Last if key_arity > 0 => ticking(
            period,
            LatestPerGroup::new(Keep::UntilTick, arity, key_arity),
        ),
        RateKind::Last => ticking(period, Latest::new(Keep::UntilTick, arity)),
    }
}

/// `output all every <time>`.
#[derive(Debug)]
struct AllPerTime {
    held: Held,
}

impl Period for AllPerTime {
    fn flushes_on(&self, _kind: EventKind) -> bool {
        false
    }

    fn apply(&mut self, input: ChunkRef<'_>, i: usize) -> Result<(), String> {
        if counts(input.kind(i)) {
            self.held.push(input, i);
        }
        Ok(())
    }

    fn emit(&mut self, out: &mut Chunk) {
        self.held.drain_into(out);
    }

    fn save(&self, w: &mut StateWriter) {
        self.held.snapshot(w);
    }

    fn load(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.held.restore(r)
    }
}

/// `output first every <time>` without `group by`.
#[derive(Debug)]
struct FirstPerTime {
    period: i64,
    arity: usize,
    /// App time of the last output (Siddhi's `outputTime`).
    output_time: Option<i64>,
}

impl RateLimiter for FirstPerTime {
    fn process(&mut self, input: ChunkRef<'_>, out: &mut Chunk, cx: &mut RateCtx<'_>) {
        if self
            .output_time
            .is_some_and(|t| t.saturating_add(self.period) > cx.now)
        {
            return;
        }
        self.output_time = Some(cx.now);
        if input.kind(0) != EventKind::Reset {
            out.split_here();
            emit_row(input, 0, self.arity, out);
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        write_time(w, self.output_time);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.output_time = read_time(r)?;
        Ok(())
    }
}

/// `output first every <time>` with `group by`.
#[derive(Debug)]
struct FirstGroupByPerTime {
    period: i64,
    arity: usize,
    key_arity: usize,
    /// App time of each group's last output.
    output_times: Keyed<Option<i64>>,
}

impl RateLimiter for FirstGroupByPerTime {
    fn process(&mut self, input: ChunkRef<'_>, out: &mut Chunk, cx: &mut RateCtx<'_>) {
        let (now, period, arity) = (cx.now, self.period, self.arity);
        let mut started = false;
        for i in 0..input.len() {
            let key = &input.row(i)[arity..arity + self.key_arity];
            let last = self.output_times.entry(key, || None);
            if last.is_some_and(|t| t.saturating_add(period) > now) {
                continue;
            }
            *last = Some(now);
            if !started {
                out.split_here();
                started = true;
            }
            emit_row(input, i, arity, out);
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.output_times.snapshot(w, |w, t| write_time(w, *t));
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.output_times.restore(r, self.key_arity, read_time)
    }
}
