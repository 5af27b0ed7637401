//! Snapshot variants of windowed queries: the events still in the window (Siddhi's
//! `WindowedPerSnapshotOutputRateLimiter`), the same with aggregates replaced by their latest
//! values (`Aggregation[GroupBy]WindowedPerSnapshotOutputRateLimiter`), and the last event of
//! every group (`AllAggregationGroupByWindowedPerSnapshotOutputRateLimiter`).
//!
//! An expired event takes the *first* kept event equal to it out of the snapshot. With
//! aggregates the equality skips aggregate outputs by Siddhi's comparator, which has an
//! indexing slip kept here on purpose ([`same_apart_from_aggregates`]).

use rustc_hash::FxHashSet;

use crate::event::{Chunk, ChunkRef, EventKind};
use crate::ratelimit::rows::{restore_opt, snapshot_opt, store};
use crate::ratelimit::ticking::Period;
use crate::ratelimit::{Keyed, Row};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

/// Removes the first kept row for which `matches` holds; a removal at the front (the usual
/// case: windows expire oldest first) costs O(1).
fn remove_first(
    kept: &mut RowQueue,
    mut matches: impl FnMut(&[Value]) -> Result<bool, String>,
) -> Result<bool, String> {
    for k in 0..kept.len() {
        if matches(kept.row(k))? {
            if k == 0 {
                kept.pop_front();
            } else {
                kept.remove(k);
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// Every current event still in the window, in arrival order (with or without `group by`:
/// the group plays no part). An expired event removes the first kept event with equal
/// output values; a reset event clears them all.
#[derive(Debug)]
pub(super) struct InWindow {
    arity: usize,
    kept: RowQueue,
}

impl InWindow {
    pub fn new(arity: usize) -> InWindow {
        InWindow {
            arity,
            kept: RowQueue::new(arity),
        }
    }
}

impl Period for InWindow {
    fn apply(&mut self, input: ChunkRef<'_>, i: usize) -> Result<(), String> {
        let values = &input.row(i)[..self.arity];
        match input.kind(i) {
            EventKind::Current => self.kept.push(input.ts(i), values),
            EventKind::Expired => {
                remove_first(&mut self.kept, |kept| Ok(kept == values))?;
            }
            EventKind::Reset => self.kept.clear(),
        }
        Ok(())
    }

    fn emit(&mut self, out: &mut Chunk) {
        for k in 0..self.kept.len() {
            out.push(self.kept.ts(k), EventKind::Current, self.kept.row(k));
        }
    }

    fn save(&self, w: &mut StateWriter) {
        self.kept.snapshot(w);
    }

    fn load(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.kept.restore(r)
    }
}

/// Siddhi's comparison of two events' output values apart from the aggregate positions
/// (`aggregates`, ascending, not empty) — as its code does it, not as it means to: after
/// skipping the aggregate at position `i` it takes the next position to skip from index `i`
/// of the list instead of the next index. So only the first aggregate is sure to be skipped,
/// later ones may be compared like plain values, and when `i` is past the end of the list
/// Siddhi throws (`ArrayIndexOutOfBoundsException`) — e.g. `select a, b, sum(x), avg(x)`. A
/// null compared on the `data` side throws too (`NullPointerException`). Both come back as
/// `Err`. Comparison stops at the first difference.
pub(crate) fn same_apart_from_aggregates(
    aggregates: &[usize],
    data: &[Value],
    other: &[Value],
) -> Result<bool, String> {
    let mut skipped = 0;
    let mut skip_at = aggregates.first().copied();
    for (i, v) in data.iter().enumerate() {
        if skip_at == Some(i) {
            skipped += 1;
            skip_at = if skipped == aggregates.len() {
                None
            } else {
                Some(*aggregates.get(i).ok_or_else(|| {
                    format!(
                        "Siddhi 5.1.7 fails comparing an expired event in `output snapshot` \
                         (ArrayIndexOutOfBoundsException: index {i}, {} aggregates)",
                        aggregates.len()
                    )
                })?)
            };
            continue;
        }
        if v.is_null() {
            return Err(format!(
                "Siddhi 5.1.7 fails comparing an expired event in `output snapshot` \
                 (NullPointerException: output {i} is null)"
            ));
        }
        if *v != other[i] {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Events in the window with their aggregate outputs replaced by the latest aggregate values
/// (without `group by`: one set of values; with it: one per group and only the first kept
/// event of each group is emitted). The latest values come from each current event, and from
/// an expired event when it matched a kept one; a reset event clears everything.
///
/// With `group by`, the kept rows carry the key after the outputs; an expired event may still
/// remove a kept event of another group, since Siddhi compares output values only.
#[derive(Debug)]
pub(super) struct Aggregated {
    arity: usize,
    key_arity: usize,
    aggregates: Vec<usize>,
    kept: RowQueue,
    /// Latest aggregate values per group key (the empty key without `group by`); a group's
    /// values start null.
    latest: Keyed<Vec<Value>>,
}

impl Aggregated {
    pub fn new(arity: usize, key_arity: usize, aggregates: Vec<usize>) -> Aggregated {
        Aggregated {
            arity,
            key_arity,
            kept: RowQueue::new(arity + key_arity),
            aggregates,
            latest: Keyed::default(),
        }
    }

    fn take_aggregates(&mut self, key: &[Value], values: &[Value]) {
        let n = self.aggregates.len();
        let latest = self.latest.entry(key, || vec![Value::Null; n]);
        for (slot, &p) in latest.iter_mut().zip(&self.aggregates) {
            *slot = values[p].clone();
        }
    }
}

impl Period for Aggregated {
    fn apply(&mut self, input: ChunkRef<'_>, i: usize) -> Result<(), String> {
        let row = input.row(i);
        let (values, key) = row.split_at(self.arity);
        let key = &key[..self.key_arity];
        let n = self.aggregates.len();
        if self.key_arity > 0 {
            // Siddhi creates the group's values on any event of the group.
            self.latest.entry(key, || vec![Value::Null; n]);
        }
        match input.kind(i) {
            EventKind::Current => {
                self.kept
                    .push(input.ts(i), &row[..self.arity + self.key_arity]);
                self.take_aggregates(key, values);
            }
            EventKind::Expired => {
                let (arity, grouped, aggregates) =
                    (self.arity, self.key_arity > 0, &self.aggregates);
                // The grouped variant compares the kept event against the expired one, the
                // other the other way round; it matters for which side may throw.
                let found = remove_first(&mut self.kept, |kept| {
                    let kept = &kept[..arity];
                    if grouped {
                        same_apart_from_aggregates(aggregates, kept, values)
                    } else {
                        same_apart_from_aggregates(aggregates, values, kept)
                    }
                })?;
                if found {
                    self.take_aggregates(key, values);
                }
            }
            EventKind::Reset => {
                self.kept.clear();
                self.latest.clear();
            }
        }
        Ok(())
    }

    fn emit(&mut self, out: &mut Chunk) {
        let arity = self.arity;
        let mut seen: FxHashSet<&[Value]> = FxHashSet::default();
        for k in 0..self.kept.len() {
            let (values, key) = self.kept.row(k).split_at(arity);
            if self.key_arity > 0 && !seen.insert(key) {
                continue;
            }
            out.push(self.kept.ts(k), EventKind::Current, values);
            let last = out.len() - 1;
            let dst = out.row_mut(last);
            match self.latest.get(key) {
                Some(latest) => {
                    for (v, &p) in latest.iter().zip(&self.aggregates) {
                        dst[p] = v.clone();
                    }
                }
                None => {
                    for &p in &self.aggregates {
                        dst[p] = Value::Null;
                    }
                }
            }
        }
    }

    fn save(&self, w: &mut StateWriter) {
        self.kept.snapshot(w);
        self.latest.snapshot(w, |w, values| w.row(values));
    }

    fn load(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.kept.restore(r)?;
        let n = self.aggregates.len();
        self.latest.restore(r, self.key_arity, |r| {
            let mut values = Vec::with_capacity(n);
            r.row_into(n, &mut values)?;
            Ok(values)
        })
    }
}

/// A group's last event and how many of its events the window holds.
#[derive(Debug, Default)]
struct GroupLast {
    count: i64,
    last: Option<Row>,
}

/// The last event — current or expired — of every group whose window count is positive,
/// groups in first-seen order; a group whose count dropped to zero is forgotten at the next
/// snapshot.
#[derive(Debug)]
pub(super) struct LastInWindowPerGroup {
    arity: usize,
    key_arity: usize,
    groups: Keyed<GroupLast>,
}

impl LastInWindowPerGroup {
    pub fn new(arity: usize, key_arity: usize) -> LastInWindowPerGroup {
        LastInWindowPerGroup {
            arity,
            key_arity,
            groups: Keyed::default(),
        }
    }
}

impl Period for LastInWindowPerGroup {
    fn apply(&mut self, input: ChunkRef<'_>, i: usize) -> Result<(), String> {
        let arity = self.arity;
        let key = &input.row(i)[arity..arity + self.key_arity];
        let group = self.groups.entry(key, GroupLast::default);
        match input.kind(i) {
            EventKind::Current => {
                store(&mut group.last, input, i, arity);
                group.count += 1;
            }
            EventKind::Expired => {
                store(&mut group.last, input, i, arity);
                group.count -= 1;
            }
            EventKind::Reset => self.groups.clear(),
        }
        Ok(())
    }

    fn emit(&mut self, out: &mut Chunk) {
        self.groups.retain(|group| {
            if group.count <= 0 {
                group.last = None;
            }
            match &group.last {
                Some(row) => {
                    row.emit(out);
                    true
                }
                None => false,
            }
        });
    }

    fn save(&self, w: &mut StateWriter) {
        self.groups.snapshot(w, |w, group| {
            w.i64(group.count);
            snapshot_opt(w, group.last.as_ref());
        });
    }

    fn load(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let arity = self.arity;
        self.groups.restore(r, self.key_arity, |r| {
            Ok(GroupLast {
                count: r.i64()?,
                last: restore_opt(r, arity)?,
            })
        })
    }
}
