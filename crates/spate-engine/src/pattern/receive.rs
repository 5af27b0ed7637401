//! An event arriving at a pattern: expiry and updates first, then the states that read its
//! stream try their pending matches (Siddhi's pattern/sequence stream receivers and
//! `processAndReturn`).

use spate_ql::ast::LogicalOp;

use super::{Arrival, PatternCx, PatternState};
use crate::event::ChunkRef;
use crate::plan::pattern::{PatternPlan, ProcKind};

impl PatternState {
    /// Handles the events of `input` arriving on receiver `r`. Completed matches are left in
    /// `cx.out`, in the order the selector must see them.
    pub fn receive(
        &mut self,
        plan: &PatternPlan,
        r: usize,
        input: ChunkRef<'_>,
        cx: &mut PatternCx<'_>,
    ) {
        let procs = &plan.receivers[r].procs;
        for i in 0..input.len() {
            let ev = Arrival::new(input.ts(i), input.row(i));
            self.stabilize(plan, r, ev.ts, cx);
            // A stream read by several states tries the later states first, so one event
            // cannot fill two states of the same match.
            for &pi in procs.iter().rev() {
                self.process_and_return(plan, pi, &ev, cx);
            }
        }
    }

    /// Expires matches, then moves new matches to pending (for sequences: drops what the
    /// previous event did not take).
    fn stabilize(&mut self, plan: &PatternPlan, r: usize, ts: i64, cx: &mut PatternCx<'_>) {
        for &pi in &plan.expire_order {
            self.expire_events(plan, pi, ts, cx);
        }
        if plan.sequence {
            self.reset_inner(plan, &plan.root, cx);
            self.update_inner(plan, &plan.root, cx);
            return;
        }
        let procs = &plan.receivers[r].procs;
        if procs.len() == 1 {
            self.update_state(plan, procs[0], cx);
        } else {
            for &pi in procs {
                self.update_state(plan, pi, cx);
            }
        }
    }

    /// One state tries its pending matches with the event.
    fn process_and_return(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        ev: &Arrival<'_>,
        cx: &mut PatternCx<'_>,
    ) {
        match plan.procs[pi].kind {
            ProcKind::Stream => self.try_stream(plan, pi, ev, cx, true),
            ProcKind::Absent { .. } => {
                if !self.procs[pi].active {
                    return;
                }
                // An arrival of the awaited-absent event: matches it reaches are dropped.
                let mark = cx.out.len();
                self.try_stream(plan, pi, ev, cx, false);
                let dropped: Vec<u32> = cx.out.drain(mark..).collect();
                for id in dropped {
                    self.arena.release(id);
                }
            }
            ProcKind::Count { .. } => self.try_count(plan, pi, ev, cx),
            ProcKind::Logical { absent: false, .. } => self.try_logical(plan, pi, ev, cx),
            ProcKind::Logical { absent: true, .. } => self.try_absent_logical(plan, pi, ev, cx),
        }
    }

    /// Siddhi's `StreamPreStateProcessor.processAndReturn`; `remove_unchanged` is false for
    /// absent states in sequences.
    fn try_stream(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        ev: &Arrival<'_>,
        cx: &mut PatternCx<'_>,
        remove_unchanged: bool,
    ) {
        if self.procs[pi].pending.is_empty() {
            return;
        }
        let slot = plan.procs[pi].slot;
        let mut kept = std::mem::take(&mut self.procs[pi].pending);
        let mut w = 0;
        for r in 0..kept.len() {
            let id = kept[r];
            let stored = self.process_arrival(plan, pi, id, ev, cx, |m, e| m.set(slot, Some(e)));
            if self.take_returned(plan, pi) {
                self.emit(id, cx);
            }
            let mut keep = true;
            if self.procs[pi].state_changed {
                keep = false;
            } else {
                if stored || self.arena.get(id).has(slot) {
                    self.arena.get_mut(id).set(slot, None);
                }
                if plan.sequence {
                    if remove_unchanged {
                        keep = false;
                    }
                    if let Some(cb) = plan.procs[pi].callback {
                        self.count_start_state_reset(plan, cb);
                    }
                }
            }
            if keep {
                kept[w] = id;
                w += 1;
            } else {
                self.arena.release(id);
            }
        }
        kept.truncate(w);
        self.restore_pending(pi, kept);
    }

    /// Puts back a pending list taken for iteration (nothing adds to it meanwhile, but stay
    /// safe if something did).
    #[inline]
    fn restore_pending(&mut self, pi: usize, mut kept: Vec<u32>) {
        let slot = &mut self.procs[pi].pending;
        std::mem::swap(slot, &mut kept);
        if !kept.is_empty() {
            slot.append(&mut kept);
        }
    }

