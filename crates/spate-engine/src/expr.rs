//! Compiled expressions: a typed tree built once by the planner and evaluated per row.
//!
//! Types were checked at compile time with Siddhi's rules; evaluation still looks at the runtime
//! variant of each value because `cast()` only relabels types. Where Siddhi's Java executor
//! would throw (a `ClassCastException` on a string in arithmetic, say) evaluation records an
//! error in the context and the caller drops the event, as Siddhi does.

use std::fmt;
use std::sync::Arc;

use crate::aggregate::AggregatorState;
use crate::event::EventKind;
use crate::table::TableRuntime;
use crate::value::{AttrType, Value};

/// What an expression can see while it runs.
pub struct EvalCtx<'a> {
    /// One row per input slot: slot 0 for single-stream queries, left/right for joins, one per
    /// state for patterns. An empty slice is an absent event: its attributes read as null.
    pub rows: &'a [&'a [Value]],
    /// Timestamp of the event being evaluated (`eventTimestamp()`).
    pub ts: i64,
    /// The runtime clock (`currentTimeMillis()`): event time in playback.
    pub now: i64,
    /// Kind of the event: aggregators add on current, remove on expired, clear on reset.
    pub kind: EventKind,
    /// Aggregator states of the current group (selector expressions only).
    pub aggs: &'a mut [Box<dyn AggregatorState>],
    /// Set when evaluation hit a runtime type error; the event is then dropped.
    pub error: Option<String>,
    /// The app's tables (`in T` conditions).
    pub tables: &'a [TableRuntime],
}

