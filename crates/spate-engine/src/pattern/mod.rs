//! The runtime of patterns and sequences: the state processors of a [`PatternPlan`] with
//! Siddhi 5.1.7's semantics.
//!
//! Each processor keeps two lists of partial matches: `pending` (waiting for this state's
//! event) and `new_every` (added while the current event is handled; they become pending
//! before the next one). An arriving event first expires what `within` no longer allows and
//! moves new matches to pending; then each pending match of the state the event can fill is
//! tried in order. A match that completes the last state is handed to the selector.
//! Absent states (`not S for t`) complete on a timer when no `S` came in time.

mod absent;
mod arena;
mod receive;
mod snapshot;

pub use arena::{Arena, StateEv, StreamEv};

use std::sync::Arc;

use spate_ql::ast::LogicalOp;

use crate::expr::EvalCtx;
use crate::plan::expr::ALL_EVENTS;
use crate::plan::pattern::{Inner, PatternPlan, ProcKind};
use crate::query::selector::MAX_SLOTS;
use crate::scheduler::{Scheduler, TimerId, TimerOwner};
use crate::table::TableRuntime;
use crate::value::{Object, Value};

/// Timer stages of a pattern's absent states start here (see `query::stage_id`).
pub const TIMER_STAGE_BASE: u16 = 2048;

/// An arriving event; it is copied into shared storage only when a match keeps it.
pub(crate) struct Arrival<'a> {
    pub ts: i64,
    pub row: &'a [Value],
    shared: std::cell::OnceCell<Arc<[Value]>>,
}

impl<'a> Arrival<'a> {
    pub fn new(ts: i64, row: &'a [Value]) -> Arrival<'a> {
        Arrival {
            ts,
            row,
            shared: std::cell::OnceCell::new(),
        }
    }

    /// The event as matches hold it.
    pub fn stored(&self) -> StreamEv {
        StreamEv {
            ts: self.ts,
            row: self.shared.get_or_init(|| Arc::from(self.row)).clone(),
        }
    }
}

/// Per-processor state.
#[derive(Debug, Clone)]
struct ProcState {
    pending: Vec<u32>,
    new_every: Vec<u32>,
    /// The current match moved on (or was consumed) while this state handled it.
    state_changed: bool,
    initialized: bool,
    started: bool,
    /// Counted states: the last event met the condition.
    success: bool,
    /// Counted start states of sequences: start again at the next update.
    start_reset: bool,
    /// Absent start states without `every` stop after their one match.
    active: bool,
    last_scheduled: i64,
    last_arrival: i64,
    /// Siddhi's `isEventReturned` of this processor's post-processor.
    returned: bool,
    timer: Option<TimerId>,
}

impl Default for ProcState {
    fn default() -> ProcState {
        ProcState {
            pending: Vec::new(),
            new_every: Vec::new(),
            state_changed: false,
            initialized: false,
            started: false,
            success: false,
            start_reset: false,
            active: true,
            last_scheduled: 0,
            last_arrival: 0,
            returned: false,
            timer: None,
        }
    }
}

/// What the pattern sees of the query while it runs.
pub struct PatternCx<'a> {
    /// The app clock.
    pub now: i64,
    pub scheduler: &'a mut Scheduler,
    pub tables: &'a [TableRuntime],
    /// Completed matches for the selector, in order (each held once).
    pub out: &'a mut Vec<u32>,
    pub error: Option<String>,
}

/// The partial matches of one pattern query.
#[derive(Debug)]
pub struct PatternState {
    pub(crate) arena: Arena,
    procs: Vec<ProcState>,
}

impl PatternState {
    /// Creates the state and registers the absent states' timers.
    pub fn new(plan: &PatternPlan, owner: TimerOwner, scheduler: &mut Scheduler) -> PatternState {
        let procs = plan
            .procs
            .iter()
            .enumerate()
            .map(|(i, p)| ProcState {
                timer: p.timer_template.map(|t| {
                    scheduler.register(
                        t,
                        TimerOwner {
                            stage: TIMER_STAGE_BASE + i as u16,
                            ..owner
                        },
                    )
                }),
                ..ProcState::default()
            })
            .collect();
        PatternState {
            arena: Arena::new(plan.arities.len()),
            procs,
        }
    }

