//! `batch([n])`: each arriving chunk is a batch (cut into batches of `n` rows when `n > 0`).
//! A batch is emitted as one batch chunk: the reset marker of the batch before it, then its
//! rows. When the query outputs expired events, the rows of the previous *input chunk* are
//! emitted as expired (stamped with the clock) ahead of the first batch, followed by the
//! pending reset marker, as Siddhi does: there the marker is spent, so that batch's own
//! chunk carries none.

use super::params::{INT_TYPE, Param};
use super::{
    ResetMarker, WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor,
    WindowSpec, check_overloads,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

pub struct Batch;

const PARAMS: &[Param] = &[Param::fixed("window.length", INT_TYPE)];

impl WindowFactory for Batch {
    fn name(&self) -> &'static str {
        "batch"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads("batch", &args, PARAMS, &[&[], &["window.length"]])?;
        let length = match args.first().map(|a| a.constant()) {
            None => 0,
            Some(Some(Value::Int(n))) => *n,
            Some(_) => return Err("batch window's window.length must be an int constant".into()),
        };
        if length < 0 {
            return Err(format!(
                "batch window's window.length cannot be negative, but found {length}"
            ));
        }
        Ok(Box::new(BatchSpec {
            length: length as usize,
            arity: cx.arity,
            keep_expired: cx.output_expects_expired || cx.find_to_be_executed,
            output_expired: cx.output_expects_expired,
        }))
    }
}

#[derive(Debug)]
struct BatchSpec {
    length: usize,
    arity: usize,
    keep_expired: bool,
    output_expired: bool,
}

impl WindowSpec for BatchSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Batch
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(BatchWindow {
            length: self.length,
            arity: self.arity,
            output_expired: self.output_expired,
            expired: self.keep_expired.then(|| RowQueue::new(self.arity)),
            reset: ResetMarker::default(),
        })
    }
}

#[derive(Debug)]
struct BatchWindow {
    length: usize,
    arity: usize,
    output_expired: bool,
    /// The previous input chunk, to expire (filled only when the query outputs expired
    /// events; a join sees this queue, so it sees nothing otherwise, as in Siddhi).
    expired: Option<RowQueue>,
    reset: ResetMarker,
}

impl WindowProcessor for BatchWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        out.batch = true;
        if self.output_expired
            && let Some(exp) = &mut self.expired
        {
            if !exp.is_empty() {
                if sel.is_empty() {
                    // Siddhi builds the expiry chunk but sends nothing without arrivals.
                    self.reset.clear();
                } else {
                    exp.drain_into(out, EventKind::Expired, Some(cx.now));
                    self.reset.take_into(out, None);
                }
            }
            exp.clear();
        }
        let mut count = 0;
        for &i in sel {
            let i = i as usize;
            let (ts, row) = (input.ts(i), input.row(i));
            if self.output_expired
                && let Some(exp) = &mut self.expired
            {
                exp.push(ts, row);
            }
            if count == 0 {
                // The first row of a batch: the previous batch's marker goes first.
                self.reset.emit(out, None);
                self.reset.set(ts, row);
            }
            out.push(ts, EventKind::Current, row);
            count += 1;
            if count == self.length {
                count = 0;
                out.split_here();
            }
        }
    }

    fn lookup(&self) -> Option<&RowQueue> {
        self.expired.as_ref()
    }

    fn snapshot(&self, w: &mut StateWriter) {
        if let Some(e) = &self.expired {
            e.snapshot(w);
        }
        self.reset.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        if let Some(e) = &mut self.expired {
            e.restore(r)?;
        }
        self.reset.restore(r, self.arity)
    }
}
