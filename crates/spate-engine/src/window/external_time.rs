//! `externalTime(ts, t)`: a sliding window over a timestamp attribute instead of the app
//! clock. Each arrival's `ts` is "now": held events whose `ts` is `t` or more behind leave
//! first, stamped with that `ts` value (Siddhi's quirk: the attribute, not the clock), then
//! the arrival is held and emitted. Nothing happens between arrivals (no timers).
//!
//! An arrival whose `ts` is null makes Siddhi fail the whole chunk (a null unboxed to
//! `long`); Spate logs it and drops what the chunk produced, keeping the state changes of
//! the rows before it, which is what Siddhi is left with.

use super::params::{LONG_TYPE, Param, TIME_TYPES, attr_index, const_long};
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec,
    check_overloads, each_arrival,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct ExternalTime;

/// The parameters both external-time windows start with.
pub(super) const TIMESTAMP: Param = Param::dynamic("timestamp", LONG_TYPE);
pub(super) const WINDOW_TIME: Param = Param::fixed("window.time", TIME_TYPES);

const PARAMS: &[Param] = &[TIMESTAMP, WINDOW_TIME];

impl WindowFactory for ExternalTime {
    fn name(&self) -> &'static str {
        "externalTime"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads(
            "externalTime",
            &args,
            PARAMS,
            &[&["timestamp", "window.time"]],
        )?;
        let ts_attr = timestamp_attr("externalTime", &args[0])?;
        let millis = const_long(&args[1])
            .ok_or("externalTime window's window.time must be an int, long or time constant")?;
        Ok(Box::new(ExternalTimeSpec {
            ts_attr,
            millis,
            arity: cx.arity,
        }))
    }
}

/// The timestamp parameter of the external-time windows: a `long` attribute.
pub(super) fn timestamp_attr(window: &str, arg: &WindowArg) -> Result<usize, String> {
    match attr_index(arg) {
        Some(i) if arg.ty == AttrType::Long => Ok(i),
        Some(_) => Err(format!(
            "{window} window's timestamp must be a long attribute"
        )),
        None => Err(format!(
            "{window} window's timestamp must be an attribute of the stream, not an expression"
        )),
    }
}

/// Reads the timestamp attribute of a row; `Err` where Siddhi unboxes it to a `long` and
/// throws (a null, or a non-long value relabelled by `cast`).
pub(super) fn read_timestamp(row: &[Value], idx: usize) -> Result<i64, String> {
    match row.get(idx) {
        Some(Value::Long(v)) => Ok(*v),
        _ => Err("the timestamp attribute is not a long value; the chunk is dropped".into()),
    }
}

#[derive(Debug)]
struct ExternalTimeSpec {
    ts_attr: usize,
    millis: i64,
    arity: usize,
}

impl WindowSpec for ExternalTimeSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Slide
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(ExternalTimeWindow {
            ts_attr: self.ts_attr,
            millis: self.millis,
            held: RowQueue::new(self.arity),
        })
    }
}

#[derive(Debug)]
struct ExternalTimeWindow {
    ts_attr: usize,
    millis: i64,
    held: RowQueue,
}

impl WindowProcessor for ExternalTimeWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        _cx: &mut WindowCtx<'_>,
    ) {
        out.batch = input.batch;
        each_arrival("externalTime", input, sel, out, |ts, row, out| {
            let now = read_timestamp(row, self.ts_attr)?;
            while !self.held.is_empty() {
                let held_ts = self.held.row(0)[self.ts_attr].as_i64().unwrap_or(i64::MIN);
                if held_ts.wrapping_sub(now).wrapping_add(self.millis) > 0 {
                    break;
                }
                self.held.pop_front_into(out, EventKind::Expired, Some(now));
            }
            self.held.push(ts, row);
            out.push(ts, EventKind::Current, row);
            Ok(())
        });
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
