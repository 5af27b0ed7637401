//! A running query: its input sides (one, or two for a join), each with stages (filters,
//! stream functions, a window), then the join lookup if any, the selector, the rate limiter,
//! and the output chunk handed to the runtime for delivery.
//!
//! Filters refine a selection of row indices instead of copying rows; only stream functions
//! and windows materialise new rows. A window may emit several chunks for one input chunk
//! (two batch flushes); each goes through the rest of the query on its own, as in Siddhi.
//! Queries made only of filters and plain projections take a direct path with no per-stage
//! bookkeeping.

mod groups;
mod join;
mod pattern;
pub mod selector;

use std::sync::Arc;

use crate::env::Env;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::expr::EvalCtx;
use crate::plan::{AppPlan, InputPlan, QueryPlan, SinglePlan, StagePlan};
use crate::ratelimit::{RateCtx, RateLimiter};
use crate::scheduler::{OwnerKind, Scheduler, TimerId, TimerOwner};
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::value::Value;
use crate::window::{WindowCtx, WindowProcessor};
use selector::{SelectCtx, Selector};

/// Mutable state of one stage.
#[derive(Debug)]
enum StageState {
    Stateless,
    Window {
        processor: Box<dyn WindowProcessor>,
        timer: Option<TimerId>,
    },
}

/// Why a query stopped handling a chunk.
#[derive(Debug, Clone)]
pub struct QueryError {
    pub query: String,
    pub message: String,
}

/// Which input of a query an event arrives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// A plain query, or the left side of a join.
    Left,
    Right,
    /// A self-join: the event enters the left side, then the right, and the outputs of both
    /// are emitted together (Siddhi's multi-process receiver).
    Both,
    /// A pattern or sequence: the receiver (one per stream it reads).
    Pattern(u16),
}

#[derive(Debug)]
pub struct QueryRuntime {
    plan: Arc<AppPlan>,
    index: usize,
    state: QueryState,
}

/// The stages of one input side.
#[derive(Debug, Default)]
struct SideState {
    stages: Vec<StageState>,
    /// Output rows of stages that materialise (stream functions, windows), reused; boxed so
    /// taking one out while it is read costs a pointer.
    bufs: Vec<Option<Box<Chunk>>>,
    /// Row width of each stage's output.
    arities: Vec<usize>,
    /// Selection vectors per stage level, reused.
    sels: Vec<Vec<u32>>,
}

impl SideState {
    fn new(
        input: &SinglePlan,
        owner: TimerOwner,
        side: usize,
        scheduler: &mut Scheduler,
    ) -> SideState {
        let mut stages = Vec::with_capacity(input.stages.len());
        let mut bufs = Vec::with_capacity(input.stages.len());
        let mut arities = Vec::with_capacity(input.stages.len());
        let mut arity = input.arity;
        for (k, s) in input.stages.iter().enumerate() {
            match s {
                StagePlan::Filter(_) => stages.push(StageState::Stateless),
                StagePlan::Function { arity_out, .. } => {
                    arity = *arity_out;
                    stages.push(StageState::Stateless);
                }
                StagePlan::Window {
                    spec,
                    timer_template,
                } => {
                    let stage = stage_id(side, k);
                    let timer = timer_template
                        .map(|t| scheduler.register(t, TimerOwner { stage, ..owner }));
                    stages.push(StageState::Window {
                        processor: spec.instantiate(),
                        timer,
                    });
                }
            }
            bufs.push(Some(Box::new(Chunk::new(arity))));
            arities.push(arity);
        }
        SideState {
            stages,
            bufs,
            arities,
            sels: vec![Vec::new(); input.stages.len() + 1],
        }
    }

    /// The output buffer of stage `k`, taken while the stages after it read it.
    #[inline]
    fn take_buf(&mut self, k: usize) -> Box<Chunk> {
        match self.bufs[k].take() {
            Some(buf) => buf,
            None => Box::new(Chunk::new(self.arities[k])),
        }
    }

