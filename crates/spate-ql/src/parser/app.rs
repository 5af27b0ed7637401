//! The app level: `@app:...` annotations, then definitions, then queries and partitions, all
//! separated by `;`; and annotations (`@name(key='value', @nested(...))`).
//!
//! This is where errors are recovered from: a failed element is skipped up to its `;` and the
//! next one is parsed, so every broken element of an app is reported in one run.

use super::{PResult, Parser};
use crate::ast::{
    Annotation, AnnotationElement, AnnotationItem, ExecutionElement, Ident, SiddhiApp,
};
use crate::lexer::{Kw, TokenKind};
use crate::span::Span;

impl Parser<'_> {
    /// A whole app. Always returns a tree; the caller discards it if diagnostics were recorded.
    pub(crate) fn app(&mut self) -> SiddhiApp {
        let start = self.peek().span;
        let mut app_annotations = Vec::new();
        while self.at_app_annotation() {
            match self.annotation(true) {
                Ok(annotation) => app_annotations.push(annotation),
                Err(_) => self.skip_annotation(),
            }
        }
        let mut definitions = Vec::new();
        let mut elements = Vec::new();
        // The first query or partition; definitions after it are an error in Siddhi 5.1.7.
        let mut first_execution: Option<Span> = None;
        while !self.at(TokenKind::Eof) {
            let element_start = self.peek().span;
            let parsed = self
                .annotations()
                .and_then(|annotations| match self.kind() {
                    TokenKind::Keyword(Kw::Define) => {
                        let definition = self.definition(annotations)?;
                        if let Some(first) = first_execution {
                            let span = self.span_from(element_start);
                            self.error(
                                span,
                                "definitions must come before all queries and partitions",
                            )
                            .labels
                            .push(crate::diagnostic::Label {
                                span: first,
                                message: "first query or partition".to_string(),
                            });
                        }
                        definitions.push(definition);
                        Ok(())
                    }
                    TokenKind::Keyword(Kw::From) => {
                        let query = self.query(annotations)?;
                        first_execution.get_or_insert(query.span);
                        elements.push(ExecutionElement::Query(query));
                        Ok(())
                    }
                    TokenKind::Keyword(Kw::Partition) => {
                        let partition = self.partition(annotations)?;
                        first_execution.get_or_insert(partition.span);
                        elements.push(ExecutionElement::Partition(partition));
                        Ok(())
                    }
                    _ => Err(self.expected("`define`, `from`, `partition` or an annotation")),
                });
            match parsed {
                Ok(()) => {
                    if self.eat(TokenKind::Semi).is_none() && !self.at(TokenKind::Eof) {
                        let _ = self.expected("`;`");
                        // A missing `;` before a new element needs no skipping.
                        if !self.at_element_start() {
                            self.recover(false);
                        }
                    }
                }
                Err(_) => self.recover(false),
            }
        }
        if definitions.is_empty() && self.diags.is_empty() {
            let span = elements.first().map_or(Span::new(0, 0), element_span);
            let message = if elements.is_empty() {
                "the app is empty: it has no definitions and no queries"
            } else {
                "an app needs at least one definition before its queries"
            };
            self.error(span, message).help =
                Some("define the input streams, e.g. `define stream S (a int);`".to_string());
        }
        SiddhiApp {
            app_annotations,
            definitions,
            elements,
            span: self.span_from(start),
        }
    }

    /// Whether the current token starts a definition, query, partition or annotation.
    fn at_element_start(&self) -> bool {
        matches!(
            self.kind(),
            TokenKind::Keyword(Kw::Define | Kw::From | Kw::Partition) | TokenKind::At
        )
    }

    fn at_app_annotation(&self) -> bool {
        self.at(TokenKind::At) && self.nth_is_kw(1, Kw::App) && self.nth_kind(2) == TokenKind::Colon
    }

    /// The annotations before a definition, query or partition.
    pub(crate) fn annotations(&mut self) -> PResult<Vec<Annotation>> {
        let mut list = Vec::new();
        while self.at(TokenKind::At) {
            if self.at_app_annotation() {
                let span = self.nth(1).span.to(self.nth(2).span);
                self.error(span, "`@app:` annotations must come before all definitions");
                self.annotation(true)?;
                continue;
            }
            list.push(self.annotation(false)?);
        }
        Ok(list)
    }

    /// After a broken app annotation: skips to the next `@` or element start.
    fn skip_annotation(&mut self) {
        self.bump();
        while !(self.at(TokenKind::Eof) || self.at_element_start()) {
            if self.eat(TokenKind::Semi).is_some() {
                return;
            }
            self.bump();
        }
    }

    /// `@name(items)` or, for `app`, `@app:name(elements)` (stored without the prefix).
    fn annotation(&mut self, app: bool) -> PResult<Annotation> {
        self.nested(|p| {
            let start = p.expect(TokenKind::At)?;
            if app {
                p.bump();
                p.bump();
            }
            let name = p.name("an annotation name")?;
            let mut items = Vec::new();
            if p.eat(TokenKind::LParen).is_some() {
                items = p.comma_list(|p| {
                    Ok(if p.at(TokenKind::At) && !app {
                        AnnotationItem::Annotation(p.annotation(false)?)
                    } else {
                        AnnotationItem::Element(p.annotation_element()?)
                    })
                })?;
                p.close_list()?;
            }
            Ok(Annotation {
                name,
                items,
                span: p.span_from(start),
            })
        })
    }

    /// `key = 'value'` or `'value'`; keys are names joined by `.`, `-` or `:`, or a string.
    fn annotation_element(&mut self) -> PResult<AnnotationElement> {
        let start = self.peek().span;
        if let TokenKind::Str(_) = self.kind()
            && self.nth_kind(1) != TokenKind::Assign
        {
            let value = self.string()?;
            return Ok(AnnotationElement {
                key: None,
                value,
                span: start,
            });
        }
        let key = if let TokenKind::Str(_) = self.kind() {
            let key = self.string()?;
            Ident::new(key.value, key.span)
        } else if self.at_name() {
            let mut key = self.name("a property name")?.name;
            while matches!(
                self.kind(),
                TokenKind::Dot | TokenKind::Minus | TokenKind::Colon
            ) && self.nth_is_name(1)
            {
                key.push_str(self.kind().punct().unwrap_or("."));
                self.bump();
                key.push_str(&self.name("a property name")?.name);
            }
            Ident::new(key, self.span_from(start))
        } else {
            return Err(self.expected("a property such as `key='value'`"));
        };
        if self.eat(TokenKind::Assign).is_none() {
            return Err(self.expected("`=`"));
        }
        let value = self.string()?;
        Ok(AnnotationElement {
            key: Some(key),
            value,
            span: self.span_from(start),
        })
    }
}

