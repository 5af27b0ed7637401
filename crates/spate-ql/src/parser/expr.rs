//! Expressions: a Pratt parser over the grammar's `math_operation`, plus literals, time values,
//! attribute and stream references and function calls.
//!
//! Precedence, high to low: `not` (prefix), `* / %`, `+ -`, `< <= > >=`, `== !=`, `in T`,
//! `and`, `or`; all binary operators are left-associative. A sign belongs to a numeric literal
//! and only in operand position (`a - -5`); SiddhiQL has no unary minus on other operands.

use super::{MAX_EXPR_DEPTH, PResult, Parser, Reported};
use crate::ast::{
    AttributeRef, BinaryOp, EventIndex, Expr, FunctionCall, IN_PRECEDENCE, Literal, Qualifier,
    SourceKind, TimeUnit, TimeValue,
};
use crate::lexer::{Kw, Token, TokenKind};

impl Parser<'_> {
    /// Parses one expression.
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        Ok(self.expr_bp(0)?.0)
    }

    /// Parses operators binding at least as tightly as `min`; also returns the tree depth so
    /// that long operator chains cannot build a tree too deep to drop or print.
    fn expr_bp(&mut self, min: u8) -> PResult<(Expr, u32)> {
        let (mut lhs, mut depth) = self.unary()?;
        while let Some(op) = self.binary_op() {
            match op {
                None if IN_PRECEDENCE >= min => {
                    self.bump();
                    lhs = self.in_table(lhs)?;
                    depth = self.deeper(depth, 0)?;
                }
                Some(op) if op.precedence() >= min => {
                    self.bump();
                    let (rhs, rhs_depth) = self.expr_bp(op.precedence() + 1)?;
                    depth = self.deeper(depth, rhs_depth)?;
                    lhs = binary(op, lhs, rhs);
                }
                _ => break,
            }
        }
        Ok((lhs, depth))
    }

    /// The binary operator at the cursor: `Some(None)` for `in`, `None` for no operator.
    fn binary_op(&self) -> Option<Option<BinaryOp>> {
        Some(Some(match self.kind() {
            TokenKind::Star => BinaryOp::Mul,
            TokenKind::Slash => BinaryOp::Div,
            TokenKind::Percent => BinaryOp::Mod,
            TokenKind::Plus => BinaryOp::Add,
            TokenKind::Minus => BinaryOp::Sub,
            TokenKind::Gt => BinaryOp::Gt,
            TokenKind::Ge => BinaryOp::Ge,
            TokenKind::Lt => BinaryOp::Lt,
            TokenKind::Le => BinaryOp::Le,
            TokenKind::EqEq => BinaryOp::Eq,
            TokenKind::NotEq => BinaryOp::Ne,
            TokenKind::Keyword(Kw::And) => BinaryOp::And,
            TokenKind::Keyword(Kw::Or) => BinaryOp::Or,
            TokenKind::Keyword(Kw::In) => return Some(None),
            _ => return None,
        }))
    }

    /// `lhs in Table`, after `in`.
    #[inline(never)]
    fn in_table(&mut self, lhs: Expr) -> PResult<Expr> {
        let table = self.name("a table name after `in`")?;
        let span = lhs.span().to(table.span);
        Ok(Expr::In {
            expr: Box::new(lhs),
            table,
            span,
        })
    }

    /// The depth of a node over children of depths `a` and `b`, failing past the limit.
    fn deeper(&mut self, a: u32, b: u32) -> PResult<u32> {
        let depth = a.max(b) + 1;
        if depth > MAX_EXPR_DEPTH {
            let span = self.peek().span;
            self.error(
                span,
                format!("expression nested too deeply (more than {MAX_EXPR_DEPTH} levels)"),
            );
            return Err(Reported);
        }
        Ok(depth)
    }

    /// An operand: `not x`, a parenthesised expression, a literal, a reference or a call.
    fn unary(&mut self) -> PResult<(Expr, u32)> {
        self.nested(|p| p.unary_inner())
    }

    fn unary_inner(&mut self) -> PResult<(Expr, u32)> {
        // Only `not` and `(` recurse; everything else is read by `atom`, whose large frame
        // then stays off the recursion path (debug builds keep every temporary on the stack).
        let token = self.peek();
        match token.kind {
            TokenKind::Keyword(Kw::Not) => {
                self.bump();
                let (operand, depth) = self.unary()?;
                let depth = self.deeper(depth, 0)?;
                Ok((not(token.span, operand), depth))
            }
            TokenKind::LParen => {
                self.bump();
                let inner = self.expr_bp(0)?;
                self.expect(TokenKind::RParen)?;
                Ok(inner)
            }
            _ => {
                self.call_depth = 0;
                let atom = self.atom()?;
                let depth = self.deeper(self.call_depth, 0)?;
                Ok((atom, depth))
            }
        }
    }

    /// A literal, reference or call.
    #[inline(never)]
    fn atom(&mut self) -> PResult<Expr> {
        let token = self.peek();
        match token.kind {
            TokenKind::Minus | TokenKind::Plus => {
                if is_number(self.nth_kind(1)) {
                    self.bump();
                    let number = self.bump();
                    let literal = self.number(number, token.kind == TokenKind::Minus);
                    Ok(Expr::Literal(literal, token.span.to(number.span)))
                } else {
                    let err = self.expected("an expression");
                    if token.kind == TokenKind::Minus {
                        let last = self.diags.len() - 1;
                        self.diags[last].help = Some(
                            "only numbers can be negated; write `0 - x` to negate a value"
                                .to_string(),
                        );
                    }
                    Err(err)
                }
            }
            TokenKind::Int if self.nth_kind(1) == TokenKind::Ident && self.nth_is_unit_typo(1) => {
                let unit = self.nth(1);
                let word = self.text_of(unit);
                self.error(unit.span, format!("`{word}` is not a time unit"))
                    .help = Some(
                    "use `millisec`, `sec`, `min`, `hour`, `day`, `week`, `month` or `year` \
                     (or their long and plural forms)"
                        .to_string(),
                );
                Err(Reported)
            }
            TokenKind::Int if self.nth_is_time_unit(1) => {
                let time = self.time_value()?;
                let span = time.span;
                Ok(Expr::Literal(Literal::Time(time), span))
            }
            kind if is_number(kind) => {
                self.bump();
                Ok(Expr::Literal(self.number(token, false), token.span))
            }
            TokenKind::Str(quote) => {
                self.bump();
                Ok(Expr::Literal(
                    Literal::String(self.string_lit(token, quote)),
                    token.span,
                ))
            }
            TokenKind::Keyword(kw @ (Kw::True | Kw::False)) => {
                self.bump();
                Ok(Expr::Literal(Literal::Bool(kw == Kw::True), token.span))
            }
            TokenKind::Hash | TokenKind::Bang => self.reference(),
            _ if self.at_name() => self.reference(),
            _ => Err(self.expected("an expression")),
        }
    }

    /// The value of a numeric literal token, negated when a `-` preceded it. Out-of-range
    /// values are reported and replaced by zero so parsing can go on.
    fn number(&mut self, token: Token, negative: bool) -> Literal {
        let text = &self.text[token.span.range()];
        match token.kind {
            TokenKind::Int => match self.integer(token, negative) {
                Some(v) if i32::try_from(v).is_ok() => Literal::Int(v as i32),
                Some(_) => {
                    self.error(
                        token.span,
                        format!("integer `{text}` is out of range for int"),
                    )
                    .help = Some(format!("add `L` to make it a long: `{text}L`"));
                    Literal::Int(0)
                }
                None => Literal::Int(0),
            },
            TokenKind::Long => Literal::Long(self.integer(token, negative).unwrap_or(0)),
            TokenKind::Float => {
                let v: f32 = float_text(text).parse().unwrap_or(0.0);
                Literal::Float(if negative { -v } else { v })
            }
            _ => {
                let v: f64 = float_text(text).parse().unwrap_or(0.0);
                Literal::Double(if negative { -v } else { v })
            }
        }
    }

    /// The digits of an INT or LONG token as an `i64`, or a diagnostic when they do not fit.
    fn integer(&mut self, token: Token, negative: bool) -> Option<i64> {
        let text = &self.text[token.span.range()];
        let digits = text.trim_end_matches(['l', 'L']);
        let magnitude: Option<u64> = digits.parse().ok();
        let value = match magnitude {
            Some(m) if negative && m <= 1 << 63 => Some((m as i128).wrapping_neg() as i64),
            Some(m) if !negative => i64::try_from(m).ok(),
            _ => None,
        };
        if value.is_none() {
            self.error(
                token.span,
                format!("number `{text}` is out of range for long"),
            );
        }
        value
    }

    /// An unsigned INT that must fit `u32` (counts, indexes).
    pub(crate) fn small_int(&mut self, what: &str) -> PResult<u32> {
        let token = self.peek();
        if token.kind != TokenKind::Int {
            return Err(self.expected(what));
        }
        self.bump();
        let text = &self.text[token.span.range()];
        match text.parse::<u32>() {
            Ok(v) if v <= i32::MAX as u32 => Ok(v),
            _ => {
                self.error(
                    token.span,
                    format!("integer `{text}` is out of range for int"),
                );
                Ok(0)
            }
        }
    }

    /// Whether the identifier `n` tokens ahead looks like a misspelt time unit (`secs`).
    fn nth_is_unit_typo(&self, n: usize) -> bool {
        const UNITS: [&str; 14] = [
            "millisec",
            "milliseconds",
            "sec",
            "second",
            "seconds",
            "min",
            "minute",
            "minutes",
            "hour",
            "hours",
            "day",
            "week",
            "month",
            "year",
        ];
        let word = self.text_of(self.nth(n)).to_ascii_lowercase();
        word.len() >= 3
            && UNITS
                .iter()
                .any(|unit| super::edit_distance(&word, unit) <= 1 + unit.len() / 6)
    }

    pub(crate) fn nth_is_time_unit(&self, n: usize) -> bool {
        matches!(self.nth_kind(n), TokenKind::Keyword(kw) if time_unit(kw).is_some())
    }

    /// `1 hour 30 min`: parts from the largest unit to the smallest, each at most once.
    pub(crate) fn time_value(&mut self) -> PResult<TimeValue> {
        let start = self.peek().span;
        let mut parts: Vec<(i64, TimeUnit)> = Vec::new();
        let mut millis: i64 = 0;
        while self.at(TokenKind::Int) && self.nth_is_time_unit(1) {
            let number = self.bump();
            let unit_token = self.bump();
            let TokenKind::Keyword(kw) = unit_token.kind else {
                break;
            };
            let Some(unit) = time_unit(kw) else { break };
            let value = self.integer(number, false).unwrap_or(0);
            if let Some(&(_, prev)) = parts.last()
                && unit.millis() >= prev.millis()
            {
                self.error(
                    number.span.to(unit_token.span),
                    "time units must go from the largest to the smallest, each at most once",
                );
            }
            millis = match value
                .checked_mul(unit.millis())
                .and_then(|m| m.checked_add(millis))
            {
                Some(total) => total,
                None => {
                    self.error(number.span.to(unit_token.span), "time value is too large");
                    0
                }
            };
            parts.push((value, unit));
        }
        if parts.is_empty() {
            return Err(self.expected("a time value such as `5 sec`"));
        }
        Ok(TimeValue {
            parts,
            millis,
            span: self.span_from(start),
        })
    }

    /// A reference (`a`, `S.a`, `e1[last].a`, `#S.a`), a null check on one, or a function call.
    fn reference(&mut self) -> PResult<Expr> {
        let start = self.peek().span;
        let kind = self.source_kind();
        let name = self.name("a name")?;
        if kind == SourceKind::Normal
            && (self.at(TokenKind::LParen)
                || (self.at(TokenKind::Colon)
                    && self.nth_is_name(1)
                    && self.nth_kind(2) == TokenKind::LParen))
        {
            let call = self.call_after(name)?;
            return self.maybe_is_null(Expr::Call(call));
        }
        let index = if self.at(TokenKind::LBracket) {
            Some(self.event_index()?)
        } else {
            None
        };
        let inner = if self.at(TokenKind::Hash) && self.nth_is_name(1) {
            self.bump();
            let inner_name = self.name("a name")?;
            let inner_index = if self.at(TokenKind::LBracket) {
                Some(self.event_index()?)
            } else {
                None
            };
            Some((inner_name, inner_index))
        } else {
            None
        };
        if self.eat(TokenKind::Dot).is_some() {
            let attr = self.name("an attribute name")?;
            let qualifier = Qualifier {
                kind,
                name,
                index,
                inner,
                span: self.span_from(start),
            };
            let span = self.span_from(start);
            return self.maybe_is_null(Expr::Attribute(AttributeRef {
                qualifier: Some(qualifier),
                name: attr,
                span,
            }));
        }
        if kind == SourceKind::Normal && index.is_none() && inner.is_none() {
            let span = name.span;
            return self.maybe_is_null(Expr::Attribute(AttributeRef {
                qualifier: None,
                name,
                span,
            }));
        }
        if inner.is_none() && self.eat_kw(Kw::Is).is_some() {
            self.expect_kw(Kw::Null)?;
            return Ok(Expr::IsNullStream {
                kind,
                name,
                index,
                span: self.span_from(start),
            });
        }
        Err(self.expected("`.` and an attribute name"))
    }

    fn maybe_is_null(&mut self, expr: Expr) -> PResult<Expr> {
        if self.eat_kw(Kw::Is).is_none() {
            return Ok(expr);
        }
        self.expect_kw(Kw::Null)?;
        let span = self.span_from(expr.span());
        Ok(Expr::IsNull(Box::new(expr), span))
    }

    /// `[3]`, `[last]` or `[last - 2]` after an event reference.
    fn event_index(&mut self) -> PResult<EventIndex> {
        self.expect(TokenKind::LBracket)?;
        let index = if self.eat_kw(Kw::Last).is_some() {
            let minus = if self.eat(TokenKind::Minus).is_some() {
                self.small_int("a number")?
            } else {
                0
            };
            EventIndex::Last { minus }
        } else {
            EventIndex::Index(self.small_int("an index (a number or `last`)")?)
        };
        self.expect(TokenKind::RBracket)?;
        Ok(index)
    }

    /// An attribute reference where only one is allowed (`group by`, `order by`, `set`).
    pub(crate) fn attribute_ref(&mut self) -> PResult<AttributeRef> {
        let start = self.peek().span;
        if !(self.at_name() || self.at(TokenKind::Hash) || self.at(TokenKind::Bang)) {
            return Err(self.expected("an attribute"));
        }
        match self.reference()? {
            Expr::Attribute(attr) => Ok(attr),
            _ => {
                let span = self.span_from(start);
                self.error(span, "expected an attribute reference");
                Err(Reported)
            }
        }
    }

    /// `[ns:]name(args)` / `name(*)`, as used by stream functions and windows.
    pub(crate) fn call(&mut self) -> PResult<FunctionCall> {
        let name = self.name("a function name")?;
        self.call_after(name)
    }

    /// The rest of a call whose first name was read: `[:name](args)`.
    fn call_after(&mut self, first: crate::ast::Ident) -> PResult<FunctionCall> {
        self.nested_weighted(3, |p| p.call_rest(first))
    }

    fn call_rest(&mut self, first: crate::ast::Ident) -> PResult<FunctionCall> {
        let start = first.span;
        let (namespace, name) = if self.eat(TokenKind::Colon).is_some() {
            (Some(first), self.name("a function name")?)
        } else {
            (None, first)
        };
        self.expect(TokenKind::LParen)?;
        let mut args = Vec::new();
        let mut star = false;
        if self.eat(TokenKind::Star).is_some() {
            star = true;
        } else if !self.at(TokenKind::RParen) {
            let mut deepest = 0;
            args = self.comma_list(|p| {
                let (arg, depth) = p.expr_bp(0)?;
                deepest = deepest.max(depth);
                Ok(arg)
            })?;
            // Reported to `unary_inner` so that calls count towards the tree depth limit.
            self.call_depth = deepest;
        }
        self.close_list()?;
        Ok(FunctionCall {
            namespace,
            name,
            args,
            star,
            span: self.span_from(start),
        })
    }
}

