//! The planner: validates a parsed app with Siddhi's rules and compiles it into an immutable
//! [`AppPlan`] that runtimes are built from (one plan can build many runtimes, e.g. a fresh one
//! for every restore). Every problem found is reported, each with its span.

use std::sync::Arc;

use spate_ql::ast::{self, Definition, ExecutionElement};
use spate_ql::{Diagnostic, Span};

mod aggregation;
pub mod annotations;
pub mod expr;
mod input;
pub mod join_key;
mod partition;
pub mod pattern;
mod query;
mod reduce_on;
pub mod schema;
pub mod store_query;
mod table_output;
pub mod trigger;

pub use partition::{KeyPlan, PartitionPlan, PurgePlan};
pub use query::{
    InputPlan, InputSource, JoinPlan, JoinSide, OutputPlan, OutputTarget, QueryPlan, SinglePlan,
    StagePlan,
};
pub use schema::{EntityKind, Schema, StreamId, StreamInfo, StreamOrigin};

use schema::{Entry, Namespace};

use crate::table::ops::TableOp;
use crate::value::AttrType;

/// A validated, compiled app.
#[derive(Debug)]
pub struct AppPlan {
    pub name: String,
    pub streams: Vec<StreamInfo>,
    pub queries: Vec<QueryPlan>,
    /// Number of timer-using elements (Siddhi schedulers), in creation order.
    pub timer_templates: u32,
    /// Valid SiddhiQL this build cannot execute yet, with where it appears.
    pub unsupported: Vec<(Span, String)>,
    pub(crate) namespace: Namespace,
    pub tables: Vec<TableInfo>,
    pub windows: Vec<WindowPlan>,
    pub partitions: Vec<PartitionPlan>,
    pub triggers: Vec<trigger::TriggerPlan>,
    /// `define aggregation`s, in definition order.
    pub aggregations: Vec<crate::aggregation::plan::AggregationPlan>,
}

/// A `define window`.
#[derive(Debug)]
pub struct WindowPlan {
    pub name: String,
    pub schema: Arc<Schema>,
    pub spec: Box<dyn crate::window::WindowSpec>,
    /// Which events the window publishes to its readers (default all).
    pub output: ast::OutputEventType,
    pub timer_template: Option<u32>,
}

/// A `define table`.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub name: String,
    pub schema: Arc<Schema>,
    pub span: Span,
    /// `@primaryKey` attribute positions.
    pub primary_key: Option<Vec<usize>>,
    /// `@index` attribute positions.
    pub indexes: Vec<usize>,
    /// `@store(type='...', ...)`: the table lives in an external store the host runs (the
    /// server mirrors an `rdbms` table to its database); the engine holds its rows the same way.
    pub store: Option<TableStore>,
}

/// A table's `@store` annotation: its type and options as written (keys as written, in order).
#[derive(Debug, Clone)]
pub struct TableStore {
    pub kind: String,
    pub options: Vec<(String, String)>,
    pub span: Span,
}

impl AppPlan {
    pub fn stream_id(&self, name: &str) -> Option<StreamId> {
        match self.namespace.get(name) {
            Some(Entry {
                kind: EntityKind::Stream,
                index,
                ..
            }) => Some(*index),
            _ => None,
        }
    }

    pub fn stream(&self, id: StreamId) -> &StreamInfo {
        &self.streams[id as usize]
    }

    /// The first problem that keeps this plan from running, as a diagnostic.
    pub fn unsupported_diagnostic(&self) -> Option<Diagnostic> {
        self.unsupported.first().map(|(span, what)| {
            Diagnostic::unsupported(
                *span,
                format!("{what} are not supported by this version of Spate yet"),
            )
        })
    }
}

/// Compiles an app; all diagnostics found are returned on failure.
pub fn compile(app: &ast::SiddhiApp) -> Result<AppPlan, Vec<Diagnostic>> {
    let mut p = Planner::default();
    p.app(app);
    if p.diags.is_empty() {
        Ok(p.finish(app))
    } else {
        Err(p.diags)
    }
}

/// Parses and compiles app text (after filling `${VAR}` placeholders from the environment).
pub fn compile_text(text: &str) -> Result<AppPlan, (String, Vec<Diagnostic>)> {
    let text = spate_ql::vars::substitute_env(text).map_err(|d| (text.to_string(), d))?;
    let app = spate_ql::parse_app(&text).map_err(|d| (text.clone(), d))?;
    compile(&app).map_err(|d| (text, d))
}

