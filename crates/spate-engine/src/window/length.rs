//! `length(n)`: the last `n` events; each arrival beyond `n` expires the oldest, emitted
//! before the arrival and stamped with the current time.

use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec, arg_count,
    const_int,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};

pub struct Length;

impl WindowFactory for Length {
    fn name(&self) -> &'static str {
        "length"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        arg_count("length", &args, &[1])?;
        let length = const_int("length", "window.length", &args[0])?;
        if length < 0 {
            return Err(format!(
                "length window's window.length cannot be negative, but found {length}"
            ));
        }
        Ok(Box::new(LengthSpec {
            length: length as usize,
            arity: cx.arity,
        }))
    }
}

#[derive(Debug)]
struct LengthSpec {
    length: usize,
    arity: usize,
}

impl WindowSpec for LengthSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Slide
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(LengthWindow {
            length: self.length,
            held: RowQueue::new(self.arity),
        })
    }
}

#[derive(Debug)]
struct LengthWindow {
    length: usize,
    held: RowQueue,
}

impl WindowProcessor for LengthWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        for &i in sel {
            let i = i as usize;
            let (ts, row) = (input.ts(i), input.row(i));
            if self.length == 0 {
                // Nothing is held: the event passes, expires and resets at once.
                out.push(ts, EventKind::Current, row);
                out.push(cx.now, EventKind::Expired, row);
                out.push(cx.now, EventKind::Reset, row);
                continue;
            }
            if self.held.len() >= self.length {
                self.held
                    .pop_front_into(out, EventKind::Expired, Some(cx.now));
            }
            self.held.push(ts, row);
            out.push(ts, EventKind::Current, row);
        }
    }

    fn lookup(&self) -> Option<&RowQueue> {
        Some(&self.held)
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.held.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.held.restore(r)
    }
}
