//! Expressions compiled to closures for the hot path.
//!
//! The planner's [`Expr`] tree is the reference semantics; this module turns it into nested
//! closures specialised for the declared types, so a typical `price * volume` or `sum(volume)`
//! runs as a few straight-line instructions. Every fast path covers only the case where values
//! hold exactly their declared classes; anything else (nulls, values relabelled by `cast`,
//! errors) falls back to the tree evaluator, so results are identical by construction.

use std::fmt;

use crate::event::EventKind;
use crate::expr::{ArithOp, CmpOp, EvalCtx, Expr, NumTy, cmp_f64, strict};
use crate::value::Value;

type ValueFn = Box<dyn Fn(&mut EvalCtx<'_>) -> Value + Send + Sync>;
type BoolFn = Box<dyn Fn(&mut EvalCtx<'_>) -> bool + Send + Sync>;

/// An expression with its closure form.
pub struct Compiled {
    /// The tree it was compiled from (for inspection and the slow path).
    pub ir: Expr,
    value: ValueFn,
    boolean: BoolFn,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ir.fmt(f)
    }
}

impl Compiled {
    pub fn new(ir: Expr) -> Compiled {
        let value = value_fn(&ir);
        let boolean = bool_fn(&ir);
        Compiled { ir, value, boolean }
    }

    #[inline]
    pub fn eval(&self, ctx: &mut EvalCtx<'_>) -> Value {
        (self.value)(ctx)
    }

    /// As a condition: null and false are both false.
    #[inline]
    pub fn eval_bool(&self, ctx: &mut EvalCtx<'_>) -> bool {
        (self.boolean)(ctx)
    }

    /// Plain attributes and constants: evaluating them has no effect and cannot fail.
    pub fn is_leaf(&self) -> bool {
        matches!(self.ir, Expr::Attr { .. } | Expr::Const(_))
    }
}

/// The general path: the tree evaluator on a copy of the node.
fn fallback(e: &Expr) -> ValueFn {
    let e = e.clone();
    Box::new(move |ctx| e.eval(ctx))
}

fn value_fn(e: &Expr) -> ValueFn {
    match e {
        Expr::Const(v) => {
            let v = v.clone();
            Box::new(move |_| v.clone())
        }
        Expr::Attr { slot: 0, idx } => {
            let idx = *idx as usize;
            Box::new(move |ctx| ctx.rows[0].get(idx).cloned().unwrap_or_default())
        }
        Expr::Attr { slot, idx } => {
            let (slot, idx) = (*slot as usize, *idx as usize);
            Box::new(move |ctx| ctx.rows[slot].get(idx).cloned().unwrap_or_default())
        }
        Expr::Arith {
            op,
            ty,
            left,
            right,
        } => arith_fn(*op, *ty, left, right, e),
        Expr::Compare { .. }
        | Expr::CompareAttrConst { .. }
        | Expr::And(..)
        | Expr::Or(..)
        | Expr::Not(_) => {
            let b = bool_fn(e);
            Box::new(move |ctx| Value::Bool(b(ctx)))
        }
        Expr::Agg { slot, arg } => agg_fn(*slot as usize, arg.as_deref(), e),
        Expr::Call { function, args } if function.lazy_choice() && args.len() == 3 => {
            let cond = bool_fn(&args[0]);
            let (then, other) = (value_fn(&args[1]), value_fn(&args[2]));
            Box::new(move |ctx| if cond(ctx) { then(ctx) } else { other(ctx) })
        }
        _ => fallback(e),
    }
}

fn bool_fn(e: &Expr) -> BoolFn {
    if let Some(f) = compare_leaves_fn(e).or_else(|| equals_leaves_fn(e)) {
        return f;
    }
    match e {
        Expr::Compare {
            op,
            ty: NumTy::Double,
            lt,
            rt,
            left,
            right,
        } if let (Some(l), Some(r)) = (num_operand(left, *lt), num_operand(right, *rt)) => {
            // Both sides read as doubles without recursion; anything unusual (nulls,
            // relabelled values, division by zero) takes the tree path.
            let (op, slow) = (*op, e.clone());
            Box::new(move |ctx| match (l(ctx.rows), r(ctx.rows)) {
                (Some(a), Some(b)) => cmp_f64(op, a, b),
                _ => slow.eval_bool(ctx),
            })
        }
        Expr::Equals {
            negate,
            bools: false,
            left,
            right,
        } if let (Some(l), Some(r)) = (leaf(left), leaf(right)) => {
            let negate = *negate;
            Box::new(move |ctx| {
                let (a, b) = (l.get(ctx.rows), r.get(ctx.rows));
                if a.is_null() || b.is_null() {
                    return negate;
                }
                (a == b) != negate
            })
        }
        Expr::CompareAttrConst {
            op,
            ty: NumTy::Double,
            lt: NumTy::Double,
            slot,
            idx,
            c,
            ..
        } => {
            // `price > 100.0`: a double read in place, one comparison chosen here.
            let (slot, idx, c, slow) = (*slot as usize, *idx as usize, *c, e.clone());
            macro_rules! attr_const {
                ($cmp:expr) => {
                    Box::new(move |ctx: &mut EvalCtx<'_>| match ctx.rows[slot].get(idx) {
                        Some(Value::Double(x)) => $cmp(*x, c),
                        _ => slow.eval_bool(ctx),
                    })
                };
            }
            match op {
                CmpOp::Lt => attr_const!(|x: f64, c: f64| x < c),
                CmpOp::Le => attr_const!(|x: f64, c: f64| x <= c),
                CmpOp::Gt => attr_const!(|x: f64, c: f64| x > c),
                CmpOp::Ge => attr_const!(|x: f64, c: f64| x >= c),
                CmpOp::Eq => attr_const!(|x: f64, c: f64| x == c),
                CmpOp::Ne => attr_const!(|x: f64, c: f64| x != c),
            }
        }
        Expr::CompareAttrConst { .. } | Expr::Compare { .. } => {
            let e = e.clone();
            Box::new(move |ctx| e.eval_bool(ctx))
        }
        Expr::And(l, r) => {
            let (l, r) = (bool_fn(l), bool_fn(r));
            Box::new(move |ctx| l(ctx) && r(ctx))
        }
        Expr::Or(l, r) => {
            let (l, r) = (bool_fn(l), bool_fn(r));
            Box::new(move |ctx| l(ctx) || r(ctx))
        }
        Expr::Not(x) => {
            let x = bool_fn(x);
            Box::new(move |ctx| !x(ctx))
        }
        Expr::NullToFalse(x) => bool_fn(x),
        _ => {
            let v = value_fn(e);
            Box::new(move |ctx| matches!(v(ctx), Value::Bool(true)))
        }
    }
}

