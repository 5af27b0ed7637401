//! A FIFO of rows stored flat, for windows: pushing copies one row in, popping moves it out,
//! and every held row stays a contiguous slice (joins and snapshots read them in place).
//! Popped slots are reclaimed in bulk once they make up half the buffer, so both ends are
//! amortised O(1) and nothing is allocated per event once the buffer has grown.

use crate::event::{Chunk, EventKind};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

#[derive(Debug, Clone, Default)]
pub struct RowQueue {
    arity: usize,
    head: usize,
    ts: Vec<i64>,
    values: Vec<Value>,
}

impl RowQueue {
    pub fn new(arity: usize) -> RowQueue {
        RowQueue {
            arity,
            head: 0,
            ts: Vec::new(),
            values: Vec::new(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.ts.len() - self.head
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn push(&mut self, ts: i64, row: &[Value]) {
        debug_assert_eq!(row.len(), self.arity);
        self.ts.push(ts);
        self.values.extend_from_slice(row);
    }

    /// Timestamp of the row `i` places from the front.
    #[inline]
    pub fn ts(&self, i: usize) -> i64 {
        self.ts[self.head + i]
    }

    #[inline]
    pub fn front_ts(&self) -> Option<i64> {
        self.ts.get(self.head).copied()
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[Value] {
        let start = (self.head + i) * self.arity;
        &self.values[start..start + self.arity]
    }

    /// The held rows, oldest first.
    #[inline]
    pub fn rows(&self) -> impl Iterator<Item = &[Value]> + '_ {
        // `chunks_exact` needs a positive width; zero-width rows are yielded as empty slices.
        let (live, empties): (&[Value], usize) = if self.arity == 0 {
            (&[], self.len())
        } else {
            (&self.values[self.head * self.arity..], 0)
        };
        live.chunks_exact(self.arity.max(1))
            .chain(std::iter::repeat_n(&[][..], empties))
    }

    /// Moves the front row into `out` with the given kind and timestamp (its own when `None`).
    #[inline]
    pub fn pop_front_into(&mut self, out: &mut Chunk, kind: EventKind, ts: Option<i64>) {
        if self.is_empty() {
            return;
        }
        let start = self.head * self.arity;
        let own_ts = self.ts[self.head];
        out.push_moved(
            ts.unwrap_or(own_ts),
            kind,
            &mut self.values[start..start + self.arity],
        );
        self.head += 1;
        self.reclaim();
    }

    /// Drops the front row.
    pub fn pop_front(&mut self) {
        if self.is_empty() {
            return;
        }
        let start = self.head * self.arity;
        for v in &mut self.values[start..start + self.arity] {
            *v = Value::Null;
        }
        self.head += 1;
        self.reclaim();
    }

    /// Removes the row `i` places from the front, keeping the order of the others.
    pub fn remove(&mut self, i: usize) -> (i64, Vec<Value>) {
        let idx = self.head + i;
        let ts = self.ts.remove(idx);
        let start = idx * self.arity;
        let row: Vec<Value> = self.values.drain(start..start + self.arity).collect();
        (ts, row)
    }

    /// Moves every row into `out`, oldest first.
    pub fn drain_into(&mut self, out: &mut Chunk, kind: EventKind, ts: Option<i64>) {
        while !self.is_empty() {
            self.pop_front_into(out, kind, ts);
        }
        self.clear();
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.ts.clear();
        self.values.clear();
    }

    fn reclaim(&mut self) {
        if self.head == self.ts.len() {
            self.clear();
        } else if self.head >= 64 && self.head * 2 >= self.ts.len() {
            self.ts.drain(..self.head);
            self.values.drain(..self.head * self.arity);
            self.head = 0;
        }
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
        for _ in 0..n {
            self.ts.push(r.i64()?);
            r.row_into(self.arity, &mut self.values)?;
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
}
