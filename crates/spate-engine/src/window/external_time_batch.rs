//! `externalTimeBatch(ts, t[, start.time[, timeout[, replace.with.batchtime]]])`: tumbling
//! batches over a timestamp attribute. The first batch ends `t` after the first arrival's
//! `ts` (or after `start.time`: a constant aligns batch ends to it, an expression gives the
//! first batch's start). An arrival with `ts` at or past the end flushes the batch — the
//! previous batch as expired rows when wanted, a reset, the batch — and starts the next one,
//! whose end is the next boundary after the newest `ts` seen. Expired rows and the reset
//! are stamped with the newest `ts` seen; current rows keep their own timestamps.
//!
//! With a `timeout`, a timer also flushes the open batch when no batch-ending arrival came
//! for that long of app time, and keeps doing so every `timeout`. Events that then arrive
//! for the same batch are re-sent with the flushed part when the batch finally closes
//! (Siddhi's `appendToOutputChunk`), and the expired queue keeps both parts. With
//! `replace.with.batchtime` the held rows carry the batch end in the timestamp attribute.
//!
//! Where Siddhi throws (a null timestamp, a zero `t` when a batch closes), the chunk's output
//! is dropped and the state changes made before the failure are kept, as in Siddhi.

use std::sync::Arc;

use super::external_time::{TIMESTAMP, WINDOW_TIME, read_timestamp, timestamp_attr};
use super::params::{BOOL_TYPE, Param, TIME_TYPES, const_bool, const_long};
use super::{
    ResetMarker, WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor,
    WindowSpec, check_overloads, each_arrival,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::expr::{EvalCtx, Expr};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct ExternalTimeBatch;

const NAME: &str = "externalTimeBatch";

const PARAMS: &[Param] = &[
    TIMESTAMP,
    WINDOW_TIME,
    Param::dynamic("start.time", TIME_TYPES),
    Param::fixed("timeout", TIME_TYPES),
    Param::fixed("replace.with.batchtime", BOOL_TYPE),
];

/// How the first batch's start is found.
#[derive(Debug)]
enum Start {
    /// The first arrival's timestamp.
    FirstEvent,
    /// Batch ends aligned to this constant.
    Aligned(i64),
    /// Evaluated on the first arrival.
    Expr(Arc<Expr>),
}

impl WindowFactory for ExternalTimeBatch {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compile(
        &self,
        mut args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        const BASE: &[&str] = &["timestamp", "window.time"];
        check_overloads(
            NAME,
            &args,
            PARAMS,
            &[
                BASE,
                &["timestamp", "window.time", "start.time"],
                &["timestamp", "window.time", "start.time", "timeout"],
                &[
                    "timestamp",
                    "window.time",
                    "start.time",
                    "timeout",
                    "replace.with.batchtime",
                ],
            ],
        )?;
        let ts_attr = timestamp_attr(NAME, &args[0])?;
        let millis = const_long(&args[1]).ok_or(
            "externalTimeBatch window's window.time must be an int, long or time constant",
        )?;
        let timeout = args.get(3).and_then(const_long).unwrap_or(0);
        let replace = args.get(4).and_then(const_bool).unwrap_or(false);
        let start = match args.get_mut(2) {
            None => Start::FirstEvent,
            Some(a) => match const_long(a) {
                Some(v) => Start::Aligned(v),
                None if a.ty != AttrType::Long => {
                    return Err("externalTimeBatch window's start.time must be an int or long constant, or a long expression".into());
                }
                None => Start::Expr(Arc::new(std::mem::replace(
                    &mut a.expr,
                    Expr::Const(Value::Null),
                ))),
            },
        };
        Ok(Box::new(ExternalTimeBatchSpec {
            cfg: Arc::new(Config {
                ts_attr,
                millis,
                start,
                timeout,
                replace,
                arity: cx.arity,
                output_expired: cx.output_expects_expired,
            }),
            keep_expired: cx.output_expects_expired || cx.find_to_be_executed || timeout > 0,
        }))
    }
}

#[derive(Debug)]
struct Config {
    ts_attr: usize,
    millis: i64,
    start: Start,
    timeout: i64,
    replace: bool,
    arity: usize,
    output_expired: bool,
}

#[derive(Debug)]
struct ExternalTimeBatchSpec {
    cfg: Arc<Config>,
    keep_expired: bool,
}

impl WindowSpec for ExternalTimeBatchSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Batch
    }

    fn needs_timer(&self) -> bool {
        self.cfg.timeout > 0
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        let start_time = match self.cfg.start {
            Start::Aligned(v) => v,
            _ => 0,
        };
        Box::new(ExternalTimeBatchWindow {
            current: RowQueue::new(self.cfg.arity),
            expired: self.keep_expired.then(|| RowQueue::new(self.cfg.arity)),
            reset: ResetMarker::default(),
            end_time: -1,
            start_time,
            last_scheduled: 0,
            last_event_time: 0,
            flushed: false,
            scratch: Vec::new(),
            cfg: self.cfg.clone(),
        })
    }
}