/// A numeric comparison of two attributes or constants (`a.price > b.price`), read in place;
/// values that are not exactly their declared classes (nulls, relabelled values) take the
/// tree evaluator.
fn compare_leaves_fn(e: &Expr) -> Option<BoolFn> {
    let Expr::Compare {
        op,
        ty,
        lt,
        rt,
        left,
        right,
    } = e
    else {
        return None;
    };
    let (l, r) = (leaf(left)?, leaf(right)?);
    let (op, ty, lt, rt) = (*op, *ty, *lt, *rt);
    let slow = e.clone();
    Some(Box::new(move |ctx| {
        let rows = ctx.rows;
        let (a, b) = (l.get(rows), r.get(rows));
        if let (Value::Double(x), Value::Double(y)) = (a, b)
            && ty == NumTy::Double
            && lt == NumTy::Double
            && rt == NumTy::Double
        {
            return cmp_f64(op, *x, *y);
        }
        match (strict(a, lt), strict(b, rt)) {
            (Some(x), Some(y)) => compare_numbers(op, ty, x, y),
            _ => slow.eval_bool(ctx),
        }
    }))
}

/// Two strictly read numbers compared in type `ty` (Java's binary numeric promotion).
#[inline]
fn compare_numbers(op: CmpOp, ty: NumTy, x: Result<f64, i64>, y: Result<f64, i64>) -> bool {
    let as_f64 = |v: Result<f64, i64>| match v {
        Ok(f) => f,
        Err(i) => i as f64,
    };
    match (ty, x, y) {
        (NumTy::Int | NumTy::Long, Err(a), Err(b)) => match op {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        },
        (NumTy::Float, x, y) => cmp_f64(op, as_f64(x) as f32 as f64, as_f64(y) as f32 as f64),
        (_, x, y) => cmp_f64(op, as_f64(x), as_f64(y)),
    }
}

