//! Compiling queries: the input (source, filters, stream functions, window), the selector and
//! the output, with the output stream's schema inferred or checked.

use std::cell::RefCell;
use std::sync::Arc;

use spate_ql::ast::{self, OutputEventType, QueryInput, QueryOutput, StreamHandler};
use spate_ql::{Diagnostic, Span};

use super::expr::{AggSink, ExprCompiler, IndexedRefs, Scope, ScopeSlot};
use super::schema::{EntityKind, Schema, StreamId, StreamOrigin};
use super::{Planner, annotations};
use crate::aggregate::{AggregatorContext, ProcessingMode};
use crate::compiled::Compiled;
use crate::expr::Expr;
use crate::query::selector::{RowLayout, SelectorPlan, SlotLayout};
use crate::ratelimit::{RateKind, RatePlan, RateSpec};
use crate::stream_fn::{self, FnArg, StreamFunction};
use crate::table::ops::TableOp;
use crate::value::{AttrType, Value};
use crate::window::{self, WindowArg, WindowCompileCtx, WindowInput, WindowSpec};

/// One step between the source and the selector.
#[derive(Debug)]
pub enum StagePlan {
    Filter(Compiled),
    /// A stream function appending attributes (`arity_in` -> `arity_out`).
    Function {
        function: Box<dyn StreamFunction>,
        arity_out: usize,
    },
    Window {
        spec: Box<dyn WindowSpec>,
        timer_template: Option<u32>,
    },
}

/// Where a query's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputTarget {
    Stream(StreamId),
    /// A table: the output plan's `table_op` says what to do.
    Table(u32),
    /// A named window.
    Window(u32),
    /// `return` at top level: nothing receives it.
    Discard,
}

#[derive(Debug)]
pub struct OutputPlan {
    pub target: OutputTarget,
    pub event_type: OutputEventType,
    /// For table targets: insert, delete, update or update-or-insert.
    pub table_op: Option<TableOp>,
}

/// Where the events of a query input come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputSource {
    Stream(StreamId),
    /// A named window (`define window`): its output events.
    Window(u32),
    /// A table (join sides only): never sends events, only looked up.
    Table(u32),
    /// An incremental aggregation (join sides only): read with `within` and `per`.
    Aggregation(u32),
}

/// One input of a query: the source and the stages before the selector (or the join).
#[derive(Debug)]
pub struct SinglePlan {
    pub source: InputSource,
    /// Width of the rows the source sends.
    pub arity: usize,
    pub stages: Vec<StagePlan>,
}

impl SinglePlan {
    /// Width of the rows after the stages (stream functions append attributes).
    pub fn out_arity(&self) -> usize {
        self.stages.iter().fold(self.arity, |a, s| match s {
            StagePlan::Function { arity_out, .. } => *arity_out,
            _ => a,
        })
    }
}

/// One side of a join.
#[derive(Debug)]
pub struct JoinSide {
    pub input: SinglePlan,
    /// Arrivals on this side look up the other side (not for tables, nor for the side
    /// opposite `unidirectional`).
    pub triggers: bool,
    /// An arrival with no match is emitted with the other side absent (outer join).
    pub outer: bool,
}

/// `from A ... join B ... on cond`.
#[derive(Debug)]
pub struct JoinPlan {
    pub sides: [JoinSide; 2],
    /// Over rows `[left, right]`; no condition matches everything.
    pub on: Option<Compiled>,
    /// A string equality in `on` that lookups check first, and the rest of `on`.
    pub key: Option<super::join_key::JoinKey>,
    /// `on` is exactly the primary key equality of the table side: the value to look up
    /// (over `[left, right]`, not reading the table; see [`crate::table::key_lookup`]).
    pub table_key: Option<Compiled>,
    /// Evaluating `on` cannot fail in this app (no value anywhere is relabelled by `cast`):
    /// a lookup whose result nobody sees can be left out.
    pub on_infallible: bool,
    /// The other side is an aggregation: how to read it.
    pub aggregation: Option<crate::aggregation::WithinPer>,
}

