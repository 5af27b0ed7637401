//! A small YAML document tree built from the `granit-parser` event stream.
//!
//! Scalars keep their text as written and whether they were quoted, so the config readers decide
//! what a value means from the field it lands in: a password `0123` stays `0123`, a quoted port
//! `'9893'` is still a port, and YAML 1.1 booleans (`yes`, `on`) still read as booleans where a
//! boolean is expected — the seed files were written for SnakeYAML. Every node remembers the line
//! it came from (or the environment variable that set it) for error messages.

use std::collections::HashMap;
use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle, Span};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line (1-based) of the YAML file.
    Line(usize),
    /// An environment variable override.
    Env(String),
    /// A default (nothing was written).
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line(line) => write!(f, "line {line}"),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null`, or nothing at all.
    Null,
    /// A scalar as written; `plain` is false for quoted, block and `!!str` scalars.
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order (duplicate keys are kept for the readers to report).
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where it was written.
    pub origin: Origin,
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it came from.
    pub origin: Origin,
}

impl Node {
    /// A node with the given value and origin.
    pub fn new(value: Value, origin: Origin) -> Node {
        Node { value, origin }
    }

    /// An empty mapping.
    pub fn empty_map(origin: Origin) -> Node {
        Node::new(Value::Map(Vec::new()), origin)
    }

    /// The entry for `key` in a mapping (the last one if written twice, as SnakeYAML does).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries
                .iter_mut()
                .rev()
                .find(|(k, _)| k.name == key)
                .map(|(_, n)| n),
            _ => None,
        }
    }
}

/// A YAML syntax error: the line and what the parser said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// The parser's message.
    pub message: String,
}

/// Parses the first document of `text`; an empty document is an empty mapping.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line(),
            message: e.info(),
        })?;
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError {
                        line: line_of(&span),
                        message: "a second YAML document (`---`); deployment.yaml holds one".into(),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let is_str_tag = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema_tag("str"));
                let plain = style == ScalarStyle::Plain && !is_str_tag;
                let value = if plain && is_null(&text) {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    }
                };
                builder.add(Node::new(value, Origin::Line(line_of(&span))), anchor)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                builder.open(Value::Seq(Vec::new()), &span, anchor)
            }
            Event::MappingStart(_, anchor, _) => {
                builder.open(Value::Map(Vec::new()), &span, anchor)
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close()?,
            Event::Alias(id) => {
                let node = builder
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| SyntaxError {
                        line: line_of(&span),
                        message: "alias to an unknown anchor".into(),
                    })?;
                builder.add(node, 0)?;
            }
            _ => {}
        }
    }
    Ok(builder
        .root
        .unwrap_or_else(|| Node::empty_map(Origin::Line(1))))
}

fn line_of(span: &Span) -> usize {
    span.start.line()
}

/// YAML 1.2 core schema nulls (plain scalars only).
fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// Collections being built, innermost last.
#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
}

struct Open {
    node: Node,
    anchor: usize,
    /// For mappings: the key read, waiting for its value.
    pending_key: Option<Key>,
}

impl Builder {
    fn open(&mut self, value: Value, span: &Span, anchor: usize) {
        let node = Node::new(value, Origin::Line(line_of(span)));
        self.stack.push(Open {
            node,
            anchor,
            pending_key: None,
        });
    }

    fn close(&mut self) -> Result<(), SyntaxError> {
        let open = self.stack.pop().ok_or_else(|| SyntaxError {
            line: 0,
            message: "unbalanced collection end".into(),
        })?;
        self.add(open.node, open.anchor)
    }

    fn add(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut parent.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.pending_key.take() {
                Some(key) => entries.push((key, node)),
                None => {
                    let name = match node.value {
                        Value::Scalar { text, .. } => text,
                        Value::Null => String::new(),
                        _ => {
                            return Err(SyntaxError {
                                line: origin_line(&node.origin),
                                message: "a mapping key must be a plain value".into(),
                            });
                        }
                    };
                    parent.pending_key = Some(Key {
                        name,
                        origin: node.origin,
                    });
                }
            },
            _ => {}
        }
        Ok(())
    }
}

fn origin_line(origin: &Origin) -> usize {
    match origin {
        Origin::Line(line) => *line,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> (&str, bool) {
        match &node.value {
            Value::Scalar { text, plain } => (text, *plain),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn keeps_text_quoting_lines_and_aliases() {
        let doc =
            "a:\n  port: '7611'\n  pw: 0123\n  on: yes\n  n: ~\nlist:\n  - &X {k: v}\n  - *X\n";
        let mut root = parse(doc).unwrap();
        let a = root.get_mut("a").unwrap();
        assert_eq!(scalar(a.get_mut("port").unwrap()), ("7611", false));
        let pw = a.get_mut("pw").unwrap();
        assert_eq!(scalar(pw), ("0123", true));
        assert_eq!(pw.origin, Origin::Line(3));
        assert_eq!(a.get_mut("n").unwrap().value, Value::Null);
        let Value::Seq(items) = &root.get_mut("list").unwrap().value else {
            panic!()
        };
        assert_eq!(items[0].value, items[1].value);
    }

    #[test]
    fn empty_and_broken_documents() {
        assert_eq!(
            parse("# only a comment\n").unwrap().value,
            Value::Map(Vec::new())
        );
        let e = parse("a: 1\n b: [\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }
}
