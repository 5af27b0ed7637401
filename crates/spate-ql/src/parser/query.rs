//! Queries and partitions: the `from` input (standard stream, join, pattern, sequence or
//! anonymous stream), stream handlers and the partition block.
//!
//! The grammar is ambiguous at the start of `from`: `S[..]` may begin a plain stream, a join or
//! a single-step pattern. The input is read as a stream first; if a pattern-only token follows
//! (`->`, `,`, `and`, `<`, ...) the cursor is put back and the input is read as a pattern.

use super::{PResult, Parser};
use crate::ast::{
    Annotation, AnonymousStream, Filter, JoinInput, JoinKeyword, JoinSide, JoinSource, Partition,
    PartitionRange, PartitionWith, Query, QueryInput, Source, StandardStream, StreamHandler,
    WithinRange,
};
use crate::lexer::{Kw, TokenKind};

impl Parser<'_> {
    /// `from <input> [select ...] [output ...] <output>` after its annotations.
    pub(crate) fn query(&mut self, annotations: Vec<Annotation>) -> PResult<Query> {
        let start = annotations.first().map_or(self.peek().span, |a| a.span);
        self.expect_kw(Kw::From)?;
        if self.keyword_may_name_stream() {
            // `from every select ...`: a pattern over a stream named `select`, or a stream named
            // `every`? Whichever reading parses the whole query wins (the pattern if both do).
            let saved = (self.pos, self.diags.len());
            for as_stream in [false, true] {
                let query = self.query_rest(annotations.clone(), start, Some(as_stream));
                if let Ok(query) = query
                    && self.diags.len() == saved.1
                {
                    return Ok(query);
                }
                self.pos = saved.0;
                self.diags.truncate(saved.1);
            }
        }
        self.query_rest(annotations, start, None)
    }

    /// The query after `from`; `as_stream` forces how a leading `every`/`not` is read.
    fn query_rest(
        &mut self,
        annotations: Vec<Annotation>,
        start: crate::span::Span,
        as_stream: Option<bool>,
    ) -> PResult<Query> {
        let input = self.query_input_as(as_stream == Some(true))?;
        let (selector, output_rate) = self.selection()?;
        let output = self.query_output(selector.is_some() || output_rate.is_some())?;
        Ok(Query {
            annotations,
            input,
            selector,
            output_rate,
            output,
            span: self.span_from(start),
        })
    }

    /// The input after `from`.
    pub(crate) fn query_input(&mut self) -> PResult<QueryInput> {
        self.query_input_as(false)
    }

    /// The input after `from`; `force_stream` reads it as a stream or join even when it starts
    /// with `every` or `not`.
    fn query_input_as(&mut self, force_stream: bool) -> PResult<QueryInput> {
        if self.at_anonymous() {
            return Ok(QueryInput::Anonymous(Box::new(self.anonymous()?)));
        }
        let starts_state = self.at_kw(Kw::Every)
            || self.at_kw(Kw::Not)
            || self.at(TokenKind::LParen)
            || (self.at_name() && self.nth_kind(1) == TokenKind::Assign);
        if force_stream || !starts_state {
            let saved = (self.pos, self.diags.len());
            let first = self.standard_stream(true)?;
            match self.kind() {
                _ if force_stream && !self.at_join() => return Ok(QueryInput::Stream(first)),
                TokenKind::Arrow
                | TokenKind::Comma
                | TokenKind::Lt
                | TokenKind::Plus
                | TokenKind::Star
                | TokenKind::Question
                | TokenKind::Keyword(Kw::And | Kw::Or | Kw::Within) => {
                    // A pattern or sequence after all: read it again as one.
                    self.pos = saved.0;
                    self.diags.truncate(saved.1);
                }
                _ if self.at_join() => return Ok(QueryInput::Join(Box::new(self.join(first)?))),
                _ => return Ok(QueryInput::Stream(first)),
            }
        }
        let (sequence, input) = self.state_input()?;
        Ok(if sequence {
            QueryInput::Sequence(input)
        } else {
            QueryInput::Pattern(input)
        })
    }

    /// Whether a join continues here (after the first stream).
    fn at_join(&self) -> bool {
        is_join_word(self.kind())
    }

    /// Whether a leading `every`/`not` might be a stream's name: it is followed by a word
    /// that starts the rest of a query (`from every select ...`).
    fn keyword_may_name_stream(&self) -> bool {
        let next = self.nth_kind(1);
        (self.at_kw(Kw::Every) || self.at_kw(Kw::Not))
            && (is_join_word(next)
                || matches!(
                    next,
                    TokenKind::LBracket
                        | TokenKind::Semi
                        | TokenKind::Eof
                        | TokenKind::Keyword(
                            Kw::Select
                                | Kw::Output
                                | Kw::Insert
                                | Kw::Delete
                                | Kw::Update
                                | Kw::Return
                        )
                ))
    }

    /// Whether an anonymous stream starts here: `from ...` or `(`s followed by `from`.
    fn at_anonymous(&self) -> bool {
        let mut n = 0;
        while self.nth_kind(n) == TokenKind::LParen {
            n += 1;
        }
        self.nth_is_kw(n, Kw::From)
    }

    /// `(from <input> [select ...] [output ...] return [events])`.
    fn anonymous(&mut self) -> PResult<AnonymousStream> {
        self.nested_weighted(8, |p| {
            if p.eat(TokenKind::LParen).is_some() {
                let inner = p.anonymous()?;
                p.expect(TokenKind::RParen)?;
                return Ok(inner);
            }
            let start = p.expect_kw(Kw::From)?;
            let input = p.query_input()?;
            let (selector, output_rate) = p.selection()?;
            if p.eat_kw(Kw::Return).is_none() {
                return Err(p.expected("`return` to end the inner query"));
            }
            let event_type = p.output_event_type()?;
            Ok(AnonymousStream {
                input,
                selector,
                output_rate,
                event_type,
                span: p.span_from(start),
            })
        })
    }

    /// `(#|!)? name`.
    pub(crate) fn source(&mut self) -> PResult<Source> {
        let start = self.peek().span;
        let kind = self.source_kind();
        let id = self.name("a stream name")?;
        Ok(Source {
            kind,
            id,
            span: self.span_from(start),
        })
    }

    /// A source with filters, stream functions and (if `allow_window`) one window.
    pub(crate) fn standard_stream(&mut self, allow_window: bool) -> PResult<StandardStream> {
        let start = self.peek().span;
        let source = self.source()?;
        let mut handlers = Vec::new();
        loop {
            let hstart = self.peek().span;
            let hash = match self.kind() {
                TokenKind::LBracket => false,
                TokenKind::Hash => true,
                _ => break,
            };
            if hash && self.nth_kind(1) != TokenKind::LBracket {
                self.bump();
                if self.at_kw(Kw::Window) && self.nth_kind(1) == TokenKind::Dot {
                    let wstart = self.bump().span;
                    self.bump();
                    let call = self.call()?;
                    if !allow_window {
                        let span = self.span_from(wstart);
                        self.error(span, "a window is not allowed here").help = Some(
                            "patterns and sequences take filters and stream functions only"
                                .to_string(),
                        );
                    } else if handlers
                        .iter()
                        .any(|h| matches!(h, StreamHandler::Window(_)))
                    {
                        let span = self.span_from(wstart);
                        self.error(span, "a stream can have only one window");
                    }
                    handlers.push(StreamHandler::Window(call));
                } else {
                    handlers.push(StreamHandler::Function(self.call()?));
                }
                continue;
            }
            if hash {
                self.bump();
            }
            self.bump();
            let condition = self.expr()?;
            if !self.at(TokenKind::RBracket) {
                return Err(self.expected("`]` to close the filter"));
            }
            self.bump();
            handlers.push(StreamHandler::Filter(Filter {
                condition,
                hash,
                span: self.span_from(hstart),
            }));
        }
        Ok(StandardStream {
            source,
            handlers,
            span: self.span_from(start),
        })
    }

    /// A source with filters and stream functions, as in patterns.
    pub(crate) fn basic_source(&mut self) -> PResult<StandardStream> {
        self.standard_stream(false)
    }

    /// The rest of a join after its left stream.
    fn join(&mut self, left_stream: StandardStream) -> PResult<JoinInput> {
        let start = left_stream.span;
        let left = self.join_source_rest(left_stream)?;
        let mut unidirectional = None;
        if self.eat_kw(Kw::Unidirectional).is_some() {
            unidirectional = Some(JoinSide::Left);
        }
        let keyword = self.join_keyword()?;
        let right_stream = self.standard_stream(true)?;
        let right = self.join_source_rest(right_stream)?;
        if let Some(span) = self.eat_kw(Kw::Unidirectional) {
            if unidirectional.is_some() {
                self.error(span, "only one side of a join can be `unidirectional`");
            }
            unidirectional = Some(JoinSide::Right);
        }
        let on = self.keyword_expr(Kw::On)?;
        let (within, per) = self.within_per()?;
        Ok(JoinInput {
            left,
            keyword,
            right,
            unidirectional,
            on,
            within,
            per,
            span: self.span_from(start),
        })
    }

    /// `within a[, b] per x`, which the grammar only accepts together.
    pub(crate) fn within_per(
        &mut self,
    ) -> PResult<(Option<WithinRange>, Option<crate::ast::Expr>)> {
        let Some(start) = self.eat_kw(Kw::Within) else {
            return Ok((None, None));
        };
        let first = self.expr()?;
        let end = if self.eat(TokenKind::Comma).is_some() {
            Some(self.expr()?)
        } else {
            None
        };
        let within = WithinRange {
            start: first,
            end,
            span: self.span_from(start),
        };
        self.expect_kw(Kw::Per)?;
        let per = self.expr()?;
        Ok((Some(within), Some(per)))
    }

    /// Checks a join side (nothing after its window) and reads its `as alias`.
    fn join_source_rest(&mut self, stream: StandardStream) -> PResult<JoinSource> {
        let window_at = stream
            .handlers
            .iter()
            .position(|h| matches!(h, StreamHandler::Window(_)));
        if let Some(i) = window_at
            && i + 1 < stream.handlers.len()
        {
            let span = stream.span;
            self.error(
                span,
                "a join side cannot have filters or functions after its window",
            );
        }
        let alias = if self.eat_kw(Kw::As).is_some() {
            Some(self.name("an alias")?)
        } else {
            None
        };
        let span = self.span_from(stream.span);
        Ok(JoinSource {
            stream,
            alias,
            span,
        })
    }

    fn join_keyword(&mut self) -> PResult<JoinKeyword> {
        let outer_join = |p: &mut Self| -> PResult<()> {
            p.expect_kw(Kw::Outer)?;
            p.expect_kw(Kw::Join)?;
            Ok(())
        };
        let keyword = match self.kind() {
            TokenKind::Keyword(Kw::Join) => {
                self.bump();
                JoinKeyword::Join
            }
            TokenKind::Keyword(Kw::Inner) => {
                self.bump();
                self.expect_kw(Kw::Join)?;
                JoinKeyword::InnerJoin
            }
            TokenKind::Keyword(Kw::Outer) => {
                self.bump();
                self.expect_kw(Kw::Join)?;
                JoinKeyword::OuterJoin
            }
            TokenKind::Keyword(Kw::Left) => {
                self.bump();
                outer_join(self)?;
                JoinKeyword::LeftOuterJoin
            }
            TokenKind::Keyword(Kw::Right) => {
                self.bump();
                outer_join(self)?;
                JoinKeyword::RightOuterJoin
            }
            TokenKind::Keyword(Kw::Full) => {
                self.bump();
                outer_join(self)?;
                JoinKeyword::FullOuterJoin
            }
            _ => {
                return Err(self.expected(
                    "`join`, `inner join`, `left outer join`, `right outer join`, \
                     `full outer join` or `outer join`",
                ));
            }
        };
        Ok(keyword)
    }

    /// `partition with (...) begin <queries> end` after its annotations.
    pub(crate) fn partition(&mut self, annotations: Vec<Annotation>) -> PResult<Partition> {
        let start = annotations.first().map_or(self.peek().span, |a| a.span);
        self.expect_kw(Kw::Partition)?;
        self.expect_kw(Kw::With)?;
        self.expect(TokenKind::LParen)?;
        let with = self.comma_list(Self::partition_with)?;
        self.close_list()?;
        self.expect_kw(Kw::Begin)?;
        let queries = self.partition_body();
        if self.eat_kw(Kw::End).is_none() {
            return Err(self.expected("`end` to close the partition"));
        }
        Ok(Partition {
            annotations,
            with,
            queries,
            span: self.span_from(start),
        })
    }

    /// The queries between `begin` and `end`, each error recovered from separately.
    fn partition_body(&mut self) -> Vec<Query> {
        let mut queries = Vec::new();
        loop {
            if self.at_kw(Kw::End) || self.at(TokenKind::Eof) {
                if queries.is_empty() && self.at_kw(Kw::End) {
                    let _ = self.expected("a query");
                }
                return queries;
            }
            let parsed = self.annotations().and_then(|annotations| {
                if self.at_kw(Kw::From) {
                    self.query(annotations)
                } else {
                    Err(self.expected("`from` (a partition holds only queries)"))
                }
            });
            match parsed {
                Ok(query) => {
                    queries.push(query);
                    if self.eat(TokenKind::Semi).is_none() && !self.at_kw(Kw::End) {
                        let _ = self.expected("`;` or `end`");
                        if !self.at_kw(Kw::From) && !self.at(TokenKind::At) {
                            self.recover(true);
                        }
                    }
                }
                Err(_) => self.recover(true),
            }
        }
    }

    /// `expr of S` or `cond as 'label' or ... of S`.
    fn partition_with(&mut self) -> PResult<PartitionWith> {
        let start = self.peek().span;
        let expr = self.expr()?;
        if !self.at_kw(Kw::As) {
            self.expect_kw(Kw::Of)?;
            let stream = self.name("a stream name")?;
            return Ok(PartitionWith::Value {
                expr,
                stream,
                span: self.span_from(start),
            });
        }
        let mut ranges = Vec::new();
        let mut condition = expr;
        loop {
            self.expect_kw(Kw::As)?;
            let label = self.string()?;
            let span = self.span_from(condition.span());
            ranges.push(PartitionRange {
                condition,
                label,
                span,
            });
            if self.eat_kw(Kw::Or).is_none() {
                break;
            }
            condition = self.expr()?;
        }
        self.expect_kw(Kw::Of)?;
        let stream = self.name("a stream name")?;
        Ok(PartitionWith::Range {
            ranges,
            stream,
            span: self.span_from(start),
        })
    }
}

