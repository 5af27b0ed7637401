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
    /// A join's condition reduced to what stored rows can be checked against (Siddhi's
    /// `AggregationExpressionVisitor`), over the join's slots with the aggregation's slot
    /// holding a table row; with that slot's index.
    pub reduced_on: Option<Box<(Compiled, usize)>>,
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
        self.find_rows(wp, ecx, false)
    }

    /// The rows of a join side: each starts with the range read, `_START` and `_END`, as
    /// Siddhi adds them to the joined event (`select *` shows them).
    pub fn find_for_join(
        &self,
        wp: &WithinPer,
        ecx: &mut EvalCtx<'_>,
    ) -> Result<Vec<Vec<Value>>, String> {
        self.find_rows(wp, ecx, true)
    }

    fn find_rows(
        &self,
        wp: &WithinPer,
        ecx: &mut EvalCtx<'_>,
        with_range: bool,
    ) -> Result<Vec<Vec<Value>>, String> {
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
        // Stored rows must also pass the reduced join condition, read with the aggregation's
        // slot of the join's row holding the stored row.
        let stored = |row: &[Value]| {
            let Some(&(ref cond, agg_slot)) = wp.reduced_on.as_deref() else {
                return true;
            };
            let mut slots = [&[][..]; 2];
            for (k, s) in ecx.rows.iter().take(2).enumerate() {
                slots[k] = if k == agg_slot { row } else { s };
            }
            let mut rcx = EvalCtx::new(&slots, ecx.ts, ecx.now).with_tables(ecx.tables);
            cond.eval_bool(&mut rcx)
        };
        let mut matched: Vec<Vec<Value>> = self.levels[pi]
            .table
            .rows()
            .filter(|r| within(r) && stored(r))
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
            let mut row = Vec::with_capacity(plan.outputs.len() + 2);
            if with_range {
                row.extend([Value::Long(start), Value::Long(end)]);
            }
            row.extend(plan.outputs.iter().map(|e| e.eval(&mut ocx)));
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::plan;
    use crate::runtime::{AppRuntime, NullSink};
    use crate::value::Value;

    const APP: &str = "
        define stream S (k string, v int);
        @purge(enable='false')
        define aggregation A from S select k, sum(v) as total, count() as n
        group by k aggregate every sec ... min;";

    fn runtime() -> AppRuntime {
        let plan = Arc::new(plan::compile_text(APP).expect("valid app"));
        let mut rt = AppRuntime::new(plan.clone()).expect("runnable");
        let s = plan.stream_id("S").expect("S");
        for (ts, k, v) in [(1000, "a", 1), (1500, "a", 3), (2100, "b", 2)] {
            rt.send(s, ts, &[Value::str(k), Value::Int(v)], &mut NullSink);
        }
        rt
    }

    /// On-demand reads see stored and running buckets alike, then `on` and the selector.
    #[test]
    fn on_demand_queries_read_aggregations() {
        let mut rt = runtime();
        let all = rt
            .query("from A within 0L, 99999999999L per 'seconds' select AGG_TIMESTAMP, k, total")
            .expect("runs");
        assert_eq!(
            all.rows,
            vec![
                vec![Value::Long(1000), Value::str("a"), Value::Long(4)],
                vec![Value::Long(2000), Value::str("b"), Value::Long(2)],
            ]
        );
        let b = rt
            .query("from A on k == 'b' within 0L, 99999999999L per 'minutes' select k, n")
            .expect("runs");
        assert_eq!(b.rows, vec![vec![Value::str("b"), Value::Long(1)]]);
        let sum = rt
            .query("from A within '1970-01-01 00:00:**' per 'seconds' select sum(total) as t")
            .expect("runs");
        assert_eq!(sum.rows, vec![vec![Value::Long(6)]]);
        assert!(rt.query("from A select k").is_err());
        assert!(
            rt.query("from A within 0L, 1000L per 'hours' select k")
                .is_err()
        );
    }
}
