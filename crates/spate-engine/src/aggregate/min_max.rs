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

    fn create(&self, _args: &[AttrType], cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Extreme::new(false, cx.tracks_removals()))
    }
}

impl AggregatorFactory for Max {
    fn name(&self) -> &'static str {
        "max"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        one_numeric_arg("max", args)
    }

    fn create(&self, _args: &[AttrType], cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Extreme::new(true, cx.tracks_removals()))
    }
}

#[derive(Debug)]
struct Extreme {
    is_max: bool,
    deque: Option<VecDeque<Value>>,
    value: Value,
}

impl Extreme {
    fn new(is_max: bool, track: bool) -> Extreme {
        Extreme {
            is_max,
            deque: track.then(VecDeque::new),
            value: Value::Null,
        }
    }

    /// `a` is a better extreme than `b` (strictly).
    fn beats(&self, a: &Value, b: &Value) -> bool {
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
        let is_max = self.is_max;
        if let Some(deque) = &mut self.deque {
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
            Some(deque) => {
                if let Some(pos) = deque.iter().position(|x| x == v) {
                    deque.remove(pos);
                }
                self.value = deque.front().cloned().unwrap_or(Value::Null);
            }
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
        self.deque.as_ref().is_none_or(|d| d.is_empty()) && self.value.is_null()
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.value(&self.value);
        match &self.deque {
            Some(d) => {
                w.u8(1);
                w.usize(d.len());
                for v in d {
                    w.value(v);
                }
            }
            None => w.u8(0),
        }
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.value = r.value()?;
        self.deque = match r.u8()? {
            0 => None,
            _ => Some(r.values()?.into()),
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
