//! Compact storage for windows that hold many rows (a `time(1 min)` window over a busy
//! stream holds millions).
//!
//! A [`RowQueue`] keeps every attribute as a [`Value`] (24 bytes, whatever it holds), which
//! is the right layout for small windows that joins scan in place. [`CompactQueue`] keeps a
//! FIFO of rows by column instead, in blocks: numbers as their 4 or 8 bytes, strings as ids
//! into a reference-counted table (a stream's symbols, codes and ids repeat), nulls as one
//! bit. A block's column whose values do not share one runtime type falls back to plain
//! values.
//!
//! [`HeldRows`] is what a window holds: a `RowQueue` while it is small, moved into a
//! `CompactQueue` once it passes [`COMPACT_FROM`] rows (and kept compact from then on).

use std::collections::VecDeque;
use std::ops::Range;

use rustc_hash::FxHashMap;

use crate::event::{Chunk, EventKind};
use crate::row_queue::RowQueue;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::text::Str;
use crate::value::Value;

/// Rows held from which a window's storage turns compact: below it the per-row cost does
/// not matter and joins read a `RowQueue` in place.
pub const COMPACT_FROM: usize = 4096;

/// Rows per block: blocks come and go whole, so a queue never copies its rows to grow and
/// holds at most one partly used block at each end.
const BLOCK: usize = 2048;

/// The runtime type a typed column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Long,
    Double,
    Int,
    Float,
    Bool,
    Str,
}

impl Kind {
    fn of(v: &Value) -> Option<Kind> {
        Some(match v {
            Value::Long(_) => Kind::Long,
            Value::Double(_) => Kind::Double,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Bool(_) => Kind::Bool,
            Value::Str(_) => Kind::Str,
            Value::Null | Value::Object(_) => return None,
        })
    }

    fn wide(self) -> bool {
        matches!(self, Kind::Long | Kind::Double)
    }
}

/// A block column's slots.
#[derive(Clone, Debug)]
enum Data {
    /// Only nulls so far: nothing stored.
    Unset,
    Wide(Kind, Vec<u64>),
    Narrow(Kind, Vec<u32>),
    /// Mixed runtime types or objects.
    Plain(Vec<Value>),
}

#[derive(Clone, Debug)]
struct Column {
    data: Data,
    /// One bit per slot: set when the slot holds null (typed columns only).
    nulls: Vec<u64>,
}

/// Texts shared by the string columns, each with the number of slots that refer to it.
#[derive(Clone, Debug, Default)]
struct Texts {
    ids: FxHashMap<Str, u32>,
    texts: Vec<Str>,
    refs: Vec<u32>,
    free: Vec<u32>,
}

impl Texts {
    #[inline]
    fn intern(&mut self, s: &Str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            self.refs[id as usize] += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.texts[id as usize] = s.clone();
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.texts.push(s.clone());
                self.refs.push(1);
                (self.texts.len() - 1) as u32
            }
        };
        self.ids.insert(s.clone(), id);
        id
    }

    #[inline]
    fn release(&mut self, id: u32) {
        let r = &mut self.refs[id as usize];
        *r -= 1;
        if *r == 0 {
            let s = std::mem::replace(&mut self.texts[id as usize], Str::new(""));
            self.ids.remove(&s);
            self.free.push(id);
        }
    }
}

/// Up to [`BLOCK`] rows, filled from slot 0; each column types itself from what it holds.
#[derive(Clone, Debug)]
struct Block {
    /// Timestamps of the rows stored so far (their count is the fill).
    ts: Vec<i64>,
    cols: Vec<Column>,
}

impl Block {
    fn new(arity: usize) -> Block {
        Block {
            ts: Vec::with_capacity(BLOCK),
            cols: (0..arity)
                .map(|_| Column {
                    data: Data::Unset,
                    nulls: vec![0; BLOCK / 64],
                })
                .collect(),
        }
    }
}

/// A FIFO of rows stored by column in blocks (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct CompactQueue {
    arity: usize,
    blocks: VecDeque<Block>,
    /// Rows already taken from the front block.
    head: usize,
    len: usize,
    /// The last emptied block, kept for the next one needed (its buffers stay allocated).
    spare: Option<Block>,
    texts: Texts,
}

#[inline]
fn bit(bits: &[u64], slot: usize) -> bool {
    (bits[slot / 64] >> (slot % 64)) & 1 == 1
}

