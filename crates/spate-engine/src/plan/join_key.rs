//! The key of a join: a string equality between a left and a right attribute among the
//! `and`-ed conjuncts of the `on` condition. Two rows can only match when those values are
//! equal and not null, so a lookup compares them first, in place, and evaluates only the
//! rest of the condition (the residual) on the rows that pass.
//!
//! Skipping the other conjuncts on rows whose key differs must not hide an evaluation error
//! Siddhi would raise: the key is taken from the first conjunct evaluated, or from anywhere
//! when the condition cannot fail.

use crate::compiled::Compiled;
use crate::expr::Expr;

/// A join condition split into its key equality and the rest.
#[derive(Debug)]
pub struct JoinKey {
    /// The left and right attributes that must be equal.
    pub attrs: [usize; 2],
    /// The other conjuncts, in their order; `None` when the key is the whole condition.
    pub residual: Option<Compiled>,
}

/// Splits `on` (over `[left, right]`); `anywhere` allows a key that is not the first conjunct.
pub fn split(on: &Expr, anywhere: bool) -> Option<JoinKey> {
    let mut conjuncts = Vec::new();
    flatten(on, &mut conjuncts);
    let (pos, attrs) = conjuncts
        .iter()
        .enumerate()
        .take(if anywhere { conjuncts.len() } else { 1 })
        .find_map(|(i, c)| key_attrs(c).map(|k| (i, k)))?;
    conjuncts.remove(pos);
    let residual = conjuncts
        .into_iter()
        .cloned()
        .reduce(|l, r| Expr::And(Box::new(l), Box::new(r)))
        .map(Compiled::new);
    Some(JoinKey { attrs, residual })
}

/// The conjuncts of an `and` chain in evaluation order.
fn flatten<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::And(l, r) => {
            flatten(l, out);
            flatten(r, out);
        }
        other => out.push(other),
    }
}

/// `left.a == right.b` (either way round) on strings: `[a, b]`.
fn key_attrs(e: &Expr) -> Option<[usize; 2]> {
    let Expr::Equals {
        negate: false,
        bools: false,
        left,
        right,
    } = e
    else {
        return None;
    };
    match (&**left, &**right) {
        (Expr::Attr { slot: 0, idx: a }, Expr::Attr { slot: 1, idx: b })
        | (Expr::Attr { slot: 1, idx: b }, Expr::Attr { slot: 0, idx: a }) => {
            Some([*a as usize, *b as usize])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{CmpOp, NumTy};

    fn attr(slot: u16, idx: u16) -> Box<Expr> {
        Box::new(Expr::Attr { slot, idx })
    }

    fn key(l: u16, r: u16) -> Expr {
        Expr::Equals {
            negate: false,
            bools: false,
            left: attr(0, l),
            right: attr(1, r),
        }
    }

    fn gt() -> Expr {
        Expr::Compare {
            op: CmpOp::Gt,
            ty: NumTy::Double,
            lt: NumTy::Double,
            rt: NumTy::Double,
            left: attr(0, 1),
            right: attr(1, 1),
        }
    }

    #[test]
    fn first_conjunct_is_the_key() {
        let on = Expr::And(Box::new(key(0, 2)), Box::new(gt()));
        let k = split(&on, false).expect("a key");
        assert_eq!(k.attrs, [0, 2]);
        assert!(matches!(
            k.residual.map(|c| c.ir),
            Some(Expr::Compare { .. })
        ));
        assert!(split(&key(0, 0), false).is_some_and(|k| k.residual.is_none()));
    }

    #[test]
    fn a_later_key_only_when_nothing_can_fail() {
        let on = Expr::And(Box::new(gt()), Box::new(key(3, 1)));
        assert!(split(&on, false).is_none());
        assert_eq!(split(&on, true).map(|k| k.attrs), Some([3, 1]));
        let or = Expr::Or(Box::new(key(0, 0)), Box::new(gt()));
        assert!(split(&or, true).is_none());
    }
}
