//! `@map(type='text')`: Siddhi's default text format, one `name:value` per line separated by
//! `,` line breaks, strings in double (or single) quotes:
//!
//! ```text
//! symbol:"IBM",
//! price:55.6,
//! volume:100
//! ```
//!
//! Sources also take the same pairs on one line (`symbol:"IBM",price:55.6,volume:100`, commas
//! inside quotes kept), and several events separated by a `delimiter` line with
//! `event.grouping.enabled='true'`. Sinks write the default format or a
//! `@payload("Price of {{symbol}} is {{price}}")` template.

use std::sync::Arc;

use spate_engine::plan::Schema;
use spate_engine::value::{AttrType, Value};

use super::{MapperContext, SinkMapper, SourceMapper};

/// `@map(type='text')`.
pub const TEXT: &str = "text";
/// `fail.on.missing.attribute`: a missing attribute fails the event (default true) instead
/// of being null.
pub const FAIL_ON_MISSING_ATTRIBUTE: &str = "fail.on.missing.attribute";
/// `event.grouping.enabled`: a payload holds several events separated by `delimiter` lines.
pub const EVENT_GROUPING_ENABLED: &str = "event.grouping.enabled";
/// `delimiter`: the line between grouped events (default `~~~~~~~~~~`).
pub const DELIMITER: &str = "delimiter";
/// `new.line.character`: the line break (default `\n`).
pub const NEW_LINE_CHARACTER: &str = "new.line.character";
const DEFAULT_DELIMITER: &str = "~~~~~~~~~~";

/// `@map(type='text')` for a source.
pub fn source_mapper(ctx: &MapperContext<'_>) -> Result<Box<dyn SourceMapper>, String> {
    if ctx.attributes().is_some() {
        return Err(
            "regular-expression mappings (`regex.A` with `@attributes`) are not supported; \
             send the default text format or use @map(type='csv')"
                .into(),
        );
    }
    ctx.refuse_custom(false, false)?;
    let r = ctx.options();
    let fail_on_missing = r.bool(FAIL_ON_MISSING_ATTRIBUTE, true)?;
    let grouping = r.bool(EVENT_GROUPING_ENABLED, false)?;
    let delimiter = r.string(DELIMITER).unwrap_or(DEFAULT_DELIMITER).to_string();
    let new_line = r
        .string(NEW_LINE_CHARACTER)
        .map_or("\n", unescape_new_line)
        .to_string();
    r.finish(&[
        "type",
        FAIL_ON_MISSING_ATTRIBUTE,
        EVENT_GROUPING_ENABLED,
        DELIMITER,
        NEW_LINE_CHARACTER,
    ])?;
    Ok(Box::new(TextSource {
        stream: ctx.stream.to_string(),
        schema: Arc::new(ctx.schema.clone()),
        fail_on_missing,
        grouping: grouping.then(|| format!("{new_line}{delimiter}{new_line}")),
        new_line,
    }))
}

/// `@map(type='text')` for a sink.
pub fn sink_mapper(ctx: &MapperContext<'_>) -> Result<Box<dyn SinkMapper>, String> {
    ctx.refuse_custom(false, true)?;
    let r = ctx.options();
    if r.bool(EVENT_GROUPING_ENABLED, false)? {
        return Err(format!(
            "`{EVENT_GROUPING_ENABLED}` is not supported by sinks; each event is its own payload"
        ));
    }
    let new_line = r
        .string(NEW_LINE_CHARACTER)
        .map_or("\n", unescape_new_line)
        .to_string();
    r.string(DELIMITER);
    r.finish(&[
        "type",
        EVENT_GROUPING_ENABLED,
        NEW_LINE_CHARACTER,
        DELIMITER,
    ])?;
    let template = ctx
        .payload()
        .map(|t| Template::parse(t, ctx.schema))
        .transpose()?;
    Ok(Box::new(TextSink {
        schema: ctx.schema.clone(),
        new_line,
        template,
    }))
}

