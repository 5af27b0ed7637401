//! `timeLength(t, n)`: a sliding window holding at most the last `n` events of the last `t`
//! of app time. Before each arrival, events whose time ran out leave (stamped with the
//! clock); then, if `n` events are held, the oldest makes room. Both kinds of expired rows
//! come before the arrival. With `n <= 0` nothing is held: arrivals pass through and never
//! expire (Siddhi only stores an event when there is room or something to evict).

use super::params::{INT_TYPE, Param, TIME_TYPES, const_long};
use super::time::expire_due;
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec,
    check_overloads,
};
use crate::aggregate::ProcessingMode;
use crate::compact_rows::HeldRows;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

pub struct TimeLength;

const PARAMS: &[Param] = &[
    Param::fixed("window.time", TIME_TYPES),
    Param::fixed("window.length", INT_TYPE),
];

impl WindowFactory for TimeLength {
    fn name(&self) -> &'static str {
        "timeLength"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads(
            "timeLength",
            &args,
            PARAMS,
            &[&["window.time", "window.length"]],
        )?;
        let millis = const_long(&args[0])
            .ok_or("timeLength window's window.time must be an int, long or time constant")?;
        let length = match args[1].constant() {
            Some(Value::Int(n)) => *n,
            _ => return Err("timeLength window's window.length must be an int constant".into()),
        };
        Ok(Box::new(TimeLengthSpec {
            millis,
            length: length.max(0) as usize,
            arity: cx.arity,
        }))
    }
}

#[derive(Debug)]
struct TimeLengthSpec {
    millis: i64,
    length: usize,
    arity: usize,
}

impl WindowSpec for TimeLengthSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Slide
    }

    fn needs_timer(&self) -> bool {
        true
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(TimeLengthWindow {
            millis: self.millis,
            length: self.length,
            held: HeldRows::new(self.arity),
        })
    }
}

#[derive(Debug)]
struct TimeLengthWindow {
    millis: i64,
    length: usize,
    held: HeldRows,
}

impl TimeLengthWindow {
    fn expire(&mut self, now: i64, out: &mut Chunk) {
        expire_due(&mut self.held, self.millis, now, EventKind::Expired, out);
    }
}

impl WindowProcessor for TimeLengthWindow {
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
            let (ts, row) = (input.ts(i), input.row(i));
            self.expire(cx.now, out);
            if self.held.len() < self.length {
                self.held.push(ts, row);
            } else if !self.held.is_empty() {
                self.held
                    .pop_front_into(out, EventKind::Expired, Some(cx.now));
                self.held.push(ts, row);
            }
            // One request per arrival, as Siddhi makes (its timer queue is FIFO).
            cx.notify_at(ts.wrapping_add(self.millis));
            out.push(ts, EventKind::Current, row);
        }
    }

    fn on_timer(&mut self, _due: i64, out: &mut Chunk, cx: &mut WindowCtx<'_>) {
        self.expire(cx.now, out);
    }

    fn lookup(&self) -> Option<&RowQueue> {
        self.held.plain()
    }

    fn visit_held(&self, f: &mut dyn FnMut(i64, &[Value])) {
        self.held.visit(f);
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.held.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.held.restore(r)
    }
}