#[derive(Debug)]
pub enum InputPlan {
    Single(SinglePlan),
    Pattern(Box<super::pattern::PatternPlan>),
    Join(Box<JoinPlan>),
}

/// A compiled query.
#[derive(Debug)]
pub struct QueryPlan {
    pub name: String,
    /// Stable identity for snapshots (position in the app).
    pub element_id: String,
    pub input: InputPlan,
    pub selector: SelectorPlan,
    pub output: OutputPlan,
    /// Partition the query belongs to.
    pub partition: Option<u32>,
    /// Only filters and a plain projection: the runtime can take its direct path.
    pub direct: bool,
    /// `output ... every ...`.
    pub rate: Option<RatePlan>,
}

/// The resolved input of a query: its scope and, for single streams, the compiled stages.
pub(crate) struct ResolvedInput {
    pub slots: Vec<(Vec<String>, Arc<Schema>, String)>,
    /// The runnable form, when this build can run it.
    pub plan: Option<InputPlan>,
    pub mode: ProcessingMode,
    /// A pattern's indexed event references, filled while its filters and selector compile.
    pub indexed: Option<RefCell<IndexedRefs>>,
}

impl ResolvedInput {
    pub fn scope(&self) -> Scope<'_> {
        Scope {
            slots: self
                .slots
                .iter()
                .map(|(names, schema, label)| ScopeSlot {
                    names: names.clone(),
                    schema,
                    label: label.clone(),
                })
                .collect(),
            current: None,
            indexed: self.indexed.as_ref(),
            prefer: None,
        }
    }
}

impl Planner {
    pub(crate) fn query(&mut self, q: &ast::Query) {
        let index = self.query_count;
        self.query_count += 1;
        let name = annotations::query_name(&q.annotations)
            .map_or_else(|| format!("query{}", index + 1), str::to_string);
        // Unwritten, the event type is `current`, except under `output snapshot`, where Siddhi's
        // query API makes it `all` (only an explicit other type is then refused).
        let default_type = match q.output_rate {
            Some(ast::OutputRate::Snapshot { .. }) => OutputEventType::All,
            _ => OutputEventType::Current,
        };
        let event_type = match &q.output {
            QueryOutput::Insert { event_type, .. } | QueryOutput::Return { event_type, .. } => {
                event_type.unwrap_or(default_type)
            }
            QueryOutput::Delete { for_type, .. }
            | QueryOutput::Update { for_type, .. }
            | QueryOutput::UpdateOrInsert { for_type, .. } => for_type.unwrap_or(default_type),
        };
        let expects_expired = matches!(event_type, OutputEventType::Expired | OutputEventType::All);
        let selected = q.selector.as_ref().and_then(|s| s.attributes.as_deref());
        let Some(input) = self.query_input(&q.input, expects_expired, selected) else {
            return;
        };
        let cx = AggregatorContext {
            mode: input.mode,
            output_expects_expired: expects_expired,
        };
        let scope = input.scope();
        let current_on = matches!(event_type, OutputEventType::Current | OutputEventType::All);
        let Some((selector, out_schema)) = self.selector(
            q.selector.as_ref(),
            &scope,
            cx,
            current_on,
            expects_expired,
            q.span,
        ) else {
            return;
        };
        let out_schema = Arc::new(out_schema);
        let target = match &q.output {
            QueryOutput::Insert { target, .. } => {
                self.output_stream(target, out_schema.clone()).map(|t| {
                    let op = matches!(t, OutputTarget::Table(_)).then_some(TableOp::Insert);
                    (t, op)
                })
            }
            QueryOutput::Return { .. } => Some((OutputTarget::Discard, None)),
            _ => self
                .table_output(&q.output, &out_schema)
                .map(|(t, op)| (t, Some(op))),
        };
        let Some((target, table_op)) = target else {
            return;
        };
        let mut selector = selector;
        let rate = match &q.output_rate {
            None => None,
            Some(r) => {
                let Some(rate) = self.output_rate(r, &selector, event_type, input.plan.as_ref())
                else {
                    return;
                };
                rate.configure(&mut selector);
                Some(rate)
            }
        };
        drop(scope);
        let mut input_plan = input.plan;
        if let (Some(InputPlan::Pattern(pp)), Some(reg)) = (&mut input_plan, input.indexed) {
            pp.indexed = reg.into_inner().refs;
        }
        let Some(input_plan) = input_plan else {
            return;
        };
        let direct = rate.is_none()
            && matches!(&input_plan, InputPlan::Single(s)
                if s.stages.iter().all(|s| matches!(s, StagePlan::Filter(_))))
            && selector.aggregators.is_empty()
            && selector.group_by.is_empty()
            && selector.having.is_none()
            && selector.order_by.is_empty()
            && selector.limit.is_none()
            && selector.offset.is_none();
        self.queries.push(QueryPlan {
            rate,
            direct,
            name,
            element_id: format!("query:{index}"),
            input: input_plan,
            selector,
            output: OutputPlan {
                target,
                event_type,
                table_op,
            },
            partition: self.partition,
        });
    }

