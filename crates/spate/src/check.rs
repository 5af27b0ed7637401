//! `spate check`: validate an app and show every problem with a caret under it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use spate_ql::diagnostic::render_all;

pub fn run(app: &Path) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(app).with_context(|| format!("cannot read {}", app.display()))?;
    let name = app.display().to_string();
    match spate_engine::plan::compile_text(&text) {
        Ok(plan) => {
            if let Some(d) = plan.unsupported_diagnostic() {
                // Valid SiddhiQL that this build cannot run yet: say so, but the app is valid.
                eprint!(
                    "{}",
                    d.render(&text, &name).replacen(
                        "error[unsupported]",
                        "warning[unsupported]",
                        1
                    )
                );
            }
            println!(
                "{name}: valid app `{}` ({} streams, {} queries)",
                plan.name,
                plan.streams.len(),
                plan.queries.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err((text, diags)) => {
            eprint!("{}", render_all(&diags, &text, &name));
            eprintln!(
                "{name}: {} problem{} found",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::from(1))
        }
    }
}
