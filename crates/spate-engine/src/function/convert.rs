//! `convert(x, 'type')`: real conversion with Java's rules — strings are parsed (unparsable
//! gives null), numbers narrow by truncation, bools become 1/0, a number is `true` only when it
//! equals 1, and anything becomes text through Java's `toString`.

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, arity, parse_type_name, type_name};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::{AttrType, Value};

pub struct Convert;

impl FunctionFactory for Convert {
    fn name(&self) -> &'static str {
        "convert"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("convert", args, 2)?;
        if args[1].ty != AttrType::String {
            return Err("the second argument of convert() must be a string constant: one of string, int, long, float, double, bool".into());
        }
        let to = match args[1].constant {
            Some(Value::Str(s)) => parse_type_name(s)
                .filter(|t| *t != AttrType::Object)
                .ok_or_else(|| format!("convert() type must be one of string, int, long, float, double, bool, but found '{s}'"))?,
            _ => return Err("the second argument of convert() must be a constant, not an expression".into()),
        };
        let from = args[0].ty;
        if from == AttrType::Object && to != AttrType::String {
            return Err(format!(
                "convert() can turn an object only into a string, not into {}",
                type_name(to)
            ));
        }
        Ok((Arc::new(ConvertFn { from, to }), to))
    }
}

#[derive(Debug)]
struct ConvertFn {
    from: AttrType,
    to: AttrType,
}

/// Java's `Integer.parseInt`: optional sign, ASCII digits, no spaces.
fn parse_java_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Java's `Double.parseDouble`: surrounding whitespace allowed, an optional `f`/`d` suffix,
/// `NaN` and `Infinity` spelled exactly so.
pub(crate) fn parse_java_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let t = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    match body {
        "NaN" => return Some(f64::NAN),
        "Infinity" => {
            return Some(if t.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        _ => {}
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    t.parse::<f64>().ok()
}

impl ScalarFunction for ConvertFn {
    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value {
        let v = args[0].eval(ctx);
        if v.is_null() {
            return Value::Null;
        }
        if self.to == AttrType::String {
            return Value::Str(v.to_java_string().into());
        }
        // The value must hold the declared class, as Java's casts in convert() require.
        if self.from != AttrType::Object && v.runtime_type() != Some(self.from) {
            return ctx.fail(format_args!(
                "convert(): {v:?} is not a {}",
                type_name(self.from)
            ));
        }
        match (self.to, &v) {
            (_, Value::Object(_)) => Value::Null,
            (AttrType::Int, Value::Str(s)) => parse_java_int(s)
                .and_then(|i| i32::try_from(i).ok())
                .map_or(Value::Null, Value::Int),
            (AttrType::Long, Value::Str(s)) => parse_java_int(s).map_or(Value::Null, Value::Long),
            (AttrType::Float, Value::Str(s)) => {
                parse_java_double(s).map_or(Value::Null, |d| Value::Float(d as f32))
            }
            (AttrType::Double, Value::Str(s)) => {
                parse_java_double(s).map_or(Value::Null, Value::Double)
            }
            (AttrType::Bool, Value::Str(s)) => Value::Bool(s.eq_ignore_ascii_case("true")),
            (AttrType::Int, Value::Bool(b)) => Value::Int(*b as i32),
            (AttrType::Long, Value::Bool(b)) => Value::Long(*b as i64),
            (AttrType::Float, Value::Bool(b)) => Value::Float(if *b { 1.0 } else { 0.0 }),
            (AttrType::Double, Value::Bool(b)) => Value::Double(if *b { 1.0 } else { 0.0 }),
            (AttrType::Bool, Value::Bool(b)) => Value::Bool(*b),
            (AttrType::Bool, n) => Value::Bool(match n {
                Value::Int(i) => *i == 1,
                Value::Long(i) => *i == 1,
                Value::Float(f) => *f == 1.0,
                Value::Double(f) => *f == 1.0,
                _ => false,
            }),
            (AttrType::Int, n) => n.as_i32().map_or(Value::Null, Value::Int),
            (AttrType::Long, n) => n.as_i64().map_or(Value::Null, Value::Long),
            (AttrType::Float, n) => n.as_f32().map_or(Value::Null, Value::Float),
            (AttrType::Double, n) => n.as_f64().map_or(Value::Null, Value::Double),
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::call;
    use crate::value::{AttrType, Value};

    fn conv(ty: AttrType, v: Value, to: &str) -> Value {
        call("convert", &[(ty, v), (AttrType::String, Value::str(to))])
            .unwrap()
            .0
    }

    #[test]
    fn java_conversions() {
        assert_eq!(
            conv(AttrType::Double, Value::Double(-7.9), "int"),
            Value::Int(-7)
        );
        assert_eq!(
            conv(AttrType::String, Value::str("42"), "long"),
            Value::Long(42)
        );
        assert_eq!(
            conv(AttrType::String, Value::str("4 2"), "int"),
            Value::Null
        );
        assert_eq!(
            conv(AttrType::String, Value::str(" 1.5f"), "double"),
            Value::Double(1.5)
        );
        assert_eq!(
            conv(AttrType::String, Value::str("TRUE"), "bool"),
            Value::Bool(true)
        );
        assert_eq!(
            conv(AttrType::Int, Value::Int(2), "bool"),
            Value::Bool(false)
        );
        assert_eq!(
            conv(AttrType::Float, Value::Float(0.1), "string"),
            Value::str("0.1")
        );
        assert_eq!(
            conv(AttrType::Bool, Value::Bool(true), "double"),
            Value::Double(1.0)
        );
        assert_eq!(
            conv(AttrType::String, Value::str("99999999999"), "int"),
            Value::Null
        );
    }
}
