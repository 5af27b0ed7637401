//! Error-message tests: `tests/errors/<name>.txt` = app text, a `----` line, then the diagnostics
//! rendered with `render_all(.., "app.siddhi")`. `SPATE_REWRITE=1` rewrites the expected part.

use std::path::{Path, PathBuf};

use libtest_mimic::Trial;

const SEPARATOR: &str = "----\n";

pub fn trials() -> Vec<Trial> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            crate::trial(format!("errors::{name}"), move || run(&path))
        })
        .collect()
}

/// Splits a file at its first `----` line into the app and the expected rendering.
fn split(content: &str) -> Option<(&str, &str)> {
    if let Some(rest) = content.strip_prefix(SEPARATOR) {
        return Some(("", rest));
    }
    let at = content.find(&format!("\n{SEPARATOR}"))?;
    Some((&content[..at + 1], &content[at + 1 + SEPARATOR.len()..]))
}

fn render(input: &str) -> String {
    match spate_ql::parse_app(input) {
        Ok(_) => "(no errors)\n".to_string(),
        Err(diags) => spate_ql::diagnostic::render_all(&diags, input, "app.siddhi"),
    }
}

fn run(path: &Path) -> Result<(), String> {
    let content = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (input, expected) = split(&content).ok_or("missing a `----` line")?;
    let actual = render(input);
    if std::env::var_os("SPATE_REWRITE").is_some_and(|v| v == "1") {
        std::fs::write(path, format!("{input}{SEPARATOR}{actual}")).map_err(|e| e.to_string())?;
        return Ok(());
    }
    if actual.trim_end() == expected.trim_end() {
        Ok(())
    } else {
        Err(format!(
            "rendered diagnostics differ\n--- expected\n{expected}\n--- actual\n{actual}"
        ))
    }
}
