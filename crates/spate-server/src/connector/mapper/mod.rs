//! Mappers: turning payloads into typed rows (sources) and rows into payloads (sinks), shared
//! by every connector and found in an explicit registry ([`SOURCE_MAPPERS`], [`SINK_MAPPERS`]):
//! adding a format is one file and one line in each list.
//!
//! Errors name the event, the attribute and the problem; a source answers them to its client
//! (HTTP 400) or logs them with the place the payload came from (file:line).

pub mod csv;
pub mod json;
pub mod json_path;
pub mod keyvalue;
pub mod text;

use spate_engine::plan::Schema;
use spate_engine::plan::schema::type_name;
use spate_engine::value::{AttrType, Value};

use super::ConnectorSpec;
use super::options::{MapSpec, OptionReader};

/// `@map(type='passThrough')`: rows go through as they are (in-process connectors).
pub const PASS_THROUGH: &str = "passthrough";

/// Reads payloads of one format into rows of one stream.
pub trait SourceMapper: Send + Sync {
    /// The rows of one payload (a request body, a line, a frame); the error says what is wrong.
    fn read(&self, payload: &[u8]) -> Result<Vec<Vec<Value>>, String>;
}

/// Writes rows of one stream in one format.
pub trait SinkMapper: Send + Sync {
    /// Appends the payload of `row` to `out` (no trailing line break).
    fn write(&self, row: &[Value], out: &mut String);
    /// The MIME type of a payload.
    fn content_type(&self) -> &'static str;
    /// A line to write once before the first payload of a file (a CSV header).
    fn header(&self) -> Option<String> {
        None
    }
}

/// What a mapper is built from: the stream and its `@map(...)`.
pub struct MapperContext<'a> {
    /// The mapper type, lower case.
    pub kind: &'a str,
    pub stream: &'a str,
    pub schema: &'a Schema,
    /// `@map(type='...')` as written, for messages.
    pub what: String,
    pub map: Option<&'a MapSpec>,
}

impl MapperContext<'_> {
    /// The `@map` options, checked as they are read.
    pub fn options(&self) -> OptionReader<'_> {
        static EMPTY: std::sync::OnceLock<super::Options> = std::sync::OnceLock::new();
        let options = self
            .map
            .map_or_else(|| EMPTY.get_or_init(Default::default), |m| &m.options);
        OptionReader::new(self.what.clone(), options)
    }

    /// The `@attributes(...)` of the map, if any.
    pub fn attributes(&self) -> Option<&super::Options> {
        self.map.and_then(|m| m.attributes.as_ref())
    }

    /// The `@payload(...)` template of the map, if any.
    pub fn payload(&self) -> Option<&str> {
        self.map.and_then(|m| m.payload.as_deref())
    }

    /// Fails when the map has a nested annotation this mapper does not take.
    pub fn refuse_custom(&self, attributes: bool, payload: bool) -> Result<(), String> {
        if !attributes && self.attributes().is_some() {
            return Err(format!(
                "{} does not take `@attributes(...)`; use the default mapping",
                self.what
            ));
        }
        if !payload && self.payload().is_some() {
            return Err(format!(
                "{} does not take `@payload(...)`; use the default mapping",
                self.what
            ));
        }
        Ok(())
    }
}

/// How a mapper of kind `M` is built.
type Builder<M> = fn(&MapperContext<'_>) -> Result<Box<M>, String>;
type SourceMapperBuilder = Builder<dyn SourceMapper>;
type SinkMapperBuilder = Builder<dyn SinkMapper>;

/// Every source mapper: its `type` and how to build it.
pub static SOURCE_MAPPERS: &[(&str, SourceMapperBuilder)] = &[
    (json::JSON, json::source_mapper),
    (text::TEXT, text::source_mapper),
    (csv::CSV, csv::source_mapper),
    (keyvalue::KEYVALUE, keyvalue::source_mapper),
];

/// Every sink mapper: its `type` and how to build it.
pub static SINK_MAPPERS: &[(&str, SinkMapperBuilder)] = &[
    (json::JSON, json::sink_mapper),
    (text::TEXT, text::sink_mapper),
    (csv::CSV, csv::sink_mapper),
    (keyvalue::KEYVALUE, keyvalue::sink_mapper),
];

fn context<'a>(
    spec: &'a ConnectorSpec,
    stream: &'a str,
    schema: &'a Schema,
    what: &str,
    default: &'a str,
    allowed: &[&str],
) -> Result<MapperContext<'a>, String> {
    let kind = spec.map_kind(default);
    if !allowed.contains(&kind) {
        return Err(format!(
            "{what} cannot use @map(type='{kind}'); it takes {}",
            allowed.join(", ")
        ));
    }
    Ok(MapperContext {
        kind,
        stream,
        schema,
        what: format!("@map(type='{kind}')"),
        map: spec.map.as_ref(),
    })
}