/// Marks the join conditions that cannot fail: a value holds a class other than its declared
/// type only when some query's output or table assignment relabels it with `cast`.
fn settle_join_conditions(queries: &mut [QueryPlan]) {
    let relabels = queries.iter().any(|q| {
        let set = match &q.output.table_op {
            Some(TableOp::Update { set, .. } | TableOp::UpdateOrInsert { set, .. }) => &set[..],
            _ => &[],
        };
        q.selector.outputs.iter().any(|e| e.ir.relabels())
            || set.iter().any(|(_, e)| e.ir.relabels())
    });
    for q in queries {
        if let InputPlan::Join(j) = &mut q.input {
            j.on_infallible = !relabels
                && j.on
                    .as_ref()
                    .is_none_or(|c| c.ir.infallible_without_relabels());
            j.key =
                j.on.as_ref()
                    .and_then(|c| join_key::split(&c.ir, j.on_infallible));
        }
    }
}

#[derive(Default)]
pub(crate) struct Planner {
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) namespace: Namespace,
    pub(crate) streams: Vec<StreamInfo>,
    pub(crate) tables: Vec<TableInfo>,
    pub(crate) windows: Vec<WindowPlan>,
    pub(crate) partitions: Vec<PartitionPlan>,
    pub(crate) triggers: Vec<trigger::TriggerPlan>,
    pub(crate) aggregations: Vec<(String, Arc<Schema>)>,
    pub(crate) aggregation_plans: Vec<crate::aggregation::plan::AggregationPlan>,
    pub(crate) queries: Vec<QueryPlan>,
    pub(crate) timer_templates: u32,
    pub(crate) unsupported: Vec<(Span, String)>,
    /// Names of the inner streams of the partition being compiled.
    pub(crate) partition: Option<u32>,
    pub(crate) partition_count: u32,
    pub(crate) query_count: u32,
}

impl Planner {
    fn finish(mut self, app: &ast::SiddhiApp) -> AppPlan {
        settle_join_conditions(&mut self.queries);
        let name = annotations::find(&app.app_annotations, "name")
            .and_then(|a| annotations::first_value(a, "name"))
            .unwrap_or("SiddhiApp")
            .to_string();
        AppPlan {
            name,
            streams: self.streams,
            queries: self.queries,
            timer_templates: self.timer_templates,
            unsupported: self.unsupported,
            namespace: self.namespace,
            tables: self.tables,
            windows: self.windows,
            partitions: self.partitions,
            triggers: self.triggers,
            aggregations: self.aggregation_plans,
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::validation(span, message));
    }

    pub(crate) fn unsupported(&mut self, span: Span, what: impl Into<String>) {
        self.unsupported.push((span, what.into()));
    }

    pub(crate) fn next_timer_template(&mut self) -> u32 {
        self.timer_templates += 1;
        self.timer_templates - 1
    }

    fn app(&mut self, app: &ast::SiddhiApp) {
        for a in &app.app_annotations {
            let name = a.name.name.to_ascii_lowercase();
            if !matches!(
                name.as_str(),
                "name" | "playback" | "description" | "statistics" | "enforceorder" | "async"
            ) {
                self.error(
                    a.span,
                    format!("unknown app annotation `@app:{}`", a.name.name),
                );
            }
        }
        for d in &app.definitions {
            self.definition(d);
        }
        for e in &app.elements {
            match e {
                ExecutionElement::Query(q) => self.query(q),
                ExecutionElement::Partition(p) => self.partition(p),
            }
        }
    }

    fn attributes(&mut self, attrs: &[ast::AttributeDef]) -> Arc<Schema> {
        let mut schema = Schema::default();
        for a in attrs {
            if schema.index_of(&a.name.name).is_some() {
                self.error(
                    a.name.span,
                    format!("attribute `{}` is defined twice", a.name.name),
                );
                continue;
            }
            schema.names.push(a.name.name.clone());
            schema.types.push(a.ty);
        }
        Arc::new(schema)
    }

    pub(crate) fn add_stream(
        &mut self,
        name: &str,
        schema: Arc<Schema>,
        origin: StreamOrigin,
        span: Span,
    ) -> StreamId {
        let id = self.streams.len() as StreamId;
        self.streams.push(StreamInfo {
            name: name.to_string(),
            schema,
            origin,
            span,
            partition: if origin == StreamOrigin::Inner {
                self.partition
            } else {
                None
            },
        });
        id
    }

