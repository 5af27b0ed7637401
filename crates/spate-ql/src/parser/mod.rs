//! The recursive-descent SiddhiQL parser: the token cursor and the helpers every part of the
//! grammar shares (expecting tokens, reading names, error recovery, the nesting guard).
//!
//! Errors are recorded as [`Diagnostic`]s and signalled upwards with [`Reported`]; the element
//! loops (app and partition) then skip to the next `;` so that one run reports every error.

mod app;
mod definition;
mod expr;
mod output;
mod pattern;
mod query;

use crate::ast::{Ident, QuoteStyle, SourceKind, StringLit};
use crate::diagnostic::Diagnostic;
use crate::lexer::{Kw, Token, TokenKind, lex, token_text};
use crate::span::Span;

/// How deep parentheses, `not`s, anonymous streams and expression trees may nest before the
/// parser gives up with a diagnostic (instead of overflowing the stack).
const MAX_DEPTH: u32 = 128;

/// How deep an expression tree may grow through operator chains (`a or b or c ...` builds a
/// left-deep tree without recursing in the parser). Generous for generated filters, yet small
/// enough that printing, comparing and dropping the tree cannot overflow a 2 MiB stack.
const MAX_EXPR_DEPTH: u32 = 1000;

/// Marks that a diagnostic was recorded and the current element cannot be completed.
#[derive(Debug)]
pub(crate) struct Reported;

pub(crate) type PResult<T> = Result<T, Reported>;

/// The token cursor plus everything recorded so far.
pub(crate) struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    /// The expression depth of the arguments of the call just read (see `expr.rs`).
    call_depth: u32,
    /// How many of `diags` (the first ones) came from the lexer.
    lexical: usize,
    depth: u32,
}