    /// Siddhi's start: the start states get their first empty match, absent start states
    /// start waiting.
    pub fn start(&mut self, plan: &PatternPlan, cx: &mut PatternCx<'_>) {
        self.init_inner(plan, &plan.root, cx);
        for &pi in &plan.startup {
            let p = &plan.procs[pi];
            let st = &mut self.procs[pi];
            if st.started {
                continue;
            }
            st.started = true;
            let wait = match p.kind {
                ProcKind::Absent { wait } | ProcKind::Logical { wait, .. } => wait,
                _ => continue,
            };
            if p.is_start && wait != -1 && st.active {
                let at = cx.now + wait;
                if let ProcKind::Absent { .. } = p.kind {
                    st.last_scheduled = at;
                }
                notify(st.timer, cx, at);
            }
        }
    }

    /// Partial matches alive (for tests and memory checks).
    pub fn live_matches(&self) -> usize {
        self.arena.live()
    }

    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    // ---- the structure (Siddhi's inner state runtimes) ----

    fn init_inner(&mut self, plan: &PatternPlan, inner: &Inner, cx: &mut PatternCx<'_>) {
        match inner {
            Inner::Stream(p) => self.init(plan, *p, cx),
            Inner::Next(cur, next) => {
                self.init_inner(plan, cur, cx);
                self.init_inner(plan, next, cx);
            }
            Inner::Every { inner, .. } => self.init_inner(plan, inner, cx),
            Inner::Logical(left, right) => {
                self.init_inner(plan, right, cx);
                self.init_inner(plan, left, cx);
            }
        }
    }

    fn reset_inner(&mut self, plan: &PatternPlan, inner: &Inner, cx: &mut PatternCx<'_>) {
        match inner {
            Inner::Stream(p) => self.reset_state(plan, *p, cx),
            Inner::Next(cur, next) => {
                self.reset_inner(plan, next, cx);
                self.reset_inner(plan, cur, cx);
            }
            Inner::Every { first, .. } => self.reset_state(plan, *first, cx),
            Inner::Logical(_, right) => self.reset_inner(plan, right, cx),
        }
    }

    fn update_inner(&mut self, plan: &PatternPlan, inner: &Inner, cx: &mut PatternCx<'_>) {
        match inner {
            Inner::Stream(p) => self.update_state(plan, *p, cx),
            Inner::Next(cur, next) => {
                self.update_inner(plan, cur, cx);
                self.update_inner(plan, next, cx);
            }
            Inner::Every { first, .. } => self.update_state(plan, *first, cx),
            Inner::Logical(_, right) => self.update_inner(plan, right, cx),
        }
    }

    // ---- list helpers ----

    fn push_new(&mut self, pi: usize, id: u32) {
        self.arena.retain(id);
        self.procs[pi].new_every.push(id);
    }

    fn clear_list(&mut self, list: Vec<u32>) {
        for id in list {
            self.arena.release(id);
        }
    }

    // ---- pre-processor operations ----

    /// A start state gets a fresh empty match (Siddhi's `init`).
    fn init(&mut self, plan: &PatternPlan, pi: usize, cx: &mut PatternCx<'_>) {
        let p = &plan.procs[pi];
        if !p.is_start {
            return;
        }
        let next_absent = p.next.is_some_and(|n| {
            matches!(
                plan.procs[n].kind,
                ProcKind::Absent { .. } | ProcKind::Logical { absent: true, .. }
            )
        });
        if !self.procs[pi].initialized || p.every.is_some() || (plan.sequence && next_absent) {
            let id = self.arena.new_event();
            self.add_state(plan, pi, id, cx);
            self.arena.drop_if_unused(id);
            self.procs[pi].initialized = true;
        }
    }

    /// A match arrives at this state from the previous one (Siddhi's `addState`).
    fn add_state(&mut self, plan: &PatternPlan, pi: usize, id: u32, cx: &mut PatternCx<'_>) {
        let p = &plan.procs[pi];
        match p.kind {
            ProcKind::Stream => self.add_plain(plan, pi, id),
            ProcKind::Count { min, .. } => {
                self.add_plain(plan, pi, id);
                if min == 0 && !self.arena.get(id).has(p.slot) {
                    self.count_min_reached(plan, pi, id, cx);
                }
            }
            ProcKind::Logical {
                partner,
                absent,
                wait,
                ..
            } => {
                if absent && !self.procs[pi].active {
                    return;
                }
                if p.is_start || plan.sequence {
                    if self.procs[pi].new_every.is_empty() {
                        self.push_new(pi, id);
                    }
                    if self.procs[partner].new_every.is_empty() {
                        self.push_new(partner, id);
                    }
                } else {
                    self.push_new(pi, id);
                    self.push_new(partner, id);
                }
                if absent && !p.is_start && wait != -1 {
                    let ts = self.arena.get(id).ts;
                    notify(self.procs[pi].timer, cx, ts + wait);
                    if let ProcKind::Logical {
                        absent: true,
                        wait: pw,
                        ..
                    } = plan.procs[partner].kind
                    {
                        notify(self.procs[partner].timer, cx, ts + pw);
                    }
                }
            }
            ProcKind::Absent { wait } => {
                if !self.procs[pi].active {
                    return;
                }
                if plan.sequence {
                    let old = std::mem::take(&mut self.procs[pi].new_every);
                    self.clear_list(old);
                }
                self.push_new(pi, id);
                if !p.is_start {
                    let at = self.arena.get(id).ts + wait;
                    self.procs[pi].last_scheduled = at;
                    notify(self.procs[pi].timer, cx, at);
                }
            }
        }
    }

