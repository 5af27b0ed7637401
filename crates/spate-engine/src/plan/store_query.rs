//! Compiling on-demand (store) queries against a running app's tables and named windows
//! (Siddhi's `siddhiAppRuntime.query(...)`):
//!
//! - `from T [on cond] [select ...]` finds the rows of a table or named window that satisfy
//!   `cond` and runs them through the selector as one batch (aggregates give one row, or one
//!   per group); without `select` every attribute comes out;
//! - `select ... insert into T`, `[select ...] delete T on ...`, `[select ...] update T [set
//!   ...] on ...` and `select ... update or insert into T [set ...] on ...` run the selector
//!   once over an event with no attributes and apply its row to the table, as a query output
//!   would.
//!
//! As in Siddhi, attributes of the source are written plainly or qualified by its name; an
//! alias after `from T as t` names nothing.

use std::sync::Arc;

use spate_ql::Diagnostic;
use spate_ql::ast::{self, QueryOutput, StoreQueryOutput};

use super::expr::{ExprCompiler, Scope, ScopeSlot};
use super::schema::{EntityKind, Schema};
use super::{AppPlan, OutputTarget, Planner};
use crate::aggregate::{AggregatorContext, ProcessingMode};
use crate::compiled::Compiled;
use crate::query::selector::SelectorPlan;
use crate::table::key_lookup;
use crate::table::ops::TableOp;

/// What an on-demand query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreSource {
    Table(u32),
    /// A named window: the rows a join with it would see.
    Window(u32),
    /// An incremental aggregation, read with the query's `within` and `per`.
    Aggregation(u32),
}

/// What an on-demand query does with its selector's rows.
#[derive(Debug)]
pub enum StoreAction {
    /// Returns them. `key`: `on` is exactly the table's primary key equality, answered from
    /// the key map (see [`crate::table::key_lookup`]).
    Find {
        source: StoreSource,
        on: Option<Compiled>,
        key: Option<Compiled>,
        /// `within ... per ...` of an aggregation source.
        within: Option<Box<crate::aggregation::WithinPer>>,
    },
    /// Applies them to table `table`.
    Change { table: u32, op: TableOp },
}

/// A compiled on-demand query.
#[derive(Debug)]
pub struct StoreQueryPlan {
    pub action: StoreAction,
    pub selector: SelectorPlan,
    /// What the selector outputs (the returned rows of a find).
    pub schema: Arc<Schema>,
    /// Width of the selector's input rows.
    pub input_arity: usize,
}

/// Parses and compiles an on-demand query against `plan`.
pub fn compile_store_query(plan: &AppPlan, text: &str) -> Result<StoreQueryPlan, Vec<Diagnostic>> {
    let q = spate_ql::parse_store_query(text)?;
    let mut p = Planner {
        namespace: plan.namespace.clone(),
        tables: plan.tables.clone(),
        ..Planner::default()
    };
    let compiled = p.store_query(plan, &q);
    if !p.diags.is_empty() {
        return Err(p.diags);
    }
    if let Some((span, what)) = p.unsupported.first() {
        return Err(vec![Diagnostic::unsupported(
            *span,
            format!("{what} are not supported by this version of Spate yet"),
        )]);
    }
    compiled.ok_or_else(|| {
        vec![Diagnostic::validation(
            q.span,
            "the on-demand query cannot run",
        )]
    })
}