/// `\n` and `\r\n` as written in an option.
fn unescape_new_line(s: &str) -> &str {
    match s {
        "\\n" => "\n",
        "\\r\\n" => "\r\n",
        other => other,
    }
}

struct TextSource {
    stream: String,
    schema: Arc<Schema>,
    fail_on_missing: bool,
    /// The separator of grouped events, when grouping is on.
    grouping: Option<String>,
    new_line: String,
}

impl SourceMapper for TextSource {
    fn read(&self, payload: &[u8]) -> Result<Vec<Vec<Value>>, String> {
        let text = super::utf8(payload)?;
        match &self.grouping {
            Some(sep) => text
                .split(sep.as_str())
                .enumerate()
                .map(|(i, t)| {
                    self.read_one(t)
                        .map_err(|e| format!("event {}: {e}", i + 1))
                })
                .collect(),
            None => Ok(vec![self.read_one(text)?]),
        }
    }
}

impl TextSource {
    fn read_one(&self, text: &str) -> Result<Vec<Value>, String> {
        let text = text.trim_end_matches(['\r', '\n']);
        let mut row: Vec<Option<Value>> = vec![None; self.schema.len()];
        for pair in split_pairs(text, &self.new_line) {
            if pair.trim().is_empty() {
                continue;
            }
            let (key, raw) = pair.split_once(':').ok_or_else(|| {
                format!(
                    "'{}' is not `name:value` (stream `{}` has {})",
                    pair.trim(),
                    self.stream,
                    self.schema.describe()
                )
            })?;
            let key = key.trim();
            let i = self.schema.index_of(key).ok_or_else(|| {
                format!(
                    "stream `{}` has no attribute `{key}`; its attributes are {}",
                    self.stream,
                    self.schema.describe()
                )
            })?;
            if row[i].is_some() {
                return Err(format!("attribute `{key}` is given twice"));
            }
            let ty = self.schema.types[i];
            let raw = raw.trim();
            let value = if ty == AttrType::String {
                match unquote(raw) {
                    Some(s) => Value::str(s),
                    None if raw == "null" => Value::Null,
                    None => Value::str(raw),
                }
            } else {
                super::parse_text(raw, ty)
                    .ok_or_else(|| super::type_error(&self.stream, key, ty, raw))?
            };
            row[i] = Some(value);
        }
        row.into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Some(v) => Ok(v),
                None if self.fail_on_missing => Err(super::missing_error(
                    &self.stream,
                    &self.schema.names[i],
                    self.schema.types[i],
                )),
                None => Ok(Value::Null),
            })
            .collect()
    }
}

/// `"x"` or `'x'` without its quotes.
fn unquote(s: &str) -> Option<&str> {
    if s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')))
    {
        Some(&s[1..s.len() - 1])
    } else {
        None
    }
}

/// Siddhi's pairs are separated by `,` + line break; a one-line payload by commas outside
/// quotes.
fn split_pairs<'a>(text: &'a str, new_line: &str) -> Vec<&'a str> {
    if text.contains(new_line) {
        return text.split(&format!(",{new_line}")).collect();
    }
    let mut pairs = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, ',') => {
                pairs.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pairs.push(&text[start..]);
    pairs
}

struct TextSink {
    schema: Schema,
    new_line: String,
    template: Option<Template>,
}

impl SinkMapper for TextSink {
    fn write(&self, row: &[Value], out: &mut String) {
        if let Some(t) = &self.template {
            return t.render(row, out);
        }
        for (i, (name, v)) in self.schema.names.iter().zip(row).enumerate() {
            if i > 0 {
                out.push(',');
                out.push_str(&self.new_line);
            }
            out.push_str(name);
            out.push(':');
            match v {
                Value::Str(s) => {
                    out.push('"');
                    out.push_str(s);
                    out.push('"');
                }
                other => out.push_str(&other.to_java_string()),
            }
        }
    }

    fn content_type(&self) -> &'static str {
        "text/plain"
    }
}

/// A `@payload("...{{attr}}...")` template: text with attribute values put in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Attribute(usize),
}

