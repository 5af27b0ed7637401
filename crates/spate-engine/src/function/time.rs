//! `eventTimestamp()` (the event's timestamp) and `currentTimeMillis()` (the app clock: event
//! time in playback and replay, so both stay deterministic).

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, arity};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::{AttrType, Value};

pub struct EventTimestamp;
pub struct CurrentTimeMillis;

impl FunctionFactory for EventTimestamp {
    fn name(&self) -> &'static str {
        "eventTimestamp"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("eventTimestamp", args, 0)?;
        Ok((Arc::new(Clock { event: true }), AttrType::Long))
    }
}

impl FunctionFactory for CurrentTimeMillis {
    fn name(&self) -> &'static str {
        "currentTimeMillis"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("currentTimeMillis", args, 0)?;
        Ok((Arc::new(Clock { event: false }), AttrType::Long))
    }
}

#[derive(Debug)]
struct Clock {
    event: bool,
}

impl ScalarFunction for Clock {
    fn eval(&self, _args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        Value::Long(if self.event { ctx.ts } else { ctx.now })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::call;
    use crate::value::Value;

    #[test]
    fn read_the_context() {
        assert_eq!(call("eventTimestamp", &[]).unwrap().0, Value::Long(42));
        assert_eq!(call("currentTimeMillis", &[]).unwrap().0, Value::Long(99));
    }
}
