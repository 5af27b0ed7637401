//! Type checking and compilation of SiddhiQL expressions with Siddhi 5.1.7's rules
//! (`ExpressionParser`): arithmetic promotes to the widest numeric type, comparisons accept
//! numeric pairs (and `==`/`!=` on strings and on bools), conditions must be bool, aggregate
//! calls are only allowed where a selector evaluates them.

use std::cell::RefCell;

use spate_ql::ast::{self, BinaryOp, Literal};
use spate_ql::{Diagnostic, Span};

use super::TableInfo;
use super::schema::{Schema, type_name};
use crate::aggregate::{self, AggregatorContext};
use crate::expr::{ArithOp, CmpOp, Expr, NumTy, compare_type};
use crate::function::{self, ArgInfo};
use crate::query::selector::AggSpec;
use crate::value::{AttrType, Value};

/// One input visible to an expression: a stream, an aliased join side, a pattern event.
#[derive(Clone, Debug)]
pub struct ScopeSlot<'a> {
    /// Names that qualify this slot's attributes (`S.a`, `s.a`, `e1.a`).
    pub names: Vec<String>,
    pub schema: &'a Schema,
    /// Human name for messages (`stream OrderStream`).
    pub label: String,
}

/// The inputs an expression can reference, in slot order.
#[derive(Clone, Debug, Default)]
pub struct Scope<'a> {
    pub slots: Vec<ScopeSlot<'a>>,
    /// Unqualified attributes resolve only in this slot (Siddhi's current state): a pattern
    /// state's own filter, or the query output in a table condition, where table attributes
    /// must be qualified (`T.a`).
    pub current: Option<usize>,
    /// Unqualified attributes this slot has resolve here; others resolve in the remaining
    /// slots as usual (`having` over the output, then the inputs).
    pub prefer: Option<usize>,
    /// Where indexed event references (`e1[0].x`, `e1[last].x`) of a pattern are collected;
    /// none elsewhere (they are then rejected).
    pub indexed: Option<&'a RefCell<IndexedRefs>>,
}

/// A pattern's indexed event references: each becomes one column of an extra input slot
/// (`base`) that the pattern runtime fills before evaluating.
#[derive(Clone, Debug, Default)]
pub struct IndexedRefs {
    pub base: u16,
    pub refs: Vec<IndexedRef>,
    /// Per slot: a counted state, whose unindexed `e1.x` in the selector is the list of all
    /// its events' values (Siddhi's multi-value references).
    pub multi: Vec<bool>,
}

/// [`IndexedRef::pos`] of a multi-value reference: every event of the slot.
pub const ALL_EVENTS: i32 = i32::MIN;

/// `e1[pos].attr`, or `e1[pos] is null` when `attr` is none (the column then says whether
/// the event exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexedRef {
    pub slot: u16,
    /// `n` for `[n]`; `-(k + 1)` for `[last - k]`.
    pub pos: i32,
    pub attr: Option<u16>,
    pub ty: AttrType,
}

impl IndexedRefs {
    /// The column of `r`, added if new.
    fn column(&mut self, r: IndexedRef) -> u16 {
        match self.refs.iter().position(|x| *x == r) {
            Some(k) => k as u16,
            None => {
                self.refs.push(r);
                (self.refs.len() - 1) as u16
            }
        }
    }
}

fn event_pos(i: ast::EventIndex) -> i32 {
    match i {
        ast::EventIndex::Index(n) => n.min(i32::MAX as u32) as i32,
        ast::EventIndex::Last { minus } => -(minus.min(i32::MAX as u32 - 1) as i32) - 1,
    }
}

impl<'a> Scope<'a> {
    pub fn single(name: &str, schema: &'a Schema) -> Scope<'a> {
        Scope {
            slots: vec![ScopeSlot {
                names: vec![name.to_string()],
                schema,
                label: format!("`{name}`"),
            }],
            current: None,
            indexed: None,
            prefer: None,
        }
    }
}

/// Where aggregate calls go while compiling a selector.
pub struct AggSink<'s> {
    pub specs: &'s mut Vec<AggSpec>,
    pub cx: AggregatorContext,
}

