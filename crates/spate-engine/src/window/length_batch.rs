//! `lengthBatch(n[, stream.current.event])`: tumbling batches of `n` events. A full batch is
//! emitted at once (the previous batch as expired rows first, when the query wants them, then
//! a reset, then the batch); with `stream.current.event` each event passes through at once and
//! the batch boundary only resets the aggregates.

use super::{
    BatchQueue, WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec,
    arg_count, const_int,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct LengthBatch;

impl WindowFactory for LengthBatch {
    fn name(&self) -> &'static str {
        "lengthBatch"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        arg_count("lengthBatch", &args, &[1, 2])?;
        let length = const_int("lengthBatch", "window.length", &args[0])?;
        if length < 0 {
            return Err(format!(
                "lengthBatch window's window.length cannot be negative, but found {length}"
            ));
        }
        let stream_current = match args.get(1) {
            None => false,
            Some(a) => match (a.ty, a.constant()) {
                (AttrType::Bool, Some(Value::Bool(b))) => *b,
                _ => {
                    return Err(
                        "lengthBatch window's stream.current.event must be a bool constant".into(),
                    );
                }
            },
        };
        Ok(Box::new(LengthBatchSpec {
            length: length as usize,
            stream_current,
            arity: cx.arity,
            keep_expired: cx.output_expects_expired || cx.find_to_be_executed,
            output_expired: cx.output_expects_expired,
        }))
    }
}

#[derive(Debug)]
struct LengthBatchSpec {
    length: usize,
    stream_current: bool,
    arity: usize,
    keep_expired: bool,
    output_expired: bool,
}

impl WindowSpec for LengthBatchSpec {
    fn mode(&self) -> ProcessingMode {
        if self.stream_current {
            ProcessingMode::Reset
        } else {
            ProcessingMode::Batch
        }
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(LengthBatchWindow {
            length: self.length,
            stream_current: self.stream_current,
            output_expired: self.output_expired,
            current: RowQueue::new(self.arity),
            expired: self.keep_expired.then(|| BatchQueue::new(self.arity)),
            reset: None,
            count: 0,
        })
    }
}

#[derive(Debug)]
struct LengthBatchWindow {
    length: usize,
    stream_current: bool,
    output_expired: bool,
    current: RowQueue,
    expired: Option<BatchQueue>,
    /// A copy of the first event of the batch, sent as the reset marker.
    reset: Option<(i64, Vec<Value>)>,
    count: usize,
}

impl LengthBatchWindow {
    fn emit_expired_and_reset(&mut self, now: i64, out: &mut Chunk) {
        if self.output_expired
            && let Some(exp) = &mut self.expired
        {
            exp.flush_expired(out, now);
        }
        if let Some((_, row)) = self.reset.take() {
            out.push(now, EventKind::Reset, &row);
        }
    }
}

impl WindowProcessor for LengthBatchWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        out.batch = true;
        for &i in sel {
            let i = i as usize;
            let (ts, row) = (input.ts(i), input.row(i));
            out.split_here();
            if self.length == 0 {
                out.push(ts, EventKind::Current, row);
                if self.output_expired {
                    out.push(cx.now, EventKind::Expired, row);
                }
                out.push(cx.now, EventKind::Reset, row);
                continue;
            }
            if self.reset.is_none() {
                self.reset = Some((ts, row.to_vec()));
            }
            if self.stream_current {
                self.count += 1;
                if self.count == self.length + 1 {
                    self.emit_expired_and_reset(cx.now, out);
                    self.count = 1;
                }
                out.push(ts, EventKind::Current, row);
                if let Some(exp) = &mut self.expired {
                    exp.rows.push(ts, row);
                }
            } else {
                self.current.push(ts, row);
                self.count += 1;
                if self.count == self.length {
                    self.emit_expired_and_reset(cx.now, out);
                    if let Some(exp) = &mut self.expired {
                        for r in 0..self.current.len() {
                            exp.rows.push(self.current.ts(r), self.current.row(r));
                        }
                    }
                    self.current.drain_into(out, EventKind::Current, None);
                    self.count = 0;
                }
            }
        }
    }

    fn lookup(&self) -> Option<&RowQueue> {
        self.expired.as_ref().map(BatchQueue::lookup)
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.current.snapshot(w);
        if let Some(e) = &self.expired {
            e.snapshot(w);
        }
        w.opt_row(self.reset.as_ref());
        w.usize(self.count);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.current.restore(r)?;
        if let Some(e) = &mut self.expired {
            e.restore(r)?;
        }
        self.reset = r.opt_row()?;
        self.count = r.usize()?;
        Ok(())
    }
}
