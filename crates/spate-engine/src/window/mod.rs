//! Windows (`#window.length(5)`, ...): an explicit registry of factories, one file each.
//!
//! A factory validates the parameters once (Siddhi's `init`) and returns a spec; the spec
//! creates one processor per query instance (partitions create many). A processor consumes
//! the selected rows of a chunk and writes what leaves it — current, expired and reset rows,
//! in Siddhi's order — and may ask the scheduler for a call at a later app time.

use std::cell::Cell;
use std::fmt;

use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::expr::Expr;
use crate::plan::Schema;
use crate::row_queue::RowQueue;
use crate::scheduler::{Scheduler, TimerId};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

/// Implements [`WindowFactory`] for a window whose factory builds its spec with
/// `build(&self, args, cx, Option<WindowInput>)`: `compile` (no input: named window
/// definitions) and `compile_in` (queries) both go there.
macro_rules! factory_with_input {
    ($ty:ty, $name:expr) => {
        impl $crate::window::WindowFactory for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn compile(
                &self,
                args: Vec<$crate::window::WindowArg>,
                cx: $crate::window::WindowCompileCtx,
            ) -> Result<Box<dyn $crate::window::WindowSpec>, String> {
                self.build(args, cx, None)
            }

            fn compile_in(
                &self,
                args: Vec<$crate::window::WindowArg>,
                cx: $crate::window::WindowCompileCtx,
                input: $crate::window::WindowInput<'_>,
            ) -> Result<Box<dyn $crate::window::WindowSpec>, String> {
                self.build(args, cx, Some(input))
            }
        }
    };
}

mod batch;
mod cron;
mod delay;
mod expression;
mod expression_batch;
mod external_time;
mod external_time_batch;
mod frequent;
mod java_map;
mod length;
mod length_batch;
mod lossy_frequent;
mod params;
mod retain;
mod session;
mod sort;
mod time;
mod time_batch;
mod time_length;

pub(crate) use params::check_overloads;

/// A compiled window parameter.
#[derive(Debug)]
pub struct WindowArg {
    pub expr: Expr,
    pub ty: AttrType,
}

impl WindowArg {
    pub fn constant(&self) -> Option<&Value> {
        self.expr.as_const()
    }
}

/// Facts about the query a window needs at compile time.
#[derive(Clone, Copy, Debug)]
pub struct WindowCompileCtx {
    /// Width of the rows the window holds.
    pub arity: usize,
    /// The query outputs expired events (`insert expired|all events`).
    pub output_expects_expired: bool,
    /// Something (a join, a named-window reader) looks into the window's contents.
    pub find_to_be_executed: bool,
}

/// The input a window is compiled for, for windows whose parameters need more than the row
/// width: SiddhiQL text over the attributes (`expression`), or Siddhi's output-data layout
/// (`frequent` keys events by the attributes the query selects).
#[derive(Clone, Copy, Debug)]
pub struct WindowInput<'a> {
    /// The stream's name (attributes may be qualified with it).
    pub stream: &'a str,
    /// Names and types of the rows the window holds.
    pub schema: &'a Schema,
    /// Siddhi's `outputData` of the window's events: one entry per selected output, the input
    /// attribute it copies when it is a plain attribute, `None` when it is computed (still
    /// null while the event is in the window). `None` when unknown (joins, named windows).
    pub output_data: Option<&'a [Option<usize>]>,
}

pub trait WindowFactory: Send + Sync {
    /// The name used in SiddhiQL (`#window.<name>(...)`).
    fn name(&self) -> &'static str;
    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String>;
    /// Compiles knowing the input ([`WindowInput`]); windows that need it override this.
    fn compile_in(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
        _input: WindowInput<'_>,
    ) -> Result<Box<dyn WindowSpec>, String> {
        self.compile(args, cx)
    }
}

/// A validated window definition.
pub trait WindowSpec: Send + Sync + fmt::Debug {
    fn mode(&self) -> ProcessingMode;
    /// The window asks for timer calls.
    fn needs_timer(&self) -> bool {
        false
    }
    fn instantiate(&self) -> Box<dyn WindowProcessor>;
}

