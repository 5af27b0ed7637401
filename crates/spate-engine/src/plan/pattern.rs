//! Patterns (`->`) and sequences (`,`): compiled into a graph of state processors shaped as
//! Siddhi 5.1.7 builds it (`StateInputStreamParser`), because Siddhi's output — which partial
//! matches exist, in which order they are tried, when they expire — follows from that graph.
//!
//! Every stream state element (`e1=S[...]`, `not S[...] for t`, one side of `and`/`or`, a
//! counted state) is one processor and one event slot; slots are numbered in Siddhi's parse
//! order (the right side of `and`/`or` before the left). Processors are linked by the
//! structure: `next` (the following state), `every` (where `every` restarts), `callback` (a
//! zero-count start state of a sequence), and the `and`/`or` partner.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use spate_ql::ast::{self, LogicalOp, StateElement};

use super::Planner;
use super::expr::{ExprCompiler, IndexedRef, IndexedRefs, Scope, ScopeSlot};
use super::query::{InputPlan, InputSource, ResolvedInput};
use super::schema::Schema;
use crate::aggregate::ProcessingMode;
use crate::compiled::Compiled;
use crate::expr::Expr;

/// A compiled pattern or sequence input.
#[derive(Debug)]
pub struct PatternPlan {
    pub sequence: bool,
    /// Width of each slot's events.
    pub arities: Vec<usize>,
    /// One per stream state element, indexed like the slots.
    pub procs: Vec<ProcPlan>,
    /// One per stream the pattern reads.
    pub receivers: Vec<ReceiverPlan>,
    /// The structure, for initialising, resetting and updating in Siddhi's order.
    pub root: Inner,
    /// Order in which expiry (`within`) runs over the processors.
    pub expire_order: Vec<usize>,
    /// `within`, in milliseconds.
    pub within: Option<i64>,
    /// Slots of the start states: `within` counts from their events.
    pub start_slots: Vec<usize>,
    /// Absent states, in the order their timers start.
    pub startup: Vec<usize>,
    /// Indexed references (`e1[last].x`), the columns of the extra slot.
    pub indexed: Vec<IndexedRef>,
}

/// What kind of state a processor handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcKind {
    Stream,
    /// `<min:max>`, `+`, `*`, `?` (`max` is `u32::MAX` when open).
    Count {
        min: u32,
        max: u32,
    },
    /// One side of `and`/`or`; `absent` for `not S [for t]` (`wait` is -1 without `for`).
    Logical {
        op: LogicalOp,
        partner: usize,
        absent: bool,
        wait: i64,
    },
    /// `not S for t` on its own.
    Absent {
        wait: i64,
    },
}

#[derive(Debug)]
pub struct ProcPlan {
    pub kind: ProcKind,
    pub slot: usize,
    pub is_start: bool,
    pub filters: Vec<Compiled>,
    /// The filters read only this state's own event (no other state, no function, table or
    /// aggregate): they can run on an arrival without the match's other rows.
    pub own_row_filters: bool,
    /// The state that follows.
    pub next: Option<usize>,
    /// Where `every` starts again after this state completes.
    pub every: Option<usize>,
    /// A zero-count start state of a sequence to restart when this state completes.
    pub callback: Option<usize>,
    /// The first state of the `every` group this state belongs to (a `within` expiry
    /// restarts it).
    pub within_every: Option<usize>,
    /// Completing this state completes the pattern: the match goes to the selector.
    pub to_selector: bool,
    /// The processor whose completion marks a match as returned by this one (the last
    /// state, for the first state of the pattern; otherwise itself).
    pub this_last: usize,
    pub timer_template: Option<u32>,
}

/// A stream the pattern reads, and the processors its events go to.
#[derive(Debug)]
pub struct ReceiverPlan {
    pub source: InputSource,
    /// In subscription order; a stream used by several states tries the later ones first.
    pub procs: Vec<usize>,
}

/// The structure of the states (Siddhi's inner state runtimes).
#[derive(Debug)]
pub enum Inner {
    Stream(usize),
    Next(Box<Inner>, Box<Inner>),
    /// `every`: initialised through the group, reset and updated through its first state.
    Every {
        first: usize,
        inner: Box<Inner>,
    },
    Logical(Box<Inner>, Box<Inner>),
}