/// Builds the mapper of `ctx` from `registry`.
fn build<M: ?Sized>(
    registry: &[(&str, Builder<M>)],
    ctx: &MapperContext<'_>,
    what: &str,
) -> Result<Box<M>, String> {
    let build = registry
        .iter()
        .find(|(k, _)| *k == ctx.kind)
        .map(|(_, b)| b)
        .ok_or_else(|| format!("{what}: there is no mapper of type '{}' here", ctx.kind))?;
    build(ctx).map_err(|e| format!("{what}: {e}"))
}

/// The source mapper of `spec` (`default` without `@map`), which must be one of `allowed`.
pub fn source_mapper(
    spec: &ConnectorSpec,
    stream: &str,
    schema: &Schema,
    what: &str,
    default: &str,
    allowed: &[&str],
) -> Result<Box<dyn SourceMapper>, String> {
    let ctx = context(spec, stream, schema, what, default, allowed)?;
    build(SOURCE_MAPPERS, &ctx, what)
}

/// The sink mapper of `spec`; see [`source_mapper`].
pub fn sink_mapper(
    spec: &ConnectorSpec,
    stream: &str,
    schema: &Schema,
    what: &str,
    default: &str,
    allowed: &[&str],
) -> Result<Box<dyn SinkMapper>, String> {
    build(
        SINK_MAPPERS,
        &context(spec, stream, schema, what, default, allowed)?,
        what,
    )
}

/// Checks the `@map` of `spec` before the stream's schema is known: its type and options
/// (custom mappings are checked against the stream when the connector starts).
pub fn check(
    spec: &ConnectorSpec,
    source: bool,
    what: &str,
    default: &str,
    allowed: &[&str],
) -> Result<(), String> {
    let schema = Schema::default();
    let ctx = context(spec, "stream", &schema, what, default, allowed)?;
    if ctx.attributes().is_some() || ctx.payload().is_some() {
        // Custom mappings and their options need the stream: checked when it starts.
        return Ok(());
    }
    if source {
        build(SOURCE_MAPPERS, &ctx, what).map(|_| ())
    } else {
        build(SINK_MAPPERS, &ctx, what).map(|_| ())
    }
}

/// Every source mapper type.
pub fn source_kinds() -> Vec<&'static str> {
    SOURCE_MAPPERS.iter().map(|(k, _)| *k).collect()
}

/// Every sink mapper type.
pub fn sink_kinds() -> Vec<&'static str> {
    SINK_MAPPERS.iter().map(|(k, _)| *k).collect()
}

/// Text (from a text, csv or key-value payload) as a value of type `ty`: trimmed numbers,
/// `true`/`false` in any case, `null` for null in non-string attributes.
pub fn parse_text(text: &str, ty: AttrType) -> Option<Value> {
    let t = text.trim();
    if ty != AttrType::String && (t.is_empty() || t == "null") {
        return Some(Value::Null);
    }
    Some(match ty {
        AttrType::String => Value::str(text),
        AttrType::Int => Value::Int(t.parse().ok()?),
        AttrType::Long => Value::Long(t.parse().ok()?),
        AttrType::Float => Value::Float(parse_float(t)? as f32),
        AttrType::Double => Value::Double(parse_float(t)?),
        AttrType::Bool => match t {
            _ if t.eq_ignore_ascii_case("true") => Value::Bool(true),
            _ if t.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return None,
        },
        AttrType::Object => Value::Object(std::sync::Arc::new(spate_engine::value::Object::Text(
            text.to_string(),
        ))),
    })
}

/// A float as Java writes it (`1.5`, `1.0E20`, `NaN`, `Infinity`), with an optional `f`/`d`.
fn parse_float(t: &str) -> Option<f64> {
    match t {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ if t.contains(['i', 'I', 'n', 'N']) => None,
        _ => t
            .strip_suffix(['f', 'F', 'd', 'D'])
            .unwrap_or(t)
            .parse()
            .ok(),
    }
}

/// "attribute `x` of stream `S` is int, but the value is 'abc'".
pub fn type_error(stream: &str, name: &str, ty: AttrType, value: &str) -> String {
    let shown: String = value.chars().take(80).collect();
    format!(
        "attribute `{name}` of stream `{stream}` is {}, but the value is '{shown}'",
        type_name(ty)
    )
}

/// "attribute `x` (int) of stream `S` is missing".
pub fn missing_error(stream: &str, name: &str, ty: AttrType) -> String {
    format!(
        "attribute `{name}` ({}) of stream `{stream}` is missing",
        type_name(ty)
    )
}

/// The payload as UTF-8, or an error naming the first bad byte.
pub fn utf8(payload: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(payload).map_err(|e| {
        format!(
            "the payload is not UTF-8 text (bad byte at offset {})",
            e.valid_up_to()
        )
    })
}

