//! Table changes from query outputs — `insert into`, `delete ... on`, `update ... set ... on`,
//! `update or insert into ... on` — with the effects of Siddhi 5.1.7's in-memory table
//! operators: each output event in turn reaches every matching row in scan order, and `set`
//! assignments apply one by one in the order Siddhi's `HashMap` of attribute positions keeps
//! them (see [`assignment_order`]).
//!
//! How an update treats the rows it found depends on how Siddhi holds the table:
//! - a table without `@primaryKey`/`@index` is a list: each `set` value is computed against
//!   the row being updated, seeing the assignments applied before it;
//! - an indexed table's operator never binds the found row while computing `set` values, so
//!   table attributes read null there; when a new value changes an indexed attribute, the
//!   found rows are deleted and inserted again (a taken primary key aborts the update);
//! - `update or insert` whose `on` is exactly the primary key equality replaces the row
//!   stored under the output's key, or adds it, and ignores `set` (Siddhi's overwrite
//!   operator).
//!
//! For update-or-insert, the events that matched nothing are inserted after the whole chunk,
//! each first merged (with `set`, the pending row bound) into every earlier pending row it
//! matches, as Siddhi's reduce step does.

use std::collections::HashSet;

use crate::compiled::Compiled;
use crate::event::ChunkRef;
use crate::expr::EvalCtx;
use crate::value::Value;

use super::TableRuntime;

/// What a query does to a table with its output.
#[derive(Debug)]
pub enum TableOp {
    Insert,
    Delete {
        on: RowMatch,
    },
    Update {
        on: RowMatch,
        set: Vec<(usize, Compiled)>,
    },
    UpdateOrInsert {
        on: RowMatch,
        set: Vec<(usize, Compiled)>,
        /// `on` is exactly the primary key equality: rows are replaced whole.
        overwrite: bool,
    },
}

/// How an operation finds its rows: the `on` condition, answered from the key map when it is
/// exactly the primary key equality (see [`super::key_lookup`]).
#[derive(Debug)]
pub struct RowMatch {
    pub cond: Compiled,
    /// The looked-up value, over `[table row (absent), output row]`.
    pub key: Option<Compiled>,
}

impl RowMatch {
    /// The rows `row` reaches, in scan order.
    fn rows(
        &self,
        table: &TableRuntime,
        row: &[Value],
        ts: i64,
        now: i64,
    ) -> Result<Vec<usize>, String> {
        if let Some(key) = &self.key {
            let v = eval_unbound(key, row, ts, now)?;
            return Ok(table
                .find_key(std::slice::from_ref(&v))
                .into_iter()
                .collect());
        }
        let mut found = Vec::new();
        for slot in table.scan() {
            if let Some(stored) = table.row(slot)
                && matches(&self.cond, stored, row, ts, now)?
            {
                found.push(slot);
            }
        }
        Ok(found)
    }
}

/// Applies `op` for every row of `rows` (output rows of the query). Conditions and
/// assignments see the table row as slot 0 and the output row as slot 1.
pub fn apply(
    table: &mut TableRuntime,
    op: &TableOp,
    rows: ChunkRef<'_>,
    now: i64,
) -> Result<(), String> {
    match op {
        TableOp::Insert => {
            for i in 0..rows.len() {
                table.insert(rows.row(i).to_vec());
            }
            Ok(())
        }
        TableOp::Delete { on } => {
            for i in 0..rows.len() {
                for slot in on.rows(table, rows.row(i), rows.ts(i), now)? {
                    table.remove(slot);
                }
            }
            Ok(())
        }
        TableOp::Update { on, set } => {
            for i in 0..rows.len() {
                update(table, on, set, rows.row(i), rows.ts(i), now)?;
            }
            Ok(())
        }
        TableOp::UpdateOrInsert {
            overwrite: true, ..
        } => {
            for i in 0..rows.len() {
                table.overwrite(rows.row(i));
            }
            Ok(())
        }
        TableOp::UpdateOrInsert { on, set, .. } => {
            let mut failed = Vec::new();
            for i in 0..rows.len() {
                if !update(table, on, set, rows.row(i), rows.ts(i), now)? {
                    failed.push(i);
                }
            }
            // Rows to insert, merged among themselves as Siddhi's reduce step does.
            let mut pending: Vec<Vec<Value>> = Vec::new();
            for i in failed {
                let (row, ts) = (rows.row(i), rows.ts(i));
                let mut merged = false;
                for p in pending.iter_mut() {
                    if matches(&on.cond, p, row, ts, now)? {
                        assign_in_order(set, p, row, ts, now)?;
                        merged = true;
                    }
                }
                if !merged {
                    pending.push(row.to_vec());
                }
            }
            for p in pending {
                table.insert(p);
            }
            Ok(())
        }
    }
}

