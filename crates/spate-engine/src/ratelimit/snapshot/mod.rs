//! `output snapshot every <time>`: at each tick, what the query's result "is" now (Siddhi's
//! `*PerSnapshotOutputRateLimiter`s, chosen as `WrappedSnapshotOutputRateLimiter` chooses
//! them, from whether the query has a window, a `group by`, and which outputs are aggregates):
//!
//! | window | group by | aggregates | variant                                   |
//! |--------|----------|------------|-------------------------------------------|
//! | no     | no       | any        | the last current event                    |
//! | no     | yes      | any        | the last current event of every group     |
//! | yes    | any      | none       | every current event still in the window   |
//! | yes    | no       | all        | the last current event, forgotten on any other event |
//! | yes    | no       | some       | events in the window, aggregates replaced by the latest |
//! | yes    | yes      | some       | the same, one event per group             |
//! | yes    | yes      | all        | the last event of every group still in the window |
//!
//! Every event reaching the limiter first checks the schedule: an event at or after the
//! scheduled time emits the snapshot *before* the event is applied, like a tick (Siddhi's
//! `tryFlushEvents`). Emitted events are copies: they keep their own timestamps. The query
//! must `insert all events`, so expired events arrive here and move the snapshot; the
//! selector does not collapse batches for these queries.
//!
//! Ticks follow `ticking.rs`: on the app clock, where Siddhi 5.1.7 uses the wall clock
//! (`docs/divergences.md`).

use super::RateLimiter;
use super::latest::{Keep, Latest, LatestPerGroup};
use super::ticking::ticking;

mod windowed;

#[cfg(test)]
pub(crate) use windowed::same_apart_from_aggregates;

pub(super) fn instantiate(
    period: i64,
    windowed: bool,
    aggregates: &[usize],
    arity: usize,
    key_arity: usize,
) -> Box<dyn RateLimiter> {
    let grouped = key_arity > 0;
    let all_aggregates = aggregates.len() == arity;
    match (windowed, grouped) {
        (false, false) => ticking(period, Latest::new(Keep::Current, arity)),
        (false, true) => ticking(period, LatestPerGroup::new(Keep::Current, arity, key_arity)),
        (true, _) if aggregates.is_empty() => ticking(period, windowed::InWindow::new(arity)),
        (true, false) if all_aggregates => {
            ticking(period, Latest::new(Keep::CurrentUntilOther, arity))
        }
        (true, true) if all_aggregates => ticking(
            period,
            windowed::LastInWindowPerGroup::new(arity, key_arity),
        ),
        (true, _) => ticking(
            period,
            windowed::Aggregated::new(arity, key_arity, aggregates.to_vec()),
        ),
    }
}