#[inline]
fn set_bit(bits: &mut [u64], slot: usize, on: bool) {
    let w = &mut bits[slot / 64];
    let m = 1u64 << (slot % 64);
    if on {
        *w |= m;
    } else {
        *w &= !m;
    }
}

/// Writes `v` into the free slot `s` of `col`, retyping the column if it must (`live` are
/// the slots that hold rows).
#[inline]
fn store(col: &mut Column, texts: &mut Texts, s: usize, v: &Value, live: Range<usize>) {
    if v.is_null() {
        set_bit(&mut col.nulls, s, true);
        if let Data::Plain(vs) = &mut col.data {
            vs[s] = Value::Null;
        }
        return;
    }
    match (&mut col.data, v) {
        (Data::Plain(vs), _) => vs[s] = v.clone(),
        (Data::Wide(Kind::Double, d), Value::Double(x)) => d[s] = x.to_bits(),
        (Data::Wide(Kind::Long, d), Value::Long(x)) => d[s] = *x as u64,
        (Data::Narrow(Kind::Str, d), Value::Str(x)) => d[s] = texts.intern(x),
        (Data::Narrow(Kind::Int, d), Value::Int(x)) => d[s] = *x as u32,
        (Data::Narrow(Kind::Float, d), Value::Float(x)) => d[s] = x.to_bits(),
        (Data::Narrow(Kind::Bool, d), Value::Bool(x)) => d[s] = *x as u32,
        (data, _) => {
            match (data, Kind::of(v)) {
                (Data::Unset, Some(kind)) if kind.wide() => {
                    col.data = Data::Wide(kind, vec![0; BLOCK])
                }
                (Data::Unset, Some(kind)) => col.data = Data::Narrow(kind, vec![0; BLOCK]),
                _ => to_plain(col, texts, live.clone()),
            }
            return store(col, texts, s, v, live);
        }
    }
    set_bit(&mut col.nulls, s, false);
}

/// Turns `col` into plain values (a value of another type arrived).
#[cold]
fn to_plain(col: &mut Column, texts: &mut Texts, live: Range<usize>) {
    let mut vs = vec![Value::Null; BLOCK];
    for s in live.clone() {
        vs[s] = read(col, texts, s);
    }
    for s in live {
        release(col, texts, s);
    }
    col.data = Data::Plain(vs);
}

/// The value in slot `s` of `col`.
#[inline]
fn read(col: &Column, texts: &Texts, s: usize) -> Value {
    match &col.data {
        Data::Plain(vs) => vs[s].clone(),
        _ if bit(&col.nulls, s) => Value::Null,
        Data::Unset => Value::Null,
        Data::Wide(Kind::Double, d) => Value::Double(f64::from_bits(d[s])),
        Data::Wide(_, d) => Value::Long(d[s] as i64),
        Data::Narrow(Kind::Str, d) => Value::Str(texts.texts[d[s] as usize].clone()),
        Data::Narrow(Kind::Int, d) => Value::Int(d[s] as i32),
        Data::Narrow(Kind::Float, d) => Value::Float(f32::from_bits(d[s])),
        Data::Narrow(_, d) => Value::Bool(d[s] != 0),
    }
}

/// Lets go of what slot `s` of `col` refers to (its text, its plain value).
#[inline]
fn release(col: &mut Column, texts: &mut Texts, s: usize) {
    match &mut col.data {
        Data::Narrow(Kind::Str, d) if !bit(&col.nulls, s) => texts.release(d[s]),
        Data::Plain(vs) => vs[s] = Value::Null,
        _ => {}
    }
}

