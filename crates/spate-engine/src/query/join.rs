//! The join step of a join query (Siddhi's `JoinProcessor` after each side's window).
//!
//! Each event a side's window emits — current, expired, or a batch reset — looks up the other
//! side's held rows (its window, a named window or a table) with the `on` condition. The
//! matches of one event form one chunk for the selector, marked as a batch, as Siddhi does;
//! an unmatched event of an outer side goes out with the other side absent, and a reset goes
//! out alone so aggregates restart. Only triggering sides look up (`unidirectional` and
//! tables never trigger).
//!
//! A query whose selector only projects (no aggregates, grouping, `having`, ordering or
//! paging, no rate limit) takes a direct path: each match is projected straight from the
//! two rows into the output, with no joined row built and no selector pass per event.

use super::selector::SelectorPlan;
use super::{QueryState, SideState};
use crate::compiled::Compiled;
use crate::env::Env;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::expr::EvalCtx;
use crate::plan::{InputSource, JoinPlan, QueryPlan};
use crate::row_queue::RowQueue;
use crate::scheduler::Scheduler;
use crate::value::Value;

const ABSENT: &[Value] = &[];

/// Whether the direct path may leave out lookups for events the selector does not output:
/// its outputs are plain reads and `on` cannot fail.
pub(super) fn skips_unwanted(q: &QueryPlan, j: &JoinPlan) -> bool {
    projects_directly(q) && j.on_infallible && q.selector.outputs.iter().all(Compiled::is_leaf)
}

/// Whether a query's selector can project join matches directly.
pub(super) fn projects_directly(q: &QueryPlan) -> bool {
    let s = &q.selector;
    q.rate.is_none()
        && s.aggregators.is_empty()
        && s.group_by.is_empty()
        && s.having.is_none()
        && s.order_by.is_empty()
        && s.limit.is_none()
        && s.offset.is_none()
        && !s.emit_keys
}

/// What the lookup of one event does with each pair it finds.
struct Lookup<'a> {
    on: Option<&'a Compiled>,
    env: &'a Env<'a>,
    ts: i64,
    now: i64,
    /// The triggering side: 0 puts the event on the left of each pair.
    side: usize,
    found: bool,
    error: Option<String>,
}

impl<'a> Lookup<'a> {
    fn new(j: &'a JoinPlan, env: &'a Env<'a>, ts: i64, now: i64, side: usize) -> Lookup<'a> {
        Lookup {
            on: lookup_condition(j),
            env,
            ts,
            now,
            side,
            found: false,
            error: None,
        }
    }

    /// The pair `[left, right]` of the event and a held row, when it satisfies `on`.
    #[inline]
    fn pair<'r>(&mut self, row: &'r [Value], held: &'r [Value]) -> Option<[&'r [Value]; 2]> {
        if self.error.is_some() {
            return None;
        }
        let pair = if self.side == 0 {
            [row, held]
        } else {
            [held, row]
        };
        if let Some(cond) = self.on {
            let mut ecx = EvalCtx::new(&pair, self.ts, self.now).with_tables(self.env.tables);
            let hit = cond.eval_bool(&mut ecx);
            if let Some(e) = ecx.error.take() {
                self.error = Some(e);
                return None;
            }
            if !hit {
                return None;
            }
        }
        self.found = true;
        Some(pair)
    }
}

