//! Validation of the inputs that are not plain streams — joins, patterns, sequences — and of
//! partitions, named window and aggregation definitions: names, attributes and types are
//! checked as Siddhi checks them, so `spate check` judges every app correctly.

use spate_ql::Diagnostic;
use spate_ql::ast;

use super::Planner;
use super::expr::{ExprCompiler, Scope};
use super::query::{
    InputPlan, InputSource, JoinPlan, JoinSide, ResolvedInput, SinglePlan, StagePlan,
};
use super::schema::{EntityKind, Entry, Schema};
use crate::aggregate::ProcessingMode;
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
    let mut within_per = None;
    if has_aggregation {
        if left.1 == Side::Aggregation && right.1 == Side::Aggregation {
            p.error(j.span, "two aggregations cannot be joined");
            return None;
        }
        let agg = if left.1 == Side::Aggregation {
            &left.0.plan
        } else {
            &right.0.plan
        };
        let Some(InputPlan::Single(SinglePlan {
            source: InputSource::Aggregation(index),
            ..
        })) = agg
        else {
            return Some(resolved);
        };
        let (Some(within), Some(per)) = (&j.within, &j.per) else {
            return Some(resolved);
        };
        within_per = within_per_plan(p, within, per, &resolved.scope(), *index);
        let wp = within_per.as_mut()?;
        if let Some(cond) = &j.on {
            let agg_slot = usize::from(left.1 != Side::Aggregation);
            let alias = if agg_slot == 0 {
                &j.right.alias
            } else {
                &j.left.alias
            };
            wp.reduced_on = reduced_on(p, cond, &resolved, agg_slot, alias.as_ref(), *index);
        }
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
        !matches!(
            side.source,
            InputSource::Table(_) | InputSource::Aggregation(_)
        ) && j.unidirectional.is_none_or(|u| u == this)
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
        aggregation: within_per,
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
            // Siddhi adds the range read (`_START`, `_END`) to the joined event.
            let mut with_range = Schema::new([
                ("_START".to_string(), AttrType::Long),
                ("_END".to_string(), AttrType::Long),
            ]);
            let agg = &p.aggregations[index as usize].1;
            with_range.names.extend(agg.names.iter().cloned());
            with_range.types.extend(agg.types.iter().copied());
            let schema = std::sync::Arc::new(with_range);
            if !s.stream.handlers.is_empty() {
                p.error(
                    s.stream.span,
                    format!("aggregation `{name}` cannot have filters, functions or windows"),
                );
            }
            let plan = InputPlan::Single(SinglePlan {
                source: InputSource::Aggregation(index),
                arity: schema.len(),
                stages: Vec::new(),
            });
            (
                ResolvedInput {
                    slots: vec![(vec![name.clone()], schema, format!("aggregation `{name}`"))],
                    plan: Some(plan),
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
            // Siddhi joins against the last step of a stream side, which must be able to hold
            // events: a window, or nothing (then it adds one); a filter or function is refused.
            if let Some(last) = s.stream.handlers.last()
                && !matches!(last, ast::StreamHandler::Window(_))
            {
                p.diags.push(
                    Diagnostic::validation(
                        s.stream.span,
                        format!(
                            "stream `{name}` cannot be joined through a filter or function at its end: \
                             a join reads the last step of a stream side, which must be a window"
                        ),
                    )
                    .with_help(
                        "put the condition in the join's `on`, or end the side with a window, \
                         e.g. `S[price > 10]#window.length(1)`",
                    ),
                );
                return None;
            }
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

/// The part of a join's `on` that Siddhi checks on an aggregation's stored rows, compiled
/// over the join's slots with the aggregation's slot read as a table row (see
/// [`super::reduce_on`]). Nothing when it cannot be reduced or does not compile.
fn reduced_on(
    p: &Planner,
    cond: &ast::Expr,
    resolved: &ResolvedInput,
    agg_slot: usize,
    stream_alias: Option<&ast::Ident>,
    index: u32,
) -> Option<Box<(Compiled, usize)>> {
    let table = &p.aggregation_plans.get(index as usize)?.table_schema;
    let stream = &resolved.slots.get(1 - agg_slot)?.1;
    let cx = super::reduce_on::ReduceCx {
        stream_alias: stream_alias.map(|a| a.name.as_str()),
        stream_attrs: &stream.names,
        table_attrs: &table.names,
    };
    let reduced = super::reduce_on::reduce(cond, &cx)?;
    let mut scope = resolved.scope();
    scope.slots.get_mut(agg_slot)?.schema = table;
    let mut diags = Vec::new();
    let tables = p.tables.clone();
    let compiled = ExprCompiler::new(&scope, &mut diags)
        .with_tables(&tables)
        .condition(&reduced, "the join condition");
    compiled
        .filter(|_| diags.is_empty())
        .map(|c| Box::new((Compiled::new(c), agg_slot)))
}

/// `within <start>[, <end>] per <granularity>`, checked and compiled over the join's inputs.
pub(crate) fn within_per_plan(
    p: &mut Planner,
    within: &ast::WithinRange,
    per: &ast::Expr,
    scope: &Scope<'_>,
    index: u32,
) -> Option<crate::aggregation::WithinPer> {
    let mut diags = Vec::new();
    let mut compile = |e: &ast::Expr, what: &str, ok: &[AttrType]| {
        let (expr, ty) = ExprCompiler::new(scope, &mut diags).compile(e)?;
        if !ok.contains(&ty) {
            diags.push(Diagnostic::validation(
                e.span(),
                format!(
                    "{what} must be {}, but found {}",
                    if ok.len() > 1 {
                        "a long or a string"
                    } else {
                        "a string"
                    },
                    crate::aggregate::type_name(ty)
                ),
            ));
            return None;
        }
        Some(Compiled::new(expr))
    };
    let time = [AttrType::Long, AttrType::String];
    let (start, end) = match &within.end {
        Some(end) => (
            compile(&within.start, "the start of `within`", &time),
            compile(end, "the end of `within`", &time).map(Some),
        ),
        None => (
            compile(
                &within.start,
                "a single `within` value",
                &[AttrType::String],
            ),
            Some(None),
        ),
    };
    let per_c = compile(per, "`per`", &[AttrType::String]);
    if let Some(crate::expr::Expr::Const(crate::value::Value::Str(s))) =
        per_c.as_ref().map(|c| &c.ir)
        && crate::aggregation::duration::Granularity::parse(s).is_none()
    {
        diags.push(Diagnostic::validation(
            per.span(),
            "aggregation query's per value is expected to be one of SECONDS, MINUTES, HOURS, DAYS, MONTHS, YEARS",
        ));
    }
    let failed = !diags.is_empty();
    p.diags.extend(diags);
    if failed {
        return None;
    }
    Some(crate::aggregation::WithinPer {
        aggregation: index,
        start: start?,
        end: end?,
        per: per_c?,
        reduced_on: None,
    })
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
