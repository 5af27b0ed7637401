//! The hand-written SiddhiQL lexer.
//!
//! It follows the token rules of Siddhi 5.1.7's ANTLR grammar (maximal munch, keywords
//! case-insensitive, no escapes in strings) but never stops: an unexpected character, an
//! unterminated string or comment becomes a diagnostic and lexing goes on, so the parser can
//! report every problem of an app in one run. Literal values are not converted here; the parser
//! reads them from the token text, where it knows the sign and the context.

use crate::ast::QuoteStyle;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// A SiddhiQL keyword. Keywords are case-insensitive and some may also be used as names (see
/// [`Kw::is_name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kw {
    Stream,
    Define,
    Function,
    Trigger,
    Table,
    App,
    From,
    Partition,
    Window,
    Select,
    Group,
    By,
    Order,
    Limit,
    Offset,
    Asc,
    Desc,
    Having,
    Insert,
    Delete,
    Update,
    Set,
    Return,
    Events,
    Into,
    Output,
    Expired,
    Current,
    Snapshot,
    For,
    Raw,
    Of,
    As,
    At,
    Or,
    And,
    In,
    On,
    Is,
    Not,
    Within,
    With,
    Begin,
    End,
    Null,
    Every,
    Last,
    All,
    First,
    Join,
    Inner,
    Outer,
    Right,
    Left,
    Full,
    Unidirectional,
    Years,
    Months,
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
    False,
    True,
    String,
    Int,
    Long,
    Float,
    Double,
    Bool,
    Object,
    Aggregation,
    Aggregate,
    Per,
}

impl Kw {
    /// Looks up a word (any case); time units accept their singular, plural and short forms.
    pub fn from_word(word: &str) -> Option<Kw> {
        // Keywords are at most 14 bytes long; anything longer is an identifier.
        if word.len() > 14 {
            return None;
        }
        let mut buf = [0u8; 14];
        for (b, c) in buf.iter_mut().zip(word.bytes()) {
            *b = c.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(&buf[..word.len()]).ok()?;
        Some(match lower {
            "stream" => Kw::Stream,
            "define" => Kw::Define,
            "function" => Kw::Function,
            "trigger" => Kw::Trigger,
            "table" => Kw::Table,
            "app" => Kw::App,
            "from" => Kw::From,
            "partition" => Kw::Partition,
            "window" => Kw::Window,
            "select" => Kw::Select,
            "group" => Kw::Group,
            "by" => Kw::By,
            "order" => Kw::Order,
            "limit" => Kw::Limit,
            "offset" => Kw::Offset,
            "asc" => Kw::Asc,
            "desc" => Kw::Desc,
            "having" => Kw::Having,
            "insert" => Kw::Insert,
            "delete" => Kw::Delete,
            "update" => Kw::Update,
            "set" => Kw::Set,
            "return" => Kw::Return,
            "events" => Kw::Events,
            "into" => Kw::Into,
            "output" => Kw::Output,
            "expired" => Kw::Expired,
            "current" => Kw::Current,
            "snapshot" => Kw::Snapshot,
            "for" => Kw::For,
            "raw" => Kw::Raw,
            "of" => Kw::Of,
            "as" => Kw::As,
            "at" => Kw::At,
            "or" => Kw::Or,
            "and" => Kw::And,
            "in" => Kw::In,
            "on" => Kw::On,
            "is" => Kw::Is,
            "not" => Kw::Not,
            "within" => Kw::Within,
            "with" => Kw::With,
            "begin" => Kw::Begin,
            "end" => Kw::End,
            "null" => Kw::Null,
            "every" => Kw::Every,
            "last" => Kw::Last,
            "all" => Kw::All,
            "first" => Kw::First,
            "join" => Kw::Join,
            "inner" => Kw::Inner,
            "outer" => Kw::Outer,
            "right" => Kw::Right,
            "left" => Kw::Left,
            "full" => Kw::Full,
            "unidirectional" => Kw::Unidirectional,
            "year" | "years" => Kw::Years,
            "month" | "months" => Kw::Months,
            "week" | "weeks" => Kw::Weeks,
            "day" | "days" => Kw::Days,
            "hour" | "hours" => Kw::Hours,
            "min" | "minute" | "minutes" => Kw::Minutes,
            "sec" | "second" | "seconds" => Kw::Seconds,
            "millisec" | "millisecond" | "milliseconds" => Kw::Milliseconds,
            "false" => Kw::False,
            "true" => Kw::True,
            "string" => Kw::String,
            "int" => Kw::Int,
            "long" => Kw::Long,
            "float" => Kw::Float,
            "double" => Kw::Double,
            "bool" => Kw::Bool,
            "object" => Kw::Object,
            "aggregation" => Kw::Aggregation,
            "aggregate" => Kw::Aggregate,
            "per" => Kw::Per,
            _ => return None,
        })
    }

    /// Whether the grammar's `keyword` rule lets this keyword stand for a name. The others
    /// (`function`, `trigger`, `offset`, `set`, `at`, `in`, `aggregation`, `aggregate`, `per`)
    /// are reserved and must be back-quoted to be used as names.
    pub fn is_name(self) -> bool {
        !matches!(
            self,
            Kw::Function
                | Kw::Trigger
                | Kw::Offset
                | Kw::Set
                | Kw::At
                | Kw::In
                | Kw::Aggregation
                | Kw::Aggregate
                | Kw::Per
        )
    }
}

/// What a token is. Texts and literal values are read from the source through the span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `[a-zA-Z_][a-zA-Z_0-9]*` that is not a keyword.
    Ident,
    /// `` `any text` ``; the name excludes the back-quotes.
    QuotedIdent,
    Keyword(Kw),
    Int,
    Long,
    Float,
    Double,
    Str(QuoteStyle),
    /// `{ ... }`, the body of `define function`.
    Script,
    Colon,
    Semi,
    Dot,
    TripleDot,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Assign,
    Star,
    Plus,
    Question,
    Minus,
    Slash,
    Percent,
    Lt,
    Le,
    Gt,
    Ge,
    EqEq,
    NotEq,
    At,
    Arrow,
    Hash,
    Bang,
    Eof,
}