impl Template {
    /// Parses `text`; every `{{name}}` must be an attribute of `schema`.
    pub fn parse(text: &str, schema: &Schema) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("@payload: `{{{{` at '{}' is not closed", &rest[open..]))?;
            let name = after[..close].trim();
            let i = schema.index_of(name).ok_or_else(|| {
                format!(
                    "@payload: `{{{{{name}}}}}` is not an attribute; the stream has {}",
                    schema.describe()
                )
            })?;
            parts.push(Part::Attribute(i));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Appends the template filled with `row` to `out` (null as `null`).
    pub fn render(&self, row: &[Value], out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Attribute(i) => match row.get(*i) {
                    Some(Value::Str(s)) => out.push_str(s),
                    Some(v) => out.push_str(&v.to_java_string()),
                    None => out.push_str("null"),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::mapper::testing;

    fn schema() -> Schema {
        Schema::new([
            ("symbol".to_string(), AttrType::String),
            ("price".to_string(), AttrType::Float),
            ("volume".to_string(), AttrType::Long),
        ])
    }

    fn source(options: &[(&str, &str)]) -> Box<dyn SourceMapper> {
        testing::source(&testing::map(TEXT, options, None, None), &schema()).expect("valid")
    }

    fn sink(payload: Option<&str>) -> Box<dyn SinkMapper> {
        testing::sink(&testing::map(TEXT, &[], None, payload), &schema()).expect("valid")
    }

    fn ibm() -> Vec<Value> {
        vec![Value::str("IBM, Inc"), Value::Float(55.6), Value::Long(100)]
    }

    #[test]
    fn round_trips_the_default_format() {
        let mut out = String::new();
        sink(None).write(&ibm(), &mut out);
        assert_eq!(out, "symbol:\"IBM, Inc\",\nprice:55.6,\nvolume:100");
        assert_eq!(
            source(&[]).read(out.as_bytes()).expect("valid"),
            vec![ibm()]
        );
        let one_line = b"symbol:'IBM, Inc', price:55.6,volume:100";
        assert_eq!(source(&[]).read(one_line).expect("valid"), vec![ibm()]);
    }

    #[test]
    fn reads_grouped_events() {
        let body =
            "symbol:\"A\",\nprice:1,\nvolume:1\n~~~~~~~~~~\nsymbol:\"B\",\nprice:2,\nvolume:2";
        let rows = source(&[(EVENT_GROUPING_ENABLED, "true")])
            .read(body.as_bytes())
            .expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][0], Value::str("B"));
    }

    #[test]
    fn says_what_is_wrong() {
        let cases: [(&[u8], &str); 6] = [
            (
                b"symbol:\"A\",price:x,volume:1",
                "`price` of stream `S` is float",
            ),
            (
                b"symbol:\"A\",price:1",
                "`volume` (long) of stream `S` is missing",
            ),
            (
                b"symbol:\"A\",price:1,volume:1,colour:2",
                "no attribute `colour`",
            ),
            (
                b"symbol:\"A\",price:1,price:2,volume:1",
                "`price` is given twice",
            ),
            (b"garbage", "is not `name:value`"),
            (&[b's', b':', 0xc3, 0x28], "not UTF-8"),
        ];
        for (body, want) in cases {
            let err = source(&[]).read(body).expect_err("invalid");
            assert!(err.contains(want), "{err}");
        }
        let lenient = source(&[(FAIL_ON_MISSING_ATTRIBUTE, "false")])
            .read(b"symbol:\"A\"")
            .expect("nulls allowed");
        assert_eq!(lenient[0][2], Value::Null);
    }

    #[test]
    fn fills_templates() {
        let mut out = String::new();
        sink(Some("{{symbol}} costs {{ price }}!")).write(&ibm(), &mut out);
        assert_eq!(out, "IBM, Inc costs 55.6!");
        assert!(Template::parse("{{nope}}", &schema()).is_err_and(|e| e.contains("nope")));
        assert!(Template::parse("{{symbol", &schema()).is_err());
    }
}
