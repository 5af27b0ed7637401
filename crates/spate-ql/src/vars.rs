//! `${VAR}` placeholders in app text, filled before parsing (as Siddhi does from system
//! properties and the environment).

use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Replaces every `${NAME}` (NAME = letters, digits, `_`, `.`) with `lookup(NAME)`.
///
/// Returns one diagnostic per placeholder that `lookup` cannot fill, pointing at it in the
/// original text.
pub fn substitute(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Diagnostic>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' && bytes[i + 1] == b'{' {
            let name_start = i + 2;
            let mut j = name_start;
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'.')
            {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'}' && j > name_start {
                let name = &text[name_start..j];
                out.push_str(&text[rest..i]);
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => errors.push(
                        Diagnostic::validation(
                            Span::new(i, j + 1),
                            format!(
                                "no environment variable `{name}` for placeholder `${{{name}}}`"
                            ),
                        )
                        .with_help(format!("set it before starting, e.g. `export {name}=...`")),
                    ),
                }
                rest = j + 1;
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[rest..]);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// [`substitute`] with the process environment.
pub fn substitute_env(text: &str) -> Result<String, Vec<Diagnostic>> {
    substitute(text, |name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_and_reports_unknown() {
        let look = |n: &str| (n == "PORT").then(|| "8080".to_string());
        assert_eq!(
            substitute("url='http://h:${PORT}/x'", look).unwrap(),
            "url='http://h:8080/x'"
        );
        let err = substitute("a ${NOPE} b", look).unwrap_err();
        assert_eq!(err[0].span, Span::new(2, 9));
        assert_eq!(err[0].span.start, 2);
        assert_eq!(substitute("cost $5 {x}", look).unwrap(), "cost $5 {x}");
    }
}
