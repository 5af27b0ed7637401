//! Events in flight: chunks of typed rows, each with a timestamp and a kind.
//!
//! A [`Chunk`] stores its rows flat (`values.len() == len * arity`) so pushing a row never
//! allocates once the buffers have grown, and operators reuse their output chunks. A chunk
//! travels through a query as one unit, as Siddhi's `ComplexEventChunk` does: a window may
//! turn one arrival into "expired, then current", and a batch window flushes a whole batch.

use crate::value::Value;

/// Siddhi's event types. `Reset` tells aggregators to clear (batch windows emit one per flush).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Current,
    Expired,
    Reset,
}

impl EventKind {
    pub fn code(self) -> u8 {
        match self {
            EventKind::Current => 0,
            EventKind::Expired => 1,
            EventKind::Reset => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<EventKind> {
        Some(match code {
            0 => EventKind::Current,
            1 => EventKind::Expired,
            2 => EventKind::Reset,
            _ => return None,
        })
    }
}

/// The non-empty row ranges between consecutive split points of a chunk (bounds at or past
/// the end are ignored).
pub struct Segments<'a> {
    bounds: std::slice::Iter<'a, usize>,
    prev: usize,
    n: usize,
    done: bool,
}

impl Iterator for Segments<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        for &b in self.bounds.by_ref() {
            if b >= self.n {
                continue;
            }
            let start = std::mem::replace(&mut self.prev, b);
            if start < b {
                return Some((start, b));
            }
        }
        if self.done {
            return None;
        }
        self.done = true;
        (self.prev < self.n).then_some((self.prev, self.n))
    }
}

/// An owned chunk of rows of one schema.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    arity: usize,
    ts: Vec<i64>,
    kinds: Vec<EventKind>,
    values: Vec<Value>,
    /// Siddhi's `isBatch`: the chunk is one flush of a batch window, which changes how the
    /// selector aggregates it (one row per batch or per group).
    pub batch: bool,
    /// Row indices where a new chunk starts: a window that flushes twice while handling one
    /// input chunk emits two chunks, which later stages must treat separately.
    bounds: Vec<usize>,
}

impl Chunk {
    pub fn new(arity: usize) -> Chunk {
        Chunk {
            arity,
            ..Chunk::default()
        }
    }

    pub fn with_capacity(arity: usize, rows: usize) -> Chunk {
        Chunk {
            arity,
            ts: Vec::with_capacity(rows),
            kinds: Vec::with_capacity(rows),
            values: Vec::with_capacity(rows * arity),
            batch: false,
            bounds: Vec::new(),
        }
    }