impl<'t> Parser<'t> {
    /// Lexes `text`; lexical diagnostics are kept and reported with the parser's own.
    pub(crate) fn new(text: &'t str) -> Parser<'t> {
        let (tokens, diags) = lex(text);
        Parser {
            text,
            tokens,
            pos: 0,
            call_depth: 0,
            lexical: diags.len(),
            diags,
            depth: 0,
        }
    }

    /// The result: `value` if nothing went wrong, else every diagnostic in text order.
    pub(crate) fn finish<T>(mut self, value: Option<T>) -> Result<T, Vec<Diagnostic>> {
        match value {
            Some(value) if self.diags.is_empty() => Ok(value),
            _ => {
                if self.diags.is_empty() {
                    // Defensive: an error path must always have said why.
                    let span = self.peek().span;
                    self.diags.push(Diagnostic::syntax(span, "invalid input"));
                }
                let mut diags = self.drop_consequences();
                diags.sort_by_key(|d| d.span.start);
                Err(diags)
            }
        }
    }

    /// Drops parser diagnostics that a lexical error most likely caused: those later on the
    /// same line as one, and "found end of input" after an unterminated literal swallowed the
    /// rest of the text.
    fn drop_consequences(&mut self) -> Vec<Diagnostic> {
        let mut parsed = self.diags.split_off(self.lexical.min(self.diags.len()));
        if self.diags.is_empty() {
            return parsed;
        }
        let index = crate::span::LineIndex::new(self.text);
        let mut first_on_line = std::collections::BTreeMap::new();
        let mut unterminated = false;
        for d in &self.diags {
            let line = index.line_of(d.span.start as usize);
            let first = first_on_line.entry(line).or_insert(d.span.start);
            *first = (*first).min(d.span.start);
            unterminated |= d.message.starts_with("unterminated");
        }
        let end = self.text.len() as u32;
        parsed.retain(|d| {
            let line = index.line_of(d.span.start as usize);
            let after_on_line = first_on_line.get(&line).is_some_and(|&s| s <= d.span.start);
            !(after_on_line || (unterminated && d.span.start == end))
        });
        let mut all = std::mem::take(&mut self.diags);
        all.extend(parsed);
        all
    }

    /// Expects the end of the input, allowing one trailing `;`.
    pub(crate) fn expect_end(&mut self) -> PResult<()> {
        self.eat(TokenKind::Semi);
        if self.at(TokenKind::Eof) {
            Ok(())
        } else {
            Err(self.expected("end of input"))
        }
    }

    /// Whether the whole input was consumed.
    pub(crate) fn at_eof(&self) -> bool {
        self.at(TokenKind::Eof)
    }

    /// Records that the input should have ended here.
    pub(crate) fn expected_end(&mut self) -> Reported {
        self.expected("end of input")
    }

    // ---- cursor ------------------------------------------------------------------------------

    fn peek(&self) -> Token {
        self.nth(0)
    }

    fn nth(&self, n: usize) -> Token {
        let last = self.tokens.len() - 1;
        self.tokens[(self.pos + n).min(last)]
    }

    fn kind(&self) -> TokenKind {
        self.peek().kind
    }

    fn nth_kind(&self, n: usize) -> TokenKind {
        self.nth(n).kind
    }

    fn at(&self, kind: TokenKind) -> bool {
        self.kind() == kind
    }

    fn at_kw(&self, kw: Kw) -> bool {
        self.kind() == TokenKind::Keyword(kw)
    }

    fn nth_is_kw(&self, n: usize, kw: Kw) -> bool {
        self.nth_kind(n) == TokenKind::Keyword(kw)
    }

    /// Moves past the current token (never past the end) and returns it.
    fn bump(&mut self) -> Token {
        let token = self.peek();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, kind: TokenKind) -> Option<Token> {
        if self.at(kind) {
            Some(self.bump())
        } else {
            None
        }
    }

    fn eat_kw(&mut self, kw: Kw) -> Option<Span> {
        if self.at_kw(kw) {
            Some(self.bump().span)
        } else {
            None
        }
    }

    fn expect(&mut self, kind: TokenKind) -> PResult<Span> {
        match self.eat(kind) {
            Some(token) => Ok(token.span),
            None => Err(self.expected(&format!("`{}`", kind.punct().unwrap_or("?")))),
        }
    }

    fn expect_kw(&mut self, kw: Kw) -> PResult<Span> {
        match self.eat_kw(kw) {
            Some(span) => Ok(span),
            None => Err(self.expected(&format!("`{}`", kw_text(kw)))),
        }
    }

    /// An optional `#` (inner) or `!` (fault) before a stream name.
    fn source_kind(&mut self) -> SourceKind {
        if self.eat(TokenKind::Hash).is_some() {
            SourceKind::Inner
        } else if self.eat(TokenKind::Bang).is_some() {
            SourceKind::Fault
        } else {
            SourceKind::Normal
        }
    }

    /// One or more items separated by `,`.
    fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let mut list = vec![item(self)?];
        while self.eat(TokenKind::Comma).is_some() {
            list.push(item(self)?);
        }
        Ok(list)
    }

    /// The `)` after a comma-separated list (where a `,` would also have been accepted).
    fn close_list(&mut self) -> PResult<()> {
        match self.eat(TokenKind::RParen) {
            Some(_) => Ok(()),
            None => Err(self.expected("`,` or `)`")),
        }
    }

    /// `<kw> <expression>`, if the keyword is there.
    fn keyword_expr(&mut self, kw: Kw) -> PResult<Option<crate::ast::Expr>> {
        if self.eat_kw(kw).is_none() {
            return Ok(None);
        }
        self.expr().map(Some)
    }

    /// The span from `start` to the end of the last consumed token.
    fn span_from(&self, start: Span) -> Span {
        let end = if self.pos == 0 {
            start.end
        } else {
            self.tokens[self.pos - 1].span.end
        };
        Span {
            start: start.start,
            end: end.max(start.start),
        }
    }

