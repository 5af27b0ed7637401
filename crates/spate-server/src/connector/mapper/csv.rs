//! `@map(type='csv')`: one event per record, attributes in stream order (or at the positions
//! of `@attributes(symbol='2', price='0')`), fields separated by `delimiter` (default `,`),
//! quoted with `"` when they hold the delimiter, a quote or a line break (`""` inside quotes).
//! An empty field is null for non-string attributes.
//!
//! A payload is one record; with `event.grouping.enabled='true'` every line is a record and
//! `header.present='true'` skips the first. The file source applies `header.present` to the
//! first line of the file. Sinks write `header='true'` as the first line of a new file.

use std::sync::Arc;

use spate_engine::plan::Schema;
use spate_engine::value::Value;

use super::{MapperContext, SinkMapper, SourceMapper};

/// `@map(type='csv')`.
pub const CSV: &str = "csv";
/// `delimiter`: the field separator (one character, default `,`).
pub const DELIMITER: &str = "delimiter";
/// `header.present`: the first record is a header to skip (default false).
pub const HEADER_PRESENT: &str = "header.present";
/// `header`: sinks write the attribute names first (default false).
pub const HEADER: &str = "header";
/// `fail.on.unknown.attribute`: a field that cannot be read fails the event (default true)
/// instead of being null.
pub const FAIL_ON_UNKNOWN_ATTRIBUTE: &str = "fail.on.unknown.attribute";
/// `event.grouping.enabled`: a payload holds one record per line.
pub const EVENT_GROUPING_ENABLED: &str = "event.grouping.enabled";

fn delimiter(r: &super::OptionReader<'_>) -> Result<char, String> {
    let text = r.string(DELIMITER).unwrap_or(",");
    let text = if text == "\\t" { "\t" } else { text };
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c != '"' && c != '\n' && c != '\r' => Ok(c),
        _ => Err(format!(
            "`{DELIMITER}` must be one character other than a quote or a line break, not '{text}'"
        )),
    }
}

/// `@map(type='csv')` for a source.
pub fn source_mapper(ctx: &MapperContext<'_>) -> Result<Box<dyn SourceMapper>, String> {
    ctx.refuse_custom(true, false)?;
    let r = ctx.options();
    let delimiter = delimiter(&r)?;
    let header = r.bool(HEADER_PRESENT, false)?;
    let fail = r.bool(FAIL_ON_UNKNOWN_ATTRIBUTE, true)?;
    let grouping = r.bool(EVENT_GROUPING_ENABLED, false)?;
    r.finish(&[
        "type",
        DELIMITER,
        HEADER_PRESENT,
        FAIL_ON_UNKNOWN_ATTRIBUTE,
        EVENT_GROUPING_ENABLED,
    ])?;
    let positions = match ctx.attributes() {
        None => (0..ctx.schema.len()).collect(),
        Some(a) => super::attribute_mappings(ctx, a)?
            .iter()
            .map(|p| {
                p.trim().parse::<usize>().map_err(|_| {
                    format!("`@attributes`: '{p}' is not a field position (0, 1, ...)")
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Box::new(CsvSource {
        stream: ctx.stream.to_string(),
        schema: Arc::new(ctx.schema.clone()),
        delimiter,
        skip_header: header && grouping,
        fail,
        grouping,
        positions,
    }))
}

/// `@map(type='csv')` for a sink.
pub fn sink_mapper(ctx: &MapperContext<'_>) -> Result<Box<dyn SinkMapper>, String> {
    ctx.refuse_custom(false, false)?;
    let r = ctx.options();
    let delimiter = delimiter(&r)?;
    let header = r.bool(HEADER, false)?;
    if r.bool(EVENT_GROUPING_ENABLED, false)? {
        return Err(format!(
            "`{EVENT_GROUPING_ENABLED}` is not supported by sinks; each event is its own record"
        ));
    }
    r.finish(&["type", DELIMITER, HEADER, EVENT_GROUPING_ENABLED])?;
    Ok(Box::new(CsvSink {
        names: ctx.schema.names.clone(),
        delimiter,
        header,
    }))
}

struct CsvSource {
    stream: String,
    schema: Arc<Schema>,
    delimiter: char,
    skip_header: bool,
    fail: bool,
    grouping: bool,
    /// The field of each attribute.
    positions: Vec<usize>,
}

impl SourceMapper for CsvSource {
    fn read(&self, payload: &[u8]) -> Result<Vec<Vec<Value>>, String> {
        let text = super::utf8(payload)?;
        let mut records = parse_records(text, self.delimiter)?;
        if !self.grouping && records.len() > 1 {
            return Err(format!(
                "the payload holds {} records; send one, or set {EVENT_GROUPING_ENABLED}='true'",
                records.len()
            ));
        }
        if self.skip_header && !records.is_empty() {
            records.remove(0);
        }
        records
            .iter()
            .enumerate()
            .map(|(n, fields)| {
                self.row(fields).map_err(|e| {
                    if self.grouping {
                        format!("record {}: {e}", n + 1)
                    } else {
                        e
                    }
                })
            })
            .collect()
    }
}

impl CsvSource {
    fn row(&self, fields: &[String]) -> Result<Vec<Value>, String> {
        self.positions
            .iter()
            .enumerate()
            .map(|(i, &at)| {
                let (name, ty) = (&self.schema.names[i], self.schema.types[i]);
                let Some(field) = fields.get(at) else {
                    return if self.fail {
                        Err(format!(
                            "{} (field {at} of a record with {} fields)",
                            super::missing_error(&self.stream, name, ty),
                            fields.len()
                        ))
                    } else {
                        Ok(Value::Null)
                    };
                };
                match super::parse_text(field, ty) {
                    Some(v) => Ok(v),
                    None if self.fail => Err(super::type_error(&self.stream, name, ty, field)),
                    None => Ok(Value::Null),
                }
            })
            .collect()
    }
}

/// Splits `text` into records of fields, honouring quotes; blank lines are skipped.
pub fn parse_records(text: &str, delimiter: char) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted_field = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() && !quoted_field => {
                quoted_field = true;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(other) => field.push(other),
                        None => return Err("a quoted field is not closed".into()),
                    }
                }
            }
            c if c == delimiter => {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
                let record = std::mem::take(&mut fields);
                if !(record.len() == 1 && record[0].is_empty()) {
                    records.push(record);
                }
            }
            _ if quoted_field => {
                return Err(format!(
                    "unexpected '{c}' after a quoted field; put the whole field in quotes"
                ));
            }
            other => field.push(other),
        }
    }
    if !field.is_empty() || !fields.is_empty() || quoted_field {
        fields.push(field);
        records.push(fields);
    }
    Ok(records)
}