/// Compiles expressions against a scope, collecting diagnostics.
pub struct ExprCompiler<'c, 'a> {
    pub scope: &'c Scope<'a>,
    pub aggs: Option<AggSink<'c>>,
    pub diags: &'c mut Vec<Diagnostic>,
    /// Set when something compiled is valid but not executable by this build yet.
    pub unsupported: Option<(Span, String)>,
    /// Tables `cond in T` can name.
    pub tables: &'c [TableInfo],
}

/// A compiled expression and its declared type.
pub type Typed = (Expr, AttrType);

impl<'c, 'a> ExprCompiler<'c, 'a> {
    pub fn new(scope: &'c Scope<'a>, diags: &'c mut Vec<Diagnostic>) -> ExprCompiler<'c, 'a> {
        ExprCompiler {
            scope,
            aggs: None,
            diags,
            unsupported: None,
            tables: &[],
        }
    }

    /// Lets `in T` conditions name the app's tables.
    pub fn with_tables(mut self, tables: &'c [TableInfo]) -> ExprCompiler<'c, 'a> {
        self.tables = tables;
        self
    }

    fn error(&mut self, span: Span, message: impl Into<String>) -> Option<Typed> {
        self.diags.push(Diagnostic::validation(span, message));
        None
    }

    /// Compiles a condition: it must be bool.
    pub fn condition(&mut self, e: &ast::Expr, what: &str) -> Option<Expr> {
        let (expr, ty) = self.compile(e)?;
        if ty != AttrType::Bool {
            self.diags.push(
                Diagnostic::validation(
                    e.span(),
                    format!(
                        "{what} must be a bool expression, but this is {}",
                        type_name(ty)
                    ),
                )
                .with_help("compare it with something, e.g. `x > 0`, or use a bool attribute"),
            );
            return None;
        }
        Some(expr)
    }

    pub fn compile(&mut self, e: &ast::Expr) -> Option<Typed> {
        match e {
            ast::Expr::Literal(lit, _) => Some(literal(lit)),
            ast::Expr::Attribute(a) => self.attribute(a),
            ast::Expr::Not(inner, span) => {
                let (x, ty) = self.compile(inner)?;
                if ty != AttrType::Bool {
                    return self.error(
                        *span,
                        format!("`not` needs a bool operand, but found {}; `not` binds tighter than comparisons, so write `not (a > b)`", type_name(ty)),
                    );
                }
                Some((Expr::Not(Box::new(x)), AttrType::Bool))
            }
            ast::Expr::Binary {
                op,
                left,
                right,
                span,
            } => self.binary(*op, left, right, *span),
            ast::Expr::IsNull(inner, _) => {
                // `e1 is null` where e1 names an event/stream rather than an attribute.
                if let ast::Expr::Attribute(a) = &**inner
                    && a.qualifier.is_none()
                    && let Some(slot) = self.slot_named(&a.name.name)
                    && self.lookup_unqualified(&a.name.name).is_none()
                {
                    return Some((Expr::SlotIsNull(slot as u16), AttrType::Bool));
                }
                let (x, _) = self.compile(inner)?;
                Some((Expr::IsNull(Box::new(x)), AttrType::Bool))
            }
            ast::Expr::IsNullStream {
                name, span, index, ..
            } => match self.slot_named(&name.name) {
                Some(slot) if let Some(i) = index => {
                    let r = IndexedRef {
                        slot: slot as u16,
                        pos: event_pos(*i),
                        attr: None,
                        ty: AttrType::Bool,
                    };
                    let (e, _) = self.indexed(r, *span)?;
                    Some((Expr::Not(Box::new(e)), AttrType::Bool))
                }
                Some(slot) => Some((Expr::SlotIsNull(slot as u16), AttrType::Bool)),
                None => self.error(
                    *span,
                    format!(
                        "`{}` is not a stream or event reference of this query",
                        name.name
                    ),
                ),
            },
            ast::Expr::Call(call) => self.call(call),
            ast::Expr::In { expr, table, .. } => self.in_table(expr, table),
        }
    }

