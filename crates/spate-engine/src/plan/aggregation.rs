//! Compiling `define aggregation`: the input stream and its filters, the table layout with
//! one column per base aggregate (Siddhi's incremental aggregators: `sum`, `count`, `avg`,
//! `min`, `max`, `distinctCount`), the expressions that read the aggregation's attributes
//! back from a stored row, and `@purge`.

use std::sync::Arc;

use spate_ql::ast::{self, AggregationTime, AnnotationItem};
use spate_ql::{Diagnostic, Span};

use super::expr::{ExprCompiler, Scope};
use super::query::{InputPlan, StagePlan};
use super::schema::{EntityKind, Schema};
use super::{Planner, annotations};
use crate::aggregate;
use crate::aggregation::duration::Granularity;
use crate::aggregation::plan::{AggregationPlan, Column, PurgePlan};
use crate::compiled::Compiled;
use crate::expr::Expr;
use crate::value::{AttrType, Value};

/// A base aggregate column being laid out: name, type, initial value text, aggregator.
struct Base {
    name: String,
    ty: AttrType,
    init: String,
    aggregator: &'static str,
}

pub(crate) fn aggregation_definition(p: &mut Planner, a: &ast::AggregationDef) {
    let Some(input) = p.single_stream(&a.from, false, false) else {
        return;
    };
    let input_schema = input.slots[0].1.clone();
    let mut filters = Vec::new();
    let mut source = None;
    if let Some(InputPlan::Single(sp)) = input.plan {
        source = match sp.source {
            super::query::InputSource::Stream(s) => Some(s),
            _ => None,
        };
        for st in sp.stages {
            match st {
                StagePlan::Filter(c) => filters.push(c),
                _ => p.unsupported(
                    a.from.span,
                    "stream functions and windows in `define aggregation`",
                ),
            }
        }
    }
    let scope = Scope::single(&a.from.source.id.name, &input_schema);
    let mut diags = Vec::new();
    let granularities = granularities(&a.every, a.span, &mut diags);
    let external = a.aggregate_by.is_some();

    let mut names: Vec<String> = vec!["AGG_TIMESTAMP".into()];
    let mut types = vec![AttrType::Long];
    let mut columns = vec![Column::Timestamp];
    let mut ext_expr = None;
    if let Some(by) = &a.aggregate_by {
        let compiled =
            ExprCompiler::new(&scope, &mut diags).compile(&ast::Expr::Attribute(by.clone()));
        if let Some((e, ty)) = compiled {
            if matches!(ty, AttrType::Long | AttrType::String) {
                ext_expr = Some(e);
            } else {
                diags.push(Diagnostic::validation(
                    by.span,
                    format!(
                        "aggregation `{}`'s timestamp attribute expects long or string, but found {}",
                        a.id.name,
                        aggregate::type_name(ty)
                    ),
                ));
            }
        }
        names.push("AGG_EVENT_TIMESTAMP".into());
        types.push(AttrType::Long);
        columns.push(Column::EventTimestamp(Compiled::new(
            ext_expr.clone().unwrap_or(Expr::Const(Value::Null)),
        )));
    }
    let mut group_cols = Vec::new();
    for g in &a.selector.group_by {
        if let Some((e, ty)) =
            ExprCompiler::new(&scope, &mut diags).compile(&ast::Expr::Attribute(g.clone()))
        {
            group_cols.push(names.len());
            names.push(g.name.name.clone());
            types.push(ty);
            columns.push(Column::Variable(Compiled::new(e)));
        }
    }
    // What each selected attribute reads from a stored row (text over the table columns).
    let mut reads: Vec<(String, AttrType, String, Span)> = Vec::new();
    let mut bases: Vec<Base> = Vec::new();
    let mut latest = false;
    for oa in a.selector.attributes.iter().flatten() {
        let name = match (&oa.alias, &oa.expr) {
            (Some(al), _) => al.name.clone(),
            (None, ast::Expr::Attribute(r)) => r.name.name.clone(),
            (None, other) => {
                diags.push(Diagnostic::validation(
                    other.span(),
                    "a computed attribute needs a name",
                ));
                continue;
            }
        };
        match &oa.expr {
            ast::Expr::Call(call)
                if call.namespace.is_none() && is_incremental(&call.name.name) =>
            {
                if let Some((ty, read)) = incremental(call, &input_schema, &mut bases, &mut diags) {
                    reads.push((name, ty, read, oa.span));
                }
            }
            ast::Expr::Attribute(r)
                if a.selector
                    .group_by
                    .iter()
                    .any(|g| g.name.name == r.name.name) =>
            {
                let ty = input_schema
                    .index_of(&r.name.name)
                    .map_or(AttrType::Object, |i| input_schema.types[i]);
                reads.push((name, ty, quote(&r.name.name), oa.span));
            }
            other => {
                if let Some((e, ty)) = ExprCompiler::new(&scope, &mut diags).compile(other) {
                    if e.any(&|x| matches!(x, Expr::Agg { .. })) {
                        p.unsupported(
                            other.span(),
                            "this aggregate function in `define aggregation`",
                        );
                        continue;
                    }
                    latest = true;
                    if names.contains(&name) {
                        diags.push(Diagnostic::validation(
                            oa.span,
                            format!("attribute `{name}` is selected twice"),
                        ));
                        continue;
                    }
                    names.push(name.clone());
                    types.push(ty);
                    columns.push(Column::Variable(Compiled::new(e)));
                    reads.push((name.clone(), ty, quote(&name), oa.span));
                }
            }
        }
    }
    if external && latest {
        names.push("AGG_LAST_TIMESTAMP".into());
        types.push(AttrType::Long);
        columns.push(Column::LastTimestamp(Compiled::new(
            ext_expr.clone().unwrap_or(Expr::Const(Value::Null)),
        )));
    }
    for b in &bases {
        let init = spate_ql::parse_expression(&b.init)
            .ok()
            .and_then(|e| ExprCompiler::new(&scope, &mut diags).compile(&e));
        let factory = aggregate::find(b.aggregator);
        if let (Some((init, _)), Some(factory)) = (init, factory) {
            names.push(b.name.clone());
            types.push(b.ty);
            columns.push(Column::Base {
                init: Compiled::new(init),
                factory,
                ty: b.ty,
            });
        }
    }
    let table_schema = Arc::new(Schema { names, types });
    let mut schema = Schema::new([("AGG_TIMESTAMP".to_string(), AttrType::Long)]);
    let time_col = usize::from(external) as u16;
    let mut outputs = vec![Compiled::new(Expr::Attr {
        slot: 0,
        idx: time_col,
    })];
    let table_scope = Scope::single(&a.id.name, &table_schema);
    for (name, ty, read, span) in reads {
        if schema.index_of(&name).is_some() {
            diags.push(Diagnostic::validation(
                span,
                format!("attribute `{name}` is selected twice"),
            ));
            continue;
        }
        let compiled = spate_ql::parse_expression(&read)
            .ok()
            .and_then(|e| ExprCompiler::new(&table_scope, &mut diags).compile(&e));
        if let Some((e, _)) = compiled {
            schema.names.push(name);
            schema.types.push(ty);
            outputs.push(Compiled::new(e));
        }
    }
    let purge = purge(a, &granularities, &mut diags);
    p.diags.extend(diags);
    let idx = p.aggregations.len() as u32;
    if p.declare_entity(&a.id, EntityKind::Aggregation, idx) {
        let schema = Arc::new(schema);
        p.aggregations.push((a.id.name.clone(), schema.clone()));
        p.aggregation_plans.push(AggregationPlan {
            name: a.id.name.clone(),
            source: source.unwrap_or(0),
            filters,
            granularities,
            external,
            table_schema,
            columns,
            group_cols,
            outputs,
            schema,
            purge,
        });
    }
}