impl PatternPlan {
    /// Width of the selector's input rows: every slot, the indexed references, and a
    /// presence flag per slot.
    pub fn row_width(&self) -> usize {
        let data: usize = self.arities.iter().sum();
        data + self.indexed.len() + self.arities.len()
    }
}

impl Inner {
    pub fn first(&self) -> usize {
        match self {
            Inner::Stream(p) => *p,
            Inner::Next(cur, _) => cur.first(),
            Inner::Every { first, .. } => *first,
            Inner::Logical(left, _) => left.first(),
        }
    }

    pub fn last(&self) -> usize {
        match self {
            Inner::Stream(p) => *p,
            Inner::Next(_, next) => next.last(),
            Inner::Every { inner, .. } => inner.last(),
            Inner::Logical(_, right) => right.last(),
        }
    }
}

/// One stream state element found in the first pass.
struct SlotDef {
    names: Vec<String>,
    schema: Arc<Schema>,
    label: String,
    source: InputSource,
}

pub(crate) fn pattern(
    p: &mut Planner,
    s: &ast::StateInput,
    sequence: bool,
) -> Option<ResolvedInput> {
    // Pass 1: the slots, in Siddhi's parse order.
    let mut elements = Vec::new();
    if !collect(p, &s.element, &mut elements) {
        return None;
    }
    let mut slots = Vec::with_capacity(elements.len());
    for (event_ref, stream) in elements {
        let (source, schema) = p.source_schema(&stream.source)?;
        let source = source?;
        if let InputSource::Table(_) = source {
            p.error(
                stream.source.span,
                "patterns and sequences read streams, not tables",
            );
            return None;
        }
        let names = vec![
            event_ref
                .map_or(&stream.source.id.name, |r| &r.name)
                .clone(),
        ];
        if let Some(r) = event_ref
            && slots.iter().any(|s: &SlotDef| s.names[0] == r.name)
        {
            p.error(
                r.span,
                format!("event reference `{}` is used twice in this pattern", r.name),
            );
            return None;
        }
        let label = match event_ref {
            Some(r) => format!("`{}` ({})", r.name, stream.source.id.name),
            None => format!("`{}`", stream.source.id.name),
        };
        slots.push(SlotDef {
            names,
            schema,
            label,
            source,
        });
    }
    if slots.len() + 1 >= crate::query::selector::MAX_SLOTS {
        p.unsupported(
            s.span,
            format!(
                "patterns with more than {} states",
                crate::query::selector::MAX_SLOTS - 2
            ),
        );
    }
    let multi = element_kinds(&s.element);
    let indexed = RefCell::new(IndexedRefs {
        base: slots.len() as u16,
        refs: Vec::new(),
        multi,
    });
    // Pass 2: the processors.
    let mut b = Builder {
        p,
        slots: &slots,
        indexed: &indexed,
        sequence,
        procs: Vec::new(),
        ok: true,
    };
    let mut order = Vec::new();
    let mut startup = Vec::new();
    let root = b.build(&s.element, true, &mut order, &mut startup, None);
    let ok = b.ok;
    let mut procs = b.procs;
    let root = root?;
    if !ok {
        return None;
    }
    set_to_selector(&root, &mut procs);
    let first = root.first();
    procs[first].this_last = root.last();
    let receivers = receivers(&root, &procs, &slots);
    let start_slots = order
        .iter()
        .filter(|&&i| procs[i].is_start)
        .map(|&i| procs[i].slot)
        .collect();
    let within = s.within.as_ref().map(|t| t.millis);
    let plan = PatternPlan {
        sequence,
        arities: slots.iter().map(|s| s.schema.len()).collect(),
        procs,
        receivers,
        root,
        expire_order: order,
        within,
        start_slots,
        startup,
        indexed: Vec::new(),
    };
    Some(ResolvedInput {
        slots: slots
            .iter()
            .map(|s| (s.names.clone(), s.schema.clone(), s.label.clone()))
            .collect(),
        plan: Some(InputPlan::Pattern(Box::new(plan))),
        mode: ProcessingMode::Batch,
        indexed: Some(indexed),
    })
}