/// What a window processor sees of the runtime.
pub struct WindowCtx<'a> {
    /// The app clock (Siddhi's `currentTime()`): stamps expired events.
    pub now: i64,
    pub scheduler: &'a mut Scheduler,
    pub timer: Option<TimerId>,
}

impl WindowCtx<'_> {
    #[inline]
    pub fn notify_at(&mut self, time: i64) {
        if let Some(id) = self.timer {
            self.scheduler.notify_at(id, time);
        }
    }
}

pub trait WindowProcessor: Send + fmt::Debug {
    /// Handles arrivals: the rows of `input` listed in `sel`, in order.
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    );
    /// Handles a timer call scheduled for `due` (the clock is `cx.now`).
    fn on_timer(&mut self, _due: i64, _out: &mut Chunk, _cx: &mut WindowCtx<'_>) {}
    /// The rows a join or `find` sees, oldest first, when the window keeps them in one queue.
    /// Calling it is a lookup (batch windows note it: see [`BatchQueue`]).
    fn lookup(&self) -> Option<&RowQueue> {
        None
    }
    /// Calls `f` with every row a join or `find` sees (timestamp and values), oldest first.
    /// Windows that do not keep one queue override this.
    fn visit_held(&self, f: &mut dyn FnMut(i64, &[Value])) {
        if let Some(q) = self.lookup() {
            for i in 0..q.len() {
                f(q.ts(i), q.row(i));
            }
        }
    }
    fn snapshot(&self, w: &mut StateWriter);
    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()>;
}

/// The previous batch of a batch window (`lengthBatch`, `timeBatch`): what joins see, and
/// what leaves as expired rows at the next flush.
///
/// Siddhi stamps those expired rows with the flush time by walking the queue with the
/// queue's own iterator, without rewinding it. A join lookup (`find`) walks the same iterator
/// to the end, so rows a lookup has passed since they were stored keep their arrival time;
/// `scanned` is that iterator position.
#[derive(Debug)]
pub(crate) struct BatchQueue {
    pub rows: RowQueue,
    scanned: Cell<usize>,
}

impl BatchQueue {
    pub fn new(arity: usize) -> BatchQueue {
        BatchQueue {
            rows: RowQueue::new(arity),
            scanned: Cell::new(0),
        }
    }

    /// The rows, read by a join lookup: the iterator ends past the last row.
    pub fn lookup(&self) -> &RowQueue {
        self.scanned.set(self.rows.len());
        &self.rows
    }

    /// Moves every row out as expired, stamping those the iterator has not passed with `now`.
    pub fn flush_expired(&mut self, out: &mut Chunk, now: i64) {
        let kept = self.scanned.replace(0).min(self.rows.len());
        for i in 0..self.rows.len() {
            let ts = if i < kept { self.rows.ts(i) } else { now };
            out.push(ts, EventKind::Expired, self.rows.row(i));
        }
        self.rows.clear();
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        self.rows.snapshot(w);
        w.usize(self.scanned.get());
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.rows.restore(r)?;
        self.scanned.set(r.usize()?);
        Ok(())
    }
}

/// A window that keeps nothing and passes arrivals through (stands in for an invalid
/// definition; plans with one never run).
#[derive(Debug)]
pub struct NoWindow;

impl WindowSpec for NoWindow {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Batch
    }
    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(NoWindow)
    }
}

impl WindowProcessor for NoWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        _cx: &mut WindowCtx<'_>,
    ) {
        for &i in sel {
            let i = i as usize;
            out.begin_row(input.ts(i), input.kind(i))
                .extend_from_slice(input.row(i));
        }
    }
    fn snapshot(&self, _w: &mut StateWriter) {}
    fn restore(&mut self, _r: &mut StateReader<'_>) -> SnapshotResult<()> {
        Ok(())
    }
}

/// Every built-in window.
pub fn builtins() -> &'static [&'static dyn WindowFactory] {
    &[
        &length::Length,
        &length_batch::LengthBatch,
        &time::Time,
        &time_batch::TimeBatch,
        &time_length::TimeLength,
        &external_time::ExternalTime,
        &external_time_batch::ExternalTimeBatch,
        &sort::Sort,
        &frequent::Frequent,
        &lossy_frequent::LossyFrequent,
        &cron::Cron,
        &session::Session,
        &delay::Delay,
        &batch::Batch,
        &expression::Expression,
        &expression_batch::ExpressionBatch,
    ]
}