    fn add_plain(&mut self, plan: &PatternPlan, pi: usize, id: u32) {
        if !plan.sequence || self.procs[pi].new_every.is_empty() {
            self.push_new(pi, id);
        }
    }

    /// `every` starts again here with a copy of a completed match (Siddhi's
    /// `addEveryState`).
    fn add_every_state(&mut self, plan: &PatternPlan, pi: usize, id: u32, cx: &mut PatternCx<'_>) {
        let p = &plan.procs[pi];
        let copy = self.arena.copy(id);
        let orig_ts = self.arena.get(id).ts;
        let ev = self.arena.get_mut(copy);
        ev.expired = false;
        match p.kind {
            ProcKind::Stream | ProcKind::Count { .. } => {
                ev.clear_from(p.slot);
                self.push_new(pi, copy);
            }
            ProcKind::Absent { wait } => {
                ev.clear_from(p.slot);
                self.push_new(pi, copy);
                let at = orig_ts + wait;
                self.procs[pi].last_scheduled = at;
                notify(self.procs[pi].timer, cx, at);
            }
            ProcKind::Logical {
                partner, absent, ..
            } => {
                let partner_slot = plan.procs[partner].slot;
                if absent {
                    if let Some(head) = ev.head(p.slot) {
                        ev.ts = head.ts;
                    }
                } else {
                    ev.clear_from(p.slot);
                }
                ev.set(p.slot, None);
                ev.set(partner_slot, None);
                self.push_new(pi, copy);
                self.push_new(partner, copy);
            }
        }
        self.arena.drop_if_unused(copy);
    }

    /// Drops pending matches before a sequence's next event (Siddhi's `resetState`).
    fn reset_state(&mut self, plan: &PatternPlan, pi: usize, cx: &mut PatternCx<'_>) {
        let p = &plan.procs[pi];
        if let ProcKind::Logical { op, partner, .. } = p.kind {
            if op == LogicalOp::Or
                || self.procs[pi].pending.len() == self.procs[partner].pending.len()
            {
                let own = std::mem::take(&mut self.procs[pi].pending);
                self.clear_list(own);
                let theirs = std::mem::take(&mut self.procs[partner].pending);
                self.clear_list(theirs);
                if p.is_start && self.procs[pi].new_every.is_empty() {
                    if self.sequence_start_waits(plan, pi) {
                        return;
                    }
                    self.init(plan, pi, cx);
                }
            }
            return;
        }
        let own = std::mem::take(&mut self.procs[pi].pending);
        self.clear_list(own);
        let absent = matches!(p.kind, ProcKind::Absent { .. });
        if p.is_start && (absent || self.procs[pi].new_every.is_empty()) {
            if self.sequence_start_waits(plan, pi) {
                return;
            }
            self.init(plan, pi, cx);
        }
    }

    /// A non-`every` sequence does not start again while its second state waits.
    fn sequence_start_waits(&self, plan: &PatternPlan, pi: usize) -> bool {
        let p = &plan.procs[pi];
        plan.sequence
            && p.every.is_none()
            && p.next.is_some_and(|n| !self.procs[n].pending.is_empty())
    }

    /// New matches become pending, oldest first (Siddhi's `updateState`).
    fn update_state(&mut self, plan: &PatternPlan, pi: usize, cx: &mut PatternCx<'_>) {
        match plan.procs[pi].kind {
            ProcKind::Count { .. } => {
                if self.procs[pi].start_reset {
                    self.procs[pi].start_reset = false;
                    self.init(plan, pi, cx);
                }
                self.move_new(pi);
            }
            ProcKind::Logical { partner, .. } => {
                self.move_new(pi);
                self.move_new(partner);
            }
            _ => self.move_new(pi),
        }
    }

