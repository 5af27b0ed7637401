//! Partial matches (Siddhi's `StateEvent`s) and where they live.
//!
//! A partial match is shared: the same one can wait in a counted state and in the state after
//! it, and a change made through one is seen through the other. Matches therefore live in an
//! arena and the processors' lists hold ids, counted so a match is freed when no list, and no
//! match being returned, holds it any more.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

/// One event copied into a match.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEv {
    pub ts: i64,
    /// Shared by every match that takes the event.
    pub row: Arc<[Value]>,
}

/// A partial match: per slot the events taken (several for counted states).
#[derive(Clone, Debug, PartialEq)]
pub struct StateEv {
    pub slots: Vec<Vec<StreamEv>>,
    /// Time of the last event taken; -1 before any.
    pub ts: i64,
    /// Dropped by `within`.
    pub expired: bool,
}

impl StateEv {
    /// The first event of `slot` (Siddhi's `getStreamEvent(slot)`).
    #[inline]
    pub fn head(&self, slot: usize) -> Option<&StreamEv> {
        self.slots.get(slot).and_then(|c| c.first())
    }

    #[inline]
    pub fn has(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(|c| !c.is_empty())
    }

    /// Replaces `slot` with `ev` (or empties it).
    #[inline]
    pub fn set(&mut self, slot: usize, ev: Option<StreamEv>) {
        let chain = &mut self.slots[slot];
        chain.clear();
        chain.extend(ev);
    }

    /// Empties every slot from `from` on (a restarted `every`).
    pub fn clear_from(&mut self, from: usize) {
        for c in self.slots.iter_mut().skip(from) {
            c.clear();
        }
    }

    /// The event at `pos` of `slot`: `n` from the start, or `-(k + 1)` for `last - k`.
    pub fn at(&self, slot: usize, pos: i32) -> Option<&StreamEv> {
        let chain = self.slots.get(slot)?;
        if pos >= 0 {
            chain.get(pos as usize)
        } else {
            let back = (-(pos as i64)) as usize;
            chain.len().checked_sub(back).and_then(|i| chain.get(i))
        }
    }
}

struct Entry {
    ev: StateEv,
    refs: u32,
}

/// Partial matches, by id.
#[derive(Default)]
pub struct Arena {
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    slots: usize,
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Arena({} live)", self.entries.iter().flatten().count())
    }
}

impl Arena {
    pub fn new(slots: usize) -> Arena {
        Arena {
            entries: Vec::new(),
            free: Vec::new(),
            slots,
        }
    }

