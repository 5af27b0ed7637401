//! Event files in the case format (`{"stream":…,"timestamp":…,"data":[…]}` per line): reading
//! them into typed rows for an app, and printing output events the same way.

use std::io::Write;

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;
use spate_engine::java_fmt;
use spate_engine::plan::{AppPlan, StreamId};
use spate_engine::value::{AttrType, Value};

/// One input event, converted to the schema of its stream.
pub struct InputEvent {
    pub stream: StreamId,
    pub ts: i64,
    pub row: Vec<Value>,
}

/// Parses every line of an events file against the app's input streams.
pub fn read_events(text: &str, plan: &AppPlan, file: &str) -> Result<Vec<InputEvent>> {
    let mut events = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = || format!("{file}:{}", n + 1);
        let json: Json =
            serde_json::from_str(line).with_context(|| format!("{}: not a JSON object", at()))?;
        let name = json
            .get("stream")
            .and_then(Json::as_str)
            .with_context(|| format!("{}: missing \"stream\"", at()))?;
        let stream = plan
            .stream_id(name)
            .with_context(|| format!("{}: the app has no stream `{name}`", at()))?;
        let ts = match json.get("timestamp") {
            Some(t) => t.as_i64().with_context(|| {
                format!("{}: \"timestamp\" must be an integer (epoch millis)", at())
            })?,
            None => 0,
        };
        let data = json
            .get("data")
            .and_then(Json::as_array)
            .with_context(|| format!("{}: missing \"data\" array", at()))?;
        let schema = &plan.stream(stream).schema;
        if data.len() != schema.len() {
            bail!(
                "{}: stream `{name}` has {} attributes {}, but the event has {} values",
                at(),
                schema.len(),
                schema.describe(),
                data.len()
            );
        }
        let mut row = Vec::with_capacity(data.len());
        for (i, (v, ty)) in data.iter().zip(&schema.types).enumerate() {
            row.push(
                json_to_value(v, *ty)
                    .with_context(|| format!("{}: attribute `{}`", at(), schema.names[i]))?,
            );
        }
        events.push(InputEvent { stream, ts, row });
    }
    Ok(events)
}

/// Converts a JSON value to an attribute of type `ty`, as the reference harness does: exact
/// integers for int/long, any primitive's text for strings, `true`/`false` for bools.
pub fn json_to_value(v: &Json, ty: AttrType) -> Result<Value> {
    let text = match v {
        Json::Null => return Ok(Value::Null),
        Json::String(s) => s.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::Array(_) | Json::Object(_) => {
            if ty == AttrType::Object {
                return Ok(Value::Object(std::sync::Arc::new(
                    spate_engine::value::Object::Text(v.to_string()),
                )));
            }
            bail!("cannot convert {v} to {}", type_name(ty));
        }
    };
    let bad = || anyhow::anyhow!("cannot convert {v} to {}", type_name(ty));
    Ok(match ty {
        AttrType::String => Value::str(&text),
        AttrType::Int => Value::Int(
            exact_integer(&text)
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(bad)?,
        ),
        AttrType::Long => Value::Long(exact_integer(&text).ok_or_else(bad)?),
        AttrType::Float => Value::Float(parse_float(&text).ok_or_else(bad)? as f32),
        AttrType::Double => Value::Double(parse_float(&text).ok_or_else(bad)?),
        AttrType::Bool => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        AttrType::Object => match v {
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => n.as_i64().map_or_else(
                || Value::Double(n.as_f64().unwrap_or(f64::NAN)),
                Value::Long,
            ),
            _ => Value::str(&text),
        },
    })
}

/// An integer written exactly, allowing a zero fraction (`5`, `5.0`, `5e2`).
fn exact_integer(text: &str) -> Option<i64> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(i);
    }
    let f: f64 = text.parse().ok()?;
    (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
}

fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    match t {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => t
            .strip_suffix(['f', 'F', 'd', 'D'])
            .unwrap_or(t)
            .parse()
            .ok()
            .filter(|_| !t.contains("inf") && !t.contains("nan")),
    }
}

fn type_name(t: AttrType) -> &'static str {
    spate_engine::plan::schema::type_name(t)
}

/// Writes one output event as a JSON line: integers bare, floats always with a `.` or an
/// exponent, non-finite floats as the bare tokens `NaN`, `Infinity`, `-Infinity`.
pub fn write_event(
    out: &mut dyn Write,
    stream: &str,
    ts: i64,
    row: &[Value],
) -> std::io::Result<()> {
    out.write_all(b"{\"stream\":")?;
    write_json_str(out, stream)?;
    write!(out, ",\"timestamp\":{ts},\"data\":[")?;
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write_value(out, v)?;
    }
    out.write_all(b"]}\n")
}

fn write_json_str(out: &mut dyn Write, s: &str) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(std::io::Error::other)
}

pub fn write_value(out: &mut dyn Write, v: &Value) -> std::io::Result<()> {
    match v {
        Value::Null => out.write_all(b"null"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Int(i) => write!(out, "{i}"),
        Value::Long(i) => write!(out, "{i}"),
        // Java's `Float.toString` / `Double.toString`, as Siddhi prints them: always a `.`
        // or an exponent, `NaN` and `Infinity` as bare tokens.
        Value::Float(f) => out.write_all(java_fmt::float_to_string(*f).as_bytes()),
        Value::Double(f) => out.write_all(java_fmt::double_to_string(*f).as_bytes()),
        Value::Str(s) => write_json_str(out, s),
        Value::Object(o) => write_json_str(out, &o.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(row: &[Value]) -> String {
        let mut buf = Vec::new();
        write_event(&mut buf, "Out", 5, row).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn prints_like_the_reference() {
        assert_eq!(
            line(&[
                Value::Int(1),
                Value::Double(10.0),
                Value::Float(75.6),
                Value::Double(1e20),
                Value::Double(f64::NAN),
                Value::str("a\"b"),
                Value::Null
            ]),
            "{\"stream\":\"Out\",\"timestamp\":5,\"data\":[1,10.0,75.6,1.0E20,NaN,\"a\\\"b\",null]}\n"
        );
    }

    #[test]
    fn converts_like_the_reference() {
        let j = |s: &str| serde_json::from_str::<Json>(s).unwrap();
        assert_eq!(
            json_to_value(&j("5.0"), AttrType::Int).unwrap(),
            Value::Int(5)
        );
        assert!(json_to_value(&j("5.5"), AttrType::Int).is_err());
        assert!(json_to_value(&j("3000000000"), AttrType::Int).is_err());
        assert_eq!(
            json_to_value(&j("12"), AttrType::String).unwrap(),
            Value::str("12")
        );
        assert_eq!(
            json_to_value(&j("\"TRUE\""), AttrType::Bool).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            json_to_value(&j("75.6"), AttrType::Float).unwrap(),
            Value::Float(75.6)
        );
    }
}
