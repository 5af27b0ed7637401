//! `sum(x)`: long for int/long input, double for float/double; null while nothing was summed.

use super::{AggregatorContext, AggregatorFactory, AggregatorState, one_numeric_arg};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct Sum;

impl AggregatorFactory for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        Ok(match one_numeric_arg("sum", args)? {
            AttrType::Int | AttrType::Long => AttrType::Long,
            _ => AttrType::Double,
        })
    }

    fn create(&self, args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        match args.first() {
            Some(AttrType::Int | AttrType::Long) => Box::new(LongSum::default()),
            _ => Box::new(DoubleSum::default()),
        }
    }
}

#[derive(Debug, Default)]
struct LongSum {
    sum: i64,
    count: i64,
}

impl LongSum {
    fn current(&self) -> Value {
        if self.count == 0 {
            Value::Null
        } else {
            Value::Long(self.sum)
        }
    }
}

impl AggregatorState for LongSum {
    fn add(&mut self, v: &Value) -> Value {
        let Some(x) = v.as_i64() else {
            return self.current();
        };
        self.sum = self.sum.wrapping_add(x);
        self.count += 1;
        Value::Long(self.sum)
    }

    fn remove(&mut self, v: &Value) -> Value {
        let Some(x) = v.as_i64() else {
            return self.current();
        };
        self.sum = self.sum.wrapping_sub(x);
        self.count -= 1;
        self.current()
    }

    fn reset(&mut self) -> Value {
        self.sum = 0;
        self.count = 0;
        Value::Null
    }

    fn can_destroy(&self) -> bool {
        self.count == 0 && self.sum == 0
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.i64(self.sum);
        w.i64(self.count);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.sum = r.i64()?;
        self.count = r.i64()?;
        Ok(())
    }
}

#[derive(Debug, Default)]
struct DoubleSum {
    sum: f64,
    count: i64,
}

impl DoubleSum {
    fn current(&self) -> Value {
        if self.count == 0 {
            Value::Null
        } else {
            Value::Double(self.sum)
        }
    }
}

impl AggregatorState for DoubleSum {
    fn add(&mut self, v: &Value) -> Value {
        let Some(x) = v.as_f64() else {
            return self.current();
        };
        self.sum += x;
        self.count += 1;
        Value::Double(self.sum)
    }

    fn remove(&mut self, v: &Value) -> Value {
        let Some(x) = v.as_f64() else {
            return self.current();
        };
        self.sum -= x;
        self.count -= 1;
        self.current()
    }

    fn reset(&mut self) -> Value {
        self.sum = 0.0;
        self.count = 0;
        Value::Null
    }

    fn can_destroy(&self) -> bool {
        self.count == 0 && self.sum == 0.0
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
    fn long_sum_skips_nulls_and_empties_to_null() {
        let out = run(
            "sum",
            AttrType::Int,
            SLIDE,
            &[
                ('+', Value::Int(2)),
                ('+', Value::Null),
                ('+', Value::Int(3)),
                ('-', Value::Int(2)),
                ('-', Value::Int(3)),
            ],
        );
        assert_eq!(
            out,
            vec![
                Value::Long(2),
                Value::Long(2),
                Value::Long(5),
                Value::Long(3),
                Value::Null
            ]
        );
    }

    #[test]
    fn double_sum_keeps_java_rounding_order() {
        let out = run(
            "sum",
            AttrType::Double,
            SLIDE,
            &[
                ('+', Value::Double(0.2)),
                ('+', Value::Double(2.5)),
                ('-', Value::Double(2.5)),
            ],
        );
        assert_eq!(out[2], Value::Double(0.2 + 2.5 - 2.5));
    }
}
