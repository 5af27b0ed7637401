//! `cron('quartz expression')`: collects events and, at each fire time of the schedule,
//! emits the batch collected since the last fire (as current events with their own
//! timestamps), preceded by the previous batch as expired events stamped with the clock.
//! A fire with nothing collected emits nothing and keeps the previous batch for the next.
//! As in Siddhi the output is a plain chunk (not a batch) with no reset, so aggregates run
//! on: the expired batch is subtracted and the new one added, row by row.
//!
//! Siddhi fires on the wall clock (Quartz), which makes its output depend on when events
//! happen to be sent; Spate fires on the app clock, in UTC (see `docs/divergences.md`).
//! Fires are computed from the first arrival on (earlier ones would find nothing to emit):
//! the first is the first fire time after it; a clock jump over several fire times fires
//! once, as the fires in between would have nothing to emit. An invalid expression is
//! rejected when the app is compiled; Siddhi accepts the app and then fails to start it.

use crate::cron::CronSchedule;

use super::params::{Param, STRING_TYPE, const_str};
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec,
    check_overloads,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};

pub struct Cron;

const PARAMS: &[Param] = &[Param::fixed("cron.expression", STRING_TYPE)];

impl WindowFactory for Cron {
    fn name(&self) -> &'static str {
        "cron"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads("cron", &args, PARAMS, &[&["cron.expression"]])?;
        let text =
            const_str(&args[0]).ok_or("cron window's cron.expression must be a string constant")?;
        let schedule = CronSchedule::parse(text).map_err(|e| format!("cron window: {e}"))?;
        Ok(Box::new(CronSpec {
            schedule,
            arity: cx.arity,
        }))
    }
}

#[derive(Debug)]
struct CronSpec {
    schedule: CronSchedule,
    arity: usize,
}

impl WindowSpec for CronSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Batch
    }

    fn needs_timer(&self) -> bool {
        true
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(CronWindow {
            schedule: self.schedule.clone(),
            current: RowQueue::new(self.arity),
            expired: RowQueue::new(self.arity),
            scheduled: false,
        })
    }
}

#[derive(Debug)]
struct CronWindow {
    schedule: CronSchedule,
    /// Collected since the last fire.
    current: RowQueue,
    /// The batch emitted at the last fire, to expire at the next.
    expired: RowQueue,
    /// A fire time has been requested (after the first arrival).
    scheduled: bool,
}

impl CronWindow {
    fn schedule_after(&mut self, t: i64, cx: &mut WindowCtx<'_>) {
        match self.schedule.next_after(t) {
            Some(next) => {
                cx.notify_at(next);
                self.scheduled = true;
            }
            // The schedule is over: events are collected and never emitted, as in Siddhi.
            None => self.scheduled = true,
        }
    }
}

impl WindowProcessor for CronWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        _out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        for &i in sel {
            let i = i as usize;
            self.current.push(input.ts(i), input.row(i));
        }
        if !self.scheduled && !sel.is_empty() {
            self.schedule_after(cx.now, cx);
        }
    }

    fn on_timer(&mut self, due: i64, out: &mut Chunk, cx: &mut WindowCtx<'_>) {
        if !self.current.is_empty() {
            self.expired
                .drain_into(out, EventKind::Expired, Some(cx.now));
            for r in 0..self.current.len() {
                self.expired.push(self.current.ts(r), self.current.row(r));
            }
            self.current.drain_into(out, EventKind::Current, None);
        }
        self.schedule_after(due.max(cx.now), cx);
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.current.snapshot(w);
        self.expired.snapshot(w);
        w.bool(self.scheduled);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.current.restore(r)?;
        self.expired.restore(r)?;
        self.scheduled = r.bool()?;
        Ok(())
    }
}