    fn definition(&mut self, d: &Definition) {
        match d {
            Definition::Stream(s) => {
                let schema = self.attributes(&s.attributes);
                if let Some(prev) = self.namespace.get(&s.id.name)
                    && prev.kind == EntityKind::Stream
                {
                    // Siddhi allows redefining a stream with the very same attributes.
                    let (idx, pspan) = (prev.index, prev.span);
                    if *self.streams[idx as usize].schema != *schema {
                        let old = self.streams[idx as usize].schema.describe();
                        self.diags.push(
                            Diagnostic::validation(s.span, format!("stream `{}` is already defined as {old}, and cannot be redefined as {}", s.id.name, schema.describe()))
                                .with_label(pspan, "first defined here"),
                        );
                    }
                    return;
                }
                let id = self.streams.len() as u32;
                if self.declare_entity(&s.id, EntityKind::Stream, id) {
                    self.add_stream(&s.id.name, schema, StreamOrigin::Defined, s.span);
                    self.stream_annotations(&s.annotations, &s.id.name);
                }
            }
            Definition::Table(t) => {
                let schema = self.attributes(&t.attributes);
                let idx = self.tables.len() as u32;
                if self.declare_entity(&t.id, EntityKind::Table, idx) {
                    let primary_key = self.check_table_annotations(t, &schema);
                    let indexes = annotations::find_all(&t.annotations, "index")
                        .flat_map(|a| annotations::values(a))
                        .filter_map(|v| schema.index_of(v))
                        .collect();
                    let store = annotations::find(&t.annotations, "store").map(table_store);
                    self.tables.push(TableInfo {
                        name: t.id.name.clone(),
                        schema,
                        span: t.span,
                        primary_key,
                        indexes,
                        store,
                    });
                }
            }
            Definition::Window(w) => {
                let schema = self.attributes(&w.attributes);
                let idx = self.windows.len() as u32;
                if self.declare_entity(&w.id, EntityKind::Window, idx) {
                    let spec = input::check_window_definition(self, w, &schema);
                    let timer_template = spec
                        .as_ref()
                        .filter(|s| s.needs_timer())
                        .map(|_| self.next_timer_template());
                    let spec = spec.unwrap_or_else(|| Box::new(crate::window::NoWindow));
                    let output = w.output.unwrap_or(ast::OutputEventType::All);
                    self.windows.push(WindowPlan {
                        name: w.id.name.clone(),
                        schema,
                        spec,
                        output,
                        timer_template,
                    });
                }
            }
            Definition::Trigger(t) => {
                let schema = Arc::new(Schema::new([(
                    "triggered_time".to_string(),
                    AttrType::Long,
                )]));
                let id = self.streams.len() as u32;
                if self.declare_entity(&t.id, EntityKind::Stream, id) {
                    self.add_stream(&t.id.name, schema, StreamOrigin::Trigger, t.span);
                    self.trigger(t, id);
                }
            }
            Definition::Aggregation(a) => aggregation::aggregation_definition(self, a),
            Definition::Function(f) => {
                self.diags.push(
                    Diagnostic::unsupported(
                        f.span,
                        format!(
                            "script function `{}` in language `{}`: Spate does not run scripts",
                            f.name.name, f.language.name
                        ),
                    )
                    .with_help("write the logic with built-in functions and expressions"),
                );
            }
        }
    }

    fn stream_annotations(&mut self, anns: &[ast::Annotation], stream: &str) {
        for a in anns {
            let name = a.name.name.to_ascii_lowercase();
            match name.as_str() {
                "source" | "sink" => self.unsupported(a.span, format!("`@{}` on stream `{stream}` in this command (the server runs sources and sinks)", a.name.name)),
                "onerror" => {
                    let action = annotations::value(a, "action").unwrap_or("LOG").to_ascii_uppercase();
                    if !matches!(action.as_str(), "LOG" | "STREAM") {
                        self.error(a.span, format!("`@OnError` action must be LOG or STREAM, but found `{action}`"));
                    } else if action == "STREAM" {
                        self.unsupported(a.span, "fault streams (`@OnError(action='STREAM')`)");
                    }
                }
                _ => {}
            }
        }
    }

    /// Checks `@primaryKey` / `@index` and returns the primary key positions.
    fn check_table_annotations(
        &mut self,
        t: &ast::TableDef,
        schema: &Schema,
    ) -> Option<Vec<usize>> {
        for key in ["primaryKey", "index"] {
            for a in annotations::find_all(&t.annotations, key) {
                for v in annotations::values(a) {
                    if schema.index_of(v).is_none() {
                        self.error(
                            a.span,
                            format!(
                                "`@{key}('{v}')`: table `{}` has no attribute `{v}`",
                                t.id.name
                            ),
                        );
                    }
                }
            }
        }
        if let Some(store) = annotations::find(&t.annotations, "store")
            && annotations::value(store, "type").is_none()
        {
            self.error(
                store.span,
                format!(
                    "`@store` on table `{}` needs a type, e.g. @store(type='rdbms', datasource='MY_DB')",
                    t.id.name
                ),
            );
        }
        let pk = annotations::find(&t.annotations, "primaryKey")?;
        let cols: Vec<usize> = annotations::values(pk)
            .iter()
            .filter_map(|v| schema.index_of(v))
            .collect();
        (!cols.is_empty()).then_some(cols)
    }

