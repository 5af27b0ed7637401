//! `partition with (...) begin ... end`: how events of each stream map to partition keys.
//! Each key gets its own copy of every query of the partition (Siddhi's per-key state).

use spate_ql::ast;

use super::expr::{ExprCompiler, Scope, ScopeSlot};
use super::schema::{EntityKind, Entry, StreamId};
use super::{Planner, annotations};
use crate::compiled::Compiled;

/// One way a stream's events find their key.
#[derive(Debug)]
pub enum KeyPlan {
    /// `expr of S`: the key is the value's text; null keys are dropped.
    Value(Compiled),
    /// `cond as 'label'`: events meeting the condition go to the `label` instance.
    Range(Compiled, String),
}

#[derive(Debug)]
pub struct PartitionPlan {
    /// The partition's queries (indices into the plan's queries), in order.
    pub queries: Vec<usize>,
    /// The keyed streams and their key executors, in `with` order.
    pub keyed: Vec<(StreamId, Vec<KeyPlan>)>,
    /// `@purge(enable='true', ...)`: when idle instances are dropped.
    pub purge: Option<PurgePlan>,
}

/// Siddhi's `@purge` on a partition: every `interval_ms` of app time, instances whose key saw
/// no event for longer than `idle_ms` are dropped (a later event of the key starts afresh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurgePlan {
    pub interval_ms: i64,
    pub idle_ms: i64,
}

impl PartitionPlan {
    /// The key executors of `stream`, if the partition keys it.
    pub fn keys_of(&self, stream: StreamId) -> Option<&[KeyPlan]> {
        self.keyed
            .iter()
            .find(|(s, _)| *s == stream)
            .map(|(_, k)| k.as_slice())
    }
}

impl Planner {
    /// Reads `@purge(enable=..., interval=..., idle.period=...)`, with Siddhi's checks.
    pub(crate) fn partition_purge(&mut self, annotations: &[ast::Annotation]) -> Option<PurgePlan> {
        let a = annotations::find(annotations, "purge")?;
        let enabled = match annotations::value(a, "enable") {
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                self.error(
                    a.span,
                    format!("invalid value for enable: {v}; use 'true' or 'false'"),
                );
                return None;
            }
            None => {
                self.error(a.span, "annotation @purge is missing element 'enable'");
                return None;
            }
        };
        let Some(idle) = annotations::value(a, "idle.period") else {
            self.error(a.span, "annotation @purge is missing element 'idle.period'");
            return None;
        };
        let mut read = |text: &str| match annotations::duration_millis(text) {
            Ok(ms) => Some(ms),
            Err(e) => {
                self.error(a.span, format!("@purge: {e}"));
                None
            }
        };
        let idle_ms = read(idle)?;
        // Siddhi's default: every 5 minutes.
        let interval_ms = match annotations::value(a, "interval") {
            Some(text) => read(text)?,
            None => 300_000,
        };
        if interval_ms <= 0 {
            self.error(a.span, "@purge: the interval must be longer than zero");
            return None;
        }
        enabled.then_some(PurgePlan {
            interval_ms,
            idle_ms,
        })
    }

    /// Compiles the `with` clause of a partition.
    pub(crate) fn partition_keys(
        &mut self,
        part: &ast::Partition,
    ) -> Vec<(StreamId, Vec<KeyPlan>)> {
        let mut keyed: Vec<(StreamId, Vec<KeyPlan>)> = Vec::new();
        for w in &part.with {
            let (stream, span) = match w {
                ast::PartitionWith::Value { stream, span, .. }
                | ast::PartitionWith::Range { stream, span, .. } => (stream, *span),
            };
            let Some(Entry {
                kind: EntityKind::Stream,
                index,
                ..
            }) = self.namespace.get(&stream.name).cloned()
            else {
                self.error(
                    stream.span,
                    format!("stream `{}` is not defined", stream.name),
                );
                continue;
            };
            if keyed.iter().any(|(s, _)| *s == index) {
                self.error(
                    span,
                    format!("stream `{}` is partitioned twice", stream.name),
                );
                continue;
            }
            let schema = self.streams[index as usize].schema.clone();
            let scope = Scope {
                slots: vec![ScopeSlot {
                    names: vec![stream.name.clone()],
                    schema: &schema,
                    label: format!("`{}`", stream.name),
                }],
                current: None,
                indexed: None,
                prefer: None,
            };
            let tables = self.tables.clone();
            let mut diags = Vec::new();
            let mut keys = Vec::new();
            match w {
                ast::PartitionWith::Value { expr, .. } => {
                    let mut c = ExprCompiler::new(&scope, &mut diags).with_tables(&tables);
                    if let Some((e, _)) = c.compile(expr) {
                        keys.push(KeyPlan::Value(Compiled::new(e)));
                    }
                }
                ast::PartitionWith::Range { ranges, .. } => {
                    for r in ranges {
                        let mut c = ExprCompiler::new(&scope, &mut diags).with_tables(&tables);
                        if let Some(e) = c.condition(&r.condition, "a range partition condition") {
                            keys.push(KeyPlan::Range(Compiled::new(e), r.label.value.clone()));
                        }
                    }
                }
            }
            self.diags.extend(diags);
            keyed.push((index, keys));
        }
        keyed
    }
}
