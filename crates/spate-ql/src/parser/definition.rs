//! `define stream|table|window|trigger|function|aggregation`.

use super::{PResult, Parser};
use crate::ast::{
    AggregationDef, AggregationTime, Annotation, AttrType, AttributeDef, Definition, Duration,
    FunctionDef, Ident, SourceKind, StreamDef, TableDef, TriggerAt, TriggerDef, WindowDef,
};
use crate::lexer::{Kw, TokenKind};

impl Parser<'_> {
    /// A definition after its annotations.
    pub(crate) fn definition(&mut self, annotations: Vec<Annotation>) -> PResult<Definition> {
        let start = annotations.first().map_or(self.peek().span, |a| a.span);
        self.expect_kw(Kw::Define)?;
        let kind = self.kind();
        if matches!(kind, TokenKind::Keyword(Kw::Trigger | Kw::Function))
            && let Some(first) = annotations.first()
        {
            let span = first.span;
            self.error(
                span,
                "annotations are not allowed on triggers and functions",
            );
        }
        let definition = match kind {
            TokenKind::Keyword(kw @ (Kw::Stream | Kw::Table)) => {
                self.bump();
                let id = self.defined_name()?;
                let attributes = self.attribute_defs()?;
                let span = self.span_from(start);
                if kw == Kw::Stream {
                    Definition::Stream(StreamDef {
                        annotations,
                        id,
                        attributes,
                        span,
                    })
                } else {
                    Definition::Table(TableDef {
                        annotations,
                        id,
                        attributes,
                        span,
                    })
                }
            }
            TokenKind::Keyword(Kw::Window) => {
                self.bump();
                let id = self.defined_name()?;
                let attributes = self.attribute_defs()?;
                let window = self.call()?;
                let output = if self.eat_kw(Kw::Output).is_some() {
                    match self.output_event_type()? {
                        Some(ty) => Some(ty),
                        None => {
                            return Err(
                                self.expected("`current events`, `expired events` or `all events`")
                            );
                        }
                    }
                } else {
                    None
                };
                let span = self.span_from(start);
                Definition::Window(WindowDef {
                    annotations,
                    id,
                    attributes,
                    window,
                    output,
                    span,
                })
            }
            TokenKind::Keyword(Kw::Trigger) => {
                self.bump();
                let id = self.name("a trigger name")?;
                self.expect_kw(Kw::At)?;
                let at = if self.eat_kw(Kw::Every).is_some() {
                    TriggerAt::Every(self.time_value()?)
                } else if matches!(self.kind(), TokenKind::Str(_)) {
                    TriggerAt::Literal(self.string()?)
                } else {
                    return Err(self.expected("`every <time>`, `'start'` or a cron expression"));
                };
                Definition::Trigger(TriggerDef {
                    id,
                    at,
                    span: self.span_from(start),
                })
            }
            TokenKind::Keyword(Kw::Function) => {
                self.bump();
                let name = self.name("a function name")?;
                self.expect(TokenKind::LBracket)?;
                let language = self.name("a language name")?;
                self.expect(TokenKind::RBracket)?;
                self.expect_kw(Kw::Return)?;
                let return_type = self.attr_type()?;
                let token = self.peek();
                if token.kind != TokenKind::Script {
                    return Err(self.expected("the function body in `{ ... }`"));
                }
                self.bump();
                let body = self.text_of(token).to_string();
                let span = self.span_from(start);
                Definition::Function(FunctionDef {
                    name,
                    language,
                    return_type,
                    body,
                    span,
                })
            }
            TokenKind::Keyword(Kw::Aggregation) => {
                self.bump();
                Definition::Aggregation(self.aggregation(annotations, start)?)
            }
            _ => {
                return Err(self.expected(
                    "`stream`, `table`, `window`, `trigger`, `function` or `aggregation`",
                ));
            }
        };
        Ok(definition)
    }

    /// The name of a stream, table or window; `#S`/`!S` cannot be defined.
    fn defined_name(&mut self) -> PResult<Ident> {
        let source = self.source()?;
        if source.kind != SourceKind::Normal {
            let what = if source.kind == SourceKind::Inner {
                "inner"
            } else {
                "fault"
            };
            self.error(source.span, format!("{what} streams cannot be defined"));
        }
        Ok(source.id)
    }

    /// `(name type, ...)`.
    fn attribute_defs(&mut self) -> PResult<Vec<AttributeDef>> {
        self.expect(TokenKind::LParen)?;
        let list = self.comma_list(|p| {
            let name = p.name("an attribute name")?;
            let ty = p.attr_type()?;
            let span = p.span_from(name.span);
            Ok(AttributeDef { name, ty, span })
        })?;
        self.close_list()?;
        Ok(list)
    }

    fn attr_type(&mut self) -> PResult<AttrType> {
        let ty = match self.kind() {
            TokenKind::Keyword(Kw::String) => AttrType::String,
            TokenKind::Keyword(Kw::Int) => AttrType::Int,
            TokenKind::Keyword(Kw::Long) => AttrType::Long,
            TokenKind::Keyword(Kw::Float) => AttrType::Float,
            TokenKind::Keyword(Kw::Double) => AttrType::Double,
            TokenKind::Keyword(Kw::Bool) => AttrType::Bool,
            TokenKind::Keyword(Kw::Object) => AttrType::Object,
            _ => {
                return Err(self.expected(
                    "a type (`string`, `int`, `long`, `float`, `double`, `bool` or `object`)",
                ));
            }
        };
        self.bump();
        Ok(ty)
    }

    /// `aggregation A from S select ... [group by ...] aggregate [by attr] every <durations>`.
    fn aggregation(
        &mut self,
        annotations: Vec<Annotation>,
        start: crate::span::Span,
    ) -> PResult<AggregationDef> {
        let id = self.name("an aggregation name")?;
        self.expect_kw(Kw::From)?;
        let from = self.standard_stream(true)?;
        if !self.at_kw(Kw::Select) {
            return Err(self.expected("`select`"));
        }
        let selector = self.selector()?;
        let extra = [
            selector.having.as_ref().map(|e| e.span()),
            selector.order_by.first().map(|o| o.span),
            selector.limit.as_ref().map(|e| e.span()),
            selector.offset.as_ref().map(|e| e.span()),
        ];
        if let Some(span) = extra.into_iter().flatten().next() {
            self.error(
                span,
                "an aggregation's selection allows only `select` and `group by`",
            );
        }
        if self.eat_kw(Kw::Aggregate).is_none() {
            return Err(self.expected("`aggregate`"));
        }
        let aggregate_by = if self.eat_kw(Kw::By).is_some() {
            Some(self.attribute_ref()?)
        } else {
            None
        };
        self.expect_kw(Kw::Every)?;
        let first = self.duration()?;
        let every = if self.eat(TokenKind::TripleDot).is_some() {
            AggregationTime::Range(first, self.duration()?)
        } else {
            let mut list = vec![first];
            while self.eat(TokenKind::Comma).is_some() {
                list.push(self.duration()?);
            }
            AggregationTime::List(list)
        };
        let span = self.span_from(start);
        Ok(AggregationDef {
            annotations,
            id,
            from,
            selector,
            aggregate_by,
            every,
            span,
        })
    }

    fn duration(&mut self) -> PResult<Duration> {
        let duration = match self.kind() {
            TokenKind::Keyword(Kw::Seconds) => Duration::Seconds,
            TokenKind::Keyword(Kw::Minutes) => Duration::Minutes,
            TokenKind::Keyword(Kw::Hours) => Duration::Hours,
            TokenKind::Keyword(Kw::Days) => Duration::Days,
            TokenKind::Keyword(Kw::Weeks) => Duration::Weeks,
            TokenKind::Keyword(Kw::Months) => Duration::Months,
            TokenKind::Keyword(Kw::Years) => Duration::Years,
            _ => {
                return Err(self.expected(
                    "a duration (`sec`, `min`, `hour`, `day`, `week`, `month` or `year`)",
                ));
            }
        };
        self.bump();
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::parse_app;

    fn defs(text: &str) -> Vec<Definition> {
        parse_app(text)
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .definitions
    }

    #[test]
    fn all_definition_kinds() {
        let d = defs(
            "@store(type='rdbms') define table T (a string, b object);\
             define window W (a int) length(5) output all events;\
             define trigger Tr at every 5 sec;\
             define trigger Tc at '*/5 * * * * ?';\
             define function f[javascript] return int { return {a: 1}.a; };\
             define stream S (a int, ts long);\
             define aggregation A from S select sum(a) as t group by a aggregate by ts every sec ... year;\
             define aggregation B from S select a aggregate every sec, min, hour",
        );
        assert!(matches!(&d[0], Definition::Table(t) if t.annotations.len() == 1));
        assert!(matches!(&d[1], Definition::Window(w) if w.output == Some(OutputEventType::All)));
        assert!(
            matches!(&d[2], Definition::Trigger(t) if matches!(&t.at, TriggerAt::Every(v) if v.millis == 5000))
        );
        assert!(matches!(&d[3], Definition::Trigger(t) if matches!(t.at, TriggerAt::Literal(_))));
        assert!(matches!(&d[4], Definition::Function(f) if f.body == " return {a: 1}.a; "));
        assert!(matches!(&d[6], Definition::Aggregation(a)
            if a.every == AggregationTime::Range(Duration::Seconds, Duration::Years)
                && a.aggregate_by.is_some()));
        assert!(
            matches!(&d[7], Definition::Aggregation(a) if matches!(&a.every, AggregationTime::List(l) if l.len() == 3))
        );
    }

    #[test]
    fn keyword_names_and_reserved_words() {
        let d =
            defs("define stream min (count int, window string, order int, last int, string int)");
        assert!(
            matches!(&d[0], Definition::Stream(s) if s.id.name == "min" && s.attributes.len() == 5)
        );
        assert!(parse_app("define stream S (offset int)").is_err());
        assert!(parse_app("define stream #S (a int)").is_err());
        assert!(parse_app("@foo('x') define trigger T at 'start'").is_err());
    }
}
