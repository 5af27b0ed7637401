//! `expressionBatch('expr'[, include.triggering.event[, stream.current.event]])`: a batch
//! window that collects events while its retain expression holds (added to Siddhi after
//! 5.1.7; implemented from the later source, which the 5.1.7 oracle cannot check). When an
//! arrival makes the expression fail, the aggregates restart from that arrival alone and
//! one batch chunk is emitted: the previous batch as expired rows, then the collected batch
//! — both stamped with the clock, and no reset row (Siddhi sends none). The arrival starts
//! the next batch, or closes this one when `include.triggering.event` is true (then it is
//! also the first expired row of the next flush, while the aggregates still count it).
//! With nothing collected, the arrival is emitted alone, as expired then current.
//!
//! With `stream.current.event`, arrivals are emitted at once and the held events expire in
//! batches when the expression fails. A per-event expression text that changes is compiled
//! anew and the held events are evaluated again, as in Siddhi (in streaming mode they are
//! then re-queued, with their kinds, to go out with the next arrival).
//! Where Siddhi would throw, the chunk's output is dropped and logged.

use std::sync::Arc;

use super::params::{BOOL_TYPE, Param, const_bool};
use super::retain::{Retain, RetainSource};
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowInput, WindowProcessor, WindowSpec,
    check_overloads, each_arrival,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::expr::{EvalCtx, Expr};
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct ExpressionBatch;

const NAME: &str = "expressionBatch";

const PARAMS: &[Param] = &[
    Param::dynamic("expression", &[AttrType::String, AttrType::Bool]),
    Param::dynamic("include.triggering.event", BOOL_TYPE),
    Param::fixed("stream.current.event", BOOL_TYPE),
];

/// Whether the triggering event closes the batch it ends.
#[derive(Debug)]
enum Include {
    Const(bool),
    PerEvent(Expr),
}

impl ExpressionBatch {
    fn build(
        &self,
        mut args: Vec<WindowArg>,
        cx: WindowCompileCtx,
        input: Option<WindowInput<'_>>,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads(
            NAME,
            &args,
            PARAMS,
            &[
                &["expression"],
                &["expression", "include.triggering.event"],
                &[
                    "expression",
                    "include.triggering.event",
                    "stream.current.event",
                ],
            ],
        )?;
        let source = RetainSource::new(NAME, &mut args[0], input)?;
        let include = match args.get_mut(1) {
            None => Include::Const(false),
            Some(a) => match const_bool(a) {
                Some(b) => Include::Const(b),
                None => Include::PerEvent(std::mem::replace(&mut a.expr, Expr::Const(Value::Null))),
            },
        };
        let stream_current = args.get(2).and_then(const_bool).unwrap_or(false);
        Ok(Box::new(ExpressionBatchSpec {
            cfg: Arc::new(Config {
                source: Arc::new(source),
                include,
                stream_current,
                arity: cx.arity,
            }),
        }))
    }
}

factory_with_input!(ExpressionBatch, NAME);

#[derive(Debug)]
struct Config {
    source: Arc<RetainSource>,
    include: Include,
    stream_current: bool,
    arity: usize,
}

#[derive(Debug)]
struct ExpressionBatchSpec {
    cfg: Arc<Config>,
}

impl WindowSpec for ExpressionBatchSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Batch
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        let arity = self.cfg.arity;
        Box::new(ExpressionBatchWindow {
            retain: Retain::new(NAME, self.cfg.source.clone()),
            current: Chunk::new(arity),
            expired: Chunk::new(arity),
            replay: Chunk::new(arity),
            cfg: self.cfg.clone(),
        })
    }
}

#[derive(Debug)]
struct ExpressionBatchWindow {
    cfg: Arc<Config>,
    retain: Retain,
    /// Siddhi's `currentEventQueue` (rows keep their kinds: streaming mode re-queues expired
    /// rows here). What a join sees.
    current: Chunk,
    /// Siddhi's `expiredEventQueue`.
    expired: Chunk,
    /// Held events being evaluated again after the expression changed.
    replay: Chunk,
}

/// An event being handled: its timestamp, kind and row.
type Ev<'a> = (i64, EventKind, &'a [Value]);

impl ExpressionBatchWindow {
    fn include(&self, ev: Ev<'_>, now: i64) -> Result<bool, String> {
        match &self.cfg.include {
            Include::Const(b) => Ok(*b),
            Include::PerEvent(e) => {
                let rows: [&[Value]; 1] = [ev.2];
                let mut ecx = EvalCtx::new(&rows, ev.0, now);
                match e.eval(&mut ecx) {
                    Value::Bool(b) if ecx.error.is_none() => Ok(b),
                    _ => Err(ecx
                        .error
                        .unwrap_or_else(|| "include.triggering.event is null".into())),
                }
            }
        }
    }

    /// Evaluates the arrival, with `first` the oldest event of `current` (or of `expired`
    /// in streaming mode), or the arrival; on failure restarts the aggregates from the
    /// arrival alone (reset, then add).
    fn holds(&mut self, ev: Ev<'_>, now: i64) -> Result<bool, String> {
        let held = if self.cfg.stream_current {
            &self.expired
        } else {
            &self.current
        };
        let r = &mut self.retain;
        r.rows.set(0, ev.0, ev.2);
        if held.is_empty() {
            r.rows.set(1, ev.0, ev.2);
        } else {
            r.rows.set(1, held.ts(0), held.row(0));
        }
        r.rows.set(2, ev.0, ev.2);
        if r.eval(EventKind::Current, now)? {
            return Ok(true);
        }
        r.eval(EventKind::Reset, now)?;
        r.eval(EventKind::Current, now)?;
        Ok(false)
    }