impl CompactQueue {
    pub fn new(arity: usize) -> CompactQueue {
        CompactQueue {
            arity,
            ..CompactQueue::default()
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block and slot of the row `i` places from the front.
    #[inline]
    fn at(&self, i: usize) -> (&Block, usize) {
        let p = self.head + i;
        (&self.blocks[p / BLOCK], p % BLOCK)
    }

    #[inline]
    pub fn front_ts(&self) -> Option<i64> {
        (self.len > 0).then(|| self.blocks[0].ts[self.head])
    }

    /// Timestamp of the row `i` places from the front.
    #[inline]
    pub fn ts(&self, i: usize) -> i64 {
        let (b, s) = self.at(i);
        b.ts[s]
    }

    pub fn push(&mut self, ts: i64, row: &[Value]) {
        debug_assert_eq!(row.len(), self.arity);
        if self.blocks.back().is_none_or(|b| b.ts.len() == BLOCK) {
            let block = self.spare.take().unwrap_or_else(|| Block::new(self.arity));
            self.blocks.push_back(block);
        }
        let from = if self.blocks.len() == 1 { self.head } else { 0 };
        let Some(block) = self.blocks.back_mut() else {
            return;
        };
        let s = block.ts.len();
        block.ts.push(ts);
        for (col, v) in block.cols.iter_mut().zip(row) {
            store(col, &mut self.texts, s, v, from..s);
        }
        self.len += 1;
    }

    /// Appends the values of the row `i` places from the front to `out`.
    pub fn row_into(&self, i: usize, out: &mut Vec<Value>) {
        let (b, s) = self.at(i);
        out.extend(b.cols.iter().map(|c| read(c, &self.texts, s)));
    }

    /// Moves the front row into `out` with the given kind and timestamp (its own when `None`).
    pub fn pop_front_into(&mut self, out: &mut Chunk, kind: EventKind, ts: Option<i64>) {
        if self.len == 0 {
            return;
        }
        let s = self.head;
        let Some(block) = self.blocks.front_mut() else {
            return;
        };
        let dst = out.begin_row(ts.unwrap_or(block.ts[s]), kind);
        for col in &mut block.cols {
            dst.push(read(col, &self.texts, s));
            release(col, &mut self.texts, s);
        }
        self.len -= 1;
        self.head += 1;
        if self.head == block.ts.len() {
            // The front block is used up (full, or the last one and now empty).
            self.head = 0;
            if let Some(mut b) = self.blocks.pop_front() {
                b.ts.clear();
                self.spare = Some(b);
            }
        }
    }

    /// Drops every row.
    pub fn clear(&mut self) {
        *self = CompactQueue::new(self.arity);
    }
}

/// The rows a window holds, oldest first: plain while few, compact once many.
#[derive(Clone, Debug)]
pub enum HeldRows {
    Plain(RowQueue),
    Compact(CompactQueue),
}

impl HeldRows {
    pub fn new(arity: usize) -> HeldRows {
        HeldRows::Plain(RowQueue::new(arity))
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self {
            HeldRows::Plain(q) => q.len(),
            HeldRows::Compact(q) => q.len(),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn front_ts(&self) -> Option<i64> {
        match self {
            HeldRows::Plain(q) => q.front_ts(),
            HeldRows::Compact(q) => q.front_ts(),
        }
    }

    #[inline]
    pub fn push(&mut self, ts: i64, row: &[Value]) {
        match self {
            HeldRows::Plain(q) => {
                q.push(ts, row);
                if q.len() >= COMPACT_FROM {
                    self.compact();
                }
            }
            HeldRows::Compact(q) => q.push(ts, row),
        }
    }

    /// Moves the rows into compact storage.
    #[cold]
    fn compact(&mut self) {
        if let HeldRows::Plain(q) = self {
            let mut c = CompactQueue::new(q.arity());
            for i in 0..q.len() {
                c.push(q.ts(i), q.row(i));
            }
            *self = HeldRows::Compact(c);
        }
    }

    #[inline]
    pub fn pop_front_into(&mut self, out: &mut Chunk, kind: EventKind, ts: Option<i64>) {
        match self {
            HeldRows::Plain(q) => q.pop_front_into(out, kind, ts),
            HeldRows::Compact(q) => q.pop_front_into(out, kind, ts),
        }
    }

    /// The rows as one `RowQueue`, while they are kept plain.
    pub fn plain(&self) -> Option<&RowQueue> {
        match self {
            HeldRows::Plain(q) => Some(q),
            HeldRows::Compact(_) => None,
        }
    }

    /// Calls `f` with every row (timestamp and values), oldest first.
    pub fn visit(&self, f: &mut dyn FnMut(i64, &[Value])) {
        match self {
            HeldRows::Plain(q) => {
                for i in 0..q.len() {
                    f(q.ts(i), q.row(i));
                }
            }
            HeldRows::Compact(q) => {
                let mut row = Vec::with_capacity(q.arity);
                for i in 0..q.len() {
                    row.clear();
                    q.row_into(i, &mut row);
                    f(q.ts(i), &row);
                }
            }
        }
    }

    /// The same bytes as [`RowQueue::snapshot`], whichever the storage.
    pub fn snapshot(&self, w: &mut StateWriter) {
        w.usize(self.len());
        self.visit(&mut |ts, row| {
            w.i64(ts);
            w.row(row);
        });
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let arity = match self {
            HeldRows::Plain(q) => q.arity(),
            HeldRows::Compact(q) => q.arity,
        };
        let mut q = RowQueue::new(arity);
        q.restore(r)?;
        *self = HeldRows::Plain(q);
        if self.len() >= COMPACT_FROM {
            self.compact();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(q: &HeldRows) -> Vec<(i64, Vec<Value>)> {
        let mut all = Vec::new();
        q.visit(&mut |ts, row| all.push((ts, row.to_vec())));
        all
    }

    /// A row whose columns change type and hold nulls along the way.
    fn row(i: i64) -> Vec<Value> {
        let sym = if i % 7 == 0 {
            Value::Null
        } else {
            Value::str(&format!("S{}", i % 13))
        };
        let long_text = Value::str(&format!("a text longer than the inline limit {}", i % 3));
        let mixed = match i % 5000 {
            4999 => Value::Int(3),
            _ if i % 11 == 0 => Value::Null,
            _ => Value::Long(i),
        };
        vec![
            sym,
            Value::Double(i as f64 / 3.0),
            mixed,
            if i < 100 { Value::Null } else { long_text },
            Value::Bool(i % 2 == 0),
            Value::Float(i as f32),
            Value::Int(-(i as i32)),
        ]
    }

    #[test]
    fn compact_keeps_every_row_as_plain_does() {
        let mut held = HeldRows::new(7);
        let mut plain = RowQueue::new(7);
        let (mut a, mut b) = (Chunk::new(7), Chunk::new(7));
        for i in 0..20_000i64 {
            held.push(i, &row(i));
            plain.push(i, &row(i));
            if i % 3 == 0 {
                held.pop_front_into(&mut a, EventKind::Expired, Some(-i));
                plain.pop_front_into(&mut b, EventKind::Expired, Some(-i));
            }
        }
        assert!(matches!(held, HeldRows::Compact(_)));
        assert_eq!(held.len(), plain.len());
        let expected: Vec<_> = (0..plain.len())
            .map(|i| (plain.ts(i), plain.row(i).to_vec()))
            .collect();
        assert_eq!(rows_of(&held), expected);
        assert_eq!(a.len(), b.len());
        for i in 0..a.len() {
            assert_eq!((a.ts(i), a.row(i)), (b.ts(i), b.row(i)));
        }
        let mut w = StateWriter::new();
        held.snapshot(&mut w);
        let bytes = w.into_bytes();
        let mut w2 = StateWriter::new();
        plain.snapshot(&mut w2);
        assert_eq!(bytes, w2.into_bytes());
        let mut back = HeldRows::new(7);
        back.restore(&mut StateReader::new(&bytes)).unwrap();
        assert_eq!(rows_of(&back), expected);
    }

    #[test]
    fn texts_are_released_when_their_rows_leave() {
        let mut q = CompactQueue::new(1);
        let mut out = Chunk::new(1);
        for i in 0..1000 {
            q.push(i, &[Value::str(&format!("t{i}"))]);
            q.pop_front_into(&mut out, EventKind::Expired, None);
        }
        assert!(q.texts.ids.is_empty() && q.texts.texts.len() == 1);
        assert_eq!(out.row(999), &[Value::str("t999")]);
        q.push(1, &[Value::str("x")]);
        q.clear();
        assert!(q.is_empty() && q.texts.ids.is_empty());
        // Rows that span blocks, a column turned plain after its front rows left.
        for i in 0..5000 {
            q.push(i, &[Value::str(&format!("u{}", i % 3))]);
        }
        for _ in 0..4500 {
            q.pop_front_into(&mut out, EventKind::Expired, None);
        }
        q.push(5000, &[Value::Long(1)]);
        assert_eq!(q.len(), 501);
        assert_eq!(q.ts(0), 4500);
        let mut row = Vec::new();
        q.row_into(0, &mut row);
        q.row_into(500, &mut row);
        assert_eq!(row, vec![Value::str("u0"), Value::Long(1)]);
    }
}
