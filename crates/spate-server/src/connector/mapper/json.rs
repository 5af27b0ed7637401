//! Siddhi's default JSON mapping: an event is `{"event":{"attr":value,...}}`; a payload is one
//! event or an array of them. Sources read it into typed rows (every attribute present, no
//! extras, values convertible to the declared type); sinks write rows the same way.
//!
//! Custom mapping: `@map(type='json', enclosing.element='$.events',
//! fail.on.missing.attribute='true', @attributes(a='$.x.y', ...))` reads any JSON — each
//! element of the enclosing array (or the document) is one event, each attribute found by its
//! path. Sinks take `@payload("...{{a}}...")` templates (see [`super::text::Template`]).

use std::sync::Arc;

use serde_json::Value as Json;
use spate_engine::plan::Schema;
use spate_engine::plan::schema::type_name;
use spate_engine::value::{AttrType, Object, Value};

use super::json_path::JsonPath;
use super::text::Template;
use super::{MapperContext, SinkMapper, SourceMapper};

/// `@map(type='json')`.
pub const JSON: &str = "json";
/// The element that wraps each event's attributes.
const EVENT: &str = "event";
/// `enclosing.element`: the path of the events in a custom-mapped payload (default `$`).
pub const ENCLOSING_ELEMENT: &str = "enclosing.element";
/// `fail.on.missing.attribute`: an attribute whose path finds nothing fails the event
/// (default true) instead of being null.
pub const FAIL_ON_MISSING_ATTRIBUTE: &str = "fail.on.missing.attribute";
/// Siddhi's option, accepted without effect: Spate always validates what it reads.
const VALIDATE_JSON: &str = "validate.json";

/// `@map(type='json')` for a source.
pub fn source_mapper(ctx: &MapperContext<'_>) -> Result<Box<dyn SourceMapper>, String> {
    ctx.refuse_custom(true, false)?;
    let r = ctx.options();
    let enclosing = r
        .string(ENCLOSING_ELEMENT)
        .map(JsonPath::parse)
        .transpose()?;
    let fail_on_missing = r.bool(FAIL_ON_MISSING_ATTRIBUTE, true)?;
    r.string(VALIDATE_JSON);
    r.finish(&[
        "type",
        ENCLOSING_ELEMENT,
        FAIL_ON_MISSING_ATTRIBUTE,
        VALIDATE_JSON,
    ])?;
    let schema = Arc::new(ctx.schema.clone());
    let stream = ctx.stream.to_string();
    let Some(attributes) = ctx.attributes() else {
        if enclosing.is_some() {
            return Err(format!(
                "`{ENCLOSING_ELEMENT}` needs `@attributes(...)` saying where each attribute is"
            ));
        }
        return Ok(Box::new(DefaultJsonSource { stream, schema }));
    };
    let paths = super::attribute_mappings(ctx, attributes)?
        .iter()
        .map(|p| JsonPath::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(CustomJsonSource {
        stream,
        schema,
        enclosing,
        paths,
        fail_on_missing,
    }))
}

/// `@map(type='json')` for a sink.
pub fn sink_mapper(ctx: &MapperContext<'_>) -> Result<Box<dyn SinkMapper>, String> {
    ctx.refuse_custom(false, true)?;
    let r = ctx.options();
    r.string(VALIDATE_JSON);
    r.finish(&["type", VALIDATE_JSON])?;
    let template = ctx
        .payload()
        .map(|t| Template::parse(t, ctx.schema))
        .transpose()?;
    Ok(Box::new(JsonSink {
        schema: ctx.schema.clone(),
        template,
    }))
}

struct DefaultJsonSource {
    stream: String,
    schema: Arc<Schema>,
}

impl SourceMapper for DefaultJsonSource {
    fn read(&self, payload: &[u8]) -> Result<Vec<Vec<Value>>, String> {
        read_events(payload, &self.stream, &self.schema)
    }
}

struct CustomJsonSource {
    stream: String,
    schema: Arc<Schema>,
    enclosing: Option<JsonPath>,
    paths: Vec<JsonPath>,
    fail_on_missing: bool,
}

impl SourceMapper for CustomJsonSource {
    fn read(&self, payload: &[u8]) -> Result<Vec<Vec<Value>>, String> {
        let json: Json =
            serde_json::from_slice(payload).map_err(|e| format!("malformed JSON: {e}"))?;
        let events = match &self.enclosing {
            Some(path) => path.find(&json).ok_or_else(|| {
                format!(
                    "the payload has nothing at {ENCLOSING_ELEMENT} '{}'",
                    path.as_str()
                )
            })?,
            None => &json,
        };
        let one = |item: &Json| -> Result<Vec<Value>, String> {
            self.paths
                .iter()
                .zip(self.schema.names.iter().zip(&self.schema.types))
                .map(|(path, (name, ty))| match path.find(item) {
                    Some(v) => to_value(v, *ty).ok_or_else(|| {
                        format!(
                            "attribute `{name}` of stream `{}` ({}) is {}, but the value is {v}",
                            self.stream,
                            path.as_str(),
                            type_name(*ty)
                        )
                    }),
                    None if self.fail_on_missing => Err(format!(
                        "attribute `{name}` ({}) of stream `{}` is missing: nothing at {}",
                        type_name(*ty),
                        self.stream,
                        path.as_str()
                    )),
                    None => Ok(Value::Null),
                })
                .collect()
        };
        match events {
            Json::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| one(item).map_err(|e| format!("event {}: {e}", i + 1)))
                .collect(),
            item => Ok(vec![one(item)?]),
        }
    }
}

struct JsonSink {
    schema: Schema,
    template: Option<Template>,
}

impl SinkMapper for JsonSink {
    fn write(&self, row: &[Value], out: &mut String) {
        match &self.template {
            Some(t) => t.render(row, out),
            None => out.push_str(&write_event(&self.schema, row)),
        }
    }

    fn content_type(&self) -> &'static str {
        "application/json"
    }
}

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
    use crate::connector::mapper::testing;

    fn schema() -> Schema {
        testing::trades()
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

    #[test]
    fn reads_custom_mappings() {
        use crate::connector::mapper::testing;
        let map = |fail: &str| {
            testing::map(
                JSON,
                &[
                    (ENCLOSING_ELEMENT, "$.orders"),
                    (FAIL_ON_MISSING_ATTRIBUTE, fail),
                ],
                Some(&[
                    ("volume", "$.qty"),
                    ("symbol", "$.item['name']"),
                    ("price", "$.prices[1]"),
                ]),
                None,
            )
        };
        let build = |m| testing::source(&m, &schema());
        let strict = build(map("true")).expect("valid");
        let body = br#"{"orders":[{"item":{"name":"IBM"},"prices":[1,2.5],"qty":3},
                                  {"item":{"name":"X"},"qty":4}]}"#;
        let err = strict.read(body).expect_err("second event has no price");
        assert!(
            err.contains("event 2: attribute `price`") && err.contains("$.prices[1]"),
            "{err}"
        );
        let lenient = build(map("false"))
            .expect("valid")
            .read(body)
            .expect("valid");
        assert_eq!(
            lenient[0],
            vec![Value::str("IBM"), Value::Double(2.5), Value::Long(3)]
        );
        assert_eq!(lenient[1][1], Value::Null);
        let wrong_type =
            strict.read(br#"{"orders":{"item":{"name":"A"},"prices":[0,"x"],"qty":1}}"#);
        assert!(wrong_type.is_err_and(|e| e.contains("is double")));
    }
}
