//! Data-driven tests of the SiddhiQL front end, one named test per case (libtest-mimic):
//!
//! - `errors::<file>`: each `tests/errors/*.txt` holds an app, a `----` line and the expected
//!   rendered diagnostics; `SPATE_REWRITE=1` rewrites the expected part.
//! - `roundtrip::<case>`: every conformance app (when `shared/conformance/cases` is found above
//!   the crate) and the apps embedded in `roundtrip.rs` print and parse back to the same tree.
//! - `prop::<name>`: property tests (random trees round-trip; random text never panics).

mod errors;
mod exprs;
mod fuzz;
mod roundtrip;
mod trees;

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    trials.extend(errors::trials());
    trials.extend(roundtrip::trials());
    trials.extend(trees::trials());
    trials.extend(fuzz::trials());
    libtest_mimic::run(&args, trials).exit();
}

/// Turns a `Result<(), String>` check into a trial outcome.
fn check(result: Result<(), String>) -> Result<(), Failed> {
    result.map_err(Failed::from)
}

/// Asserts that `text` parses, that its printing parses back to an equal tree and that
/// printing is idempotent; returns the tree's printing.
pub fn verified_app(text: &str) -> Result<String, String> {
    let render = |d: &[spate_ql::Diagnostic], src: &str| {
        spate_ql::diagnostic::render_all(d, src, "app.siddhi")
    };
    let app = spate_ql::parse_app(text).map_err(|d| render(&d, text))?;
    let printed = app.to_string();
    let again = spate_ql::parse_app(&printed).map_err(|d| {
        format!(
            "printed app does not parse:\n{printed}\n{}",
            render(&d, &printed)
        )
    })?;
    if again != app {
        return Err(format!(
            "printed app parses to another tree:\n{printed}\n{again:#?}\n{app:#?}"
        ));
    }
    let reprinted = again.to_string();
    if reprinted != printed {
        return Err(format!(
            "printing is not idempotent:\n{printed}\n---\n{reprinted}"
        ));
    }
    Ok(printed)
}

/// Builds a trial from a check returning an error message.
fn trial(name: String, f: impl FnOnce() -> Result<(), String> + Send + 'static) -> Trial {
    Trial::test(name, move || check(f()))
}
