//! Selection and output: `select ... group by ... having ... order by ... limit ... offset`,
//! output rates, query outputs (`insert`, `delete`, `update`, `update or insert`, `return`) and
//! on-demand store queries.

use super::{PResult, Parser};
use crate::ast::{
    Expr, Order, OrderByItem, OutputAttribute, OutputEventType, OutputRate, OutputRateType,
    QueryOutput, Selector, SetAssignment, StoreInput, StoreQuery, StoreQueryOutput,
};
use crate::lexer::{Kw, TokenKind};
use crate::span::Span;

impl Parser<'_> {
    /// `select (* | attr, ...) [group by ..] [having ..] [order by ..] [limit ..] [offset ..]`.
    pub(crate) fn selector(&mut self) -> PResult<Selector> {
        let start = self.expect_kw(Kw::Select)?;
        let attributes = if self.eat(TokenKind::Star).is_some() {
            None
        } else {
            Some(self.comma_list(Self::output_attribute)?)
        };
        let mut group_by = Vec::new();
        if self.at_kw(Kw::Group) && self.nth_is_kw(1, Kw::By) {
            self.bump();
            self.bump();
            group_by = self.comma_list(Self::attribute_ref)?;
        }
        let having = self.keyword_expr(Kw::Having)?;
        let mut order_by = Vec::new();
        if self.at_kw(Kw::Order) && self.nth_is_kw(1, Kw::By) {
            self.bump();
            self.bump();
            order_by = self.comma_list(|p| {
                let attribute = p.attribute_ref()?;
                let order = if p.eat_kw(Kw::Asc).is_some() {
                    Some(Order::Asc)
                } else if p.eat_kw(Kw::Desc).is_some() {
                    Some(Order::Desc)
                } else {
                    None
                };
                let span = p.span_from(attribute.span);
                Ok(OrderByItem {
                    attribute,
                    order,
                    span,
                })
            })?;
        }
        let limit = self.keyword_expr(Kw::Limit)?;
        let offset = self.keyword_expr(Kw::Offset)?;
        Ok(Selector {
            attributes,
            group_by,
            having,
            order_by,
            limit,
            offset,
            span: self.span_from(start),
        })
    }

    /// The optional `select ...` and `output ...` of a query.
    pub(crate) fn selection(&mut self) -> PResult<(Option<Selector>, Option<OutputRate>)> {
        let selector = if self.at_kw(Kw::Select) {
            Some(self.selector()?)
        } else {
            None
        };
        let output_rate = if self.at_kw(Kw::Output) {
            Some(self.output_rate()?)
        } else {
            None
        };
        Ok((selector, output_rate))
    }

    /// `expr as name` or a bare attribute reference.
    fn output_attribute(&mut self) -> PResult<OutputAttribute> {
        let expr = self.expr()?;
        let alias = if self.eat_kw(Kw::As).is_some() {
            Some(self.name("a name for the attribute")?)
        } else {
            None
        };
        if alias.is_none() && !matches!(expr, Expr::Attribute(_)) {
            // Not fatal: the rest of the query is still worth checking.
            let span = expr.span();
            self.error(span, "a computed select attribute needs a name")
                .help = Some("add `as <name>`".to_string());
        }
        let span = self.span_from(expr.span());
        Ok(OutputAttribute { expr, alias, span })
    }

    /// `output [all|first|last] every (<time> | N events)` / `output snapshot every <time>`.
    pub(crate) fn output_rate(&mut self) -> PResult<OutputRate> {
        let start = self.expect_kw(Kw::Output)?;
        if self.eat_kw(Kw::Snapshot).is_some() {
            self.expect_kw(Kw::Every)?;
            let time = self.time_value()?;
            return Ok(OutputRate::Snapshot {
                time,
                span: self.span_from(start),
            });
        }
        let rate_type = match self.kind() {
            TokenKind::Keyword(Kw::All) => Some(OutputRateType::All),
            TokenKind::Keyword(Kw::First) => Some(OutputRateType::First),
            TokenKind::Keyword(Kw::Last) => Some(OutputRateType::Last),
            _ => None,
        };
        if rate_type.is_some() {
            self.bump();
        }
        if self.eat_kw(Kw::Every).is_none() {
            let what = if rate_type.is_some() {
                "`every`"
            } else {
                "`every`, `all`, `first`, `last` or `snapshot`"
            };
            return Err(self.expected(what));
        }
        if self.at(TokenKind::Int) && !self.nth_is_kw(1, Kw::Events) {
            if !self.nth_is_time_unit(1) {
                self.bump();
                return Err(self.expected("a time unit such as `sec`, or `events`"));
            }
            let time = self.time_value()?;
            return Ok(OutputRate::Time {
                rate_type,
                time,
                span: self.span_from(start),
            });
        }
        let count = i64::from(self.small_int("a time value or a number of events")?);
        self.expect_kw(Kw::Events)?;
        Ok(OutputRate::Events {
            rate_type,
            count,
            span: self.span_from(start),
        })
    }

    /// `[all|expired|current] events`, if present.
    pub(crate) fn output_event_type(&mut self) -> PResult<Option<OutputEventType>> {
        let ty = match self.kind() {
            TokenKind::Keyword(Kw::All) => OutputEventType::All,
            TokenKind::Keyword(Kw::Expired) => OutputEventType::Expired,
            TokenKind::Keyword(Kw::Current) => OutputEventType::Current,
            TokenKind::Keyword(Kw::Events) => {
                self.bump();
                return Ok(Some(OutputEventType::Current));
            }
            _ => return Ok(None),
        };
        self.bump();
        self.expect_kw(Kw::Events)?;
        Ok(Some(ty))
    }

    /// What a query does with its result.
    pub(crate) fn query_output(&mut self, selected: bool) -> PResult<QueryOutput> {
        let start = self.peek().span;
        match self.kind() {
            TokenKind::Keyword(Kw::Insert) => {
                self.bump();
                let event_type = self.output_event_type()?;
                self.expect_kw(Kw::Into)?;
                let target = self.source()?;
                Ok(QueryOutput::Insert {
                    event_type,
                    target,
                    span: self.span_from(start),
                })
            }
            TokenKind::Keyword(Kw::Delete) => {
                self.bump();
                let target = self.source()?;
                let for_type = self.for_event_type()?;
                let on = self.on_condition()?;
                Ok(QueryOutput::Delete {
                    target,
                    for_type,
                    on,
                    span: self.span_from(start),
                })
            }
            TokenKind::Keyword(Kw::Update) => {
                self.bump();
                let upsert = self.update_or_insert()?;
                let target = self.source()?;
                let for_type = self.for_event_type()?;
                let set = self.set_clause()?;
                let on = self.on_condition()?;
                let span = self.span_from(start);
                Ok(if upsert {
                    QueryOutput::UpdateOrInsert {
                        target,
                        for_type,
                        set,
                        on,
                        span,
                    }
                } else {
                    QueryOutput::Update {
                        target,
                        for_type,
                        set,
                        on,
                        span,
                    }
                })
            }
            TokenKind::Keyword(Kw::Return) => {
                self.bump();
                let event_type = self.output_event_type()?;
                Ok(QueryOutput::Return {
                    event_type,
                    span: self.span_from(start),
                })
            }
            _ if selected => Err(self.expected("`insert`, `delete`, `update` or `return`")),
            _ => Err(self.expected("`select`, `insert`, `delete`, `update` or `return`")),
        }
    }

    /// After `update`: consumes `or insert into` and says whether it was there.
    fn update_or_insert(&mut self) -> PResult<bool> {
        if self.at_kw(Kw::Or) && self.nth_is_kw(1, Kw::Insert) {
            self.bump();
            self.bump();
            self.expect_kw(Kw::Into)?;
            return Ok(true);
        }
        Ok(false)
    }

    fn for_event_type(&mut self) -> PResult<Option<OutputEventType>> {
        if self.eat_kw(Kw::For).is_none() {
            return Ok(None);
        }
        match self.output_event_type()? {
            Some(ty) => Ok(Some(ty)),
            None => Err(self.expected("`current events`, `expired events` or `all events`")),
        }
    }

    fn on_condition(&mut self) -> PResult<Expr> {
        if self.eat_kw(Kw::On).is_none() {
            return Err(self.expected("`on` and a condition"));
        }
        self.expr()
    }

    /// `set T.a = expr, ...`, if present.
    fn set_clause(&mut self) -> PResult<Option<Vec<SetAssignment>>> {
        if self.eat_kw(Kw::Set).is_none() {
            return Ok(None);
        }
        let list = self.comma_list(|p| {
            let attribute = p.attribute_ref()?;
            p.expect(TokenKind::Assign)?;
            let value = p.expr()?;
            let span = p.span_from(attribute.span);
            Ok(SetAssignment {
                attribute,
                value,
                span,
            })
        })?;
        Ok(Some(list))
    }

    /// A whole on-demand query (the grammar's `store_query`).
    pub(crate) fn store_query(&mut self) -> PResult<StoreQuery> {
        let start = self.peek().span;
        if self.eat_kw(Kw::From).is_some() {
            let input = self.store_input()?;
            let selector = if self.at_kw(Kw::Select) {
                Some(self.selector()?)
            } else {
                None
            };
            let span = self.span_from(start);
            return Ok(StoreQuery {
                input: Some(input),
                selector,
                output: StoreQueryOutput::Find,
                span,
            });
        }
        let selector = if self.at_kw(Kw::Select) {
            Some(self.selector()?)
        } else {
            None
        };
        let output = self.store_output(selector.is_some())?;
        Ok(StoreQuery {
            input: None,
            selector,
            output,
            span: self.span_from(start),
        })
    }

    fn store_input(&mut self) -> PResult<StoreInput> {
        let start = self.peek().span;
        let source = self.name("a table, window or aggregation name")?;
        let alias = if self.eat_kw(Kw::As).is_some() {
            Some(self.name("an alias")?)
        } else {
            None
        };
        let on = self.keyword_expr(Kw::On)?;
        let (within, per) = self.within_per()?;
        Ok(StoreInput {
            source,
            alias,
            on,
            within,
            per,
            span: self.span_from(start),
        })
    }

    fn store_output(&mut self, selected: bool) -> PResult<StoreQueryOutput> {
        let start = self.peek().span;
        let needs_select = |p: &mut Self, span: Span, what: &str| {
            if !selected {
                p.error(
                    span,
                    format!("`{what}` in a store query needs a `select` before it"),
                );
            }
        };
        match self.kind() {
            TokenKind::Keyword(Kw::Insert) => {
                let span = self.bump().span;
                needs_select(self, span, "insert");
                self.expect_kw(Kw::Into)?;
                let target = self.source()?;
                Ok(StoreQueryOutput::Insert {
                    target,
                    span: self.span_from(start),
                })
            }
            TokenKind::Keyword(Kw::Delete) => {
                self.bump();
                let target = self.source()?;
                let on = self.on_condition()?;
                Ok(StoreQueryOutput::Delete {
                    target,
                    on,
                    span: self.span_from(start),
                })
            }
            TokenKind::Keyword(Kw::Update) => {
                let span = self.bump().span;
                let upsert = self.update_or_insert()?;
                if upsert {
                    needs_select(self, span, "update or insert");
                }
                let target = self.source()?;
                let set = self.set_clause()?;
                let on = self.on_condition()?;
                let span = self.span_from(start);
                Ok(if upsert {
                    StoreQueryOutput::UpdateOrInsert {
                        target,
                        set,
                        on,
                        span,
                    }
                } else {
                    StoreQueryOutput::Update {
                        target,
                        set,
                        on,
                        span,
                    }
                })
            }
            _ if selected => Err(self.expected("`insert`, `delete` or `update`")),
            _ => Err(self.expected("`from`, `select`, `delete` or `update`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::{parse_app, parse_store_query};

    fn query(q: &str) -> Query {
        let app = parse_app(&format!(
            "define stream S (a int); define table T (a int); {q};"
        ))
        .unwrap_or_else(|e| panic!("{q}: {e:?}"));
        match app.elements.into_iter().next() {
            Some(ExecutionElement::Query(q)) => q,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn selector_clauses() {
        let q = query(
            "from S select a, count() as c group by a having c > 1 order by a desc, c \
             limit 5 offset 2 insert into O",
        );
        let s = q.selector.unwrap();
        assert_eq!(s.attributes.unwrap().len(), 2);
        assert_eq!(s.group_by.len(), 1);
        assert_eq!(s.order_by[0].order, Some(Order::Desc));
        assert_eq!(s.order_by[1].order, None);
        assert!(s.limit.is_some() && s.offset.is_some() && s.having.is_some());
    }

    #[test]
    fn output_rates() {
        let q = query("from S select a output last every 5 events insert into O");
        assert!(matches!(
            q.output_rate,
            Some(OutputRate::Events { count: 5, .. })
        ));
        let q = query("from S select a output every 1 min insert all events into O");
        assert!(matches!(
            q.output_rate,
            Some(OutputRate::Time {
                rate_type: None,
                ..
            })
        ));
        assert!(matches!(
            q.output,
            QueryOutput::Insert {
                event_type: Some(OutputEventType::All),
                ..
            }
        ));
        let q = query("from S select a output snapshot every 2 sec insert into O");
        assert!(matches!(q.output_rate, Some(OutputRate::Snapshot { .. })));
    }

    #[test]
    fn table_outputs() {
        let q = query("from S update or insert into T for all events set T.a = a on T.a == a");
        assert!(matches!(
            q.output,
            QueryOutput::UpdateOrInsert { set: Some(_), .. }
        ));
        let q = query("from S delete T for expired events on T.a == a");
        assert!(matches!(
            q.output,
            QueryOutput::Delete {
                for_type: Some(OutputEventType::Expired),
                ..
            }
        ));
        let q = query("from S update T on T.a == a");
        assert!(matches!(q.output, QueryOutput::Update { set: None, .. }));
        let q = query("from S return");
        assert!(matches!(
            q.output,
            QueryOutput::Return {
                event_type: None,
                ..
            }
        ));
    }

    #[test]
    fn store_queries() {
        let q = parse_store_query("from T on a > 1 select a limit 2;").unwrap();
        assert!(q.input.is_some() && q.output == StoreQueryOutput::Find);
        let q = parse_store_query("select 1 as a update or insert into T set T.a = a on T.a == a")
            .unwrap();
        assert!(matches!(q.output, StoreQueryOutput::UpdateOrInsert { .. }));
        let q = parse_store_query("delete T on T.a == 1").unwrap();
        assert!(q.selector.is_none());
        let q = parse_store_query(
            "from A within '2020-01-01 00:00:00', '2021-01-01 00:00:00' per 'days' select *",
        )
        .unwrap();
        assert!(q.input.unwrap().per.is_some());
        assert!(parse_store_query("insert into T").is_err());
        assert!(parse_store_query("from A within 1 select *").is_err());
    }
}
