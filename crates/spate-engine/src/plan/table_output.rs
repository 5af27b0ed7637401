//! Query outputs that change a table: `delete T on ...`, `update T [set ...] on ...` and
//! `update or insert into T [set ...] on ...`, checked and compiled into table operations.

use std::sync::Arc;

use spate_ql::Diagnostic;
use spate_ql::ast::QueryOutput;

use super::Planner;
use super::expr::{ExprCompiler, Scope, ScopeSlot};
use super::query::OutputTarget;
use super::schema::{EntityKind, Schema, type_name};
use crate::compiled::Compiled;
use crate::expr::Expr;
use crate::table::key_lookup;
use crate::table::ops::{RowMatch, TableOp};

impl Planner {
    /// `delete`/`update`/`update or insert` into a table: the target and its operation.
    ///
    /// As in Siddhi, the `on` condition and `set` values resolve unqualified attributes in the
    /// query output; table attributes are written `T.a`. Without `set`, every output attribute
    /// updates the table attribute of the same name.
    pub(super) fn table_output(
        &mut self,
        output: &QueryOutput,
        out: &Arc<Schema>,
    ) -> Option<(OutputTarget, TableOp)> {
        let (target, set, on) = match output {
            QueryOutput::Delete { target, on, .. } => (target, None, on),
            QueryOutput::Update {
                target, set, on, ..
            }
            | QueryOutput::UpdateOrInsert {
                target, set, on, ..
            } => (target, set.as_deref(), on),
            QueryOutput::Insert { .. } | QueryOutput::Return { .. } => return None,
        };
        let name = &target.id.name;
        let (index, table) = match self.namespace.get(name) {
            Some(e) if e.kind == EntityKind::Table => {
                (e.index, self.tables[e.index as usize].clone())
            }
            Some(e) => {
                let kind = e.kind;
                self.error(
                    target.span,
                    format!("`{name}` is a {kind}; delete and update work on tables"),
                );
                return None;
            }
            None => {
                self.error(target.span, format!("table `{name}` is not defined"));
                return None;
            }
        };
        let upsert = matches!(output, QueryOutput::UpdateOrInsert { .. });
        if upsert && *table.schema != **out {
            self.error(target.span, format!(
                "`update or insert into {name}` needs the query to output exactly the table's attributes {}, but it outputs {}",
                table.schema.describe(), out.describe()
            ));
            return None;
        }
        let scope = Scope {
            slots: vec![
                ScopeSlot {
                    names: vec![name.clone()],
                    schema: &table.schema,
                    label: format!("table `{name}`"),
                },
                ScopeSlot {
                    names: vec![],
                    schema: out,
                    label: "the query output".into(),
                },
            ],
            current: Some(1),
            indexed: None,
            prefer: None,
        };
        let mut diags = Vec::new();
        let mut c = ExprCompiler::new(&scope, &mut diags);
        let cond = c.condition(on, "the `on` condition");
        let mut assignments: Vec<(usize, Compiled)> = Vec::new();
        let mut ok = cond.is_some();
        if matches!(output, QueryOutput::Delete { .. }) {
        } else if let Some(set) = set {
            for s in set {
                let attr = &s.attribute;
                let Some(idx) = table.schema.index_of(&attr.name.name) else {
                    c.diags.push(Diagnostic::validation(
                        attr.span,
                        format!(
                            "table `{name}` has no attribute `{}` to set; it has {}",
                            attr.name.name,
                            table.schema.describe()
                        ),
                    ));
                    ok = false;
                    continue;
                };
                // Siddhi reads only the attribute name of a `set` target: `set S.price = ...`
                // assigns the table's `price` whatever the qualifier says.
                let Some((value, ty)) = c.compile(&s.value) else {
                    ok = false;
                    continue;
                };
                let want = table.schema.types[idx];
                if ty != want {
                    c.diags.push(Diagnostic::validation(
                        s.value.span(),
                        format!(
                            "`{}` is {} in table `{name}`, but this value is {}",
                            attr.name.name,
                            type_name(want),
                            type_name(ty)
                        ),
                    ));
                    ok = false;
                    continue;
                }
                assignments.push((idx, Compiled::new(value)));
            }
        } else {
            for (k, attr) in out.names.iter().enumerate() {
                match table.schema.index_of(attr) {
                    Some(idx) if table.schema.types[idx] == out.types[k] => {
                        assignments.push((
                            idx,
                            Compiled::new(Expr::Attr {
                                slot: 1,
                                idx: k as u16,
                            }),
                        ));
                    }
                    _ => {
                        c.diags.push(Diagnostic::validation(target.span, format!(
                            "the query output attribute `{attr}` ({}) is not an attribute of table `{name}` ({}); add a `set` clause or rename it",
                            type_name(out.types[k]), table.schema.describe()
                        )));
                        ok = false;
                    }
                }
            }
        }
        if let Some(u) = c.unsupported.take() {
            self.unsupported(u.0, u.1);
        }
        self.diags.extend(diags);
        if !ok {
            return None;
        }
        let assignments = crate::table::ops::assignment_order(assignments);
        let cond = cond?;
        let overwrite = table
            .primary_key
            .as_deref()
            .is_some_and(|pk| key_lookup::covers_key(&cond, pk));
        let on = RowMatch {
            key: key_lookup::key_value(&cond, 0, table.primary_key.as_deref()).map(Compiled::new),
            cond: Compiled::new(cond),
        };
        let op = match output {
            QueryOutput::Delete { .. } => TableOp::Delete { on },
            QueryOutput::Update { .. } => TableOp::Update {
                on,
                set: assignments,
            },
            _ => TableOp::UpdateOrInsert {
                on,
                set: assignments,
                overwrite,
            },
        };
        Some((OutputTarget::Table(index), op))
    }
}
