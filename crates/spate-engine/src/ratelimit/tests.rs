//! Limiters driven directly: rows in, timers fired as the runtime fires them, rows out.

use super::snapshot::same_apart_from_aggregates;
use super::*;
use crate::event::{Chunk, EventKind};
use crate::scheduler::TimerOwner;
use crate::value::Value;

use EventKind::{Current as C, Expired as E, Reset as R};

/// A limiter with its timer, the app clock and everything it emitted (chunk by chunk).
struct Harness {
    limiter: Box<dyn RateLimiter>,
    scheduler: Scheduler,
    timer: TimerId,
    width: usize,
    arity: usize,
    now: i64,
    emitted: Vec<Vec<(i64, EventKind, Vec<Value>)>>,
}

fn v(x: i64) -> Value {
    Value::Long(x)
}

fn s(x: &str) -> Value {
    Value::str(x)
}

impl Harness {
    fn new(spec: RateSpec, arity: usize, key_arity: usize) -> Harness {
        let plan = RatePlan {
            spec,
            arity,
            key_arity,
            timer_template: Some(0),
        };
        let mut scheduler = Scheduler::new();
        let timer = scheduler.register(
            0,
            TimerOwner {
                element: 0,
                stage: 0,
                ..TimerOwner::default()
            },
        );
        Harness {
            limiter: plan.instantiate(),
            scheduler,
            timer,
            width: arity + key_arity,
            arity,
            now: 0,
            emitted: Vec::new(),
        }
    }

    fn collect(&mut self, out: &Chunk) {
        for (start, end) in out.segments() {
            let chunk = out.slice(start, end);
            self.emitted.push(
                (0..chunk.len())
                    .map(|i| (chunk.ts(i), chunk.kind(i), chunk.row(i).to_vec()))
                    .collect(),
            );
        }
    }

    /// Moves the clock to `now`, firing due ticks first (as the runtime does).
    fn at(&mut self, now: i64) -> &mut Harness {
        self.now = now;
        let mut due = Vec::new();
        self.scheduler.take_due(now, &mut due);
        for &id in &due {
            while let Some(t) = self.scheduler.pop_due(id, now) {
                let mut out = Chunk::new(self.arity);
                let mut cx = RateCtx {
                    now,
                    scheduler: &mut self.scheduler,
                    timer: Some(self.timer),
                    error: None,
                };
                self.limiter.on_timer(t, &mut out, &mut cx);
                self.collect(&out);
            }
            self.scheduler.rearm(id);
        }
        self
    }

    /// One chunk from the selector (rows: timestamp, kind, values including hidden keys);
    /// returns the limiter's error, if any.
    fn send(&mut self, rows: &[(i64, EventKind, Vec<Value>)]) -> Option<String> {
        let mut input = Chunk::new(self.width);
        for (ts, kind, values) in rows {
            input.push(*ts, *kind, values);
        }
        let mut out = Chunk::new(self.arity);
        let mut cx = RateCtx {
            now: self.now,
            scheduler: &mut self.scheduler,
            timer: Some(self.timer),
            error: None,
        };
        self.limiter.start(&mut cx);
        self.limiter.process(input.as_ref(), &mut out, &mut cx);
        let error = cx.error.take();
        self.collect(&out);
        error
    }

    /// The values of each emitted chunk.
    fn values(&mut self) -> Vec<Vec<Vec<Value>>> {
        std::mem::take(&mut self.emitted)
            .into_iter()
            .map(|c| c.into_iter().map(|(_, _, v)| v).collect())
            .collect()
    }

    /// Snapshots the limiter and restores it into a fresh one of the same plan.
    fn reload(&mut self, spec: RateSpec, key_arity: usize) {
        let mut w = StateWriter::new();
        self.limiter.snapshot(&mut w);
        let bytes = w.into_bytes();
        let fresh = Harness::new(spec, self.arity, key_arity);
        self.limiter = fresh.limiter;
        let mut r = StateReader::new(&bytes);
        self.limiter.restore(&mut r).expect("restores");
        r.finish().expect("reads everything");
    }
}

fn time(kind: RateKind) -> RateSpec {
    RateSpec::Time { kind, millis: 1000 }
}

fn snapshot(windowed: bool, aggregate_outputs: Vec<usize>) -> RateSpec {
    RateSpec::Snapshot {
        millis: 1000,
        windowed,
        aggregate_outputs,
    }
}

