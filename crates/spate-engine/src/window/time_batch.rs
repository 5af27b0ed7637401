//! `timeBatch(t[, start.time][, stream.current.event])`: tumbling batches over app time. The
//! first batch ends `t` after the first arrival (or at the next multiple of `t` offset by
//! `start.time`); each flush emits the previous batch as expired rows (when wanted), a reset,
//! and the batch. A clock jump over several boundaries flushes once per boundary.

use super::{
    BatchQueue, WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec,
    arg_count, const_time,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct TimeBatch;

impl WindowFactory for TimeBatch {
    fn name(&self) -> &'static str {
        "timeBatch"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        arg_count("timeBatch", &args, &[1, 2, 3])?;
        let millis = const_time("timeBatch", "window.time", &args[0])?;
        let mut start_time = None;
        let mut stream_current = false;
        if let Some(a) = args.get(1) {
            match (a.ty, a.constant()) {
                (AttrType::Int | AttrType::Long, Some(v)) if args.len() >= 2 => {
                    start_time = v.as_i64();
                }
                (AttrType::Bool, Some(Value::Bool(b))) if args.len() == 2 => stream_current = *b,
                _ => {
                    return Err("timeBatch window's 2nd parameter must be the constant start.time (int or long) or stream.current.event (bool)".into());
                }
            }
        }
        if let Some(a) = args.get(2) {
            match (a.ty, a.constant()) {
                (AttrType::Bool, Some(Value::Bool(b))) => stream_current = *b,
                _ => return Err(
                    "timeBatch window's 3rd parameter stream.current.event must be a bool constant"
                        .into(),
                ),
            }
        }
        if millis <= 0 {
            return Err(format!(
                "timeBatch window's window.time must be positive, but found {millis}"
            ));
        }
        Ok(Box::new(TimeBatchSpec {
            millis,
            start_time,
            stream_current,
            arity: cx.arity,
            keep_expired: cx.output_expects_expired || cx.find_to_be_executed,
            output_expired: cx.output_expects_expired,
        }))
    }
}

#[derive(Debug)]
struct TimeBatchSpec {
    millis: i64,
    start_time: Option<i64>,
    stream_current: bool,
    arity: usize,
    keep_expired: bool,
    output_expired: bool,
}

impl WindowSpec for TimeBatchSpec {
    fn mode(&self) -> ProcessingMode {
        if self.stream_current {
            ProcessingMode::Reset
        } else {
            ProcessingMode::Batch
        }
    }

    fn needs_timer(&self) -> bool {
        true
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(TimeBatchWindow {
            millis: self.millis,
            start_time: self.start_time,
            stream_current: self.stream_current,
            output_expired: self.output_expired,
            next_emit: None,
            current: (!self.stream_current).then(|| RowQueue::new(self.arity)),
            expired: self.keep_expired.then(|| BatchQueue::new(self.arity)),
            reset: None,
        })
    }
}

#[derive(Debug)]
struct TimeBatchWindow {
    millis: i64,
    start_time: Option<i64>,
    stream_current: bool,
    output_expired: bool,
    next_emit: Option<i64>,
    current: Option<RowQueue>,
    expired: Option<BatchQueue>,
    reset: Option<(i64, Vec<Value>)>,
}

impl TimeBatchWindow {
    /// Siddhi's `process`: arrivals (possibly none, for a timer) at clock `now`.
    fn run(
        &mut self,
        input: Option<(ChunkRef<'_>, &[u32])>,
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        let now = cx.now;
        if self.next_emit.is_none() {
            let first = match self.start_time {
                Some(start) => now + (self.millis - (now - start).rem_euclid(self.millis)),
                None => now + self.millis,
            };
            self.next_emit = Some(first);
            cx.notify_at(first);
        }
        let mut send = false;
        if let Some(next) = self.next_emit
            && now >= next
        {
            let following = next + self.millis;
            self.next_emit = Some(following);
            cx.notify_at(following);
            send = true;
        }
        let start = out.len();
        out.split_here();
        if let Some((chunk, sel)) = input {
            for &i in sel {
                let i = i as usize;
                let (ts, row) = (chunk.ts(i), chunk.row(i));
                if self.reset.is_none() {
                    self.reset = Some((ts, row.to_vec()));
                }
                match &mut self.current {
                    Some(cur) => cur.push(ts, row),
                    None => {
                        if let Some(exp) = &mut self.expired {
                            exp.rows.push(ts, row);
                        }
                        out.push(ts, EventKind::Current, row);
                    }
                }
            }
        }
        if send {
            if self.output_expired
                && let Some(exp) = &mut self.expired
            {
                exp.flush_expired(out, now);
            }
            // Siddhi's reset event is a clone of the batch's first event: it keeps that
            // event's timestamp (a snapshot rate limiter can see it).
            if let Some((ts, row)) = self.reset.take() {
                out.push(ts, EventKind::Reset, &row);
            }
            if let Some(cur) = &mut self.current
                && !cur.is_empty()
            {
                if let Some(exp) = &mut self.expired {
                    for r in 0..cur.len() {
                        exp.rows.push(cur.ts(r), cur.row(r));
                    }
                }
                cur.drain_into(out, EventKind::Current, None);
            }
        }
        if out.len() > start {
            out.batch = true;
        }
        let _ = self.stream_current;
    }
}

impl WindowProcessor for TimeBatchWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        self.run(Some((input, sel)), out, cx);
    }

    fn on_timer(&mut self, _due: i64, out: &mut Chunk, cx: &mut WindowCtx<'_>) {
        self.run(None, out, cx);
    }

    fn lookup(&self) -> Option<&RowQueue> {
        self.expired.as_ref().map(BatchQueue::lookup)
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.opt_value(self.next_emit.map(Value::Long).as_ref());
        if let Some(c) = &self.current {
            c.snapshot(w);
        }
        if let Some(e) = &self.expired {
            e.snapshot(w);
        }
        w.opt_row(self.reset.as_ref());
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.next_emit = r.opt_value()?.and_then(|v| v.as_i64());
        if let Some(c) = &mut self.current {
            c.restore(r)?;
        }
        if let Some(e) = &mut self.expired {
            e.restore(r)?;
        }
        self.reset = r.opt_row()?;
        Ok(())
    }
}
