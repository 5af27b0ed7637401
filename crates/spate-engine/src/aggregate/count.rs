//! `count()` / `count(x)`: every event counts, whatever its values.

use super::{AggregatorContext, AggregatorFactory, AggregatorState};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct Count;

impl AggregatorFactory for Count {
    fn name(&self) -> &'static str {
        "count"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        if args.len() > 1 {
            return Err(format!(
                "count() takes at most 1 argument, but found {}",
                args.len()
            ));
        }
        Ok(AttrType::Long)
    }

    fn create(&self, _args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(CountState(0))
    }
}

#[derive(Debug)]
struct CountState(i64);

impl AggregatorState for CountState {
    fn add(&mut self, _v: &Value) -> Value {
        self.0 += 1;
        Value::Long(self.0)
    }

    fn remove(&mut self, _v: &Value) -> Value {
        self.0 -= 1;
        Value::Long(self.0)
    }

    fn reset(&mut self) -> Value {
        self.0 = 0;
        Value::Long(0)
    }

    fn can_destroy(&self) -> bool {
        self.0 == 0
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.i64(self.0);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.0 = r.i64()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SLIDE, run};
    use crate::value::{AttrType, Value};

    #[test]
    fn counts_nulls_too() {
        let out = run(
            "count",
            AttrType::Int,
            SLIDE,
            &[
                ('+', Value::Null),
                ('+', Value::Int(1)),
                ('-', Value::Null),
                ('r', Value::Null),
            ],
        );
        assert_eq!(
            out,
            vec![
                Value::Long(1),
                Value::Long(2),
                Value::Long(1),
                Value::Long(0)
            ]
        );
    }
}
