//! `time(t)`: a sliding window over app time. An event that arrived at `ts` leaves when the
//! clock reaches `ts + t` — on a timer or on the next arrival, whichever comes first — and is
//! emitted as expired, stamped with the clock.
//!
//! The processor also runs `delay(t)` (Siddhi's delay window is a time window underneath):
//! arrivals are then held without being emitted and leave as current events.

use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec, arg_count,
    const_time,
};
use crate::aggregate::ProcessingMode;
use crate::compact_rows::HeldRows;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};

pub struct Time;

impl WindowFactory for Time {
    fn name(&self) -> &'static str {
        "time"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        arg_count("time", &args, &[1])?;
        let millis = const_time("time", "window.time", &args[0])?;
        Ok(Box::new(TimeSpec {
            millis,
            arity: cx.arity,
            delay: false,
        }))
    }
}

#[derive(Debug)]
pub(super) struct TimeSpec {
    pub millis: i64,
    pub arity: usize,
    /// Run as `delay(t)`: arrivals are not emitted and leave as current events.
    pub delay: bool,
}

impl WindowSpec for TimeSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Slide
    }

    fn needs_timer(&self) -> bool {
        true
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(TimeWindow {
            millis: self.millis,
            held: HeldRows::new(self.arity),
            last_ts: i64::MIN,
            leave_as: if self.delay {
                EventKind::Current
            } else {
                EventKind::Expired
            },
        })
    }
}

#[derive(Debug)]
struct TimeWindow {
    millis: i64,
    held: HeldRows,
    /// Latest arrival a timer was requested for (one request per distinct timestamp).
    last_ts: i64,
    /// Expired for `time`; current for `delay`, which also does not emit arrivals.
    leave_as: EventKind,
}

/// Moves the rows held `millis` or longer at `now` (oldest first) into `out` as `kind`,
/// stamped with `now`.
pub(super) fn expire_due(
    held: &mut HeldRows,
    millis: i64,
    now: i64,
    kind: EventKind,
    out: &mut Chunk,
) {
    while let Some(ts) = held.front_ts() {
        if ts.wrapping_sub(now).wrapping_add(millis) > 0 {
            break;
        }
        held.pop_front_into(out, kind, Some(now));
    }
}

impl TimeWindow {
    fn expire(&mut self, now: i64, out: &mut Chunk) {
        expire_due(&mut self.held, self.millis, now, self.leave_as, out);
    }
}

impl WindowProcessor for TimeWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        out.batch = input.batch;
        for &i in sel {
            let i = i as usize;
            self.expire(cx.now, out);
            let (ts, row) = (input.ts(i), input.row(i));
            self.held.push(ts, row);
            if self.last_ts < ts {
                cx.notify_at(ts.wrapping_add(self.millis));
                self.last_ts = ts;
            }
            if self.leave_as == EventKind::Expired {
                out.push(ts, EventKind::Current, row);
            }
        }
    }

    fn on_timer(&mut self, _due: i64, out: &mut Chunk, cx: &mut WindowCtx<'_>) {
        self.expire(cx.now, out);
    }

    fn lookup(&self) -> Option<&RowQueue> {
        self.held.plain()
    }

    fn visit_held(&self, f: &mut dyn FnMut(i64, &[crate::value::Value])) {
        self.held.visit(f);
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.held.snapshot(w);
        w.i64(self.last_ts);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.held.restore(r)?;
        self.last_ts = r.i64()?;
        Ok(())
    }
}
