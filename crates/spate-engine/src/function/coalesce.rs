//! `coalesce(a, b, ...)` (first non-null) and `default(attr, constant)`; all arguments must
//! share one type.

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, arity, type_name};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::Value;

pub struct Coalesce;
pub struct Default;

impl FunctionFactory for Coalesce {
    fn name(&self) -> &'static str {
        "coalesce"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        let first = args
            .first()
            .ok_or("coalesce() needs at least one argument")?
            .ty;
        if let Some(other) = args.iter().find(|a| a.ty != first) {
            return Err(format!(
                "all arguments of coalesce() must have the same type, but found {} and {}",
                type_name(first),
                type_name(other.ty)
            ));
        }
        Ok((Arc::new(CoalesceFn), first))
    }
}

impl FunctionFactory for Default {
    fn name(&self) -> &'static str {
        "default"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("default", args, 2)?;
        if args[1].constant.is_none() {
            return Err("the second argument of default() must be a constant".into());
        }
        if args[0].ty != args[1].ty {
            return Err(format!(
                "default() needs a default value of the attribute's type ({}), but found {}",
                type_name(args[0].ty),
                type_name(args[1].ty)
            ));
        }
        Ok((Arc::new(CoalesceFn), args[0].ty))
    }
}

#[derive(Debug)]
struct CoalesceFn;

impl ScalarFunction for CoalesceFn {
    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        // Siddhi evaluates every argument before choosing; keep that so runtime errors match.
        let mut chosen = Value::Null;
        for a in args {
            let v = a.eval(ctx);
            if chosen.is_null() && !v.is_null() {
                chosen = v;
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::call;
    use crate::value::{AttrType, Value};

    #[test]
    fn first_non_null() {
        let args = [
            (AttrType::String, Value::Null),
            (AttrType::String, Value::str("b")),
            (AttrType::String, Value::str("c")),
        ];
        assert_eq!(call("coalesce", &args).unwrap().0, Value::str("b"));
        assert_eq!(
            call(
                "default",
                &[(AttrType::Int, Value::Null), (AttrType::Int, Value::Int(7))]
            )
            .unwrap()
            .0,
            Value::Int(7)
        );
        assert!(
            call(
                "default",
                &[
                    (AttrType::Int, Value::Null),
                    (AttrType::Long, Value::Long(7))
                ]
            )
            .is_err()
        );
    }
}