    fn move_new(&mut self, pi: usize) {
        if self.procs[pi].new_every.is_empty() {
            return;
        }
        let mut new = std::mem::take(&mut self.procs[pi].new_every);
        // Stable, with matches that took no event yet (-1) last.
        let arena = &self.arena;
        new.sort_by_key(|&id| {
            let ts = arena.get(id).ts;
            (ts == -1, ts)
        });
        let st = &mut self.procs[pi];
        st.pending.append(&mut new);
        st.new_every = new;
    }

    fn count_start_state_reset(&mut self, plan: &PatternPlan, pi: usize) {
        self.procs[pi].start_reset = true;
        if let Some(cb) = plan.procs[pi].callback
            && cb != pi
        {
            self.procs[cb].start_reset = true;
        }
    }

    /// Whether `within` has passed for a match.
    fn is_expired(&self, plan: &PatternPlan, id: u32, ts: i64) -> bool {
        let Some(within) = plan.within else {
            return false;
        };
        let ev = self.arena.get(id);
        plan.start_slots.iter().any(|&s| {
            ev.head(s)
                .is_some_and(|h| (h.ts - ts).unsigned_abs() > within as u64)
        })
    }

    /// Drops the matches `within` no longer allows (Siddhi's `expireEvents`).
    fn expire_events(&mut self, plan: &PatternPlan, pi: usize, ts: i64, cx: &mut PatternCx<'_>) {
        if plan.within.is_none() {
            return;
        }
        let mut last_expired: Option<u32> = None;
        let mut expire = |arena: &mut Arena, id: u32| {
            let ev = arena.get_mut(id);
            if !ev.expired {
                ev.expired = true;
                // Keep the latest one alive for `every` to restart from.
                arena.retain(id);
                if let Some(old) = last_expired.replace(id) {
                    arena.release(old);
                }
            }
            arena.release(id);
        };
        // `is_expired` only reads: look first, and touch the lists only when something goes.
        let cut = self.procs[pi]
            .pending
            .iter()
            .take_while(|&&id| self.is_expired(plan, id, ts))
            .count();
        if cut > 0 {
            let mut pending = std::mem::take(&mut self.procs[pi].pending);
            for &id in &pending[..cut] {
                expire(&mut self.arena, id);
            }
            pending.drain(..cut);
            self.procs[pi].pending = pending;
        }
        if self.procs[pi]
            .new_every
            .iter()
            .any(|&id| self.is_expired(plan, id, ts))
        {
            let mut new = std::mem::take(&mut self.procs[pi].new_every);
            let mut w = 0;
            for r in 0..new.len() {
                let id = new[r];
                if self.is_expired(plan, id, ts) {
                    expire(&mut self.arena, id);
                } else {
                    new[w] = id;
                    w += 1;
                }
            }
            new.truncate(w);
            self.procs[pi].new_every = new;
        }
        if let Some(id) = last_expired {
            if let Some(w) = plan.procs[pi].within_every {
                self.add_every_state(plan, w, id, cx);
                self.update_state(plan, w, cx);
            }
            self.arena.release(id);
        }
    }

    // ---- running a state's conditions ----

    /// Runs the state's filters on a match whose slot holds the new event; if they pass,
    /// the post-processor moves the match on (Siddhi's pre `process` → chain → post).
    fn process(&mut self, plan: &PatternPlan, pi: usize, id: u32, cx: &mut PatternCx<'_>) {
        self.procs[pi].state_changed = false;
        if self.filters_pass(plan, pi, id, None, cx) {
            self.post_process(plan, pi, id, cx);
        }
    }

    /// [`PatternState::process`] for an event not yet stored in the match: the filters see
    /// it as the state's newest event; it is stored (`store`) only when they pass, which
    /// saves the copy-then-undo Siddhi does for every pending match. Returns whether they
    /// passed.
    fn process_arrival(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        id: u32,
        ev: &Arrival<'_>,
        cx: &mut PatternCx<'_>,
        store: impl FnOnce(&mut StateEv, StreamEv),
    ) -> bool {
        self.procs[pi].state_changed = false;
        let pass = if plan.indexed.is_empty() {
            self.filters_pass(plan, pi, id, Some(ev), cx)
        } else {
            // Indexed references may read the new event inside its slot's list.
            let slot = plan.procs[pi].slot;
            self.arena.get_mut(id).slots[slot].push(ev.stored());
            let pass = self.filters_pass(plan, pi, id, None, cx);
            self.arena.get_mut(id).slots[slot].pop();
            pass
        };
        if pass {
            store(self.arena.get_mut(id), ev.stored());
            self.post_process(plan, pi, id, cx);
        }
        pass
    }

