//! Absent states (`not S for t`, `not S and e2=T`): they complete on a timer when the
//! awaited event did not come (Siddhi's `AbsentStreamPreStateProcessor` and
//! `AbsentLogicalPreStateProcessor`), driven by the app clock.

use spate_ql::ast::LogicalOp;

use super::{PatternCx, PatternState, StreamEv, notify};
use crate::plan::pattern::{PatternPlan, ProcKind};
use crate::value::Value;

impl PatternState {
    /// The timer of absent state `pi` fired for time `due` (the clock is `cx.now`).
    pub fn on_timer(&mut self, plan: &PatternPlan, pi: usize, due: i64, cx: &mut PatternCx<'_>) {
        match plan.procs[pi].kind {
            ProcKind::Absent { wait } => self.absent_timer(plan, pi, wait, due, cx),
            ProcKind::Logical {
                absent: true,
                op,
                partner,
                wait,
            } => self.absent_logical_timer(plan, pi, op, partner, wait, due, cx),
            _ => {}
        }
    }

    fn absent_timer(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        wait: i64,
        current: i64,
        cx: &mut PatternCx<'_>,
    ) {
        if !self.procs[pi].active {
            return;
        }
        let p = &plan.procs[pi];
        let st = &self.procs[pi];
        let mut initialize = p.is_start && st.new_every.is_empty() && st.pending.is_empty();
        if initialize && plan.sequence && p.every.is_none() && st.last_scheduled > 0 {
            initialize = false;
        }
        self.start_or_reset(plan, pi, initialize, cx);
        let pending = std::mem::take(&mut self.procs[pi].pending);
        let mut kept = Vec::with_capacity(pending.len());
        let mut ready = Vec::new();
        for id in pending {
            if self.is_expired(plan, id, current) {
                if p.within_every.is_some()
                    && let Some(every) = p.every
                    && every != pi
                {
                    self.add_every_state(plan, every, id, cx);
                }
                self.arena.release(id);
                continue;
            }
            let ts = self.arena.get(id).ts;
            let last_scheduled = self.procs[pi].last_scheduled;
            if (ts == -1 && current >= last_scheduled) || (ts != -1 && current >= ts + wait) {
                self.arena.get_mut(id).ts = current;
                ready.push(id);
            } else {
                kept.push(id);
            }
        }
        let added = std::mem::take(&mut self.procs[pi].pending);
        kept.extend(added);
        self.procs[pi].pending = kept;
        if let Some(w) = p.within_every {
            self.update_state(plan, w, cx);
        }
        let not_processed = ready.is_empty();
        for id in ready {
            self.send_event(plan, pi, id, cx);
            self.arena.release(id);
        }
        let st = &mut self.procs[pi];
        if cx.now > wait + current {
            st.last_scheduled = cx.now + wait;
        }
        if not_processed && st.last_scheduled < current {
            st.last_scheduled = current + wait;
            let at = st.last_scheduled;
            notify(st.timer, cx, at);
        }
    }

    /// Before a timer round: a fresh match for an idle start state, or (sequences) a reset
    /// when new matches wait; then new matches become pending.
    fn start_or_reset(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        initialize: bool,
        cx: &mut PatternCx<'_>,
    ) {
        if initialize {
            let id = self.arena.new_event();
            self.add_state(plan, pi, id, cx);
            self.arena.drop_if_unused(id);
        } else if plan.sequence && !self.procs[pi].new_every.is_empty() {
            self.reset_state(plan, pi, cx);
        }
        self.update_state(plan, pi, cx);
    }