/// Lists the stream state elements in Siddhi's parse order; checks the shape rules.
fn collect<'e>(
    p: &mut Planner,
    e: &'e StateElement,
    out: &mut Vec<(Option<&'e ast::Ident>, &'e ast::StandardStream)>,
) -> bool {
    match e {
        StateElement::Stream(s) => out.push((s.event_ref.as_ref(), &s.stream)),
        StateElement::Count { element, .. } => {
            out.push((element.event_ref.as_ref(), &element.stream))
        }
        StateElement::Absent(a) => out.push((None, &a.stream)),
        StateElement::Logical {
            left, right, span, ..
        } => {
            if !is_single(left) || !is_single(right) {
                p.error(
                    *span,
                    "`and`/`or` in a pattern join two single states, e.g. `e1=A and e2=B`",
                );
                return false;
            }
            // Siddhi parses the right side first, so it takes the lower slot.
            return collect(p, right, out) && collect(p, left, out);
        }
        StateElement::Next { steps, .. } => {
            for step in steps {
                if !collect(p, step, out) {
                    return false;
                }
            }
        }
        StateElement::Every { element, .. } => return collect(p, element, out),
    }
    true
}

/// Per slot (in parse order), whether it is a counted state (its events form a list).
fn element_kinds(e: &StateElement) -> Vec<bool> {
    fn walk(e: &StateElement, out: &mut Vec<bool>) {
        match e {
            StateElement::Stream(_) | StateElement::Absent(_) => out.push(false),
            StateElement::Count { .. } => out.push(true),
            StateElement::Logical { left, right, .. } => {
                walk(right, out);
                walk(left, out);
            }
            StateElement::Next { steps, .. } => steps.iter().for_each(|s| walk(s, out)),
            StateElement::Every { element, .. } => walk(element, out),
        }
    }
    let mut out = Vec::new();
    walk(e, &mut out);
    out
}

fn is_single(e: &StateElement) -> bool {
    matches!(e, StateElement::Stream(_) | StateElement::Absent(_))
}

struct Builder<'b> {
    p: &'b mut Planner,
    slots: &'b [SlotDef],
    indexed: &'b RefCell<IndexedRefs>,
    sequence: bool,
    procs: Vec<ProcPlan>,
    ok: bool,
}

