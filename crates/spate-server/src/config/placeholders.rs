//! `${...}` placeholders in string values, filled as WSO2's Carbon config loader fills them:
//!
//! | Placeholder | Value |
//! |---|---|
//! | `${env:NAME}`, `${env:NAME,default}` | environment variable `NAME` |
//! | `${sys:NAME}`, `${sys:NAME,default}` | a system property: Spate knows `carbon.home` (`CARBON_HOME`, else the working directory) and `wso2.runtime` (`server`) |
//! | `${NAME}` | system property `NAME`, else environment variable `NAME` |
//! | `${sec:alias}` | not supported (no secure vault): an error that says to use `${env:...}` |
//!
//! A placeholder with no value and no default is an error naming the key. Only the sections
//! Spate reads are filled, like WSO2 fills only the namespaces a component asks for.

use std::collections::BTreeMap;

use super::problems::Report;
use super::reader::child;
use super::yaml::{Node, Value};

/// What placeholders can refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// System properties (`carbon.home`, `wso2.runtime`, ...).
    pub system: BTreeMap<String, String>,
}

/// Fills every placeholder in the scalars under `node`; `path` names `node` in messages.
pub fn fill(node: &mut Node, path: &str, vars: &Variables, report: &mut Report) {
    match &mut node.value {
        Value::Scalar { text, .. } if text.contains("${") => match expand(text, vars) {
            Ok(filled) => *text = filled,
            Err(message) => report.problem(path, &node.origin, message),
        },
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                fill(item, &format!("{path}[{i}]"), vars, report);
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries {
                fill(value, &child(path, &key.name), vars, report);
            }
        }
        _ => {}
    }
}

/// `text` with its placeholders replaced, or what is missing.
pub fn expand(text: &str, vars: &Variables) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&lookup(&rest[start + 2..start + len], vars)?);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(inner: &str, vars: &Variables) -> Result<String, String> {
    let (kind, spec) = match inner.split_once(':') {
        Some((kind @ ("env" | "sys" | "sec"), spec)) => (kind, spec),
        _ => ("", inner),
    };
    let (name, default) = match spec.split_once(',') {
        Some((name, default)) if !kind.is_empty() => (name, Some(default)),
        _ => (spec, None),
    };
    let found = match kind {
        "env" => vars.env.get(name),
        "sys" => vars.system.get(name),
        "sec" => {
            return Err(format!(
                "`${{sec:{name}}}` needs WSO2's secure vault, which Spate does not have; put the \
                 secret in an environment variable and write `${{env:VARIABLE}}`"
            ));
        }
        _ => vars.system.get(name).or_else(|| vars.env.get(name)),
    };
    match (found, default) {
        (Some(value), _) => Ok(value.clone()),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(match kind {
            "env" => format!(
                "environment variable {name} is not set (`${{env:{name}}}`); set it, or give a \
                 default: `${{env:{name},value}}`"
            ),
            "sys" => format!(
                "system property {name} is unknown to Spate (`${{sys:{name}}}`); Spate knows \
                 carbon.home and wso2.runtime, or give a default: `${{sys:{name},value}}`"
            ),
            _ => format!(
                "`${{{name}}}` is neither a known system property nor a set environment variable; set {name}"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        let mut v = Variables::default();
        v.env.insert("DB_HOST".into(), "db.internal".into());
        v.system.insert("carbon.home".into(), "/opt/si".into());
        v
    }

    #[test]
    fn wso2_forms() {
        let v = vars();
        assert_eq!(
            expand("jdbc:mysql://${env:DB_HOST}:3306/p", &v).unwrap(),
            "jdbc:mysql://db.internal:3306/p"
        );
        assert_eq!(
            expand("${sys:carbon.home}/wso2/${env:NOPE,server}/db", &v).unwrap(),
            "/opt/si/wso2/server/db"
        );
        assert_eq!(
            expand("${DB_HOST}-${carbon.home}", &v).unwrap(),
            "db.internal-/opt/si"
        );
        assert_eq!(
            expand("no placeholder, ${unterminated", &v).unwrap(),
            "no placeholder, ${unterminated"
        );
        assert!(
            expand("${env:NOPE}", &v)
                .unwrap_err()
                .contains("NOPE is not set")
        );
        assert!(
            expand("${sec:db.password}", &v)
                .unwrap_err()
                .contains("secure vault")
        );
        assert!(
            expand("${sys:user.dir}", &v)
                .unwrap_err()
                .contains("user.dir")
        );
    }
}
