//! Primary key lookups. Siddhi answers a condition that is exactly `T.k == <value>` on a
//! table with a single primary key `k` from its key map (`HashMap.get` / `TreeMap.get`)
//! instead of evaluating the condition on each row. The two differ where `==` and the map
//! disagree: a null value finds the row stored under a null key, while `null == null` is
//! false. Joins, `in` conditions, deletes and updates all look rows up this way.

use crate::expr::{CmpOp, Expr};

/// The value side of `on` when it is exactly an equality between the primary key of the
/// table in slot `table_slot` and an expression that does not read the table.
pub fn key_value(on: &Expr, table_slot: u16, pk: Option<&[usize]>) -> Option<Expr> {
    let key @ [_] = pk? else {
        return None;
    };
    key_equality(on, table_slot, key).map(|(_, value)| value.clone())
}

/// Whether `on` (table in slot 0) names a row by its whole primary key: `T.k == <value>`
/// for a single key, or `and`-ed equalities covering every attribute of a composite key —
/// what Siddhi's overwriting update-or-insert recognises.
pub fn covers_key(on: &Expr, pk: &[usize]) -> bool {
    fn collect(e: &Expr, pk: &[usize], found: &mut Vec<usize>) -> bool {
        match e {
            Expr::And(l, r) => pk.len() > 1 && collect(l, pk, found) && collect(r, pk, found),
            other => match key_equality(other, 0, pk) {
                Some((col, _)) => {
                    found.push(col);
                    true
                }
                None => false,
            },
        }
    }
    let mut found = Vec::new();
    if !collect(on, pk, &mut found) {
        return false;
    }
    found.sort_unstable();
    found.dedup();
    found.len() == pk.len()
}

/// `T.k == value` (either operand order) with `k` one of `key_cols` of the table in slot
/// `table_slot` and a value that does not read the table: the key column and the value.
fn key_equality<'e>(e: &'e Expr, table_slot: u16, key_cols: &[usize]) -> Option<(usize, &'e Expr)> {
    let (left, right) = match e {
        Expr::Compare {
            op: CmpOp::Eq,
            left,
            right,
            ..
        }
        | Expr::Equals {
            negate: false,
            left,
            right,
            ..
        } => (&**left, &**right),
        Expr::CompareAttrConst {
            op: CmpOp::Eq,
            general,
            ..
        } => return key_equality(general, table_slot, key_cols),
        _ => return None,
    };
    let key_col = |e: &Expr| match e {
        Expr::Attr { slot, idx } if *slot == table_slot && key_cols.contains(&(*idx as usize)) => {
            Some(*idx as usize)
        }
        _ => None,
    };
    match (key_col(left), key_col(right)) {
        (Some(col), _) if !right.reads_slot(table_slot) => Some((col, right)),
        (_, Some(col)) if !left.reads_slot(table_slot) => Some((col, left)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::NumTy;
    use crate::value::Value;

    fn equals(l: Expr, r: Expr) -> Expr {
        Expr::Equals {
            negate: false,
            bools: false,
            left: Box::new(l),
            right: Box::new(r),
        }
    }

    #[test]
    fn only_a_whole_key_equality_is_a_lookup() {
        let t = Expr::Attr { slot: 1, idx: 0 };
        let s = Expr::Attr { slot: 0, idx: 2 };
        assert!(key_value(&equals(t.clone(), s.clone()), 1, Some(&[0])).is_some());
        assert!(key_value(&equals(s.clone(), t.clone()), 1, Some(&[0])).is_some());
        // Not the key, a composite key, a value reading the table, a longer condition.
        assert!(key_value(&equals(t.clone(), s.clone()), 1, Some(&[1])).is_none());
        assert!(key_value(&equals(t.clone(), s.clone()), 1, Some(&[0, 1])).is_none());
        let t2 = Expr::Attr { slot: 1, idx: 1 };
        assert!(key_value(&equals(t.clone(), t2), 1, Some(&[0])).is_none());
        let and = Expr::And(
            Box::new(equals(t.clone(), s.clone())),
            Box::new(Expr::Const(Value::Bool(true))),
        );
        assert!(key_value(&and, 1, Some(&[0])).is_none());
        let num = Expr::Compare {
            op: CmpOp::Eq,
            ty: NumTy::Long,
            lt: NumTy::Long,
            rt: NumTy::Long,
            left: Box::new(s),
            right: Box::new(t),
        };
        assert!(key_value(&num, 1, Some(&[0])).is_some());
    }

    #[test]
    fn composite_keys_need_every_attribute() {
        let eq = |col: u16| {
            equals(
                Expr::Attr { slot: 0, idx: col },
                Expr::Attr { slot: 1, idx: col },
            )
        };
        let both = Expr::And(Box::new(eq(0)), Box::new(eq(2)));
        assert!(covers_key(&both, &[0, 2]));
        assert!(!covers_key(&eq(0), &[0, 2]));
        assert!(covers_key(&eq(0), &[0]));
        assert!(!covers_key(&both, &[0]));
    }
}