/// For each attribute of `schema`, the index of its `@attributes(...)` mapping: by name
/// (`a='...'`) or in order (`'...', '...'`); every attribute must be mapped once.
pub fn attribute_mappings(
    ctx: &MapperContext<'_>,
    attributes: &super::Options,
) -> Result<Vec<String>, String> {
    let entries = attributes.entries();
    let positional = entries.iter().all(|(k, _)| k.is_empty());
    if positional {
        if entries.len() != ctx.schema.len() {
            return Err(format!(
                "`@attributes(...)` lists {} mappings, but stream `{}` has {} attributes {}",
                entries.len(),
                ctx.stream,
                ctx.schema.len(),
                ctx.schema.describe()
            ));
        }
        return Ok(entries.iter().map(|(_, v)| v.clone()).collect());
    }
    if let Some((k, _)) = entries
        .iter()
        .find(|(k, _)| k.is_empty() || ctx.schema.index_of(k).is_none())
    {
        return Err(format!(
            "`@attributes(...)`: stream `{}` has no attribute `{k}`; its attributes are {}",
            ctx.stream,
            ctx.schema.describe()
        ));
    }
    ctx.schema
        .names
        .iter()
        .map(|name| {
            attributes.get(name).map(str::to_string).ok_or_else(|| {
                format!("`@attributes(...)` does not map attribute `{name}`; map every attribute")
            })
        })
        .collect()
}

/// Builds mappers in unit tests.
#[cfg(test)]
pub mod testing {
    use super::*;
    use crate::connector::options::Options;

    /// `(symbol string, price double, volume long)`.
    pub fn trades() -> Schema {
        Schema::new([
            ("symbol".to_string(), AttrType::String),
            ("price".to_string(), AttrType::Double),
            ("volume".to_string(), AttrType::Long),
        ])
    }

    /// `@map(type=kind, options..., @attributes(...), @payload(...))`.
    pub fn map(
        kind: &str,
        options: &[(&str, &str)],
        attributes: Option<&[(&str, &str)]>,
        payload: Option<&str>,
    ) -> MapSpec {
        let mut pairs = vec![("type", kind)];
        pairs.extend_from_slice(options);
        MapSpec {
            kind: kind.to_string(),
            options: Options::from_pairs(pairs),
            custom: None,
            attributes: attributes.map(|a| Options::from_pairs(a.iter().copied())),
            payload: payload.map(str::to_string),
        }
    }

    fn ctx<'a>(map: &'a MapSpec, schema: &'a Schema) -> MapperContext<'a> {
        MapperContext {
            kind: &map.kind,
            stream: "S",
            schema,
            what: format!("@map(type='{}')", map.kind),
            map: Some(map),
        }
    }

    /// The source mapper of `map` for stream `S` of `schema`.
    pub fn source(map: &MapSpec, schema: &Schema) -> Result<Box<dyn SourceMapper>, String> {
        let build = SOURCE_MAPPERS
            .iter()
            .find(|(k, _)| *k == map.kind)
            .map(|(_, b)| b);
        build.ok_or("no such mapper")?(&ctx(map, schema))
    }

    /// The sink mapper of `map` for stream `S` of `schema`.
    pub fn sink(map: &MapSpec, schema: &Schema) -> Result<Box<dyn SinkMapper>, String> {
        let build = SINK_MAPPERS
            .iter()
            .find(|(k, _)| *k == map.kind)
            .map(|(_, b)| b);
        build.ok_or("no such mapper")?(&ctx(map, schema))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_values_strictly() {
        assert_eq!(parse_text(" 12 ", AttrType::Int), Some(Value::Int(12)));
        assert_eq!(parse_text("3000000000", AttrType::Int), None);
        assert_eq!(parse_text("1.5f", AttrType::Float), Some(Value::Float(1.5)));
        assert_eq!(parse_text("inf", AttrType::Double), None);
        assert_eq!(parse_text("TRUE", AttrType::Bool), Some(Value::Bool(true)));
        assert_eq!(parse_text("yes", AttrType::Bool), None);
        assert_eq!(parse_text("", AttrType::Long), Some(Value::Null));
        assert_eq!(parse_text("", AttrType::String), Some(Value::str("")));
        assert!(utf8(&[b'a', 0xff]).is_err_and(|e| e.contains("offset 1")));
    }

    #[test]
    fn checks_maps_before_the_schema_is_known() {
        use crate::connector::options::Options;
        let spec = |map: MapSpec| ConnectorSpec {
            kind: "http".into(),
            options: Options::from_pairs([("type", "http")]),
            map: Some(map),
            span: Default::default(),
        };
        let kinds = source_kinds();
        let custom = testing::map(
            json::JSON,
            &[(json::ENCLOSING_ELEMENT, "$.x")],
            Some(&[("a", "$.a")]),
            None,
        );
        assert!(check(&spec(custom), true, "x", json::JSON, &kinds).is_ok());
        let unknown = testing::map(csv::CSV, &[("colour", "red")], None, None);
        assert!(
            check(&spec(unknown), true, "x", json::JSON, &kinds)
                .is_err_and(|e| e.contains("colour"))
        );
        let wrong = testing::map("xml", &[], None, None);
        assert!(
            check(&spec(wrong), true, "x", json::JSON, &kinds).is_err_and(|e| e.contains("xml"))
        );
    }
}
