//! Snapshot and restore of a pattern's partial matches, keeping shared matches shared.

use super::PatternState;
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};

impl PatternState {
    pub fn snapshot(&self, w: &mut StateWriter) {
        let ids: Vec<u32> = self
            .procs
            .iter()
            .flat_map(|p| p.pending.iter().chain(&p.new_every).copied())
            .collect();
        let map = self.arena.snapshot(w, &ids);
        w.usize(self.procs.len());
        for p in &self.procs {
            for list in [&p.pending, &p.new_every] {
                w.usize(list.len());
                for id in list {
                    w.u64(u64::from(map[id]));
                }
            }
            for flag in [
                p.state_changed,
                p.initialized,
                p.started,
                p.success,
                p.start_reset,
                p.active,
                p.returned,
            ] {
                w.bool(flag);
            }
            w.i64(p.last_scheduled);
            w.i64(p.last_arrival);
        }
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let ids = self.arena.restore(r)?;
        let n = r.usize()?;
        if n != self.procs.len() {
            return Err(SnapshotError::Mismatch(format!(
                "pattern has {} states, snapshot {n}",
                self.procs.len()
            )));
        }
        for pi in 0..n {
            for pending in [true, false] {
                let len = r.len(1)?;
                let mut list = Vec::with_capacity(len);
                for _ in 0..len {
                    let k = r.u64()? as usize;
                    let Some(&id) = ids.get(k) else {
                        return Err(SnapshotError::Mismatch(format!(
                            "pattern match {k} out of range"
                        )));
                    };
                    self.arena.retain(id);
                    list.push(id);
                }
                let p = &mut self.procs[pi];
                if pending {
                    p.pending = list;
                } else {
                    p.new_every = list;
                }
            }
            let p = &mut self.procs[pi];
            p.state_changed = r.bool()?;
            p.initialized = r.bool()?;
            p.started = r.bool()?;
            p.success = r.bool()?;
            p.start_reset = r.bool()?;
            p.active = r.bool()?;
            p.returned = r.bool()?;
            p.last_scheduled = r.i64()?;
            p.last_arrival = r.i64()?;
        }
        for id in ids {
            self.arena.drop_if_unused(id);
        }
        Ok(())
    }
}