impl Planner {
    fn store_query(&mut self, plan: &AppPlan, q: &ast::StoreQuery) -> Option<StoreQueryPlan> {
        let cx = AggregatorContext {
            mode: ProcessingMode::Batch,
            output_expects_expired: false,
        };
        let Some(input) = &q.input else {
            // No `from`: the selector runs once over an event without attributes.
            let scope = Scope {
                slots: Vec::new(),
                current: None,
                indexed: None,
                prefer: None,
            };
            let (selector, schema) =
                self.selector(q.selector.as_ref(), &scope, cx, true, false, q.span)?;
            let schema = Arc::new(schema);
            let (table, op) = self.store_change(&q.output, &schema)?;
            return Some(StoreQueryPlan {
                action: StoreAction::Change { table, op },
                selector,
                schema,
                input_arity: 0,
            });
        };
        let name = &input.source.name;
        let (source, source_schema) = match self.namespace.get(name).cloned() {
            Some(e) if e.kind == EntityKind::Table => (
                StoreSource::Table(e.index),
                self.tables[e.index as usize].schema.clone(),
            ),
            Some(e) if e.kind == EntityKind::Window => (
                StoreSource::Window(e.index),
                plan.windows[e.index as usize].schema.clone(),
            ),
            Some(e) if e.kind == EntityKind::Aggregation => (
                StoreSource::Aggregation(e.index),
                plan.aggregations[e.index as usize].schema.clone(),
            ),
            _ => {
                self.error(
                    input.source.span,
                    format!("`{name}` is neither a table, a named window nor an aggregation"),
                );
                return None;
            }
        };
        let mut within = None;
        if let StoreSource::Aggregation(a) = source {
            let (Some(w), Some(per)) = (&input.within, &input.per) else {
                self.error(
                    input.span,
                    "a query on an aggregation needs `within <start>, <end>` and `per <granularity>`",
                );
                return None;
            };
            within = Some(Box::new(super::input::within_per_plan(
                self,
                w,
                per,
                &Scope::default(),
                a,
            )?));
        } else if input.within.is_some() || input.per.is_some() {
            self.error(
                input.span,
                "`within` and `per` are only allowed when querying an aggregation",
            );
            return None;
        }
        let scope = Scope {
            slots: vec![ScopeSlot {
                names: vec![name.clone()],
                schema: &source_schema,
                label: format!("`{name}`"),
            }],
            current: None,
            indexed: None,
            prefer: None,
        };
        let on = match &input.on {
            None => None,
            Some(cond) => {
                let tables = self.tables.clone();
                let mut diags = Vec::new();
                let compiled = ExprCompiler::new(&scope, &mut diags)
                    .with_tables(&tables)
                    .condition(cond, "the `on` condition");
                self.diags.extend(diags);
                Some(compiled?)
            }
        };
        let key = match (source, &on) {
            (StoreSource::Table(t), Some(cond)) => {
                let pk = self.tables[t as usize].primary_key.as_deref();
                key_lookup::key_value(cond, 0, pk).map(Compiled::new)
            }
            _ => None,
        };
        let on = on.map(Compiled::new);
        let (selector, schema) =
            self.selector(q.selector.as_ref(), &scope, cx, true, false, q.span)?;
        Some(StoreQueryPlan {
            action: StoreAction::Find {
                source,
                on,
                key,
                within,
            },
            selector,
            schema: Arc::new(schema),
            input_arity: source_schema.len(),
        })
    }

    /// The table and operation of an on-demand insert, delete, update or update-or-insert.
    fn store_change(
        &mut self,
        output: &StoreQueryOutput,
        out: &Arc<Schema>,
    ) -> Option<(u32, TableOp)> {
        let as_query_output = match output.clone() {
            StoreQueryOutput::Find => return None,
            StoreQueryOutput::Insert { target, span } => {
                let name = &target.id.name;
                let table = match self.namespace.get(name) {
                    Some(e) if e.kind == EntityKind::Table => e.index,
                    _ => {
                        self.error(
                            span,
                            format!(
                                "on-demand queries insert into tables only; `{name}` is not a table"
                            ),
                        );
                        return None;
                    }
                };
                let want = &self.tables[table as usize].schema;
                if **want != **out {
                    let msg = format!(
                        "the query outputs {} but table `{name}` is {}; names, types and order must match",
                        out.describe(),
                        want.describe()
                    );
                    self.error(span, msg);
                    return None;
                }
                return Some((table, TableOp::Insert));
            }
            StoreQueryOutput::Delete { target, on, span } => QueryOutput::Delete {
                target,
                for_type: None,
                on,
                span,
            },
            StoreQueryOutput::Update {
                target,
                set,
                on,
                span,
            } => QueryOutput::Update {
                target,
                for_type: None,
                set,
                on,
                span,
            },
            StoreQueryOutput::UpdateOrInsert {
                target,
                set,
                on,
                span,
            } => QueryOutput::UpdateOrInsert {
                target,
                for_type: None,
                set,
                on,
                span,
            },
        };
        match self.table_output(&as_query_output, out)? {
            (OutputTarget::Table(t), op) => Some((t, op)),
            _ => None,
        }
    }
}
