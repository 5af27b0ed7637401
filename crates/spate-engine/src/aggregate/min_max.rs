//! `min(x)` / `max(x)` over the events in the window.
//!
//! When removals can come one by one (sliding windows, or the query emits expired events) the
//! state keeps Siddhi's monotonic deque: adding drops every queued value the new one beats,
//! removing takes out the first equal value, and the answer is the head. That is O(1) amortised
//! per event with no rescans, and gives Siddhi's exact answers even for out-of-order removals.
//! Otherwise only the extreme is kept and a removal of it clears the answer.

use std::collections::VecDeque;

use super::{AggregatorContext, AggregatorFactory, AggregatorState, num_gt, one_numeric_arg};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct Min;
pub struct Max;

impl AggregatorFactory for Min {
    fn name(&self) -> &'static str {
        "min"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        one_numeric_arg("min", args)
    }

    fn create(&self, args: &[AttrType], cx: AggregatorContext) -> Box<dyn AggregatorState> {
        let doubles = args.first() == Some(&AttrType::Double);
        Box::new(Extreme::new(false, cx.tracks_removals(), doubles))
    }
}

impl AggregatorFactory for Max {
    fn name(&self) -> &'static str {
        "max"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        one_numeric_arg("max", args)
    }

    fn create(&self, args: &[AttrType], cx: AggregatorContext) -> Box<dyn AggregatorState> {
        let doubles = args.first() == Some(&AttrType::Double);
        Box::new(Extreme::new(true, cx.tracks_removals(), doubles))
    }
}

/// The monotonic deque of a tracking min/max: doubles unboxed while every value is one
/// (the common case), general values otherwise.
#[derive(Debug)]
enum Deque {
    F64(VecDeque<f64>),
    Any(VecDeque<Value>),
}