impl Builder<'_> {
    /// Builds the processors of `e` (Siddhi's `parse`), returning its structure. `order`
    /// collects the processors for expiry; `forced` gives the kind of a stream element's
    /// processor when a logical or counted parent chose it.
    fn build(
        &mut self,
        e: &StateElement,
        is_start: bool,
        order: &mut Vec<usize>,
        startup: &mut Vec<usize>,
        forced: Option<(ProcKind, usize)>,
    ) -> Option<Inner> {
        match e {
            StateElement::Stream(s) => Some(Inner::Stream(self.stream(
                &s.stream,
                is_start,
                order,
                startup,
                forced.unwrap_or((ProcKind::Stream, self.procs.len())),
            )?)),
            StateElement::Absent(a) => {
                let wait = a.for_time.as_ref().map(|t| t.millis);
                let kind = match forced {
                    Some(k) => k,
                    None => {
                        let Some(wait) = wait else {
                            self.p.error(
                                a.span,
                                "`not S` needs `for <time>` unless it is one side of `and`/`or`",
                            );
                            self.ok = false;
                            return None;
                        };
                        (ProcKind::Absent { wait }, self.procs.len())
                    }
                };
                Some(Inner::Stream(
                    self.stream(&a.stream, is_start, order, startup, kind)?,
                ))
            }
            StateElement::Count {
                element,
                quantifier,
                span,
            } => {
                let (min, max) = quantifier.bounds();
                let max = max.unwrap_or(u32::MAX);
                if max == 0 || min > max {
                    self.p.error(
                        *span,
                        format!("a counted state needs 0 <= min <= max and max > 0, but found <{min}:{max}>"),
                    );
                    self.ok = false;
                    return None;
                }
                let kind = (ProcKind::Count { min, max }, self.procs.len());
                Some(Inner::Stream(self.stream(
                    &element.stream,
                    is_start,
                    order,
                    startup,
                    kind,
                )?))
            }
            StateElement::Logical {
                op, left, right, ..
            } => {
                // Slots: right side first. Timers: left side first.
                let right_slot = self.procs.len();
                let left_slot = right_slot + 1;
                let absent = |x: &StateElement| match x {
                    StateElement::Absent(a) => Some(a.for_time.as_ref().map_or(-1, |t| t.millis)),
                    _ => None,
                };
                let (la, ra) = (absent(left), absent(right));
                let left_timer = la.map(|_| self.p.next_timer_template());
                let right_timer = ra.map(|_| self.p.next_timer_template());
                if la.is_some() {
                    startup.push(left_slot);
                }
                if ra.is_some() {
                    startup.push(right_slot);
                }
                let kind = |partner: usize, a: Option<i64>| ProcKind::Logical {
                    op: *op,
                    partner,
                    absent: a.is_some(),
                    wait: a.unwrap_or(-1),
                };
                let r = self.build(
                    right,
                    is_start,
                    order,
                    startup,
                    Some((kind(left_slot, ra), right_slot)),
                )?;
                let l = self.build(
                    left,
                    is_start,
                    order,
                    startup,
                    Some((kind(right_slot, la), left_slot)),
                )?;
                self.procs[left_slot].timer_template = left_timer;
                self.procs[right_slot].timer_template = right_timer;
                Some(Inner::Logical(Box::new(l), Box::new(r)))
            }
            StateElement::Next { steps, .. } => {
                let mut inners = Vec::with_capacity(steps.len());
                for (k, step) in steps.iter().enumerate() {
                    inners.push(self.build(step, is_start && k == 0, order, startup, None)?);
                }
                // Link each step to the next, then fold into nested pairs.
                for k in 0..inners.len().saturating_sub(1) {
                    let (last, first) = (inners[k].last(), inners[k + 1].first());
                    self.link_next(last, first);
                }
                let mut it = inners.into_iter().rev();
                let mut acc = it.next()?;
                for cur in it {
                    acc = Inner::Next(Box::new(cur), Box::new(acc));
                }
                Some(acc)
            }
            StateElement::Every { element, .. } => {
                let mut group = Vec::new();
                let inner = self.build(element, is_start, &mut group, startup, None)?;
                let (first, last) = (inner.first(), inner.last());
                self.set_every(last, first);
                for &i in &group {
                    self.procs[i].within_every = Some(first);
                }
                order.extend(group);
                Some(Inner::Every {
                    first,
                    inner: Box::new(inner),
                })
            }
        }
    }

    /// Creates the processor of one stream state element and compiles its filters.
    fn stream(
        &mut self,
        s: &ast::StandardStream,
        is_start: bool,
        order: &mut Vec<usize>,
        startup: &mut Vec<usize>,
        (kind, index): (ProcKind, usize),
    ) -> Option<usize> {
        debug_assert_eq!(
            index,
            self.procs.len(),
            "processors are created in slot order"
        );
        let slot = self.procs.len();
        let mut timer_template = None;
        if let ProcKind::Absent { .. } = kind {
            timer_template = Some(self.p.next_timer_template());
            startup.push(slot);
        }
        let filters = self.filters(s, slot).unwrap_or_default();
        let own_row_filters = filters.iter().all(|f| reads_only_slot(&f.ir, slot));
        self.procs.push(ProcPlan {
            kind,
            slot,
            is_start,
            filters,
            own_row_filters,
            next: None,
            every: None,
            callback: None,
            within_every: None,
            to_selector: false,
            this_last: slot,
            timer_template,
        });
        order.push(slot);
        Some(slot)
    }

    /// Compiles the filters of the state in `slot`: they see the states parsed so far, and
    /// unqualified attributes are this state's.
    fn filters(&mut self, s: &ast::StandardStream, slot: usize) -> Option<Vec<Compiled>> {
        let scope = Scope {
            slots: self.slots[..=slot]
                .iter()
                .map(|d| ScopeSlot {
                    names: d.names.clone(),
                    schema: &d.schema,
                    label: d.label.clone(),
                })
                .collect(),
            current: Some(slot),
            indexed: Some(self.indexed),
            prefer: None,
        };
        let tables = self.p.tables.clone();
        let mut diags = Vec::new();
        let mut out = Vec::new();
        for h in &s.handlers {
            let mut c = ExprCompiler::new(&scope, &mut diags).with_tables(&tables);
            match h {
                ast::StreamHandler::Filter(f) => {
                    if let Some(e) = c.condition(&f.condition, "a filter") {
                        out.push(Compiled::new(e));
                    }
                }
                ast::StreamHandler::Window(w) => {
                    c.diags.push(spate_ql::Diagnostic::validation(
                        w.span,
                        "patterns and sequences cannot use windows",
                    ));
                }
                ast::StreamHandler::Function(f) => {
                    for a in &f.args {
                        c.compile(a);
                    }
                    self.p
                        .unsupported(f.span, "stream functions inside patterns and sequences");
                }
            }
            if let Some((span, what)) = c.unsupported.take() {
                self.p.unsupported(span, what);
            }
        }
        if !diags.is_empty() {
            self.ok = false;
            self.p.diags.extend(diags);
            return None;
        }
        Some(out)
    }

    /// `cur.last` is followed by `next`: a logical pair shares the link; a zero-count start
    /// state of a sequence is restarted when the next state completes.
    fn link_next(&mut self, last: usize, next: usize) {
        self.procs[last].next = Some(next);
        if let ProcKind::Logical { partner, .. } = self.procs[last].kind {
            self.procs[partner].next = Some(next);
        }
        if let ProcKind::Count { min: 0, .. } = self.procs[last].kind
            && self.procs[last].is_start
            && self.sequence
        {
            self.procs[next].callback = Some(last);
        }
    }

    fn set_every(&mut self, last: usize, first: usize) {
        self.procs[last].every = Some(first);
        if let ProcKind::Logical { partner, .. } = self.procs[last].kind {
            self.procs[partner].every = Some(first);
        }
    }
}