    /// Evaluates the state's filters on a match; `arrival`, when given, stands as the
    /// state's newest event.
    fn filters_pass(
        &self,
        plan: &PatternPlan,
        pi: usize,
        id: u32,
        arrival: Option<&Arrival<'_>>,
        cx: &mut PatternCx<'_>,
    ) -> bool {
        let p = &plan.procs[pi];
        if p.filters.is_empty() {
            return true;
        }
        if let Some(a) = arrival
            && p.own_row_filters
            && p.slot < 4
            && plan.indexed.is_empty()
        {
            // Only the arrival's row is read: no arena read, no slot-row setup.
            let mut rows: [&[Value]; 4] = [&[]; 4];
            rows[p.slot] = a.row;
            return Self::eval_filters(p, &rows[..=p.slot], a.ts, cx);
        }
        let ev = self.arena.get(id);
        let owned;
        let extras: &[Value] = if plan.indexed.is_empty() {
            &[]
        } else {
            owned = indexed_values(plan, ev);
            &owned
        };
        let n = plan.arities.len();
        // Most patterns have a few states: a short slot array is cheaper to set up.
        if n < 4 {
            Self::run_filters::<4>(p, ev, extras, n, arrival, cx)
        } else {
            Self::run_filters::<{ MAX_SLOTS + 1 }>(p, ev, extras, n, arrival, cx)
        }
    }

    /// The filters of state `p` over the slot rows of `ev` (`N` > the slot count `n`).
    fn run_filters<const N: usize>(
        p: &crate::plan::pattern::ProcPlan,
        ev: &StateEv,
        extras: &[Value],
        n: usize,
        arrival: Option<&Arrival<'_>>,
        cx: &mut PatternCx<'_>,
    ) -> bool {
        let mut rows: [&[Value]; N] = [&[]; N];
        for (s, chain) in ev.slots.iter().enumerate() {
            if let Some(last) = chain.last() {
                rows[s] = &last.row;
            }
        }
        rows[n] = extras;
        let ts = match arrival {
            Some(a) => {
                rows[p.slot] = a.row;
                a.ts
            }
            None => ev.slots[p.slot].last().map_or(ev.ts, |l| l.ts),
        };
        Self::eval_filters(p, &rows[..=n], ts, cx)
    }

    /// Whether every filter of state `p` holds on `rows` (the first error fails it).
    #[inline]
    fn eval_filters(
        p: &crate::plan::pattern::ProcPlan,
        rows: &[&[Value]],
        ts: i64,
        cx: &mut PatternCx<'_>,
    ) -> bool {
        for f in &p.filters {
            let mut ecx = EvalCtx::new(rows, ts, cx.now).with_tables(cx.tables);
            let pass = f.eval_bool(&mut ecx);
            if let Some(e) = ecx.error.take() {
                cx.error.get_or_insert(e);
                return false;
            }
            if !pass {
                return false;
            }
        }
        true
    }

    /// The post-processor: the state is met; pass the match on.
    fn post_process(&mut self, plan: &PatternPlan, pi: usize, id: u32, cx: &mut PatternCx<'_>) {
        let p = &plan.procs[pi];
        match p.kind {
            ProcKind::Stream => self.post_stream(plan, pi, id, cx),
            ProcKind::Count { min, max } => {
                let ev = self.arena.get_mut(id);
                let chain = &ev.slots[p.slot];
                let n = chain.len() as u64;
                if let Some(last) = chain.last() {
                    ev.ts = last.ts;
                }
                self.procs[pi].success = true;
                if n >= min as u64 {
                    if plan.sequence {
                        if let Some(next) = p.next {
                            self.add_state(plan, next, id, cx);
                        }
                        if n != max as u64 {
                            self.add_state(plan, pi, id, cx);
                        }
                    } else if n == min as u64 {
                        self.count_min_reached(plan, pi, id, cx);
                    }
                    if n == max as u64 {
                        self.procs[pi].state_changed = true;
                    }
                }
            }
            ProcKind::Logical { absent: true, .. } => self.post_absent(plan, pi, id, cx),
            ProcKind::Logical { op, partner, .. } => match op {
                LogicalOp::And => {
                    let proceed = match plan.procs[partner].kind {
                        ProcKind::Logical { absent: true, .. } => {
                            self.partner_can_proceed(plan, partner, id, cx)
                        }
                        _ => self.arena.get(id).has(plan.procs[partner].slot),
                    };
                    if proceed {
                        self.post_stream(plan, pi, id, cx);
                    } else {
                        self.procs[pi].state_changed = true;
                    }
                }
                LogicalOp::Or => {
                    self.post_stream(plan, pi, id, cx);
                    if plan.procs[partner].to_selector && plan.procs[pi].this_last == partner {
                        self.procs[partner].returned = true;
                    }
                }
            },
            ProcKind::Absent { .. } => self.post_absent(plan, pi, id, cx),
        }
    }

