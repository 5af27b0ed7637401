//! Typed reading of one YAML mapping: each key Spate knows is taken once, with its type checked;
//! whatever is left at the end is an unknown key, reported with the closest known spelling.

use std::str::FromStr;
use std::time::Duration;

use super::problems::Report;
use super::yaml::{Key, Node, Origin, Value};

/// Reads the keys of one mapping at `path`.
pub struct MapReader<'a> {
    path: String,
    origin: Origin,
    entries: &'a [(Key, Node)],
    used: Vec<bool>,
    known: Vec<&'static str>,
}

impl<'a> MapReader<'a> {
    /// Reads `node` as a mapping; `null` reads as an empty one. Anything else is a problem.
    pub fn new(path: impl Into<String>, node: &'a Node, report: &mut Report) -> Option<Self> {
        let path = path.into();
        let entries: &[(Key, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => {
                report.problem(&path, &node.origin, "expected a mapping of keys to values");
                return None;
            }
        };
        let mut seen: Vec<&str> = Vec::new();
        for (key, _) in entries {
            if seen.contains(&key.name.as_str()) {
                let p = child(&path, &key.name);
                report.problem(p, &key.origin, "the key is written twice; keep one");
            }
            seen.push(&key.name);
        }
        Some(MapReader {
            path,
            origin: node.origin.clone(),
            entries,
            used: vec![false; entries.len()],
            known: Vec::new(),
        })
    }

    /// The path of `key` in this mapping.
    pub fn path_of(&self, key: &str) -> String {
        child(&self.path, key)
    }

    /// Where this mapping was written.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Takes `key` (the last entry if written twice); `None` when absent or null.
    pub fn node(&mut self, key: &'static str) -> Option<&'a Node> {
        self.known.push(key);
        let mut found = None;
        for (i, (k, node)) in self.entries.iter().enumerate() {
            if k.name == key {
                self.used[i] = true;
                found = Some(node);
            }
        }
        found.filter(|n| n.value != Value::Null)
    }

    /// Accepts keys Spate knows but does not use.
    pub fn accept(&mut self, keys: &[&'static str]) {
        for key in keys {
            let _taken = self.node(key);
        }
    }

    /// Rejects a key Spate knows and cannot honour, if present.
    pub fn reject(&mut self, key: &'static str, why: &str, report: &mut Report) {
        if let Some(node) = self.node(key) {
            report.problem(self.path_of(key), &node.origin, why);
        }
    }

    /// A string value (numbers and booleans are taken as written).
    pub fn string(&mut self, key: &'static str, report: &mut Report) -> Option<String> {
        let node = self.node(key)?;
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                report.problem(self.path_of(key), &node.origin, "expected a single value");
                None
            }
        }
    }

    /// The scalar at `key` read by `parse`, with its node; reports `expected` when it does not
    /// parse.
    fn scalar_as<T>(
        &mut self,
        key: &'static str,
        report: &mut Report,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<(T, &'a Node)> {
        let node = self.node(key)?;
        let parsed = match &node.value {
            Value::Scalar { text, .. } => parse(text.trim()),
            _ => None,
        };
        if parsed.is_none() {
            let found = describe(node);
            report.problem(
                self.path_of(key),
                &node.origin,
                format!("expected {expected}, found {found}"),
            );
        }
        parsed.map(|v| (v, node))
    }

    /// A whole number of type `T` (quoted digits are accepted, as SnakeYAML accepts them).
    pub fn number<T: FromStr>(&mut self, key: &'static str, report: &mut Report) -> Option<T> {
        let expected = "a whole number (digits only, e.g. `5000`)";
        self.scalar_as(key, report, expected, |t| t.parse().ok())
            .map(|(v, _)| v)
    }

    /// A whole number that must be at least 1.
    pub fn positive<T: FromStr + PartialOrd + From<u8>>(
        &mut self,
        key: &'static str,
        report: &mut Report,
    ) -> Option<T> {
        let expected = "a whole number of at least 1";
        let (value, node) = self.scalar_as(key, report, expected, |t| t.parse::<T>().ok())?;
        if value < T::from(1) {
            report.problem(self.path_of(key), &node.origin, "must be at least 1");
            return None;
        }
        Some(value)
    }

    /// A duration written as whole milliseconds.
    pub fn millis(&mut self, key: &'static str, report: &mut Report) -> Option<Duration> {
        self.number::<u64>(key, report).map(Duration::from_millis)
    }

    /// A boolean: `true`/`false`, and YAML 1.1's `yes`/`no`/`on`/`off`, in any case.
    pub fn bool(&mut self, key: &'static str, report: &mut Report) -> Option<bool> {
        let parse = |t: &str| match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => None,
        };
        self.scalar_as(key, report, "true or false", parse)
            .map(|(v, _)| v)
    }

    /// A nested mapping (absent or null reads as empty).
    pub fn map(&mut self, key: &'static str, report: &mut Report) -> Option<MapReader<'a>> {
        const EMPTY: &Node = &Node {
            value: Value::Null,
            origin: Origin::Default,
        };
        let node = self.node(key).unwrap_or(EMPTY);
        MapReader::new(self.path_of(key), node, report)
    }

    /// A sequence (absent or null reads as empty).
    pub fn seq(&mut self, key: &'static str, report: &mut Report) -> &'a [Node] {
        match self.node(key) {
            None => &[],
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items,
            Some(node) => {
                report.problem(
                    self.path_of(key),
                    &node.origin,
                    "expected a list (`- ...` items)",
                );
                &[]
            }
        }
    }

    /// Reports every key that was not taken as unknown, suggesting the closest known key.
    pub fn finish(self, report: &mut Report) {
        for ((key, _), used) in self.entries.iter().zip(&self.used) {
            if *used {
                continue;
            }
            let message = match closest(&key.name, &self.known) {
                Some(known) => format!("unknown key; did you mean {known}? Fix the spelling"),
                None => format!(
                    "unknown key; Spate knows {} here. Remove it",
                    if self.known.is_empty() {
                        "no keys".to_string()
                    } else {
                        self.known.join(", ")
                    }
                ),
            };
            report.problem(child(&self.path, &key.name), &key.origin, message);
        }
    }
}

/// `parent.key`.
pub fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Scalar { text, .. } => format!("`{text}`"),
        Value::Seq(_) => "a list".to_string(),
        Value::Map(_) => "a mapping".to_string(),
        Value::Null => "nothing".to_string(),
    }
}

/// The known key closest to `key`: same letters ignoring case and `_`/`-`, or at most a third
/// of the letters (and at most 3) changed.
fn closest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    let wanted = norm(key);
    known
        .iter()
        .map(|k| (edit_distance(&wanted, &norm(k)), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    #[test]
    fn types_unknown_keys_and_suggestions() {
        let root =
            parse("heartbeatIntrval: 10\nmaxRetry: x\nenabled: yes\nport: '9893'\n").unwrap();
        let mut report = Report::default();
        let mut r = MapReader::new("cluster.config.strategyConfig", &root, &mut report).unwrap();
        assert_eq!(r.millis("heartbeatInterval", &mut report), None);
        assert_eq!(r.number::<u32>("maxRetry", &mut report), None);
        assert_eq!(r.bool("enabled", &mut report), Some(true));
        assert_eq!(r.number::<u16>("port", &mut report), Some(9893));
        r.finish(&mut report);
        let messages: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with(
            "line 2: cluster.config.strategyConfig.maxRetry: expected a whole number"
        ));
        assert_eq!(
            messages[1],
            "line 1: cluster.config.strategyConfig.heartbeatIntrval: unknown key; did you mean \
             heartbeatInterval? Fix the spelling"
        );
    }

    #[test]
    fn closest_needs_a_near_miss() {
        assert_eq!(
            closest("HEARTBEAT_INTERVAL", &["heartbeatInterval"]),
            Some("heartbeatInterval")
        );
        assert_eq!(closest("enabeld", &["enabled", "groupId"]), Some("enabled"));
        assert_eq!(closest("colour", &["enabled", "groupId"]), None);
    }
}
