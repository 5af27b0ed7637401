//! Timers on the app clock, with Siddhi's firing order.
//!
//! Every element that needs time (a time window, a rate limiter, a trigger, ...) owns a timer
//! state: a FIFO of due times, as Siddhi's `Scheduler` keeps. When the clock moves to `now`,
//! the runtime takes the due states and fires them ordered by the element's *template* (its
//! position in the app, i.e. Siddhi's scheduler creation order), then by the head due time;
//! each state fires all of its times that are due, including ones it adds while firing. A
//! lazy min-heap keeps the common case — nothing due — O(1).
//!
//! Partitioned queries share one Siddhi `Scheduler` per timer template, with a state per
//! partition key in a Java `HashMap`. When the clock moves, Siddhi collects the due states in
//! a `TreeMultimap` keyed by due time whose values all compare equal, so of several keys due
//! at the same time only the first in the map's iteration order fires; the others fire at the
//! next clock move (the next event, even at the same time). Spate keeps what decides that
//! order: the key's hash, when its state entered the map, and the map's capacity.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};

/// Index of a timer state.
pub type TimerId = u32;

/// What kind of element holds a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OwnerKind {
    #[default]
    Query,
    /// A query of a partition: `element` is the query's index in the plan, `instance` the
    /// partition instance (key) in creation order.
    PartitionQuery,
    NamedWindow,
    Trigger,
}

/// Who is called when a timer fires; interpreted by the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TimerOwner {
    pub kind: OwnerKind,
    /// The query (or other element) holding the timer.
    pub element: u32,
    /// Which stage of that element.
    pub stage: u16,
    /// The partition instance, for partitioned queries.
    pub instance: u32,
    /// Java `hashCode` of the partition key, for partitioned queries.
    pub key_hash: i32,
}

#[derive(Debug)]
struct TimerState {
    template: u32,
    owner: TimerOwner,
    queue: VecDeque<i64>,
    /// A heap entry exists for this state.
    armed: bool,
    /// Partitioned: the state is in its template's key map (its queue is not empty), since
    /// the map's insertion `entered`.
    in_map: bool,
    entered: u64,
}

/// The Java `HashMap` of partition keys of one template's scheduler.
#[derive(Debug, Clone, Copy)]
struct KeyMap {
    live: u32,
    capacity: u32,
}

impl Default for KeyMap {
    fn default() -> KeyMap {
        KeyMap {
            live: 0,
            capacity: 16,
        }
    }
}