    /// `output [all|first|last] every ...` / `output snapshot every ...`.
    fn output_rate(
        &mut self,
        r: &ast::OutputRate,
        selector: &SelectorPlan,
        event_type: OutputEventType,
        input: Option<&InputPlan>,
    ) -> Option<RatePlan> {
        let kind = |t: Option<ast::OutputRateType>| match t {
            None | Some(ast::OutputRateType::All) => RateKind::All,
            Some(ast::OutputRateType::First) => RateKind::First,
            Some(ast::OutputRateType::Last) => RateKind::Last,
        };
        let (spec, span) = match r {
            ast::OutputRate::Events {
                rate_type,
                count,
                span,
            } => {
                if *count <= 0 {
                    self.error(
                        *span,
                        format!("`output every {count} events` needs a positive count"),
                    );
                    return None;
                }
                (
                    RateSpec::Events {
                        kind: kind(*rate_type),
                        count: *count as u64,
                    },
                    *span,
                )
            }
            ast::OutputRate::Time {
                rate_type,
                time,
                span,
            } => (
                RateSpec::Time {
                    kind: kind(*rate_type),
                    millis: time.millis,
                },
                *span,
            ),
            ast::OutputRate::Snapshot { time, span } => {
                if event_type != OutputEventType::All {
                    self.diags.push(
                        Diagnostic::validation(
                            *span,
                            "a query with `output snapshot` must insert all events",
                        )
                        .with_help("write `insert all events into ...`"),
                    );
                    return None;
                }
                let windowed = match input {
                    Some(InputPlan::Single(s)) => s
                        .stages
                        .iter()
                        .any(|s| matches!(s, StagePlan::Window { .. })),
                    _ => true,
                };
                let aggregate_outputs = selector
                    .outputs
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| matches!(e.ir, Expr::Agg { .. }))
                    .map(|(i, _)| i)
                    .collect();
                (
                    RateSpec::Snapshot {
                        millis: time.millis,
                        windowed,
                        aggregate_outputs,
                    },
                    *span,
                )
            }
        };
        if let RateSpec::Time { millis, .. } | RateSpec::Snapshot { millis, .. } = &spec
            && *millis <= 0
        {
            self.error(span, "an output rate period must be positive");
            return None;
        }
        let grouped = !selector.group_by.is_empty();
        let key_arity = match &spec {
            RateSpec::Events {
                kind: RateKind::All,
                ..
            }
            | RateSpec::Time {
                kind: RateKind::All,
                ..
            } => 0,
            _ if grouped => selector.group_by.len(),
            _ => 0,
        };
        let timer_template = RatePlan::needs_timer(&spec).then(|| self.next_timer_template());
        Some(RatePlan {
            spec,
            arity: selector.outputs.len(),
            key_arity,
            timer_template,
        })
    }

    fn query_input(
        &mut self,
        input: &QueryInput,
        expects_expired: bool,
        selected: Option<&[ast::OutputAttribute]>,
    ) -> Option<ResolvedInput> {
        match input {
            QueryInput::Stream(s) => {
                self.single_stream_in(s, expects_expired, false, Some(selected))
            }
            QueryInput::Join(j) => super::input::join(self, j, expects_expired),
            QueryInput::Pattern(p) => super::pattern::pattern(self, p, false),
            QueryInput::Sequence(p) => super::pattern::pattern(self, p, true),
            QueryInput::Anonymous(a) => {
                self.unsupported(a.span, "anonymous inner queries (`from (from ... return)`)");
                None
            }
        }
    }

    /// The schema of a source that can be read as a stream.
    pub(crate) fn source_schema(
        &mut self,
        source: &ast::Source,
    ) -> Option<(Option<InputSource>, Arc<Schema>)> {
        let name = &source.id.name;
        match source.kind {
            ast::SourceKind::Inner => {
                let Some(part) = self.partition else {
                    self.error(
                        source.span,
                        format!("inner stream `#{name}` can only be used inside a partition"),
                    );
                    return None;
                };
                match self.namespace.get(&format!("#{part}#{name}")) {
                    Some(e) => {
                        let id = e.index;
                        Some((
                            Some(InputSource::Stream(id)),
                            self.streams[id as usize].schema.clone(),
                        ))
                    }
                    None => {
                        self.error(source.span, format!("inner stream `#{name}` is not defined in this partition (an `insert into #{name}` must come first)"));
                        None
                    }
                }
            }
            ast::SourceKind::Fault => {
                match self.namespace.get(name) {
                    Some(e) if e.kind == EntityKind::Stream => {
                        let base = self.streams[e.index as usize].schema.clone();
                        let mut schema = (*base).clone();
                        schema.names.push("_error".into());
                        schema.types.push(AttrType::Object);
                        self.unsupported(source.span, "fault streams (`!S`)");
                        Some((None, Arc::new(schema)))
                    }
                    _ => {
                        self.error(source.span, format!("stream `{name}` is not defined, so it has no fault stream `!{name}`"));
                        None
                    }
                }
            }
            ast::SourceKind::Normal => match self.namespace.get(name) {
                Some(e) => match e.kind {
                    EntityKind::Stream | EntityKind::Trigger => {
                        let id = e.index;
                        Some((
                            Some(InputSource::Stream(id)),
                            self.streams[id as usize].schema.clone(),
                        ))
                    }
                    EntityKind::Window => {
                        let w = e.index;
                        Some((
                            Some(InputSource::Window(w)),
                            self.windows[w as usize].schema.clone(),
                        ))
                    }
                    EntityKind::Table => {
                        self.diags.push(
                            Diagnostic::validation(source.span, format!("table `{name}` cannot be read as a stream"))
                                .with_help(format!("join it (`from S join {name} on ...`) or test membership with `in {name}`")),
                        );
                        None
                    }
                    EntityKind::Aggregation => {
                        self.diags.push(
                            Diagnostic::validation(source.span, format!("aggregation `{name}` cannot be read as a stream"))
                                .with_help(format!("join it with `within` and `per`: `from S join {name} on ... within ... per ...`")),
                        );
                        None
                    }
                },
                None => {
                    let mut d = Diagnostic::validation(
                        source.id.span,
                        format!("stream `{name}` is not defined"),
                    );
                    if let Some(close) = self.similar_name(name) {
                        d = d.with_help(format!("did you mean `{close}`?"));
                    } else {
                        d = d.with_help(format!("define it (`define stream {name} (...)`) before the first query that reads it"));
                    }
                    self.diags.push(d);
                    None
                }
            },
        }
    }

    fn similar_name(&self, name: &str) -> Option<String> {
        self.streams
            .iter()
            .filter(|s| s.origin != StreamOrigin::Inner)
            .map(|s| s.name.clone())
            .find(|n| n.eq_ignore_ascii_case(name))
    }

    /// A plain stream input with its filters, stream functions and window.
    pub(crate) fn single_stream(
        &mut self,
        s: &ast::StandardStream,
        expects_expired: bool,
        find: bool,
    ) -> Option<ResolvedInput> {
        self.single_stream_in(s, expects_expired, find, None)
    }

    /// [`Planner::single_stream`], knowing the query's output attributes when `selected` is
    /// given (`Some(None)` for `select *`): some windows depend on them.
    fn single_stream_in(
        &mut self,
        s: &ast::StandardStream,
        expects_expired: bool,
        find: bool,
        selected: Option<Option<&[ast::OutputAttribute]>>,
    ) -> Option<ResolvedInput> {
        let (id, base) = self.source_schema(&s.source)?;
        if matches!(id, Some(InputSource::Window(_)))
            && let Some(w) = s.handlers.iter().find_map(|h| match h {
                StreamHandler::Window(w) => Some(w),
                _ => None,
            })
        {
            self.error(
                w.span,
                format!(
                    "window `{}` cannot have another window (`#window.{}`); read it as it is",
                    s.source.id.name, w.name.name
                ),
            );
            return None;
        }
        self.single_stream_from(s, id, base, expects_expired, find, selected)
    }

    /// [`Planner::single_stream`] over a resolved source.
    pub(crate) fn single_stream_from(
        &mut self,
        s: &ast::StandardStream,
        id: Option<InputSource>,
        base: Arc<Schema>,
        expects_expired: bool,
        find: bool,
        selected: Option<Option<&[ast::OutputAttribute]>>,
    ) -> Option<ResolvedInput> {
        let mut attrs: Vec<(String, AttrType)> = base
            .names
            .iter()
            .cloned()
            .zip(base.types.iter().copied())
            .collect();
        let mut stages = Vec::new();
        let mut mode = ProcessingMode::Batch;
        let mut windows = 0;
        let label = format!("`{}`", s.source.id.name);
        for h in &s.handlers {
            let schema = Schema::new(attrs.clone());
            let scope = Scope {
                slots: vec![ScopeSlot {
                    names: vec![s.source.id.name.clone()],
                    schema: &schema,
                    label: label.clone(),
                }],
                current: None,
                indexed: None,
                prefer: None,
            };
            let tables = self.tables.clone();
            let mut diags = Vec::new();
            let mut c = ExprCompiler::new(&scope, &mut diags).with_tables(&tables);
            match h {
                StreamHandler::Filter(f) => {
                    if let Some(e) = c.condition(&f.condition, "a filter") {
                        stages.push(StagePlan::Filter(Compiled::new(e)));
                    }
                    if let Some((span, what)) = c.unsupported.take() {
                        self.unsupported(span, what);
                    }
                }
                StreamHandler::Function(call) => {
                    let args = compile_args(&mut c, &call.args);
                    let Some(args) = args else {
                        drop(c);
                        self.diags.extend(diags);
                        continue;
                    };
                    if call.namespace.is_some() {
                        c.diags.push(Diagnostic::validation(
                            call.span,
                            format!(
                                "stream function `{}:{}` is not available",
                                call.namespace.as_ref().map_or("", |n| n.name.as_str()),
                                call.name.name
                            ),
                        ));
                    } else if let Some(f) = stream_fn::find(&call.name.name) {
                        let fn_args = args
                            .into_iter()
                            .map(|(expr, ty)| FnArg { expr, ty })
                            .collect();
                        match f.compile(fn_args, &attrs) {
                            Ok((function, added)) => {
                                attrs.extend(added);
                                stages.push(StagePlan::Function {
                                    function,
                                    arity_out: attrs.len(),
                                });
                            }
                            Err(msg) => c.diags.push(Diagnostic::validation(call.span, msg)),
                        }
                    } else {
                        c.diags.push(Diagnostic::validation(
                            call.name.span,
                            format!("`{}` is not a stream function", call.name.name),
                        ));
                    }
                }
                StreamHandler::Window(call) => {
                    windows += 1;
                    if windows > 1 {
                        c.diags.push(Diagnostic::validation(
                            call.span,
                            "a stream can have only one window",
                        ));
                    }
                    let args = compile_args(&mut c, &call.args);
                    let Some(args) = args else {
                        drop(c);
                        self.diags.extend(diags);
                        continue;
                    };
                    let name = &call.name.name;
                    match window::find(name).filter(|_| call.namespace.is_none()) {
                        Some(f) => {
                            let wargs = args
                                .into_iter()
                                .map(|(expr, ty)| WindowArg { expr, ty })
                                .collect();
                            let cx = WindowCompileCtx {
                                arity: attrs.len(),
                                output_expects_expired: expects_expired,
                                find_to_be_executed: find,
                            };
                            let layout = selected.map(|sel| output_data(sel, &schema, s));
                            let input = WindowInput {
                                stream: &s.source.id.name,
                                schema: &schema,
                                output_data: layout.as_deref(),
                            };
                            match f.compile_in(wargs, cx, input) {
                                Ok(spec) => {
                                    mode = mode.combine(spec.mode());
                                    let timer_template =
                                        spec.needs_timer().then(|| self.next_timer_template());
                                    stages.push(StagePlan::Window {
                                        spec,
                                        timer_template,
                                    });
                                }
                                Err(msg) => c.diags.push(Diagnostic::validation(call.span, msg)),
                            }
                        }
                        None if KNOWN_WINDOWS.contains(&name.as_str())
                            && call.namespace.is_none() =>
                        {
                            self.unsupported(call.span, format!("`{name}` windows"));
                        }
                        None => c.diags.push(Diagnostic::validation(
                            call.name.span,
                            format!(
                                "`{name}` is not a window; known windows: {}",
                                KNOWN_WINDOWS.join(", ")
                            ),
                        )),
                    }
                }
            }
            self.diags.extend(diags);
        }
        let schema = Arc::new(Schema::new(attrs));
        let arity = base.len();
        Some(ResolvedInput {
            slots: vec![(vec![s.source.id.name.clone()], schema, label)],
            plan: id.map(|source| {
                InputPlan::Single(SinglePlan {
                    source,
                    arity,
                    stages,
                })
            }),
            mode,
            indexed: None,
        })
    }

    /// Compiles the selector; returns it with the output schema.
    pub(super) fn selector(
        &mut self,
        sel: Option<&ast::Selector>,
        scope: &Scope<'_>,
        cx: AggregatorContext,
        current_on: bool,
        expired_on: bool,
        query_span: Span,
    ) -> Option<(SelectorPlan, Schema)> {
        let tables = self.tables.clone();
        let mut diags = Vec::new();
        let mut specs = Vec::new();
        let mut outputs = Vec::new();
        let mut out_schema = Schema::default();
        let mut ok = true;
        let attrs = sel.and_then(|s| s.attributes.as_ref());
        match attrs {
            None => {
                // `select *` (or no select): every input attribute, in slot order.
                for (slot, s) in scope.slots.iter().enumerate() {
                    for (i, (n, t)) in s.schema.names.iter().zip(&s.schema.types).enumerate() {
                        if out_schema.index_of(n).is_some() {
                            diags.push(Diagnostic::validation(sel.map_or(query_span, |s| s.span), format!("`select *` would output attribute `{n}` twice; select the attributes explicitly")));
                            ok = false;
                            continue;
                        }
                        out_schema.names.push(n.clone());
                        out_schema.types.push(*t);
                        outputs.push(Compiled::new(Expr::Attr {
                            slot: slot as u16,
                            idx: i as u16,
                        }));
                    }
                }
            }
            Some(list) => {
                for oa in list {
                    let name = match (&oa.alias, &oa.expr) {
                        (Some(alias), _) => alias.name.clone(),
                        (None, ast::Expr::Attribute(a)) => a.name.name.clone(),
                        (None, other) => {
                            diags.push(
                                Diagnostic::validation(
                                    other.span(),
                                    "a computed attribute needs a name",
                                )
                                .with_help("add `as <name>`"),
                            );
                            ok = false;
                            continue;
                        }
                    };
                    let mut c = ExprCompiler::new(scope, &mut diags).with_tables(&tables);
                    c.aggs = Some(AggSink {
                        specs: &mut specs,
                        cx,
                    });
                    let compiled = c.compile(&oa.expr);
                    if let Some((span, what)) = c.unsupported.take() {
                        self.unsupported(span, what);
                    }
                    let Some((e, ty)) = compiled else {
                        ok = false;
                        continue;
                    };
                    if out_schema.index_of(&name).is_some() {
                        diags.push(Diagnostic::validation(
                            oa.span,
                            format!(
                                "output attribute `{name}` is selected twice; rename one with `as`"
                            ),
                        ));
                        ok = false;
                        continue;
                    }
                    out_schema.names.push(name);
                    out_schema.types.push(ty);
                    outputs.push(Compiled::new(e));
                }
            }
        }
        let mut group_by = Vec::new();
        let mut having = None;
        let having_inputs = scope.slots.len() > 1 || scope.indexed.is_some();
        let mut order_by = Vec::new();
        let (mut limit, mut offset) = (None, None);
        if let Some(s) = sel {
            for g in &s.group_by {
                let mut c = ExprCompiler::new(scope, &mut diags);
                match c.compile(&ast::Expr::Attribute(g.clone())) {
                    Some((e, _)) => group_by.push(Compiled::new(e)),
                    None => ok = false,
                }
            }
            // `having` reads the output; in joins and patterns, names the output lacks
            // resolve in the inputs (Siddhi's having state).
            let empty = Schema::default();
            let mut out_scope = Scope {
                slots: Vec::new(),
                current: None,
                indexed: None,
                prefer: None,
            };
            if having_inputs {
                out_scope = scope.clone();
                if scope.indexed.is_some() {
                    out_scope.slots.push(ScopeSlot {
                        names: vec![],
                        schema: &empty,
                        label: "indexed references".into(),
                    });
                }
                out_scope.prefer = Some(out_scope.slots.len());
            }
            out_scope.slots.push(ScopeSlot {
                names: vec![],
                schema: &out_schema,
                label: "the query output".into(),
            });
            if let Some(h) = &s.having {
                let mut c = ExprCompiler::new(&out_scope, &mut diags).with_tables(&tables);
                c.aggs = Some(AggSink {
                    specs: &mut specs,
                    cx,
                });
                match c.condition(h, "`having`") {
                    Some(e) => having = Some(Compiled::new(e)),
                    None => ok = false,
                }
            }
            for o in &s.order_by {
                match out_schema.index_of(&o.attribute.name.name) {
                    Some(i) => order_by.push((i, o.order == Some(ast::Order::Desc))),
                    None => {
                        diags.push(
                            Diagnostic::validation(
                                o.attribute.span,
                                format!(
                                    "cannot order by `{}`: it is not an output attribute",
                                    o.attribute.name.name
                                ),
                            )
                            .with_help(format!("the query outputs {}", out_schema.describe())),
                        );
                        ok = false;
                    }
                }
            }
            limit = s
                .limit
                .as_ref()
                .and_then(|e| constant_count(e, "limit", &mut diags));
            offset = s
                .offset
                .as_ref()
                .and_then(|e| constant_count(e, "offset", &mut diags));
            if (s.limit.is_some() && limit.is_none()) || (s.offset.is_some() && offset.is_none()) {
                ok = false;
            }
        }
        self.diags.extend(diags);
        if !ok {
            return None;
        }
        let contains_aggregator = !specs.is_empty();
        Some((
            SelectorPlan {
                outputs,
                output_types: out_schema.types.clone(),
                aggregators: specs,
                group_by,
                having,
                order_by,
                limit,
                offset,
                current_on,
                expired_on,
                contains_aggregator,
                batching_enabled: true,
                emit_keys: false,
                layout: layout_of(scope),
                having_inputs,
                keep_resets: false,
            },
            out_schema,
        ))
    }
}

