//! Typed values: the compact enum every attribute of every row holds.
//!
//! The variant is the runtime type (Siddhi's Java class): `cast()` only relabels a value's
//! declared type, so an attribute declared `int` may still hold a `Long` at run time, exactly
//! as in Siddhi. Equality and hashing follow Java's `equals`/`hashCode` (an `Int(1)` is not a
//! `Long(1)`; doubles compare by bits, so `NaN == NaN`), which is what group-by keys,
//! `distinctCount` and sets need.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::java_fmt;

pub use spate_ql::ast::AttrType;

pub use crate::text::Str;

/// One attribute value.
#[derive(Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Str(Str),
    Object(Arc<Object>),
}

/// Values of Siddhi's `object` type that core functions create.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Object {
    /// `createSet(x)` / `unionSet(s)`: kept sorted so printing and snapshots are stable.
    Set(Vec<Value>),
    /// The values of a counted pattern state (`e1.x` over `e1=S<2:5>`), in arrival order.
    List(Vec<Value>),
    /// Any other object, carried as its text form.
    Text(String),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Str::new(s))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The type of the value actually held; `None` for null.
    pub fn runtime_type(&self) -> Option<AttrType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => AttrType::Bool,
            Value::Int(_) => AttrType::Int,
            Value::Long(_) => AttrType::Long,
            Value::Float(_) => AttrType::Float,
            Value::Double(_) => AttrType::Double,
            Value::Str(_) => AttrType::String,
            Value::Object(_) => AttrType::Object,
        })
    }

    /// Java `Number.intValue()` etc.: numeric values widen or truncate; others are `None`.
    #[inline]
    pub fn as_i32(&self) -> Option<i32> {
        match *self {
            Value::Int(v) => Some(v),
            Value::Long(v) => Some(v as i32),
            Value::Float(v) => Some(v as i32),
            Value::Double(v) => Some(v as i32),
            _ => None,
        }
    }

    #[inline]
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(v) => Some(v as i64),
            Value::Long(v) => Some(v),
            Value::Float(v) => Some(v as i64),
            Value::Double(v) => Some(v as i64),
            _ => None,
        }
    }

    #[inline]
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Value::Int(v) => Some(v as f32),
            Value::Long(v) => Some(v as f32),
            Value::Float(v) => Some(v),
            Value::Double(v) => Some(v as f32),
            _ => None,
        }
    }

    #[inline]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(v) => Some(v as f64),
            Value::Long(v) => Some(v as f64),
            Value::Float(v) => Some(v as f64),
            Value::Double(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Java's `String.valueOf(value)` (used by `convert(x, 'string')`, group keys and logs).
    pub fn to_java_string(&self) -> String {
        match self {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(v) => v.to_string(),
            Value::Long(v) => v.to_string(),
            Value::Float(v) => java_fmt::float_to_string(*v),
            Value::Double(v) => java_fmt::double_to_string(*v),
            Value::Str(s) => s.to_string(),
            Value::Object(o) => o.to_string(),
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Set(items) | Object::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&item.to_java_string())?;
                }
                f.write_str("]")
            }
            Object::Text(t) => f.write_str(t),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Long(v) => write!(f, "{v}L"),
            Value::Float(v) => write!(f, "{v:?}f"),
            Value::Double(v) => write!(f, "{v:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Object(o) => write!(f, "object({o})"),
        }
    }
}

impl PartialEq for Value {
    /// Java `equals`: same class and same value; floats by bit pattern (as `Double.equals`).
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Long(a), Value::Long(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => canonical_f32(*a) == canonical_f32(*b),
            (Value::Double(a), Value::Double(b)) => canonical_f64(*a) == canonical_f64(*b),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

/// Bits with every NaN folded into one, like `Double.doubleToLongBits`.
fn canonical_f64(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

fn canonical_f32(v: f32) -> u32 {
    if v.is_nan() {
        f32::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => state.write_u8(0),
            Value::Bool(v) => state.write_u8(if *v { 2 } else { 1 }),
            Value::Int(v) => {
                state.write_u8(3);
                state.write_i32(*v);
            }
            Value::Long(v) => {
                state.write_u8(4);
                state.write_i64(*v);
            }
            Value::Float(v) => {
                state.write_u8(5);
                state.write_u32(canonical_f32(*v));
            }
            Value::Double(v) => {
                state.write_u8(6);
                state.write_u64(canonical_f64(*v));
            }
            Value::Str(s) => {
                state.write_u8(7);
                s.hash(state);
            }
            Value::Object(o) => {
                state.write_u8(8);
                o.hash(state);
            }
        }
    }
}

impl Value {
    /// A total order used where Siddhi sorts values of one attribute (order by, sort window):
    /// null first, numbers by value, strings lexicographically, false before true.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) => 1,
                Value::Int(_) | Value::Long(_) | Value::Float(_) | Value::Double(_) => 2,
                Value::Str(_) => 3,
                Value::Object(_) => 4,
            }
        }
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Long(a), Value::Long(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (a, b) if rank(a) == 2 && rank(b) == 2 => {
                let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                x.partial_cmp(&y)
                    .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()))
            }
            (Value::Object(a), Value::Object(b)) => a.to_string().cmp(&b.to_string()),
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_double_to_string() {
        let s = |v: f64| Value::Double(v).to_java_string();
        assert_eq!(s(10.0), "10.0");
        assert_eq!(s(75.6), "75.6");
        assert_eq!(s(1e20), "1.0E20");
        assert_eq!(s(1.5e-5), "1.5E-5");
        assert_eq!(s(0.001), "0.001");
        assert_eq!(s(1234567.0), "1234567.0");
        assert_eq!(s(12345678.9), "1.23456789E7");
        assert_eq!(s(-0.5), "-0.5");
        assert_eq!(s(f64::NAN), "NaN");
        assert_eq!(Value::Float(75.6).to_java_string(), "75.6");
        assert_eq!(Value::Float(0.1).to_java_string(), "0.1");
        // JDK 17's FloatingDecimal, not the shortest digits.
        assert_eq!(s(1e23), "9.999999999999999E22");
        assert_eq!(Value::Float(2285691904.0).to_java_string(), "2.2856919E9");
    }

    #[test]
    fn java_equality_distinguishes_classes() {
        assert_ne!(Value::Int(1), Value::Long(1));
        assert_eq!(Value::Double(f64::NAN), Value::Double(f64::NAN));
        assert_ne!(Value::Double(0.0), Value::Double(-0.0));
        assert_eq!(Value::str("a"), Value::str("a"));
    }

    #[test]
    fn value_is_small() {
        assert!(size_of::<Value>() <= 24);
    }
}
