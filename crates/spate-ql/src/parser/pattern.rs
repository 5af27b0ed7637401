//! Pattern (`->`) and sequence (`,`) inputs.
//!
//! The grammar spells out many absent-pattern combinations; this parser reads the general shape
//! (terms joined by `->` or `,`, each an optional `every` over a group or a source) and then
//! checks the rules those combinations encode: `and`/`or` join exactly two elements, `not S`
//! needs `for <time>` unless it is paired with a stream by `and`, `+ * ?` belong to sequences,
//! and a sequence's `every` may only start it. Chains are flattened into one
//! [`StateElement::Next`]; parenthesised groups under `every` stay as [`StateElement::Every`].

use super::{PResult, Parser};
use crate::ast::{
    AbsentStateElement, LogicalOp, Quantifier, StateElement, StateInput, StreamStateElement,
};
use crate::lexer::{Kw, TokenKind};

/// Which separators a chain used (at any depth).
#[derive(Default)]
struct Separators {
    arrow: bool,
    comma: bool,
}

impl Parser<'_> {
    /// A pattern or sequence input with its optional `within`; returns whether it is a
    /// sequence.
    pub(crate) fn state_input(&mut self) -> PResult<(bool, StateInput)> {
        let start = self.peek().span;
        // Siddhi's grammar starts a sequence with a plain element (`every` optional), never a
        // parenthesised group; patterns may start with one.
        let opens_with_group = self.at(TokenKind::LParen)
            || (self.at_kw(Kw::Every) && self.nth_kind(1) == TokenKind::LParen);
        let mut seps = Separators::default();
        let element = self.state_chain(&mut seps)?;
        let within = if self.eat_kw(Kw::Within).is_some() {
            Some(self.time_value()?)
        } else {
            None
        };
        let span = self.span_from(start);
        if seps.arrow && seps.comma {
            self.error(
                span,
                "a query input cannot mix `->` (pattern) and `,` (sequence)",
            );
        }
        let sequence = seps.comma;
        if sequence && opens_with_group {
            self.error(
                span,
                "a sequence cannot start with a parenthesised group; write its first element \
                 without parentheses, e.g. `every e1=S or e2=T, e3=S`",
            );
        }
        if sequence {
            self.check_sequence_every(&element, true);
        } else {
            self.check_pattern_quantifiers(&element);
        }
        Ok((
            sequence,
            StateInput {
                element,
                within,
                span,
            },
        ))
    }

    /// Terms joined by `->` or `,`, flattened into one `Next`.
    fn state_chain(&mut self, seps: &mut Separators) -> PResult<StateElement> {
        let start = self.peek().span;
        let mut steps = Vec::new();
        loop {
            match self.state_term(seps)? {
                StateElement::Next { steps: inner, .. } => steps.extend(inner),
                other => steps.push(other),
            }
            if self.eat(TokenKind::Arrow).is_some() {
                seps.arrow = true;
            } else if self.eat(TokenKind::Comma).is_some() {
                seps.comma = true;
            } else {
                break;
            }
        }
        if steps.len() == 1
            && let Some(only) = steps.pop()
        {
            return Ok(only);
        }
        Ok(StateElement::Next {
            steps,
            span: self.span_from(start),
        })
    }

    /// `every (chain)`, `every source`, `(chain)` or a source.
    fn state_term(&mut self, seps: &mut Separators) -> PResult<StateElement> {
        self.nested(|p| {
            let start = p.peek().span;
            if p.eat_kw(Kw::Every).is_some() {
                let inner = if p.at(TokenKind::LParen) {
                    p.state_group(seps)?
                } else {
                    p.state_source()?
                };
                let span = p.span_from(start);
                return Ok(StateElement::Every {
                    element: Box::new(inner),
                    span,
                });
            }
            if p.at(TokenKind::LParen) {
                return p.state_group(seps);
            }
            p.state_source()
        })
    }

    fn state_group(&mut self, seps: &mut Separators) -> PResult<StateElement> {
        self.expect(TokenKind::LParen)?;
        let inner = self.state_chain(seps)?;
        if !self.at(TokenKind::RParen) {
            return Err(self.expected("`->`, `,` or `)`"));
        }
        self.bump();
        Ok(inner)
    }

    /// One element or two joined by `and`/`or`.
    fn state_source(&mut self) -> PResult<StateElement> {
        let start = self.peek().span;
        let left = self.state_operand()?;
        let op = if self.eat_kw(Kw::And).is_some() {
            LogicalOp::And
        } else if self.eat_kw(Kw::Or).is_some() {
            LogicalOp::Or
        } else {
            if let StateElement::Absent(a) = &left
                && a.for_time.is_none()
            {
                let span = a.span;
                self.error(span, "expected `for <time>` after `not <stream>`")
                    .help = Some(
                    "`not S` without `for` is only allowed together with a stream, as in \
                     `not S and e1=T`"
                        .to_string(),
                );
            }
            return Ok(left);
        };
        let right = self.state_operand()?;
        let span = self.span_from(start);
        self.check_logical(op, &left, &right);
        if self.at_kw(Kw::And) || self.at_kw(Kw::Or) {
            let span = self.peek().span;
            self.error(span, "`and`/`or` in a pattern joins exactly two elements");
            return Err(super::Reported);
        }
        Ok(StateElement::Logical {
            op,
            left: Box::new(left),
            right: Box::new(right),
            span,
        })
    }

    /// `not S[..] [for t]`, or `[e=]S[..]` with an optional count or sequence quantifier.
    fn state_operand(&mut self) -> PResult<StateElement> {
        let start = self.peek().span;
        if self.eat_kw(Kw::Not).is_some() {
            let stream = self.basic_source()?;
            let for_time = if self.eat_kw(Kw::For).is_some() {
                Some(self.time_value()?)
            } else {
                None
            };
            let span = self.span_from(start);
            return Ok(StateElement::Absent(AbsentStateElement {
                stream,
                for_time,
                span,
            }));
        }
        let event_ref = if self.at_name() && self.nth_kind(1) == TokenKind::Assign {
            let name = self.name("an event name")?;
            self.bump();
            Some(name)
        } else {
            None
        };
        let stream = self.basic_source()?;
        let element = StreamStateElement {
            event_ref,
            stream,
            span: self.span_from(start),
        };
        let quantifier = match self.kind() {
            TokenKind::Lt => self.collect()?,
            TokenKind::Plus => {
                self.bump();
                Quantifier::OneOrMore
            }
            TokenKind::Star => {
                self.bump();
                Quantifier::ZeroOrMore
            }
            TokenKind::Question => {
                self.bump();
                Quantifier::ZeroOrOne
            }
            _ => return Ok(StateElement::Stream(element)),
        };
        let span = self.span_from(start);
        Ok(StateElement::Count {
            element,
            quantifier,
            span,
        })
    }

    /// `<n:m>`, `<n:>`, `<:m>` or `<n>`.
    fn collect(&mut self) -> PResult<Quantifier> {
        self.expect(TokenKind::Lt)?;
        let quantifier = if self.eat(TokenKind::Colon).is_some() {
            let max = self.small_int("a count")?;
            Quantifier::Collect {
                min: None,
                max: Some(max),
                exact: false,
            }
        } else {
            let min = self.small_int("a count such as `2:5`")?;
            if self.eat(TokenKind::Colon).is_some() {
                let max = if self.at(TokenKind::Int) {
                    Some(self.small_int("a count")?)
                } else {
                    None
                };
                Quantifier::Collect {
                    min: Some(min),
                    max,
                    exact: false,
                }
            } else {
                Quantifier::Collect {
                    min: Some(min),
                    max: Some(min),
                    exact: true,
                }
            }
        };
        self.expect(TokenKind::Gt)?;
        Ok(quantifier)
    }

    /// The grammar's combinations of `and`/`or` operands.
    fn check_logical(&mut self, op: LogicalOp, left: &StateElement, right: &StateElement) {
        for side in [left, right] {
            if let StateElement::Count { span, .. } = side {
                let span = *span;
                self.error(span, "a counted element cannot be joined with `and`/`or`");
            }
        }
        let bare_absent = |e: &StateElement| {
            matches!(e, StateElement::Absent(a) if a.for_time.is_none()).then(|| e.span())
        };
        let stream = |e: &StateElement| matches!(e, StateElement::Stream(_));
        for (this, other) in [(left, right), (right, left)] {
            if let Some(span) = bare_absent(this)
                && (op == LogicalOp::Or || !stream(other))
            {
                self.error(span, "expected `for <time>` after `not <stream>`")
                    .help = Some(
                    "`not S` without `for` is only allowed as `not S and <stream>`".to_string(),
                );
            }
        }
    }

    /// Patterns take counts `<n:m>` but not the sequence quantifiers `+ * ?`.
    fn check_pattern_quantifiers(&mut self, element: &StateElement) {
        match element {
            StateElement::Count {
                quantifier, span, ..
            } => {
                if !matches!(quantifier, Quantifier::Collect { .. }) {
                    let span = *span;
                    self.error(span, "`+`, `*` and `?` are only allowed in sequences")
                        .help = Some("use a count such as `<1:>` in a pattern".to_string());
                }
            }
            StateElement::Logical { left, right, .. } => {
                self.check_pattern_quantifiers(left);
                self.check_pattern_quantifiers(right);
            }
            StateElement::Next { steps, .. } => {
                for step in steps {
                    self.check_pattern_quantifiers(step);
                }
            }
            StateElement::Every { element, .. } => self.check_pattern_quantifiers(element),
            StateElement::Stream(_) | StateElement::Absent(_) => {}
        }
    }

    /// In a sequence `every` may only apply to its first element (not to a group).
    fn check_sequence_every(&mut self, element: &StateElement, first: bool) {
        match element {
            StateElement::Every {
                element: inner,
                span,
            } if !first
                || matches!(
                    **inner,
                    StateElement::Next { .. } | StateElement::Every { .. }
                ) =>
            {
                let span = *span;
                self.error(
                    span,
                    "in a sequence, `every` may only start it, on one element",
                );
            }
            StateElement::Next { steps, .. } => {
                for (i, step) in steps.iter().enumerate() {
                    self.check_sequence_every(step, first && i == 0);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::parse_app;

    fn input(query: &str) -> QueryInput {
        let text = format!("define stream S (a int); define stream T (a int); {query};");
        let app = parse_app(&text).unwrap_or_else(|e| panic!("{query}: {e:?}"));
        match app.elements.into_iter().next() {
            Some(ExecutionElement::Query(q)) => q.input,
            other => panic!("{other:?}"),
        }
    }

    fn rejects(query: &str) {
        let text = format!("define stream S (a int); {query};");
        assert!(parse_app(&text).is_err(), "{query} should be rejected");
    }

    #[test]
    fn chains_flatten_and_every_groups_stay() {
        match input(
            "from every (e1=S -> e2=T) -> e3=S -> (e4=T -> e5=S) within 5 sec select * insert into O",
        ) {
            QueryInput::Pattern(StateInput {
                element: StateElement::Next { steps, .. },
                within,
                ..
            }) => {
                assert_eq!(steps.len(), 4);
                assert!(matches!(&steps[0], StateElement::Every { element, .. }
                    if matches!(**element, StateElement::Next { .. })));
                assert_eq!(within.unwrap().millis, 5000);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pattern_or_sequence_or_stream() {
        assert!(matches!(
            input("from e1=S select * insert into O"),
            QueryInput::Pattern(_)
        ));
        assert!(matches!(
            input("from S<2:5> select * insert into O"),
            QueryInput::Pattern(_)
        ));
        assert!(matches!(
            input("from S and T select * insert into O"),
            QueryInput::Pattern(_)
        ));
        assert!(matches!(
            input("from every e1=S, e2=T+ select * insert into O"),
            QueryInput::Sequence(_)
        ));
        assert!(matches!(
            input("from S[a > 1] select * insert into O"),
            QueryInput::Stream(_)
        ));
        assert!(matches!(
            input("from not S and e1=T select * insert into O"),
            QueryInput::Pattern(StateInput {
                element: StateElement::Logical { .. },
                ..
            })
        ));
        match input("from e1=S -> not T[a > e1.a] for 1 sec select * insert into O") {
            QueryInput::Pattern(StateInput {
                element: StateElement::Next { steps, .. },
                ..
            }) => {
                assert!(matches!(&steps[1], StateElement::Absent(a) if a.for_time.is_some()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quantifiers() {
        let QueryInput::Sequence(s) =
            input("from e1=S<2>, e2=S*, e3=S?, e4=S<:3> select * insert into O")
        else {
            panic!()
        };
        let StateElement::Next { steps, .. } = s.element else {
            panic!()
        };
        let q: Vec<Quantifier> = steps
            .iter()
            .map(|s| match s {
                StateElement::Count { quantifier, .. } => *quantifier,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            q[0],
            Quantifier::Collect {
                min: Some(2),
                max: Some(2),
                exact: true
            }
        );
        assert_eq!(q[1], Quantifier::ZeroOrMore);
        assert_eq!(q[2], Quantifier::ZeroOrOne);
        assert_eq!(
            q[3],
            Quantifier::Collect {
                min: None,
                max: Some(3),
                exact: false
            }
        );
    }

    #[test]
    fn invalid_shapes_are_rejected() {
        rejects("from e1=S and e2=S and e3=S select * insert into O");
        rejects("from e1=S+ select * insert into O");
        rejects("from e1=S -> e2=S, e3=S select * insert into O");
        rejects("from every (e1=S, e2=S) select * insert into O");
        rejects("from every (e1=S or e2=S), e3=S select * insert into O");
        rejects("from (e1=S), e2=S select * insert into O");
        rejects("from not S select * insert into O");
        rejects("from not S or e1=S select * insert into O");
        rejects("from e1=S#window.length(2) -> e2=S select * insert into O");
    }
}