#[derive(Debug, Default)]
pub struct Scheduler {
    states: Vec<TimerState>,
    heap: BinaryHeap<Reverse<(i64, TimerId)>>,
    /// By template, for partitioned queries.
    key_maps: Vec<KeyMap>,
    /// Insertions into key maps so far.
    entries: u64,
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler::default()
    }

    /// Creates a timer state for an element; `template` orders firing across elements.
    pub fn register(&mut self, template: u32, owner: TimerOwner) -> TimerId {
        self.states.push(TimerState {
            template,
            owner,
            queue: VecDeque::new(),
            armed: false,
            in_map: false,
            entered: 0,
        });
        (self.states.len() - 1) as TimerId
    }

    /// Asks for a call at `time` (Siddhi's `notifyAt`).
    #[inline]
    pub fn notify_at(&mut self, id: TimerId, time: i64) {
        let s = &mut self.states[id as usize];
        if !s.in_map && s.owner.kind == OwnerKind::PartitionQuery {
            self.enter(id);
        }
        let s = &mut self.states[id as usize];
        s.queue.push_back(time);
        if !s.armed {
            s.armed = true;
            let head = s.queue[0];
            self.heap.push(Reverse((head, id)));
        }
    }

    /// A partitioned state's key goes into its template's map (Siddhi's `computeIfAbsent`):
    /// the map grows past three quarters full, and never shrinks.
    #[cold]
    fn enter(&mut self, id: TimerId) {
        self.entries += 1;
        let s = &mut self.states[id as usize];
        s.in_map = true;
        s.entered = self.entries;
        let t = s.template as usize;
        if self.key_maps.len() <= t {
            self.key_maps.resize(t + 1, KeyMap::default());
        }
        let m = &mut self.key_maps[t];
        m.live += 1;
        while m.live as u64 > m.capacity as u64 * 3 / 4 {
            m.capacity *= 2;
        }
    }

    /// A partitioned state whose queue ran empty leaves its template's map.
    fn leave_if_empty(&mut self, id: TimerId) {
        let s = &mut self.states[id as usize];
        if s.in_map && s.queue.is_empty() {
            s.in_map = false;
            if let Some(m) = self.key_maps.get_mut(s.template as usize) {
                m.live = m.live.saturating_sub(1);
            }
        }
    }

    /// The earliest time anything may be due (a lower bound).
    #[inline]
    pub fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Takes the states due at `now`, in firing order, disarming them.
    pub fn take_due(&mut self, now: i64, due: &mut Vec<TimerId>) {
        due.clear();
        while let Some(&Reverse((t, id))) = self.heap.peek() {
            if t > now {
                break;
            }
            self.heap.pop();
            let s = &mut self.states[id as usize];
            if !s.armed {
                continue;
            }
            match s.queue.front() {
                Some(&head) if head <= now => {
                    s.armed = false;
                    due.push(id);
                }
                Some(&head) => self.heap.push(Reverse((head, id))),
                None => s.armed = false,
            }
        }
        let states = &self.states;
        due.sort_by_key(|&id| {
            let s = &states[id as usize];
            (s.template, s.queue.front().copied().unwrap_or(i64::MAX), id)
        });
        if due.len() > 1 {
            self.one_key_per_time(due);
        }
    }

    /// Of partitioned states of one template due at the same time, keeps the first in the
    /// key map's iteration order (by bucket, the latest entry first within one) and leaves
    /// the others armed for the next clock move.
    fn one_key_per_time(&mut self, due: &mut Vec<TimerId>) {
        let head = |s: &TimerState| s.queue.front().copied().unwrap_or(i64::MAX);
        let mut kept = Vec::with_capacity(due.len());
        let mut i = 0;
        while i < due.len() {
            let first = &self.states[due[i] as usize];
            let mut j = i + 1;
            if first.owner.kind == OwnerKind::PartitionQuery {
                while j < due.len() {
                    let s = &self.states[due[j] as usize];
                    if s.template != first.template || head(s) != head(first) {
                        break;
                    }
                    j += 1;
                }
            }
            if j - i == 1 {
                kept.push(due[i]);
            } else {
                let capacity = self
                    .key_maps
                    .get(first.template as usize)
                    .map_or(16, |m| m.capacity);
                let order = |id: &TimerId| {
                    let s = &self.states[*id as usize];
                    (
                        crate::table::java_hash::bucket(s.owner.key_hash, capacity),
                        Reverse(s.entered),
                    )
                };
                let winner = due[i..j].iter().copied().min_by_key(order);
                for &id in &due[i..j] {
                    if Some(id) == winner {
                        kept.push(id);
                    } else {
                        let s = &mut self.states[id as usize];
                        s.armed = true;
                        let t = head(s);
                        self.heap.push(Reverse((t, id)));
                    }
                }
            }
            i = j;
        }
        *due = kept;
    }

    /// Pops the next due time of a taken state, if it is due at `now`.
    #[inline]
    pub fn pop_due(&mut self, id: TimerId, now: i64) -> Option<i64> {
        let s = &mut self.states[id as usize];
        match s.queue.front() {
            Some(&t) if t <= now => s.queue.pop_front(),
            _ => None,
        }
    }

    /// Re-arms a state after firing, if it still waits for something.
    pub fn rearm(&mut self, id: TimerId) {
        self.leave_if_empty(id);
        let s = &mut self.states[id as usize];
        if !s.armed
            && let Some(&head) = s.queue.front()
        {
            s.armed = true;
            self.heap.push(Reverse((head, id)));
        }
    }

    /// Empties the timer states whose owner matches (their element is gone); the states
    /// stay registered so timer ids remain stable.
    pub fn clear_if(&mut self, mut gone: impl FnMut(&TimerOwner) -> bool) {
        for id in 0..self.states.len() {
            if gone(&self.states[id].owner) {
                self.states[id].queue.clear();
                self.leave_if_empty(id as TimerId);
            }
        }
    }

    pub fn owner(&self, id: TimerId) -> TimerOwner {
        self.states[id as usize].owner
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.usize(self.states.len());
        for s in &self.states {
            w.usize(s.queue.len());
            for t in &s.queue {
                w.i64(*t);
            }
            w.bool(s.in_map);
            w.u64(s.entered);
        }
        w.u64(self.entries);
        w.usize(self.key_maps.len());
        for m in &self.key_maps {
            w.u64(m.live as u64);
            w.u64(m.capacity as u64);
        }
    }

    /// Restores the queues of states registered in the same order as when the snapshot was
    /// taken.
    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let n = r.usize()?;
        if n != self.states.len() {
            return Err(SnapshotError::Mismatch(format!(
                "app has {} timers, snapshot has {n}",
                self.states.len()
            )));
        }
        self.heap.clear();
        for id in 0..n {
            let len = r.len(1)?;
            let s = &mut self.states[id];
            s.queue.clear();
            s.armed = false;
            for _ in 0..len {
                s.queue.push_back(r.i64()?);
            }
            s.in_map = r.bool()?;
            s.entered = r.u64()?;
            self.rearm(id as TimerId);
        }
        self.entries = r.u64()?;
        let maps = r.len(2)?;
        self.key_maps.clear();
        for _ in 0..maps {
            let live = u32::try_from(r.u64()?).unwrap_or(u32::MAX);
            let capacity = u32::try_from(r.u64()?).unwrap_or(16).max(16);
            self.key_maps.push(KeyMap { live, capacity });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(e: u32) -> TimerOwner {
        TimerOwner {
            kind: OwnerKind::Query,
            element: e,
            ..TimerOwner::default()
        }
    }

    #[test]
    fn fires_by_template_then_time() {
        let mut s = Scheduler::new();
        let a = s.register(1, owner(1));
        let b = s.register(0, owner(0));
        s.notify_at(a, 5);
        s.notify_at(a, 7);
        s.notify_at(b, 6);
        assert_eq!(s.next_due(), Some(5));
        let mut due = Vec::new();
        s.take_due(4, &mut due);
        assert!(due.is_empty());
        s.take_due(7, &mut due);
        assert_eq!(due, vec![b, a]);
        assert_eq!(s.pop_due(a, 7), Some(5));
        s.notify_at(a, 7);
        assert_eq!(s.pop_due(a, 7), Some(7));
        assert_eq!(s.pop_due(a, 7), Some(7));
        assert_eq!(s.pop_due(a, 7), None);
        s.rearm(a);
        assert_eq!(s.pop_due(b, 7), Some(6));
        s.rearm(b);
        s.take_due(100, &mut due);
        assert!(due.is_empty());
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn one_partition_key_per_due_time_and_move() {
        let key = |k: &str, i: u32| TimerOwner {
            kind: OwnerKind::PartitionQuery,
            instance: i,
            key_hash: crate::table::java_hash::string_hash(k),
            ..TimerOwner::default()
        };
        let mut s = Scheduler::new();
        // Java iterates a HashMap of "WSO2", "ORCL", "IBM" as IBM, ORCL, WSO2... by bucket.
        let ids: Vec<TimerId> = ["WSO2", "ORCL", "IBM"]
            .iter()
            .enumerate()
            .map(|(i, k)| s.register(0, key(k, i as u32)))
            .collect();
        for &id in &ids {
            s.notify_at(id, 3000);
        }
        let bucket =
            |k: &str| crate::table::java_hash::bucket(crate::table::java_hash::string_hash(k), 16);
        let mut expected: Vec<(u32, TimerId)> = ["WSO2", "ORCL", "IBM"]
            .iter()
            .zip(&ids)
            .map(|(k, &id)| (bucket(k), id))
            .collect();
        expected.sort_by_key(|&(b, id)| (b, Reverse(id)));
        let mut due = Vec::new();
        let mut fired = Vec::new();
        for _ in 0..3 {
            s.take_due(3000, &mut due);
            assert_eq!(due.len(), 1, "one key per clock move");
            fired.push(due[0]);
            assert_eq!(s.pop_due(due[0], 3000), Some(3000));
            s.rearm(due[0]);
        }
        s.take_due(3000, &mut due);
        assert!(due.is_empty());
        assert_eq!(
            fired,
            expected.iter().map(|&(_, id)| id).collect::<Vec<_>>()
        );
    }

    #[test]
    fn snapshot_round_trip() {
        let mut s = Scheduler::new();
        let a = s.register(0, owner(0));
        s.notify_at(a, 10);
        s.notify_at(a, 20);
        let mut w = StateWriter::new();
        s.snapshot(&mut w);
        let bytes = w.into_bytes();
        let mut t = Scheduler::new();
        t.register(0, owner(0));
        t.restore(&mut StateReader::new(&bytes)).unwrap();
        assert_eq!(t.next_due(), Some(10));
    }
}