    /// `cond in T`: `cond` sees the query's inputs plus the table (qualified as `T.a`);
    /// unqualified attributes resolve in the query's current input, as in Siddhi.
    fn in_table(&mut self, cond: &ast::Expr, table: &ast::Ident) -> Option<Typed> {
        let Some(index) = self.tables.iter().position(|t| t.name == table.name) else {
            return self.error(
                table.span,
                format!("`{}` is not a table; `in` looks into tables", table.name),
            );
        };
        let info = &self.tables[index];
        let mut scope = self.scope.clone();
        scope.current = Some(self.scope.current.unwrap_or(0));
        scope.slots.push(ScopeSlot {
            names: vec![table.name.clone()],
            schema: &info.schema,
            label: format!("table `{}`", table.name),
        });
        let mut inner = ExprCompiler::new(&scope, self.diags).with_tables(self.tables);
        let cond = inner.condition(cond, "an `in` condition");
        if let Some(u) = inner.unsupported.take() {
            self.unsupported = Some(u);
        }
        let cond = cond?;
        let table_slot = (scope.slots.len() - 1) as u16;
        let key =
            crate::table::key_lookup::key_value(&cond, table_slot, info.primary_key.as_deref())
                .map(Box::new);
        Some((
            Expr::In {
                cond: Box::new(cond),
                table: index as u32,
                key,
            },
            AttrType::Bool,
        ))
    }

    /// An indexed event reference: a column of the pattern's extra slot.
    fn indexed(&mut self, r: IndexedRef, span: Span) -> Option<Typed> {
        let Some(reg) = self.scope.indexed else {
            return self.error(
                span,
                "indexed event references (`e1[0].x`) are only allowed in patterns and sequences",
            );
        };
        let mut reg = reg.borrow_mut();
        let idx = reg.column(r);
        Some((
            Expr::Attr {
                slot: reg.base,
                idx,
            },
            r.ty,
        ))
    }

    fn slot_named(&self, name: &str) -> Option<usize> {
        self.scope
            .slots
            .iter()
            .position(|s| s.names.iter().any(|n| n == name))
    }