    /// Siddhi's `processStreamEvent` (batch mode).
    fn batch_event(&mut self, ev: Ev<'_>, out: &mut Chunk, now: i64) -> Result<(), String> {
        if self.holds(ev, now)? {
            self.current.push(ev.0, ev.1, ev.2);
            return Ok(());
        }
        out.split_here();
        stamp(&mut self.expired, now);
        out.extend_from(self.expired.as_ref());
        self.expired.clear();
        if self.current.is_empty() {
            out.push(now, EventKind::Expired, ev.2);
            out.push(now, ev.1, ev.2);
            return Ok(());
        }
        stamp(&mut self.current, now);
        for i in 0..self.current.len() {
            self.expired
                .push(now, EventKind::Expired, self.current.row(i));
        }
        out.extend_from(self.current.as_ref());
        self.current.clear();
        if self.include(ev, now)? {
            out.push(ev.0, ev.1, ev.2);
            self.expired.push(now, EventKind::Expired, ev.2);
        } else {
            self.current.push(ev.0, ev.1, ev.2);
        }
        Ok(())
    }

    /// Siddhi's `processStreamEventAsStream` (streaming mode); `output` is false while held
    /// events are evaluated again.
    fn stream_event(
        &mut self,
        ev: Ev<'_>,
        output: bool,
        out: &mut Chunk,
        now: i64,
    ) -> Result<(), String> {
        if output {
            out.split_here();
            out.extend_from(self.current.as_ref());
            self.current.clear();
        }
        if self.holds(ev, now)? {
            self.expired.push(ev.0, EventKind::Expired, ev.2);
            if output {
                out.push(ev.0, ev.1, ev.2);
            }
            return Ok(());
        }
        if self.expired.is_empty() {
            if output {
                out.push(now, EventKind::Expired, ev.2);
                out.push(now, ev.1, ev.2);
            } else {
                self.current.push(ev.0, ev.1, ev.2);
            }
            return Ok(());
        }
        stamp(&mut self.expired, now);
        if self.include(ev, now)? {
            if output {
                out.push(ev.0, ev.1, ev.2);
                out.extend_from(self.expired.as_ref());
                out.push(now, EventKind::Expired, ev.2);
            } else {
                self.current.extend_from(self.expired.as_ref());
                self.current.push(ev.0, EventKind::Expired, ev.2);
            }
            self.expired.clear();
        } else {
            if output {
                out.extend_from(self.expired.as_ref());
                out.push(ev.0, ev.1, ev.2);
            } else {
                self.current.extend_from(self.expired.as_ref());
            }
            self.expired.clear();
            self.expired.push(ev.0, EventKind::Expired, ev.2);
        }
        Ok(())
    }

    fn arrive(&mut self, ts: i64, row: &[Value], out: &mut Chunk, now: i64) -> Result<(), String> {
        if self.retain.changed(ts, row, now)? {
            // A new expression: the held events are evaluated again, oldest first.
            let mut replay = std::mem::take(&mut self.replay);
            if self.cfg.stream_current {
                std::mem::swap(&mut replay, &mut self.expired);
            } else {
                std::mem::swap(&mut replay, &mut self.current);
            }
            let mut result = Ok(());
            for i in 0..replay.len() {
                let ev = (replay.ts(i), replay.kind(i), replay.row(i));
                result = if self.cfg.stream_current {
                    self.stream_event(ev, false, out, now)
                } else {
                    self.batch_event(ev, out, now)
                };
                if result.is_err() {
                    break;
                }
            }
            replay.clear();
            self.replay = replay;
            result?;
        }
        let ev = (ts, EventKind::Current, row);
        if self.cfg.stream_current {
            self.stream_event(ev, true, out, now)
        } else {
            self.batch_event(ev, out, now)
        }
    }
}

/// Sets every row's timestamp to `now`.
fn stamp(c: &mut Chunk, now: i64) {
    for i in 0..c.len() {
        c.set_ts(i, now);
    }
}

fn write_rows(c: &Chunk, w: &mut StateWriter) {
    w.usize(c.len());
    for i in 0..c.len() {
        w.i64(c.ts(i));
        w.u8(c.kind(i).code());
        w.row(c.row(i));
    }
}

fn read_rows(c: &mut Chunk, r: &mut StateReader<'_>, arity: usize) -> SnapshotResult<()> {
    c.clear();
    let n = r.len(2 + arity)?;
    let mut row = Vec::with_capacity(arity);
    for _ in 0..n {
        let ts = r.i64()?;
        let kind = EventKind::from_code(r.u8()?)
            .ok_or_else(|| SnapshotError::Invalid("event kind".into()))?;
        row.clear();
        r.row_into(arity, &mut row)?;
        c.push(ts, kind, &row);
    }
    Ok(())
}

impl WindowProcessor for ExpressionBatchWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        out.batch = true;
        let now = cx.now;
        each_arrival(NAME, input, sel, out, |ts, row, out| {
            self.arrive(ts, row, out, now)
        });
    }

    fn visit_held(&self, f: &mut dyn FnMut(i64, &[Value])) {
        for i in 0..self.current.len() {
            f(self.current.ts(i), self.current.row(i));
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        write_rows(&self.current, w);
        write_rows(&self.expired, w);
        self.retain.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        read_rows(&mut self.current, r, self.cfg.arity)?;
        read_rows(&mut self.expired, r, self.cfg.arity)?;
        self.retain.restore(r)
    }
}