#[derive(Debug)]
struct ExternalTimeBatchWindow {
    cfg: Arc<Config>,
    current: RowQueue,
    /// The last batch (kept when the query outputs expired events, something finds in the
    /// window, or a timeout may re-send it).
    expired: Option<RowQueue>,
    reset: ResetMarker,
    end_time: i64,
    start_time: i64,
    last_scheduled: i64,
    /// The newest timestamp attribute seen: stamps expired rows and resets.
    last_event_time: i64,
    /// The open batch was flushed by the timeout.
    flushed: bool,
    scratch: Vec<Value>,
}

/// Java's `a % b` on longs; `Err` where it throws (division by zero).
fn java_rem(a: i64, b: i64) -> Result<i64, String> {
    match b {
        0 => Err("window.time is 0: a batch end cannot be found (division by zero)".into()),
        -1 => Ok(0),
        _ => Ok(a % b),
    }
}

impl ExternalTimeBatchWindow {
    fn find_end_time(&self, now: i64) -> Result<i64, String> {
        let elapsed = java_rem(now.wrapping_sub(self.start_time), self.cfg.millis)?;
        Ok(now.wrapping_add(self.cfg.millis.wrapping_sub(elapsed)))
    }

    fn schedule(&mut self, cx: &mut WindowCtx<'_>) {
        if self.cfg.timeout > 0 {
            self.last_scheduled = cx.now.wrapping_add(self.cfg.timeout);
            cx.notify_at(self.last_scheduled);
        }
    }

    /// Sets up the first batch from the chunk's first row; `Err` where Siddhi throws.
    fn init_timing(
        &mut self,
        ts: i64,
        row: &[Value],
        cx: &mut WindowCtx<'_>,
    ) -> Result<(), String> {
        if self.end_time >= 0 {
            return Ok(());
        }
        let cfg = self.cfg.clone();
        match &cfg.start {
            Start::Aligned(_) => {
                let first = read_timestamp(row, cfg.ts_attr)?;
                self.end_time = self.find_end_time(first)?;
            }
            Start::Expr(e) => {
                let rows: [&[Value]; 1] = [row];
                let v = e.eval(&mut EvalCtx::new(&rows, ts, cx.now));
                let Value::Long(start) = v else {
                    return Err("start.time is not a long value; the chunk is dropped".into());
                };
                self.start_time = start;
                self.end_time = start.wrapping_add(cfg.millis);
            }
            Start::FirstEvent => {
                self.start_time = read_timestamp(row, cfg.ts_attr)?;
                self.end_time = self.start_time.wrapping_add(cfg.millis);
            }
        }
        self.schedule(cx);
        Ok(())
    }

    fn append_current(&mut self, ts: i64, row: &[Value]) {
        if self.cfg.replace {
            self.scratch.clear();
            self.scratch.extend_from_slice(row);
            self.scratch[self.cfg.ts_attr] = Value::Long(self.end_time);
            self.current.push(ts, &self.scratch);
        } else {
            self.current.push(ts, row);
        }
        if !self.reset.is_set() {
            self.reset.set(ts, row);
        }
    }