/// Input rows of a selector: the slots side by side, then a presence flag per slot when
/// there are several (a join side or pattern state may hold no event).
pub(crate) fn layout_of(scope: &Scope<'_>) -> RowLayout {
    let extras = scope.indexed.map_or(0, |r| r.borrow().refs.len());
    if let [only] = scope.slots.as_slice()
        && scope.indexed.is_none()
    {
        return RowLayout::single(only.schema.len());
    }
    let data: usize = scope.slots.iter().map(|s| s.schema.len()).sum();
    let total = data + extras;
    let mut start = 0;
    let mut slots: Vec<SlotLayout> = scope
        .slots
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let slot = SlotLayout {
                start,
                len: s.schema.len(),
                presence: Some(total + k),
            };
            start += s.schema.len();
            slot
        })
        .collect();
    if scope.indexed.is_some() {
        // A pattern's indexed references (`e1[1].x`), always present.
        slots.push(SlotLayout {
            start: data,
            len: extras,
            presence: None,
        });
    }
    RowLayout(slots)
}

/// Siddhi's `outputData` layout of a single-stream query's events: per selected output, the
/// input attribute it copies when it is a plain attribute (of this stream), else `None`.
fn output_data(
    selected: Option<&[ast::OutputAttribute]>,
    schema: &Schema,
    s: &ast::StandardStream,
) -> Vec<Option<usize>> {
    match selected {
        None => (0..schema.len()).map(Some).collect(),
        Some(list) => list
            .iter()
            .map(|oa| match &oa.expr {
                ast::Expr::Attribute(a)
                    if a.qualifier
                        .as_ref()
                        .is_none_or(|q| q.name.name == s.source.id.name) =>
                {
                    schema.index_of(&a.name.name)
                }
                _ => None,
            })
            .collect(),
    }
}

