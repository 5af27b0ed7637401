//! Connector options as written in `@source(...)`, `@sink(...)` and their `@map(...)`: keys
//! matched case-insensitively (as Siddhi does), every key checked — an option a connector does
//! not know is an error naming it, never silently ignored.

use std::cell::RefCell;
use std::collections::BTreeSet;

use spate_ql::Span;
use spate_ql::ast::{Annotation, AnnotationItem};

/// `type`: which connector or mapper.
pub const TYPE: &str = "type";

/// The key-value options of one annotation, in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    entries: Vec<(String, String)>,
}

impl Options {
    /// The `key='value'` elements of `a` (key-less values are kept under an empty key).
    pub fn of(a: &Annotation) -> Options {
        let entries = a
            .items
            .iter()
            .filter_map(|i| match i {
                AnnotationItem::Element(e) => Some((
                    e.key.as_ref().map_or(String::new(), |k| k.name.clone()),
                    e.value.value.clone(),
                )),
                AnnotationItem::Annotation(_) => None,
            })
            .collect();
        Options { entries }
    }

    /// Options from pairs (tests and built-in defaults).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Options {
        Options {
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Every `(key, value)` in the order written (an empty key for a value without one).
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// A connector or mapper annotation: its type, options and nested `@map`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSpec {
    /// `type`, lower-cased.
    pub kind: String,
    /// All options, `type` included.
    pub options: Options,
    /// The nested `@map(...)`, if any.
    pub map: Option<MapSpec>,
    /// Where the annotation is written.
    pub span: Span,
}

/// A `@map(...)` annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    /// `type`, lower-cased.
    pub kind: String,
    pub options: Options,
    /// It has nested `@attributes(...)` or `@payload(...)` (custom mapping).
    pub custom: Option<String>,
    /// `@attributes(a='$.x', ...)`: where each attribute comes from (source mappers).
    pub attributes: Option<Options>,
    /// `@payload("...{{a}}...")`: the template of each payload (sink mappers).
    pub payload: Option<String>,
}

impl ConnectorSpec {
    /// Reads `@source(...)` or `@sink(...)`.
    pub fn of(a: &Annotation) -> Result<ConnectorSpec, String> {
        let options = Options::of(a);
        let kind = options
            .get(TYPE)
            .ok_or_else(|| format!("`@{}` needs a type, e.g. type='http'", a.name.name))?
            .to_ascii_lowercase();
        let map = a.items.iter().find_map(|i| match i {
            AnnotationItem::Annotation(m) if m.name.name.eq_ignore_ascii_case("map") => {
                Some(MapSpec::of(m))
            }
            _ => None,
        });
        if let Some(other) = a.items.iter().find_map(|i| match i {
            AnnotationItem::Annotation(m) if !m.name.name.eq_ignore_ascii_case("map") => Some(m),
            _ => None,
        }) {
            return Err(format!(
                "`@{}` inside `@{}` is not supported; only `@map(...)` is",
                other.name.name, a.name.name
            ));
        }
        Ok(ConnectorSpec {
            kind,
            options,
            map: map.transpose()?,
            span: a.span,
        })
    }

    /// The mapper type, or `default` when there is no `@map`.
    pub fn map_kind<'a>(&'a self, default: &'a str) -> &'a str {
        self.map.as_ref().map_or(default, |m| m.kind.as_str())
    }
}

impl MapSpec {
    fn of(a: &Annotation) -> Result<MapSpec, String> {
        let options = Options::of(a);
        let kind = options
            .get(TYPE)
            .ok_or("`@map` needs a type, e.g. @map(type='json')")?
            .to_ascii_lowercase();
        let mut custom = None;
        let mut attributes = None;
        let mut payload = None;
        for nested in a.items.iter().filter_map(|i| match i {
            AnnotationItem::Annotation(n) => Some(n),
            AnnotationItem::Element(_) => None,
        }) {
            let name = &nested.name.name;
            custom = Some(name.clone());
            let values = Options::of(nested);
            if name.eq_ignore_ascii_case("attributes") {
                attributes = Some(values);
            } else if name.eq_ignore_ascii_case("payload") {
                match values.entries() {
                    [(_, template)] => payload = Some(template.clone()),
                    _ => {
                        return Err(
                            "`@payload` takes one template, e.g. @payload(\"{{a}}\")".into()
                        );
                    }
                }
            } else {
                return Err(format!(
                    "`@{name}` inside `@map` is not supported; only `@attributes(...)` and `@payload(...)` are"
                ));
            }
        }
        Ok(MapSpec {
            kind,
            options,
            custom,
            attributes,
            payload,
        })
    }
}

/// Reads options once each; [`OptionReader::finish`] reports any option nobody read.
pub struct OptionReader<'a> {
    what: String,
    options: &'a Options,
    used: RefCell<BTreeSet<String>>,
}

impl<'a> OptionReader<'a> {
    /// Reads `options` of `what` (e.g. `@source(type='http')`); `type` counts as read.
    pub fn new(what: impl Into<String>, options: &'a Options) -> OptionReader<'a> {
        let reader = OptionReader {
            what: what.into(),
            options,
            used: RefCell::new(BTreeSet::new()),
        };
        reader.mark(TYPE);
        reader
    }

    fn mark(&self, key: &str) {
        self.used.borrow_mut().insert(key.to_ascii_lowercase());
    }

    /// The value of `key`, if given.
    pub fn string(&self, key: &str) -> Option<&'a str> {
        self.mark(key);
        self.options.get(key)
    }

    /// The value of `key`, which must be given.
    pub fn required(&self, key: &str) -> Result<&'a str, String> {
        self.string(key)
            .ok_or_else(|| format!("{} needs `{key}`", self.what))
    }

    /// A boolean option (`'true'`/`'false'`, any case).
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.string(key) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(format!(
                "{}: `{key}` must be 'true' or 'false', not '{v}'",
                self.what
            )),
        }
    }

    /// A number option.
    pub fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.string(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("{}: `{key}` must be a number, not '{v}'", self.what)),
        }
    }

    /// Fails naming the first option nobody read.
    pub fn finish(self, accepted: &[&str]) -> Result<(), String> {
        let used = self.used.borrow();
        for (key, _) in &self.options.entries {
            let shown = if key.is_empty() {
                "(a value without a key)"
            } else {
                key
            };
            if !used.contains(&key.to_ascii_lowercase()) {
                return Err(format!(
                    "{} does not know the option `{shown}`; it takes {}",
                    self.what,
                    accepted.join(", ")
                ));
            }
        }
        Ok(())
    }
}
