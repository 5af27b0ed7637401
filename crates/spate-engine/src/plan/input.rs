//! Validation of the inputs that are not plain streams — joins, patterns, sequences — and of
//! partitions, named window and aggregation definitions: names, attributes and types are
//! checked as Siddhi checks them, so `spate check` judges every app correctly.

use std::sync::Arc;

use spate_ql::Diagnostic;
use spate_ql::ast;

use super::Planner;
use super::expr::{AggSink, ExprCompiler, Scope};
use super::query::{
    InputPlan, InputSource, JoinPlan, JoinSide, ResolvedInput, SinglePlan, StagePlan,
};
use super::schema::{EntityKind, Entry, Schema};
use crate::aggregate::{AggregatorContext, ProcessingMode};
use crate::compiled::Compiled;
use crate::table::key_lookup;
use crate::value::AttrType;
use crate::window::{self, WindowArg, WindowCompileCtx, WindowSpec};

/// A join: both sides resolved, the `on` condition checked and compiled over both.
pub(crate) fn join(
    p: &mut Planner,
    j: &ast::JoinInput,
    expects_expired: bool,
) -> Option<ResolvedInput> {
    let left = join_side(p, &j.left, expects_expired);
    let right = join_side(p, &j.right, expects_expired);
    let (left, right) = (left?, right?);
    if left.1 == Side::Table && right.1 == Side::Table {
        p.error(
            j.span,
            "two tables cannot be joined; one side must be a stream or window",
        );
        return None;
    }
    let mode = left.0.mode.combine(right.0.mode);
    let mut slots = left.0.slots;
    slots.extend(right.0.slots);
    let mut resolved = ResolvedInput {
        slots,
        plan: None,
        mode,
        indexed: None,
    };
    let mut on = None;
    if let Some(cond) = &j.on {
        let scope = resolved.scope();
        let tables = p.tables.clone();
        let mut diags = Vec::new();
        let mut c = ExprCompiler::new(&scope, &mut diags).with_tables(&tables);
        on = c.condition(cond, "the join condition");
        if let Some((span, what)) = c.unsupported.take() {
            p.unsupported(span, what);
        }
        p.diags.extend(diags);
    }
    let has_aggregation = left.1 == Side::Aggregation || right.1 == Side::Aggregation;
    if (j.within.is_some() || j.per.is_some()) && !has_aggregation {
        p.error(
            j.span,
            "`within` and `per` are only allowed when joining an aggregation",
        );
    }
    if has_aggregation && (j.within.is_none() || j.per.is_none()) {
        p.error(
            j.span,
            "a join with an aggregation needs `within <start>, <end>` and `per <granularity>`",
        );
    }
    if has_aggregation {
        p.unsupported(j.span, "joins with incremental aggregations");
        return Some(resolved);
    }
    let join_type = j.keyword.join_type();
    let outer_left = matches!(
        join_type,
        ast::JoinType::LeftOuter | ast::JoinType::FullOuter
    );
    let outer_right = matches!(
        join_type,
        ast::JoinType::RightOuter | ast::JoinType::FullOuter
    );
    let (Some(lp), Some(rp)) = (left.0.plan, right.0.plan) else {
        return Some(resolved);
    };
    let (InputPlan::Single(lp), InputPlan::Single(rp)) = (lp, rp) else {
        return Some(resolved);
    };
    let triggers = |side: &SinglePlan, this: ast::JoinSide| {
        !matches!(side.source, InputSource::Table(_)) && j.unidirectional.is_none_or(|u| u == this)
    };
    let sides = [
        JoinSide {
            triggers: triggers(&lp, ast::JoinSide::Left),
            outer: outer_left,
            input: lp,
        },
        JoinSide {
            triggers: triggers(&rp, ast::JoinSide::Right),
            outer: outer_right,
            input: rp,
        },
    ];
    let table_key = sides.iter().enumerate().find_map(|(slot, side)| {
        let InputSource::Table(t) = side.input.source else {
            return None;
        };
        let pk = p.tables[t as usize].primary_key.as_deref();
        key_lookup::key_value(on.as_ref()?, slot as u16, pk).map(Compiled::new)
    });
    resolved.plan = Some(InputPlan::Join(Box::new(JoinPlan {
        sides,
        table_key,
        on: on.map(Compiled::new),
        // Both settled for the whole app in `Planner::finish`.
        key: None,
        on_infallible: false,
    })));
    Some(resolved)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Stream,
    Table,
    Aggregation,
}

