//! Environment overrides: `SPATE__<SECTION>__<KEY>[__<KEY>...]=value` sets one key of
//! `deployment.yaml` before it is read.
//!
//! - `<SECTION>` is the top-level section with `.` written as `_`, in upper case:
//!   `WSO2_CARBON`, `WSO2_DATASOURCES`, `STATE_PERSISTENCE`, `CLUSTER_CONFIG`,
//!   `DEPLOYMENT_CONFIG`, `SPATE`.
//! - Each `<KEY>` is a camelCase key in upper snake case: `intervalInMin` is `INTERVAL_IN_MIN`,
//!   `strategyConfig` is `STRATEGY_CONFIG`. Nested keys follow with `__`.
//! - Datasources are addressed by name, and their keys are those of
//!   `definition.configuration`: `SPATE__WSO2_DATASOURCES__PERSISTENCE_DB__JDBC_URL=jdbc:...`.
//!   A name that is not in the file adds a datasource.
//!
//! Examples: `SPATE__STATE_PERSISTENCE__INTERVAL_IN_MIN=5`,
//! `SPATE__CLUSTER_CONFIG__STRATEGY_CONFIG__HEARTBEAT_INTERVAL=2000`,
//! `SPATE__DEPLOYMENT_CONFIG__EVENT_SYNC_SERVER__ADVERTISED_HOST=10.0.0.7`,
//! `SPATE__WSO2_CARBON__ID=node-2`, `SPATE__SPATE__API__BIND=127.0.0.1:9090`.
//! Values are read like plain YAML scalars and may hold `${...}` placeholders. A variable that
//! names no known section is an error; a key the section does not know is reported by the
//! section like a misspelt key in the file.

use std::collections::BTreeMap;

use super::problems::Report;
use super::sections;
use super::yaml::{Key, Node, Origin, Value};

/// The prefix of override variables.
pub const ENV_PREFIX: &str = "SPATE__";

/// Applies every `SPATE__` variable in `env` to `root`.
pub fn apply(root: &mut Node, env: &BTreeMap<String, String>, report: &mut Report) {
    for (var, value) in env.range(ENV_PREFIX.to_string()..) {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            break;
        };
        let origin = Origin::Env(var.clone());
        let tokens: Vec<&str> = rest.split("__").collect();
        if tokens.len() < 2 || tokens.iter().any(|t| t.is_empty()) {
            report.problem("", &origin, "expected SPATE__<SECTION>__<KEY>[__<KEY>...]");
            continue;
        }
        let Some(section) = sections::ALL.iter().find(|s| env_token(s) == tokens[0]) else {
            let known: Vec<String> = sections::ALL.iter().map(|s| env_token(s)).collect();
            let message = format!(
                "unknown section `{}`; use one of {}",
                tokens[0],
                known.join(", ")
            );
            report.problem("", &origin, message);
            continue;
        };
        let leaf = Node::new(
            Value::Scalar {
                text: value.clone(),
                plain: true,
            },
            origin.clone(),
        );
        let keys = &tokens[1..];
        let result = entry(root, section, section, &origin).and_then(|section_node| {
            if *section == sections::DATASOURCES {
                set_datasource(section_node, keys, leaf)
            } else {
                set_path(section_node, keys, leaf)
            }
        });
        if let Err(message) = result {
            report.problem("", &origin, message);
        }
    }
}

/// `state.persistence` as an environment token: `STATE_PERSISTENCE`.
fn env_token(section: &str) -> String {
    section.replace('.', "_").to_ascii_uppercase()
}

/// `INTERVAL_IN_MIN` as a YAML key: `intervalInMin`.
fn camel_case(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    for (i, part) in token.split('_').filter(|p| !p.is_empty()).enumerate() {
        let lower = part.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            out.push_str(chars.as_str());
        }
    }
    out
}

fn same_key(written: &str, token: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    norm(written) == norm(token)
}

/// The value under the key matching `token` (loosely) in mapping `node`; if absent, a new empty
/// mapping under `new_name`. A null `node` becomes a mapping first.
fn entry<'a>(
    node: &'a mut Node,
    token: &str,
    new_name: &str,
    origin: &Origin,
) -> Result<&'a mut Node, String> {
    if node.value == Value::Null {
        node.value = Value::Map(Vec::new());
    }
    let Value::Map(entries) = &mut node.value else {
        return Err(format!(
            "cannot set `{new_name}`: its parent is not a mapping"
        ));
    };
    let index = match entries.iter().rposition(|(k, _)| same_key(&k.name, token)) {
        Some(i) => i,
        None => {
            let key = Key {
                name: new_name.to_string(),
                origin: origin.clone(),
            };
            entries.push((key, Node::empty_map(origin.clone())));
            entries.len() - 1
        }
    };
    Ok(&mut entries[index].1)
}