impl<'a> EvalCtx<'a> {
    pub fn new(rows: &'a [&'a [Value]], ts: i64, now: i64) -> EvalCtx<'a> {
        EvalCtx {
            rows,
            ts,
            now,
            kind: EventKind::Current,
            aggs: &mut [],
            error: None,
            tables: &[],
        }
    }

    /// The same context with access to the app's tables.
    #[inline]
    pub fn with_tables(mut self, tables: &'a [TableRuntime]) -> EvalCtx<'a> {
        self.tables = tables;
        self
    }

    /// Records a runtime error (the first one wins) and returns null.
    #[cold]
    pub fn fail(&mut self, message: impl fmt::Display) -> Value {
        if self.error.is_none() {
            self.error = Some(message.to_string());
        }
        Value::Null
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// The numeric type an operation computes in (Java binary numeric promotion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumTy {
    Int,
    Long,
    Float,
    Double,
}

impl NumTy {
    pub fn of(ty: AttrType) -> Option<NumTy> {
        Some(match ty {
            AttrType::Int => NumTy::Int,
            AttrType::Long => NumTy::Long,
            AttrType::Float => NumTy::Float,
            AttrType::Double => NumTy::Double,
            _ => return None,
        })
    }

    pub fn attr_type(self) -> AttrType {
        match self {
            NumTy::Int => AttrType::Int,
            NumTy::Long => AttrType::Long,
            NumTy::Float => AttrType::Float,
            NumTy::Double => AttrType::Double,
        }
    }

    /// Siddhi's arithmetic result type: double > float > long > int.
    pub fn promote(a: NumTy, b: NumTy) -> NumTy {
        use NumTy::*;
        match (a, b) {
            (Double, _) | (_, Double) => Double,
            (Float, _) | (_, Float) => Float,
            (Long, _) | (_, Long) => Long,
            _ => Int,
        }
    }
}

/// A scalar function compiled for fixed argument types.
pub trait ScalarFunction: Send + Sync + fmt::Debug {
    /// Evaluates the call; the function evaluates its own arguments (so `ifThenElse` can be
    /// lazy, as Siddhi's is).
    fn eval(&self, args: &[Expr], ctx: &mut EvalCtx<'_>) -> Value;
    /// The function returns its 2nd or 3rd argument by its 1st (a bool), evaluating only the
    /// chosen one (`ifThenElse`); compiled code can then inline the choice.
    fn lazy_choice(&self) -> bool {
        false
    }
    /// The result may hold a class other than the declared type (`cast` only relabels).
    fn relabels(&self) -> bool {
        false
    }
}

/// A compiled expression node.
#[derive(Debug, Clone)]
pub enum Expr {
    Const(Value),
    /// Attribute `idx` of the row in `slot`.
    Attr {
        slot: u16,
        idx: u16,
    },
    /// `e1 is null` on a pattern/join event: true when the slot holds no event.
    SlotIsNull(u16),
    Arith {
        op: ArithOp,
        ty: NumTy,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// Numeric comparison in `ty` (see [`compare_type`]); operands must hold their declared
    /// classes.
    Compare {
        op: CmpOp,
        ty: NumTy,
        lt: NumTy,
        rt: NumTy,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `attr <op> constant` on numbers: the common filter shape, evaluated without recursion.
    /// `c` is the constant converted to the comparison type `ty`.
    CompareAttrConst {
        op: CmpOp,
        ty: NumTy,
        lt: NumTy,
        slot: u16,
        idx: u16,
        c: f64,
        /// The same comparison in general form, for the rare cases (nulls, relabelled values).
        general: Box<Expr>,
    },
    /// `==` / `!=` on strings (Java `equals`, no cast) or bools (both must be bools).
    Equals {
        negate: bool,
        bools: bool,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// A bool-valued function call: null reads as false (Siddhi wraps such calls).
    NullToFalse(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>),
    Call {
        function: Arc<dyn ScalarFunction>,
        args: Vec<Expr>,
    },
    /// `cond in T`: whether some row of table `table` satisfies `cond`, which sees the row
    /// as one more slot after the query's own.
    In {
        cond: Box<Expr>,
        table: u32,
        /// `cond` is exactly `T.k == value` on the table's single primary key: the value,
        /// looked up in the key map (see [`crate::table::key_lookup`]).
        key: Option<Box<Expr>>,
    },
    /// Aggregator `slot` of the current group, fed with `arg` (or nothing for `count()`).
    Agg {
        slot: u32,
        arg: Option<Box<Expr>>,
    },
}

/// A value read from a row without cloning it, or computed.
pub enum Operand<'a> {
    Borrowed(&'a Value),
    Owned(Value),
}

impl std::ops::Deref for Operand<'_> {
    type Target = Value;
    #[inline]
    fn deref(&self) -> &Value {
        match self {
            Operand::Borrowed(v) => v,
            Operand::Owned(v) => v,
        }
    }
}

static NULL: Value = Value::Null;

impl Expr {
    /// Whether `pred` holds for this node or any node below it.
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        if pred(self) {
            return true;
        }
        match self {
            Expr::Const(_)
            | Expr::Attr { .. }
            | Expr::SlotIsNull(_)
            | Expr::CompareAttrConst { .. } => false,
            Expr::Arith { left, right, .. }
            | Expr::Compare { left, right, .. }
            | Expr::Equals { left, right, .. }
            | Expr::And(left, right)
            | Expr::Or(left, right) => left.any(pred) || right.any(pred),
            Expr::NullToFalse(x) | Expr::Not(x) | Expr::IsNull(x) => x.any(pred),
            Expr::In { cond, .. } => cond.any(pred),
            Expr::Call { args, .. } => args.iter().any(|a| a.any(pred)),
            Expr::Agg { arg, .. } => arg.as_ref().is_some_and(|a| a.any(pred)),
        }
    }

    /// Whether the expression reads an attribute of input slot `slot`.
    pub fn reads_slot(&self, slot: u16) -> bool {
        self.any(&|e| match e {
            Expr::Attr { slot: s, .. }
            | Expr::SlotIsNull(s)
            | Expr::CompareAttrConst { slot: s, .. } => *s == slot,
            _ => false,
        })
    }

    /// Whether evaluating may yield a class other than the declared type (`cast`).
    pub fn relabels(&self) -> bool {
        self.any(&|e| matches!(e, Expr::Call { function, .. } if function.relabels()))
    }

    /// Evaluation cannot fail as long as every value holds its declared class (no `cast`
    /// anywhere upstream): comparisons, logic, arithmetic and plain reads only.
    pub fn infallible_without_relabels(&self) -> bool {
        !self.any(&|e| matches!(e, Expr::Call { .. } | Expr::In { .. } | Expr::Agg { .. }))
    }

    /// Evaluates to an owned value.
    #[inline]
    pub fn eval(&self, ctx: &mut EvalCtx<'_>) -> Value {
        match self {
            Expr::Const(v) => v.clone(),
            Expr::Attr { slot, idx } => ctx.rows[*slot as usize]
                .get(*idx as usize)
                .cloned()
                .unwrap_or(Value::Null),
            _ => self.eval_computed(ctx),
        }
    }

    /// Evaluates a condition: null and false are both false.
    #[inline]
    pub fn eval_bool(&self, ctx: &mut EvalCtx<'_>) -> bool {
        match self {
            Expr::Compare {
                op,
                ty,
                lt,
                rt,
                left,
                right,
            } => compare(*op, *ty, *lt, *rt, left, right, ctx).unwrap_or(false),
            Expr::CompareAttrConst {
                op,
                ty,
                lt,
                slot,
                idx,
                c,
                general,
            } => {
                let v = ctx.rows[*slot as usize].get(*idx as usize);
                let x = match (lt, v) {
                    (NumTy::Double, Some(Value::Double(x))) => *x,
                    (NumTy::Long, Some(Value::Long(x))) if *ty != NumTy::Float => *x as f64,
                    (NumTy::Int, Some(Value::Int(x))) if *ty != NumTy::Float => *x as f64,
                    _ => return general.eval_bool(ctx),
                };
                // Long values beyond 2^53 would round in f64: compare those exactly instead.
                if *ty != NumTy::Double && x.abs() >= 9.0e15 {
                    return general.eval_bool(ctx);
                }
                cmp_f64(*op, x, *c)
            }
            Expr::NullToFalse(e) => e.eval_bool(ctx),
            Expr::And(l, r) => l.eval_bool(ctx) && r.eval_bool(ctx),
            Expr::Or(l, r) => l.eval_bool(ctx) || r.eval_bool(ctx),
            Expr::Not(e) => !e.eval_bool(ctx),
            _ => matches!(self.eval(ctx), Value::Bool(true)),
        }
    }

    fn eval_computed<'a>(&self, ctx: &mut EvalCtx<'a>) -> Value {
        match self {
            Expr::Const(_) | Expr::Attr { .. } => self.eval(ctx),
            Expr::SlotIsNull(slot) => Value::Bool(ctx.rows[*slot as usize].is_empty()),
            Expr::Arith {
                op,
                ty,
                left,
                right,
            } => arith(*op, *ty, left, right, ctx),
            Expr::Compare {
                op,
                ty,
                lt,
                rt,
                left,
                right,
            } => Value::Bool(compare(*op, *ty, *lt, *rt, left, right, ctx).unwrap_or(false)),
            Expr::Equals {
                negate,
                bools,
                left,
                right,
            } => {
                let rows: &'a [&'a [Value]] = ctx.rows;
                let l = left.operand(rows, ctx);
                let r = right.operand(rows, ctx);
                if l.is_null() || r.is_null() {
                    // `!=` with a null operand is true in Siddhi, `==` false.
                    return Value::Bool(*negate);
                }
                if *bools && !(matches!(*l, Value::Bool(_)) && matches!(*r, Value::Bool(_))) {
                    return ctx.fail(format_args!(
                        "cannot compare {:?} with {:?} as bools",
                        *l, *r
                    ));
                }
                Value::Bool((*l == *r) != *negate)
            }
            Expr::NullToFalse(e) => match e.eval(ctx) {
                Value::Null => Value::Bool(false),
                v => v,
            },
            Expr::And(..) | Expr::Or(..) | Expr::Not(_) | Expr::CompareAttrConst { .. } => {
                Value::Bool(self.eval_bool(ctx))
            }
            Expr::IsNull(e) => {
                let rows: &'a [&'a [Value]] = ctx.rows;
                Value::Bool(e.operand(rows, ctx).is_null())
            }
            Expr::Call { function, args } => function.eval(args, ctx),
            Expr::In { cond, table, key } => in_table(cond, *table, key.as_deref(), ctx),
            Expr::Agg { slot, arg } => {
                let rows: &'a [&'a [Value]] = ctx.rows;
                let v = match arg {
                    Some(a) => a.operand(rows, ctx),
                    None => Operand::Borrowed(&NULL),
                };
                let kind = ctx.kind;
                match ctx.aggs.get_mut(*slot as usize) {
                    Some(state) => match kind {
                        EventKind::Current => state.add(&v),
                        EventKind::Expired => state.remove(&v),
                        EventKind::Reset => state.reset(),
                    },
                    None => ctx.fail("aggregate used outside a selector"),
                }
            }
        }
    }

    /// Borrows attributes (from `rows`, the context's rows) and constants; computes the rest.
    #[inline]
    pub fn operand<'x>(&'x self, rows: &'x [&'x [Value]], ctx: &mut EvalCtx<'_>) -> Operand<'x> {
        match self {
            Expr::Const(v) => Operand::Borrowed(v),
            Expr::Attr { slot, idx } => {
                Operand::Borrowed(rows[*slot as usize].get(*idx as usize).unwrap_or(&NULL))
            }
            _ => Operand::Owned(self.eval(ctx)),
        }
    }

    /// Whether the expression is a constant, and its value.
    pub fn as_const(&self) -> Option<&Value> {
        match self {
            Expr::Const(v) => Some(v),
            _ => None,
        }
    }
}

