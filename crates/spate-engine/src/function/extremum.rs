//! `maximum(a, b, ...)` / `minimum(a, b, ...)`: all arguments of one numeric type. Computed in
//! doubles as Siddhi does, starting from `Double.MIN_VALUE` (the smallest *positive* double)
//! for maximum and `Double.MAX_VALUE` for minimum, so all-negative maximums come out as 0 and
//! all-null arguments give those seeds — observable Siddhi behaviour kept on purpose. A single
//! argument is returned as it is.

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, type_name};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::{AttrType, Value};

pub struct Maximum;
pub struct Minimum;

fn check(name: &str, args: &[ArgInfo<'_>]) -> Result<AttrType, String> {
    let first = args
        .first()
        .ok_or_else(|| format!("{name}() needs at least one argument"))?
        .ty;
    for a in args {
        if !matches!(
            a.ty,
            AttrType::Int | AttrType::Long | AttrType::Float | AttrType::Double
        ) {
            return Err(format!(
                "{name}() needs int, long, float or double arguments, but found {}",
                type_name(a.ty)
            ));
        }
        if a.ty != first {
            return Err(format!(
                "all arguments of {name}() must have the same type, but found {} and {}",
                type_name(first),
                type_name(a.ty)
            ));
        }
    }
    Ok(first)
}

impl FunctionFactory for Maximum {
    fn name(&self) -> &'static str {
        "maximum"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        let ty = check("maximum", args)?;
        Ok((Arc::new(Extremum { is_max: true, ty }), ty))
    }
}

impl FunctionFactory for Minimum {
    fn name(&self) -> &'static str {
        "minimum"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        let ty = check("minimum", args)?;
        Ok((Arc::new(Extremum { is_max: false, ty }), ty))
    }
}

#[derive(Debug)]
struct Extremum {
    is_max: bool,
    ty: AttrType,
}

impl ScalarFunction for Extremum {
    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        // With one argument Siddhi returns it untouched (no round trip through a double).
        if let [only] = args {
            return only.eval(ctx);
        }
        let seed = if self.is_max {
            f64::from_bits(1)
        } else {
            f64::MAX
        };
        let mut best = seed;
        for a in args {
            let v = a.eval(ctx).as_f64().unwrap_or(seed);
            if (self.is_max && v > best) || (!self.is_max && v < best) {
                best = v;
            }
        }
        match self.ty {
            AttrType::Int => Value::Int(best as i32),
            AttrType::Long => Value::Long(best as i64),
            AttrType::Float => Value::Float(best as f32),
            _ => Value::Double(best),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::call;
    use crate::value::{AttrType, Value};

    #[test]
    fn java_seeded_extremes() {
        let i = |v| (AttrType::Int, Value::Int(v));
        assert_eq!(
            call("maximum", &[i(3), i(9), i(-1)]).unwrap().0,
            Value::Int(9)
        );
        assert_eq!(call("maximum", &[i(-3), i(-9)]).unwrap().0, Value::Int(0));
        assert_eq!(
            call("minimum", &[i(3), (AttrType::Int, Value::Null)])
                .unwrap()
                .0,
            Value::Int(3)
        );
        assert!(call("minimum", &[i(3), (AttrType::Double, Value::Double(1.0))]).is_err());
    }
}
