//! Integration tests of the `spate` command: every conformance case in `tests/cases` (expected
//! output recorded from Siddhi 5.1.7), run plainly and with a snapshot/restore after every 1, 2, 3
//! and 7 events — the output must be the same.

mod cli;
mod compare;
mod server;

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_case(dir: &Path, restore_every: Option<usize>) -> Result<(), Failed> {
    let app = std::fs::read_to_string(dir.join("app.siddhi"))?;
    let input = std::fs::read_to_string(dir.join("input.jsonl")).unwrap_or_default();
    let expected = std::fs::read_to_string(dir.join("expected.jsonl"))?;
    let compare_ts = std::fs::read_to_string(dir.join("meta.json"))
        .ok()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
        .and_then(|m| m.get("compare_timestamps").and_then(|v| v.as_bool()))
        .unwrap_or(true);
    let mut out = Vec::new();
    spate::replay::replay(&app, &input, "input.jsonl", restore_every, &mut out)?;
    let actual = String::from_utf8(out)?;
    let problems = compare::compare(&expected, &actual, compare_ts);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n--- actual output:\n{actual}", problems.join("\n")).into())
    }
}

fn case_trials() -> Vec<Trial> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("tests/cases"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("app.siddhi").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    let mut trials = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        for restore in [None, Some(1), Some(2), Some(3), Some(7)] {
            let d = dir.clone();
            let label = match restore {
                None => format!("case::{name}"),
                Some(n) => format!("case::{name}::restore_every_{n}"),
            };
            trials.push(Trial::test(label, move || run_case(&d, restore)));
        }
    }
    trials
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = case_trials();
    trials.extend(cli::trials());
    trials.extend(server::trials());
    trials.push(Trial::test("compare::self_checks", || {
        compare::self_checks().map_err(Failed::from)
    }));
    libtest_mimic::run(&args, trials).exit();
}