/// Java arithmetic on `Number`s converted to the operation type; null in, null out; division
/// or modulo by zero gives null; a non-number operand is a runtime error.
fn arith<'a>(op: ArithOp, ty: NumTy, left: &Expr, right: &Expr, ctx: &mut EvalCtx<'a>) -> Value {
    // Attributes and constants are read in place; only nested expressions are computed.
    let rows: &'a [&'a [Value]] = ctx.rows;
    let l = left.operand(rows, ctx);
    let r = right.operand(rows, ctx);
    if l.is_null() || r.is_null() {
        return Value::Null;
    }
    macro_rules! num {
        ($v:expr, $conv:ident) => {
            match $v.$conv() {
                Some(x) => x,
                None => return ctx.fail(format_args!("{:?} is not a number", *$v)),
            }
        };
    }
    match ty {
        NumTy::Int => {
            let (a, b) = (num!(l, as_i32), num!(r, as_i32));
            match op {
                ArithOp::Add => Value::Int(a.wrapping_add(b)),
                ArithOp::Sub => Value::Int(a.wrapping_sub(b)),
                ArithOp::Mul => Value::Int(a.wrapping_mul(b)),
                ArithOp::Div if b == 0 => Value::Null,
                ArithOp::Div => Value::Int(a.wrapping_div(b)),
                ArithOp::Mod if b == 0 => Value::Null,
                ArithOp::Mod => Value::Int(a.wrapping_rem(b)),
            }
        }
        NumTy::Long => {
            let (a, b) = (num!(l, as_i64), num!(r, as_i64));
            match op {
                ArithOp::Add => Value::Long(a.wrapping_add(b)),
                ArithOp::Sub => Value::Long(a.wrapping_sub(b)),
                ArithOp::Mul => Value::Long(a.wrapping_mul(b)),
                ArithOp::Div if b == 0 => Value::Null,
                ArithOp::Div => Value::Long(a.wrapping_div(b)),
                ArithOp::Mod if b == 0 => Value::Null,
                ArithOp::Mod => Value::Long(a.wrapping_rem(b)),
            }
        }
        NumTy::Float => {
            let (a, b) = (num!(l, as_f32), num!(r, as_f32));
            match op {
                ArithOp::Add => Value::Float(a + b),
                ArithOp::Sub => Value::Float(a - b),
                ArithOp::Mul => Value::Float(a * b),
                ArithOp::Div if b == 0.0 => Value::Null,
                ArithOp::Div => Value::Float(a / b),
                ArithOp::Mod if b == 0.0 => Value::Null,
                ArithOp::Mod => Value::Float(a % b),
            }
        }
        NumTy::Double => {
            let (a, b) = (num!(l, as_f64), num!(r, as_f64));
            match op {
                ArithOp::Add => Value::Double(a + b),
                ArithOp::Sub => Value::Double(a - b),
                ArithOp::Mul => Value::Double(a * b),
                ArithOp::Div if b == 0.0 => Value::Null,
                ArithOp::Div => Value::Double(a / b),
                ArithOp::Mod if b == 0.0 => Value::Null,
                ArithOp::Mod => Value::Double(a % b),
            }
        }
    }
}

