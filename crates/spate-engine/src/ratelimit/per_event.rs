//! `output all|first|last every N events`, with and without `group by` (Siddhi's
//! `*PerEventOutputRateLimiter`s). Only current and expired events count, except for `first`,
//! which counts every event it is given — reset events included, which Siddhi then "emits" as
//! nothing (so a period whose first event is a reset emits nothing).

use rustc_hash::FxHashMap;

use super::{Held, Keyed, RateCtx, RateKind, RateLimiter, Row, emit_row};
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

pub(crate) fn counts(kind: EventKind) -> bool {
    matches!(kind, EventKind::Current | EventKind::Expired)
}

/// `output all every N events`: hold events, release all of them with the N-th.
#[derive(Debug)]
pub struct AllPerEvent {
    count: u64,
    counter: u64,
    held: Held,
}

impl AllPerEvent {
    pub fn new(count: u64, arity: usize) -> AllPerEvent {
        AllPerEvent {
            count,
            counter: 0,
            held: Held::new(arity),
        }
    }
}

impl RateLimiter for AllPerEvent {
    fn process(&mut self, input: ChunkRef<'_>, out: &mut Chunk, _cx: &mut RateCtx<'_>) {
        for i in 0..input.len() {
            if !counts(input.kind(i)) {
                continue;
            }
            self.held.push(input, i);
            self.counter += 1;
            if self.counter == self.count {
                self.held.drain_into(out);
                self.counter = 0;
            }
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.u64(self.counter);
        self.held.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.counter = r.u64()?;
        self.held.restore(r)
    }
}

/// `output first|last every N events` without `group by`.
#[derive(Debug)]
pub struct PerEvent {
    first: bool,
    count: u64,
    counter: u64,
    arity: usize,
}

impl PerEvent {
    pub fn new(kind: RateKind, count: u64, arity: usize) -> PerEvent {
        PerEvent {
            first: kind == RateKind::First,
            count,
            counter: 0,
            arity,
        }
    }
}

impl RateLimiter for PerEvent {
    fn process(&mut self, input: ChunkRef<'_>, out: &mut Chunk, _cx: &mut RateCtx<'_>) {
        if self.first {
            // Siddhi counts every event here and emits the one that makes the count 1; with
            // N = 1 the counter never returns to 0, so only the very first event passes.
            let mut started = false;
            for i in 0..input.len() {
                self.counter += 1;
                if self.counter == 1 {
                    if input.kind(i) == EventKind::Reset {
                        continue;
                    }
                    if !started {
                        out.split_here();
                        started = true;
                    }
                    emit_row(input, i, self.arity, out);
                } else if self.counter == self.count {
                    self.counter = 0;
                }
            }
            return;
        }
        for i in 0..input.len() {
            if !counts(input.kind(i)) {
                continue;
            }
            self.counter += 1;
            if self.counter == self.count {
                out.split_here();
                emit_row(input, i, self.arity, out);
                self.counter = 0;
            }
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.u64(self.counter);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.counter = r.u64()?;
        Ok(())
    }
}

/// `output first|last every N events` with `group by`: per group for `first`; for `last` the
/// latest event of each group seen in a period of N events (all groups counted together).
#[derive(Debug)]
pub struct GroupedPerEvent {
    first: bool,
    count: u64,
    arity: usize,
    key_arity: usize,
    /// `first`: per-group position in its period.
    per_group: FxHashMap<Box<[Value]>, u64>,
    /// `last`: events counted in the period and the latest row per group, in first-seen order.
    counter: u64,
    last_rows: Keyed<Row>,
}

impl GroupedPerEvent {
    pub fn new(kind: RateKind, count: u64, arity: usize, key_arity: usize) -> GroupedPerEvent {
        GroupedPerEvent {
            first: kind == RateKind::First,
            count,
            arity,
            key_arity,
            per_group: FxHashMap::default(),
            counter: 0,
            last_rows: Keyed::default(),
        }
    }

    fn key<'a>(&self, row: &'a [Value]) -> &'a [Value] {
        &row[self.arity..self.arity + self.key_arity]
    }
}

impl RateLimiter for GroupedPerEvent {
    fn process(&mut self, input: ChunkRef<'_>, out: &mut Chunk, _cx: &mut RateCtx<'_>) {
        if self.first {
            // Siddhi counts every event it sees here, per group.
            let mut started = false;
            for i in 0..input.len() {
                let key = self.key(input.row(i));
                match self.per_group.get(key).copied() {
                    None => {
                        self.per_group.insert(key.into(), 1);
                        if !started {
                            out.split_here();
                            started = true;
                        }
                        emit_row(input, i, self.arity, out);
                    }
                    Some(n) if n + 1 == self.count => {
                        self.per_group.remove(key);
                    }
                    Some(n) => {
                        self.per_group.insert(key.into(), n + 1);
                    }
                }
            }
            return;
        }
        for i in 0..input.len() {
            if !counts(input.kind(i)) {
                continue;
            }
            self.last_rows.put_row(input, i, self.arity, self.key_arity);
            self.counter += 1;
            if self.counter == self.count {
                out.split_here();
                for row in self.last_rows.drain() {
                    row.emit_moved(out);
                }
                self.counter = 0;
            }
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        let mut groups: Vec<(&Box<[Value]>, &u64)> = self.per_group.iter().collect();
        groups.sort_by(|a, b| {
            a.0.iter()
                .zip(b.0.iter())
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        w.usize(groups.len());
        for (k, n) in groups {
            w.row(k);
            w.u64(*n);
        }
        w.u64(self.counter);
        self.last_rows.snapshot(w, |w, row| row.snapshot(w));
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.per_group.clear();
        let n = r.len(1)?;
        for _ in 0..n {
            let mut key = Vec::with_capacity(self.key_arity);
            r.row_into(self.key_arity, &mut key)?;
            self.per_group.insert(key.into(), r.u64()?);
        }
        self.counter = r.u64()?;
        let arity = self.arity;
        self.last_rows
            .restore(r, self.key_arity, |r| Row::restore(r, arity))
    }
}
