//! Aggregate functions (`sum`, `count`, `avg`, ...): an explicit registry of factories, each in
//! its own file, creating one state per group.
//!
//! States are incremental: `add` on a current event, `remove` on an expired one, `reset` when a
//! batch window starts a new batch. Each returns the aggregate's value after the change, which is
//! what Siddhi's selector reads. The algorithms follow Siddhi 5.1.7's, including where their
//! results are observable quirks (the min/max deque, the union-set counter).

use std::fmt;

use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

mod avg;
mod count;
mod distinct_count;
mod forever;
mod logical;
mod min_max;
mod std_dev;
mod sum;
mod union_set;

/// How the query's window delivers events, which decides whether aggregators must prepare for
/// arbitrary removals (Siddhi's `ProcessingMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessingMode {
    /// No window or a batch window: values are only removed by a reset.
    Batch,
    /// A sliding window: values leave one by one.
    Slide,
    /// A batch window that streams current events (`lengthBatch(n, true)`).
    Reset,
}

impl ProcessingMode {
    /// The mode of a chain of stream processors (sliding wins over reset over batch).
    pub fn combine(self, next: ProcessingMode) -> ProcessingMode {
        use ProcessingMode::*;
        match (self, next) {
            (Slide, _) | (_, Slide) => Slide,
            (Reset, _) | (_, Reset) => Reset,
            _ => Batch,
        }
    }
}

/// Everything an aggregator needs to know when it is compiled.
#[derive(Clone, Copy, Debug)]
pub struct AggregatorContext {
    pub mode: ProcessingMode,
    /// The query emits expired events, so removals can happen outside a sliding window.
    pub output_expects_expired: bool,
}

impl AggregatorContext {
    /// Siddhi's `trackFutureStates`: keep enough history to answer after any removal.
    pub fn tracks_removals(self) -> bool {
        self.mode == ProcessingMode::Slide || self.output_expects_expired
    }
}

/// The state of one aggregate for one group.
pub trait AggregatorState: Send + fmt::Debug {
    fn add(&mut self, v: &Value) -> Value;
    fn remove(&mut self, v: &Value) -> Value;
    fn reset(&mut self) -> Value;
    /// Nothing left worth keeping: a group whose states all say so can be dropped.
    fn can_destroy(&self) -> bool;
    fn snapshot(&self, w: &mut StateWriter);
    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()>;
}

/// Creates states of one aggregate function for given argument types.
pub trait AggregatorFactory: Send + Sync {
    /// The name used in SiddhiQL (case-sensitive, as in Siddhi).
    fn name(&self) -> &'static str;
    /// Checks the argument types; returns the result type or a message for the user.
    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String>;
    fn create(&self, args: &[AttrType], cx: AggregatorContext) -> Box<dyn AggregatorState>;
}

/// Every built-in aggregate function.
pub fn builtins() -> &'static [&'static dyn AggregatorFactory] {
    &[
        &sum::Sum,
        &count::Count,
        &avg::Avg,
        &min_max::Min,
        &min_max::Max,
        &forever::MinForever,
        &forever::MaxForever,
        &distinct_count::DistinctCount,
        &std_dev::StdDev,
        &logical::And,
        &logical::Or,
        &union_set::UnionSet,
    ]
}

/// Looks up a built-in aggregate function by name.
pub fn find(name: &str) -> Option<&'static dyn AggregatorFactory> {
    builtins().iter().copied().find(|f| f.name() == name)
}

/// Checks that there is exactly one argument and returns its type.
pub(crate) fn one_arg(name: &str, args: &[AttrType]) -> Result<AttrType, String> {
    match args {
        [t] => Ok(*t),
        _ => Err(format!(
            "{name}() takes exactly 1 argument, but found {}",
            args.len()
        )),
    }
}

/// Checks for one numeric argument.
pub(crate) fn one_numeric_arg(name: &str, args: &[AttrType]) -> Result<AttrType, String> {
    let t = one_arg(name, args)?;
    match t {
        AttrType::Int | AttrType::Long | AttrType::Float | AttrType::Double => Ok(t),
        other => Err(format!(
            "{name}() is not supported for {} values",
            type_name(other)
        )),
    }
}

pub(crate) fn type_name(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "string",
        AttrType::Int => "int",
        AttrType::Long => "long",
        AttrType::Float => "float",
        AttrType::Double => "double",
        AttrType::Bool => "bool",
        AttrType::Object => "object",
    }
}

/// Java's `a > b` between two values of one numeric class.
pub(crate) fn num_gt(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x > y,
        (Value::Long(x), Value::Long(y)) => x > y,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x > y,
            _ => false,
        },
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Runs a script of operations against a fresh state, snapshotting and restoring into a
    /// second fresh state between every step, and returns the results.
    pub fn run(
        name: &str,
        ty: AttrType,
        cx: AggregatorContext,
        ops: &[(char, Value)],
    ) -> Vec<Value> {
        let f = find(name).expect("aggregator exists");
        let mut state = f.create(&[ty], cx);
        let mut out = Vec::new();
        for (op, v) in ops {
            out.push(match op {
                '+' => state.add(v),
                '-' => state.remove(v),
                _ => state.reset(),
            });
            let mut w = StateWriter::new();
            state.snapshot(&mut w);
            let bytes = w.into_bytes();
            let mut fresh = f.create(&[ty], cx);
            let mut r = StateReader::new(&bytes);
            fresh.restore(&mut r).expect("restores");
            r.finish().expect("consumes all");
            state = fresh;
        }
        out
    }

    pub const SLIDE: AggregatorContext = AggregatorContext {
        mode: ProcessingMode::Slide,
        output_expects_expired: false,
    };
    pub const BATCH: AggregatorContext = AggregatorContext {
        mode: ProcessingMode::Batch,
        output_expects_expired: false,
    };
}
