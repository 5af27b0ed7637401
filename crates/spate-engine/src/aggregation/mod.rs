//! Incremental aggregations (`define aggregation`), with Siddhi 5.1.7's semantics made
//! deterministic.
//!
//! Each granularity has an executor: a running bucket of aggregates per group and a table of
//! finished buckets. Events enter the finest executor, bucketed on the app clock (Siddhi's
//! `currentTimeMillis()`, event time in playback); with `aggregate by` the event-time bucket
//! is part of each group's key, so late events land in their own bucket. The finest executor
//! runs a timer at its bucket boundaries on the app clock: at each, a finished bucket is
//! stored and handed to the next granularity, which rolls it into its own running bucket.
//! Queries read an aggregation by joining it (`within ... per ...`, see [`find`]).
//!
//! Deliberate differences from Siddhi (recorded in `docs/divergences.md`): finished buckets
//! are stored synchronously (Siddhi writes them on another thread, so a query right after a
//! boundary may or may not see them), and `@purge` runs on the app clock instead of the wall
//! clock.

pub mod bucket;
pub mod duration;
mod find;
pub mod plan;

use std::sync::Arc;

use bucket::{Bucket, group_key};
use duration::{Granularity, parse_timestamp};
use plan::{AggregationPlan, Column};

use crate::event::ChunkRef;
use crate::expr::EvalCtx;
use crate::plan::AppPlan;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::table::TableRuntime;
use crate::value::Value;

pub use find::WithinPer;

/// One granularity's executor.
#[derive(Debug)]
struct Level {
    g: Granularity,
    next_emit: i64,
    /// Start of the bucket of the latest time seen (`startTimeOfAggregates`).
    start: i64,
    processed: bool,
    /// Start of the running bucket (the `AGG_TIMESTAMP` it is stored with).
    bucket_ts: i64,
    bucket: Bucket,
    table: TableRuntime,
}

/// What reaches an executor: a row to fold in, or a bucket boundary.
enum Input<'r> {
    Row(&'r [Value]),
    Timer(i64),
}

#[derive(Debug)]
pub struct AggregationRuntime {
    app: Arc<AppPlan>,
    index: usize,
    pub name: String,
    levels: Vec<Level>,
    /// The next boundary timer of the finest executor.
    timer: Option<i64>,
    timer_started: bool,
    /// When `@purge` runs next.
    purge_next: Option<i64>,
    /// Reused key buffer.
    key: String,
    /// Reused table row of an input event.
    row: Vec<Value>,
}

impl AggregationRuntime {
    pub fn new(app: Arc<AppPlan>, index: usize) -> AggregationRuntime {
        let plan = &app.aggregations[index];
        let levels = plan
            .granularities
            .iter()
            .map(|&g| Level {
                g,
                next_emit: -1,
                start: -1,
                processed: false,
                bucket_ts: -1,
                bucket: Bucket::default(),
                table: TableRuntime::new(
                    &format!("{}_{}", plan.name, g.name()),
                    plan.table_schema.clone(),
                    Some(plan.key_cols()),
                    &[],
                ),
            })
            .collect();
        AggregationRuntime {
            name: plan.name.clone(),
            app,
            index,
            levels,
            timer: None,
            timer_started: false,
            purge_next: None,
            key: String::new(),
            row: Vec::new(),
        }
    }

    pub fn plan(&self) -> &AggregationPlan {
        &self.app.aggregations[self.index]
    }

    /// Events of the input stream arriving at app time `now`.
    pub fn process(
        &mut self,
        chunk: ChunkRef<'_>,
        now: i64,
        tables: &[TableRuntime],
    ) -> Result<(), String> {
        let app = self.app.clone();
        let plan = &app.aggregations[self.index];
        let mut row = std::mem::take(&mut self.row);
        let result = self.process_rows(plan, chunk, now, tables, &mut row);
        self.row = row;
        result
    }

