//! The `spate` binary as a user runs it: exit codes and what it prints.

use std::path::PathBuf;
use std::process::Command;

use libtest_mimic::{Failed, Trial};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spate"))
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("temp file");
    path
}

fn check_invalid_app() -> Result<(), Failed> {
    let app = temp_file(
        "bad.siddhi",
        "define stream S (a int);\nfrom S[b > 1]\nselect a insert into O;\n",
    );
    let out = bin().arg("check").arg(&app).output()?;
    let stderr = String::from_utf8(out.stderr)?;
    if out.status.code() != Some(1) {
        return Err(format!("exit status {:?}, expected 1", out.status.code()).into());
    }
    for want in [
        "bad.siddhi:2:8",
        "2 | from S[b > 1]",
        "  |        ^",
        "attribute `b` does not exist",
    ] {
        if !stderr.contains(want) {
            return Err(format!("missing `{want}` in:\n{stderr}").into());
        }
    }
    Ok(())
}

fn check_valid_app() -> Result<(), Failed> {
    let app = temp_file(
        "good.siddhi",
        "define stream S (a int);\nfrom S[a > 1] select a insert into O;\n",
    );
    let out = bin().arg("check").arg(&app).output()?;
    if !out.status.success() {
        return Err(format!(
            "valid app rejected: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

fn replay_rejected_app_prints_error_line() -> Result<(), Failed> {
    let app = temp_file(
        "rej.siddhi",
        "define stream S (a int);\nfrom S select nope insert into O;\n",
    );
    let events = temp_file(
        "rej.jsonl",
        "{\"stream\":\"S\",\"timestamp\":1,\"data\":[1]}\n",
    );
    let out = bin().arg("replay").arg(&app).arg(&events).output()?;
    let stdout = String::from_utf8(out.stdout)?;
    let line: serde_json::Value = serde_json::from_str(stdout.trim())?;
    let msg = line
        .get("error")
        .and_then(|e| e.as_str())
        .ok_or("no error line")?;
    if !out.status.success() || !msg.starts_with("2:15:") {
        return Err(format!("status {:?}, output {stdout}", out.status.code()).into());
    }
    Ok(())
}

fn replay_bad_event_is_usage_error() -> Result<(), Failed> {
    let app = temp_file(
        "ok.siddhi",
        "define stream S (a int);\nfrom S select a insert into O;\n",
    );
    let events = temp_file(
        "bad.jsonl",
        "{\"stream\":\"S\",\"timestamp\":1,\"data\":[\"x\"]}\n",
    );
    let out = bin().arg("replay").arg(&app).arg(&events).output()?;
    let stderr = String::from_utf8(out.stderr)?;
    if out.status.code() != Some(2) || !stderr.contains("bad.jsonl:1") {
        return Err(format!("status {:?}, stderr {stderr}", out.status.code()).into());
    }
    Ok(())
}

fn server_help_names_every_flag() -> Result<(), Failed> {
    let out = bin().args(["server", "--help"]).output()?;
    let stdout = String::from_utf8(out.stdout)?;
    for want in [
        "--config",
        "--apps",
        "--node-id",
        "--api-bind",
        "--data-dir",
        "embedded default",
    ] {
        if !stdout.contains(want) {
            return Err(format!("`spate server --help` does not mention {want}:\n{stdout}").into());
        }
    }
    Ok(())
}

pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test("cli::check_invalid_app", check_invalid_app),
        Trial::test("cli::check_valid_app", check_valid_app),
        Trial::test(
            "cli::replay_rejected_app_prints_error_line",
            replay_rejected_app_prints_error_line,
        ),
        Trial::test(
            "cli::replay_bad_event_is_usage_error",
            replay_bad_event_is_usage_error,
        ),
        Trial::test(
            "cli::server_help_names_every_flag",
            server_help_names_every_flag,
        ),
    ]
}
