//! Named windows (`define window W (...) length(5) output all events`): one window shared by
//! every query that inserts into it, read by every query that selects from it or joins it.
//!
//! Inserted events go through the window; what leaves it (current and/or expired events, as
//! the definition's `output` says — resets are never published) is delivered to the readers
//! with its kinds and batch flag intact, as Siddhi's window junction does.

use crate::event::{Chunk, ChunkRef, EventKind};
use crate::plan::WindowPlan;
use crate::row_queue::RowQueue;
use crate::scheduler::{OwnerKind, Scheduler, TimerId, TimerOwner};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::Value;
use crate::window::{WindowCtx, WindowProcessor};

#[derive(Debug)]
pub struct NamedWindowRuntime {
    pub name: String,
    processor: Box<dyn WindowProcessor>,
    timer: Option<TimerId>,
    allow_current: bool,
    allow_expired: bool,
    sel: Vec<u32>,
    /// What the last call published.
    pub out: Chunk,
}

impl NamedWindowRuntime {
    pub fn new(plan: &WindowPlan, index: u32, scheduler: &mut Scheduler) -> NamedWindowRuntime {
        use spate_ql::ast::OutputEventType;
        let timer = plan.timer_template.map(|t| {
            scheduler.register(
                t,
                TimerOwner {
                    kind: OwnerKind::NamedWindow,
                    element: index,
                    ..TimerOwner::default()
                },
            )
        });
        NamedWindowRuntime {
            name: plan.name.clone(),
            processor: plan.spec.instantiate(),
            timer,
            allow_current: matches!(plan.output, OutputEventType::Current | OutputEventType::All),
            allow_expired: matches!(plan.output, OutputEventType::Expired | OutputEventType::All),
            sel: Vec::new(),
            out: Chunk::new(plan.schema.len()),
        }
    }

    /// Inserts events; what the window publishes is left in `out`.
    pub fn insert(&mut self, input: ChunkRef<'_>, now: i64, scheduler: &mut Scheduler) {
        self.out.clear();
        self.sel.clear();
        self.sel.extend(0..input.len() as u32);
        let mut cx = WindowCtx {
            now,
            scheduler,
            timer: self.timer,
        };
        self.processor
            .process(input, &self.sel, &mut self.out, &mut cx);
        self.publishable();
    }

    pub fn on_timer(&mut self, due: i64, now: i64, scheduler: &mut Scheduler) {
        self.out.clear();
        let mut cx = WindowCtx {
            now,
            scheduler,
            timer: self.timer,
        };
        self.processor.on_timer(due, &mut self.out, &mut cx);
        self.publishable();
    }

    /// Keeps only the kinds the definition publishes.
    fn publishable(&mut self) {
        let (cur, exp) = (self.allow_current, self.allow_expired);
        let kinds: Vec<EventKind> = (0..self.out.len()).map(|r| self.out.kind(r)).collect();
        if kinds
            .iter()
            .all(|k| (*k == EventKind::Current && cur) || (*k == EventKind::Expired && exp))
        {
            return;
        }
        self.out.retain_rows(|r| match kinds[r] {
            EventKind::Current => cur,
            EventKind::Expired => exp,
            EventKind::Reset => false,
        });
    }

    /// The rows a join with this window sees.
    pub fn visit_held(&self, f: &mut dyn FnMut(i64, &[Value])) {
        self.processor.visit_held(f);
    }

    /// The rows a join with this window sees, when the window keeps them in one queue (a
    /// lookup: see [`WindowProcessor::lookup`]).
    pub fn lookup(&self) -> Option<&RowQueue> {
        self.processor.lookup()
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        self.processor.snapshot(w);
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.processor.restore(r)
    }
}
