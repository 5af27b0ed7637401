//! A FIFO of rows stored flat in a ring, for windows: pushing copies one row in, popping
//! moves it out, and every held row stays a contiguous slice (joins and snapshots read them
//! in place). The ring only grows (doubling, with `realloc`, which the allocator can do in
//! place for large buffers), so a window holding `n` rows keeps at most the next power of two
//! of `n` slots, and nothing is allocated per event once it has grown.

use crate::event::{Chunk, EventKind};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

#[derive(Debug, Clone, Default)]
pub struct RowQueue {
    arity: usize,
    /// Slot of the oldest row.
    head: usize,
    len: usize,
    /// Timestamps by slot; its length is the capacity in rows.
    ts: Vec<i64>,
    /// `arity` values per slot, so each row is one slice; free slots hold nulls.
    values: Vec<Value>,
}

impl RowQueue {
    pub fn new(arity: usize) -> RowQueue {
        RowQueue {
            arity,
            head: 0,
            len: 0,
            ts: Vec::new(),
            values: Vec::new(),
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

    /// The slot of the row `i` places from the front.
    #[inline]
    fn slot(&self, i: usize) -> usize {
        let s = self.head + i;
        let cap = self.ts.len();
        if s >= cap { s - cap } else { s }
    }

    #[inline]
    fn values_at(&self, slot: usize) -> &[Value] {
        &self.values[slot * self.arity..(slot + 1) * self.arity]
    }

    #[inline]
    fn values_at_mut(&mut self, slot: usize) -> &mut [Value] {
        &mut self.values[slot * self.arity..(slot + 1) * self.arity]
    }

    #[inline]
    pub fn push(&mut self, ts: i64, row: &[Value]) {
        debug_assert_eq!(row.len(), self.arity);
        if self.len == self.ts.len() {
            self.grow();
        }
        let s = self.slot(self.len);
        self.ts[s] = ts;
        self.values_at_mut(s).clone_from_slice(row);
        self.len += 1;
    }

    /// Doubles the ring (it is full), keeping the rows in order.
    #[cold]
    fn grow(&mut self) {
        let old = self.ts.len();
        let new = (old * 2).max(4);
        self.ts.resize(new, 0);
        self.values.resize(new * self.arity, Value::Null);
        // A full ring that wrapped holds its newest rows in slots 0..head: move them after
        // the old end, where the ring continues now.
        let wrapped = self.head;
        if self.len > 0 && wrapped > 0 {
            self.ts.copy_within(0..wrapped, old);
            let (front, back) = self.values.split_at_mut(old * self.arity);
            front[..wrapped * self.arity].swap_with_slice(&mut back[..wrapped * self.arity]);
        }
    }

    /// Timestamp of the row `i` places from the front.
    #[inline]
    pub fn ts(&self, i: usize) -> i64 {
        debug_assert!(i < self.len);
        self.ts[self.slot(i)]
    }

    #[inline]
    pub fn front_ts(&self) -> Option<i64> {
        (self.len > 0).then(|| self.ts[self.head])
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[Value] {
        debug_assert!(i < self.len);
        self.values_at(self.slot(i))
    }

    /// The values of the held rows, oldest first, as two flat runs: from the head to the end
    /// of the ring, then the wrapped part from its start (for scans over many rows).
    #[inline]
    pub fn runs(&self) -> [&[Value]; 2] {
        let first = self.len.min(self.ts.len() - self.head);
        let a = self.arity;
        [
            &self.values[self.head * a..(self.head + first) * a],
            &self.values[..(self.len - first) * a],
        ]
    }

    /// The held rows, oldest first.
    #[inline]
    pub fn rows(&self) -> impl Iterator<Item = &[Value]> + '_ {
        // `chunks_exact` needs a positive width; zero-width rows are yielded as empty slices.
        let (runs, empties) = if self.arity == 0 {
            ([&[][..], &[][..]], self.len)
        } else {
            (self.runs(), 0)
        };
        let w = self.arity.max(1);
        runs[0]
            .chunks_exact(w)
            .chain(runs[1].chunks_exact(w))
            .chain(std::iter::repeat_n(&[][..], empties))
    }

    pub fn arity(&self) -> usize {
        self.arity
    }

    /// Advances past the front row (its values already taken).
    #[inline]
    fn advance(&mut self) {
        self.len -= 1;
        self.head = if self.len == 0 { 0 } else { self.slot(1) };
    }

    /// Moves the front row into `out` with the given kind and timestamp (its own when `None`).
    #[inline]
    pub fn pop_front_into(&mut self, out: &mut Chunk, kind: EventKind, ts: Option<i64>) {
        if self.is_empty() {
            return;
        }
        let s = self.head;
        let own_ts = self.ts[s];
        let start = s * self.arity;
        out.push_moved(
            ts.unwrap_or(own_ts),
            kind,
            &mut self.values[start..start + self.arity],
        );
        self.advance();
    }

    /// Drops the front row.
    pub fn pop_front(&mut self) {
        if self.is_empty() {
            return;
        }
        let s = self.head;
        for v in self.values_at_mut(s) {
            *v = Value::Null;
        }
        self.advance();
    }

    /// Removes the row `i` places from the front, keeping the order of the others.
    pub fn remove(&mut self, i: usize) -> (i64, Vec<Value>) {
        let s = self.slot(i);
        let ts = self.ts[s];
        let row: Vec<Value> = self
            .values_at_mut(s)
            .iter_mut()
            .map(std::mem::take)
            .collect();
        // Shift the newer rows one slot toward the front; the emptied slot ends up last.
        for j in i..self.len - 1 {
            let (to, from) = (self.slot(j), self.slot(j + 1));
            self.ts[to] = self.ts[from];
            for c in 0..self.arity {
                self.values.swap(to * self.arity + c, from * self.arity + c);
            }
        }
        self.len -= 1;
        if self.len == 0 {
            self.head = 0;
        }
        (ts, row)
    }

    /// Moves every row into `out`, oldest first.
    pub fn drain_into(&mut self, out: &mut Chunk, kind: EventKind, ts: Option<i64>) {
        while !self.is_empty() {
            self.pop_front_into(out, kind, ts);
        }
        self.clear();
    }

    /// Drops every row (the ring keeps its size).
    pub fn clear(&mut self) {
        for i in 0..self.len {
            let s = self.slot(i);
            for v in self.values_at_mut(s) {
                *v = Value::Null;
            }
        }
        self.head = 0;
        self.len = 0;
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.usize(self.len());
        for i in 0..self.len() {
            w.i64(self.ts(i));
            w.row(self.row(i));
        }
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.clear();
        let n = r.len(1 + self.arity)?;
        let mut row = Vec::with_capacity(self.arity);
        for _ in 0..n {
            let ts = r.i64()?;
            row.clear();
            r.row_into(self.arity, &mut row)?;
            self.push(ts, &row);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_reclaim() {
        let mut q = RowQueue::new(1);
        let mut out = Chunk::new(1);
        for i in 0..200 {
            q.push(i, &[Value::Long(i)]);
            if i % 2 == 1 {
                q.pop_front_into(&mut out, EventKind::Expired, Some(-1));
            }
        }
        assert_eq!(q.len(), 100);
        assert_eq!(q.row(0), &[Value::Long(100)]);
        assert_eq!(q.front_ts(), Some(100));
        assert_eq!(out.len(), 100);
        assert_eq!(out.row(99), &[Value::Long(99)]);
        assert_eq!(out.ts(0), -1);
        let (ts, row) = q.remove(1);
        assert_eq!((ts, row), (101, vec![Value::Long(101)]));
        let mut w = StateWriter::new();
        q.snapshot(&mut w);
        let bytes = w.into_bytes();
        let mut q2 = RowQueue::new(1);
        q2.restore(&mut StateReader::new(&bytes)).unwrap();
        assert_eq!(q2.len(), 99);
        assert_eq!(q2.row(1), &[Value::Long(102)]);
    }

    #[test]
    fn ring_wraps_and_grows_in_order() {
        let mut q = RowQueue::new(2);
        let mut out = Chunk::new(2);
        let mut next = 0i64;
        let mut oldest = 0i64;
        // Pushes and pops interleaved so the ring wraps before each growth.
        for round in 0..6 {
            for _ in 0..(3 + round * 5) {
                q.push(next, &[Value::Long(next), Value::Int(next as i32)]);
                next += 1;
            }
            for _ in 0..(round + 1) {
                q.pop_front_into(&mut out, EventKind::Expired, None);
                assert_eq!(out.ts(out.len() - 1), oldest);
                oldest += 1;
            }
            assert_eq!(q.len() as i64, next - oldest);
            for i in 0..q.len() {
                let at = oldest + i as i64;
                assert_eq!(q.ts(i), at);
                assert_eq!(q.row(i), &[Value::Long(at), Value::Int(at as i32)]);
            }
            assert_eq!(q.rows().count(), q.len());
        }
        let (ts, row) = q.remove(2);
        assert_eq!(ts, oldest + 2);
        assert_eq!(
            row,
            vec![Value::Long(oldest + 2), Value::Int((oldest + 2) as i32)]
        );
        assert_eq!(q.ts(2), oldest + 3);
        assert_eq!(q.row(q.len() - 1)[0], Value::Long(next - 1));
        q.pop_front();
        assert_eq!(q.front_ts(), Some(oldest + 1));
        q.clear();
        assert!(q.is_empty() && q.front_ts().is_none());
        q.push(7, &[Value::Null, Value::Null]);
        assert_eq!(q.row(0), &[Value::Null, Value::Null]);
    }
}
