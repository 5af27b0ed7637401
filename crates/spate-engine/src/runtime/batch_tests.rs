//! `send_batch` against `send`: the same events, one at a time or in runs, must give the same
//! rows (with their sequence numbers, in the same order), state and clock.

use std::sync::Arc;

use crate::event::{ChunkRef, EventKind};
use crate::plan::{self, StreamId};
use crate::runtime::{AppRuntime, OutputSink};
use crate::value::Value;

/// Every row the sink saw: stream, sequence number, time, kind, values; and the call count.
#[derive(Default)]
struct Record {
    rows: Vec<(StreamId, u64, i64, EventKind, Vec<Value>)>,
    calls: usize,
}

impl OutputSink for Record {
    fn on_events(&mut self, stream: StreamId, first_seq: u64, events: ChunkRef<'_>) {
        self.calls += 1;
        for i in 0..events.len() {
            self.rows.push((
                stream,
                first_seq + i as u64,
                events.ts(i),
                events.kind(i),
                events.row(i).to_vec(),
            ));
        }
    }
}

struct Outcome {
    record: Record,
    snapshot: Vec<u8>,
    clock: i64,
    input_seq: u64,
}

/// Events: (stream name, time, row).
type Events = Vec<(&'static str, i64, Vec<Value>)>;

/// Runs `events` through `app`, observing `observed`; `batched` hands over runs of
/// consecutive events of one stream (at most `run` long) with `send_batch`.
fn run(app: &str, observed: &[&str], events: &Events, batched: bool, run: usize) -> Outcome {
    let plan = Arc::new(plan::compile_text(app).expect("valid app"));
    let mut rt = AppRuntime::new(plan.clone()).expect("runnable");
    for s in observed {
        rt.observe(plan.stream_id(s).expect("stream"));
    }
    let mut record = Record::default();
    rt.start(&mut record);
    let mut i = 0;
    while i < events.len() {
        let stream = plan.stream_id(events[i].0).expect("stream");
        if !batched {
            rt.send(stream, events[i].1, &events[i].2, &mut record);
            i += 1;
            continue;
        }
        let mut j = i;
        let (mut ts, mut values) = (Vec::new(), Vec::new());
        while j < events.len() && events[j].0 == events[i].0 && j - i < run {
            ts.push(events[j].1);
            values.extend_from_slice(&events[j].2);
            j += 1;
        }
        rt.send_batch(stream, &ts, &values, &mut record);
        i = j;
    }
    Outcome {
        record,
        snapshot: rt.snapshot(),
        clock: rt.clock(),
        input_seq: rt.input_seq(),
    }
}

/// Checks `send_batch` against `send` for several run lengths; returns the sink calls of the
/// longest runs and the rows.
fn same(app: &str, observed: &[&str], events: &Events) -> (usize, usize) {
    let one = run(app, observed, events, false, 1);
    let mut calls = 0;
    for n in [1, 2, 3, 7, 1024] {
        let b = run(app, observed, events, true, n);
        assert_eq!(one.record.rows, b.record.rows, "rows, runs of {n}");
        assert_eq!(one.snapshot, b.snapshot, "snapshot, runs of {n}");
        assert_eq!(one.clock, b.clock, "clock, runs of {n}");
        assert_eq!(one.input_seq, b.input_seq, "input_seq, runs of {n}");
        calls = b.record.calls;
    }
    (calls, one.record.rows.len())
}

/// `S (k string, s string, v int)` events with times `ts`; every fifth has a non-number `s`.
fn events(ts: &[i64]) -> Events {
    ts.iter()
        .enumerate()
        .map(|(i, &t)| {
            let s = if i % 5 == 3 {
                Value::str("x")
            } else {
                Value::Null
            };
            (
                "S",
                t,
                vec![Value::str(&format!("k{}", i % 3)), s, Value::Int(i as i32)],
            )
        })
        .collect()
}

fn steady(n: i64) -> Vec<i64> {
    (0..n).map(|i| 1000 + i * 7).collect()
}

const S: &str = "define stream S (k string, s string, v int);";

#[test]
fn filters_and_projections_go_in_runs() {
    let app = format!(
        "{S} from S[v % 2 == 0 and k != 'k1'] select k, v * 3 as w, currentTimeMillis() as now, \
         eventTimestamp() as et insert into O;"
    );
    let (calls, rows) = same(&app, &["O"], &events(&steady(100)));
    assert!(rows > 10);
    assert!(calls < 5, "runs are delivered whole ({calls} calls)");
    // Rows copied whole (`select *`, or all attributes in order) and plain reads.
    for sel in ["*", "k, s, v", "v, k"] {
        let app = format!("{S} from S[v > 2 and v != 7] select {sel} insert into O;");
        let (calls, rows) = same(&app, &["O"], &events(&steady(50)));
        assert!(rows > 40 && calls < 3);
    }
}

#[test]
fn evaluation_errors_drop_only_their_event() {
    // Projection errors (string + int) and filter errors.
    let app = format!("{S} from S select k, s + v as sv, v insert into O;");
    let (_, rows) = same(&app, &["O"], &events(&steady(50)));
    assert_eq!(rows, 40);
    let app = format!("{S} from S[s + v > 0 or v > 10] select k, v insert into O;");
    same(&app, &["O"], &events(&steady(50)));
}

#[test]
fn out_of_order_times_see_the_clock_they_would_have() {
    let ts = [5000, 1000, 7000, 6999, 7000, 2, 9000, 8999, 100, 9001];
    let app = format!(
        "{S} from S select k, currentTimeMillis() as now, eventTimestamp() as et insert into O;"
    );
    same(&app, &["O"], &events(&ts));
}

#[test]
fn windows_and_chains_fall_back() {
    let ts = steady(60);
    let app = format!("{S} from S#window.time(50) select k, count() as c insert into O;");
    same(&app, &["O"], &events(&ts));
    let app = format!(
        "{S} from S[v > 3] select k, v insert into M; from M select k, v * 2 as w insert into O;"
    );
    same(&app, &["M", "O"], &events(&ts));
    // Two queries read S: outputs interleave event by event.
    let app = format!("{S} from S select k insert into O; from S select v insert into P;");
    same(&app, &["O", "P"], &events(&ts));
    // The input stream and the output are both observed.
    let app = format!("{S} from S[v > 3] select k, v insert into O;");
    same(&app, &["S", "O"], &events(&ts));
    // Only the input is observed; the query's errors drop nothing of it.
    let app = format!("{S} from S select s + v as x insert into O;");
    same(&app, &["S"], &events(&ts));
}

#[test]
fn triggers_and_timers_cut_runs() {
    let app = format!(
        "{S} define trigger T at every 100 milliseconds;
         from T select triggered_time as t insert into TO;
         from S[v > 2] select k, v, currentTimeMillis() as now insert into O;"
    );
    same(&app, &["O", "TO"], &events(&steady(200)));
    let ts = [1000, 1010, 1500, 1100, 2000, 1990, 2600];
    same(&app, &["O", "TO"], &events(&ts));
    // Another stream's time window registers timers that cut S's runs.
    let app = format!(
        "{S} define stream R (x int);
         from R#window.time(30) select count() as c insert into RC;
         from S select k, v insert into O;"
    );
    let mut ev = vec![("R", 990, vec![Value::Int(1)])];
    ev.extend(events(&steady(40)));
    ev.push(("R", 1400, vec![Value::Int(2)]));
    ev.extend(events(&[1401, 1402, 1500, 1600]));
    same(&app, &["O", "RC"], &ev);
}
