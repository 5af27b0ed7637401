//! Validation errors as data: each file in `tests/validation` holds an app, a line `----`, and
//! the diagnostics the planner renders for it (or `ok` for a valid app). `SPATE_REWRITE=1`
//! rewrites the expected part from the current output.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use spate_ql::diagnostic::render_all;

fn render(app: &str) -> String {
    match spate_engine::plan::compile_text(app) {
        Ok(_) => "ok\n".to_string(),
        Err((text, diags)) => render_all(&diags, &text, "app.siddhi"),
    }
}

fn check(path: &Path) -> Result<(), Failed> {
    let content = std::fs::read_to_string(path)?;
    let (app, expected) = content
        .split_once("\n----\n")
        .ok_or("missing the ---- separator line")?;
    let actual = render(app);
    if std::env::var_os("SPATE_REWRITE").is_some() {
        std::fs::write(path, format!("{app}\n----\n{actual}"))?;
        return Ok(());
    }
    if actual.trim_end() == expected.trim_end() {
        Ok(())
    } else {
        Err(format!("expected:\n{expected}\nactual:\n{actual}").into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validation");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "txt"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let trials = files
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            Trial::test(format!("validation::{name}"), move || check(&p))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
