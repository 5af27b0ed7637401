//! User-facing language errors as data: a code, a primary span, a message, optional secondary
//! labels and help. The core never turns them into strings; the edges render them (a caret
//! snippet for terminals, one line for JSON answers).

use crate::span::{LineIndex, Span};

/// Which phase found the problem; part of the rendered code so users can search for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiagnosticKind {
    /// The text could not be tokenised or parsed.
    Syntax,
    /// The app parsed but breaks a rule of SiddhiQL (undefined names, types, duplicates).
    Validation,
    /// The app uses something Spate does not implement yet.
    Unsupported,
}

impl DiagnosticKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticKind::Syntax => "syntax",
            DiagnosticKind::Validation => "validation",
            DiagnosticKind::Unsupported => "unsupported",
        }
    }
}

/// A secondary label pointing at another place in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in an app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: DiagnosticKind,
    pub span: Span,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(kind: DiagnosticKind, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            kind,
            span,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn syntax(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(DiagnosticKind::Syntax, span, message)
    }

    pub fn validation(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(DiagnosticKind::Validation, span, message)
    }

    pub fn unsupported(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(DiagnosticKind::Unsupported, span, message)
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// `line:column: message` — the compact form used in JSON error answers.
    pub fn one_line(&self, source: &str) -> String {
        let index = LineIndex::new(source);
        let lc = index.line_col(source, self.span.start as usize);
        format!(
            "{}:{}: {} error: {}",
            lc.line,
            lc.column,
            self.kind.as_str(),
            self.message
        )
    }

    /// A multi-line rendering with the offending line and a caret under the span.
    pub fn render(&self, source: &str, file_name: &str) -> String {
        let index = LineIndex::new(source);
        let mut out = String::new();
        out.push_str(&format!(
            "error[{}]: {}\n",
            self.kind.as_str(),
            self.message
        ));
        let lc = index.line_col(source, self.span.start as usize);
        let gutter = (lc.line.max(
            self.labels
                .iter()
                .map(|l| index.line_col(source, l.span.start as usize).line)
                .max()
                .unwrap_or(0),
        ))
        .to_string()
        .len();
        let pad = " ".repeat(gutter);
        out.push_str(&format!("{pad}--> {file_name}:{}:{}\n", lc.line, lc.column));
        out.push_str(&format!("{pad} |\n"));
        snippet(&mut out, source, &index, self.span, "", gutter);
        for label in &self.labels {
            snippet(&mut out, source, &index, label.span, &label.message, gutter);
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("{pad} |\n"));
            out.push_str(&format!("{pad} = help: {help}\n"));
        }
        out
    }
}

/// Writes one source line and a caret line under `span` (clipped to that first line).
fn snippet(
    out: &mut String,
    source: &str,
    index: &LineIndex,
    span: Span,
    note: &str,
    gutter: usize,
) {
    let start = (span.start as usize).min(source.len());
    let line = index.line_of(start);
    let text = index.line_text(source, line);
    let line_start = index.line_start(line);
    let col = source[line_start..start].chars().count();
    let end = (span.end as usize).clamp(start, line_start + text.len());
    let width = source[start..end].chars().count().max(1);
    out.push_str(&format!(
        "{:>gutter$} | {}\n",
        line + 1,
        text.replace('\t', " ")
    ));
    let mut caret = format!("{:gutter$} | {}{}", "", " ".repeat(col), "^".repeat(width));
    if !note.is_empty() {
        caret.push(' ');
        caret.push_str(note);
    }
    out.push_str(&format!("{caret}\n"));
}

/// Renders every diagnostic, separated by blank lines.
pub fn render_all(diagnostics: &[Diagnostic], source: &str, file_name: &str) -> String {
    diagnostics
        .iter()
        .map(|d| d.render(source, file_name))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let src = "define stream S (a int);\nfrom S[b > 1]\nselect a insert into O;";
        let start = src.find("b >").unwrap();
        let d = Diagnostic::validation(Span::new(start, start + 1), "attribute `b` is not defined")
            .with_help("`S` has: a int");
        let text = d.render(src, "app.siddhi");
        assert!(text.contains("--> app.siddhi:2:8"), "{text}");
        assert!(text.contains("2 | from S[b > 1]\n  |        ^\n"), "{text}");
        assert!(text.contains("= help: `S` has: a int"), "{text}");
        assert_eq!(
            d.one_line(src),
            "2:8: validation error: attribute `b` is not defined"
        );
    }
}