/// `==` / `!=` between two attributes or constants (`a.symbol == b.symbol`), read in place.
fn equals_leaves_fn(e: &Expr) -> Option<BoolFn> {
    let Expr::Equals {
        negate,
        bools,
        left,
        right,
    } = e
    else {
        return None;
    };
    let (l, r) = (leaf(left)?, leaf(right)?);
    let (negate, bools) = (*negate, *bools);
    let slow = e.clone();
    Some(Box::new(move |ctx| {
        let rows = ctx.rows;
        match (l.get(rows), r.get(rows)) {
            (Value::Str(a), Value::Str(b)) => (a == b) != negate,
            (Value::Null, _) | (_, Value::Null) => negate,
            (Value::Bool(a), Value::Bool(b)) => (a == b) != negate,
            (a, b) if !bools => (a == b) != negate,
            _ => slow.eval_bool(ctx),
        }
    }))
}

/// An aggregate call: feeds the argument to the group's state by event kind.
fn agg_fn(slot: usize, arg: Option<&Expr>, e: &Expr) -> ValueFn {
    match arg {
        None => Box::new(move |ctx| {
            let kind = ctx.kind;
            match ctx.aggs.get_mut(slot) {
                Some(state) => match kind {
                    EventKind::Current => state.add(&Value::Null),
                    EventKind::Expired => state.remove(&Value::Null),
                    EventKind::Reset => state.reset(),
                },
                None => ctx.fail("aggregate used outside a selector"),
            }
        }),
        Some(Expr::Attr { slot: s, idx }) => {
            let (s, idx) = (*s as usize, *idx as usize);
            Box::new(move |ctx| {
                let rows = ctx.rows;
                let v = rows[s].get(idx).unwrap_or(&Value::Null);
                let kind = ctx.kind;
                match ctx.aggs.get_mut(slot) {
                    Some(state) => match kind {
                        EventKind::Current => state.add(v),
                        EventKind::Expired => state.remove(v),
                        EventKind::Reset => state.reset(),
                    },
                    None => ctx.fail("aggregate used outside a selector"),
                }
            })
        }
        Some(_) => fallback(e),
    }
}

type NumFn = Box<dyn Fn(&[&[Value]]) -> Option<f64> + Send + Sync>;