    /// Siddhi's `StreamPostStateProcessor.process`.
    fn post_stream(&mut self, plan: &PatternPlan, pi: usize, id: u32, cx: &mut PatternCx<'_>) {
        let p = &plan.procs[pi];
        self.procs[pi].state_changed = true;
        let ev = self.arena.get_mut(id);
        if let Some(h) = ev.head(p.slot) {
            ev.ts = h.ts;
        }
        if p.to_selector {
            self.procs[pi].returned = true;
        }
        if let Some(next) = p.next {
            self.add_state(plan, next, id, cx);
        }
        if let Some(every) = p.every {
            self.add_every_state(plan, every, id, cx);
        }
        if let Some(cb) = p.callback {
            self.count_start_state_reset(plan, cb);
        }
    }

    fn count_min_reached(
        &mut self,
        plan: &PatternPlan,
        pi: usize,
        id: u32,
        cx: &mut PatternCx<'_>,
    ) {
        let p = &plan.procs[pi];
        if p.to_selector {
            self.procs[pi].state_changed = true;
            self.procs[pi].returned = true;
        }
        if let Some(next) = p.next {
            self.add_state(plan, next, id, cx);
        }
        if let Some(every) = p.every {
            self.add_every_state(plan, every, id, cx);
        }
    }

    /// Whether the `this_last` processor of `pi` reported a returned match; clears it.
    fn take_returned(&mut self, plan: &PatternPlan, pi: usize) -> bool {
        let last = plan.procs[pi].this_last;
        std::mem::take(&mut self.procs[last].returned)
    }

    /// Hands a match to the selector.
    fn emit(&mut self, id: u32, cx: &mut PatternCx<'_>) {
        self.arena.retain(id);
        cx.out.push(id);
    }

    /// Releases the matches handed out once the selector has read them.
    pub fn release_out(&mut self, out: &mut Vec<u32>) {
        for id in out.drain(..) {
            self.arena.release(id);
        }
    }
}

/// Values of the indexed references (`e1[last].x`) for a match.
fn indexed_values(plan: &PatternPlan, ev: &StateEv) -> Vec<Value> {
    plan.indexed
        .iter()
        .map(|r| {
            if r.pos == ALL_EVENTS {
                // An unindexed `e1.x` of a counted state in the selector: all values.
                let chain = &ev.slots[r.slot as usize];
                let a = r.attr.unwrap_or_default() as usize;
                let items = chain
                    .iter()
                    .map(|s| s.row.get(a).cloned().unwrap_or(Value::Null));
                return Value::Object(Arc::new(Object::List(items.collect())));
            }
            let at = ev.at(r.slot as usize, r.pos);
            match r.attr {
                None => Value::Bool(at.is_some()),
                Some(a) => at
                    .and_then(|s| s.row.get(a as usize).cloned())
                    .unwrap_or(Value::Null),
            }
        })
        .collect()
}

/// Builds the selector's input row for a match: each slot's first event (absent ones null),
/// the indexed references, then a presence flag per slot.
pub fn output_row(plan: &PatternPlan, ev: &StateEv, dst: &mut Vec<Value>) {
    for (s, &arity) in plan.arities.iter().enumerate() {
        match ev.head(s) {
            Some(h) => dst.extend(h.row.iter().cloned()),
            None => dst.extend(std::iter::repeat_n(Value::Null, arity)),
        }
    }
    dst.extend(indexed_values(plan, ev));
    for s in 0..plan.arities.len() {
        dst.push(Value::Bool(ev.has(s)));
    }
}

fn notify(timer: Option<TimerId>, cx: &mut PatternCx<'_>, at: i64) {
    if let Some(t) = timer {
        cx.scheduler.notify_at(t, at);
    }
}