#[test]
fn all_per_time_ticks_from_the_first_event() {
    let mut h = Harness::new(time(RateKind::All), 1, 0);
    h.at(500)
        .send(&[(500, C, vec![v(1)]), (500, R, vec![v(0)])]);
    h.at(1499).send(&[(1499, E, vec![v(2)])]);
    // The tick at 1500 fires before the event at 1500.
    h.at(1500).send(&[(1500, C, vec![v(3)])]);
    assert_eq!(h.values(), vec![vec![vec![v(1)], vec![v(2)]]]);
    // A jump over several periods ticks once per period; empty ticks emit nothing.
    h.at(4700);
    assert_eq!(h.values(), vec![vec![vec![v(3)]]]);
    h.at(5500).send(&[(5500, C, vec![v(4)])]);
    h.reload(time(RateKind::All), 0);
    h.at(6500);
    assert_eq!(h.values(), vec![vec![vec![v(4)]]]);
}

#[test]
fn last_per_time_with_and_without_groups() {
    let mut h = Harness::new(time(RateKind::Last), 1, 0);
    h.at(0)
        .send(&[(0, C, vec![v(1)]), (0, E, vec![v(2)]), (0, R, vec![v(9)])]);
    h.at(1000);
    h.at(2000);
    assert_eq!(h.values(), vec![vec![vec![v(2)]]]);

    let mut h = Harness::new(time(RateKind::Last), 1, 1);
    h.at(0)
        .send(&[(0, C, vec![v(1), s("a")]), (0, C, vec![v(2), s("b")])]);
    h.send(&[(10, C, vec![v(3), s("a")])]);
    h.reload(time(RateKind::Last), 1);
    h.at(1000);
    // Groups in first-seen order, each with its latest row.
    assert_eq!(h.values(), vec![vec![vec![v(3)], vec![v(2)]]]);
    h.send(&[(1000, C, vec![v(4), s("b")])]);
    h.at(2000);
    assert_eq!(h.values(), vec![vec![vec![v(4)]]]);
}

#[test]
fn first_per_time_takes_the_first_event_of_a_chunk_even_a_reset() {
    let mut h = Harness::new(time(RateKind::First), 1, 0);
    h.at(0).send(&[(0, R, vec![v(0)]), (0, C, vec![v(1)])]);
    h.at(999).send(&[(999, C, vec![v(2)])]);
    h.at(1000)
        .send(&[(1000, C, vec![v(3)]), (1000, C, vec![v(4)])]);
    h.reload(time(RateKind::First), 0);
    h.at(1999).send(&[(1999, C, vec![v(5)])]);
    h.at(2000).send(&[(2000, C, vec![v(6)])]);
    assert_eq!(h.values(), vec![vec![vec![v(3)]], vec![vec![v(6)]]]);
}

#[test]
fn first_per_time_with_groups_tests_every_event() {
    let mut h = Harness::new(time(RateKind::First), 1, 1);
    h.at(0)
        .send(&[(0, C, vec![v(1), s("a")]), (0, C, vec![v(2), s("b")])]);
    h.at(500).send(&[(500, C, vec![v(3), s("a")])]);
    h.reload(time(RateKind::First), 1);
    h.at(1000)
        .send(&[(1000, C, vec![v(4), s("a")]), (1000, C, vec![v(5), s("a")])]);
    assert_eq!(
        h.values(),
        vec![vec![vec![v(1)], vec![v(2)]], vec![vec![v(4)]]]
    );
}

#[test]
fn snapshot_without_window_repeats_the_last_event() {
    let mut h = Harness::new(snapshot(false, vec![]), 1, 0);
    h.at(0).send(&[(0, C, vec![v(1)])]);
    h.at(300).send(&[(300, C, vec![v(2)])]);
    h.at(3000).send(&[(3000, C, vec![v(3)])]);
    let two = vec![vec![v(2)]];
    assert_eq!(h.values(), vec![two.clone(), two.clone(), two]);
}

#[test]
fn snapshot_of_a_window_drops_the_first_equal_event() {
    let spec = snapshot(true, vec![]);
    let mut h = Harness::new(spec.clone(), 1, 0);
    h.at(0)
        .send(&[(0, C, vec![v(1)]), (0, C, vec![v(2)]), (0, C, vec![v(1)])]);
    h.send(&[(10, E, vec![v(1)])]);
    h.reload(spec, 0);
    h.at(1000);
    assert_eq!(h.values(), vec![vec![vec![v(2)], vec![v(1)]]]);
    // An event at or after the scheduled time emits the snapshot before it is applied.
    h.send(&[(2000, R, vec![v(0)]), (2000, C, vec![v(5)])]);
    h.at(2000);
    assert_eq!(h.values(), vec![vec![vec![v(2)], vec![v(1)]]]);
    h.at(3000);
    assert_eq!(h.values(), vec![vec![vec![v(5)]]]);
}

#[test]
fn snapshot_of_all_aggregates_forgets_on_expiry() {
    let mut h = Harness::new(snapshot(true, vec![0]), 1, 0);
    h.at(0).send(&[(0, C, vec![v(1)]), (0, E, vec![v(0)])]);
    h.at(1000);
    h.send(&[(1000, C, vec![v(7)])]);
    h.at(2000);
    assert_eq!(h.values(), vec![vec![vec![v(7)]]]);
}

