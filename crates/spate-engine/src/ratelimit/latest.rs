//! The latest event, overall or per group: what `output last every <time>` emits (Siddhi's
//! `Last[GroupBy]PerTimeOutputRateLimiter`) and what a snapshot of a query without a window
//! emits (`[GroupBy]PerSnapshotOutputRateLimiter`), or of a window with only aggregates and no
//! `group by` (`AllAggregationPerSnapshotOutputRateLimiter`).

use super::per_event::counts;
use super::rows::{restore_opt, snapshot_opt, store};
use super::ticking::Period;
use super::{Keyed, Row};
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};

/// Which events are kept, and whether a tick consumes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// `output last every <time>`: current and expired events, emitted at the next tick only
    /// (and only ticks emit).
    UntilTick,
    /// A snapshot: current events, emitted at every tick until replaced. Without a window
    /// nothing but current events arrives.
    Current,
    /// A snapshot of a window with only aggregates: as `Current`, but any other event (expired
    /// or reset) forgets the kept one.
    CurrentUntilOther,
}

impl Keep {
    fn takes(self, kind: EventKind) -> bool {
        match self {
            Keep::UntilTick => counts(kind),
            Keep::Current | Keep::CurrentUntilOther => kind == EventKind::Current,
        }
    }

    fn flushes_on_events(self) -> bool {
        self != Keep::UntilTick
    }

    fn emit(self, slot: &mut Option<Row>, out: &mut Chunk) {
        if self == Keep::UntilTick {
            if let Some(row) = slot.take() {
                row.emit_moved(out);
            }
        } else if let Some(row) = slot {
            row.emit(out);
        }
    }
}

#[derive(Debug)]
pub(super) struct Latest {
    keep: Keep,
    arity: usize,
    last: Option<Row>,
}

impl Latest {
    pub fn new(keep: Keep, arity: usize) -> Latest {
        Latest {
            keep,
            arity,
            last: None,
        }
    }
}

impl Period for Latest {
    fn flushes_on(&self, _kind: EventKind) -> bool {
        self.keep.flushes_on_events()
    }

    fn apply(&mut self, input: ChunkRef<'_>, i: usize) -> Result<(), String> {
        if self.keep.takes(input.kind(i)) {
            store(&mut self.last, input, i, self.arity);
        } else if self.keep == Keep::CurrentUntilOther {
            self.last = None;
        }
        Ok(())
    }

    fn emit(&mut self, out: &mut Chunk) {
        self.keep.emit(&mut self.last, out);
    }

    fn save(&self, w: &mut StateWriter) {
        snapshot_opt(w, self.last.as_ref());
    }

    fn load(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.last = restore_opt(r, self.arity)?;
        Ok(())
    }
}

/// The latest event of every group, groups in first-seen order (`UntilTick` forgets them at
/// each tick, `Current` never does).
#[derive(Debug)]
pub(super) struct LatestPerGroup {
    keep: Keep,
    arity: usize,
    key_arity: usize,
    last: Keyed<Option<Row>>,
}

impl LatestPerGroup {
    pub fn new(keep: Keep, arity: usize, key_arity: usize) -> LatestPerGroup {
        debug_assert!(keep != Keep::CurrentUntilOther);
        LatestPerGroup {
            keep,
            arity,
            key_arity,
            last: Keyed::default(),
        }
    }
}

impl Period for LatestPerGroup {
    fn flushes_on(&self, _kind: EventKind) -> bool {
        self.keep.flushes_on_events()
    }

    fn apply(&mut self, input: ChunkRef<'_>, i: usize) -> Result<(), String> {
        if self.keep.takes(input.kind(i)) {
            let key = &input.row(i)[self.arity..self.arity + self.key_arity];
            store(self.last.entry(key, || None), input, i, self.arity);
        }
        Ok(())
    }

    fn emit(&mut self, out: &mut Chunk) {
        for slot in self.last.values_mut() {
            self.keep.emit(slot, out);
        }
        if self.keep == Keep::UntilTick {
            self.last.clear();
        }
    }

    fn save(&self, w: &mut StateWriter) {
        self.last
            .snapshot(w, |w, row| snapshot_opt(w, row.as_ref()));
    }

    fn load(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let arity = self.arity;
        self.last
            .restore(r, self.key_arity, |r| restore_opt(r, arity))
    }
}