/// A comparison operand read as a double: an attribute or constant of its declared class,
/// or double arithmetic between two leaves. `None` (at run time) means "use the tree".
fn num_operand(e: &Expr, declared: NumTy) -> Option<NumFn> {
    fn as_declared(v: &Value, declared: NumTy) -> Option<f64> {
        match (declared, v) {
            (NumTy::Double, Value::Double(x)) => Some(*x),
            (NumTy::Float, Value::Float(x)) => Some(*x as f64),
            (NumTy::Long, Value::Long(x)) => Some(*x as f64),
            (NumTy::Int, Value::Int(x)) => Some(*x as f64),
            _ => None,
        }
    }
    fn any_number(v: &Value) -> Option<f64> {
        match v {
            Value::Double(x) => Some(*x),
            Value::Long(x) => Some(*x as f64),
            Value::Int(x) => Some(*x as f64),
            _ => None,
        }
    }
    match e {
        Expr::Attr { slot, idx } => {
            let (s, i) = (*slot as usize, *idx as usize);
            Some(Box::new(move |rows| as_declared(rows[s].get(i)?, declared)))
        }
        Expr::Const(v) => {
            let c = as_declared(v, declared)?;
            Some(Box::new(move |_| Some(c)))
        }
        Expr::Arith {
            op,
            ty: NumTy::Double,
            left,
            right,
        } if declared == NumTy::Double => {
            let (l, r, op) = (leaf(left)?, leaf(right)?, *op);
            Some(Box::new(move |rows| {
                let (x, y) = (any_number(l.get(rows))?, any_number(r.get(rows))?);
                match op {
                    ArithOp::Add => Some(x + y),
                    ArithOp::Sub => Some(x - y),
                    ArithOp::Mul => Some(x * y),
                    ArithOp::Div | ArithOp::Mod if y == 0.0 => None,
                    ArithOp::Div => Some(x / y),
                    ArithOp::Mod => Some(x % y),
                }
            }))
        }
        _ => None,
    }
}

/// A numeric operand read without recursion.
#[derive(Clone)]
enum Leaf {
    Attr(usize, usize),
    Const(Value),
}

fn leaf(e: &Expr) -> Option<Leaf> {
    match e {
        Expr::Attr { slot, idx } => Some(Leaf::Attr(*slot as usize, *idx as usize)),
        Expr::Const(v) => Some(Leaf::Const(v.clone())),
        _ => None,
    }
}

impl Leaf {
    #[inline(always)]
    fn get<'a>(&'a self, rows: &'a [&'a [Value]]) -> &'a Value {
        match self {
            Leaf::Attr(s, i) => rows[*s].get(*i).unwrap_or(&Value::Null),
            Leaf::Const(v) => v,
        }
    }
}

