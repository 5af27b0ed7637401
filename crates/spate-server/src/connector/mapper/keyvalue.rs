//! `@map(type='keyvalue')`: an event as key-value pairs — over HTTP an
//! `application/x-www-form-urlencoded` body (`symbol=IBM&price=55.6&volume=100`). Keys are the
//! attribute names, or those of `@attributes(symbol='sym', ...)`; values are converted to the
//! attribute types. Sinks write the same form, attributes in stream order.

use std::sync::Arc;

use spate_engine::plan::Schema;
use spate_engine::value::Value;

use super::{MapperContext, SinkMapper, SourceMapper};

/// `@map(type='keyvalue')`.
pub const KEYVALUE: &str = "keyvalue";
/// `fail.on.missing.attribute`: a missing key fails the event (default true) instead of
/// giving null.
pub const FAIL_ON_MISSING_ATTRIBUTE: &str = "fail.on.missing.attribute";

/// `@map(type='keyvalue')` for a source.
pub fn source_mapper(ctx: &MapperContext<'_>) -> Result<Box<dyn SourceMapper>, String> {
    ctx.refuse_custom(true, false)?;
    let r = ctx.options();
    let fail_on_missing = r.bool(FAIL_ON_MISSING_ATTRIBUTE, true)?;
    r.finish(&["type", FAIL_ON_MISSING_ATTRIBUTE])?;
    let keys = match ctx.attributes() {
        Some(a) => super::attribute_mappings(ctx, a)?,
        None => ctx.schema.names.clone(),
    };
    Ok(Box::new(KeyValueSource {
        stream: ctx.stream.to_string(),
        schema: Arc::new(ctx.schema.clone()),
        keys,
        fail_on_missing,
    }))
}

/// `@map(type='keyvalue')` for a sink.
pub fn sink_mapper(ctx: &MapperContext<'_>) -> Result<Box<dyn SinkMapper>, String> {
    ctx.refuse_custom(false, false)?;
    ctx.options().finish(&["type"])?;
    Ok(Box::new(KeyValueSink {
        names: ctx.schema.names.clone(),
    }))
}

struct KeyValueSource {
    stream: String,
    schema: Arc<Schema>,
    /// The key of each attribute.
    keys: Vec<String>,
    fail_on_missing: bool,
}

impl SourceMapper for KeyValueSource {
    fn read(&self, payload: &[u8]) -> Result<Vec<Vec<Value>>, String> {
        let text = super::utf8(payload)?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in text.trim().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let key = decode(k)?;
            if !self.keys.contains(&key) {
                return Err(format!(
                    "stream `{}` has no attribute for the key `{key}`; the keys are {}",
                    self.stream,
                    self.keys.join(", ")
                ));
            }
            if pairs.iter().any(|(seen, _)| *seen == key) {
                return Err(format!("the key `{key}` is given twice"));
            }
            pairs.push((key, decode(v)?));
        }
        let row = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let (name, ty) = (&self.schema.names[i], self.schema.types[i]);
                match pairs.iter().find(|(k, _)| k == key) {
                    Some((_, v)) => super::parse_text(v, ty)
                        .ok_or_else(|| super::type_error(&self.stream, name, ty, v)),
                    None if self.fail_on_missing => {
                        Err(super::missing_error(&self.stream, name, ty))
                    }
                    None => Ok(Value::Null),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(vec![row])
    }
}

struct KeyValueSink {
    names: Vec<String>,
}

impl SinkMapper for KeyValueSink {
    fn write(&self, row: &[Value], out: &mut String) {
        for (i, (name, v)) in self.names.iter().zip(row).enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode(name, out);
            out.push('=');
            match v {
                Value::Null => {}
                Value::Str(s) => encode(s, out),
                other => encode(&other.to_java_string(), out),
            }
        }
    }

    fn content_type(&self) -> &'static str {
        "application/x-www-form-urlencoded"
    }
}

/// Form decoding: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("'{text}' has a bad %-escape"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("'{text}' does not decode to UTF-8 text"))
}

/// Form encoding: unreserved bytes as they are, space as `+`, the rest `%XX`.
fn encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::mapper::testing;
    use spate_engine::value::AttrType;

    fn schema() -> Schema {
        Schema::new([
            ("symbol".to_string(), AttrType::String),
            ("price".to_string(), AttrType::Double),
        ])
    }

    fn source(attributes: Option<&[(&str, &str)]>) -> Box<dyn SourceMapper> {
        testing::source(&testing::map(KEYVALUE, &[], attributes, None), &schema()).expect("valid")
    }

    #[test]
    fn round_trips_forms() {
        let sink =
            testing::sink(&testing::map(KEYVALUE, &[], None, None), &schema()).expect("valid");
        let row = vec![Value::str("A&B = ü"), Value::Double(2.5)];
        let mut out = String::new();
        sink.write(&row, &mut out);
        assert_eq!(out, "symbol=A%26B+%3D+%C3%BC&price=2.5");
        assert_eq!(source(None).read(out.as_bytes()).expect("valid"), vec![row]);
        let custom = source(Some(&[("symbol", "s"), ("price", "p")]));
        assert_eq!(
            custom.read(b"p=1&s=X").expect("valid"),
            vec![vec![Value::str("X"), Value::Double(1.0)]]
        );
    }

    #[test]
    fn says_what_is_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (b"symbol=A&price=x", "`price` of stream `S` is double"),
            (b"symbol=A", "`price` (double) of stream `S` is missing"),
            (b"symbol=A&price=1&x=1", "no attribute for the key `x`"),
            (b"symbol=%zz&price=1", "bad %-escape"),
            (b"symbol=%ff&price=1", "UTF-8"),
        ];
        for (body, want) in cases {
            let err = source(None).read(body).expect_err("invalid");
            assert!(err.contains(want), "{err}");
        }
    }
}
