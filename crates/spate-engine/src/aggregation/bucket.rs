//! One bucket of running aggregates (Siddhi's `BaseIncrementalValueStore`): a row per group,
//! each column folded as its kind says, iterated in the order of the Java `HashMap` Siddhi
//! keeps the groups in (a fresh map per bucket: by hash bucket at the grown capacity, then
//! newest first).

use rustc_hash::FxHashMap;

use super::duration::Granularity;
use super::plan::{AggregationPlan, Column};
use crate::aggregate::{AggregatorContext, AggregatorState, ProcessingMode};
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::table::java_hash;
use crate::value::Value;

const BATCH: AggregatorContext = AggregatorContext {
    mode: ProcessingMode::Batch,
    output_expects_expired: false,
};

/// Siddhi's group-by key delimiter.
const KEY_DELIMITER: &str = ":-:";

#[derive(Debug)]
struct Group {
    /// The key as Siddhi's `GroupByKeyGenerator` writes it; none without grouping.
    key: Option<String>,
    values: Vec<Value>,
    /// Per column: the aggregator of a base aggregate.
    aggs: Vec<Option<Box<dyn AggregatorState>>>,
    last_ts: i64,
}

/// The groups of one bucket.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    groups: Vec<Group>,
    index: FxHashMap<String, usize>,
    /// The slot of the only group when there is no key.
    unkeyed: Option<usize>,
}

impl Bucket {
    pub fn clear(&mut self) {
        self.groups.clear();
        self.index.clear();
        self.unkeyed = None;
    }

    fn slot(&self, key: Option<&str>) -> Option<usize> {
        match key {
            Some(k) => self.index.get(k).copied(),
            None => self.unkeyed,
        }
    }

    fn remember(&mut self, key: Option<String>, slot: usize) {
        match key {
            Some(k) => {
                self.index.insert(k, slot);
            }
            None => self.unkeyed = Some(slot),
        }
    }

    /// Folds `row` (a table row) into the group `key`, with plain values taken only from
    /// the latest event (`shouldUpdate`) and event times bucketed by `g`.
    pub fn fold(
        &mut self,
        plan: &AggregationPlan,
        key: Option<&str>,
        g: Granularity,
        row: &[Value],
    ) {
        let slot = match self.slot(key) {
            Some(s) => s,
            None => {
                let aggs = plan
                    .columns
                    .iter()
                    .map(|c| match c {
                        Column::Base { factory, ty, .. } => Some(factory.create(&[*ty], BATCH)),
                        _ => None,
                    })
                    .collect();
                self.groups.push(Group {
                    key: key.map(str::to_string),
                    values: vec![Value::Null; plan.columns.len()],
                    aggs,
                    last_ts: 0,
                });
                let s = self.groups.len() - 1;
                self.remember(key.map(str::to_string), s);
                s
            }
        };
        let group = &mut self.groups[slot];
        let update = match plan.last_ts_col() {
            Some(c) => {
                let ts = row[c].as_i64().unwrap_or(i64::MIN);
                if ts >= group.last_ts {
                    group.last_ts = ts;
                    true
                } else {
                    false
                }
            }
            None => true,
        };
        for (c, col) in plan.columns.iter().enumerate().skip(1) {
            let v = &row[c];
            match col {
                Column::Timestamp => {}
                Column::EventTimestamp(_) => {
                    group.values[c] = match v.as_i64() {
                        Some(t) => Value::Long(g.start_of(t)),
                        None => Value::Null,
                    }
                }
                Column::Variable(_) => {
                    if update {
                        group.values[c] = v.clone();
                    }
                }
                Column::LastTimestamp(_) => {
                    let keep = match (&group.values[c], v) {
                        (Value::Long(old), Value::Long(new)) => new > old,
                        (Value::Null, _) => true,
                        _ => false,
                    };
                    if keep {
                        group.values[c] = v.clone();
                    }
                }
                Column::Base { .. } => {
                    if let Some(agg) = &mut group.aggs[c] {
                        group.values[c] = agg.add(v);
                    }
                }
            }
        }
    }

