//! Timers on the app clock, with Siddhi's firing order.
//!
//! Every element that needs time (a time window, a rate limiter, a trigger, ...) owns a timer
//! state: a FIFO of due times, as Siddhi's `Scheduler` keeps. When the clock moves to `now`,
//! the runtime takes the due states and fires them ordered by the element's *template* (its
//! position in the app, i.e. Siddhi's scheduler creation order), then by the head due time;
//! each state fires all of its times that are due, including ones it adds while firing. A
//! lazy min-heap keeps the common case — nothing due — O(1).

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
}

#[derive(Debug)]
struct TimerState {
    template: u32,
    owner: TimerOwner,
    queue: VecDeque<i64>,
    /// A heap entry exists for this state.
    armed: bool,
}

#[derive(Debug, Default)]
pub struct Scheduler {
    states: Vec<TimerState>,
    heap: BinaryHeap<Reverse<(i64, TimerId)>>,
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
        });
        (self.states.len() - 1) as TimerId
    }

    /// Asks for a call at `time` (Siddhi's `notifyAt`).
    #[inline]
    pub fn notify_at(&mut self, id: TimerId, time: i64) {
        let s = &mut self.states[id as usize];
        s.queue.push_back(time);
        if !s.armed {
            s.armed = true;
            let head = s.queue[0];
            self.heap.push(Reverse((head, id)));
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
        for s in &mut self.states {
            if gone(&s.owner) {
                s.queue.clear();
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
            self.rearm(id as TimerId);
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