/// Java's `Double.equals`: bit patterns, with every NaN alike.
#[inline]
fn same_double(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

impl Deque {
    fn new(doubles: bool) -> Deque {
        if doubles {
            Deque::F64(VecDeque::new())
        } else {
            Deque::Any(VecDeque::new())
        }
    }

    /// The general form, for a value that is not a double.
    #[cold]
    fn generalise(&mut self) -> &mut VecDeque<Value> {
        if let Deque::F64(d) = self {
            *self = Deque::Any(d.iter().map(|&x| Value::Double(x)).collect());
        }
        match self {
            Deque::Any(d) => d,
            Deque::F64(_) => unreachable!("just generalised"),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Deque::F64(d) => d.is_empty(),
            Deque::Any(d) => d.is_empty(),
        }
    }

    fn clear(&mut self) {
        match self {
            Deque::F64(d) => d.clear(),
            Deque::Any(d) => d.clear(),
        }
    }

    fn add(&mut self, is_max: bool, v: &Value) {
        if let (Deque::F64(d), Value::Double(x)) = (&mut *self, v) {
            let x = *x;
            while let Some(&back) = d.back() {
                if if is_max { x > back } else { back > x } {
                    d.pop_back();
                } else {
                    break;
                }
            }
            d.push_back(x);
            return;
        }
        let deque = self.generalise();
        while let Some(back) = deque.back() {
            let dominated = if is_max {
                num_gt(v, back)
            } else {
                num_gt(back, v)
            };
            if dominated {
                deque.pop_back();
            } else {
                break;
            }
        }
        deque.push_back(v.clone());
    }

    /// Takes out the first value equal to `v`; returns the new head.
    fn remove(&mut self, v: &Value) -> Value {
        match (&mut *self, v) {
            (Deque::F64(d), Value::Double(x)) => {
                if let Some(pos) = d.iter().position(|&y| same_double(y, *x)) {
                    d.remove(pos);
                }
                d.front().map_or(Value::Null, |&h| Value::Double(h))
            }
            // No double equals a value of another class.
            (Deque::F64(d), _) => d.front().map_or(Value::Null, |&h| Value::Double(h)),
            (Deque::Any(d), _) => {
                if let Some(pos) = d.iter().position(|x| x == v) {
                    d.remove(pos);
                }
                d.front().cloned().unwrap_or(Value::Null)
            }
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        match self {
            Deque::F64(d) => {
                w.usize(d.len());
                for &x in d {
                    w.value(&Value::Double(x));
                }
            }
            Deque::Any(d) => {
                w.usize(d.len());
                for v in d {
                    w.value(v);
                }
            }
        }
    }

    fn restored(doubles: bool, values: Vec<Value>) -> Deque {
        if doubles && values.iter().all(|v| matches!(v, Value::Double(_))) {
            Deque::F64(values.iter().filter_map(Value::as_f64).collect())
        } else {
            Deque::Any(values.into())
        }
    }
}

#[derive(Debug)]
struct Extreme {
    is_max: bool,
    /// The argument is declared double: keep the deque unboxed while values are doubles.
    doubles: bool,
    deque: Option<Deque>,
    value: Value,
}

impl Extreme {
    fn new(is_max: bool, track: bool, doubles: bool) -> Extreme {
        Extreme {
            is_max,
            doubles,
            deque: track.then(|| Deque::new(doubles)),
            value: Value::Null,
        }
    }

    /// `a` is a better extreme than `b` (strictly).
    #[inline]
    fn beats(&self, a: &Value, b: &Value) -> bool {
        if let (Value::Double(x), Value::Double(y)) = (a, b) {
            return if self.is_max { x > y } else { y > x };
        }
        if self.is_max {
            num_gt(a, b)
        } else {
            num_gt(b, a)
        }
    }
}

impl AggregatorState for Extreme {
    fn add(&mut self, v: &Value) -> Value {
        if v.is_null() {
            return self.value.clone();
        }
        if let Some(deque) = &mut self.deque {
            deque.add(self.is_max, v);
        }
        if self.value.is_null() || self.beats(v, &self.value) {
            self.value = v.clone();
        }
        self.value.clone()
    }

    fn remove(&mut self, v: &Value) -> Value {
        if v.is_null() {
            return self.value.clone();
        }
        match &mut self.deque {
            Some(deque) => self.value = deque.remove(v),
            None => {
                if self.value == *v {
                    self.value = Value::Null;
                }
            }
        }
        self.value.clone()
    }

    fn reset(&mut self) -> Value {
        if let Some(d) = &mut self.deque {
            d.clear();
        }
        self.value = Value::Null;
        Value::Null
    }

    fn can_destroy(&self) -> bool {
        self.deque.as_ref().is_none_or(Deque::is_empty) && self.value.is_null()
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.value(&self.value);
        match &self.deque {
            Some(d) => {
                w.u8(1);
                d.snapshot(w);
            }
            None => w.u8(0),
        }
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.value = r.value()?;
        self.deque = match r.u8()? {
            0 => None,
            _ => Some(Deque::restored(self.doubles, r.values()?)),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{BATCH, SLIDE, run};
    use crate::value::{AttrType, Value};

    #[test]
    fn sliding_min_follows_the_window() {
        let d = Value::Double;
        let out = run(
            "min",
            AttrType::Double,
            SLIDE,
            &[
                ('+', d(3.0)),
                ('+', d(1.0)),
                ('+', d(2.0)),
                ('-', d(3.0)),
                ('-', d(1.0)),
                ('-', d(2.0)),
            ],
        );
        assert_eq!(
            out,
            vec![d(3.0), d(1.0), d(1.0), d(1.0), d(2.0), Value::Null]
        );
    }

    #[test]
    fn batch_max_only_remembers_the_extreme() {
        let i = Value::Int;
        let out = run(
            "max",
            AttrType::Int,
            BATCH,
            &[('+', i(3)), ('+', i(5)), ('-', i(5)), ('+', i(1))],
        );
        assert_eq!(out, vec![i(3), i(5), Value::Null, i(1)]);
    }
}