    /// Siddhi's `CountPreStateProcessor.processAndReturn`.
    fn try_count(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        ev: &Arrival<'_>,
        cx: &mut PatternCx<'_>,
    ) {
        let slot = plan.procs[pi].slot;
        let mut kept = std::mem::take(&mut self.procs[pi].pending);
        let mut w = 0;
        for r in 0..kept.len() {
            let id = kept[r];
            // A match the next state already took is done here.
            let taken = {
                let e = self.arena.get(id);
                e.has(slot + 1) || e.has(slot + 2)
            };
            if taken {
                self.arena.release(id);
                continue;
            }
            self.procs[pi].success = false;
            let stored = self.process_arrival(plan, pi, id, ev, cx, |m, e| m.slots[slot].push(e));
            if self.take_returned(plan, pi) {
                self.emit(id, cx);
            }
            let mut keep = !self.procs[pi].state_changed;
            if !self.procs[pi].success {
                if stored {
                    self.arena.get_mut(id).slots[slot].pop();
                }
                if plan.sequence {
                    keep = false;
                }
            }
            if keep {
                kept[w] = id;
                w += 1;
            } else {
                self.arena.release(id);
            }
        }
        kept.truncate(w);
        self.restore_pending(pi, kept);
    }

    /// Siddhi's `LogicalPreStateProcessor.processAndReturn`.
    fn try_logical(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        ev: &Arrival<'_>,
        cx: &mut PatternCx<'_>,
    ) {
        let ProcKind::Logical { op, partner, .. } = plan.procs[pi].kind else {
            return;
        };
        let (slot, partner_slot) = (plan.procs[pi].slot, plan.procs[partner].slot);
        let mut kept = std::mem::take(&mut self.procs[pi].pending);
        let mut w = 0;
        for r in 0..kept.len() {
            let id = kept[r];
            if op == LogicalOp::Or && self.arena.get(id).has(partner_slot) {
                self.arena.release(id);
                continue;
            }
            let stored = self.process_arrival(plan, pi, id, ev, cx, |m, e| m.set(slot, Some(e)));
            if self.take_returned(plan, pi) {
                self.emit(id, cx);
            }
            let keep = if self.procs[pi].state_changed {
                false
            } else {
                if stored || self.arena.get(id).has(slot) {
                    self.arena.get_mut(id).set(slot, None);
                }
                !plan.sequence
            };
            if keep {
                kept[w] = id;
                w += 1;
            } else {
                self.arena.release(id);
            }
        }
        kept.truncate(w);
        self.restore_pending(pi, kept);
    }

    /// Siddhi's `AbsentLogicalPreStateProcessor.processAndReturn`: the absent side's event
    /// arrived. Nothing is returned from here; matches complete on the timer or through the
    /// partner.
    fn try_absent_logical(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        ev: &Arrival<'_>,
        cx: &mut PatternCx<'_>,
    ) {
        if !self.procs[pi].active {
            return;
        }
        let ProcKind::Logical {
            op, partner, wait, ..
        } = plan.procs[pi].kind
        else {
            return;
        };
        let p = &plan.procs[pi];
        let (slot, partner_slot) = (p.slot, plan.procs[partner].slot);
        let restore_slot =
            wait != -1 || (plan.sequence && op == LogicalOp::And && p.every.is_some());
        let mut kept = std::mem::take(&mut self.procs[pi].pending);
        let mut w = 0;
        for r in 0..kept.len() {
            let id = kept[r];
            if op == LogicalOp::Or && self.arena.get(id).has(partner_slot) {
                self.arena.release(id);
                continue;
            }
            let current = self.arena.get(id).slots[slot].clone();
            self.arena.get_mut(id).set(slot, Some(ev.stored()));
            self.process(plan, pi, id, cx);
            if restore_slot {
                self.arena.get_mut(id).slots[slot] = current.clone();
            }
            let mut keep = true;
            if self.take_returned(plan, pi) {
                keep = false;
                if plan.sequence
                    && let Some(at) = self.procs[partner].pending.iter().position(|&x| x == id)
                {
                    self.procs[partner].pending.remove(at);
                    self.arena.release(id);
                }
            }
            if !self.procs[pi].state_changed {
                self.arena.get_mut(id).slots[slot] = current;
                if plan.sequence {
                    keep = false;
                }
            }
            if keep {
                kept[w] = id;
                w += 1;
            } else {
                self.arena.release(id);
            }
        }
        kept.truncate(w);
        self.restore_pending(pi, kept);
    }
}
