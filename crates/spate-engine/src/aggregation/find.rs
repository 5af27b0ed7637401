//! Reading an aggregation (`IncrementalAggregateCompileCondition.find`): the stored buckets
//! of the `per` granularity within `[start, end)`, then the running buckets of that and every
//! finer granularity rolled up to it; with `aggregate by`, rows of one event-time bucket and
//! group are merged (late events may have been stored in several). The result is in the order
//! Siddhi produces it: the table's scan order, then Java `HashMap` orders.

use super::bucket::{Bucket, group_key};
use super::duration::{Granularity, parse_timestamp, within_pattern};
use super::{AggregationRuntime, Level};
use crate::compiled::Compiled;
use crate::expr::EvalCtx;
use crate::value::Value;

/// `within <start>[, <end>] per <granularity>` of a join with aggregation `aggregation`,
/// over the join's rows (the aggregation's side absent).
#[derive(Debug)]
pub struct WithinPer {
    pub aggregation: u32,
    pub start: Compiled,
    pub end: Option<Compiled>,
    pub per: Compiled,
}

fn time_of(v: Value) -> Result<i64, String> {
    match v {
        Value::Long(t) => Ok(t),
        Value::Int(t) => Ok(t as i64),
        Value::Str(s) => parse_timestamp(&s).map(|(t, _)| t).ok_or_else(|| {
            format!("timestamp '{s}' doesn't match the supported formats <yyyy>-<MM>-<dd> <HH>:<mm>:<ss> (for GMT time zone) or <yyyy>-<MM>-<dd> <HH>:<mm>:<ss> <Z>")
        }),
        _ => Err("start and end times for within duration cannot be retrieved".into()),
    }
}

impl WithinPer {
    /// The range `[start, end)` and the granularity asked for.
    pub fn eval(&self, ecx: &mut EvalCtx<'_>) -> Result<(i64, i64, Granularity), String> {
        let first = self.start.eval(ecx);
        let (start, end) = match &self.end {
            None => match first {
                Value::Str(s) => within_pattern(&s)
                    .ok_or_else(|| format!("incorrect format provided for within clause: {s}"))?,
                _ => {
                    return Err(
                        "start and end times for within duration cannot be retrieved".into(),
                    );
                }
            },
            Some(end) => {
                let (s, e) = (time_of(first)?, time_of(end.eval(ecx))?);
                if s >= e {
                    return Err(format!(
                        "the start time must be less than the end time in the within clause, but the given start time is {s} and the given end time is {e}"
                    ));
                }
                (s, e)
            }
        };
        let per = match self.per.eval(ecx) {
            Value::Str(s) => Granularity::parse(&s),
            _ => None,
        }
        .ok_or("aggregation query's per value is expected to be one of SECONDS, MINUTES, HOURS, DAYS, MONTHS, YEARS")?;
        if let Some(e) = ecx.error.take() {
            return Err(e);
        }
        Ok((start, end, per))
    }
}

impl AggregationRuntime {
    /// The aggregation's rows for one query event.
    pub fn find(&self, wp: &WithinPer, ecx: &mut EvalCtx<'_>) -> Result<Vec<Vec<Value>>, String> {
        let (start, end, per) = wp.eval(ecx)?;
        let plan = self.plan();
        let Some(pi) = self.levels.iter().position(|l| l.g == per) else {
            return Err(format!(
                "the aggregate values for {} granularity cannot be provided since aggregation definition {} does not contain {} duration",
                per.name(),
                plan.name,
                per.name()
            ));
        };
        let tc = plan.time_col();
        let within = |row: &[Value]| row[tc].as_i64().is_some_and(|t| start <= t && t < end);
        let mut matched: Vec<Vec<Value>> = self.levels[pi]
            .table
            .rows()
            .filter(|r| within(r))
            .map(<[Value]>::to_vec)
            .collect();
        let oldest = self.levels[..=pi]
            .iter()
            .rev()
            .map(|l| l.start)
            .find(|s| *s != -1)
            .unwrap_or(-1);
        if plan.external || (oldest != -1 && end > oldest) {
            let running = self.running(&self.levels[..=pi], per, oldest);
            matched.extend(running.into_iter().filter(|r| within(r)));
        }
        if plan.external {
            let mut merged = Bucket::default();
            let mut key = String::new();
            for r in &matched {
                let keyed = group_key(plan, per, r, &mut key);
                merged.fold(plan, keyed.then_some(key.as_str()), per, r);
            }
            matched = merged.rows(|last| last);
        }
        let mut out = Vec::with_capacity(matched.len());
        for r in &matched {
            let rows: [&[Value]; 1] = [r];
            let mut ocx = EvalCtx::new(&rows, ecx.ts, ecx.now);
            let row: Vec<Value> = plan.outputs.iter().map(|e| e.eval(&mut ocx)).collect();
            if let Some(e) = ocx.error {
                return Err(e);
            }
            out.push(row);
        }
        Ok(out)
    }

    /// The running buckets of `levels` rolled up to `per` (`IncrementalDataAggregator`).
    fn running(&self, levels: &[Level], per: Granularity, oldest: i64) -> Vec<Vec<Value>> {
        let plan = self.plan();
        let root = self.levels[0].g;
        let mut rolled = Bucket::default();
        let mut key = String::new();
        for l in levels.iter().rev().filter(|l| l.processed) {
            for r in l.bucket.rows(|_| l.bucket_ts) {
                if !group_key(plan, l.g, &r, &mut key) {
                    key.clear();
                    key.push_str("null");
                }
                key.push('-');
                key.push_str(&per.start_of(l.bucket_ts).to_string());
                rolled.fold(plan, Some(&key), root, &r);
            }
        }
        let has_last = plan.last_ts_col().is_some();
        rolled.rows(|last| if has_last { last } else { oldest })
    }
}