impl QueryState {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn join(
        &mut self,
        q: &QueryPlan,
        j: &JoinPlan,
        side: usize,
        input: ChunkRef<'_>,
        sel: &[u32],
        now: i64,
        scheduler: &mut Scheduler,
        env: &Env<'_>,
    ) {
        let this = &j.sides[side];
        if !this.triggers {
            return;
        }
        if self.direct_join {
            self.join_direct(q, j, side, input, sel, now, env);
            return;
        }
        let widths = [j.sides[0].input.out_arity(), j.sides[1].input.out_arity()];
        let mut joined = std::mem::take(&mut self.joined);
        let mut ordinal = std::mem::take(&mut self.ordinal);
        for &i in sel {
            let i = i as usize;
            let (ts, kind, row) = (input.ts(i), input.kind(i), input.row(i));
            joined.clear();
            joined.batch = true;
            if kind == EventKind::Reset {
                push_joined(&mut joined, ts, kind, side, row, None, widths);
            } else {
                let mut lookup = Lookup::new(j, env, ts, now, side);
                let mut consider = |held: &[Value]| {
                    if lookup.pair(row, held).is_some() {
                        push_joined(&mut joined, ts, kind, side, row, Some(held), widths);
                    }
                };
                let failed = scan(&self.sides, j, side, (row, ts, now), env, &mut consider);
                if let Some(e) = lookup.error.or(failed) {
                    self.error = Some(e);
                    break;
                }
                if !lookup.found && this.outer {
                    push_joined(&mut joined, ts, kind, side, row, None, widths);
                }
            }
            if !joined.is_empty() {
                ordinal.clear();
                ordinal.extend(0..joined.len() as u32);
                self.select(q, joined.as_ref(), &ordinal, now, scheduler, env);
                if self.error.is_some() {
                    break;
                }
            }
        }
        joined.clear();
        self.joined = joined;
        self.ordinal = ordinal;
    }

    /// The direct path: matches projected straight into the output, one segment per event.
    #[allow(clippy::too_many_arguments)]
    fn join_direct(
        &mut self,
        q: &QueryPlan,
        j: &JoinPlan,
        side: usize,
        input: ChunkRef<'_>,
        sel: &[u32],
        now: i64,
        env: &Env<'_>,
    ) {
        let outer = j.sides[side].outer;
        let QueryState {
            sides,
            out,
            error,
            skip_unwanted,
            leaf_outputs,
            ..
        } = self;
        let leaf_outputs = leaf_outputs.as_deref();
        let project =
            |pair: &[&[Value]; 2], ts: i64, kind: EventKind, out: &mut Chunk| match leaf_outputs {
                Some(leaves) => {
                    if selects(&q.selector, kind) {
                        let dst = out.begin_row(ts, kind);
                        dst.extend(leaves.iter().map(|l| l.read(pair)));
                    }
                    Ok(())
                }
                None => project(&q.selector, pair, ts, kind, now, env, out),
            };
        for &i in sel {
            let i = i as usize;
            let (ts, kind, row) = (input.ts(i), input.kind(i), input.row(i));
            if kind == EventKind::Reset {
                // A projection keeps no state for a reset to clear.
                continue;
            }
            if *skip_unwanted && !selects(&q.selector, kind) {
                // Nothing of this lookup can be seen: it would project nothing and cannot
                // fail. The window still counts it as a lookup.
                other_queue(sides, j, 1 - side, env);
                continue;
            }
            out.split_here();
            let mut lookup = Lookup::new(j, env, ts, now, side);
            let mut failed = None;
            let mut consider = |held: &[Value]| {
                if failed.is_none()
                    && let Some(pair) = lookup.pair(row, held)
                {
                    failed = project(&pair, ts, kind, out).err();
                }
            };
            let scanned = scan(sides, j, side, (row, ts, now), env, &mut consider);
            if let Some(e) = lookup.error.or(failed).or(scanned) {
                *error = Some(e);
                break;
            }
            if !lookup.found && outer {
                let pair = if side == 0 {
                    [row, ABSENT]
                } else {
                    [ABSENT, row]
                };
                if let Err(e) = project(&pair, ts, kind, out) {
                    *error = Some(e);
                    break;
                }
            }
        }
    }
}