/// Words that continue a join after its first stream.
fn is_join_word(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Keyword(
            Kw::As
                | Kw::Unidirectional
                | Kw::Join
                | Kw::Inner
                | Kw::Left
                | Kw::Right
                | Kw::Full
                | Kw::Outer
        )
    )
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::parse_app;

    const DEFS: &str = "define stream S (a int, b string); define stream T (a int);";

    fn query(q: &str) -> Query {
        let app = parse_app(&format!("{DEFS} {q};")).unwrap_or_else(|e| panic!("{q}: {e:?}"));
        match app.elements.into_iter().next() {
            Some(ExecutionElement::Query(q)) => q,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn standard_stream_handlers_in_order() {
        let q = query("from S[a > 1]#str:f(b)#window.length(5)#[a < 9] select * insert into O");
        let QueryInput::Stream(s) = q.input else {
            panic!()
        };
        assert!(matches!(
            s.handlers[0],
            StreamHandler::Filter(Filter { hash: false, .. })
        ));
        assert!(matches!(&s.handlers[1], StreamHandler::Function(f) if f.namespace.is_some()));
        assert!(matches!(s.handlers[2], StreamHandler::Window(_)));
        assert!(matches!(
            s.handlers[3],
            StreamHandler::Filter(Filter { hash: true, .. })
        ));
    }

    #[test]
    fn joins() {
        let q = query(
            "from S#window.length(1) as s unidirectional left outer join T as t on s.a == t.a \
             select s.a insert into O",
        );
        let QueryInput::Join(j) = q.input else {
            panic!()
        };
        assert_eq!(j.keyword, JoinKeyword::LeftOuterJoin);
        assert_eq!(j.unidirectional, Some(JoinSide::Left));
        assert_eq!(j.left.alias.unwrap().name, "s");
        let q = query("from S join T#window.time(1 min) unidirectional select * insert into O");
        let QueryInput::Join(j) = q.input else {
            panic!()
        };
        assert_eq!(j.unidirectional, Some(JoinSide::Right));
        assert!(j.on.is_none());
    }

    #[test]
    fn keywords_as_stream_names() {
        let app = parse_app(
            "define stream every (a int); define stream select (a int);\
             from every select a insert into O; from select[a > 1] select a insert into O;\
             from every as e join select as s on e.a == s.a select e.a insert into O",
        )
        .unwrap();
        assert_eq!(app.elements.len(), 3);
        let ExecutionElement::Query(q) = &app.elements[0] else {
            panic!()
        };
        assert!(matches!(&q.input, QueryInput::Stream(s) if s.source.id.name == "every"));
    }

    #[test]
    fn anonymous_streams_and_partitions() {
        let q = query("from (from S select a return) select a insert into O");
        assert!(matches!(q.input, QueryInput::Anonymous(_)));
        let app = parse_app(&format!(
            "{DEFS} partition with (b of S, a < 10 as 'low' or a >= 10 as 'high' of T) begin \
             from S select a insert into #I; @info(name='x') from #I select a insert into O; end;"
        ))
        .unwrap();
        let ExecutionElement::Partition(p) = &app.elements[0] else {
            panic!()
        };
        assert_eq!(p.queries.len(), 2);
        assert!(matches!(&p.with[1], PartitionWith::Range { ranges, .. } if ranges.len() == 2));
    }
}