/// The type Siddhi compares two numeric classes in: Java's promotion, except that `==`/`!=`
/// between long and float compare as doubles (its equality executors widen both).
pub fn compare_type(op: CmpOp, lt: NumTy, rt: NumTy) -> NumTy {
    let eq = matches!(op, CmpOp::Eq | CmpOp::Ne);
    match (lt, rt) {
        (NumTy::Long, NumTy::Float) | (NumTy::Float, NumTy::Long) if eq => NumTy::Double,
        _ => NumTy::promote(lt, rt),
    }
}

/// Reads a value as its declared numeric class, as Java's `(Integer) x` cast does: the runtime
/// variant must match the declared type.
#[inline]
pub(crate) fn strict(v: &Value, declared: NumTy) -> Option<Result<f64, i64>> {
    match (declared, v) {
        (NumTy::Int, Value::Int(x)) => Some(Err(*x as i64)),
        (NumTy::Long, Value::Long(x)) => Some(Err(*x)),
        (NumTy::Float, Value::Float(x)) => Some(Ok(*x as f64)),
        (NumTy::Double, Value::Double(x)) => Some(Ok(*x)),
        _ => None,
    }
}

/// Numeric comparison in type `ty`; `None` when evaluation failed.
#[inline]
fn compare<'a>(
    op: CmpOp,
    ty: NumTy,
    lt: NumTy,
    rt: NumTy,
    left: &Expr,
    right: &Expr,
    ctx: &mut EvalCtx<'a>,
) -> Option<bool> {
    let rows: &'a [&'a [Value]] = ctx.rows;
    let l = left.operand(rows, ctx);
    let r = right.operand(rows, ctx);
    if l.is_null() || r.is_null() {
        // Siddhi: `!=` with a null operand is true, every other comparison false.
        return Some(op == CmpOp::Ne);
    }
    let (a, b) = match (strict(&l, lt), strict(&r, rt)) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            ctx.fail(format_args!("cannot compare {:?} with {:?}", *l, *r));
            return None;
        }
    };
    Some(match ty {
        NumTy::Int | NumTy::Long => {
            let (Err(a), Err(b)) = (a, b) else {
                return None;
            };
            match op {
                CmpOp::Lt => a < b,
                CmpOp::Le => a <= b,
                CmpOp::Gt => a > b,
                CmpOp::Ge => a >= b,
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
            }
        }
        NumTy::Float => {
            let f = |x: Result<f64, i64>| match x {
                Ok(v) => v as f32,
                Err(i) => i as f32,
            };
            let (a, b) = (f(a), f(b));
            cmp_f64(op, a as f64, b as f64)
        }
        NumTy::Double => {
            let f = |x: Result<f64, i64>| match x {
                Ok(v) => v,
                Err(i) => i as f64,
            };
            cmp_f64(op, f(a), f(b))
        }
    })
}