    fn process_rows(
        &mut self,
        plan: &AggregationPlan,
        chunk: ChunkRef<'_>,
        now: i64,
        tables: &[TableRuntime],
        row: &mut Vec<Value>,
    ) -> Result<(), String> {
        'rows: for i in 0..chunk.len() {
            if chunk.kind(i) != crate::event::EventKind::Current {
                continue;
            }
            let rows: [&[Value]; 1] = [chunk.row(i)];
            let mut ecx = EvalCtx::new(&rows, chunk.ts(i), now).with_tables(tables);
            for f in &plan.filters {
                let pass = f.eval_bool(&mut ecx);
                if let Some(e) = ecx.error.take() {
                    return Err(e);
                }
                if !pass {
                    continue 'rows;
                }
            }
            row.clear();
            for c in &plan.columns {
                row.push(match c {
                    Column::Timestamp => Value::Long(now),
                    Column::EventTimestamp(e) | Column::LastTimestamp(e) => {
                        match e.eval(&mut ecx) {
                            Value::Long(t) => Value::Long(t),
                            Value::Str(s) => match parse_timestamp(&s) {
                                Some((t, _)) => Value::Long(t),
                                None => return Err(format!("timestamp '{s}' doesn't match the supported formats <yyyy>-<MM>-<dd> <HH>:<mm>:<ss> (for GMT time zone) or <yyyy>-<MM>-<dd> <HH>:<mm>:<ss> <Z>")),
                            },
                            _ => return Err("cannot retrieve the timestamp of event".into()),
                        }
                    }
                    Column::Variable(e) => e.eval(&mut ecx),
                    Column::Base { init, .. } => init.eval(&mut ecx),
                });
            }
            if let Some(e) = ecx.error.take() {
                return Err(e);
            }
            self.execute(plan, 0, Input::Row(row));
        }
        Ok(())
    }

    /// One executor handling a row or a boundary (`IncrementalExecutor.execute`).
    fn execute(&mut self, plan: &AggregationPlan, lvl: usize, input: Input) {
        let ts = match &input {
            Input::Row(r) => r[0].as_i64().unwrap_or(0),
            Input::Timer(t) => *t,
        };
        let g = self.levels[lvl].g;
        if lvl == 0 {
            match input {
                Input::Row(_) if !self.timer_started => {
                    self.timer = Some(g.next_emit(ts));
                    self.timer_started = true;
                }
                Input::Timer(_) => self.timer = Some(g.next_emit(ts)),
                Input::Row(_) => {}
            }
        }
        let level = &mut self.levels[lvl];
        level.start = g.start_of(ts);
        if ts >= level.next_emit {
            level.next_emit = g.next_emit(ts);
            let rows = if level.processed {
                let bucket_ts = level.bucket_ts;
                level.bucket.rows(|_| bucket_ts)
            } else {
                Vec::new()
            };
            for r in &rows {
                level.table.insert(r.clone());
            }
            level.bucket.clear();
            level.processed = false;
            level.bucket_ts = level.start;
            let start = level.start;
            if lvl + 1 < self.levels.len() {
                for r in &rows {
                    self.execute(plan, lvl + 1, Input::Row(r));
                }
                self.execute(plan, lvl + 1, Input::Timer(start));
            }
        }
        if let Input::Row(row) = input {
            let keyed = group_key(plan, g, row, &mut self.key);
            let level = &mut self.levels[lvl];
            level
                .bucket
                .fold(plan, keyed.then_some(self.key.as_str()), g, row);
            level.processed = true;
        }
    }

    /// Moves to app time `now`: fires the bucket boundaries due, then `@purge` if due.
    pub fn advance(&mut self, now: i64) {
        let app = self.app.clone();
        let plan = &app.aggregations[self.index];
        while let Some(t) = self.timer {
            if t > now {
                break;
            }
            self.timer = None;
            let target = if self.levels[0].processed {
                t
            } else {
                // Boundaries with nothing to hand on change nothing but the executors'
                // clocks: jump to the next one that stores a bucket, or to the last due.
                let last = self.levels[0].g.start_of(now);
                let busy = self.levels[1..]
                    .iter()
                    .filter(|l| l.processed)
                    .map(|l| l.next_emit)
                    .min()
                    .unwrap_or(i64::MAX);
                last.min(busy).max(t)
            };
            self.execute(plan, 0, Input::Timer(target));
        }
        if plan.purge.enabled {
            let interval = plan.purge.interval;
            let next = *self.purge_next.get_or_insert(now.saturating_add(interval));
            if now >= next {
                let at = next + (now - next) / interval * interval;
                self.purge(plan, at);
                self.purge_next = Some(at + interval);
            }
        }
    }

    /// Deletes stored buckets older than each granularity's retention.
    fn purge(&mut self, plan: &AggregationPlan, now: i64) {
        let col = plan.time_col();
        for (level, retention) in self.levels.iter_mut().zip(&plan.purge.retention) {
            let Some(keep) = retention else {
                continue;
            };
            let limit = now - keep;
            for slot in level.table.scan() {
                if level
                    .table
                    .row(slot)
                    .and_then(|r| r[col].as_i64())
                    .is_some_and(|t| t < limit)
                {
                    level.table.remove(slot);
                }
            }
        }
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.bool(self.timer_started);
        w.i64(self.timer.unwrap_or(i64::MIN));
        w.i64(self.purge_next.unwrap_or(i64::MIN));
        for l in &self.levels {
            w.i64(l.next_emit);
            w.i64(l.start);
            w.bool(l.processed);
            w.i64(l.bucket_ts);
            w.section(|w| l.bucket.snapshot(w));
            w.section(|w| l.table.snapshot(w));
        }
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let app = self.app.clone();
        let plan = &app.aggregations[self.index];
        self.timer_started = r.bool()?;
        self.timer = Some(r.i64()?).filter(|t| *t != i64::MIN);
        self.purge_next = Some(r.i64()?).filter(|t| *t != i64::MIN);
        for l in &mut self.levels {
            l.next_emit = r.i64()?;
            l.start = r.i64()?;
            l.processed = r.bool()?;
            l.bucket_ts = r.i64()?;
            let mut sec = r.section()?;
            l.bucket.restore(plan, &mut sec)?;
            sec.finish()?;
            let mut sec = r.section()?;
            l.table.restore(&mut sec)?;
            sec.finish()?;
        }
        Ok(())
    }
}