/// Windows Siddhi 5.1.7 has (valid names).
const KNOWN_WINDOWS: &[&str] = &[
    "length",
    "lengthBatch",
    "time",
    "timeBatch",
    "timeLength",
    "externalTime",
    "externalTimeBatch",
    "sort",
    "frequent",
    "lossyFrequent",
    "cron",
    "session",
    "delay",
    "batch",
    "expression",
    "expressionBatch",
];

fn compile_args(c: &mut ExprCompiler<'_, '_>, args: &[ast::Expr]) -> Option<Vec<(Expr, AttrType)>> {
    let mut out = Vec::with_capacity(args.len());
    let mut ok = true;
    for a in args {
        match c.compile(a) {
            Some(t) => out.push(t),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `limit 5` / `offset 2`: a non-negative int or long constant.
fn constant_count(e: &ast::Expr, what: &str, diags: &mut Vec<Diagnostic>) -> Option<u64> {
    let v = match e {
        ast::Expr::Literal(lit, _) => super::expr::literal(lit).0,
        _ => Expr::Const(Value::Null),
    };
    match v.as_const().and_then(|v| match v {
        Value::Int(i) => Some(*i as i64),
        Value::Long(l) => Some(*l),
        _ => None,
    }) {
        Some(n) if n >= 0 => Some(n as u64),
        Some(n) => {
            diags.push(Diagnostic::validation(
                e.span(),
                format!("`{what}` cannot be negative, but found {n}"),
            ));
            None
        }
        None => {
            diags.push(Diagnostic::validation(
                e.span(),
                format!("`{what}` must be an int or long constant"),
            ));
            None
        }
    }
}
