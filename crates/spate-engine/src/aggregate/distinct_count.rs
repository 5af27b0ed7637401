//! `distinctCount(x)`: how many different values are held (null counts as a value).

use rustc_hash::FxHashMap;

use super::{AggregatorContext, AggregatorFactory, AggregatorState, one_arg};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct DistinctCount;

impl AggregatorFactory for DistinctCount {
    fn name(&self) -> &'static str {
        "distinctCount"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        one_arg("distinctCount", args)?;
        Ok(AttrType::Long)
    }

    fn create(&self, _args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Distinct::default())
    }
}

#[derive(Debug, Default)]
struct Distinct {
    counts: FxHashMap<Value, i64>,
    /// First-insertion order of keys, so snapshots are deterministic.
    order: Vec<Value>,
}

impl AggregatorState for Distinct {
    fn add(&mut self, v: &Value) -> Value {
        let c = self.counts.entry(v.clone()).or_insert_with(|| {
            self.order.push(v.clone());
            0
        });
        *c += 1;
        Value::Long(self.counts.len() as i64)
    }

    fn remove(&mut self, v: &Value) -> Value {
        if let Some(c) = self.counts.get_mut(v) {
            *c -= 1;
            if *c <= 0 {
                self.counts.remove(v);
                if let Some(p) = self.order.iter().position(|x| x == v) {
                    self.order.remove(p);
                }
            }
        }
        Value::Long(self.counts.len() as i64)
    }

    fn reset(&mut self) -> Value {
        self.counts.clear();
        self.order.clear();
        Value::Long(0)
    }

    fn can_destroy(&self) -> bool {
        self.counts.is_empty()
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.usize(self.order.len());
        for v in &self.order {
            w.value(v);
            w.i64(self.counts.get(v).copied().unwrap_or(0));
        }
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.counts.clear();
        self.order.clear();
        let n = r.len(2)?;
        for _ in 0..n {
            let v = r.value()?;
            let c = r.i64()?;
            self.counts.insert(v.clone(), c);
            self.order.push(v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SLIDE, run};
    use crate::value::{AttrType, Value};

    #[test]
    fn counts_distinct_including_null() {
        let s = Value::str;
        let out = run(
            "distinctCount",
            AttrType::String,
            SLIDE,
            &[
                ('+', s("a")),
                ('+', s("a")),
                ('+', Value::Null),
                ('-', s("a")),
                ('-', s("a")),
            ],
        );
        assert_eq!(
            out,
            vec![
                Value::Long(1),
                Value::Long(1),
                Value::Long(2),
                Value::Long(2),
                Value::Long(1)
            ]
        );
    }
}
