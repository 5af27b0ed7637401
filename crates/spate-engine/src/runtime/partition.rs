//! Partitions: events of a keyed stream go to the instance of their key (created on the
//! key's first event); each instance runs its own copy of the partition's queries, with its
//! own inner streams (`#S`). Streams the partition reads without keying them go to every
//! instance, in the order Siddhi's key set iterates.

use rustc_hash::FxHashMap;

use super::{AppRuntime, Junction, OutputSink, QueryRef};
use crate::event::{Chunk, ChunkRef};
use crate::expr::{EvalCtx, Expr};
use crate::plan::{AppPlan, InputPlan, InputSource, KeyPlan, QueryPlan, StreamId};
use crate::query::{QueryRuntime, Side};
use crate::scheduler::{OwnerKind, TimerOwner};
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::table::java_hash;
use crate::value::Value;

/// Writes the text of a non-null key value (Java's `String.valueOf`) into `buf`.
fn key_text(v: &Value, buf: &mut String) {
    use std::fmt::Write;
    buf.clear();
    match v {
        Value::Str(s) => buf.push_str(s),
        // Writing into a `String` cannot fail.
        Value::Int(v) => write!(buf, "{v}").unwrap_or_default(),
        Value::Long(v) => write!(buf, "{v}").unwrap_or_default(),
        v => buf.push_str(&v.to_java_string()),
    }
}

/// The running instances of one partition.
pub(super) struct PartitionRt {
    /// Per stream: the partition's queries reading it (index in the partition, side).
    pub local: Vec<Vec<(u32, Side)>>,
    instances: Vec<Instance>,
    /// Live instances by key.
    by_key: FxHashMap<String, usize>,
    /// With `@purge`: the app time of the next purge, once the clock has moved.
    purge_next: Option<i64>,
    /// Instances by key value, in front of `by_key`: equal values have equal texts, so a
    /// hit skips formatting the text (most events carry a key seen before).
    by_value: FxHashMap<Value, u32>,
}

struct Instance {
    key: String,
    /// Empty once the instance is purged.
    queries: Vec<QueryRuntime>,
    /// App time of the key's latest event.
    last_seen: i64,
    /// Purged instances keep their slot (their timer states stay registered, empty), so
    /// instance and timer numbering stay stable for snapshots.
    alive: bool,
}

impl PartitionRt {
    pub fn new(streams: usize) -> PartitionRt {
        PartitionRt {
            local: vec![Vec::new(); streams],
            instances: Vec::new(),
            by_key: FxHashMap::default(),
            purge_next: None,
            by_value: FxHashMap::default(),
        }
    }
}

/// Calls `f` with each input of query `q` (source and side), in subscription order.
pub(super) fn subscriptions(q: &QueryPlan, mut f: impl FnMut(InputSource, Side)) {
    match &q.input {
        InputPlan::Single(s) => f(s.source, Side::Left),
        InputPlan::Pattern(p) => {
            for (r, rp) in p.receivers.iter().enumerate() {
                f(rp.source, Side::Pattern(r as u16));
            }
        }
        InputPlan::Join(j) => {
            let (l, r) = (j.sides[0].input.source, j.sides[1].input.source);
            if l == r && matches!(l, InputSource::Window(_)) {
                // Siddhi gives a named window joined with itself a receiver with one
                // processor slot; the left side takes it, so only the left triggers.
                f(l, Side::Left);
            } else if l == r {
                f(l, Side::Both);
            } else {
                f(l, Side::Left);
                f(r, Side::Right);
            }
        }
    }
}

/// The app streams partition `p` reads (keyed or not), in order of first use; inner streams
/// are the partition's own.
pub(super) fn global_reads(plan: &AppPlan, p: usize) -> Vec<StreamId> {
    let mut out: Vec<StreamId> = Vec::new();
    for &q in &plan.partitions[p].queries {
        subscriptions(&plan.queries[q], |source, _| {
            if let InputSource::Stream(s) = source
                && plan.streams[s as usize].partition.is_none()
                && !out.contains(&s)
            {
                out.push(s);
            }
        });
    }
    out
}

