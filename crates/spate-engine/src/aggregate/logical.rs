//! `and(b)` / `or(b)` over the bool values held.

use super::{AggregatorContext, AggregatorFactory, AggregatorState, one_arg, type_name};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct And;
pub struct Or;

fn bool_arg(name: &str, args: &[AttrType]) -> Result<AttrType, String> {
    match one_arg(name, args)? {
        AttrType::Bool => Ok(AttrType::Bool),
        other => Err(format!(
            "{name}() needs a bool argument, but found {}",
            type_name(other)
        )),
    }
}

impl AggregatorFactory for And {
    fn name(&self) -> &'static str {
        "and"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        bool_arg("and", args)
    }

    fn create(&self, _args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Logical {
            is_and: true,
            trues: 0,
            falses: 0,
        })
    }
}

impl AggregatorFactory for Or {
    fn name(&self) -> &'static str {
        "or"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        bool_arg("or", args)
    }

    fn create(&self, _args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Logical {
            is_and: false,
            trues: 0,
            falses: 0,
        })
    }
}

#[derive(Debug)]
struct Logical {
    is_and: bool,
    trues: i32,
    falses: i32,
}

impl Logical {
    fn current(&self) -> Value {
        Value::Bool(if self.is_and {
            self.trues > 0 && self.falses == 0
        } else {
            self.trues > 0
        })
    }
}

impl AggregatorState for Logical {
    fn add(&mut self, v: &Value) -> Value {
        // Siddhi unboxes the value; a null would throw there, here it counts as false.
        if matches!(v, Value::Bool(true)) {
            self.trues += 1;
        } else {
            self.falses += 1;
        }
        self.current()
    }

    fn remove(&mut self, v: &Value) -> Value {
        if matches!(v, Value::Bool(true)) {
            self.trues -= 1;
        } else {
            self.falses -= 1;
        }
        self.current()
    }

    fn reset(&mut self) -> Value {
        self.trues = 0;
        self.falses = 0;
        Value::Bool(false)
    }

    fn can_destroy(&self) -> bool {
        self.trues == 0 && self.falses == 0
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.i64(self.trues as i64);
        w.i64(self.falses as i64);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.trues = r.i64()? as i32;
        self.falses = r.i64()? as i32;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SLIDE, run};
    use crate::value::{AttrType, Value};

    #[test]
    fn and_or_over_window() {
        let b = Value::Bool;
        let ops = [
            ('+', b(true)),
            ('+', b(false)),
            ('-', b(true)),
            ('-', b(false)),
        ];
        assert_eq!(
            run("and", AttrType::Bool, SLIDE, &ops),
            vec![b(true), b(false), b(false), b(false)]
        );
        assert_eq!(
            run("or", AttrType::Bool, SLIDE, &ops),
            vec![b(true), b(true), b(false), b(false)]
        );
    }
}