/// Updates the rows matching `on` for one output row; returns whether any matched.
fn update(
    table: &mut TableRuntime,
    on: &RowMatch,
    set: &[(usize, Compiled)],
    row: &[Value],
    ts: i64,
    now: i64,
) -> Result<bool, String> {
    let found = on.rows(table, row, ts, now)?;
    if found.is_empty() {
        return Ok(false);
    }
    if !table.is_indexed() {
        for slot in found {
            if let Some(stored) = table.row(slot) {
                let mut updated = stored.to_vec();
                assign_in_order(set, &mut updated, row, ts, now)?;
                table.set_values(slot, &updated);
            }
        }
        return Ok(true);
    }
    match indexed_change(table, set, &found, row, ts, now)? {
        IndexedChange::InPlace => {
            for &slot in &found {
                for (col, value) in set {
                    let v = eval_unbound(value, row, ts, now)?;
                    table.set_value(slot, *col, v);
                }
            }
        }
        IndexedChange::Reinsert => {
            let mut moved: Vec<Vec<Value>> = found
                .iter()
                .filter_map(|&s| table.row(s).map(<[Value]>::to_vec))
                .collect();
            for slot in on.rows(table, row, ts, now)? {
                table.remove(slot);
            }
            for values in &mut moved {
                for (col, value) in set {
                    values[*col] = eval_unbound(value, row, ts, now)?;
                }
            }
            for values in moved {
                table.insert(values);
            }
        }
        IndexedChange::KeyTaken(key) => {
            crate::diagnostics::runtime_error(&format!(
                "table `{}`: update failed, a row with primary key {} is already stored",
                table.name,
                key.to_java_string()
            ));
        }
    }
    Ok(true)
}

/// How an update of an indexed table goes (Siddhi's `IndexOperator.update`).
enum IndexedChange {
    InPlace,
    /// A new value changes an indexed attribute: delete the rows and add them again.
    Reinsert,
    /// The new primary key is already stored: nothing changes.
    KeyTaken(Value),
}

fn indexed_change(
    table: &TableRuntime,
    set: &[(usize, Compiled)],
    found: &[usize],
    row: &[Value],
    ts: i64,
    now: i64,
) -> Result<IndexedChange, String> {
    for (col, value) in set {
        if !table.is_indexed_attribute(*col) {
            continue;
        }
        let mut keys: Option<HashSet<Value>> = (table.primary_key() == Some(&[*col][..]))
            .then(|| table.stored_keys().map(|k| k[0].clone()).collect());
        let mut changed = false;
        for &slot in found {
            let new = eval_unbound(value, row, ts, now)?;
            let Some(old) = table.row(slot).map(|r| r[*col].clone()) else {
                continue;
            };
            if new.is_null() || old.is_null() || new == old {
                continue;
            }
            changed = true;
            let Some(keys) = &mut keys else {
                break;
            };
            keys.remove(&old);
            if !keys.insert(new.clone()) {
                return Ok(IndexedChange::KeyTaken(new));
            }
        }
        if changed {
            return Ok(IndexedChange::Reinsert);
        }
    }
    Ok(IndexedChange::InPlace)
}

fn matches(
    on: &Compiled,
    stored: &[Value],
    row: &[Value],
    ts: i64,
    now: i64,
) -> Result<bool, String> {
    let pair: [&[Value]; 2] = [stored, row];
    let mut ecx = EvalCtx::new(&pair, ts, now);
    let hit = on.eval_bool(&mut ecx);
    match ecx.error {
        Some(e) => Err(e),
        None => Ok(hit),
    }
}

/// A `set` value computed with no table row bound (its attributes read null).
fn eval_unbound(value: &Compiled, row: &[Value], ts: i64, now: i64) -> Result<Value, String> {
    let pair: [&[Value]; 2] = [&[], row];
    let mut ecx = EvalCtx::new(&pair, ts, now);
    let v = value.eval(&mut ecx);
    match ecx.error {
        Some(e) => Err(e),
        None => Ok(v),
    }
}

/// Applies the assignments in order on `stored`, each seeing the row as updated so far.
fn assign_in_order(
    set: &[(usize, Compiled)],
    stored: &mut [Value],
    row: &[Value],
    ts: i64,
    now: i64,
) -> Result<(), String> {
    for (idx, value) in set {
        let v = {
            let pair: [&[Value]; 2] = [stored, row];
            let mut ecx = EvalCtx::new(&pair, ts, now);
            let v = value.eval(&mut ecx);
            if let Some(e) = ecx.error {
                return Err(e);
            }
            v
        };
        stored[*idx] = v;
    }
    Ok(())
}

/// The order Siddhi applies `set` assignments in: it keeps them in a `HashMap` keyed by
/// attribute position (a later assignment of the same attribute replaces the earlier one in
/// its place), so they run by bucket — the position masked to the map's capacity, which
/// starts at 16 and doubles past 3/4 full — then in insertion order.
pub fn assignment_order<T>(assignments: Vec<(usize, T)>) -> Vec<(usize, T)> {
    let mut unique: Vec<(usize, T)> = Vec::with_capacity(assignments.len());
    for (idx, value) in assignments {
        match unique.iter_mut().find(|(i, _)| *i == idx) {
            Some(slot) => slot.1 = value,
            None => unique.push((idx, value)),
        }
    }
    let mut capacity = 16usize;
    while unique.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mut ordered: Vec<(usize, usize, (usize, T))> = unique
        .into_iter()
        .enumerate()
        .map(|(n, a)| (a.0 & (capacity - 1), n, a))
        .collect();
    ordered.sort_by_key(|(bucket, n, _)| (*bucket, *n));
    ordered.into_iter().map(|(_, _, a)| a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_follow_java_hash_map_order() {
        let order = |v: Vec<usize>| -> Vec<usize> {
            assignment_order(v.into_iter().map(|i| (i, ())).collect())
                .into_iter()
                .map(|(i, _)| i)
                .collect()
        };
        assert_eq!(order(vec![3, 1, 2]), vec![1, 2, 3]);
        // Position 20 falls in bucket 4 of a 16-bucket map, before 5.
        assert_eq!(order(vec![5, 20]), vec![20, 5]);
        // A repeated attribute keeps its first place.
        assert_eq!(order(vec![2, 1, 2]), vec![1, 2]);
    }
}