/// Marks the processors whose completion completes the pattern (Siddhi's
/// `setQuerySelector`).
fn set_to_selector(inner: &Inner, procs: &mut [ProcPlan]) {
    match inner {
        Inner::Stream(p) => procs[*p].to_selector = true,
        Inner::Next(_, next) => set_to_selector(next, procs),
        Inner::Every { inner, .. } => set_to_selector(inner, procs),
        Inner::Logical(left, right) => {
            set_to_selector(right, procs);
            set_to_selector(left, procs);
        }
    }
}

/// One receiver per stream, with its processors in Siddhi's subscription order.
fn receivers(root: &Inner, procs: &[ProcPlan], slots: &[SlotDef]) -> Vec<ReceiverPlan> {
    fn setup(inner: &Inner, out: &mut Vec<usize>) {
        match inner {
            Inner::Stream(p) => out.push(*p),
            Inner::Next(cur, next) => {
                setup(cur, out);
                setup(next, out);
            }
            Inner::Every { inner, .. } => setup(inner, out),
            Inner::Logical(left, right) => {
                setup(right, out);
                setup(left, out);
            }
        }
    }
    let mut subscribed = Vec::new();
    setup(root, &mut subscribed);
    let mut by_source: HashMap<InputSource, usize> = HashMap::new();
    let mut out: Vec<ReceiverPlan> = Vec::new();
    for p in subscribed {
        let source = slots[procs[p].slot].source;
        let r = *by_source.entry(source).or_insert_with(|| {
            out.push(ReceiverPlan {
                source,
                procs: Vec::new(),
            });
            out.len() - 1
        });
        out[r].procs.push(p);
    }
    out
}

/// Whether `e` reads no input slot but `slot`, and calls nothing that could look further.
fn reads_only_slot(e: &Expr, slot: usize) -> bool {
    !e.any(&|n| match n {
        Expr::Attr { slot: s, .. }
        | Expr::SlotIsNull(s)
        | Expr::CompareAttrConst { slot: s, .. } => *s as usize != slot,
        Expr::Call { .. } | Expr::In { .. } | Expr::Agg { .. } => true,
        _ => false,
    })
}
