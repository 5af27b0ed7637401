//! Rows a limiter keeps between emissions: a list ([`Held`]), a single row ([`Row`]) and rows
//! per group key in first-seen order ([`Keyed`], Siddhi's `LinkedHashMap` by group key).

use rustc_hash::FxHashMap;

use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

fn write_kind(w: &mut StateWriter, kind: EventKind) {
    w.u8(kind.code());
}

fn read_kind(r: &mut StateReader<'_>) -> SnapshotResult<EventKind> {
    let code = r.u8()?;
    EventKind::from_code(code).ok_or_else(|| SnapshotError::Invalid(format!("event kind {code}")))
}

/// One row kept by a limiter (without hidden columns).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub ts: i64,
    pub kind: EventKind,
    pub values: Vec<Value>,
}

impl Row {
    /// Copies row `i` of `input` (its first `arity` values).
    pub fn of(input: ChunkRef<'_>, i: usize, arity: usize) -> Row {
        Row {
            ts: input.ts(i),
            kind: input.kind(i),
            values: input.row(i)[..arity].to_vec(),
        }
    }

    /// Overwrites this row with row `i` of `input`, reusing its buffer.
    pub fn set(&mut self, input: ChunkRef<'_>, i: usize, arity: usize) {
        self.ts = input.ts(i);
        self.kind = input.kind(i);
        self.values.clear();
        self.values.extend_from_slice(&input.row(i)[..arity]);
    }

    /// Appends a copy to `out` (Siddhi emits a clone and keeps the original).
    pub fn emit(&self, out: &mut Chunk) {
        out.push(self.ts, self.kind, &self.values);
    }

    /// Moves the row into `out`.
    pub fn emit_moved(mut self, out: &mut Chunk) {
        out.push_moved(self.ts, self.kind, &mut self.values);
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.i64(self.ts);
        write_kind(w, self.kind);
        w.row(&self.values);
    }

    pub fn restore(r: &mut StateReader<'_>, arity: usize) -> SnapshotResult<Row> {
        let ts = r.i64()?;
        let kind = read_kind(r)?;
        let mut values = Vec::with_capacity(arity);
        r.row_into(arity, &mut values)?;
        Ok(Row { ts, kind, values })
    }
}

/// Stores row `i` of `input` in `slot`, reusing the buffer of a row already there.
pub(crate) fn store(slot: &mut Option<Row>, input: ChunkRef<'_>, i: usize, arity: usize) {
    match slot {
        Some(row) => row.set(input, i, arity),
        None => *slot = Some(Row::of(input, i, arity)),
    }
}

pub(crate) fn snapshot_opt(w: &mut StateWriter, slot: Option<&Row>) {
    match slot {
        None => w.u8(0),
        Some(row) => {
            w.u8(1);
            row.snapshot(w);
        }
    }
}

pub(crate) fn restore_opt(r: &mut StateReader<'_>, arity: usize) -> SnapshotResult<Option<Row>> {
    Ok(match r.u8()? {
        0 => None,
        _ => Some(Row::restore(r, arity)?),
    })
}

/// An optional app time (a last output time, the next tick).
pub(crate) fn write_time(w: &mut StateWriter, t: Option<i64>) {
    match t {
        None => w.u8(0),
        Some(t) => {
            w.u8(1);
            w.i64(t);
        }
    }
}

pub(crate) fn read_time(r: &mut StateReader<'_>) -> SnapshotResult<Option<i64>> {
    Ok(match r.u8()? {
        0 => None,
        _ => Some(r.i64()?),
    })
}

/// Rows held by a limiter between emissions (without hidden columns), stored flat.
#[derive(Debug)]
pub(crate) struct Held {
    arity: usize,
    ts: Vec<i64>,
    kinds: Vec<EventKind>,
    values: Vec<Value>,
}