fn set_path(mut node: &mut Node, keys: &[&str], leaf: Node) -> Result<(), String> {
    let origin = leaf.origin.clone();
    for key in keys {
        node = entry(node, key, &camel_case(key), &origin)?;
    }
    *node = leaf;
    Ok(())
}

/// `NAME__KEY...`: sets `definition.configuration.KEY...` (or `description`) of the datasource.
fn set_datasource(section: &mut Node, tokens: &[&str], leaf: Node) -> Result<(), String> {
    let origin = leaf.origin.clone();
    let [name, keys @ ..] = tokens else {
        return Err("no datasource name".into());
    };
    if keys.is_empty() {
        return Err(format!(
            "name a key of datasource {name}, e.g. __{name}__JDBC_URL"
        ));
    }
    let list = entry(section, "dataSources", "dataSources", &origin)?;
    if matches!(list.value, Value::Null) || list.value == Value::Map(Vec::new()) {
        list.value = Value::Seq(Vec::new());
    }
    let Value::Seq(items) = &mut list.value else {
        return Err("wso2.datasources.dataSources is not a list".into());
    };
    let position = items.iter_mut().position(|item| {
        item.get_mut("name")
            .is_some_and(|n| matches!(&n.value, Value::Scalar { text, .. } if same_key(text, name)))
    });
    let item = match position {
        Some(i) => &mut items[i],
        None => {
            let name_node = Node::new(
                Value::Scalar {
                    text: (*name).to_string(),
                    plain: false,
                },
                origin.clone(),
            );
            let key = Key {
                name: "name".into(),
                origin: origin.clone(),
            };
            items.push(Node::new(
                Value::Map(vec![(key, name_node)]),
                origin.clone(),
            ));
            let last = items.len() - 1;
            &mut items[last]
        }
    };
    if keys.len() == 1 && same_key("description", keys[0]) {
        return set_path(item, keys, leaf);
    }
    let mut path = vec!["definition", "configuration"];
    path.extend_from_slice(keys);
    set_path(item, &path, leaf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    fn scalar_at(node: &mut Node, path: &[&str]) -> String {
        let mut n = node;
        for key in path {
            n = n.get_mut(key).unwrap_or_else(|| panic!("no {key}"));
        }
        match &n.value {
            Value::Scalar { text, .. } => text.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sets_existing_and_new_keys() {
        let mut root = parse(
            "state.persistence:\n  intervalInMin: 1\nwso2.datasources:\n  dataSources:\n    - name: PERSISTENCE_DB\n      definition:\n        configuration:\n          jdbcUrl: x\n",
        )
        .unwrap();
        let env: BTreeMap<String, String> = [
            ("SPATE__STATE_PERSISTENCE__INTERVAL_IN_MIN", "5"),
            (
                "SPATE__CLUSTER_CONFIG__STRATEGY_CONFIG__HEARTBEAT_INTERVAL",
                "2000",
            ),
            (
                "SPATE__WSO2_DATASOURCES__PERSISTENCE_DB__JDBC_URL",
                "jdbc:sqlite:p.db",
            ),
            ("SPATE__WSO2_DATASOURCES__CLUSTER_DB__MAX_POOL_SIZE", "4"),
            ("SPATE_NOT_OURS", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut report = Report::default();
        apply(&mut root, &env, &mut report);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(
            scalar_at(&mut root, &["state.persistence", "intervalInMin"]),
            "5"
        );
        assert_eq!(
            scalar_at(
                &mut root,
                &["cluster.config", "strategyConfig", "heartbeatInterval"]
            ),
            "2000"
        );
        let Value::Seq(items) = &mut root
            .get_mut("wso2.datasources")
            .unwrap()
            .get_mut("dataSources")
            .unwrap()
            .value
        else {
            panic!()
        };
        assert_eq!(
            scalar_at(&mut items[0], &["definition", "configuration", "jdbcUrl"]),
            "jdbc:sqlite:p.db"
        );
        assert_eq!(scalar_at(&mut items[1], &["name"]), "CLUSTER_DB");
        assert_eq!(
            scalar_at(
                &mut items[1],
                &["definition", "configuration", "maxPoolSize"]
            ),
            "4"
        );
    }

    #[test]
    fn unknown_sections_are_problems() {
        let mut root = parse("").unwrap();
        let env = BTreeMap::from([("SPATE__CLUSTER__ENABLED".to_string(), "true".to_string())]);
        let mut report = Report::default();
        apply(&mut root, &env, &mut report);
        assert_eq!(report.problems.len(), 1);
        assert!(
            report.problems[0]
                .to_string()
                .contains("unknown section `CLUSTER`")
        );
        assert_eq!(
            camel_case("PASSIVE_NODE_DETAILS_WAIT_TIME_OUT_MILLIS"),
            "passiveNodeDetailsWaitTimeOutMillis"
        );
    }
}