    #[inline]
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// Changes the row width; only valid on an empty chunk.
    pub fn set_arity(&mut self, arity: usize) {
        debug_assert!(self.is_empty());
        self.arity = arity;
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    #[inline]
    pub fn clear(&mut self) {
        self.ts.clear();
        self.kinds.clear();
        self.values.clear();
        self.batch = false;
        self.bounds.clear();
    }

    /// Starts a new chunk at the current end (no-op when nothing precedes it).
    pub fn split_here(&mut self) {
        let n = self.len();
        if n > 0 && self.bounds.last() != Some(&n) {
            self.bounds.push(n);
        }
    }

    /// The `(start, end)` row ranges of the chunks held (one unless split).
    #[inline]
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            bounds: self.bounds.iter(),
            prev: 0,
            n: self.len(),
            done: false,
        }
    }

    /// A view of rows `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> ChunkRef<'_> {
        ChunkRef {
            arity: self.arity,
            ts: &self.ts,
            kinds: &self.kinds,
            values: &self.values,
            batch: self.batch,
        }
        .slice(start, end)
    }

    #[inline]
    pub fn push(&mut self, ts: i64, kind: EventKind, row: &[Value]) {
        debug_assert_eq!(row.len(), self.arity);
        self.ts.push(ts);
        self.kinds.push(kind);
        self.values.extend_from_slice(row);
    }

    /// Pushes a row by moving the values out of `row` (leaving nulls behind).
    #[inline]
    pub fn push_moved(&mut self, ts: i64, kind: EventKind, row: &mut [Value]) {
        debug_assert_eq!(row.len(), self.arity);
        self.ts.push(ts);
        self.kinds.push(kind);
        self.values.extend(row.iter_mut().map(std::mem::take));
    }

    /// Starts a row whose values the caller appends with [`Chunk::values_mut`]; the caller
    /// must push exactly `arity` values.
    #[inline]
    pub fn begin_row(&mut self, ts: i64, kind: EventKind) -> &mut Vec<Value> {
        self.ts.push(ts);
        self.kinds.push(kind);
        &mut self.values
    }

    /// Removes the last row (used when a row turns out to be filtered after it was built).
    #[inline]
    pub fn pop(&mut self) {
        if self.ts.pop().is_some() {
            self.kinds.pop();
            let new_len = self.values.len() - self.arity;
            self.values.truncate(new_len);
        }
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[Value] {
        &self.values[i * self.arity..(i + 1) * self.arity]
    }

    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [Value] {
        &mut self.values[i * self.arity..(i + 1) * self.arity]
    }

    #[inline]
    pub fn ts(&self, i: usize) -> i64 {
        self.ts[i]
    }

    #[inline]
    pub fn set_ts(&mut self, i: usize, ts: i64) {
        self.ts[i] = ts;
    }

    #[inline]
    pub fn kind(&self, i: usize) -> EventKind {
        self.kinds[i]
    }

    #[inline]
    pub fn set_kind(&mut self, i: usize, kind: EventKind) {
        self.kinds[i] = kind;
    }

    pub fn as_ref(&self) -> ChunkRef<'_> {
        ChunkRef {
            arity: self.arity,
            ts: &self.ts,
            kinds: &self.kinds,
            values: &self.values,
            batch: self.batch,
        }
    }

    /// Appends every row of `other` (same arity).
    pub fn extend_from(&mut self, other: ChunkRef<'_>) {
        self.ts.extend_from_slice(other.ts);
        self.kinds.extend_from_slice(other.kinds);
        self.values.extend_from_slice(other.values);
    }

    /// Keeps only the rows for which `keep(i)` is true, preserving order.
    pub fn retain_rows(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let arity = self.arity;
        let mut w = 0;
        for r in 0..self.len() {
            if keep(r) {
                if w != r {
                    self.ts[w] = self.ts[r];
                    self.kinds[w] = self.kinds[r];
                    for a in 0..arity {
                        self.values.swap(w * arity + a, r * arity + a);
                    }
                }
                w += 1;
            }
        }
        self.ts.truncate(w);
        self.kinds.truncate(w);
        self.values.truncate(w * arity);
    }

    /// Moves the last row over row `pos` (its timestamp, kind and values) and removes it from
    /// the end.
    pub fn replace_with_last(&mut self, pos: usize) {
        let last = self.len() - 1;
        if pos == last {
            return;
        }
        self.ts[pos] = self.ts[last];
        self.kinds[pos] = self.kinds[last];
        let arity = self.arity;
        for a in 0..arity {
            self.values.swap(pos * arity + a, last * arity + a);
        }
        self.pop();
    }

    /// Reorders rows by the permutation `order` (row `order[i]` becomes row `i`).
    pub fn permute(&mut self, order: &[usize]) {
        let arity = self.arity;
        let mut ts = Vec::with_capacity(order.len());
        let mut kinds = Vec::with_capacity(order.len());
        let mut values = Vec::with_capacity(order.len() * arity);
        for &r in order {
            ts.push(self.ts[r]);
            kinds.push(self.kinds[r]);
            values.extend(
                self.values[r * arity..(r + 1) * arity]
                    .iter_mut()
                    .map(std::mem::take),
            );
        }
        self.ts = ts;
        self.kinds = kinds;
        self.values = values;
        self.bounds.clear();
    }
}

/// A borrowed view of rows: an owned chunk, or input data handed in without copying.
#[derive(Clone, Copy, Debug)]
pub struct ChunkRef<'a> {
    pub arity: usize,
    pub ts: &'a [i64],
    pub kinds: &'a [EventKind],
    pub values: &'a [Value],
    pub batch: bool,
}

const ONE_CURRENT: [EventKind; 1] = [EventKind::Current];

impl<'a> ChunkRef<'a> {
    /// One current event.
    pub fn single(ts: &'a [i64; 1], row: &'a [Value]) -> ChunkRef<'a> {
        ChunkRef {
            arity: row.len(),
            ts,
            kinds: &ONE_CURRENT,
            values: row,
            batch: false,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// A view of rows `start..end`.
    #[inline]
    pub fn slice(self, start: usize, end: usize) -> ChunkRef<'a> {
        ChunkRef {
            arity: self.arity,
            ts: &self.ts[start..end],
            kinds: &self.kinds[start..end],
            values: &self.values[start * self.arity..end * self.arity],
            batch: self.batch,
        }
    }

    #[inline]
    pub fn row(&self, i: usize) -> &'a [Value] {
        &self.values[i * self.arity..(i + 1) * self.arity]
    }

    #[inline]
    pub fn ts(&self, i: usize) -> i64 {
        self.ts[i]
    }

    #[inline]
    pub fn kind(&self, i: usize) -> EventKind {
        self.kinds[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_row_and_retain() {
        let mut c = Chunk::new(2);
        for i in 0..5 {
            c.push(
                i,
                EventKind::Current,
                &[Value::Int(i as i32), Value::Long(i)],
            );
        }
        c.retain_rows(|r| r % 2 == 0);
        assert_eq!(c.len(), 3);
        assert_eq!(c.row(1), &[Value::Int(2), Value::Long(2)]);
        assert_eq!(c.ts(2), 4);
        c.permute(&[2, 0, 1]);
        assert_eq!(c.row(0)[0], Value::Int(4));
        c.pop();
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn segments_split_chunks() {
        let mut c = Chunk::new(1);
        c.split_here();
        c.push(1, EventKind::Current, &[Value::Int(1)]);
        c.split_here();
        c.split_here();
        c.push(2, EventKind::Current, &[Value::Int(2)]);
        c.push(3, EventKind::Current, &[Value::Int(3)]);
        assert_eq!(c.segments().collect::<Vec<_>>(), vec![(0, 1), (1, 3)]);
        assert_eq!(c.slice(1, 3).row(1), &[Value::Int(3)]);
    }
}