fn join_side(
    p: &mut Planner,
    s: &ast::JoinSource,
    expects_expired: bool,
) -> Option<(ResolvedInput, Side)> {
    let name = &s.stream.source.id.name;
    let entry = p.namespace.get(name).cloned();
    let (mut resolved, side) = match entry {
        Some(Entry {
            kind: EntityKind::Table,
            index,
            ..
        }) if s.stream.source.kind == ast::SourceKind::Normal => {
            // Siddhi compiles filters and windows written on a table side, then drops them:
            // the join always looks at the whole table.
            let schema = p.tables[index as usize].schema.clone();
            if !s.stream.handlers.is_empty() {
                p.single_stream_from(
                    &s.stream,
                    Some(InputSource::Table(index)),
                    schema.clone(),
                    expects_expired,
                    true,
                    None,
                )?;
            }
            let plan = InputPlan::Single(SinglePlan {
                source: InputSource::Table(index),
                arity: schema.len(),
                stages: Vec::new(),
            });
            (
                ResolvedInput {
                    slots: vec![(vec![name.clone()], schema, format!("table `{name}`"))],
                    plan: Some(plan),
                    mode: ProcessingMode::Batch,
                    indexed: None,
                },
                Side::Table,
            )
        }
        Some(Entry {
            kind: EntityKind::Aggregation,
            index,
            ..
        }) => {
            let schema = p.aggregations[index as usize].1.clone();
            (
                ResolvedInput {
                    slots: vec![(vec![name.clone()], schema, format!("aggregation `{name}`"))],
                    plan: None,
                    mode: ProcessingMode::Batch,
                    indexed: None,
                },
                Side::Aggregation,
            )
        }
        Some(Entry {
            kind: EntityKind::Window,
            ..
        }) => (
            p.single_stream(&s.stream, expects_expired, true)?,
            Side::Stream,
        ),
        _ => {
            let mut r = p.single_stream(&s.stream, expects_expired, true)?;
            // A stream side without a window holds nothing: Siddhi gives it a `lengthBatch(0)`.
            if let Some(InputPlan::Single(sp)) = &mut r.plan
                && !sp
                    .stages
                    .iter()
                    .any(|st| matches!(st, StagePlan::Window { .. }))
            {
                let arity = sp.out_arity();
                let zero = WindowArg {
                    expr: crate::expr::Expr::Const(crate::value::Value::Int(0)),
                    ty: AttrType::Int,
                };
                let cx = WindowCompileCtx {
                    arity,
                    output_expects_expired: expects_expired,
                    find_to_be_executed: true,
                };
                if let Some(spec) =
                    window::find("lengthBatch").and_then(|f| f.compile(vec![zero], cx).ok())
                {
                    sp.stages.push(StagePlan::Window {
                        spec,
                        timer_template: None,
                    });
                }
            }
            (r, Side::Stream)
        }
    };
    if let Some(alias) = &s.alias {
        resolved.slots[0].0.push(alias.name.clone());
    }
    Some((resolved, side))
}

