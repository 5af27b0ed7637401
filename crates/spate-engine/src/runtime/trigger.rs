//! Triggers on the app clock: `'start'` fires when the app starts; periodic and cron
//! triggers are armed the first time the clock moves (the first event in playback, the first
//! tick live) and fire at each due time with `triggered_time` = that time.

use super::{AppRuntime, OutputSink};
use crate::event::ChunkRef;
use crate::plan::trigger::TriggerKind;
use crate::scheduler::{OwnerKind, Scheduler, TimerId, TimerOwner};
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

/// Fires more than this many periods of one trigger in a single clock move are skipped
/// (logged): a clock jump must not stall the app.
const MAX_CATCH_UP: i64 = 100_000;

pub(super) struct TriggerRt {
    timer: Option<TimerId>,
    armed: bool,
}

pub(super) fn triggers(plan: &crate::plan::AppPlan, scheduler: &mut Scheduler) -> Vec<TriggerRt> {
    plan.triggers
        .iter()
        .enumerate()
        .map(|(i, t)| TriggerRt {
            timer: t.timer_template.map(|tpl| {
                scheduler.register(
                    tpl,
                    TimerOwner {
                        kind: OwnerKind::Trigger,
                        element: i as u32,
                        ..TimerOwner::default()
                    },
                )
            }),
            armed: false,
        })
        .collect()
}

impl AppRuntime {
    /// Starts the app: `at 'start'` triggers fire now. Call once when an app is deployed,
    /// not after restoring a snapshot into it.
    pub fn start(&mut self, sink: &mut dyn OutputSink) {
        let plan = self.plan.clone();
        for t in &plan.triggers {
            if let TriggerKind::Start = t.kind {
                self.send_trigger(t.stream, self.clock, sink);
            }
        }
    }

    /// Arms periodic and cron triggers the first time the clock moves.
    pub(super) fn arm_triggers(&mut self, now: i64) {
        if self.triggers_armed {
            return;
        }
        self.triggers_armed = true;
        let plan = self.plan.clone();
        for (i, t) in plan.triggers.iter().enumerate() {
            let rt = &mut self.triggers[i];
            if rt.armed {
                continue;
            }
            rt.armed = true;
            let next = match &t.kind {
                TriggerKind::Start => None,
                TriggerKind::Every(period) => Some(now + period),
                TriggerKind::Cron(c) => c.next_after(now),
            };
            if let (Some(at), Some(timer)) = (next, rt.timer) {
                self.scheduler.notify_at(timer, at);
            }
        }
    }

    /// Trigger `i` is due at `due`.
    pub(super) fn fire_trigger(&mut self, i: usize, due: i64, sink: &mut dyn OutputSink) {
        let plan = self.plan.clone();
        let t = &plan.triggers[i];
        self.send_trigger(t.stream, due, sink);
        let next = match &t.kind {
            TriggerKind::Start => None,
            TriggerKind::Every(period) => {
                let behind = (self.clock - due) / period;
                if behind > MAX_CATCH_UP {
                    crate::diagnostics::runtime_error(&format!(
                        "trigger `{}`: the clock jumped {behind} periods ahead; skipping to the latest",
                        t.name
                    ));
                    Some(due + behind * period)
                } else {
                    Some(due + period)
                }
            }
            TriggerKind::Cron(c) => c.next_after(due),
        };
        if let (Some(at), Some(timer)) = (next, self.triggers[i].timer) {
            self.scheduler.notify_at(timer, at);
        }
    }

    fn send_trigger(&mut self, stream: u32, at: i64, sink: &mut dyn OutputSink) {
        let ts = [at];
        let row = [Value::Long(at)];
        self.deliver(stream, ChunkRef::single(&ts, &row), sink);
    }

    pub(super) fn snapshot_triggers(&self, w: &mut StateWriter) {
        w.bool(self.triggers_armed);
        w.usize(self.triggers.len());
        for t in &self.triggers {
            w.bool(t.armed);
        }
    }

    pub(super) fn restore_triggers(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.triggers_armed = r.bool()?;
        let n = r.usize()?;
        if n != self.triggers.len() {
            return Err(SnapshotError::Mismatch(format!(
                "app has {} triggers, snapshot {n}",
                self.triggers.len()
            )));
        }
        for t in &mut self.triggers {
            t.armed = r.bool()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::event::ChunkRef;
    use crate::plan::{self, StreamId};
    use crate::runtime::{AppRuntime, OutputSink};
    use crate::value::Value;

    struct Collect(Vec<(i64, Value)>);

    impl OutputSink for Collect {
        fn on_events(&mut self, _stream: StreamId, _seq: u64, events: ChunkRef<'_>) {
            for i in 0..events.len() {
                self.0.push((events.ts(i), events.row(i)[0].clone()));
            }
        }
    }

    /// Runs `app` on events of `S` at `times`, optionally moving the state into a fresh
    /// runtime after the first event; returns what reached `O`.
    fn run(app: &str, times: &[i64], restore_after_first: bool) -> Vec<(i64, Value)> {
        let plan = Arc::new(plan::compile_text(app).expect("valid app"));
        let fresh = || {
            let mut rt = AppRuntime::new(plan.clone()).expect("runnable");
            rt.observe(plan.stream_id("O").expect("O"));
            rt
        };
        let mut rt = fresh();
        let s = plan.stream_id("S").expect("S");
        let mut out = Collect(Vec::new());
        rt.start(&mut out);
        for (i, &t) in times.iter().enumerate() {
            rt.send(s, t, &[Value::Int(1)], &mut out);
            if i == 0 && restore_after_first {
                let bytes = rt.snapshot();
                rt = fresh();
                rt.restore(&bytes).expect("restores");
            }
        }
        out.0
    }

    const PERIODIC: &str = "define stream S (v int); define trigger T at every 1 sec; \
                            from T select triggered_time as t insert into O;";

    #[test]
    fn periodic_triggers_start_with_the_clock() {
        let expected = vec![(2000, Value::Long(2000)), (3000, Value::Long(3000))];
        assert_eq!(run(PERIODIC, &[1000, 3500], false), expected);
        assert_eq!(run(PERIODIC, &[1000, 3500], true), expected);
    }

    #[test]
    fn cron_triggers_fire_on_the_app_clock() {
        let app = "define stream S (v int); define trigger T at '*/2 * * * * ?'; \
                   from T select triggered_time as t insert into O;";
        let expected = vec![(2000, Value::Long(2000)), (4000, Value::Long(4000))];
        assert_eq!(run(app, &[1000, 5000], false), expected);
        assert_eq!(run(app, &[1000, 5000], true), expected);
    }

    #[test]
    fn start_triggers_fire_once_at_start() {
        let app = "define stream S (v int); define trigger T at 'start'; \
                   from T select triggered_time as t insert into O;";
        assert_eq!(run(app, &[1000, 2000], true), vec![(0, Value::Long(0))]);
    }

    #[test]
    fn bad_trigger_times_are_rejected() {
        let app = "define stream S (v int); define trigger T at 'every sometimes'; \
                   from T select triggered_time as t insert into O;";
        assert!(plan::compile_text(app).is_err());
    }
}