pub fn find(name: &str) -> Option<&'static dyn WindowFactory> {
    builtins().iter().copied().find(|f| f.name() == name)
}

/// Reads a constant int parameter (`length(5)`).
pub(crate) fn const_int(window: &str, what: &str, arg: &WindowArg) -> Result<i64, String> {
    match (arg.ty, arg.constant()) {
        (AttrType::Int, Some(Value::Int(v))) => Ok(*v as i64),
        (AttrType::Int, None) => Err(format!("{window} window's {what} must be a constant")),
        _ => Err(format!("{window} window's {what} must be an int constant")),
    }
}

/// Reads a constant time parameter: an int or long in milliseconds, or a time value.
pub(crate) fn const_time(window: &str, what: &str, arg: &WindowArg) -> Result<i64, String> {
    match arg.constant() {
        Some(Value::Int(v)) => Ok(*v as i64),
        Some(Value::Long(v)) => Ok(*v),
        Some(_) => Err(format!(
            "{window} window's {what} must be an int, long or time constant"
        )),
        None => Err(format!("{window} window's {what} must be a constant")),
    }
}

/// Checks the parameter count.
pub(crate) fn arg_count(window: &str, args: &[WindowArg], allowed: &[usize]) -> Result<(), String> {
    if allowed.contains(&args.len()) {
        Ok(())
    } else {
        let list: Vec<String> = allowed.iter().map(|n| n.to_string()).collect();
        Err(format!(
            "{window} window takes {} parameters, but found {}",
            list.join(" or "),
            args.len()
        ))
    }
}

/// Runs `arrive` on each selected row; false when one failed. Where it fails (where
/// Siddhi's processor throws), the error is logged and everything the chunk produced is
/// dropped — Siddhi never passes that chunk on — while the state changes made before the
/// failure stay, as in Siddhi.
pub(crate) fn each_arrival(
    window: &str,
    input: ChunkRef<'_>,
    sel: &[u32],
    out: &mut Chunk,
    mut arrive: impl FnMut(i64, &[Value], &mut Chunk) -> Result<(), String>,
) -> bool {
    let start = out.len();
    for &i in sel {
        let i = i as usize;
        if let Err(e) = arrive(input.ts(i), input.row(i), out) {
            crate::diagnostics::runtime_error(&format!("{window} window: {e}"));
            while out.len() > start {
                out.pop();
            }
            return false;
        }
    }
    true
}

/// A batch window's reset marker: a copy of the first event of a batch, sent ahead of the
/// next flush so aggregators clear (Siddhi's `resetEvent`). The buffer is reused.
#[derive(Debug, Default)]
pub(crate) struct ResetMarker {
    row: Vec<Value>,
    ts: i64,
    set: bool,
}

impl ResetMarker {
    pub fn is_set(&self) -> bool {
        self.set
    }

    /// Copies an event in as the marker.
    pub fn set(&mut self, ts: i64, row: &[Value]) {
        self.row.clear();
        self.row.extend_from_slice(row);
        self.ts = ts;
        self.set = true;
    }

    /// Emits the marker, stamped with `ts` or its own timestamp, and keeps it.
    pub fn emit(&self, out: &mut Chunk, ts: Option<i64>) {
        if self.set {
            out.push(ts.unwrap_or(self.ts), EventKind::Reset, &self.row);
        }
    }

    /// Emits the marker and clears it.
    pub fn take_into(&mut self, out: &mut Chunk, ts: Option<i64>) {
        self.emit(out, ts);
        self.set = false;
    }

    pub fn clear(&mut self) {
        self.set = false;
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.bool(self.set);
        if self.set {
            w.i64(self.ts);
            w.row(&self.row);
        }
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>, arity: usize) -> SnapshotResult<()> {
        self.row.clear();
        self.set = r.bool()?;
        if self.set {
            self.ts = r.i64()?;
            r.row_into(arity, &mut self.row)?;
        }
        Ok(())
    }
}