impl TokenKind {
    /// The fixed text of a punctuation token, for messages.
    pub fn punct(self) -> Option<&'static str> {
        Some(match self {
            TokenKind::Colon => ":",
            TokenKind::Semi => ";",
            TokenKind::Dot => ".",
            TokenKind::TripleDot => "...",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::LBracket => "[",
            TokenKind::RBracket => "]",
            TokenKind::Comma => ",",
            TokenKind::Assign => "=",
            TokenKind::Star => "*",
            TokenKind::Plus => "+",
            TokenKind::Question => "?",
            TokenKind::Minus => "-",
            TokenKind::Slash => "/",
            TokenKind::Percent => "%",
            TokenKind::Lt => "<",
            TokenKind::Le => "<=",
            TokenKind::Gt => ">",
            TokenKind::Ge => ">=",
            TokenKind::EqEq => "==",
            TokenKind::NotEq => "!=",
            TokenKind::At => "@",
            TokenKind::Arrow => "->",
            TokenKind::Hash => "#",
            TokenKind::Bang => "!",
            _ => return None,
        })
    }
}

/// One token and where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `text` into tokens (always ending with [`TokenKind::Eof`]) and lexical diagnostics.
pub fn lex(text: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
        diags: Vec::new(),
    };
    lexer.run();
    (lexer.tokens, lexer.diags)
}

struct Lexer<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    tokens: Vec<Token>,
    diags: Vec<Diagnostic>,
}

