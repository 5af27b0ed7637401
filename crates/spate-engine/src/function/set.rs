//! `createSet(x)` (a one-element set object) and `sizeOfSet(set)` (0 for null).

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, arity, type_name};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::{AttrType, Object, Value};

pub struct CreateSet;
pub struct SizeOfSet;

impl FunctionFactory for CreateSet {
    fn name(&self) -> &'static str {
        "createSet"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("createSet", args, 1)?;
        if args[0].ty == AttrType::Object {
            return Err("createSet() is not supported for object values".into());
        }
        Ok((Arc::new(CreateSetFn), AttrType::Object))
    }
}

impl FunctionFactory for SizeOfSet {
    fn name(&self) -> &'static str {
        "sizeOfSet"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("sizeOfSet", args, 1)?;
        if args[0].ty != AttrType::Object {
            return Err(format!(
                "sizeOfSet() needs an object (set) argument, but found {}",
                type_name(args[0].ty)
            ));
        }
        Ok((Arc::new(SizeOfSetFn), AttrType::Int))
    }
}

#[derive(Debug)]
struct CreateSetFn;

impl ScalarFunction for CreateSetFn {
    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        Value::Object(Arc::new(Object::Set(vec![args[0].eval(ctx)])))
    }
}

#[derive(Debug)]
struct SizeOfSetFn;

impl ScalarFunction for SizeOfSetFn {
    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        match args[0].eval(ctx) {
            Value::Null => Value::Int(0),
            Value::Object(o) => match &*o {
                Object::Set(items) => Value::Int(items.len() as i32),
                Object::List(_) | Object::Text(_) => ctx.fail("sizeOfSet() needs a set"),
            },
            other => ctx.fail(format_args!("sizeOfSet() needs a set, but found {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::call;
    use crate::value::{AttrType, Value};

    #[test]
    fn set_of_one() {
        let (set, ty) = call("createSet", &[(AttrType::String, Value::str("a"))]).unwrap();
        assert_eq!(ty, AttrType::Object);
        assert_eq!(
            call("sizeOfSet", &[(AttrType::Object, set)]).unwrap().0,
            Value::Int(1)
        );
        assert_eq!(
            call("sizeOfSet", &[(AttrType::Object, Value::Null)])
                .unwrap()
                .0,
            Value::Int(0)
        );
    }
}