    /// Puts back a buffer from [`SideState::take_buf`], emptied.
    #[inline]
    fn put_buf(&mut self, k: usize, mut buf: Box<Chunk>) {
        buf.clear();
        self.bufs[k] = Some(buf);
    }

    /// The window of this side (joins look into it).
    fn window(&self) -> Option<&dyn WindowProcessor> {
        self.stages.iter().rev().find_map(|s| match s {
            StageState::Window { processor, .. } => Some(&**processor),
            StageState::Stateless => None,
        })
    }
}

/// Timer stage ids: side `s`, stage `k` (the rate limiter uses [`RATE_STAGE`]).
fn stage_id(side: usize, k: usize) -> u16 {
    (side * 1024 + k) as u16
}

/// The timer stage of a query's rate limiter.
const RATE_STAGE: u16 = u16::MAX;

/// Everything of a query that changes while it runs.
#[derive(Debug)]
struct QueryState {
    sides: Vec<SideState>,
    selector: Selector,
    /// The query's output (boxed: the runtime swaps it out to deliver it).
    out: Box<Chunk>,
    /// `output ... every ...`: the limiter, its timer, and the selector's output it reads.
    rate: Option<(Box<dyn RateLimiter>, Option<TimerId>, Chunk)>,
    /// Joined rows (or pattern matches) handed to the selector.
    joined: Chunk,
    /// The selection `0..n` over `joined`, reused.
    ordinal: Vec<u32>,
    /// `0, 1, 2, ...`: prefixes of it select whole window chunks (only ever grows).
    iota: Vec<u32>,
    /// A join whose selector only projects: matches go straight to the output.
    direct_join: bool,
    /// Lookups for events the direct path would not output are left out.
    skip_unwanted: bool,
    /// The direct path's outputs when all are plain reads: copied without an evaluation.
    leaf_outputs: Option<Box<[join::LeafOutput]>>,
    /// A direct query outputs its input rows unchanged: they are copied whole.
    identity: bool,
    error: Option<String>,
    /// Partial matches of a pattern or sequence, with the matches completed by the last call.
    /// (Boxed: taken out and put back around every event.)
    #[allow(clippy::type_complexity)]
    pattern: Option<Box<(crate::pattern::PatternState, Vec<u32>)>>,
}

impl QueryRuntime {
    /// Builds the runtime of query `index` of the plan, registering its timers, at app start.
    pub fn new(plan: Arc<AppPlan>, index: usize, scheduler: &mut Scheduler) -> QueryRuntime {
        let owner = TimerOwner {
            kind: OwnerKind::Query,
            element: index as u32,
            ..TimerOwner::default()
        };
        QueryRuntime::new_for(plan, index, owner, 0, scheduler)
    }

    /// Builds a runtime of query `index` whose timers fire for `owner` (a partition
    /// instance's copy, created when its key first appears at app time `now`).
    pub fn new_for(
        plan: Arc<AppPlan>,
        index: usize,
        owner: TimerOwner,
        now: i64,
        scheduler: &mut Scheduler,
    ) -> QueryRuntime {
        let q = &plan.queries[index];
        let (sides, joined_arity) = match &q.input {
            InputPlan::Single(s) => (vec![SideState::new(s, owner, 0, scheduler)], 0),
            InputPlan::Join(j) => {
                let (l, r) = (&j.sides[0].input, &j.sides[1].input);
                let arity = l.out_arity() + r.out_arity() + 2;
                (
                    vec![
                        SideState::new(l, owner, 0, scheduler),
                        SideState::new(r, owner, 1, scheduler),
                    ],
                    arity,
                )
            }
            InputPlan::Pattern(p) => (Vec::new(), p.row_width()),
        };
        let rate = q.rate.as_ref().map(|r| {
            let timer = r.timer_template.map(|t| {
                scheduler.register(
                    t,
                    TimerOwner {
                        stage: RATE_STAGE,
                        ..owner
                    },
                )
            });
            (r.instantiate(), timer, Chunk::new(r.arity + r.key_arity))
        });
        let state = QueryState {
            sides,
            selector: Selector::new(&q.selector),
            out: Box::new(Chunk::new(q.selector.outputs.len())),
            rate,
            joined: Chunk::new(joined_arity),
            ordinal: Vec::new(),
            iota: Vec::new(),
            direct_join: matches!(q.input, InputPlan::Join(_)) && join::projects_directly(q),
            leaf_outputs: join::LeafOutput::of(&q.selector),
            identity: q.direct && join::LeafOutput::is_identity(&q.selector, input_arity(q)),
            skip_unwanted: match &q.input {
                InputPlan::Join(j) => join::skips_unwanted(q, j),
                InputPlan::Single(_) | InputPlan::Pattern(_) => false,
            },
            error: None,
            pattern: None,
        };
        let mut rt = QueryRuntime { plan, index, state };
        rt.start_pattern(owner, now, scheduler);
        rt
    }

