//! `@purge` on partitions: idle instances are dropped on the app clock, and snapshots carry
//! which instances are gone.

use std::sync::Arc;

use crate::event::ChunkRef;
use crate::plan::{self, StreamId};
use crate::runtime::{AppRuntime, OutputSink};
use crate::value::Value;

struct Collect(Vec<(String, i64)>);

impl OutputSink for Collect {
    fn on_events(&mut self, _stream: StreamId, _seq: u64, events: ChunkRef<'_>) {
        for i in 0..events.len() {
            let row = events.row(i);
            let (Value::Str(k), Value::Long(c)) = (&row[0], &row[1]) else {
                panic!("unexpected row {row:?}");
            };
            self.0.push((k.to_string(), *c));
        }
    }
}

fn app(purge: &str) -> String {
    format!(
        "define stream S (k string, v int);
         {purge}
         partition with (k of S) begin
           from S select k, count() as c insert into O;
         end;"
    )
}

/// Sends `(key, time)` events; with `restore`, moves the state into a fresh runtime after
/// every event. Returns each output's key and count.
fn run(app: &str, events: &[(&str, i64)], restore: bool) -> Vec<(String, i64)> {
    let plan = Arc::new(plan::compile_text(app).expect("valid app"));
    let fresh = || {
        let mut rt = AppRuntime::new(plan.clone()).expect("runnable");
        rt.observe(plan.stream_id("O").expect("O"));
        rt
    };
    let s = plan.stream_id("S").expect("S");
    let mut rt = fresh();
    let mut out = Collect(Vec::new());
    for &(k, t) in events {
        rt.send(s, t, &[Value::str(k), Value::Int(1)], &mut out);
        if restore {
            let bytes = rt.snapshot();
            rt = fresh();
            rt.restore(&bytes).expect("restores");
        }
    }
    out.0
}

const EVENTS: &[(&str, i64)] = &[("A", 0), ("A", 1000), ("B", 1500), ("B", 3000), ("A", 5000)];

fn counts(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(k, c)| (k.to_string(), *c)).collect()
}

#[test]
fn idle_instances_start_afresh() {
    let app = app("@purge(enable='true', interval='1 sec', idle.period='2 sec')");
    // A was last seen at 1000; the purge at 4000 finds it idle for 3 s and drops it. B (last
    // seen at 3000) survives.
    let expected = counts(&[("A", 1), ("A", 2), ("B", 1), ("B", 2), ("A", 1)]);
    assert_eq!(run(&app, EVENTS, false), expected);
    assert_eq!(run(&app, EVENTS, true), expected);
}

#[test]
fn busy_or_disabled_partitions_keep_their_state() {
    let expected = counts(&[("A", 1), ("A", 2), ("B", 1), ("B", 2), ("A", 3)]);
    let long_idle = app("@purge(enable='true', interval='1 sec', idle.period='1 hour')");
    assert_eq!(run(&long_idle, EVENTS, true), expected);
    let disabled = app("@purge(enable='false', interval='1 sec', idle.period='1 sec')");
    assert_eq!(run(&disabled, EVENTS, false), expected);
    assert_eq!(run(&app(""), EVENTS, false), expected);
}

#[test]
fn a_purged_key_and_its_successor_survive_snapshots() {
    let app = app("@purge(enable='true', interval='1 sec', idle.period='1 sec')");
    let events = [("A", 0), ("B", 3000), ("A", 3100), ("A", 3200), ("B", 9000)];
    let expected = counts(&[("A", 1), ("B", 1), ("A", 1), ("A", 2), ("B", 1)]);
    assert_eq!(run(&app, &events, false), expected);
    assert_eq!(run(&app, &events, true), expected);
}

#[test]
fn bad_purge_annotations_are_rejected() {
    for (purge, says) in [
        (
            "@purge(interval='1 sec', idle.period='1 sec')",
            "missing element 'enable'",
        ),
        (
            "@purge(enable='yes', idle.period='1 sec')",
            "invalid value for enable",
        ),
        (
            "@purge(enable='true', interval='1 sec')",
            "missing element 'idle.period'",
        ),
        (
            "@purge(enable='true', idle.period='1 fortnight')",
            "unknown time unit",
        ),
    ] {
        let err = plan::compile_text(&app(purge)).expect_err(purge);
        let text = format!("{err:?}");
        assert!(text.contains(says), "{purge}: {text}");
    }
}