impl Lexer<'_> {
    fn at(&self, offset: usize) -> u8 {
        self.bytes.get(self.pos + offset).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
        });
    }

    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::syntax(Span::new(start, end), message));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            let start = self.pos;
            let c = self.bytes[self.pos];
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => self.pos += 1,
                b'-' if self.at(1) == b'-' => self.skip_line(),
                b'/' if self.at(1) == b'*' => self.block_comment(),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.word(),
                b'0'..=b'9' => self.number(),
                b'.' if self.at(1).is_ascii_digit() => self.number(),
                b'`' => self.quoted_ident(),
                b'\'' => self.simple_string(b'\'', QuoteStyle::Single),
                b'"' if self.at(1) == b'"' && self.at(2) == b'"' => self.triple_string(),
                b'"' => self.simple_string(b'"', QuoteStyle::Double),
                b'{' => self.script(),
                _ => self.punct(start, c),
            }
        }
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: Span::new(self.pos, self.pos),
        });
    }

    fn skip_line(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        match self.text[start + 2..].find("*/") {
            Some(i) => self.pos = start + 2 + i + 2,
            None => {
                // Siddhi lets a comment run to the end of the text; a forgotten `*/` hiding
                // the rest of the app is almost always a mistake, so it is reported.
                self.pos = self.bytes.len();
                self.error(start, start + 2, "unterminated block comment")
                    .with_help_mut("close it with `*/`");
            }
        }
    }

    fn word(&mut self) {
        let start = self.pos;
        while self.at(0).is_ascii_alphanumeric() || self.at(0) == b'_' {
            self.pos += 1;
        }
        let kind = match Kw::from_word(&self.text[start..self.pos]) {
            Some(kw) => TokenKind::Keyword(kw),
            None => TokenKind::Ident,
        };
        self.push(kind, start);
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.at(0).is_ascii_digit() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// INT `12`, LONG `12L`, FLOAT `1.5f`/`1e3f`/`.5f`, DOUBLE `1.5`/`1e3`/`1d`/`.5`; `1.` alone
    /// is INT then DOT, as in the grammar.
    fn number(&mut self) {
        let start = self.pos;
        self.digits();
        let before_dot = self.pos;
        let mut fraction = None;
        if self.at(0) == b'.' && !(self.at(1) == b'.' && self.at(2) == b'.') {
            self.pos += 1;
            fraction = Some(self.digits());
        }
        let mut exponent = false;
        if matches!(self.at(0), b'e' | b'E') {
            let sign = usize::from(matches!(self.at(1), b'+' | b'-'));
            if self.at(1 + sign).is_ascii_digit() {
                self.pos += 1 + sign;
                self.digits();
                exponent = true;
            }
        }
        let kind = match self.at(0) {
            b'f' | b'F' => {
                self.pos += 1;
                TokenKind::Float
            }
            b'd' | b'D' => {
                self.pos += 1;
                TokenKind::Double
            }
            b'l' | b'L' if fraction.is_none() && !exponent => {
                self.pos += 1;
                TokenKind::Long
            }
            _ if exponent || fraction.is_some_and(|n| n > 0) => TokenKind::Double,
            _ => {
                // `1.` without digits, exponent or suffix: the dot is a token of its own.
                self.pos = before_dot;
                TokenKind::Int
            }
        };
        self.push(kind, start);
    }

    fn quoted_ident(&mut self) {
        let start = self.pos;
        match self.text[start + 1..].find('`') {
            Some(i) => {
                self.pos = start + 1 + i + 1;
                self.push(TokenKind::QuotedIdent, start);
            }
            None => {
                self.pos = self.bytes.len();
                self.error(start, start + 1, "unterminated back-quoted name")
                    .with_help_mut("close it with a back-quote");
                self.push(TokenKind::QuotedIdent, start);
            }
        }
    }

    /// `'...'` or `"..."`: no escapes, no control characters, and no `"` inside either.
    fn simple_string(&mut self, quote: u8, style: QuoteStyle) {
        let start = self.pos;
        self.pos += 1;
        let mut bad: Option<(usize, u8)> = None;
        loop {
            let c = self.at(0);
            if self.pos >= self.bytes.len() || c == b'\n' || c == b'\r' {
                let end = self.pos;
                self.error(start, end, "unterminated string literal")
                    .with_help_mut(
                        "strings end on the line they start; use `\"\"\"...\"\"\"` for text over \
                     several lines",
                    );
                self.push(TokenKind::Str(style), start);
                return;
            }
            self.pos += 1;
            if c == quote {
                break;
            }
            if bad.is_none() && (c < 0x20 || c == b'"') {
                bad = Some((self.pos - 1, c));
            }
        }
        if let Some((at, c)) = bad {
            let what = if c == b'"' {
                "`\"`"
            } else {
                "a control character"
            };
            self.error(at, at + 1, format!("a quoted string cannot contain {what}"))
                .with_help_mut("write the text in a `\"\"\"...\"\"\"` string");
        }
        self.push(TokenKind::Str(style), start);
    }

    fn triple_string(&mut self) {
        let start = self.pos;
        match self.text[start + 3..].find("\"\"\"") {
            Some(i) => {
                self.pos = start + 3 + i + 3;
                self.push(TokenKind::Str(QuoteStyle::Triple), start);
            }
            None => {
                self.pos = self.bytes.len();
                self.error(start, start + 3, "unterminated string literal")
                    .with_help_mut("close it with `\"\"\"`");
                self.push(TokenKind::Str(QuoteStyle::Triple), start);
            }
        }
    }

    /// A `{ ... }` function body: nested braces, `"..."` strings and `//` comments may hold
    /// braces without ending it.
    fn script(&mut self) {
        let start = self.pos;
        let mut depth = 0usize;
        while self.pos < self.bytes.len() {
            match self.bytes[self.pos] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        self.push(TokenKind::Script, start);
                        return;
                    }
                }
                b'"' => {
                    if let Some(i) = self.text[self.pos + 1..].find('"') {
                        self.pos += i + 1;
                    }
                }
                b'/' if self.at(1) == b'/' => {
                    self.skip_line();
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
        self.error(start, start + 1, "unterminated function body")
            .with_help_mut("close it with `}`");
        self.push(TokenKind::Script, start);
    }

    fn punct(&mut self, start: usize, c: u8) {
        let next = self.at(1);
        let (kind, len) = match c {
            b':' => (TokenKind::Colon, 1),
            b';' => (TokenKind::Semi, 1),
            b'.' if next == b'.' && self.at(2) == b'.' => (TokenKind::TripleDot, 3),
            b'.' => (TokenKind::Dot, 1),
            b'(' => (TokenKind::LParen, 1),
            b')' => (TokenKind::RParen, 1),
            b'[' => (TokenKind::LBracket, 1),
            b']' => (TokenKind::RBracket, 1),
            b',' => (TokenKind::Comma, 1),
            b'=' if next == b'=' => (TokenKind::EqEq, 2),
            b'=' => (TokenKind::Assign, 1),
            b'*' => (TokenKind::Star, 1),
            b'+' => (TokenKind::Plus, 1),
            b'?' => (TokenKind::Question, 1),
            b'-' if next == b'>' => (TokenKind::Arrow, 2),
            b'-' => (TokenKind::Minus, 1),
            b'/' => (TokenKind::Slash, 1),
            b'%' => (TokenKind::Percent, 1),
            b'<' if next == b'=' => (TokenKind::Le, 2),
            b'<' => (TokenKind::Lt, 1),
            b'>' if next == b'=' => (TokenKind::Ge, 2),
            b'>' => (TokenKind::Gt, 1),
            b'!' if next == b'=' => (TokenKind::NotEq, 2),
            b'!' => (TokenKind::Bang, 1),
            b'@' => (TokenKind::At, 1),
            b'#' => (TokenKind::Hash, 1),
            b'&' if next == b'&' => return self.foreign_operator(Kw::And),
            b'|' if next == b'|' => return self.foreign_operator(Kw::Or),
            _ => return self.unexpected(),
        };
        self.pos += len;
        self.push(kind, start);
    }
}