    /// The rows in Java `HashMap` order, with `AGG_TIMESTAMP` set to `ts`.
    pub fn rows(&self, ts: impl Fn(i64) -> i64) -> Vec<Vec<Value>> {
        let hashes: Vec<i32> = self
            .groups
            .iter()
            .map(|g| g.key.as_deref().map_or(0, java_hash::string_hash))
            .collect();
        hash_map_order(&hashes)
            .into_iter()
            .map(|i| {
                let g = &self.groups[i];
                let mut row = g.values.clone();
                row[0] = Value::Long(ts(g.last_ts));
                row
            })
            .collect()
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.usize(self.groups.len());
        for g in &self.groups {
            w.bool(g.key.is_some());
            w.str(g.key.as_deref().unwrap_or(""));
            w.row(&g.values);
            w.i64(g.last_ts);
            for a in g.aggs.iter().flatten() {
                a.snapshot(w);
            }
        }
    }

    pub fn restore(
        &mut self,
        plan: &AggregationPlan,
        r: &mut StateReader<'_>,
    ) -> SnapshotResult<()> {
        self.clear();
        let n = r.len(1)?;
        for _ in 0..n {
            let has_key = r.bool()?;
            let key = r.str()?.to_string();
            let key = has_key.then_some(key);
            let mut values = Vec::new();
            r.row_into(plan.columns.len(), &mut values)?;
            if values.len() != plan.columns.len() {
                return Err(SnapshotError::Mismatch("aggregation row width".into()));
            }
            let last_ts = r.i64()?;
            let mut aggs = Vec::with_capacity(plan.columns.len());
            for c in &plan.columns {
                aggs.push(match c {
                    Column::Base { factory, ty, .. } => {
                        let mut a = factory.create(&[*ty], BATCH);
                        a.restore(r)?;
                        Some(a)
                    }
                    _ => None,
                });
            }
            self.remember(key.clone(), self.groups.len());
            self.groups.push(Group {
                key,
                values,
                aggs,
                last_ts,
            });
        }
        Ok(())
    }
}

/// Writes Siddhi's group key of a table row at granularity `g` into `buf`: the event-time
/// bucket (with `aggregate by`) and the `group by` values, each followed by `:-:`. False
/// when the aggregation has no key (one group).
pub(crate) fn group_key(
    plan: &AggregationPlan,
    g: Granularity,
    row: &[Value],
    buf: &mut String,
) -> bool {
    use std::fmt::Write as _;
    buf.clear();
    if plan.external {
        match row[1].as_i64() {
            Some(t) => {
                write!(buf, "{}", g.start_of(t)).expect("writing to a String cannot fail");
            }
            None => buf.push_str("null"),
        }
        buf.push_str(KEY_DELIMITER);
    }
    for &c in &plan.group_cols {
        match &row[c] {
            Value::Str(s) => buf.push_str(s),
            Value::Int(i) => write!(buf, "{i}").expect("writing to a String cannot fail"),
            Value::Long(l) => write!(buf, "{l}").expect("writing to a String cannot fail"),
            v => buf.push_str(&v.to_java_string()),
        }
        buf.push_str(KEY_DELIMITER);
    }
    plan.external || !plan.group_cols.is_empty()
}

/// The iteration order of a fresh Java `HashMap` filled by `computeIfAbsent` (as Siddhi's
/// state holders fill theirs) with keys of these hash codes in this order: by bucket at the
/// grown capacity, and within a bucket newest first, since `computeIfAbsent` links a new
/// key at the head of its bin (tree bins aside).
pub(crate) fn hash_map_order(hashes: &[i32]) -> Vec<usize> {
    let mut capacity = 16u32;
    while hashes.len() as u64 > capacity as u64 * 3 / 4 {
        capacity *= 2;
    }
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_by_key(|&i| (java_hash::bucket(hashes[i], capacity), std::cmp::Reverse(i)));
    order
}