impl Held {
    pub fn new(arity: usize) -> Held {
        Held {
            arity,
            ts: Vec::new(),
            kinds: Vec::new(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, input: ChunkRef<'_>, i: usize) {
        self.ts.push(input.ts(i));
        self.kinds.push(input.kind(i));
        self.values.extend_from_slice(&input.row(i)[..self.arity]);
    }

    /// Moves every held row into `out` as one chunk.
    pub fn drain_into(&mut self, out: &mut Chunk) {
        out.split_here();
        let arity = self.arity;
        for (r, (ts, kind)) in self.ts.iter().zip(&self.kinds).enumerate() {
            out.push_moved(*ts, *kind, &mut self.values[r * arity..(r + 1) * arity]);
        }
        self.clear();
    }

    pub fn clear(&mut self) {
        self.ts.clear();
        self.kinds.clear();
        self.values.clear();
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.usize(self.ts.len());
        for (r, (ts, kind)) in self.ts.iter().zip(&self.kinds).enumerate() {
            w.i64(*ts);
            write_kind(w, *kind);
            w.row(&self.values[r * self.arity..(r + 1) * self.arity]);
        }
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.clear();
        let n = r.len(2 + self.arity)?;
        for _ in 0..n {
            self.ts.push(r.i64()?);
            self.kinds.push(read_kind(r)?);
            r.row_into(self.arity, &mut self.values)?;
        }
        Ok(())
    }
}

/// Values per group key, iterated in the order keys were first inserted (Siddhi's
/// `LinkedHashMap`: putting an existing key keeps its place). Looking up an existing key does
/// not allocate.
#[derive(Debug)]
pub(crate) struct Keyed<T> {
    index: FxHashMap<Box<[Value]>, usize>,
    entries: Vec<(Box<[Value]>, T)>,
}

impl<T> Default for Keyed<T> {
    fn default() -> Self {
        Keyed {
            index: FxHashMap::default(),
            entries: Vec::new(),
        }
    }
}

impl<T> Keyed<T> {
    pub fn get(&self, key: &[Value]) -> Option<&T> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// The value of `key`, inserted at the end with `make` if absent.
    pub fn entry(&mut self, key: &[Value], make: impl FnOnce() -> T) -> &mut T {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                let i = self.entries.len();
                self.index.insert(key.into(), i);
                self.entries.push((key.into(), make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Moves the values out in order, leaving the map empty.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.index.clear();
        self.entries.drain(..).map(|(_, v)| v)
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
    }

    /// Keeps the entries for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&mut T) -> bool) {
        self.entries.retain_mut(|(_, v)| keep(v));
        self.index.clear();
        for (i, (k, _)) in self.entries.iter().enumerate() {
            self.index.insert(k.clone(), i);
        }
    }

    pub fn snapshot(&self, w: &mut StateWriter, mut value: impl FnMut(&mut StateWriter, &T)) {
        w.usize(self.entries.len());
        for (k, v) in &self.entries {
            w.row(k);
            value(w, v);
        }
    }

    pub fn restore(
        &mut self,
        r: &mut StateReader<'_>,
        key_arity: usize,
        mut value: impl FnMut(&mut StateReader<'_>) -> SnapshotResult<T>,
    ) -> SnapshotResult<()> {
        self.clear();
        let n = r.len(key_arity.max(1))?;
        let mut key = Vec::with_capacity(key_arity);
        for _ in 0..n {
            key.clear();
            r.row_into(key_arity, &mut key)?;
            let v = value(r)?;
            self.index.insert(key.as_slice().into(), self.entries.len());
            self.entries.push((key.as_slice().into(), v));
        }
        Ok(())
    }
}

impl Keyed<Row> {
    /// Puts row `i` of `input` under its group key (the `key_arity` hidden columns after the
    /// first `arity` values), in place of the group's earlier row.
    pub fn put_row(&mut self, input: ChunkRef<'_>, i: usize, arity: usize, key_arity: usize) {
        let key = &input.row(i)[arity..arity + key_arity];
        self.entry(key, || Row::of(input, i, arity))
            .set(input, i, arity);
    }
}