/// Arithmetic between two leaves, with a fast path for the common class combinations.
fn arith_fn(op: ArithOp, ty: NumTy, left: &Expr, right: &Expr, e: &Expr) -> ValueFn {
    let (Some(l), Some(r)) = (leaf(left), leaf(right)) else {
        return fallback(e);
    };
    let slow = e.clone();
    macro_rules! closure {
        ($fast:expr) => {
            Box::new(move |ctx: &mut EvalCtx<'_>| {
                let rows = ctx.rows;
                let fast: Option<Value> = $fast(l.get(rows), r.get(rows));
                match fast {
                    Some(v) => v,
                    None => slow.eval(ctx),
                }
            })
        };
    }
    match ty {
        NumTy::Double => closure!(|a: &Value, b: &Value| {
            let x = match a {
                Value::Double(x) => *x,
                Value::Long(x) => *x as f64,
                Value::Int(x) => *x as f64,
                _ => return None,
            };
            let y = match b {
                Value::Double(y) => *y,
                Value::Long(y) => *y as f64,
                Value::Int(y) => *y as f64,
                _ => return None,
            };
            Some(match op {
                ArithOp::Add => Value::Double(x + y),
                ArithOp::Sub => Value::Double(x - y),
                ArithOp::Mul => Value::Double(x * y),
                ArithOp::Div | ArithOp::Mod if y == 0.0 => Value::Null,
                ArithOp::Div => Value::Double(x / y),
                ArithOp::Mod => Value::Double(x % y),
            })
        }),
        NumTy::Long => closure!(|a: &Value, b: &Value| {
            let x = match a {
                Value::Long(x) => *x,
                Value::Int(x) => *x as i64,
                _ => return None,
            };
            let y = match b {
                Value::Long(y) => *y,
                Value::Int(y) => *y as i64,
                _ => return None,
            };
            Some(match op {
                ArithOp::Add => Value::Long(x.wrapping_add(y)),
                ArithOp::Sub => Value::Long(x.wrapping_sub(y)),
                ArithOp::Mul => Value::Long(x.wrapping_mul(y)),
                ArithOp::Div | ArithOp::Mod if y == 0 => Value::Null,
                ArithOp::Div => Value::Long(x.wrapping_div(y)),
                ArithOp::Mod => Value::Long(x.wrapping_rem(y)),
            })
        }),
        NumTy::Int => closure!(|a: &Value, b: &Value| {
            let (Value::Int(x), Value::Int(y)) = (a, b) else {
                return None;
            };
            let (x, y) = (*x, *y);
            Some(match op {
                ArithOp::Add => Value::Int(x.wrapping_add(y)),
                ArithOp::Sub => Value::Int(x.wrapping_sub(y)),
                ArithOp::Mul => Value::Int(x.wrapping_mul(y)),
                ArithOp::Div | ArithOp::Mod if y == 0 => Value::Null,
                ArithOp::Div => Value::Int(x.wrapping_div(y)),
                ArithOp::Mod => Value::Int(x.wrapping_rem(y)),
            })
        }),
        NumTy::Float => fallback(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::expr::{ExprCompiler, Scope};
    use crate::plan::schema::Schema;
    use crate::value::AttrType;

    /// Every compiled closure agrees with the tree evaluator on ordinary and odd values.
    #[test]
    fn closures_match_the_tree() {
        let schema = Schema::new([
            ("d".to_string(), AttrType::Double),
            ("l".to_string(), AttrType::Long),
            ("i".to_string(), AttrType::Int),
            ("s".to_string(), AttrType::String),
        ]);
        let exprs = [
            "d * l",
            "l / i",
            "i % 3",
            "i + i",
            "d - 2",
            "l * 2L",
            "d > 10.0",
            "l >= 5",
            "i < 2 and d > 1.0",
            "not (i == 3) or d != 2.5",
            "ifThenElse(d > 1.0, 'hi', 'lo')",
            "l / 0",
            "d % 0.0",
            "d < l - 150.0",
            "l * 2.0 >= d",
            "d / 0.0 < 1.0",
            "s == 'a'",
            "s != s",
            "i > d",
            "s != 'a'",
            "d > l",
            "i <= l",
            "i == 3",
            "l != 7",
            "d == d",
            "d >= 12.5",
            "d != 0.5",
            "d < 1.0",
        ];
        let rows: Vec<Vec<Value>> = vec![
            vec![
                Value::Double(12.5),
                Value::Long(7),
                Value::Int(3),
                Value::str("a"),
            ],
            vec![Value::Null, Value::Long(-9), Value::Int(0), Value::Null],
            vec![
                Value::Double(0.5),
                Value::Null,
                Value::Int(i32::MAX),
                Value::str("b"),
            ],
            vec![
                Value::Long(4),
                Value::Int(2),
                Value::Long(1),
                Value::str("cast"),
            ],
        ];
        let scope = Scope::single("S", &schema);
        for text in exprs {
            let ast = spate_ql::parse_expression(text).expect("parses");
            let mut diags = Vec::new();
            let (ir, _) = ExprCompiler::new(&scope, &mut diags)
                .compile(&ast)
                .expect("compiles");
            let compiled = Compiled::new(ir.clone());
            for row in &rows {
                let r: [&[Value]; 1] = [row];
                let mut a = EvalCtx::new(&r, 1, 2);
                let mut b = EvalCtx::new(&r, 1, 2);
                assert_eq!(compiled.eval(&mut a), ir.eval(&mut b), "{text} on {row:?}");
                assert_eq!(a.error.is_some(), b.error.is_some(), "{text} on {row:?}");
                let mut a = EvalCtx::new(&r, 1, 2);
                let mut b = EvalCtx::new(&r, 1, 2);
                assert_eq!(
                    compiled.eval_bool(&mut a),
                    ir.eval_bool(&mut b),
                    "{text} on {row:?}"
                );
            }
        }
    }
}
