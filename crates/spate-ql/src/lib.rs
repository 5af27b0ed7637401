//! SiddhiQL front end for Spate: the lexer, a recursive-descent parser with error recovery, the
//! syntax tree with spans, a canonical printer and user-facing diagnostics.
//!
//! ```
//! let app = spate_ql::parse_app("define stream S (a int); from S[a > 1] select a insert into O;")
//!     .expect("valid app");
//! assert_eq!(app.definitions.len(), 1);
//! // The canonical printing parses back to the same tree.
//! assert_eq!(spate_ql::parse_app(&app.to_string()).unwrap(), app);
//! ```

pub mod ast;
pub mod diagnostic;
pub mod display;
pub mod lexer;
mod parser;
pub mod span;
pub mod vars;

pub use diagnostic::{Diagnostic, DiagnosticKind};
pub use span::{LineCol, LineIndex, Span};

use parser::Parser;

/// Parses a whole Siddhi app. On failure returns every syntax diagnostic found, in text order.
pub fn parse_app(text: &str) -> Result<ast::SiddhiApp, Vec<Diagnostic>> {
    let mut parser = Parser::new(text);
    let app = parser.app();
    parser.finish(Some(app))
}

/// Parses one on-demand (store) query, such as `from T on a > 1 select a`.
pub fn parse_store_query(text: &str) -> Result<ast::StoreQuery, Vec<Diagnostic>> {
    let mut parser = Parser::new(text);
    let query = parser
        .store_query()
        .and_then(|q| parser.expect_end().map(|()| q))
        .ok();
    parser.finish(query)
}

/// Parses a single expression, such as `price * 2 > 10 and symbol == 'IBM'`.
pub fn parse_expression(text: &str) -> Result<ast::Expr, Vec<Diagnostic>> {
    let mut parser = Parser::new(text);
    let expr = parser.expr().and_then(|e| {
        if parser.at_eof() {
            Ok(e)
        } else {
            Err(parser.expected_end())
        }
    });
    parser.finish(expr.ok())
}
