//! The part of a join's `on` condition that Siddhi checks on an aggregation's stored rows
//! before merging them (`AggregationExpressionVisitor`): what reads only the joining stream
//! and the aggregation's table columns. Siddhi's merge of `aggregate by` rows goes through a
//! Java `HashMap`, so which rows enter it decides the order of the result; the full condition
//! is still checked on the rows that come out.
//!
//! The rules are Siddhi's, including where they are loose: an `and` or `or` with one side
//! that cannot be reduced keeps the other side alone; anything else with such an operand
//! cannot be reduced.

use spate_ql::ast::{self, BinaryOp, Expr};

/// What the reduction may keep.
pub(crate) struct ReduceCx<'a> {
    /// The joining stream's alias (Siddhi's input reference id); none without one.
    pub stream_alias: Option<&'a str>,
    /// Attributes of the joining stream.
    pub stream_attrs: &'a [String],
    /// Columns of the aggregation's tables.
    pub table_attrs: &'a [String],
}

/// The reduced condition; `None` when nothing of it can be checked on stored rows.
pub(crate) fn reduce(e: &Expr, cx: &ReduceCx<'_>) -> Option<Expr> {
    match e {
        Expr::Literal(..) => Some(e.clone()),
        Expr::Attribute(a) => keeps(a, cx).then(|| e.clone()),
        Expr::Binary {
            op: op @ (BinaryOp::And | BinaryOp::Or),
            left,
            right,
            span,
        } => match (reduce(left, cx), reduce(right, cx)) {
            (Some(l), Some(r)) => Some(Expr::Binary {
                op: *op,
                left: Box::new(l),
                right: Box::new(r),
                span: *span,
            }),
            (Some(one), None) | (None, Some(one)) => Some(one),
            (None, None) => None,
        },
        Expr::Binary {
            op,
            left,
            right,
            span,
        } => Some(Expr::Binary {
            op: *op,
            left: Box::new(reduce(left, cx)?),
            right: Box::new(reduce(right, cx)?),
            span: *span,
        }),
        Expr::Not(inner, span) => Some(Expr::Not(Box::new(reduce(inner, cx)?), *span)),
        Expr::IsNull(inner, span) => Some(Expr::IsNull(Box::new(reduce(inner, cx)?), *span)),
        Expr::In { expr, table, span } => Some(Expr::In {
            expr: Box::new(reduce(expr, cx)?),
            table: table.clone(),
            span: *span,
        }),
        Expr::Call(call) => {
            let args = call
                .args
                .iter()
                .map(|a| reduce(a, cx))
                .collect::<Option<Vec<_>>>()?;
            Some(Expr::Call(ast::FunctionCall {
                args,
                ..call.clone()
            }))
        }
        Expr::IsNullStream { .. } => None,
    }
}

/// Siddhi keeps an attribute of the joining stream (by its alias), any other qualified
/// attribute named like a table column, and an unqualified one that either has.
fn keeps(a: &ast::AttributeRef, cx: &ReduceCx<'_>) -> bool {
    let name = &a.name.name;
    let in_table = cx.table_attrs.iter().any(|t| t == name);
    match &a.qualifier {
        None => in_table || cx.stream_attrs.iter().any(|s| s == name),
        Some(q) if q.index.is_some() || q.inner.is_some() => false,
        Some(q) => cx.stream_alias == Some(q.name.name.as_str()) || in_table,
    }
}
