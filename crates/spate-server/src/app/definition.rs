//! An app as the node deploys it: the text, its compiled plan, and the sources and sinks its
//! stream annotations declare — checked together, so a deploy either fails with every problem
//! at its line:column or yields something that can run.
//!
//! The engine runs queries; connectors are the node's business. So `@source`/`@sink`
//! annotations are taken off the streams here (after `${VAR}` placeholders are filled) and the
//! rest goes to the planner unchanged.

use std::sync::Arc;

use spate_engine::plan::{self, AppPlan, StreamId};
use spate_ql::ast::Definition;
use spate_ql::{Diagnostic, LineIndex, Span};

use crate::connector::{self, ConnectorSpec};

/// A stream's connector.
#[derive(Debug, Clone)]
pub struct Attached {
    pub stream: StreamId,
    pub stream_name: String,
    pub spec: ConnectorSpec,
}

/// A deployable app.
#[derive(Debug)]
pub struct AppDefinition {
    /// `@app:name`.
    pub name: String,
    /// The text as given (placeholders unfilled).
    pub text: String,
    pub plan: Arc<AppPlan>,
    pub sources: Vec<Attached>,
    pub sinks: Vec<Attached>,
}

/// Why an app cannot be deployed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidApp {
    /// `line:column: kind error: message` of the first problem, `(and N more)` when several.
    pub message: String,
    /// Where the first problem is (1-based).
    pub line: usize,
    pub column: usize,
    /// Every problem, one line each.
    pub problems: Vec<String>,
}

impl InvalidApp {
    fn new(text: &str, diags: &[Diagnostic]) -> InvalidApp {
        let index = LineIndex::new(text);
        let first = diags.first();
        let lc = first.map(|d| index.line_col(text, d.span.start as usize));
        let problems: Vec<String> = diags.iter().map(|d| d.one_line(text)).collect();
        let mut message = problems.first().cloned().unwrap_or_default();
        if problems.len() > 1 {
            message.push_str(&format!(" (and {} more)", problems.len() - 1));
        }
        InvalidApp {
            message,
            line: lc.map_or(1, |lc| lc.line),
            column: lc.map_or(1, |lc| lc.column),
            problems,
        }
    }
}

/// Parses, checks and compiles `text`, filling `${VAR}` from `env`.
pub fn define(
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<AppDefinition, InvalidApp> {
    let original = text.strip_prefix('\u{feff}').unwrap_or(text);
    let filled =
        spate_ql::vars::substitute(original, env).map_err(|d| InvalidApp::new(original, &d))?;
    let mut ast = spate_ql::parse_app(&filled).map_err(|d| InvalidApp::new(&filled, &d))?;
    let mut diags = Vec::new();
    let mut found: Vec<(String, bool, ConnectorSpec)> = Vec::new();
    for d in &mut ast.definitions {
        let Definition::Stream(s) = d else { continue };
        let stream = s.id.name.clone();
        s.annotations.retain(|a| {
            let source = a.name.name.eq_ignore_ascii_case("source");
            if !source && !a.name.name.eq_ignore_ascii_case("sink") {
                return true;
            }
            let checked = ConnectorSpec::of(a).and_then(|spec| {
                if source {
                    connector::source(&spec.kind)?.check(&spec)?;
                } else {
                    connector::sink(&spec.kind)?.check(&spec)?;
                }
                Ok(spec)
            });
            match checked {
                Ok(spec) => found.push((stream.clone(), source, spec)),
                Err(message) => diags.push(Diagnostic::validation(a.span, message)),
            }
            false
        });
    }
    let name_annotation = ast
        .app_annotations
        .iter()
        .find(|a| a.name.name.eq_ignore_ascii_case("name"))
        .map(|a| a.span);
    let compiled = plan::compile(&ast);
    if let Err(planner) = &compiled {
        diags.extend(planner.iter().cloned());
    }
    let plan = match compiled {
        Ok(p) if diags.is_empty() => p,
        _ => {
            diags.sort_by_key(|d| d.span.start);
            return Err(InvalidApp::new(&filled, &diags));
        }
    };
    if let Some(d) = plan.unsupported_diagnostic() {
        return Err(InvalidApp::new(&filled, &[d]));
    }
    let at_start = Span::new(0, 0);
    if name_annotation.is_none() {
        let d = Diagnostic::validation(
            at_start,
            "the app needs a name: add @app:name('MyApp') at the top",
        );
        return Err(InvalidApp::new(&filled, &[d]));
    }
    if let Err(e) = spate_store::revision::validate_app_name(&plan.name) {
        let d = Diagnostic::validation(name_annotation.unwrap_or(at_start), e.to_string());
        return Err(InvalidApp::new(&filled, &[d]));
    }
    let mut sources = Vec::new();
    let mut sinks = Vec::new();
    for (stream_name, source, spec) in found {
        let Some(stream) = plan.stream_id(&stream_name) else {
            continue;
        };
        let attached = Attached {
            stream,
            stream_name,
            spec,
        };
        if source {
            sources.push(attached)
        } else {
            sinks.push(attached)
        }
    }
    Ok(AppDefinition {
        name: plan.name.clone(),
        text: original.to_string(),
        plan: Arc::new(plan),
        sources,
        sinks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn takes_connectors_off_the_streams() {
        let text = "@app:name('A')\n\
            @source(type='http', receiver.url='http://0.0.0.0:8006/in', @map(type='json'))\n\
            define stream Trades (sym string, price double);\n\
            @sink(type='log', prefix='out')\n\
            define stream Out (sym string);\n\
            from Trades[price > 10.0] select sym insert into Out;";
        let def = define(text, no_env).expect("valid");
        assert_eq!(def.name, "A");
        assert_eq!(def.sources.len(), 1);
        assert_eq!(def.sources[0].spec.kind, "http");
        assert_eq!(def.sinks[0].stream_name, "Out");
    }

    #[test]
    fn reports_problems_with_line_and_column() {
        let text =
            "@app:name('A')\ndefine stream Trades (a int);\nfrom Trades select b insert into Out;";
        let err = define(text, no_env).expect_err("invalid");
        assert_eq!((err.line, err.column), (3, 20), "{}", err.message);
        let text = "@app:name('A')\n@sink(type='nope')\ndefine stream S (a int);";
        let err = define(text, no_env).expect_err("unknown sink");
        assert!(err.message.starts_with("2:1:"), "{}", err.message);
        assert!(
            err.message.contains("no sink of type 'nope'"),
            "{}",
            err.message
        );
        let err = define("define stream S (a int);", no_env).expect_err("no name");
        assert!(err.message.contains("@app:name"), "{}", err.message);
    }

    #[test]
    fn fills_placeholders() {
        let text = "@app:name('${NAME}')\ndefine stream S (a int);";
        let def = define(text, |v| (v == "NAME").then(|| "Filled".to_string())).expect("valid");
        assert_eq!(def.name, "Filled");
    }
}
