//! `expression('count() <= 20')`: a sliding window that holds events while its retain
//! expression holds (added to Siddhi after 5.1.7; implemented from the later source, which
//! the 5.1.7 oracle cannot check). Each arrival is held and evaluated as a current event
//! (its aggregates count it in); if the expression fails, held events expire from the
//! oldest — each evaluated as an expired event, with `first` the next oldest — until it
//! holds again (possibly expiring the arrival itself). Expired rows are stamped with the
//! clock and come before the arrival.
//!
//! When the expression is an attribute (a per-event text), a changed text is compiled anew
//! and every held event is evaluated again from scratch with fresh aggregates, which may
//! expire some. See [`super::retain`] for what the expression can refer to. Where Siddhi
//! would throw (a runtime type error, a text that does not compile), the chunk's output is
//! dropped and logged, keeping the state changes made before.

use std::sync::Arc;

use super::params::{Param, STRING_TYPE};
use super::retain::{Retain, RetainSource};
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowInput, WindowProcessor, WindowSpec,
    check_overloads, each_arrival,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

pub struct Expression;

const NAME: &str = "expression";

const PARAMS: &[Param] = &[Param::dynamic("expression", STRING_TYPE)];

impl Expression {
    fn build(
        &self,
        mut args: Vec<WindowArg>,
        cx: WindowCompileCtx,
        input: Option<WindowInput<'_>>,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads(NAME, &args, PARAMS, &[&["expression"]])?;
        Ok(Box::new(ExpressionSpec {
            source: Arc::new(RetainSource::new(NAME, &mut args[0], input)?),
            arity: cx.arity,
        }))
    }
}

factory_with_input!(Expression, NAME);

#[derive(Debug)]
struct ExpressionSpec {
    source: Arc<RetainSource>,
    arity: usize,
}

impl WindowSpec for ExpressionSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Slide
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(ExpressionWindow {
            retain: Retain::new(NAME, self.source.clone()),
            held: RowQueue::new(self.arity),
            reprocess: RowQueue::new(self.arity),
            tmp: Vec::new(),
        })
    }
}

#[derive(Debug)]
struct ExpressionWindow {
    retain: Retain,
    held: RowQueue,
    /// The held events while they are evaluated again after the expression changed.
    reprocess: RowQueue,
    tmp: Vec<Value>,
}

impl ExpressionWindow {
    /// Siddhi's `processStreamEvent`: holds an event, then expires from the oldest until
    /// the expression holds.
    fn add(&mut self, ts: i64, row: &[Value], out: &mut Chunk, now: i64) -> Result<(), String> {
        self.held.push(ts, row);
        let r = &mut self.retain;
        r.rows.set(0, ts, row);
        r.rows.set(1, self.held.ts(0), self.held.row(0));
        r.rows.set(2, ts, row);
        if r.eval(EventKind::Current, now)? {
            return Ok(());
        }
        while !self.held.is_empty() {
            // The expiring event is stamped with the clock before it is evaluated; `first`
            // is the next oldest, or the expiring event when none is left.
            r.rows.set(0, now, self.held.row(0));
            if self.held.len() > 1 {
                r.rows.set(1, self.held.ts(1), self.held.row(1));
            } else {
                r.rows.set(1, now, self.held.row(0));
            }
            self.held.pop_front_into(out, EventKind::Expired, Some(now));
            if r.eval(EventKind::Expired, now)? {
                break;
            }
        }
        Ok(())
    }

    fn arrive(&mut self, ts: i64, row: &[Value], out: &mut Chunk, now: i64) -> Result<(), String> {
        if self.retain.changed(ts, row, now)? {
            // A new expression: evaluate every held event again, oldest first.
            std::mem::swap(&mut self.held, &mut self.reprocess);
            let mut tmp = std::mem::take(&mut self.tmp);
            let mut result = Ok(());
            while let Some(t) = self.reprocess.front_ts() {
                tmp.clear();
                tmp.extend_from_slice(self.reprocess.row(0));
                self.reprocess.pop_front();
                result = self.add(t, &tmp, out, now);
                if result.is_err() {
                    break;
                }
            }
            self.tmp = tmp;
            self.reprocess.clear();
            result?;
        }
        self.add(ts, row, out, now)?;
        out.push(ts, EventKind::Current, row);
        Ok(())
    }
}

impl WindowProcessor for ExpressionWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        out.batch = input.batch;
        let now = cx.now;
        each_arrival(NAME, input, sel, out, |ts, row, out| {
            self.arrive(ts, row, out, now)
        });
    }

    fn lookup(&self) -> Option<&RowQueue> {
        Some(&self.held)
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.held.snapshot(w);
        self.retain.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.held.restore(r)?;
        self.retain.restore(r)
    }
}
