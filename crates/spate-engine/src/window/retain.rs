//! The retain expression of the `expression` and `expressionBatch` windows (added to Siddhi
//! after 5.1.7, implemented from its later source): SiddhiQL text over the window, compiled
//! as Siddhi compiles it — over three events: the event being added or removed (plain
//! attributes, or qualified with the stream name), `first` (the oldest held) and `last`
//! (the newest). Aggregates (`count()`, `sum(price)`) run over the window: adding an event
//! evaluates the expression as a current event, removing one as an expired event, in
//! sliding mode.
//!
//! `eventTimestamp(first)` / `eventTimestamp(last)` read those events' timestamps (compiled
//! to a hidden attribute appended to every row); `eventTimestamp()` is -1, the timestamp of
//! the state event Siddhi evaluates (kept on purpose). Limits: no `in Table`, no indexed
//! references; anything the selector cannot compile is rejected here too.

use std::sync::Arc;

use spate_ql::ast::{self, SourceKind};

use super::{WindowArg, WindowInput};
use crate::aggregate::{AggregatorContext, AggregatorState, ProcessingMode};
use crate::event::EventKind;
use crate::expr::{EvalCtx, Expr};
use crate::plan::Schema;
use crate::plan::expr::{AggSink, ExprCompiler, Scope, ScopeSlot};
use crate::query::selector::AggSpec;
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

/// The hidden attribute holding an event's timestamp (a name SiddhiQL cannot write).
const TS_ATTR: &str = "eventTimestamp()";

/// What a retain expression may refer to.
#[derive(Debug, Clone)]
pub(super) struct RetainInput {
    stream: String,
    /// The stream's attributes plus the hidden timestamp.
    schema: Schema,
}

impl RetainInput {
    pub fn new(stream: &str, schema: &Schema) -> RetainInput {
        let mut schema = schema.clone();
        schema.names.push(TS_ATTR.to_string());
        schema.types.push(AttrType::Long);
        RetainInput {
            stream: stream.to_string(),
            schema,
        }
    }
}

/// A compiled retain expression.
#[derive(Debug)]
pub(super) struct RetainExpr {
    text: String,
    expr: Expr,
    aggs: Vec<AggSpec>,
}