    /// Resolves an `insert into` target, defining it from the query's output if new.
    pub(crate) fn output_stream(
        &mut self,
        target: &ast::Source,
        schema: Arc<Schema>,
    ) -> Option<OutputTarget> {
        let name = &target.id.name;
        match target.kind {
            ast::SourceKind::Inner => {
                let Some(part) = self.partition else {
                    self.error(
                        target.span,
                        format!("inner stream `#{name}` can only be used inside a partition"),
                    );
                    return None;
                };
                let key = format!("#{part}#{name}");
                return self.output_to(&key, name, target.span, schema, StreamOrigin::Inner);
            }
            ast::SourceKind::Fault => {
                self.error(
                    target.span,
                    format!("cannot insert into the fault stream `!{name}`"),
                );
                return None;
            }
            ast::SourceKind::Normal => {}
        }
        self.output_to(name, name, target.span, schema, StreamOrigin::Inferred)
    }

    fn output_to(
        &mut self,
        key: &str,
        name: &str,
        span: Span,
        schema: Arc<Schema>,
        origin: StreamOrigin,
    ) -> Option<OutputTarget> {
        match self.namespace.get(key).cloned() {
            None => {
                let id = self.streams.len() as StreamId;
                self.namespace.insert(
                    key,
                    Entry {
                        kind: EntityKind::Stream,
                        index: id,
                        span,
                    },
                );
                self.add_stream(name, schema, origin, span);
                Some(OutputTarget::Stream(id))
            }
            Some(Entry {
                kind: EntityKind::Stream,
                index,
                span: def_span,
            }) => {
                let existing = self.streams[index as usize].schema.clone();
                if *existing != *schema {
                    self.diags.push(
                        Diagnostic::validation(span, format!(
                            "the query outputs {} but stream `{name}` is {}; names, types and order must match",
                            schema.describe(),
                            existing.describe()
                        ))
                        .with_label(def_span, "defined here"),
                    );
                    return None;
                }
                Some(OutputTarget::Stream(index))
            }
            Some(Entry {
                kind: EntityKind::Table,
                index,
                ..
            }) => {
                let t = &self.tables[index as usize];
                if *t.schema != *schema {
                    let msg = format!(
                        "the query outputs {} but table `{name}` is {}; names, types and order must match",
                        schema.describe(),
                        t.schema.describe()
                    );
                    self.error(span, msg);
                    return None;
                }
                Some(OutputTarget::Table(index))
            }
            Some(Entry {
                kind: EntityKind::Window,
                index,
                ..
            }) => {
                let w = self.windows[index as usize].schema.clone();
                if w.types != schema.types {
                    self.error(
                        span,
                        format!(
                            "the query outputs {} but window `{name}` is {}",
                            schema.describe(),
                            w.describe()
                        ),
                    );
                    return None;
                }
                Some(OutputTarget::Window(index))
            }
            Some(Entry { kind, .. }) => {
                self.error(span, format!("cannot insert into `{name}`: it is a {kind}"));
                None
            }
        }
    }

    fn partition(&mut self, p: &ast::Partition) {
        let index = self.partition_count;
        self.partition_count += 1;
        let keyed = self.partition_keys(p);
        let outer = self.partition.replace(index);
        let first = self.queries.len();
        for q in &p.queries {
            self.query(q);
        }
        self.partition = outer;
        let purge = self.partition_purge(&p.annotations);
        self.partitions.push(PartitionPlan {
            queries: (first..self.queries.len()).collect(),
            keyed,
            purge,
        });
    }
}

/// Reads `@store(type='rdbms', k='v', ...)`.
fn table_store(a: &ast::Annotation) -> TableStore {
    let options = a
        .items
        .iter()
        .filter_map(|i| match i {
            ast::AnnotationItem::Element(e) => e
                .key
                .as_ref()
                .map(|k| (k.name.clone(), e.value.value.clone())),
            ast::AnnotationItem::Annotation(_) => None,
        })
        .filter(|(k, _)| !k.eq_ignore_ascii_case("type"))
        .collect();
    TableStore {
        kind: annotations::value(a, "type")
            .unwrap_or_default()
            .to_string(),
        options,
        span: a.span,
    }
}