    fn text_of(&self, token: Token) -> &'t str {
        token_text(self.text, &token)
    }

    // ---- diagnostics -------------------------------------------------------------------------

    fn error(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::syntax(span, message));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    /// Records ``expected <what>, found `<token>` `` at the current token.
    fn expected(&mut self, what: &str) -> Reported {
        let token = self.peek();
        let found = self.describe(token);
        let after_int = self.pos > 0 && self.tokens[self.pos - 1].kind == TokenKind::Int;
        let help = match (self.suggest(token, what), token.kind) {
            (Some(word), _) => Some(format!("did you mean `{word}`?")),
            (None, TokenKind::Assign) => Some("use `==` to compare values".to_string()),
            (None, TokenKind::Dot) if after_int => {
                Some("a decimal number needs digits after the dot, as in `1.0`".to_string())
            }
            _ => None,
        };
        self.error(token.span, format!("expected {what}, found {found}"))
            .help = help;
        Reported
    }

    /// How a token is named in messages.
    fn describe(&self, token: Token) -> String {
        match token.kind {
            TokenKind::Eof => "end of input".to_string(),
            TokenKind::Script => "a function body".to_string(),
            _ => {
                let raw = &self.text[token.span.range()];
                match raw.char_indices().nth(40) {
                    Some((cut, _)) => format!("`{}...`", &raw[..cut]),
                    None => format!("`{raw}`"),
                }
            }
        }
    }

    /// A keyword among the back-quoted words of `what` that a misspelt identifier is close to.
    fn suggest(&self, token: Token, what: &str) -> Option<String> {
        if token.kind != TokenKind::Ident {
            return None;
        }
        let word = self.text_of(token).to_ascii_lowercase();
        what.split('`')
            .skip(1)
            .step_by(2)
            .filter(|cand| cand.chars().all(|c| c.is_ascii_alphabetic()))
            .find(|cand| edit_distance(&word, cand) <= 1 + usize::from(cand.len() > 4))
            .map(str::to_string)
    }

    /// Runs `f` one nesting level deeper, failing with a diagnostic past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.nested_weighted(1, f)
    }

    /// Like [`Parser::nested`] for constructs whose recursion uses more stack per level
    /// (function calls, anonymous streams): they spend `weight` levels of the budget.
    fn nested_weighted<T>(
        &mut self,
        weight: u32,
        f: impl FnOnce(&mut Self) -> PResult<T>,
    ) -> PResult<T> {
        if self.depth + weight > MAX_DEPTH {
            let span = self.peek().span;
            self.error(
                span,
                format!("nesting too deep (more than {MAX_DEPTH} levels)"),
            );
            return Err(Reported);
        }
        self.depth += weight;
        let result = f(self);
        self.depth -= weight;
        result
    }

    /// Skips to just after the next `;` outside brackets, or (in a partition) to its `end`.
    fn recover(&mut self, in_partition: bool) {
        let mut depth = 0usize;
        loop {
            match self.kind() {
                TokenKind::Eof => return,
                TokenKind::Semi if depth == 0 => {
                    self.bump();
                    return;
                }
                TokenKind::Keyword(Kw::End) if in_partition && depth == 0 && self.end_follows() => {
                    return;
                }
                TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RParen | TokenKind::RBracket => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.bump();
        }
    }

    /// Whether the current `end` closes a partition (followed by `;` or the end of input).
    fn end_follows(&self) -> bool {
        matches!(self.nth_kind(1), TokenKind::Semi | TokenKind::Eof)
    }

    // ---- names and strings -------------------------------------------------------------------

    /// Whether the current token can be a name (identifier or a non-reserved keyword).
    fn at_name(&self) -> bool {
        is_name_token(self.kind())
    }

    fn nth_is_name(&self, n: usize) -> bool {
        is_name_token(self.nth_kind(n))
    }

    /// Reads a name: an identifier, a back-quoted name or a keyword the grammar allows as one.
    fn name(&mut self, what: &str) -> PResult<Ident> {
        let token = self.peek();
        if is_name_token(token.kind) {
            self.bump();
            return Ok(Ident::new(self.text_of(token), token.span));
        }
        if let TokenKind::Keyword(kw) = token.kind {
            let word = self.text_of(token);
            self.error(
                token.span,
                format!("expected {what}, found reserved word `{word}`"),
            )
            .help = Some(format!(
                "`{}` is reserved; write it back-quoted to use it as a name: `` `{word}` ``",
                kw_text(kw)
            ));
            return Err(Reported);
        }
        Err(self.expected(what))
    }

    fn string(&mut self) -> PResult<StringLit> {
        let token = self.peek();
        match token.kind {
            TokenKind::Str(quote) => {
                self.bump();
                Ok(self.string_lit(token, quote))
            }
            _ => Err(self.expected("a string")),
        }
    }

    fn string_lit(&self, token: Token, quote: QuoteStyle) -> StringLit {
        StringLit {
            value: self.text_of(token).to_string(),
            quote,
            span: token.span,
        }
    }
}

