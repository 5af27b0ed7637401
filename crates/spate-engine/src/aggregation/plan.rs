//! The compiled form of `define aggregation`: how an input event becomes a row of the
//! aggregation's tables, how buckets fold those rows, and how a stored row reads as the
//! aggregation's attributes.
//!
//! Rows of every granularity's table have Siddhi's layout: `AGG_TIMESTAMP` (the bucket start on
//! the app clock), `AGG_EVENT_TIMESTAMP` (with `aggregate by`: the bucket of the event time),
//! the `group by` attributes, other selected attributes, `AGG_LAST_TIMESTAMP` (with
//! `aggregate by` and such attributes), then the base aggregates (`AGG_SUM_x`, `AGG_COUNT`,
//! `AGG_MIN_x`, `AGG_MAX_x`, `AGG_SET_x`).

use std::sync::Arc;

use super::duration::Granularity;
use crate::aggregate::AggregatorFactory;
use crate::compiled::Compiled;
use crate::plan::schema::{Schema, StreamId};
use crate::value::AttrType;

/// How one table column is filled from an input event and folded within a bucket.
pub enum Column {
    /// `AGG_TIMESTAMP`: the app clock when the event arrives; a bucket's start once stored.
    Timestamp,
    /// `AGG_EVENT_TIMESTAMP`: the `aggregate by` value, bucketed by the granularity.
    EventTimestamp(Compiled),
    /// A plain attribute (`group by` or other selected): the latest value in the bucket.
    Variable(Compiled),
    /// `AGG_LAST_TIMESTAMP`: the largest event time seen (decides which plain values win).
    LastTimestamp(Compiled),
    /// A base aggregate: its initial value per event, then the aggregator over the bucket.
    Base {
        init: Compiled,
        factory: &'static dyn AggregatorFactory,
        ty: AttrType,
    },
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Timestamp => f.write_str("Timestamp"),
            Column::EventTimestamp(e) => write!(f, "EventTimestamp({e:?})"),
            Column::Variable(e) => write!(f, "Variable({e:?})"),
            Column::LastTimestamp(e) => write!(f, "LastTimestamp({e:?})"),
            Column::Base { init, factory, ty } => {
                write!(f, "Base({}({init:?}): {ty:?})", factory.name())
            }
        }
    }
}

/// `@purge`: when stored buckets are deleted, on the app clock.
#[derive(Debug, Clone)]
pub struct PurgePlan {
    pub enabled: bool,
    pub interval: i64,
    /// Per granularity of the aggregation (in order): how long rows are kept; none keeps all.
    pub retention: Vec<Option<i64>>,
}

#[derive(Debug)]
pub struct AggregationPlan {
    pub name: String,
    pub source: StreamId,
    /// Filters on the input stream, in order (over the input row).
    pub filters: Vec<Compiled>,
    pub granularities: Vec<Granularity>,
    /// `aggregate by` is given: buckets are also keyed by the event-time bucket.
    pub external: bool,
    /// Columns of the tables.
    pub table_schema: Arc<Schema>,
    pub columns: Vec<Column>,
    /// Table columns of the `group by` attributes.
    pub group_cols: Vec<usize>,
    /// The aggregation's attributes (`AGG_TIMESTAMP`, then the selection) over a table row.
    pub outputs: Vec<Compiled>,
    pub schema: Arc<Schema>,
    pub purge: PurgePlan,
}

impl AggregationPlan {
    /// The column a query's `within` compares with: the event-time bucket with `aggregate
    /// by`, else the bucket start.
    pub fn time_col(&self) -> usize {
        usize::from(self.external)
    }

    /// Columns that make up the primary key of the tables.
    pub fn key_cols(&self) -> Vec<usize> {
        let mut cols = vec![0];
        if self.external {
            cols.push(1);
        }
        cols.extend(&self.group_cols);
        cols
    }

    pub fn last_ts_col(&self) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| matches!(c, Column::LastTimestamp(_)))
    }
}