fn element_span(element: &ExecutionElement) -> Span {
    match element {
        ExecutionElement::Query(q) => q.span,
        ExecutionElement::Partition(p) => p.span,
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::parse_app;

    #[test]
    fn app_annotations_and_nested_annotations() {
        let app = parse_app(
            "@App:name('X') @app:description(\"d\")\n\
             @source(type='http', receiver.url='u', 'k'='v', @map(type='json', @attributes(a='$.a')))\n\
             define stream S (a int);",
        )
        .unwrap();
        assert_eq!(app.app_annotations.len(), 2);
        assert_eq!(app.app_annotations[0].name.name, "name");
        let Definition::Stream(s) = &app.definitions[0] else {
            panic!()
        };
        let items = &s.annotations[0].items;
        assert!(matches!(&items[1], AnnotationItem::Element(e)
            if e.key.as_ref().unwrap().name == "receiver.url"));
        assert!(
            matches!(&items[2], AnnotationItem::Element(e) if e.key.as_ref().unwrap().name == "k")
        );
        assert!(matches!(&items[3], AnnotationItem::Annotation(a) if a.items.len() == 2));
    }

    #[test]
    fn element_order_rules() {
        assert!(parse_app("from S select a insert into O;").is_err());
        assert!(parse_app("").is_err());
        let err = parse_app(
            "define stream S (a int); from S select a insert into O; define stream T (a int);",
        )
        .unwrap_err();
        assert_eq!(
            err[0].message,
            "definitions must come before all queries and partitions"
        );
        assert!(
            parse_app("define stream S (a int); @app:name('x') define stream T (a int);").is_err()
        );
        assert!(parse_app("define stream S (a int)").is_ok());
    }

    #[test]
    fn every_broken_element_is_reported() {
        let err = parse_app(
            "define stream S (a int);\nfrom S selct a insert into O;\nfrom S select a * 2 insert into P;\nfrom S select a insert O;",
        )
        .unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
    }
}