    /// The absent state completed: to the selector and the next states.
    fn send_event(&mut self, plan: &PatternPlan, pi: usize, id: u32, cx: &mut PatternCx<'_>) {
        let p = &plan.procs[pi];
        if p.to_selector {
            self.emit(id, cx);
        }
        if let Some(next) = p.next {
            self.add_state(plan, next, id, cx);
        }
        if let Some(every) = p.every {
            self.add_every_state(plan, every, id, cx);
        } else if p.is_start {
            self.procs[pi].active = false;
            if let ProcKind::Logical {
                op: LogicalOp::Or,
                partner,
                ..
            } = p.kind
                && let ProcKind::Logical { absent: true, .. } = plan.procs[partner].kind
            {
                self.procs[partner].active = false;
            }
        }
        if let Some(cb) = p.callback {
            self.count_start_state_reset(plan, cb);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn absent_logical_timer(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        op: LogicalOp,
        partner: usize,
        wait: i64,
        current: i64,
        cx: &mut PatternCx<'_>,
    ) {
        if !self.procs[pi].active {
            return;
        }
        let p = &plan.procs[pi];
        let (slot, partner_slot) = (p.slot, plan.procs[partner].slot);
        let mut not_processed = true;
        if current >= self.procs[pi].last_arrival + wait {
            let st = &self.procs[pi];
            let initialize =
                p.is_start && plan.sequence && st.new_every.is_empty() && st.pending.is_empty();
            self.start_or_reset(plan, pi, initialize, cx);
            let mut expired = None;
            let mut ready = Vec::new();
            let pending = std::mem::take(&mut self.procs[pi].pending);
            let mut kept = Vec::with_capacity(pending.len());
            for id in pending {
                if self.is_expired(plan, id, current) {
                    if let Some(old) = expired.replace(id) {
                        self.arena.release(old);
                    }
                    continue;
                }
                if self.waiting_time_passed(slot, wait, current, id) {
                    let partner_has = self.arena.get(id).has(partner_slot);
                    match op {
                        LogicalOp::Or if !partner_has => {
                            self.add_empty_event(plan, slot, id);
                            ready.push(id);
                        }
                        LogicalOp::And if partner_has => ready.push(id),
                        LogicalOp::And => {
                            self.add_empty_event(plan, slot, id);
                            self.arena.release(id);
                        }
                        LogicalOp::Or => self.arena.release(id),
                    }
                } else {
                    kept.push(id);
                }
            }
            let added = std::mem::take(&mut self.procs[pi].pending);
            kept.extend(added);
            self.procs[pi].pending = kept;
            if let Some(id) = expired {
                if let Some(w) = p.within_every {
                    self.add_every_state(plan, w, id, cx);
                    self.update_state(plan, w, cx);
                }
                self.arena.release(id);
            }
            not_processed = ready.is_empty();
            for id in ready {
                self.arena.get_mut(id).ts = current;
                self.send_event(plan, pi, id, cx);
                self.arena.release(id);
            }
            self.procs[pi].last_arrival = 0;
        }
        if p.every.is_some() || (not_processed && p.is_start) {
            let st = &self.procs[pi];
            let next_break = if st.last_arrival == 0 {
                cx.now + wait
            } else {
                st.last_arrival + wait
            };
            notify(st.timer, cx, next_break);
        }
    }

    /// The awaited-absent event arrived and met the conditions (Siddhi's absent
    /// post-processors): the match is dropped and the wait starts again from this event.
    pub(super) fn post_absent(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        id: u32,
        cx: &mut PatternCx<'_>,
    ) {
        let p = &plan.procs[pi];
        self.procs[pi].state_changed = true;
        self.procs[pi].returned = true;
        let Some(head_ts) = self.arena.get(id).head(p.slot).map(|h| h.ts) else {
            return;
        };
        match p.kind {
            ProcKind::Absent { wait } => {
                self.arena.get_mut(id).ts = head_ts;
                if p.is_start && p.every == Some(pi) {
                    self.add_every_state(plan, pi, id, cx);
                }
                let at = head_ts + wait;
                self.procs[pi].last_scheduled = at;
                notify(self.procs[pi].timer, cx, at);
            }
            _ => self.procs[pi].last_arrival = head_ts,
        }
    }

    fn waiting_time_passed(&self, slot: usize, wait: i64, current: i64, id: u32) -> bool {
        let ev = self.arena.get(id);
        match ev.head(slot) {
            None => current >= ev.ts + wait,
            Some(h) => current >= h.ts + wait,
        }
    }

    /// Marks the absent side as met with an empty event (Siddhi adds a blank stream event).
    fn add_empty_event(&mut self, plan: &PatternPlan, slot: usize, id: u32) {
        let row = vec![Value::Null; plan.arities[slot]].into();
        self.arena.get_mut(id).slots[slot].push(StreamEv { ts: -1, row });
    }

    /// Siddhi's `AbsentLogicalPreStateProcessor.partnerCanProceed`: may the `and` partner of
    /// absent state `pi` complete this match?
    pub(super) fn partner_can_proceed(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        id: u32,
        cx: &mut PatternCx<'_>,
    ) -> bool {
        let p = &plan.procs[pi];
        let ProcKind::Logical { wait, .. } = p.kind else {
            return true;
        };
        let last_arrival = self.procs[pi].last_arrival;
        if plan.sequence && p.every.is_none() && last_arrival > 0 {
            return false;
        }
        if wait == -1 {
            if p.every.is_none() {
                return !self.arena.get(id).has(p.slot);
            }
            if last_arrival > 0 {
                self.procs[pi].last_arrival = 0;
                self.init(plan, pi, cx);
                return false;
            }
            return true;
        }
        self.arena.get(id).has(p.slot)
    }
}