impl Lexer<'_> {
    /// `&&` / `||`: reported, then read as `and` / `or` so that parsing goes on undisturbed.
    fn foreign_operator(&mut self, kw: Kw) {
        let start = self.pos;
        self.pos += 2;
        let (op, word) = if kw == Kw::And {
            ("&&", "and")
        } else {
            ("||", "or")
        };
        self.error(
            start,
            self.pos,
            format!("`{op}` is not a SiddhiQL operator"),
        )
        .with_help_mut(format!("write `{word}`"));
        self.push(TokenKind::Keyword(kw), start);
    }

    /// A run of characters that start no token: one diagnostic for the whole run.
    fn unexpected(&mut self) {
        let start = self.pos;
        for ch in self.text[start..].chars() {
            let known = ch.is_ascii_alphanumeric()
                || ch.is_ascii_whitespace()
                || "_:;.()[],=*+?-/%<>!@#'\"`{".contains(ch);
            if known && self.pos > start {
                break;
            }
            self.pos += ch.len_utf8();
        }
        let run = &self.text[start..self.pos];
        let what = if run.chars().count() == 1 {
            "character"
        } else {
            "characters"
        };
        let message = format!("unexpected {what} `{}`", run.escape_debug());
        self.error(start, self.pos, message);
    }
}