fn quote(name: &str) -> String {
    format!("`{name}`")
}

fn is_incremental(name: &str) -> bool {
    matches!(
        name,
        "sum" | "count" | "avg" | "min" | "max" | "distinctCount"
    )
}

/// Lays out the base aggregates of one incremental aggregator; returns its type and what
/// reads it from a stored row.
fn incremental(
    call: &ast::FunctionCall,
    input: &Schema,
    bases: &mut Vec<Base>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(AttrType, String)> {
    let f = call.name.name.as_str();
    let arg = match call.args.as_slice() {
        [] => None,
        [ast::Expr::Attribute(r)] => Some(r.name.name.as_str()),
        [other] => {
            diags.push(Diagnostic::validation(
                other.span(),
                "an incremental aggregator takes an attribute, not an expression",
            ));
            return None;
        }
        _ => {
            diags.push(Diagnostic::validation(
                call.span,
                format!(
                    "an incremental aggregator takes only one parameter, but found {}",
                    call.args.len()
                ),
            ));
            return None;
        }
    };
    let ty = match arg {
        Some(n) => match input.index_of(n) {
            Some(i) => Some(input.types[i]),
            None => {
                diags.push(Diagnostic::validation(
                    call.span,
                    format!("attribute `{n}` is not defined in the aggregation's input"),
                ));
                return None;
            }
        },
        None => None,
    };
    let mut add = |name: String, ty: AttrType, init: String, aggregator: &'static str| {
        if !bases.iter().any(|b| b.name == name) {
            bases.push(Base {
                name,
                ty,
                init,
                aggregator,
            });
        }
    };
    let numeric = |t: Option<AttrType>| {
        matches!(
            t,
            Some(AttrType::Int | AttrType::Long | AttrType::Float | AttrType::Double)
        )
    };
    let fail = |diags: &mut Vec<Diagnostic>, what: &str| {
        diags.push(Diagnostic::validation(
            call.span,
            format!("{f}() in an aggregation {what}"),
        ));
        None
    };
    match (f, arg) {
        ("count", _) => {
            add("AGG_COUNT".into(), AttrType::Long, "1L".into(), "sum");
            Some((AttrType::Long, "AGG_COUNT".into()))
        }
        ("sum" | "avg", Some(x)) if numeric(ty) => {
            let (sum_ty, conv) = match ty {
                Some(AttrType::Float | AttrType::Double) => (AttrType::Double, "double"),
                _ => (AttrType::Long, "long"),
            };
            let sum = format!("AGG_SUM_{x}");
            add(
                sum.clone(),
                sum_ty,
                format!("convert({}, '{conv}')", quote(x)),
                "sum",
            );
            if f == "sum" {
                return Some((sum_ty, quote(&sum)));
            }
            add("AGG_COUNT".into(), AttrType::Long, "1L".into(), "sum");
            Some((AttrType::Double, format!("{} / AGG_COUNT", quote(&sum))))
        }
        ("min" | "max", Some(x)) if numeric(ty) => {
            let col = format!("AGG_{}_{x}", f.to_ascii_uppercase());
            add(
                col.clone(),
                ty.unwrap_or(AttrType::Double),
                quote(x),
                f_static(f),
            );
            Some((ty.unwrap_or(AttrType::Double), quote(&col)))
        }
        ("distinctCount", Some(x)) if !matches!(ty, Some(AttrType::Object) | None) => {
            let col = format!("AGG_SET_{x}");
            add(
                col.clone(),
                AttrType::Object,
                format!("createSet({})", quote(x)),
                "unionSet",
            );
            Some((AttrType::Long, format!("sizeOfSet({})", quote(&col))))
        }
        (_, None) => fail(diags, "needs an attribute"),
        _ => fail(diags, "cannot be computed on this attribute type"),
    }
}

