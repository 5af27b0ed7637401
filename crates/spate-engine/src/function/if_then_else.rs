//! `ifThenElse(cond, a, b)`: lazy (only the chosen branch is evaluated); a null condition
//! takes the else branch. Both branches must have the same type.

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, arity, type_name};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::{AttrType, Value};

pub struct IfThenElse;

impl FunctionFactory for IfThenElse {
    fn name(&self) -> &'static str {
        "ifThenElse"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("ifThenElse", args, 3)?;
        if args[0].ty != AttrType::Bool {
            return Err(format!(
                "the condition of ifThenElse() must be bool, but found {}",
                type_name(args[0].ty)
            ));
        }
        if args[1].ty != args[2].ty {
            return Err(format!(
                "both branches of ifThenElse() must have the same type, but found {} and {}",
                type_name(args[1].ty),
                type_name(args[2].ty)
            ));
        }
        Ok((Arc::new(IfThenElseFn), args[1].ty))
    }
}

#[derive(Debug)]
struct IfThenElseFn;

impl ScalarFunction for IfThenElseFn {
    fn lazy_choice(&self) -> bool {
        true
    }

    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        if matches!(args[0].eval(ctx), Value::Bool(true)) {
            args[1].eval(ctx)
        } else {
            args[2].eval(ctx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::call;
    use crate::value::{AttrType, Value};

    #[test]
    fn null_condition_takes_else() {
        let args = [
            (AttrType::Bool, Value::Null),
            (AttrType::Int, Value::Int(1)),
            (AttrType::Int, Value::Int(2)),
        ];
        assert_eq!(call("ifThenElse", &args).unwrap().0, Value::Int(2));
        let bad = [
            (AttrType::Bool, Value::Bool(true)),
            (AttrType::Int, Value::Int(1)),
            (AttrType::Long, Value::Long(2)),
        ];
        assert!(call("ifThenElse", &bad).is_err());
    }
}