/// The query `r` refers to, if it exists.
pub(super) fn query_slot<'a>(
    queries: &'a mut [Option<QueryRuntime>],
    partitions: &'a mut [PartitionRt],
    r: QueryRef,
) -> Option<&'a mut QueryRuntime> {
    match r {
        QueryRef::Global(q) => queries.get_mut(q)?.as_mut(),
        QueryRef::Part { p, k, j } => partitions
            .get_mut(p)?
            .instances
            .get_mut(k)?
            .queries
            .get_mut(j),
    }
}

impl AppRuntime {
    /// Events of stream `s` reaching partition `p`.
    pub(super) fn route_partition(
        &mut self,
        p: usize,
        s: usize,
        chunk: ChunkRef<'_>,
        sink: &mut dyn OutputSink,
    ) {
        // The common case: one event, one value key, found by value without formatting it.
        let single = match self.plan.partitions[p].keys_of(s as StreamId) {
            None => {
                for k in self.key_set_order(p) {
                    self.run_receivers(Junction::Local { p, k, s }, chunk, sink);
                }
                return;
            }
            Some([KeyPlan::Value(e)]) if chunk.len() == 1 => Some(match &e.ir {
                Expr::Attr { slot: 0, idx } => Err(*idx as usize),
                _ => {
                    let rows: [&[Value]; 1] = [chunk.row(0)];
                    let mut ecx =
                        EvalCtx::new(&rows, chunk.ts(0), self.clock).with_tables(&self.tables);
                    Ok(e.eval(&mut ecx))
                }
            }),
            Some(_) => None,
        };
        if let Some(key) = single {
            let v = match &key {
                Err(idx) => chunk.row(0).get(*idx).unwrap_or(&Value::Null),
                Ok(v) => v,
            };
            if v.is_null() {
                return;
            }
            let clock = self.clock;
            let part = &mut self.partitions[p];
            let k = match part.by_value.get(v) {
                Some(&k) => {
                    part.instances[k as usize].last_seen = clock;
                    k as usize
                }
                None => self.instance_of_value(p, v.clone()),
            };
            self.run_receivers(Junction::Local { p, k, s }, chunk, sink);
            return;
        }
        let plan = self.plan.clone();
        let Some(keys) = plan.partitions[p].keys_of(s as StreamId) else {
            return;
        };
        if let ([key], 1) = (keys, chunk.len()) {
            let mut buf = std::mem::take(&mut self.key_buf);
            if self.key_into(key, chunk, 0, &mut buf) {
                let k = self.instance(p, &buf);
                self.key_buf = buf;
                self.run_receivers(Junction::Local { p, k, s }, chunk, sink);
            } else {
                self.key_buf = buf;
            }
            return;
        }
        // Consecutive events of the same key travel together, as Siddhi groups them.
        let mut run: Option<(String, Vec<usize>)> = None;
        for i in 0..chunk.len() {
            for key in keys {
                let Some(key) = self.key_of(key, chunk, i) else {
                    continue;
                };
                match &mut run {
                    Some((current, rows)) if *current == key => {
                        if rows.last() != Some(&i) {
                            rows.push(i);
                        }
                    }
                    _ => {
                        if let Some((current, rows)) = run.take() {
                            self.send_keyed(p, s, &current, chunk, &rows, sink);
                        }
                        run = Some((key, vec![i]));
                    }
                }
            }
        }
        if let Some((current, rows)) = run {
            self.send_keyed(p, s, &current, chunk, &rows, sink);
        }
    }

    /// The instance of the (non-null) key value `v`, remembered by value.
    #[cold]
    fn instance_of_value(&mut self, p: usize, v: Value) -> usize {
        let mut buf = std::mem::take(&mut self.key_buf);
        key_text(&v, &mut buf);
        let k = self.instance(p, &buf);
        self.key_buf = buf;
        self.partitions[p].by_value.insert(v, k as u32);
        k
    }