fn f_static(f: &str) -> &'static str {
    if f == "min" { "min" } else { "max" }
}

/// `every sec ... year` (every granularity between) or `every sec, min` (those, sorted).
fn granularities(
    every: &AggregationTime,
    span: Span,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Granularity> {
    let mut out = Vec::new();
    let mut push = |d: ast::Duration, out: &mut Vec<Granularity>| match Granularity::of(d) {
        Some(g) => out.push(g),
        None => diags.push(Diagnostic::validation(
            span,
            "weeks are not an aggregation granularity; use sec, min, hour, day, month or year",
        )),
    };
    match every {
        AggregationTime::Range(a, b) => {
            let (Some(ga), Some(gb)) = (Granularity::of(*a), Granularity::of(*b)) else {
                push(ast::Duration::Weeks, &mut out);
                return out;
            };
            if ga > gb {
                diags.push(Diagnostic::validation(
                    span,
                    "start time period must be less than end time period for range aggregation calculation",
                ));
            }
            out.extend(Granularity::ALL.iter().filter(|g| **g >= ga && **g <= gb));
        }
        AggregationTime::List(list) => {
            for d in list {
                push(*d, &mut out);
            }
            out.sort();
            out.dedup();
        }
    }
    out
}

/// A time constant written in an annotation (`'1 sec'`, `'2 hours'`).
fn time_text(text: &str) -> Option<i64> {
    let e = spate_ql::parse_expression(text).ok()?;
    match e {
        ast::Expr::Literal(lit, _) => match super::expr::literal(&lit).0 {
            Expr::Const(Value::Long(v)) => Some(v),
            Expr::Const(Value::Int(v)) => Some(v as i64),
            _ => None,
        },
        _ => None,
    }
}

/// `@purge(enable='true', interval='10 sec', @retentionPeriod(sec='120 sec', ...))`, with
/// Siddhi's defaults and minimum retentions.
fn purge(a: &ast::AggregationDef, gs: &[Granularity], diags: &mut Vec<Diagnostic>) -> PurgePlan {
    const ALL: Option<i64> = None;
    let default = |g: Granularity| match g {
        Granularity::Seconds => Some(120_000),
        Granularity::Minutes => Some(24 * 3_600_000),
        Granularity::Hours => Some(30 * 86_400_000),
        Granularity::Days => Some(365 * 86_400_000),
        Granularity::Months | Granularity::Years => ALL,
    };
    let minimum = |g: Granularity| match g {
        Granularity::Seconds => 120_000,
        Granularity::Minutes => 120 * 60_000,
        Granularity::Hours => 25 * 3_600_000,
        Granularity::Days => 32 * 86_400_000,
        Granularity::Months => 13 * 30 * 86_400_000,
        Granularity::Years => 0,
    };
    let mut plan = PurgePlan {
        enabled: true,
        interval: 15 * 60_000,
        retention: gs.iter().map(|g| default(*g)).collect(),
    };
    let Some(ann) = annotations::find(&a.annotations, "purge") else {
        return plan;
    };
    if let Some(enable) = annotations::value(ann, "enable") {
        match enable.to_ascii_lowercase().as_str() {
            "true" => {}
            "false" => plan.enabled = false,
            _ => diags.push(Diagnostic::validation(
                ann.span,
                format!("invalid value for enable: {enable}. Please use true or false"),
            )),
        }
    }
    if !plan.enabled {
        return plan;
    }
    if let Some(interval) = annotations::value(ann, "interval") {
        match time_text(interval) {
            Some(ms) if ms > 0 => plan.interval = ms,
            _ => diags.push(Diagnostic::validation(
                ann.span,
                format!("`@purge` interval `{interval}` is not a time such as '10 sec'"),
            )),
        }
    }
    let retention = ann.items.iter().find_map(|i| match i {
        AnnotationItem::Annotation(r) if r.name.name.eq_ignore_ascii_case("retentionPeriod") => {
            Some(r)
        }
        _ => None,
    });
    for item in retention.iter().flat_map(|r| &r.items) {
        let AnnotationItem::Element(e) = item else {
            continue;
        };
        let key = e.key.as_ref().map_or("", |k| k.name.as_str());
        let Some(g) = Granularity::parse(key) else {
            diags.push(Diagnostic::validation(
                e.span,
                format!("`{key}` is not a granularity"),
            ));
            continue;
        };
        let Some(pos) = gs.iter().position(|x| *x == g) else {
            diags.push(Diagnostic::validation(
                e.span,
                format!(
                    "{} granularity cannot be purged since aggregation has not performed in {} granularity",
                    g.name(),
                    g.name()
                ),
            ));
            continue;
        };
        let value = e.value.value.as_str();
        if value.eq_ignore_ascii_case("all") {
            plan.retention[pos] = ALL;
            continue;
        }
        match time_text(value) {
            Some(ms) if ms >= minimum(g) => plan.retention[pos] = Some(ms),
            Some(_) => diags.push(Diagnostic::validation(
                e.span,
                format!(
                    "{} granularity cannot be purged with a retention of '{value}', minimum retention should be greater than {} minutes",
                    g.name(),
                    minimum(g) / 60_000
                ),
            )),
            None => diags.push(Diagnostic::validation(
                e.span,
                format!("retention `{value}` is not a time such as '120 sec'"),
            )),
        }
    }
    plan
}
