//! `cast(x, 'type')`: relabels the declared type without converting the value (only an int
//! cast to long is widened), exactly as Siddhi does; a mismatch surfaces later, where a typed
//! operation meets the wrong class.

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, arity, parse_type_name};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::{AttrType, Value};

pub struct Cast;

impl FunctionFactory for Cast {
    fn name(&self) -> &'static str {
        "cast"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("cast", args, 2)?;
        let to = match args[1].constant {
            Some(Value::Str(s)) => parse_type_name(s)
                .filter(|t| *t != AttrType::Object)
                .ok_or_else(|| format!("cast() type must be one of int, long, float, double, bool, string, but found '{s}'"))?,
            _ => return Err("the second argument of cast() must be a string constant naming a type (int, long, float, double, string, bool)".into()),
        };
        Ok((Arc::new(CastFn { to }), to))
    }
}

#[derive(Debug)]
struct CastFn {
    to: AttrType,
}

impl ScalarFunction for CastFn {
    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        match (self.to, args[0].eval(ctx)) {
            (AttrType::Long, Value::Int(i)) => Value::Long(i as i64),
            (_, v) => v,
        }
    }

    fn relabels(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::call;
    use crate::value::{AttrType, Value};

    #[test]
    fn relabels_without_converting() {
        let (v, ty) = call(
            "cast",
            &[
                (AttrType::Double, Value::Double(2.5)),
                (AttrType::String, Value::str("string")),
            ],
        )
        .unwrap();
        assert_eq!((v, ty), (Value::Double(2.5), AttrType::String));
        let (v, _) = call(
            "cast",
            &[
                (AttrType::Int, Value::Int(3)),
                (AttrType::String, Value::str("LONG")),
            ],
        )
        .unwrap();
        assert_eq!(v, Value::Long(3));
        assert!(
            call(
                "cast",
                &[
                    (AttrType::Int, Value::Int(3)),
                    (AttrType::String, Value::str("number"))
                ]
            )
            .is_err()
        );
    }
}
