//! The JSON paths of `@attributes(a='$.order.id', b='$.items[0].price')` and
//! `enclosing.element='$.events'`: `$` followed by `.name`, `['name']` and `[index]` steps —
//! the subset Siddhi's JSON mapper documents, without filters or wildcards.

use serde_json::Value as Json;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses `$.a.b[0]['c d']`; the error says where the path goes wrong.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| format!("JSON path '{text}': {why}");
        let rest = text
            .trim()
            .strip_prefix('$')
            .ok_or_else(|| bad("must start with `$`"))?;
        let mut steps = Vec::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '.' => {
                    let start = i + 1;
                    let mut end = rest.len();
                    while let Some(&(j, d)) = chars.peek() {
                        if d == '.' || d == '[' {
                            end = j;
                            break;
                        }
                        chars.next();
                    }
                    let key = &rest[start..end];
                    if key.is_empty() || key == "*" {
                        return Err(bad("expected a name after `.`"));
                    }
                    steps.push(Step::Key(key.to_string()));
                }
                '[' => {
                    let close = rest[i..]
                        .find(']')
                        .map(|k| i + k)
                        .ok_or_else(|| bad("`[` is not closed"))?;
                    let inner = rest[i + 1..close].trim();
                    let quoted = inner
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                    match quoted {
                        Some(key) => steps.push(Step::Key(key.to_string())),
                        None => steps.push(Step::Index(inner.parse().map_err(|_| {
                            bad(&format!(
                                "`[{inner}]` is neither an index nor a quoted name"
                            ))
                        })?)),
                    }
                    while chars.peek().is_some_and(|&(j, _)| j <= close) {
                        chars.next();
                    }
                }
                other => return Err(bad(&format!("unexpected `{other}`"))),
            }
        }
        Ok(JsonPath {
            text: text.trim().to_string(),
            steps,
        })
    }

    /// The value at this path in `root`, if there is one.
    pub fn find<'a>(&self, root: &'a Json) -> Option<&'a Json> {
        self.steps.iter().try_fold(root, |v, step| match step {
            Step::Key(k) => v.get(k.as_str()),
            Step::Index(i) => v.get(*i),
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values() {
        let doc: Json =
            serde_json::from_str(r#"{"a":{"b":[{"c d":1},{"e":2}]}}"#).expect("valid JSON");
        let at = |p: &str| JsonPath::parse(p).expect("valid path").find(&doc).cloned();
        assert_eq!(at("$.a.b[1].e"), Some(Json::from(2)));
        assert_eq!(at("$['a'].b[0]['c d']"), Some(Json::from(1)));
        assert_eq!(at("$"), Some(doc.clone()));
        assert_eq!(at("$.a.x"), None);
        assert_eq!(at("$.a.b[9]"), None);
    }

    #[test]
    fn rejects_bad_paths() {
        for p in ["a.b", "$.", "$[x]", "$[0", "$..a", "$a"] {
            assert!(JsonPath::parse(p).is_err(), "{p}");
        }
    }
}