#[test]
fn snapshot_with_some_aggregates_replaces_them() {
    let spec = snapshot(true, vec![1]);
    let mut h = Harness::new(spec.clone(), 2, 0);
    h.at(0)
        .send(&[(0, C, vec![s("a"), v(1)]), (0, C, vec![s("b"), v(3)])]);
    h.send(&[(5, E, vec![s("a"), v(2)])]);
    h.reload(spec, 0);
    h.at(1000);
    assert_eq!(h.values(), vec![vec![vec![s("b"), v(2)]]]);
}

#[test]
fn snapshot_with_groups_and_some_aggregates_emits_one_event_per_group() {
    let spec = snapshot(true, vec![1]);
    let mut h = Harness::new(spec.clone(), 2, 1);
    h.at(0).send(&[
        (0, C, vec![s("x"), v(1), s("a")]),
        (0, C, vec![s("y"), v(5), s("b")]),
        (0, C, vec![s("z"), v(3), s("a")]),
    ]);
    h.reload(spec, 1);
    h.at(1000);
    assert_eq!(
        h.values(),
        vec![vec![vec![s("x"), v(3)], vec![s("y"), v(5)]]]
    );
}

#[test]
fn snapshot_with_groups_and_only_aggregates_forgets_empty_groups() {
    let spec = snapshot(true, vec![0]);
    let mut h = Harness::new(spec.clone(), 1, 1);
    h.at(0).send(&[
        (0, C, vec![v(1), s("a")]),
        (0, C, vec![v(2), s("b")]),
        (0, E, vec![v(0), s("a")]),
        (0, E, vec![v(1), s("b")]),
    ]);
    h.send(&[(0, C, vec![v(3), s("b")])]);
    h.reload(spec, 1);
    h.at(1000);
    h.send(&[(1000, C, vec![v(4), s("a")])]);
    h.at(2000);
    // `b` has one event left, its last one is kept; `a` emptied, then came back.
    assert_eq!(
        h.values(),
        vec![vec![vec![v(3)]], vec![vec![v(3)], vec![v(4)]]]
    );
}

#[test]
fn snapshot_comparison_error_drops_the_chunk() {
    let mut h = Harness::new(snapshot(true, vec![2, 3]), 4, 0);
    h.at(0).send(&[(0, C, vec![s("a"), v(1), v(1), v(1)])]);
    let err = h.send(&[
        (1000, E, vec![s("a"), v(1), v(0), v(0)]),
        (1000, C, vec![s("b"), v(2), v(2), v(2)]),
    ]);
    assert!(err.is_some_and(|e| e.contains("ArrayIndexOutOfBounds")));
    // The snapshot due at 1000 was taken but never sent; the kept event stays.
    assert!(h.values().is_empty());
    h.at(2000);
    assert_eq!(h.values(), vec![vec![vec![s("a"), v(1), v(1), v(1)]]]);
}

#[test]
fn siddhi_aggregate_skipping_quirk() {
    let row = |xs: &[i64]| xs.iter().map(|&x| v(x)).collect::<Vec<_>>();
    // One aggregate: skipped.
    assert_eq!(
        same_apart_from_aggregates(&[1], &row(&[1, 2, 3]), &row(&[1, 9, 3])),
        Ok(true)
    );
    // Positions 0 and 2: after 0 the next position read is `aggregates[0]` again, so 2 is
    // compared like a plain value.
    assert_eq!(
        same_apart_from_aggregates(&[0, 2], &row(&[1, 2, 3]), &row(&[9, 2, 3])),
        Ok(true)
    );
    assert_eq!(
        same_apart_from_aggregates(&[0, 2], &row(&[1, 2, 3]), &row(&[9, 2, 4])),
        Ok(false)
    );
    // Positions 1 and 2 happen to work.
    assert_eq!(
        same_apart_from_aggregates(&[1, 2], &row(&[1, 2, 3]), &row(&[1, 8, 9])),
        Ok(true)
    );
    // Positions 2 and 3 read past the list, once the plain values matched.
    assert!(same_apart_from_aggregates(&[2, 3], &row(&[1, 2, 3, 4]), &row(&[1, 2, 0, 0])).is_err());
    assert_eq!(
        same_apart_from_aggregates(&[2, 3], &row(&[1, 2, 3, 4]), &row(&[1, 5, 0, 0])),
        Ok(false)
    );
    // A null on the compared side throws; on the other side it is just different.
    let (null_first, one) = (vec![Value::Null, v(1)], vec![v(1), v(1)]);
    assert!(same_apart_from_aggregates(&[1], &null_first, &one).is_err());
    assert_eq!(
        same_apart_from_aggregates(&[1], &one, &null_first),
        Ok(false)
    );
}