    fn lookup_unqualified(&self, name: &str) -> Option<(usize, usize)> {
        if let Some(slot) = self.scope.current {
            return self.scope.slots[slot]
                .schema
                .index_of(name)
                .map(|a| (slot, a));
        }
        self.scope
            .slots
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.schema.index_of(name).map(|a| (i, a)))
    }

    fn attribute(&mut self, a: &ast::AttributeRef) -> Option<Typed> {
        let name = &a.name.name;
        let (slot, idx) = match &a.qualifier {
            Some(q) => {
                let Some(slot) = self.slot_named(&q.name.name) else {
                    let known: Vec<String> = self
                        .scope
                        .slots
                        .iter()
                        .flat_map(|s| s.names.clone())
                        .collect();
                    self.diags.push(
                        Diagnostic::validation(
                            q.span,
                            format!(
                                "`{}` is not a stream, alias or event reference of this query",
                                q.name.name
                            ),
                        )
                        .with_help(format!("this query can refer to: {}", known.join(", "))),
                    );
                    return None;
                };
                if let Some(i) = q.index {
                    let schema = self.scope.slots[slot].schema;
                    let Some(idx) = schema.index_of(name) else {
                        return self.missing_attribute(a, &[slot]);
                    };
                    let r = IndexedRef {
                        slot: slot as u16,
                        pos: event_pos(i),
                        attr: Some(idx as u16),
                        ty: schema.types[idx],
                    };
                    return self.indexed(r, q.span);
                }
                if self.scope.current.is_none()
                    && let Some(reg) = self.scope.indexed
                    && reg.borrow().multi.get(slot).copied().unwrap_or(false)
                    && let Some(idx) = self.scope.slots[slot].schema.index_of(name)
                {
                    let r = IndexedRef {
                        slot: slot as u16,
                        pos: ALL_EVENTS,
                        attr: Some(idx as u16),
                        ty: AttrType::Object,
                    };
                    return self.indexed(r, q.span);
                }
                match self.scope.slots[slot].schema.index_of(name) {
                    Some(idx) => (slot, idx),
                    None => return self.missing_attribute(a, &[slot]),
                }
            }
            None if let Some(slot) = self.scope.prefer
                && let Some(idx) = self.scope.slots[slot].schema.index_of(name) =>
            {
                (slot, idx)
            }
            None if let Some(slot) = self.scope.current => {
                match self.scope.slots[slot].schema.index_of(name) {
                    Some(idx) => (slot, idx),
                    None => return self.missing_attribute(a, &[slot]),
                }
            }
            None => {
                let found: Vec<(usize, usize)> = self
                    .scope
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| s.schema.index_of(name).map(|a| (i, a)))
                    .collect();
                match found.as_slice() {
                    [one] => *one,
                    [] => {
                        let all: Vec<usize> = (0..self.scope.slots.len()).collect();
                        return self.missing_attribute(a, &all);
                    }
                    [(s1, _), (s2, _), ..] => {
                        let (l1, l2) = (
                            self.scope.slots[*s1].label.clone(),
                            self.scope.slots[*s2].label.clone(),
                        );
                        return self.error(
                            a.span,
                            format!("attribute `{name}` is ambiguous: both {l1} and {l2} have it; qualify it, e.g. `{}.{name}`", self.scope.slots[*s1].names.last().map_or("s", |n| n.as_str())),
                        );
                    }
                }
            }
        };
        let ty = self.scope.slots[slot].schema.types[idx];
        Some((
            Expr::Attr {
                slot: slot as u16,
                idx: idx as u16,
            },
            ty,
        ))
    }

    fn missing_attribute(&mut self, a: &ast::AttributeRef, slots: &[usize]) -> Option<Typed> {
        let name = &a.name.name;
        let mut d = Diagnostic::validation(
            a.name.span,
            match slots {
                [s] => format!(
                    "attribute `{name}` does not exist in {}",
                    self.scope.slots[*s].label
                ),
                _ => format!("attribute `{name}` does not exist in this query's inputs"),
            },
        );
        let hints: Vec<String> = slots
            .iter()
            .map(|s| {
                format!(
                    "{} has {}",
                    self.scope.slots[*s].label,
                    self.scope.slots[*s].schema.describe()
                )
            })
            .collect();
        if !hints.is_empty() {
            d = d.with_help(hints.join("; "));
        }
        self.diags.push(d);
        None
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        span: Span,
    ) -> Option<Typed> {
        let l = self.compile(left);
        let r = self.compile(right);
        let ((le, lt), (re, rt)) = (l?, r?);
        let (le, re) = (Box::new(le), Box::new(re));
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for (ty, side) in [(lt, left), (rt, right)] {
                    if ty != AttrType::Bool {
                        return self.error(
                            side.span(),
                            format!(
                                "`{}` needs bool operands, but this is {}",
                                op.symbol(),
                                type_name(ty)
                            ),
                        );
                    }
                }
                let e = if op == BinaryOp::And {
                    Expr::And(le, re)
                } else {
                    Expr::Or(le, re)
                };
                Some((e, AttrType::Bool))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                let ty = match (NumTy::of(lt), NumTy::of(rt)) {
                    (Some(a), Some(b)) => NumTy::promote(a, b),
                    // Siddhi accepts a numeric paired with anything (it fails at run time).
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => {
                        return self.error(
                            span,
                            format!(
                                "arithmetic `{}` between {} and {} is not possible (there is no string concatenation in SiddhiQL)",
                                op.symbol(),
                                type_name(lt),
                                type_name(rt)
                            ),
                        );
                    }
                };
                let aop = match op {
                    BinaryOp::Add => ArithOp::Add,
                    BinaryOp::Sub => ArithOp::Sub,
                    BinaryOp::Mul => ArithOp::Mul,
                    BinaryOp::Div => ArithOp::Div,
                    _ => ArithOp::Mod,
                };
                Some((
                    Expr::Arith {
                        op: aop,
                        ty,
                        left: le,
                        right: re,
                    },
                    ty.attr_type(),
                ))
            }
            BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Eq
            | BinaryOp::Ne => {
                let cop = match op {
                    BinaryOp::Gt => CmpOp::Gt,
                    BinaryOp::Ge => CmpOp::Ge,
                    BinaryOp::Lt => CmpOp::Lt,
                    BinaryOp::Le => CmpOp::Le,
                    BinaryOp::Eq => CmpOp::Eq,
                    _ => CmpOp::Ne,
                };
                let equality = matches!(cop, CmpOp::Eq | CmpOp::Ne);
                match (NumTy::of(lt), NumTy::of(rt)) {
                    (Some(a), Some(b)) => {
                        let ty = compare_type(cop, a, b);
                        let general = Expr::Compare {
                            op: cop,
                            ty,
                            lt: a,
                            rt: b,
                            left: le,
                            right: re,
                        };
                        Some((specialize_compare(general), AttrType::Bool))
                    }
                    _ if equality
                        && lt == rt
                        && matches!(lt, AttrType::String | AttrType::Bool) =>
                    {
                        Some((
                            Expr::Equals {
                                negate: cop == CmpOp::Ne,
                                bools: lt == AttrType::Bool,
                                left: le,
                                right: re,
                            },
                            AttrType::Bool,
                        ))
                    }
                    _ => {
                        let msg = if !equality
                            && matches!(lt, AttrType::String | AttrType::Bool | AttrType::Object)
                        {
                            format!(
                                "{} values cannot be compared with `{}` (only numbers can)",
                                type_name(lt),
                                op.symbol()
                            )
                        } else {
                            format!(
                                "{} cannot be compared with {}",
                                type_name(lt),
                                type_name(rt)
                            )
                        };
                        self.error(span, msg)
                    }
                }
            }
        }
    }

    fn call(&mut self, call: &ast::FunctionCall) -> Option<Typed> {
        let name = &call.name.name;
        if let Some(ns) = &call.namespace {
            return self.error(
                call.span,
                format!(
                    "function `{}:{name}` is not available: Spate has no `{}` extension",
                    ns.name, ns.name
                ),
            );
        }
        let mut args = Vec::with_capacity(call.args.len());
        let mut failed = false;
        for a in &call.args {
            match self.compile(a) {
                Some(t) => args.push(t),
                None => failed = true,
            }
        }
        if failed {
            return None;
        }
        if let Some(f) = function::find(name) {
            let infos: Vec<ArgInfo<'_>> = args
                .iter()
                .map(|(e, ty)| ArgInfo {
                    ty: *ty,
                    constant: e.as_const(),
                })
                .collect();
            return match f.compile(&infos) {
                Ok((function, ty)) => {
                    let exprs = args.into_iter().map(|(e, _)| e).collect();
                    let call = Expr::Call {
                        function,
                        args: exprs,
                    };
                    // Siddhi reads a null from a bool function as false.
                    let e = if ty == AttrType::Bool {
                        Expr::NullToFalse(Box::new(call))
                    } else {
                        call
                    };
                    Some((e, ty))
                }
                Err(msg) => self.error(call.span, msg),
            };
        }
        if let Some(agg) = aggregate::find(name) {
            let types: Vec<AttrType> = args.iter().map(|(_, t)| *t).collect();
            let ty = match agg.return_type(&types) {
                Ok(t) => t,
                Err(msg) => return self.error(call.span, msg),
            };
            let Some(sink) = &mut self.aggs else {
                return self.error(
                    call.span,
                    format!(
                        "aggregate function `{name}()` can only be used in `select` and `having`"
                    ),
                );
            };
            let slot = sink.specs.len() as u32;
            sink.specs.push(AggSpec {
                factory: agg,
                arg_types: types,
                cx: sink.cx,
            });
            let arg = args.into_iter().next().map(|(e, _)| Box::new(e));
            return Some((Expr::Agg { slot, arg }, ty));
        }
        let mut d = Diagnostic::validation(
            call.name.span,
            format!("`{name}` is neither a function nor an aggregate function"),
        );
        if let Some(close) = close_name(name) {
            d = d.with_help(format!(
                "did you mean `{close}`? (function names are case-sensitive)"
            ));
        }
        self.diags.push(d);
        None
    }
}