/// A pattern or sequence: one slot per stream state (named by its event reference), filters
/// checked with the earlier events in scope.
/// `define window W (...) length(5) output all events`.
pub(crate) fn check_window_definition(
    p: &mut Planner,
    w: &ast::WindowDef,
    schema: &Schema,
) -> Option<Box<dyn WindowSpec>> {
    let Some(f) = window::find(&w.window.name.name) else {
        p.error(
            w.window.name.span,
            format!("`{}` is not a window", w.window.name.name),
        );
        return None;
    };
    let scope = Scope::single(&w.id.name, schema);
    let mut diags = Vec::new();
    let mut args = Vec::new();
    for a in &w.window.args {
        if let Some((expr, ty)) = ExprCompiler::new(&scope, &mut diags).compile(a) {
            args.push(WindowArg { expr, ty });
        }
    }
    let mut spec = None;
    if diags.is_empty() {
        // A window publishes all events unless its definition says otherwise.
        let expired = !matches!(w.output, Some(ast::OutputEventType::Current));
        let cx = WindowCompileCtx {
            arity: schema.len(),
            output_expects_expired: expired,
            find_to_be_executed: true,
        };
        let input = window::WindowInput {
            stream: &w.id.name,
            schema,
            output_data: None,
        };
        match f.compile_in(args, cx, input) {
            Ok(s) => spec = Some(s),
            Err(msg) => diags.push(Diagnostic::validation(w.window.span, msg)),
        }
    }
    p.diags.extend(diags);
    spec
}

/// `define aggregation A from S select ... group by ... aggregate [by ts] every ...`.
pub(crate) fn aggregation_definition(p: &mut Planner, a: &ast::AggregationDef) {
    let Some(input) = p.single_stream(&a.from, false, false) else {
        return;
    };
    let scope = input.scope();
    let mut diags = Vec::new();
    let mut specs = Vec::new();
    let mut schema = Schema::new([("AGG_TIMESTAMP".to_string(), AttrType::Long)]);
    let cx = AggregatorContext {
        mode: ProcessingMode::Batch,
        output_expects_expired: false,
    };
    for oa in a.selector.attributes.iter().flatten() {
        let mut c = ExprCompiler::new(&scope, &mut diags);
        c.aggs = Some(AggSink {
            specs: &mut specs,
            cx,
        });
        if let Some((_, ty)) = c.compile(&oa.expr) {
            let name = match (&oa.alias, &oa.expr) {
                (Some(al), _) => al.name.clone(),
                (None, ast::Expr::Attribute(r)) => r.name.name.clone(),
                _ => continue,
            };
            schema.names.push(name);
            schema.types.push(ty);
        }
    }
    for g in &a.selector.group_by {
        ExprCompiler::new(&scope, &mut diags).compile(&ast::Expr::Attribute(g.clone()));
    }
    if let Some(by) = &a.aggregate_by
        && let Some((_, ty)) =
            ExprCompiler::new(&scope, &mut diags).compile(&ast::Expr::Attribute(by.clone()))
        && !matches!(ty, AttrType::Long | AttrType::String)
    {
        diags.push(Diagnostic::validation(
            by.span,
            "`aggregate by` needs a long (epoch millis) or string timestamp attribute",
        ));
    }
    p.diags.extend(diags);
    let idx = p.aggregations.len() as u32;
    if p.declare_entity(&a.id, EntityKind::Aggregation, idx) {
        p.aggregations.push((a.id.name.clone(), Arc::new(schema)));
        p.unsupported(a.span, "incremental aggregations (`define aggregation`)");
    }
}

impl Planner {
    /// Registers a name, reporting a clash with an earlier definition.
    pub(crate) fn declare_entity(&mut self, id: &ast::Ident, kind: EntityKind, index: u32) -> bool {
        if let Some(prev) = self.namespace.get(&id.name) {
            let (pk, pspan) = (prev.kind, prev.span);
            self.diags.push(
                Diagnostic::validation(
                    id.span,
                    format!("`{}` is already defined as a {pk}", id.name),
                )
                .with_label(pspan, "first defined here"),
            );
            return false;
        }
        self.namespace.insert(
            &id.name,
            Entry {
                kind,
                index,
                span: id.span,
            },
        );
        true
    }
}