impl Diagnostic {
    /// Sets the help text of a diagnostic already stored in a list.
    fn with_help_mut(&mut self, help: impl Into<String>) {
        self.help = Some(help.into());
    }
}

/// The text a token stands for, without quotes: the name of an identifier, the content of a
/// string, the body of a script.
pub fn token_text<'t>(text: &'t str, token: &Token) -> &'t str {
    let raw = &text[token.span.range()];
    let strip = match token.kind {
        TokenKind::QuotedIdent | TokenKind::Script => 1,
        TokenKind::Str(QuoteStyle::Single | QuoteStyle::Double) => 1,
        TokenKind::Str(QuoteStyle::Triple) => 3,
        _ => 0,
    };
    if strip == 0 {
        return raw;
    }
    // An unterminated string token has no closing quote: only the opening one is removed.
    let closing = raw.len() >= 2 * strip && {
        let last = raw.as_bytes()[raw.len() - 1];
        matches!(last, b'\'' | b'"' | b'`' | b'}')
    };
    let end = if closing {
        raw.len() - strip
    } else {
        raw.len()
    };
    raw.get(strip..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let (tokens, diags) = lex(text);
        assert!(diags.is_empty(), "{diags:?}");
        tokens
            .into_iter()
            .map(|t| t.kind)
            .filter(|k| *k != TokenKind::Eof)
            .collect()
    }

    #[test]
    fn numbers_follow_the_grammar() {
        use TokenKind::*;
        assert_eq!(kinds("123"), [Int]);
        assert_eq!(kinds("123L 5l"), [Long, Long]);
        assert_eq!(kinds("1.5f 1e3f .5f 1F"), [Float, Float, Float, Float]);
        assert_eq!(kinds("1.5 1e3 1.5d .5 1e-3 1.e3"), [Double; 6]);
        assert_eq!(kinds("1."), [Int, Dot]);
        assert_eq!(kinds("1e"), [Int, Ident]);
        assert_eq!(kinds("1e5L"), [Double, Ident]);
        assert_eq!(kinds("5sec"), [Int, Keyword(Kw::Seconds)]);
        assert_eq!(
            kinds("sec...year"),
            [Keyword(Kw::Seconds), TripleDot, Keyword(Kw::Years)]
        );
    }

    #[test]
    fn keywords_are_case_insensitive_with_unit_plurals() {
        use TokenKind::*;
        assert_eq!(kinds("SELECT Select"), [Keyword(Kw::Select); 2]);
        assert_eq!(
            kinds("min minute minutes millisecond hours secs"),
            [
                Keyword(Kw::Minutes),
                Keyword(Kw::Minutes),
                Keyword(Kw::Minutes),
                Keyword(Kw::Milliseconds),
                Keyword(Kw::Hours),
                Ident
            ]
        );
    }

    #[test]
    fn strings_names_comments_and_scripts() {
        let text = "'a\"b' -- x\n\"it's\" /* c */ \"\"\"q\"\"\" `my name` { a { \"}\" } // }\n }";
        let (tokens, diags) = lex(text);
        assert_eq!(
            diags.len(),
            1,
            "single-quoted string holding a double quote"
        );
        let texts: Vec<&str> = tokens.iter().map(|t| token_text(text, t)).collect();
        assert_eq!(
            texts[..5],
            ["a\"b", "it's", "q", "my name", " a { \"}\" } // }\n "]
        );
    }

    #[test]
    fn operators_and_errors() {
        use TokenKind::*;
        assert_eq!(
            kinds("-> - != ! <= >= == = ..."),
            [Arrow, Minus, NotEq, Bang, Le, Ge, EqEq, Assign, TripleDot]
        );
        let (tokens, diags) = lex("a $ b 'open");
        assert_eq!(diags.len(), 2);
        assert_eq!(diags[0].message, "unexpected character `$`");
        assert_eq!(tokens.len(), 4);
        let (_, diags) = lex("/* never closed");
        assert_eq!(diags[0].message, "unterminated block comment");
    }
}