/// Rewrites `attribute <op> numeric constant` into the non-recursive form (the general
/// comparison stays inside for nulls and relabelled values).
fn specialize_compare(general: Expr) -> Expr {
    let Expr::Compare {
        op,
        ty,
        lt,
        left,
        right,
        ..
    } = &general
    else {
        return general;
    };
    let (Expr::Attr { slot, idx }, Expr::Const(c)) = (&**left, &**right) else {
        return general;
    };
    let c = match (ty, c) {
        // Float comparisons need float rounding of the constant; keep them general.
        (NumTy::Float, _) => return general,
        (_, Value::Int(v)) => *v as f64,
        (_, Value::Long(v)) if v.unsigned_abs() < (1 << 53) => *v as f64,
        (NumTy::Double, Value::Double(v)) => *v,
        _ => return general,
    };
    let (op, ty, lt, slot, idx) = (*op, *ty, *lt, *slot, *idx);
    Expr::CompareAttrConst {
        op,
        ty,
        lt,
        slot,
        idx,
        c,
        general: Box::new(general),
    }
}

/// A known function or aggregate whose name differs only in case.
fn close_name(name: &str) -> Option<&'static str> {
    function::builtins()
        .iter()
        .map(|f| f.name())
        .chain(aggregate::builtins().iter().map(|a| a.name()))
        .find(|n| n.eq_ignore_ascii_case(name))
}