#[inline]
pub(crate) fn cmp_f64(op: CmpOp, a: f64, b: f64) -> bool {
    match op {
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
    }
}

/// `cond in T`: evaluates `cond` with each table row appended to the context's rows.
fn in_table(cond: &Expr, table: u32, key: Option<&Expr>, ctx: &mut EvalCtx<'_>) -> Value {
    let tables = ctx.tables;
    let Some(t) = tables.get(table as usize) else {
        return ctx.fail("`in` condition evaluated without its table");
    };
    if let Some(key) = key {
        let v = key.eval(ctx);
        return Value::Bool(t.find_key(std::slice::from_ref(&v)).is_some());
    }
    let mut rows: Vec<&[Value]> = Vec::with_capacity(ctx.rows.len() + 1);
    rows.extend_from_slice(ctx.rows);
    rows.push(&[]);
    let last = rows.len() - 1;
    let mut found = false;
    let mut error = None;
    for row in t.rows() {
        rows[last] = row;
        let mut inner = EvalCtx::new(&rows, ctx.ts, ctx.now).with_tables(tables);
        found = cond.eval_bool(&mut inner);
        error = inner.error;
        if found || error.is_some() {
            break;
        }
    }
    match error {
        Some(e) => ctx.fail(e),
        None => Value::Bool(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(idx: u16) -> Box<Expr> {
        Box::new(Expr::Attr { slot: 0, idx })
    }

    fn c(v: Value) -> Box<Expr> {
        Box::new(Expr::Const(v))
    }

    #[test]
    fn int_arithmetic_wraps_truncates_and_nulls_on_zero() {
        let row = [Value::Int(i32::MAX), Value::Int(-7), Value::Int(0)];
        let rows: [&[Value]; 1] = [&row];
        let mut ctx = EvalCtx::new(&rows, 0, 0);
        let e = |op, l, r| Expr::Arith {
            op,
            ty: NumTy::Int,
            left: l,
            right: r,
        };
        assert_eq!(
            e(ArithOp::Add, attr(0), c(Value::Int(7))).eval(&mut ctx),
            Value::Int(-2147483642)
        );
        assert_eq!(
            e(ArithOp::Div, attr(1), c(Value::Int(3))).eval(&mut ctx),
            Value::Int(-2)
        );
        assert_eq!(
            e(ArithOp::Mod, attr(1), c(Value::Int(3))).eval(&mut ctx),
            Value::Int(-1)
        );
        assert_eq!(
            e(ArithOp::Div, attr(1), attr(2)).eval(&mut ctx),
            Value::Null
        );
        assert!(ctx.error.is_none());
    }

    #[test]
    fn comparisons_with_null_are_false_and_strict_on_class() {
        let row = [Value::Null, Value::Long(5), Value::Double(2.5)];
        let rows: [&[Value]; 1] = [&row];
        let mut ctx = EvalCtx::new(&rows, 0, 0);
        let gt = |l, lt, r, rt| Expr::Compare {
            op: CmpOp::Gt,
            ty: NumTy::promote(lt, rt),
            lt,
            rt,
            left: l,
            right: r,
        };
        assert!(!gt(attr(0), NumTy::Int, c(Value::Int(1)), NumTy::Int).eval_bool(&mut ctx));
        let ne = Expr::Compare {
            op: CmpOp::Ne,
            ty: NumTy::Int,
            lt: NumTy::Int,
            rt: NumTy::Int,
            left: attr(0),
            right: c(Value::Int(1)),
        };
        assert!(ne.eval_bool(&mut ctx), "!= with null is true");
        assert!(gt(attr(1), NumTy::Long, attr(2), NumTy::Double).eval_bool(&mut ctx));
        assert!(ctx.error.is_none());
        // A long relabelled as int by cast() fails like Java's (Integer) cast.
        assert!(!gt(attr(1), NumTy::Int, c(Value::Int(1)), NumTy::Int).eval_bool(&mut ctx));
        assert!(ctx.error.is_some());
    }

    #[test]
    fn string_in_arithmetic_is_a_runtime_error() {
        let row = [Value::str("x")];
        let rows: [&[Value]; 1] = [&row];
        let mut ctx = EvalCtx::new(&rows, 0, 0);
        let e = Expr::Arith {
            op: ArithOp::Add,
            ty: NumTy::Int,
            left: attr(0),
            right: c(Value::Int(1)),
        };
        assert_eq!(e.eval(&mut ctx), Value::Null);
        assert!(ctx.error.is_some());
    }
}