    fn key_of(&self, key: &KeyPlan, chunk: ChunkRef<'_>, i: usize) -> Option<String> {
        let mut buf = String::new();
        self.key_into(key, chunk, i, &mut buf).then_some(buf)
    }

    /// Writes the key of row `i` (the value's text, or the range's label) into `buf`;
    /// false when the event has no key here.
    fn key_into(&self, key: &KeyPlan, chunk: ChunkRef<'_>, i: usize, buf: &mut String) -> bool {
        let rows: [&[Value]; 1] = [chunk.row(i)];
        let mut ecx = EvalCtx::new(&rows, chunk.ts(i), self.clock).with_tables(&self.tables);
        buf.clear();
        match key {
            KeyPlan::Value(e) => {
                let v = e.eval(&mut ecx);
                !v.is_null() && {
                    key_text(&v, buf);
                    true
                }
            }
            KeyPlan::Range(cond, label) => {
                let hit = cond.eval_bool(&mut ecx);
                if hit {
                    buf.push_str(label);
                }
                hit
            }
        }
    }

    fn send_keyed(
        &mut self,
        p: usize,
        s: usize,
        key: &str,
        chunk: ChunkRef<'_>,
        rows: &[usize],
        sink: &mut dyn OutputSink,
    ) {
        let k = self.instance(p, key);
        if rows.len() == chunk.len() {
            self.run_receivers(Junction::Local { p, k, s }, chunk, sink);
            return;
        }
        let mut part = Chunk::new(chunk.arity);
        part.batch = chunk.batch;
        for &i in rows {
            part.push(chunk.ts(i), chunk.kind(i), chunk.row(i));
        }
        self.run_receivers(Junction::Local { p, k, s }, part.as_ref(), sink);
    }

    /// The instance of `key`, created (queries copied, timers registered) on first use.
    pub(super) fn instance(&mut self, p: usize, key: &str) -> usize {
        let clock = self.clock;
        let part = &mut self.partitions[p];
        if let Some(&k) = part.by_key.get(key) {
            part.instances[k].last_seen = clock;
            return k;
        }
        let k = self.partitions[p].instances.len();
        let queries = self.plan.partitions[p]
            .queries
            .iter()
            .map(|&q| {
                let owner = TimerOwner {
                    kind: OwnerKind::PartitionQuery,
                    element: q as u32,
                    instance: k as u32,
                    key_hash: java_hash::string_hash(key),
                    ..TimerOwner::default()
                };
                QueryRuntime::new_for(self.plan.clone(), q, owner, self.clock, &mut self.scheduler)
            })
            .collect();
        let part = &mut self.partitions[p];
        part.instances.push(Instance {
            key: key.to_string(),
            queries,
            last_seen: clock,
            alive: true,
        });
        part.by_key.insert(key.to_string(), k);
        self.instance_order.push((p as u32, k as u32));
        k
    }

    /// Instances in the order Siddhi's copy of the key set (a Java `HashSet`) iterates.
    fn key_set_order(&self, p: usize) -> Vec<usize> {
        let instances = &self.partitions[p].instances;
        let n = self.partitions[p].by_key.len();
        // `new HashSet<>(keys)`: capacity is the next power of two of max(n / .75 + 1, 16).
        let wanted = ((n as f64 / 0.75) as usize + 1).max(16);
        let capacity = wanted.next_power_of_two() as u32;
        let mut order: Vec<usize> = (0..instances.len())
            .filter(|&k| instances[k].alive)
            .collect();
        order.sort_by_key(|&k| {
            java_hash::bucket(java_hash::string_hash(&instances[k].key), capacity)
        });
        order
    }

    pub(super) fn snapshot_partitions(&self, w: &mut StateWriter) {
        w.usize(self.partitions.len());
        for part in &self.partitions {
            w.i64(part.purge_next.unwrap_or(i64::MIN));
        }
        w.usize(self.instance_order.len());
        for &(p, k) in &self.instance_order {
            let inst = &self.partitions[p as usize].instances[k as usize];
            w.u64(u64::from(p));
            w.str(&inst.key);
            w.bool(inst.alive);
            w.i64(inst.last_seen);
            for q in &inst.queries {
                w.section(|w| q.snapshot(w));
            }
        }
    }

