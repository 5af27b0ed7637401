//! A pattern or sequence query: events go to the pattern's states; completed matches become
//! selector rows, one chunk per match (Siddhi sends each match to the selector on its own).

use super::{QueryRuntime, QueryState};
use crate::env::Env;
use crate::event::{ChunkRef, EventKind};
use crate::pattern::{PatternCx, PatternState, output_row};
use crate::plan::pattern::PatternPlan;
use crate::plan::{InputPlan, QueryPlan};
use crate::scheduler::{Scheduler, TimerOwner};

impl QueryRuntime {
    /// Creates the pattern state of a pattern query and starts it (Siddhi's partition
    /// start: start states get their first match, absent start states start waiting).
    pub(super) fn start_pattern(&mut self, owner: TimerOwner, now: i64, scheduler: &mut Scheduler) {
        let InputPlan::Pattern(p) = &self.plan.queries[self.index].input else {
            return;
        };
        let mut state = PatternState::new(p, owner, scheduler);
        let mut out = Vec::new();
        let mut cx = PatternCx {
            now,
            scheduler,
            tables: &[],
            out: &mut out,
            error: None,
        };
        state.start(p, &mut cx);
        state.release_out(&mut out);
        self.state.pattern = Some(Box::new((state, out)));
    }
}

impl QueryState {
    pub(super) fn pattern_receive(
        &mut self,
        q: &QueryPlan,
        r: usize,
        input: ChunkRef<'_>,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) {
        self.run_pattern(q, now, scheduler, env, |state, p, cx| {
            state.receive(p, r, input, cx)
        });
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn pattern_timer(
        &mut self,
        q: &QueryPlan,
        pi: usize,
        due: i64,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) {
        self.run_pattern(q, now, scheduler, env, |state, p, cx| {
            state.on_timer(p, pi, due, cx)
        });
    }

    /// Runs `step` on the pattern state, then the selector over the matches it completed.
    fn run_pattern(
        &mut self,
        q: &QueryPlan,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
        step: impl FnOnce(&mut PatternState, &PatternPlan, &mut PatternCx<'_>),
    ) {
        let InputPlan::Pattern(p) = &q.input else {
            return;
        };
        let Some(mut taken) = self.pattern.take() else {
            return;
        };
        let (state, out) = &mut *taken;
        let error = {
            let mut cx = PatternCx {
                now,
                scheduler: &mut *scheduler,
                tables: env.tables,
                out,
                error: None,
            };
            step(state, p, &mut cx);
            cx.error
        };
        if !out.is_empty() {
            self.select_matches(q, p, state, out, now, scheduler, env);
        }
        if let Some(e) = error {
            self.error.get_or_insert(e);
        }
        self.pattern = Some(taken);
    }

    /// Each completed match through the selector, in order.
    #[allow(clippy::too_many_arguments)]
    fn select_matches(
        &mut self,
        q: &QueryPlan,
        p: &PatternPlan,
        state: &mut PatternState,
        out: &mut Vec<u32>,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) {
        let mut joined = std::mem::take(&mut self.joined);
        for &id in out.iter() {
            if self.error.is_some() {
                break;
            }
            let ev = state.arena().get(id);
            joined.clear();
            let dst = joined.begin_row(ev.ts, EventKind::Current);
            output_row(p, ev, dst);
            self.select(q, joined.as_ref(), &[0], now, scheduler, env);
        }
        joined.clear();
        self.joined = joined;
        state.release_out(out);
    }
}
