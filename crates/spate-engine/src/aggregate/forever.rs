//! `minForever(x)` / `maxForever(x)`: the extreme ever seen; removals and resets never forget
//! it (a removed value can even become the new extreme, as in Siddhi).

use super::{AggregatorContext, AggregatorFactory, AggregatorState, num_gt, one_numeric_arg};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct MinForever;
pub struct MaxForever;

impl AggregatorFactory for MinForever {
    fn name(&self) -> &'static str {
        "minForever"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        one_numeric_arg("minForever", args)
    }

    fn create(&self, _args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Forever {
            is_max: false,
            value: Value::Null,
        })
    }
}

impl AggregatorFactory for MaxForever {
    fn name(&self) -> &'static str {
        "maxForever"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        one_numeric_arg("maxForever", args)
    }

    fn create(&self, _args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Forever {
            is_max: true,
            value: Value::Null,
        })
    }
}

#[derive(Debug)]
struct Forever {
    is_max: bool,
    value: Value,
}

impl Forever {
    fn offer(&mut self, v: &Value) -> Value {
        if !v.is_null() {
            let better = if self.is_max {
                num_gt(v, &self.value)
            } else {
                num_gt(&self.value, v)
            };
            if self.value.is_null() || better {
                self.value = v.clone();
            }
        }
        self.value.clone()
    }
}

impl AggregatorState for Forever {
    fn add(&mut self, v: &Value) -> Value {
        self.offer(v)
    }

    fn remove(&mut self, v: &Value) -> Value {
        self.offer(v)
    }

    fn reset(&mut self) -> Value {
        self.value.clone()
    }

    fn can_destroy(&self) -> bool {
        self.value.is_null()
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.value(&self.value);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.value = r.value()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SLIDE, run};
    use crate::value::{AttrType, Value};

    #[test]
    fn remembers_past_extremes() {
        let i = Value::Long;
        let out = run(
            "maxForever",
            AttrType::Long,
            SLIDE,
            &[
                ('+', i(3)),
                ('+', i(9)),
                ('-', i(9)),
                ('r', Value::Null),
                ('+', i(4)),
            ],
        );
        assert_eq!(out, vec![i(3), i(9), i(9), i(9), i(9)]);
    }
}
