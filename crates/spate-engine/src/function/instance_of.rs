//! `instanceOfBoolean/Double/Float/Integer/Long/String(x)`: tests the runtime class of a value
//! (so `cast` relabelling is visible); null is an instance of nothing.

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, arity};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::{AttrType, Value};

/// One `instanceOf*` function, parameterised by the class it tests.
pub struct InstanceOf {
    name: &'static str,
    class: AttrType,
}

impl InstanceOf {
    pub const BOOLEAN: InstanceOf = InstanceOf {
        name: "instanceOfBoolean",
        class: AttrType::Bool,
    };
    pub const DOUBLE: InstanceOf = InstanceOf {
        name: "instanceOfDouble",
        class: AttrType::Double,
    };
    pub const FLOAT: InstanceOf = InstanceOf {
        name: "instanceOfFloat",
        class: AttrType::Float,
    };
    pub const INTEGER: InstanceOf = InstanceOf {
        name: "instanceOfInteger",
        class: AttrType::Int,
    };
    pub const LONG: InstanceOf = InstanceOf {
        name: "instanceOfLong",
        class: AttrType::Long,
    };
    pub const STRING: InstanceOf = InstanceOf {
        name: "instanceOfString",
        class: AttrType::String,
    };
}

impl FunctionFactory for InstanceOf {
    fn name(&self) -> &'static str {
        self.name
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity(self.name, args, 1)?;
        Ok((Arc::new(InstanceOfFn { class: self.class }), AttrType::Bool))
    }
}

#[derive(Debug)]
struct InstanceOfFn {
    class: AttrType,
}

impl ScalarFunction for InstanceOfFn {
    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        Value::Bool(args[0].eval(ctx).runtime_type() == Some(self.class))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::call;
    use crate::value::{AttrType, Value};

    #[test]
    fn checks_runtime_class() {
        assert_eq!(
            call("instanceOfLong", &[(AttrType::Long, Value::Long(1))])
                .unwrap()
                .0,
            Value::Bool(true)
        );
        assert_eq!(
            call("instanceOfInteger", &[(AttrType::Long, Value::Long(1))])
                .unwrap()
                .0,
            Value::Bool(false)
        );
        assert_eq!(
            call("instanceOfString", &[(AttrType::String, Value::Null)])
                .unwrap()
                .0,
            Value::Bool(false)
        );
    }
}