    /// Copies the open batch into the expired queue (when kept) and emits it as current rows.
    fn move_current(&mut self, out: &mut Chunk) {
        if let Some(exp) = &mut self.expired {
            for r in 0..self.current.len() {
                exp.push(self.current.ts(r), self.current.row(r));
            }
        }
        self.current.drain_into(out, EventKind::Current, None);
    }

    /// Siddhi's `flushToOutputChunk`: the last batch expires, the open one is emitted.
    fn flush(&mut self, out: &mut Chunk) {
        out.split_here();
        let stamp = self.last_event_time;
        if let Some(exp) = &mut self.expired {
            if self.cfg.output_expired {
                exp.drain_into(out, EventKind::Expired, Some(stamp));
            }
            exp.clear();
        }
        if !self.current.is_empty() {
            self.reset.take_into(out, Some(stamp));
            self.move_current(out);
        }
        self.current.clear();
    }

    /// Siddhi's `appendToOutputChunk`: the batch closes after a timeout flush, so the
    /// flushed part is re-sent with the rest, and the expired queue keeps both parts.
    fn append(&mut self, out: &mut Chunk) {
        out.split_here();
        if self.current.is_empty() {
            return;
        }
        let stamp = self.last_event_time;
        if let Some(exp) = &self.expired {
            if self.cfg.output_expired {
                for r in 0..exp.len() {
                    out.push(stamp, EventKind::Expired, exp.row(r));
                }
            }
            self.reset.emit(out, Some(stamp));
            for r in 0..exp.len() {
                out.push(exp.ts(r), EventKind::Current, exp.row(r));
            }
        } else {
            self.reset.emit(out, Some(stamp));
        }
        self.move_current(out);
    }

    fn arrive(
        &mut self,
        ts: i64,
        row: &[Value],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) -> Result<(), String> {
        let event_time = read_timestamp(row, self.cfg.ts_attr)?;
        if self.last_event_time < event_time {
            self.last_event_time = event_time;
        }
        if event_time < self.end_time {
            self.append_current(ts, row);
            return Ok(());
        }
        if self.flushed {
            self.append(out);
            self.flushed = false;
        } else {
            self.flush(out);
        }
        self.end_time = self.find_end_time(self.last_event_time)?;
        self.append_current(ts, row);
        self.schedule(cx);
        Ok(())
    }
}

impl WindowProcessor for ExternalTimeBatchWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        out.batch = true;
        // Siddhi sets up the first batch from the chunk's first row.
        let mut first = true;
        each_arrival(NAME, input, sel, out, |ts, row, out| {
            if std::mem::take(&mut first) {
                self.init_timing(ts, row, cx)?;
            }
            self.arrive(ts, row, out, cx)
        });
    }

    fn on_timer(&mut self, due: i64, out: &mut Chunk, cx: &mut WindowCtx<'_>) {
        out.batch = true;
        // Timers exist only once the first batch is set up (a negative end would make Siddhi
        // read the timer event's missing timestamp and throw).
        if self.end_time < 0 || self.last_scheduled > due {
            return;
        }
        if !self.flushed {
            self.flush(out);
            self.flushed = true;
        } else if !self.current.is_empty() {
            self.append(out);
        }
        self.schedule(cx);
    }

    fn lookup(&self) -> Option<&RowQueue> {
        self.expired.as_ref()
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.current.snapshot(w);
        if let Some(e) = &self.expired {
            e.snapshot(w);
        }
        self.reset.snapshot(w);
        for v in [
            self.end_time,
            self.start_time,
            self.last_scheduled,
            self.last_event_time,
        ] {
            w.i64(v);
        }
        w.bool(self.flushed);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.current.restore(r)?;
        if let Some(e) = &mut self.expired {
            e.restore(r)?;
        }
        self.reset.restore(r, self.cfg.arity)?;
        self.end_time = r.i64()?;
        self.start_time = r.i64()?;
        self.last_scheduled = r.i64()?;
        self.last_event_time = r.i64()?;
        self.flushed = r.bool()?;
        Ok(())
    }
}