    pub fn plan(&self) -> &QueryPlan {
        &self.plan.queries[self.index]
    }

    /// The output of the last call (possibly several chunks); the runtime takes and returns it.
    pub fn out_mut(&mut self) -> &mut Box<Chunk> {
        &mut self.state.out
    }

    /// Handles an input chunk arriving on `side`; the output is left in
    /// [`QueryRuntime::out_mut`].
    pub fn process(
        &mut self,
        side: Side,
        input: ChunkRef<'_>,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) -> Result<(), QueryError> {
        let q = &self.plan.queries[self.index];
        let st = &mut self.state;
        st.out.clear();
        if let Some((limiter, timer, _)) = &mut st.rate {
            limiter.start(&mut RateCtx {
                now,
                scheduler,
                timer: *timer,
                error: None,
            });
        }
        match side {
            Side::Left if q.direct && !input.batch => {
                st.direct(q, input, |_| now, env);
            }
            Side::Left => st.run_side(q, 0, input, now, scheduler, env),
            Side::Right => st.run_side(q, 1, input, now, scheduler, env),
            Side::Both => {
                st.run_side(q, 0, input, now, scheduler, env);
                st.run_side(q, 1, input, now, scheduler, env);
            }
            Side::Pattern(r) => st.pattern_receive(q, r as usize, input, now, scheduler, env),
        }
        self.take_error()
    }

    /// Runs the rows of `input` through a query on the direct path (see
    /// [`QueryPlan::direct`]; the caller checks), row `i` seeing the app clock `nows[i]`, as
    /// if each row had come alone. Stops at the first row whose evaluation fails: its output
    /// is dropped, those of the rows before it stay in [`QueryRuntime::out_mut`], and its
    /// index comes back with the error, so the caller can deliver, log and go on after it,
    /// exactly as row-by-row calls would.
    pub fn process_direct(
        &mut self,
        input: ChunkRef<'_>,
        nows: &[i64],
        env: &Env<'_>,
    ) -> Result<(), (usize, QueryError)> {
        let q = &self.plan.queries[self.index];
        debug_assert!(q.direct && q.rate.is_none() && !input.batch);
        debug_assert_eq!(nows.len(), input.len());
        let st = &mut self.state;
        st.out.clear();
        match st.direct(q, input, |i| nows[i], env) {
            None => Ok(()),
            Some(row) => {
                let message = st.error.take().unwrap_or_default();
                Err((
                    row,
                    QueryError {
                        query: q.name.clone(),
                        message,
                    },
                ))
            }
        }
    }

