//! `avg(x)`: a double; null while no value is held.

use super::{AggregatorContext, AggregatorFactory, AggregatorState, one_numeric_arg};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct Avg;

impl AggregatorFactory for Avg {
    fn name(&self) -> &'static str {
        "avg"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        one_numeric_arg("avg", args)?;
        Ok(AttrType::Double)
    }

    fn create(&self, _args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(AvgState { sum: 0.0, count: 0 })
    }
}

#[derive(Debug)]
struct AvgState {
    sum: f64,
    count: i64,
}

impl AvgState {
    fn current(&self) -> Value {
        if self.count == 0 {
            Value::Null
        } else {
            Value::Double(self.sum / self.count as f64)
        }
    }
}

impl AggregatorState for AvgState {
    fn add(&mut self, v: &Value) -> Value {
        let Some(x) = v.as_f64() else {
            return self.current();
        };
        self.count += 1;
        self.sum += x;
        self.current()
    }

    fn remove(&mut self, v: &Value) -> Value {
        let Some(x) = v.as_f64() else {
            return self.current();
        };
        self.count -= 1;
        self.sum -= x;
        self.current()
    }

    fn reset(&mut self) -> Value {
        self.sum = 0.0;
        self.count = 0;
        Value::Null
    }

    fn can_destroy(&self) -> bool {
        self.sum == 0.0 && self.count == 0
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.f64(self.sum);
        w.i64(self.count);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.sum = r.f64()?;
        self.count = r.i64()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SLIDE, run};
    use crate::value::{AttrType, Value};

    #[test]
    fn averages_as_double() {
        let out = run(
            "avg",
            AttrType::Int,
            SLIDE,
            &[
                ('+', Value::Int(1)),
                ('+', Value::Int(2)),
                ('-', Value::Int(1)),
                ('-', Value::Int(2)),
            ],
        );
        assert_eq!(
            out,
            vec![
                Value::Double(1.0),
                Value::Double(1.5),
                Value::Double(2.0),
                Value::Null
            ]
        );
    }
}