    pub(super) fn restore_partitions(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let n = r.usize()?;
        if n != self.partitions.len() {
            return Err(SnapshotError::Mismatch(format!(
                "app has {} partitions, snapshot {n}",
                self.partitions.len()
            )));
        }
        for part in &mut self.partitions {
            part.purge_next = Some(r.i64()?).filter(|&t| t != i64::MIN);
        }
        self.purge_due = self.next_purge_due();
        let n = r.usize()?;
        for _ in 0..n {
            let p = r.u64()? as usize;
            let key = r.str()?.to_string();
            if p >= self.partitions.len() {
                return Err(SnapshotError::Mismatch(format!("app has no partition {p}")));
            }
            let k = self.instance(p, &key);
            let alive = r.bool()?;
            self.partitions[p].instances[k].last_seen = r.i64()?;
            if !alive {
                // Its timer states are restored (empty) with the scheduler's.
                // Restores run on a fresh runtime, whose `by_value` is still empty.
                self.kill_instance(p, k);
                continue;
            }
            for j in 0..self.partitions[p].instances[k].queries.len() {
                let mut sec = r.section()?;
                self.partitions[p].instances[k].queries[j].restore(&mut sec)?;
                sec.finish()?;
            }
        }
        Ok(())
    }
}

impl AppRuntime {
    /// The earliest pending purge over all partitions: `i64::MIN` while a partition with
    /// `@purge` waits for the clock to move, `i64::MAX` when nothing is to purge.
    pub(super) fn next_purge_due(&self) -> i64 {
        self.plan
            .partitions
            .iter()
            .zip(&self.partitions)
            .filter(|(plan, _)| plan.purge.is_some())
            .map(|(_, part)| part.purge_next.unwrap_or(i64::MIN))
            .min()
            .unwrap_or(i64::MAX)
    }

    /// Runs the purges due by `now`: drops instances whose key has been idle for longer than
    /// the partition's idle period. A purge is first armed one interval after the clock
    /// first moves (Siddhi schedules it from the first instance, on the wall clock).
    pub(super) fn purge_partitions(&mut self, now: i64) {
        let plan = self.plan.clone();
        for (p, pp) in plan.partitions.iter().enumerate() {
            let Some(purge) = pp.purge else { continue };
            let Some(mut next) = self.partitions[p].purge_next else {
                self.partitions[p].purge_next = Some(now.saturating_add(purge.interval_ms));
                continue;
            };
            if now < next {
                continue;
            }
            let mut at = next;
            while next <= now {
                at = next;
                next = next.saturating_add(purge.interval_ms);
            }
            self.partitions[p].purge_next = Some(next);
            let idle: Vec<usize> = self.partitions[p]
                .instances
                .iter()
                .enumerate()
                .filter(|(_, i)| i.alive && i.last_seen.saturating_add(purge.idle_ms) < at)
                .map(|(k, _)| k)
                .collect();
            for &k in &idle {
                self.kill_instance(p, k);
            }
            if !idle.is_empty() {
                let part = &mut self.partitions[p];
                let instances = &part.instances;
                part.by_value.retain(|_, k| instances[*k as usize].alive);
                let queries = &pp.queries;
                let dead = &self.partitions[p].instances;
                self.scheduler.clear_if(|o| {
                    o.kind == OwnerKind::PartitionQuery
                        && queries.contains(&(o.element as usize))
                        && dead.get(o.instance as usize).is_some_and(|i| !i.alive)
                });
            }
        }
        self.purge_due = self.next_purge_due();
    }

    /// Drops the state of instance `k`; the key's next event creates a fresh instance.
    fn kill_instance(&mut self, p: usize, k: usize) {
        let part = &mut self.partitions[p];
        let inst = &mut part.instances[k];
        inst.alive = false;
        inst.queries = Vec::new();
        if part.by_key.get(&inst.key) == Some(&k) {
            part.by_key.remove(&inst.key);
        }
    }
}