/// Whether a token kind can stand for a name.
fn is_name_token(kind: TokenKind) -> bool {
    match kind {
        TokenKind::Ident | TokenKind::QuotedIdent => true,
        TokenKind::Keyword(kw) => kw.is_name(),
        _ => false,
    }
}

/// The canonical (lower-case) spelling of a keyword.
pub(crate) fn kw_text(kw: Kw) -> &'static str {
    match kw {
        Kw::Stream => "stream",
        Kw::Define => "define",
        Kw::Function => "function",
        Kw::Trigger => "trigger",
        Kw::Table => "table",
        Kw::App => "app",
        Kw::From => "from",
        Kw::Partition => "partition",
        Kw::Window => "window",
        Kw::Select => "select",
        Kw::Group => "group",
        Kw::By => "by",
        Kw::Order => "order",
        Kw::Limit => "limit",
        Kw::Offset => "offset",
        Kw::Asc => "asc",
        Kw::Desc => "desc",
        Kw::Having => "having",
        Kw::Insert => "insert",
        Kw::Delete => "delete",
        Kw::Update => "update",
        Kw::Set => "set",
        Kw::Return => "return",
        Kw::Events => "events",
        Kw::Into => "into",
        Kw::Output => "output",
        Kw::Expired => "expired",
        Kw::Current => "current",
        Kw::Snapshot => "snapshot",
        Kw::For => "for",
        Kw::Raw => "raw",
        Kw::Of => "of",
        Kw::As => "as",
        Kw::At => "at",
        Kw::Or => "or",
        Kw::And => "and",
        Kw::In => "in",
        Kw::On => "on",
        Kw::Is => "is",
        Kw::Not => "not",
        Kw::Within => "within",
        Kw::With => "with",
        Kw::Begin => "begin",
        Kw::End => "end",
        Kw::Null => "null",
        Kw::Every => "every",
        Kw::Last => "last",
        Kw::All => "all",
        Kw::First => "first",
        Kw::Join => "join",
        Kw::Inner => "inner",
        Kw::Outer => "outer",
        Kw::Right => "right",
        Kw::Left => "left",
        Kw::Full => "full",
        Kw::Unidirectional => "unidirectional",
        Kw::Years => "year",
        Kw::Months => "month",
        Kw::Weeks => "week",
        Kw::Days => "day",
        Kw::Hours => "hour",
        Kw::Minutes => "min",
        Kw::Seconds => "sec",
        Kw::Milliseconds => "millisec",
        Kw::False => "false",
        Kw::True => "true",
        Kw::String => "string",
        Kw::Int => "int",
        Kw::Long => "long",
        Kw::Float => "float",
        Kw::Double => "double",
        Kw::Bool => "bool",
        Kw::Object => "object",
        Kw::Aggregation => "aggregation",
        Kw::Aggregate => "aggregate",
        Kw::Per => "per",
    }
}

/// Levenshtein distance of two short ASCII words (used only for "did you mean" hints).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("selct", "select"), 1);
        assert_eq!(edit_distance("slect", "select"), 1);
        assert_eq!(edit_distance("form", "from"), 2);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }

    #[test]
    fn expected_names_what_was_found_and_suggests() {
        let mut p = Parser::new("selct");
        let _ = p.expected("`select` or `insert`");
        assert_eq!(
            p.diags[0].message,
            "expected `select` or `insert`, found `selct`"
        );
        assert_eq!(p.diags[0].help.as_deref(), Some("did you mean `select`?"));
    }

    #[test]
    fn reserved_words_are_not_names() {
        let mut p = Parser::new("set min `set`");
        assert!(p.name("a name").is_err());
        p.bump();
        assert_eq!(
            p.name("a name").ok().map(|i| i.name),
            Some("min".to_string())
        );
        assert_eq!(
            p.name("a name").ok().map(|i| i.name),
            Some("set".to_string())
        );
    }

    #[test]
    fn recovery_skips_to_semicolon_outside_brackets() {
        let mut p = Parser::new("a ( ; ) b ; c");
        p.recover(false);
        assert_eq!(p.text_of(p.peek()), "c");
    }
}