#[inline(never)]
fn not(start: crate::span::Span, operand: Expr) -> Expr {
    let span = start.to(operand.span());
    Expr::Not(Box::new(operand), span)
}

#[inline(never)]
fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    let span = left.span().to(right.span());
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
        span,
    }
}

fn is_number(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Int | TokenKind::Long | TokenKind::Float | TokenKind::Double
    )
}

/// The unit a time keyword stands for.
pub(crate) fn time_unit(kw: Kw) -> Option<TimeUnit> {
    Some(match kw {
        Kw::Years => TimeUnit::Years,
        Kw::Months => TimeUnit::Months,
        Kw::Weeks => TimeUnit::Weeks,
        Kw::Days => TimeUnit::Days,
        Kw::Hours => TimeUnit::Hours,
        Kw::Minutes => TimeUnit::Minutes,
        Kw::Seconds => TimeUnit::Seconds,
        Kw::Milliseconds => TimeUnit::Milliseconds,
        _ => return None,
    })
}

/// A FLOAT/DOUBLE token's text in a form Rust parses: no suffix, digits around the dot.
fn float_text(text: &str) -> String {
    let body = text.trim_end_matches(['f', 'F', 'd', 'D']);
    let mut out = String::with_capacity(body.len() + 2);
    if body.starts_with('.') {
        out.push('0');
    }
    for (i, c) in body.char_indices() {
        out.push(c);
        if c == '.' && !body[i + 1..].starts_with(|d: char| d.is_ascii_digit()) {
            out.push('0');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::parse_expression;

    fn p(text: &str) -> Expr {
        parse_expression(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    fn shape(text: &str) -> String {
        p(text).to_string()
    }

    #[test]
    fn precedence_and_associativity() {
        assert!(
            matches!(p("a - b - c"), Expr::Binary { op: BinaryOp::Sub, left, .. }
            if matches!(*left, Expr::Binary { op: BinaryOp::Sub, .. }))
        );
        assert!(
            matches!(p("not a > 3"), Expr::Binary { op: BinaryOp::Gt, left, .. }
            if matches!(*left, Expr::Not(..)))
        );
        assert!(matches!(
            p("a or b and c"),
            Expr::Binary {
                op: BinaryOp::Or,
                ..
            }
        ));
        assert!(matches!(p("a == b in T"), Expr::In { .. }));
        assert!(matches!(
            p("a in T and b"),
            Expr::Binary {
                op: BinaryOp::And,
                ..
            }
        ));
        assert_eq!(shape("a - (b - c)"), "a - (b - c)");
        assert_eq!(shape("(a - b) - c"), "a - b - c");
        assert_eq!(shape("not (a > 3)"), "not (a > 3)");
        assert_eq!(shape("(a + 1) * 2"), "(a + 1) * 2");
    }

    #[test]
    fn literals_signs_and_time() {
        assert!(matches!(p("-5"), Expr::Literal(Literal::Int(-5), _)));
        assert!(matches!(
            p("-2147483648"),
            Expr::Literal(Literal::Int(i32::MIN), _)
        ));
        assert!(matches!(p("+2.0"), Expr::Literal(Literal::Double(v), _) if v == 2.0));
        assert!(matches!(p("2L"), Expr::Literal(Literal::Long(2), _)));
        assert!(matches!(p(".5f"), Expr::Literal(Literal::Float(v), _) if v == 0.5));
        assert!(matches!(
            p("a - -5"),
            Expr::Binary {
                op: BinaryOp::Sub,
                ..
            }
        ));
        match p("5 sec 500 millisec") {
            Expr::Literal(Literal::Time(t), _) => assert_eq!(t.millis, 5500),
            other => panic!("{other:?}"),
        }
        assert!(parse_expression("-a").is_err());
        assert!(parse_expression("2147483648").is_err());
        assert!(parse_expression("500 millisec 5 sec").is_err());
    }

    #[test]
    fn references_calls_and_null_checks() {
        assert!(matches!(p("x is null"), Expr::IsNull(inner, _)
            if matches!(*inner, Expr::Attribute(_))));
        assert!(matches!(
            p("e1[0] is null"),
            Expr::IsNullStream { index: Some(_), .. }
        ));
        assert!(matches!(
            p("#S is null"),
            Expr::IsNullStream {
                kind: SourceKind::Inner,
                ..
            }
        ));
        assert!(matches!(
            p("!S is null"),
            Expr::IsNullStream {
                kind: SourceKind::Fault,
                ..
            }
        ));
        assert!(matches!(p("f(x) is null"), Expr::IsNull(..)));
        match p("e1[last - 1].price") {
            Expr::Attribute(a) => {
                let q = a.qualifier.unwrap();
                assert_eq!(q.index, Some(EventIndex::Last { minus: 1 }));
            }
            other => panic!("{other:?}"),
        }
        match p("str:concat(a, 'b')") {
            Expr::Call(c) => {
                assert_eq!(c.namespace.unwrap().name, "str");
                assert_eq!(c.args.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p("count(*)"),
            Expr::Call(FunctionCall { star: true, .. })
        ));
        assert!(matches!(p("min(a)"), Expr::Call(_)));
    }

    #[test]
    fn deep_nesting_is_a_diagnostic() {
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse_expression(&deep).is_err());
        let long = vec!["a"; 5000].join(" + ");
        assert!(parse_expression(&long).is_err());
        let filter = (0..500)
            .map(|i| format!("a == {i}"))
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(
            parse_expression(&filter).is_ok(),
            "long generated filters are fine"
        );
        let nots = format!("{}a", "not ".repeat(5000));
        assert!(parse_expression(&nots).is_err());
    }
}