/// Calls `f` with each row of the other side that `row` (arriving on `side`) may match, in
/// the order Siddhi's `find` meets them: rows whose join key differs are skipped (with a
/// null key nothing can match).
fn scan<F: FnMut(&[Value])>(
    sides: &[SideState],
    j: &JoinPlan,
    side: usize,
    (row, ts, now): (&[Value], i64, i64),
    env: &Env<'_>,
    f: &mut F,
) -> Option<String> {
    let other = 1 - side;
    if let (InputSource::Aggregation(a), Some(wp)) = (j.sides[other].input.source, &j.aggregation) {
        return scan_aggregation(j, side, (row, ts, now), env, a, wp, f);
    }
    if let (InputSource::Table(t), Some(key)) = (j.sides[other].input.source, &j.table_key) {
        // The key map answers: no condition is evaluated on the row it finds.
        let pair = if side == 0 {
            [row, ABSENT]
        } else {
            [ABSENT, row]
        };
        let mut ecx = EvalCtx::new(&pair, ts, now).with_tables(env.tables);
        let v = key.eval(&mut ecx);
        let table = &env.tables[t as usize];
        if let Some(held) = table
            .find_key(std::slice::from_ref(&v))
            .and_then(|s| table.row(s))
        {
            f(held);
        }
        return None;
    }
    let probe = j
        .key
        .as_ref()
        .map(|k| (&row[k.attrs[side]], k.attrs[other]));
    if probe.is_some_and(|(v, _)| v.is_null()) {
        // Still a lookup for the window's bookkeeping, but nothing can match.
        other_queue(sides, j, other, env);
        return None;
    }
    let mut consider = |held: &[Value]| {
        if probe.is_none_or(|(v, k)| held[k] == *v) {
            f(held);
        }
    };
    if let InputSource::Table(t) = j.sides[other].input.source {
        env.tables[t as usize].visit(&mut consider);
        return None;
    }
    match other_queue(sides, j, other, env) {
        // Rows of a positive width: scanned run by run, one flat slice each.
        Some(q) if q.arity() > 0 => {
            let w = q.arity();
            match probe {
                // The common case, a string key, compared without a call per row.
                Some((Value::Str(key), k)) => {
                    for run in q.runs() {
                        for held in run.chunks_exact(w) {
                            if matches!(&held[k], Value::Str(h) if h == key) {
                                f(held);
                            }
                        }
                    }
                }
                _ => {
                    for run in q.runs() {
                        for held in run.chunks_exact(w) {
                            consider(held);
                        }
                    }
                }
            }
        }
        Some(q) => {
            for held in q.rows() {
                consider(held);
            }
        }
        None => match j.sides[other].input.source {
            InputSource::Window(w) => {
                env.windows[w as usize].visit_held(&mut |_, held| consider(held))
            }
            _ => {
                if let Some(w) = sides[other].window() {
                    w.visit_held(&mut |_, held| consider(held));
                }
            }
        },
    }
    None
}

/// The rows an aggregation gives for one event (its `within` and `per`), through the
/// join key check as other sides' rows.
fn scan_aggregation<F: FnMut(&[Value])>(
    j: &JoinPlan,
    side: usize,
    (row, ts, now): (&[Value], i64, i64),
    env: &Env<'_>,
    a: u32,
    wp: &crate::aggregation::WithinPer,
    f: &mut F,
) -> Option<String> {
    let pair = if side == 0 {
        [row, ABSENT]
    } else {
        [ABSENT, row]
    };
    let mut ecx = EvalCtx::new(&pair, ts, now).with_tables(env.tables);
    let rows = match env.aggregations[a as usize].find_for_join(wp, &mut ecx) {
        Ok(rows) => rows,
        Err(e) => return Some(e),
    };
    let other = 1 - side;
    let probe = j
        .key
        .as_ref()
        .map(|k| (&row[k.attrs[side]], k.attrs[other]));
    if probe.is_some_and(|(v, _)| v.is_null()) {
        return None;
    }
    for held in &rows {
        if probe.is_none_or(|(v, k)| held[k] == *v) {
            f(held);
        }
    }
    None
}

/// What a lookup evaluates on the rows [`scan`] passes: the condition without its key.
fn lookup_condition(j: &JoinPlan) -> Option<&Compiled> {
    match (&j.table_key, &j.key) {
        (Some(_), _) => None,
        (None, Some(k)) => k.residual.as_ref(),
        (None, None) => j.on.as_ref(),
    }
}

