//! `lossyFrequent(support, error[, attr])`: Manku-Motwani lossy counting. Events are keyed
//! like `frequent`'s (the text of `attr`, else of the attributes the query selects). Each
//! arrival counts its key (a new key starts in the current bucket); the arrival is emitted
//! only if its key's count reaches `(support - error) * total`. Every `ceil(1 / error)`
//! arrivals, keys whose `count + bucket` no longer exceed the current bucket are pruned:
//! their latest events expire, stamped with the clock, after the arrival and in the
//! iteration order of Siddhi's `ConcurrentHashMap`.
//!
//! The one-parameter form is rejected, as Siddhi 5.1.7 rejects it (its `init` sizes an
//! array by `parameters - 2`). Thresholds outside `[0, 1]` are accepted (Siddhi only logs).
//! The arithmetic is Siddhi's: an `int` total, `double` buckets.

use super::frequent::{EventKeys, EventMap, KeySpec};
use super::java_map::JavaChm;
use super::params::{DOUBLE_TYPE, Param, STRING_TYPE};
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowInput, WindowProcessor, WindowSpec,
    check_overloads,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

pub struct LossyFrequent;

const NAME: &str = "lossyFrequent";

const PARAMS: &[Param] = &[
    Param::fixed("support.threshold", DOUBLE_TYPE),
    Param::fixed("error.bound", DOUBLE_TYPE),
    Param::dynamic("attribute", STRING_TYPE),
];

factory_with_input!(LossyFrequent, NAME);

#[derive(Debug)]
struct LossySpec {
    support: f64,
    error: f64,
    width: f64,
    key: KeySpec,
    arity: usize,
}

impl LossyFrequent {
    fn build(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
        input: Option<WindowInput<'_>>,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads(
            NAME,
            &args,
            PARAMS,
            &[
                &["support.threshold"],
                &["support.threshold", "error.bound"],
                &["support.threshold", "error.bound", "attribute"],
            ],
        )?;
        if args.len() == 1 {
            return Err("lossyFrequent window needs the error.bound as well: Siddhi 5.1.7 fails on `lossyFrequent(support)`; give it explicitly, e.g. `lossyFrequent(0.3, 0.03)`".into());
        }
        let double = |a: &WindowArg, what: &str| match a.constant() {
            Some(Value::Double(v)) => Ok(*v),
            _ => Err(format!(
                "lossyFrequent window's {what} must be a double constant"
            )),
        };
        let support = double(&args[0], "support.threshold")?;
        let error = double(&args[1], "error.bound")?;
        let output = input.and_then(|i| i.output_data);
        Ok(Box::new(LossySpec {
            support,
            error,
            width: (1.0 / error).ceil(),
            key: KeySpec::from_args(NAME, &args[2..], cx.arity, output)?,
            arity: cx.arity,
        }))
    }
}

impl WindowSpec for LossySpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Slide
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(LossyWindow {
            support: self.support,
            error: self.error,
            width: self.width,
            keys: EventKeys::new(self.key.clone()),
            total: 0,
            bucket: 1.0,
            counts: JavaChm::default(),
            events: EventMap::new(self.arity),
        })
    }
}

#[derive(Debug)]
struct LossyWindow {
    support: f64,
    error: f64,
    width: f64,
    keys: EventKeys,
    /// Arrivals so far (a Java `int`).
    total: i32,
    /// The current bucket id (a Java `double`).
    bucket: f64,
    /// Per key: count and the bucket it started in.
    counts: JavaChm<(i32, i32)>,
    events: EventMap,
}

impl WindowProcessor for LossyWindow {
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
            self.total = self.total.wrapping_add(1);
            if self.total != 1 {
                self.bucket = (self.total as f64 / self.width).ceil();
            }
            let key = self.keys.text(row);
            let count = if self.events.put(key, ts, row) {
                match self.counts.get_mut(key) {
                    Some(c) => {
                        c.0 = c.0.wrapping_add(1);
                        c.0
                    }
                    None => 0,
                }
            } else {
                // Java's `(int) bucket - 1`: the cast binds first and saturates.
                self.counts
                    .insert(key, (1, (self.bucket as i32).wrapping_sub(1)));
                1
            };
            if count as f64 >= (self.support - self.error) * self.total as f64 {
                out.push(ts, EventKind::Current, row);
            }
            if self.total as f64 % self.width == 0.0 {
                for k in self.counts.keys() {
                    let Some(&(c, b)) = self.counts.get(&k) else {
                        continue;
                    };
                    if c.wrapping_add(b) as f64 <= self.bucket {
                        self.counts.remove(&k);
                        self.events
                            .remove(&k, Some((&mut *out, EventKind::Expired, cx.now)));
                    }
                }
            }
        }
    }

    fn visit_held(&self, f: &mut dyn FnMut(i64, &[Value])) {
        self.events.visit(f);
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.i64(self.total as i64);
        w.f64(self.bucket);
        self.counts.snapshot(w, |w, (c, b)| {
            w.i64(*c as i64);
            w.i64(*b as i64);
        });
        self.events.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let int =
            |v: i64| i32::try_from(v).map_err(|_| SnapshotError::Invalid("lossy count".into()));
        self.total = int(r.i64()?)?;
        self.bucket = r.f64()?;
        self.counts
            .restore(r, |r| Ok((int(r.i64()?)?, int(r.i64()?)?)))?;
        self.events.restore(r)
    }
}