impl RetainExpr {
    pub fn compile(window: &str, text: &str, input: &RetainInput) -> Result<RetainExpr, String> {
        let fail = |msg: String| format!("{window} window's expression '{text}': {msg}");
        let mut ast = spate_ql::parse_expression(text).map_err(|d| {
            fail(
                d.into_iter()
                    .map(|d| d.message)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        rewrite(&mut ast, input);
        let slot = |name: &str| ScopeSlot {
            names: vec![name.to_string()],
            schema: &input.schema,
            label: format!("`{name}`"),
        };
        let scope = Scope {
            slots: vec![slot(&input.stream), slot("first"), slot("last")],
            current: None,
            indexed: None,
            prefer: None,
        };
        let mut diags = Vec::new();
        let mut aggs = Vec::new();
        let mut c = ExprCompiler::new(&scope, &mut diags);
        c.aggs = Some(AggSink {
            specs: &mut aggs,
            cx: AggregatorContext {
                mode: ProcessingMode::Slide,
                output_expects_expired: true,
            },
        });
        let compiled = c.compile(&ast);
        let unsupported = c.unsupported.take();
        if let Some(d) = diags.first() {
            return Err(fail(d.message.clone()));
        }
        if let Some((_, what)) = unsupported {
            return Err(fail(format!("{what} are not supported here")));
        }
        match compiled {
            Some((expr, AttrType::Bool)) => Ok(RetainExpr {
                text: text.to_string(),
                expr,
                aggs,
            }),
            Some(_) => Err(fail("it must be a bool expression".into())),
            None => Err(fail("it does not compile".into())),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Fresh aggregator states for the expression's aggregates.
    pub fn new_states(&self) -> Vec<Box<dyn AggregatorState>> {
        self.aggs
            .iter()
            .map(|a| a.factory.create(&a.arg_types, a.cx))
            .collect()
    }

    /// Evaluates over `rows` (event, first, last: each with the hidden timestamp appended);
    /// `Err` where Siddhi would throw.
    pub fn eval(
        &self,
        rows: &[&[Value]; 3],
        kind: EventKind,
        now: i64,
        states: &mut [Box<dyn AggregatorState>],
    ) -> Result<bool, String> {
        let mut ecx = EvalCtx {
            rows,
            ts: -1,
            now,
            kind,
            aggs: states,
            error: None,
            tables: &[],
        };
        let pass = self.expr.eval_bool(&mut ecx);
        match ecx.error {
            Some(e) => Err(e),
            None => Ok(pass),
        }
    }
}

/// Qualifies bare attributes with the stream (Siddhi resolves them to the event being
/// added or removed) and turns `eventTimestamp(first)` into `first.<hidden timestamp>`.
fn rewrite(e: &mut ast::Expr, input: &RetainInput) {
    match e {
        ast::Expr::Attribute(a) if a.qualifier.is_none() => {
            a.qualifier = Some(qualifier(&input.stream, a.span));
        }
        ast::Expr::Call(call)
            if call.name.name == "eventTimestamp"
                && call.namespace.is_none()
                && call.args.len() == 1 =>
        {
            if let ast::Expr::Attribute(a) = &call.args[0]
                && a.qualifier.is_none()
                && input.schema.index_of(&a.name.name).is_none()
                && [input.stream.as_str(), "first", "last"].contains(&a.name.name.as_str())
            {
                let span = call.span;
                *e = ast::Expr::Attribute(ast::AttributeRef {
                    qualifier: Some(qualifier(&a.name.name, span)),
                    name: ast::Ident::new(TS_ATTR, span),
                    span,
                });
                return;
            }
            call.args.iter_mut().for_each(|a| rewrite(a, input));
        }
        ast::Expr::Call(call) => call.args.iter_mut().for_each(|a| rewrite(a, input)),
        ast::Expr::Not(x, _) | ast::Expr::IsNull(x, _) => rewrite(x, input),
        ast::Expr::Binary { left, right, .. } => {
            rewrite(left, input);
            rewrite(right, input);
        }
        ast::Expr::In { expr, .. } => rewrite(expr, input),
        _ => {}
    }
}

fn qualifier(name: &str, span: spate_ql::Span) -> ast::Qualifier {
    ast::Qualifier {
        kind: SourceKind::Normal,
        name: ast::Ident::new(name, span),
        index: None,
        inner: None,
        span,
    }
}

/// Rows with the hidden timestamp appended, built in reused buffers.
#[derive(Debug, Default)]
pub(super) struct RetainRows {
    bufs: [Vec<Value>; 3],
}

impl RetainRows {
    /// Fills slot `i` with `row` and `ts`.
    pub fn set(&mut self, i: usize, ts: i64, row: &[Value]) {
        let b = &mut self.bufs[i];
        b.clear();
        b.extend_from_slice(row);
        b.push(Value::Long(ts));
    }

    pub fn rows(&self) -> [&[Value]; 3] {
        [&self.bufs[0], &self.bufs[1], &self.bufs[2]]
    }
}

/// Where an expression window's retain expression comes from.
#[derive(Debug)]
pub(super) enum RetainSource {
    /// A constant string, compiled with the query.
    Static(Arc<RetainExpr>),
    /// A string expression read per event; the text is compiled again when it changes.
    Dynamic { arg: Expr, input: RetainInput },
    /// Only the syntax could be checked: the window was compiled without its input (a named
    /// window definition, which this build does not run).
    Unchecked,
}

impl RetainSource {
    /// Reads the expression parameter (checked to be a string by the overloads).
    pub fn new(
        window: &str,
        arg: &mut WindowArg,
        input: Option<WindowInput<'_>>,
    ) -> Result<RetainSource, String> {
        if arg.ty != AttrType::String {
            return Err(format!(
                "{window} window's expression must be a string (SiddhiQL text); Siddhi casts it to a string and fails on anything else"
            ));
        }
        let input = input.map(|i| RetainInput::new(i.stream, i.schema));
        match (arg.constant(), input) {
            (Some(Value::Str(text)), Some(input)) => Ok(RetainSource::Static(Arc::new(
                RetainExpr::compile(window, text, &input)?,
            ))),
            (Some(Value::Str(text)), None) => spate_ql::parse_expression(text)
                .map(|_| RetainSource::Unchecked)
                .map_err(|d| {
                    let msgs: Vec<String> = d.into_iter().map(|d| d.message).collect();
                    format!("{window} window's expression '{text}': {}", msgs.join("; "))
                }),
            (Some(_), _) => Err(format!("{window} window's expression must not be null")),
            (None, Some(input)) => Ok(RetainSource::Dynamic {
                arg: std::mem::replace(&mut arg.expr, Expr::Const(Value::Null)),
                input,
            }),
            (None, None) => Ok(RetainSource::Unchecked),
        }
    }
}

/// An expression window's live retain expression: the compiled form, its aggregator states
/// and, for a dynamic expression, the text last seen.
#[derive(Debug)]
pub(super) struct Retain {
    window: &'static str,
    source: Arc<RetainSource>,
    compiled: Option<Arc<RetainExpr>>,
    states: Vec<Box<dyn AggregatorState>>,
    /// Dynamic: the text last read (it may have failed to compile).
    text: Option<String>,
    /// The three rows an evaluation sees (event, first, last).
    pub rows: RetainRows,
}

impl Retain {
    pub fn new(window: &'static str, source: Arc<RetainSource>) -> Retain {
        let compiled = match &*source {
            RetainSource::Static(e) => Some(e.clone()),
            _ => None,
        };
        let states = compiled
            .as_ref()
            .map(|e| e.new_states())
            .unwrap_or_default();
        Retain {
            window,
            source,
            compiled,
            states,
            text: None,
            rows: RetainRows::default(),
        }
    }

    /// For a dynamic expression, reads the event's text; `Ok(true)` when it changed and
    /// compiled (fresh aggregates: the caller re-adds the held events). `Err` where Siddhi
    /// throws (a null text, a text that does not compile: the new text is still recorded
    /// and the old expression kept, as Siddhi leaves them).
    pub fn changed(&mut self, ts: i64, row: &[Value], now: i64) -> Result<bool, String> {
        let (arg, input) = match &*self.source {
            RetainSource::Dynamic { arg, input } => (arg, input),
            RetainSource::Static(_) => return Ok(false),
            RetainSource::Unchecked => {
                return Err(format!(
                    "{} window was compiled without its input",
                    self.window
                ));
            }
        };
        let rows: [&[Value]; 1] = [row];
        let mut ecx = EvalCtx::new(&rows, ts, now);
        let v = arg.eval(&mut ecx);
        if let Some(e) = ecx.error {
            return Err(e);
        }
        let Value::Str(text) = v else {
            return Err(format!("{} window's expression is null", self.window));
        };
        if self.text.as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        self.text = Some(text.to_string());
        let compiled = RetainExpr::compile(self.window, &text, input)?;
        self.states = compiled.new_states();
        self.compiled = Some(Arc::new(compiled));
        Ok(true)
    }

    /// Evaluates over [`Retain::rows`].
    pub fn eval(&mut self, kind: EventKind, now: i64) -> Result<bool, String> {
        let Some(e) = &self.compiled else {
            return Err(format!(
                "{} window has no valid expression yet",
                self.window
            ));
        };
        e.eval(&self.rows.rows(), kind, now, &mut self.states)
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        let text = |w: &mut StateWriter, t: Option<&str>| match t {
            Some(t) => {
                w.u8(1);
                w.str(t);
            }
            None => w.u8(0),
        };
        text(w, self.text.as_deref());
        text(w, self.compiled.as_ref().map(|e| e.text()));
        w.usize(self.states.len());
        for s in &self.states {
            w.section(|w| s.snapshot(w));
        }
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let mut text = || -> SnapshotResult<Option<String>> {
            Ok(if r.u8()? == 1 {
                Some(r.str()?.to_string())
            } else {
                None
            })
        };
        self.text = text()?;
        let compiled_text = text()?;
        if let (RetainSource::Dynamic { input, .. }, Some(t)) = (&*self.source, &compiled_text) {
            let e = RetainExpr::compile(self.window, t, input).map_err(SnapshotError::Invalid)?;
            self.states = e.new_states();
            self.compiled = Some(Arc::new(e));
        }
        let n = r.usize()?;
        if n != self.states.len() {
            return Err(SnapshotError::Mismatch(format!(
                "{} window has {} aggregates, snapshot {n}",
                self.window,
                self.states.len()
            )));
        }
        for s in &mut self.states {
            let mut sec = r.section()?;
            s.restore(&mut sec)?;
            sec.finish()?;
        }
        Ok(())
    }
}