/// The value and type of a literal.
pub fn literal(lit: &Literal) -> Typed {
    let (v, t) = match lit {
        Literal::Int(v) => (Value::Int(*v), AttrType::Int),
        Literal::Long(v) => (Value::Long(*v), AttrType::Long),
        Literal::Float(v) => (Value::Float(*v), AttrType::Float),
        Literal::Double(v) => (Value::Double(*v), AttrType::Double),
        Literal::Bool(v) => (Value::Bool(*v), AttrType::Bool),
        Literal::String(s) => (Value::str(&s.value), AttrType::String),
        Literal::Time(t) => (Value::Long(t.millis), AttrType::Long),
    };
    (Expr::Const(v), t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::EvalCtx;

    fn schema() -> Schema {
        Schema::new([
            ("sym".to_string(), AttrType::String),
            ("price".to_string(), AttrType::Double),
            ("qty".to_string(), AttrType::Int),
        ])
    }

    fn compile(text: &str) -> Result<Typed, Vec<Diagnostic>> {
        let e = spate_ql::parse_expression(text).expect("parses");
        let s = schema();
        let scope = Scope::single("S", &s);
        let mut diags = Vec::new();
        let out = ExprCompiler::new(&scope, &mut diags).compile(&e);
        match out {
            Some(t) if diags.is_empty() => Ok(t),
            _ => Err(diags),
        }
    }

    fn eval(text: &str, row: &[Value]) -> Value {
        let (e, _) = compile(text).expect("compiles");
        let rows: [&[Value]; 1] = [row];
        e.eval(&mut EvalCtx::new(&rows, 0, 0))
    }

    #[test]
    fn types_follow_siddhi() {
        assert_eq!(compile("qty * 2").unwrap().1, AttrType::Int);
        assert_eq!(compile("qty + 2L").unwrap().1, AttrType::Long);
        assert_eq!(compile("qty + 0.5f").unwrap().1, AttrType::Float);
        assert_eq!(compile("price / qty").unwrap().1, AttrType::Double);
        assert_eq!(compile("sym + qty").unwrap().1, AttrType::Int);
        assert!(compile("sym + sym").is_err());
        assert!(compile("sym > 'a'").is_err());
        assert!(compile("sym == 404").is_err());
        assert!(compile("not qty").is_err());
        assert!(compile("volume > 1").is_err());
        assert!(compile("sum(price) > 1").is_err());
    }

    #[test]
    fn evaluates() {
        let row = [Value::str("IBM"), Value::Double(10.0), Value::Int(3)];
        assert_eq!(eval("price * qty", &row), Value::Double(30.0));
        assert_eq!(eval("sym == 'IBM' and qty > 2", &row), Value::Bool(true));
        assert_eq!(
            eval("ifThenElse(qty > 5, 'big', 'small')", &row),
            Value::str("small")
        );
        assert_eq!(eval("price is null", &row), Value::Bool(false));
    }
}
