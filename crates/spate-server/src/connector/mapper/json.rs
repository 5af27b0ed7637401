//! Siddhi's default JSON mapping: an event is `{"event":{"attr":value,...}}`; a payload is one
//! event or an array of them. Sources read it into typed rows (every attribute present, no
//! extras, values convertible to the declared type); sinks write rows the same way.

use std::sync::Arc;

use serde_json::Value as Json;
use spate_engine::plan::Schema;
use spate_engine::plan::schema::type_name;
use spate_engine::value::{AttrType, Object, Value};

/// `@map(type='json')`.
pub const JSON: &str = "json";
/// The element that wraps each event's attributes.
const EVENT: &str = "event";

/// Reads a payload of one event or an array of events into rows of `schema`; the error says
/// which event and attribute is wrong and why.
pub fn read_events(body: &[u8], stream: &str, schema: &Schema) -> Result<Vec<Vec<Value>>, String> {
    let json: Json = serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    match json {
        Json::Array(items) => {
            if items.is_empty() {
                return Err("the payload is an empty array; send at least one event".into());
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    read_event(item, stream, schema).map_err(|e| format!("event {}: {e}", i + 1))
                })
                .collect()
        }
        other => Ok(vec![read_event(&other, stream, schema)?]),
    }
}

fn read_event(item: &Json, stream: &str, schema: &Schema) -> Result<Vec<Value>, String> {
    let attrs = item
        .as_object()
        .and_then(|o| o.get(EVENT))
        .and_then(Json::as_object)
        .ok_or_else(|| {
            format!(
                "expected {{\"event\":{{...}}}} with the attributes of stream `{stream}` {}",
                schema.describe()
            )
        })?;
    if let Some(extra) = attrs.keys().find(|k| schema.index_of(k).is_none()) {
        return Err(format!(
            "stream `{stream}` has no attribute `{extra}`; its attributes are {}",
            schema.describe()
        ));
    }
    schema
        .names
        .iter()
        .zip(&schema.types)
        .map(|(name, ty)| {
            let v = attrs.get(name).ok_or_else(|| {
                format!(
                    "attribute `{name}` ({}) of stream `{stream}` is missing",
                    type_name(*ty)
                )
            })?;
            to_value(v, *ty).ok_or_else(|| {
                format!(
                    "attribute `{name}` of stream `{stream}` is {}, but the value is {v}",
                    type_name(*ty)
                )
            })
        })
        .collect()
}

/// Converts a JSON value to type `ty`: numbers or numeric strings for numbers, any primitive
/// for strings, booleans or "true"/"false" for bools, anything for objects.
fn to_value(v: &Json, ty: AttrType) -> Option<Value> {
    if v.is_null() {
        return Some(Value::Null);
    }
    let text = match v {
        Json::String(s) => Some(s.trim()),
        _ => None,
    };
    Some(match ty {
        AttrType::Int => Value::Int(match v {
            Json::Number(n) => i32::try_from(n.as_i64()?).ok()?,
            _ => text?.parse().ok()?,
        }),
        AttrType::Long => Value::Long(match v {
            Json::Number(n) => n.as_i64()?,
            _ => text?.parse().ok()?,
        }),
        AttrType::Float => Value::Float(match v {
            Json::Number(n) => n.as_f64()? as f32,
            _ => text?.parse().ok()?,
        }),
        AttrType::Double => Value::Double(match v {
            Json::Number(n) => n.as_f64()?,
            _ => text?.parse().ok()?,
        }),
        AttrType::Bool => Value::Bool(match v {
            Json::Bool(b) => *b,
            _ => match text? {
                t if t.eq_ignore_ascii_case("true") => true,
                t if t.eq_ignore_ascii_case("false") => false,
                _ => return None,
            },
        }),
        AttrType::String => match v {
            Json::String(s) => Value::str(s),
            Json::Number(n) => Value::str(&n.to_string()),
            Json::Bool(b) => Value::str(&b.to_string()),
            _ => return None,
        },
        AttrType::Object => Value::Object(Arc::new(Object::Text(v.to_string()))),
    })
}

/// A value as JSON: numbers as numbers (non-finite ones as null), text as strings.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Long(l) => Json::from(*l),
        Value::Float(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number)
        }
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.as_str().to_string()),
        Value::Object(_) => Json::String(v.to_java_string()),
    }
}

/// One row as Siddhi's default JSON event, attributes in schema order.
pub fn write_event(schema: &Schema, row: &[Value]) -> String {
    let mut out = String::from("{\"event\":{");
    for (i, (name, v)) in schema.names.iter().zip(row).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Json::String(name.clone()).to_string());
        out.push(':');
        out.push_str(&to_json(v).to_string());
    }
    out.push_str("}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new([
            ("symbol".to_string(), AttrType::String),
            ("price".to_string(), AttrType::Double),
            ("volume".to_string(), AttrType::Long),
        ])
    }

    #[test]
    fn reads_one_event_and_arrays() {
        let one = br#"{"event":{"symbol":"IBM","price":12.5,"volume":100}}"#;
        let rows = read_events(one, "S", &schema()).expect("valid");
        assert_eq!(
            rows,
            vec![vec![
                Value::str("IBM"),
                Value::Double(12.5),
                Value::Long(100)
            ]]
        );
        let many = br#"[{"event":{"symbol":"A","price":1,"volume":"2"}},
                        {"event":{"symbol":"B","price":2.5,"volume":3}}]"#;
        assert_eq!(read_events(many, "S", &schema()).expect("valid").len(), 2);
    }

    #[test]
    fn says_what_is_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (b"{", "malformed JSON"),
            (br#"{"symbol":"IBM"}"#, "expected {\"event\""),
            (
                br#"{"event":{"symbol":"IBM","price":"x","volume":1}}"#,
                "`price` of stream `S` is double",
            ),
            (
                br#"{"event":{"symbol":"IBM","price":1.0}}"#,
                "`volume` (long) of stream `S` is missing",
            ),
            (
                br#"[{"event":{"symbol":"IBM","price":1.0,"volume":1,"x":1}}]"#,
                "event 1: stream `S` has no attribute `x`",
            ),
        ];
        for (body, expected) in cases {
            let err = read_events(body, "S", &schema()).expect_err("invalid");
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn writes_the_default_shape() {
        let row = [Value::str("IBM"), Value::Double(12.5), Value::Long(1)];
        assert_eq!(
            write_event(&schema(), &row),
            r#"{"event":{"symbol":"IBM","price":12.5,"volume":1}}"#
        );
    }
}