    /// Handles a timer call for the window (or rate limiter) at `stage`.
    pub fn on_timer(
        &mut self,
        stage: u16,
        due: i64,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) -> Result<(), QueryError> {
        let q = &self.plan.queries[self.index];
        let st = &mut self.state;
        st.out.clear();
        if stage == RATE_STAGE {
            if let Some((limiter, timer, _)) = &mut st.rate {
                let mut cx = RateCtx {
                    now,
                    scheduler,
                    timer: *timer,
                    error: None,
                };
                limiter.on_timer(due, &mut st.out, &mut cx);
                st.error = cx.error;
            }
            return self.take_error();
        }
        if stage >= crate::pattern::TIMER_STAGE_BASE {
            let pi = (stage - crate::pattern::TIMER_STAGE_BASE) as usize;
            st.pattern_timer(q, pi, due, now, scheduler, env);
            return self.take_error();
        }
        let (side, k) = (stage as usize / 1024, stage as usize % 1024);
        let mut buf = st.sides[side].take_buf(k);
        buf.clear();
        if let StageState::Window { processor, timer } = &mut st.sides[side].stages[k] {
            let mut cx = WindowCtx {
                now,
                scheduler,
                timer: *timer,
            };
            processor.on_timer(due, &mut buf, &mut cx);
        }
        st.continue_after(q, side, k, &buf, now, scheduler, env);
        st.sides[side].put_buf(k, buf);
        self.take_error()
    }

    #[inline]
    fn take_error(&mut self) -> Result<(), QueryError> {
        match self.state.error.take() {
            None => Ok(()),
            Some(message) => Err(self.failed(message)),
        }
    }

    #[cold]
    fn failed(&mut self, message: String) -> QueryError {
        self.state.out.clear();
        QueryError {
            query: self.plan().name.clone(),
            message,
        }
    }

    /// The rows the window of `side` holds (a join with this query's window).
    pub fn visit_window(&self, side: usize, f: &mut dyn FnMut(i64, &[Value])) {
        if let Some(w) = self.state.sides.get(side).and_then(SideState::window) {
            w.visit_held(f);
        }
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        for side in &self.state.sides {
            for s in &side.stages {
                if let StageState::Window { processor, .. } = s {
                    w.section(|w| processor.snapshot(w));
                }
            }
        }
        if let Some((pattern, _)) = self.state.pattern.as_deref() {
            w.section(|w| pattern.snapshot(w));
        }
        w.section(|w| self.state.selector.snapshot(w));
        if let Some((limiter, ..)) = &self.state.rate {
            w.section(|w| limiter.snapshot(w));
        }
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        for side in &mut self.state.sides {
            for s in &mut side.stages {
                if let StageState::Window { processor, .. } = s {
                    let mut sec = r.section()?;
                    processor.restore(&mut sec)?;
                    sec.finish()?;
                }
            }
        }
        if let Some((pattern, _)) = self.state.pattern.as_deref_mut() {
            let mut sec = r.section()?;
            pattern.restore(&mut sec)?;
            sec.finish()?;
        }
        let q = &self.plan.queries[self.index];
        let mut sec = r.section()?;
        self.state.selector.restore(&q.selector, &mut sec)?;
        sec.finish()
            .map_err(|e| SnapshotError::Mismatch(format!("query {}: {e}", q.name)))?;
        if let Some((limiter, ..)) = &mut self.state.rate {
            let mut sec = r.section()?;
            limiter.restore(&mut sec)?;
            sec.finish()
                .map_err(|e| SnapshotError::Mismatch(format!("query {}: {e}", q.name)))?;
        }
        Ok(())
    }
}

/// The row width of a single-input query's input (0 for joins and patterns).
fn input_arity(q: &QueryPlan) -> usize {
    match &q.input {
        InputPlan::Single(s) => s.arity,
        InputPlan::Join(_) | InputPlan::Pattern(_) => 0,
    }
}

/// The stages of one side of a query plan.
fn side_stages(q: &QueryPlan, side: usize) -> &[StagePlan] {
    match &q.input {
        InputPlan::Single(s) => &s.stages,
        InputPlan::Join(j) => &j.sides[side].input.stages,
        InputPlan::Pattern(_) => &[],
    }
}

impl QueryState {
    /// Filters and plain projections, row by row, straight into the output; row `i` sees
    /// the app clock `now(i)`. On an evaluation error the row's partial output is dropped,
    /// the error left in `self.error` and the row's index returned.
    #[inline]
    fn direct(
        &mut self,
        q: &QueryPlan,
        input: ChunkRef<'_>,
        now: impl Fn(usize) -> i64,
        env: &Env<'_>,
    ) -> Option<usize> {
        // Chosen once per call, so the row loop does not test it.
        if self.identity {
            self.direct_rows::<true>(q, input, now, env)
        } else {
            self.direct_rows::<false>(q, input, now, env)
        }
    }

