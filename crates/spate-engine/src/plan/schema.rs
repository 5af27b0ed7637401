//! Schemas and the catalog of everything an app defines: streams (declared and inferred),
//! tables, named windows, triggers and aggregations, in one namespace as in Siddhi.

use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use spate_ql::Span;

use crate::value::AttrType;

/// Attribute names and types of a stream, table or window.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Schema {
    pub names: Vec<String>,
    pub types: Vec<AttrType>,
}

impl Schema {
    pub fn new(attrs: impl IntoIterator<Item = (String, AttrType)>) -> Schema {
        let (names, types) = attrs.into_iter().unzip();
        Schema { names, types }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// `(a string, b int)` as SiddhiQL writes it.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .names
            .iter()
            .zip(&self.types)
            .map(|(n, t)| format!("{n} {}", type_name(*t)))
            .collect();
        format!("({})", parts.join(", "))
    }
}

pub fn type_name(t: AttrType) -> &'static str {
    crate::aggregate::type_name(t)
}

/// Index of a stream in the plan.
pub type StreamId = u32;

/// What kind of thing a name in the catalog is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    Stream,
    Table,
    Window,
    Trigger,
    Aggregation,
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntityKind::Stream => "stream",
            EntityKind::Table => "table",
            EntityKind::Window => "window",
            EntityKind::Trigger => "trigger",
            EntityKind::Aggregation => "aggregation",
        })
    }
}

/// How a stream came to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamOrigin {
    /// `define stream`.
    Defined,
    /// Created by `insert into` of a query.
    Inferred,
    /// The output of `define trigger` (one `triggered_time long` attribute).
    Trigger,
    /// `!S`: the fault stream of `S` (its attributes plus `_error object`).
    Fault,
    /// `#S` inside a partition: one instance per partition key.
    Inner,
}

/// A stream of the app.
#[derive(Clone, Debug)]
pub struct StreamInfo {
    pub name: String,
    pub schema: Arc<Schema>,
    pub origin: StreamOrigin,
    pub span: Span,
    /// Index of the partition that owns an inner stream.
    pub partition: Option<u32>,
}

/// One entry of the app namespace.
#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: EntityKind,
    /// Index into the list of that kind.
    pub index: u32,
    pub span: Span,
}

/// Names of streams, tables, windows, triggers and aggregations (Siddhi keeps one namespace
/// for them: a table and a stream cannot share a name).
#[derive(Clone, Debug, Default)]
pub struct Namespace {
    entries: FxHashMap<String, Entry>,
}

impl Namespace {
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    pub fn insert(&mut self, name: &str, entry: Entry) {
        self.entries.insert(name.to_string(), entry);
    }
}