    fn alloc(&mut self, ev: StateEv) -> u32 {
        let entry = Some(Entry { ev, refs: 0 });
        match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = entry;
                id
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        }
    }

    /// A new empty match; free it with [`Arena::drop_if_unused`] if nothing keeps it.
    pub fn new_event(&mut self) -> u32 {
        let slots = vec![Vec::new(); self.slots];
        self.alloc(StateEv {
            slots,
            ts: -1,
            expired: false,
        })
    }

    /// A copy of match `id` (not shared with it).
    pub fn copy(&mut self, id: u32) -> u32 {
        let ev = self.get(id).clone();
        self.alloc(ev)
    }

    #[inline]
    pub fn get(&self, id: u32) -> &StateEv {
        match &self.entries[id as usize] {
            Some(e) => &e.ev,
            None => unreachable!("match {id} used after it was freed"),
        }
    }

    #[inline]
    pub fn get_mut(&mut self, id: u32) -> &mut StateEv {
        match &mut self.entries[id as usize] {
            Some(e) => &mut e.ev,
            None => unreachable!("match {id} used after it was freed"),
        }
    }

    #[inline]
    pub fn retain(&mut self, id: u32) {
        if let Some(e) = &mut self.entries[id as usize] {
            e.refs += 1;
        }
    }

    #[inline]
    pub fn release(&mut self, id: u32) {
        if let Some(e) = &mut self.entries[id as usize] {
            e.refs -= 1;
            if e.refs == 0 {
                self.entries[id as usize] = None;
                self.free.push(id);
            }
        }
    }

    /// Frees a match nothing holds (one just created and not kept).
    pub fn drop_if_unused(&mut self, id: u32) {
        if let Some(e) = &self.entries[id as usize]
            && e.refs == 0
        {
            self.entries[id as usize] = None;
            self.free.push(id);
        }
    }

    pub fn live(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.free.clear();
    }

    /// Writes the matches `ids` refers to (each once) and returns the mapping for lists.
    pub fn snapshot(&self, w: &mut StateWriter, ids: &[u32]) -> FxHashMap<u32, u32> {
        let mut map: FxHashMap<u32, u32> = FxHashMap::default();
        let mut order = Vec::new();
        for &id in ids {
            map.entry(id).or_insert_with(|| {
                order.push(id);
                (order.len() - 1) as u32
            });
        }
        w.usize(order.len());
        for id in order {
            let ev = self.get(id);
            w.i64(ev.ts);
            w.bool(ev.expired);
            w.usize(ev.slots.len());
            for chain in &ev.slots {
                w.usize(chain.len());
                for s in chain {
                    w.i64(s.ts);
                    w.values(&s.row);
                }
            }
        }
        map
    }

    /// Reads what [`Arena::snapshot`] wrote; returns the new ids in written order (unheld).
    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<Vec<u32>> {
        self.clear();
        let n = r.len(3)?;
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let ts = r.i64()?;
            let expired = r.bool()?;
            let slots = r.usize()?;
            if slots != self.slots {
                return Err(SnapshotError::Mismatch(format!(
                    "pattern has {} states, snapshot {slots}",
                    self.slots
                )));
            }
            let mut ev = StateEv {
                slots: Vec::with_capacity(slots),
                ts,
                expired,
            };
            for _ in 0..slots {
                let len = r.len(2)?;
                let mut chain = Vec::with_capacity(len);
                for _ in 0..len {
                    let ts = r.i64()?;
                    let row: Arc<[Value]> = r.values()?.into();
                    chain.push(StreamEv { ts, row });
                }
                ev.slots.push(chain);
            }
            ids.push(self.alloc(ev));
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64) -> StreamEv {
        StreamEv {
            ts,
            row: vec![Value::Long(ts)].into(),
        }
    }

    #[test]
    fn positions_count_from_either_end() {
        let mut a = Arena::new(1);
        let id = a.new_event();
        for t in [10, 20, 30] {
            a.get_mut(id).slots[0].push(ev(t));
        }
        let e = a.get(id);
        assert_eq!(e.at(0, 0).map(|s| s.ts), Some(10));
        assert_eq!(e.at(0, 2).map(|s| s.ts), Some(30));
        assert_eq!(e.at(0, 3), None);
        assert_eq!(e.at(0, -1).map(|s| s.ts), Some(30));
        assert_eq!(e.at(0, -3).map(|s| s.ts), Some(10));
        assert_eq!(e.at(0, -4), None);
    }

    #[test]
    fn matches_are_freed_when_the_last_holder_lets_go() {
        let mut a = Arena::new(2);
        let id = a.new_event();
        a.retain(id);
        a.retain(id);
        a.release(id);
        assert_eq!(a.live(), 1);
        a.release(id);
        assert_eq!(a.live(), 0);
        let unused = a.new_event();
        a.drop_if_unused(unused);
        assert_eq!(a.live(), 0);
    }

    #[test]
    fn snapshot_keeps_shared_matches_shared() {
        let mut a = Arena::new(1);
        let x = a.new_event();
        a.get_mut(x).slots[0].push(ev(5));
        let mut w = StateWriter::new();
        let map = a.snapshot(&mut w, &[x, x]);
        assert_eq!(map.len(), 1);
        let bytes = w.into_bytes();
        let mut b = Arena::new(1);
        let ids = b.restore(&mut StateReader::new(&bytes)).expect("restores");
        assert_eq!(ids.len(), 1);
        assert_eq!(b.get(ids[0]), a.get(x));
    }
}