    /// [`QueryState::direct`]; `IDENTITY`: the output rows are the input rows.
    #[inline]
    fn direct_rows<const IDENTITY: bool>(
        &mut self,
        q: &QueryPlan,
        input: ChunkRef<'_>,
        now: impl Fn(usize) -> i64,
        env: &Env<'_>,
    ) -> Option<usize> {
        let stages = side_stages(q, 0);
        'rows: for i in 0..input.len() {
            let rows: [&[Value]; 1] = [input.row(i)];
            let mut ecx = EvalCtx::new(&rows, input.ts(i), now(i)).with_tables(env.tables);
            for s in stages {
                if let StagePlan::Filter(cond) = s
                    && !cond.eval_bool(&mut ecx)
                {
                    if let Some(e) = ecx.error.take() {
                        self.error = Some(e);
                        return Some(i);
                    }
                    continue 'rows;
                }
            }
            let kind = input.kind(i);
            if kind != EventKind::Current || !q.selector.current_on {
                continue;
            }
            let dst = self.out.begin_row(input.ts(i), kind);
            if IDENTITY {
                // The row as it came (`select *`, or every attribute in order).
                dst.extend_from_slice(rows[0]);
                continue;
            }
            if let Some(leaves) = &self.leaf_outputs {
                // Plain reads and constants: copied, no evaluation, no error possible.
                dst.extend(leaves.iter().map(|l| l.read(&[rows[0], &[]])));
                continue;
            }
            for e in &q.selector.outputs {
                dst.push(e.eval(&mut ecx));
            }
            if let Some(e) = ecx.error.take() {
                self.out.pop();
                self.error = Some(e);
                return Some(i);
            }
        }
        None
    }

    fn run_side(
        &mut self,
        q: &QueryPlan,
        side: usize,
        input: ChunkRef<'_>,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) {
        let mut sel = std::mem::take(&mut self.sides[side].sels[0]);
        sel.clear();
        sel.extend(0..input.len() as u32);
        self.run(q, side, 0, input, &mut sel, now, scheduler, env);
        self.sides[side].sels[0] = sel;
    }

    /// Runs stages `k..` of `side` over the rows of `input` listed in `sel`, then the join
    /// (for join queries) and the selector.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        q: &QueryPlan,
        side: usize,
        k: usize,
        input: ChunkRef<'_>,
        sel: &mut Vec<u32>,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) {
        if self.error.is_some() {
            return;
        }
        let stages = side_stages(q, side);
        if k == stages.len() {
            match &q.input {
                InputPlan::Single(_) | InputPlan::Pattern(_) => {
                    self.select(q, input, sel, now, scheduler, env)
                }
                InputPlan::Join(j) => self.join(q, j, side, input, sel, now, scheduler, env),
            }
            return;
        }
        match &stages[k] {
            StagePlan::Filter(cond) => {
                let mut failed = None;
                sel.retain(|&i| {
                    if failed.is_some() {
                        return false;
                    }
                    let rows: [&[Value]; 1] = [input.row(i as usize)];
                    let mut ecx =
                        EvalCtx::new(&rows, input.ts(i as usize), now).with_tables(env.tables);
                    let pass = cond.eval_bool(&mut ecx);
                    if let Some(e) = ecx.error.take() {
                        failed = Some(e);
                    }
                    pass
                });
                if let Some(e) = failed {
                    self.error = Some(e);
                    return;
                }
                if !sel.is_empty() {
                    self.run(q, side, k + 1, input, sel, now, scheduler, env);
                }
            }
            StagePlan::Function { function, .. } => {
                let mut buf = self.sides[side].take_buf(k);
                buf.clear();
                buf.batch = input.batch;
                let mut extra = Vec::new();
                for &i in sel.iter() {
                    let i = i as usize;
                    let rows: [&[Value]; 1] = [input.row(i)];
                    let mut ecx = EvalCtx::new(&rows, input.ts(i), now).with_tables(env.tables);
                    extra.clear();
                    let keep = function.apply(&mut ecx, &mut extra);
                    if let Some(e) = ecx.error.take() {
                        self.error = Some(e);
                        break;
                    }
                    if keep {
                        let dst = buf.begin_row(input.ts(i), input.kind(i));
                        dst.extend_from_slice(input.row(i));
                        dst.append(&mut extra);
                    }
                }
                if self.error.is_none() {
                    let mut next = std::mem::take(&mut self.sides[side].sels[k + 1]);
                    next.clear();
                    next.extend(0..buf.len() as u32);
                    if !next.is_empty() {
                        self.run(
                            q,
                            side,
                            k + 1,
                            Chunk::as_ref(&buf),
                            &mut next,
                            now,
                            scheduler,
                            env,
                        );
                    }
                    self.sides[side].sels[k + 1] = next;
                }
                self.sides[side].put_buf(k, buf);
            }
            StagePlan::Window { .. } => {
                let mut buf = self.sides[side].take_buf(k);
                buf.clear();
                if let StageState::Window { processor, timer } = &mut self.sides[side].stages[k] {
                    let mut cx = WindowCtx {
                        now,
                        scheduler,
                        timer: *timer,
                    };
                    processor.process(input, sel, &mut buf, &mut cx);
                }
                self.continue_after(q, side, k, &buf, now, scheduler, env);
                self.sides[side].put_buf(k, buf);
            }
        }
    }

    /// Sends each chunk a window produced through the stages after it.
    #[allow(clippy::too_many_arguments)]
    fn continue_after(
        &mut self,
        q: &QueryPlan,
        side: usize,
        k: usize,
        buf: &Chunk,
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) {
        if k + 1 == side_stages(q, side).len() && !matches!(q.input, InputPlan::Join(_)) {
            // The window was the last stage: its chunks go straight to the selector, each
            // with the selection of all its rows (a shared `0..n`, not rebuilt per chunk).
            let mut all = std::mem::take(&mut self.iota);
            for (start, end) in buf.segments() {
                let n = end - start;
                if all.len() < n {
                    all.extend(all.len() as u32..n as u32);
                }
                self.select(q, buf.slice(start, end), &all[..n], now, scheduler, env);
                if self.error.is_some() {
                    break;
                }
            }
            self.iota = all;
            return;
        }
        let mut next = std::mem::take(&mut self.sides[side].sels[k + 1]);
        for (start, end) in buf.segments() {
            next.clear();
            next.extend(0..(end - start) as u32);
            self.run(
                q,
                side,
                k + 1,
                buf.slice(start, end),
                &mut next,
                now,
                scheduler,
                env,
            );
        }
        self.sides[side].sels[k + 1] = next;
    }

    /// The selector, then the rate limiter if there is one.
    fn select(
        &mut self,
        q: &QueryPlan,
        input: ChunkRef<'_>,
        sel: &[u32],
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) {
        let cx = SelectCtx {
            now,
            tables: env.tables,
        };
        match &mut self.rate {
            None => {
                self.out.split_here();
                let before = self.out.len();
                self.selector
                    .process(&q.selector, input, sel, cx, &mut self.out);
                if let Some(e) = self.selector.take_error() {
                    self.out.retain_rows(|r| r < before);
                    self.error = Some(e);
                }
            }
            Some((limiter, timer, selected)) => {
                selected.clear();
                self.selector.process(&q.selector, input, sel, cx, selected);
                if let Some(e) = self.selector.take_error() {
                    self.error = Some(e);
                    return;
                }
                let mut rcx = RateCtx {
                    now,
                    scheduler,
                    timer: *timer,
                    error: None,
                };
                for (start, end) in selected.segments() {
                    limiter.process(selected.slice(start, end), &mut self.out, &mut rcx);
                    if rcx.error.is_some() {
                        self.error = rcx.error;
                        return;
                    }
                }
            }
        }
    }
}