/// The queue of rows the other side's window holds, read as a lookup.
fn other_queue<'a>(
    sides: &'a [SideState],
    j: &JoinPlan,
    other: usize,
    env: &'a Env<'_>,
) -> Option<&'a RowQueue> {
    match j.sides[other].input.source {
        InputSource::Table(_) | InputSource::Aggregation(_) => None,
        InputSource::Window(w) => env.windows[w as usize].lookup(),
        InputSource::Stream(_) => sides[other].window().and_then(|w| w.lookup()),
    }
}

/// An output that reads an attribute of a join side or is a constant.
#[derive(Debug, Clone)]
pub(super) enum LeafOutput {
    Attr(usize, usize),
    Const(Value),
}

impl LeafOutput {
    /// The outputs of a selector, when all of them are plain reads.
    pub(super) fn of(plan: &SelectorPlan) -> Option<Box<[LeafOutput]>> {
        plan.outputs
            .iter()
            .map(|e| match &e.ir {
                crate::expr::Expr::Attr { slot, idx } => {
                    Some(LeafOutput::Attr(*slot as usize, *idx as usize))
                }
                crate::expr::Expr::Const(v) => Some(LeafOutput::Const(v.clone())),
                _ => None,
            })
            .collect()
    }

    /// Whether the outputs are attributes `0..arity` of the first input, in order.
    pub(super) fn is_identity(plan: &SelectorPlan, arity: usize) -> bool {
        arity > 0
            && plan.outputs.len() == arity
            && plan.outputs.iter().enumerate().all(|(k, e)| {
                matches!(&e.ir, crate::expr::Expr::Attr { slot: 0, idx } if *idx as usize == k)
            })
    }

    #[inline]
    pub(super) fn read(&self, pair: &[&[Value]; 2]) -> Value {
        match self {
            LeafOutput::Attr(s, i) => pair[*s].get(*i).cloned().unwrap_or_default(),
            LeafOutput::Const(v) => v.clone(),
        }
    }
}

/// Projects one joined pair into `out` (a selector that only projects, as its plain path
/// would): rows of a kind the query does not output are evaluated only for their errors.
#[inline]
fn project(
    plan: &SelectorPlan,
    pair: &[&[Value]; 2],
    ts: i64,
    kind: EventKind,
    now: i64,
    env: &Env<'_>,
    out: &mut Chunk,
) -> Result<(), String> {
    let mut ecx = EvalCtx::new(pair, ts, now).with_tables(env.tables);
    ecx.kind = kind;
    if !selects(plan, kind) {
        for e in &plan.outputs {
            if !e.is_leaf() {
                e.eval(&mut ecx);
            }
        }
        return ecx.error.map_or(Ok(()), Err);
    }
    let dst = out.begin_row(ts, kind);
    for e in &plan.outputs {
        dst.push(e.eval(&mut ecx));
    }
    match ecx.error {
        Some(e) => {
            out.pop();
            Err(e)
        }
        None => Ok(()),
    }
}

/// The selector outputs events of `kind`.
#[inline]
fn selects(plan: &SelectorPlan, kind: EventKind) -> bool {
    match kind {
        EventKind::Current => plan.current_on,
        EventKind::Expired => plan.expired_on,
        EventKind::Reset => false,
    }
}

/// Appends `[left..., right..., left present, right present]`; the side not given is absent.
fn push_joined(
    out: &mut Chunk,
    ts: i64,
    kind: EventKind,
    side: usize,
    row: &[Value],
    other: Option<&[Value]>,
    widths: [usize; 2],
) {
    let dst = out.begin_row(ts, kind);
    let absent = |n: usize, dst: &mut Vec<Value>| dst.extend(std::iter::repeat_n(Value::Null, n));
    let (left, right) = if side == 0 {
        (Some(row), other)
    } else {
        (other, Some(row))
    };
    match left {
        Some(l) => dst.extend_from_slice(l),
        None => absent(widths[0], dst),
    }
    match right {
        Some(r) => dst.extend_from_slice(r),
        None => absent(widths[1], dst),
    }
    dst.push(Value::Bool(left.is_some()));
    dst.push(Value::Bool(right.is_some()));
}