struct CsvSink {
    names: Vec<String>,
    delimiter: char,
    header: bool,
}

impl CsvSink {
    fn push_field(&self, text: &str, out: &mut String) {
        if text.contains([self.delimiter, '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(text);
        }
    }
}

impl SinkMapper for CsvSink {
    fn write(&self, row: &[Value], out: &mut String) {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            match v {
                Value::Null => {}
                Value::Str(s) => self.push_field(s, out),
                other => self.push_field(&other.to_java_string(), out),
            }
        }
    }

    fn content_type(&self) -> &'static str {
        "text/csv"
    }

    fn header(&self) -> Option<String> {
        self.header.then(|| {
            let mut out = String::new();
            for (i, n) in self.names.iter().enumerate() {
                if i > 0 {
                    out.push(self.delimiter);
                }
                self.push_field(n, &mut out);
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::mapper::testing;
    use crate::connector::options::MapSpec;

    fn schema() -> Schema {
        testing::trades()
    }

    fn map(options: &[(&str, &str)], attributes: Option<&[(&str, &str)]>) -> MapSpec {
        testing::map(CSV, options, attributes, None)
    }

    fn source(m: &MapSpec) -> Result<Box<dyn SourceMapper>, String> {
        testing::source(m, &schema())
    }

    #[test]
    fn round_trips_quoted_fields() {
        let sink = testing::sink(&map(&[("header", "true")], None), &schema()).expect("valid");
        let row = vec![Value::str("A \"big\", co"), Value::Double(1.5), Value::Null];
        let mut out = String::new();
        sink.write(&row, &mut out);
        assert_eq!(out, "\"A \"\"big\"\", co\",1.5,");
        assert_eq!(sink.header().as_deref(), Some("symbol,price,volume"));
        let read = source(&map(&[], None))
            .expect("valid")
            .read(out.as_bytes())
            .expect("valid");
        assert_eq!(read, vec![row]);
    }

    #[test]
    fn maps_positions_and_groups() {
        let m = map(
            &[
                (EVENT_GROUPING_ENABLED, "true"),
                (HEADER_PRESENT, "true"),
                (DELIMITER, ";"),
            ],
            Some(&[("symbol", "2"), ("price", "0"), ("volume", "1")]),
        );
        let rows = source(&m)
            .expect("valid")
            .read(b"p;v;s\n1.0;10;A\r\n\n2.0;20;B\n")
            .expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1],
            vec![Value::str("B"), Value::Double(2.0), Value::Long(20)]
        );
    }

    #[test]
    fn says_what_is_wrong() {
        let s = source(&map(&[], None)).expect("valid");
        let cases: [(&[u8], &str); 5] = [
            (b"A,x,1", "`price` of stream `S` is double"),
            (b"A,1.0", "`volume` (long) of stream `S` is missing"),
            (b"\"A,1.0,1", "not closed"),
            (b"A,1,1\nB,2,2", "holds 2 records"),
            (&[b'A', b',', 0xff], "not UTF-8"),
        ];
        for (body, want) in cases {
            let err = s.read(body).expect_err("invalid");
            assert!(err.contains(want), "{err}");
        }
        assert!(source(&map(&[(DELIMITER, "ab")], None)).is_err());
        assert!(
            source(&map(
                &[],
                Some(&[("symbol", "x"), ("price", "0"), ("volume", "1")])
            ))
            .is_err_and(|e| e.contains("'x'"))
        );
    }
}
