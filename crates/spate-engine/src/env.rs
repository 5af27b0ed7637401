//! What queries can look into while they run: the app's tables and named windows.

use crate::aggregation::AggregationRuntime;
use crate::named_window::NamedWindowRuntime;
use crate::table::TableRuntime;

/// Read access to the shared elements of an app.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub tables: &'a [TableRuntime],
    pub windows: &'a [NamedWindowRuntime],
    pub aggregations: &'a [AggregationRuntime],
}

impl Env<'_> {
    pub const EMPTY: Env<'static> = Env {
        tables: &[],
        windows: &[],
        aggregations: &[],
    };
}
