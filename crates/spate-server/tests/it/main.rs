//! spate-server's integration tests: `deployment.yaml` as users bring it — the WSO2 SI seed file
//! and the minimum-HA guide's edits — plus environment overrides, placeholders, and every kind
//! of mistake the loader must name.

mod deploy;
mod env;
mod mistakes;
mod seed;

use std::collections::BTreeMap;

use libtest_mimic::{Arguments, Failed, Trial};
use spate_server::config::{ConfigError, Level, LoadOptions, Loaded, load_str};

/// A test: its name and body.
pub type Test = (&'static str, fn() -> Result<(), Failed>);

/// The seed file shipped with SI.
pub const SEED: &str = include_str!("../data/wso2-si-deployment.yaml");
/// The seed with the minimum-HA guide's edits.
pub const SEED_HA: &str = include_str!("../data/wso2-si-deployment-ha.yaml");

/// Options with only `env` as the environment and `carbon.home` = `/opt/si`.
pub fn options(env: &[(&str, &str)]) -> LoadOptions {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LoadOptions::with_env(env, "/opt/si")
}

/// Loads `text` with `env`, failing the test on any problem.
pub fn load_ok(text: &str, env: &[(&str, &str)]) -> Result<Loaded, Failed> {
    load_str(text, &options(env)).map_err(|e| format!("expected to load, got: {e}").into())
}

/// Loads `text` with `env`, expecting problems; returns the rendered problems, one per line.
pub fn load_err(text: &str, env: &[(&str, &str)]) -> Result<Vec<String>, Failed> {
    match load_str(text, &options(env)) {
        Ok(loaded) => Err(format!("expected problems, loaded: {:?}", loaded.config).into()),
        Err(ConfigError::Invalid { problems, .. }) => {
            Ok(problems.iter().map(ToString::to_string).collect())
        }
        Err(other) => Ok(vec![other.to_string()]),
    }
}

/// The warnings of a load, rendered.
pub fn warnings(loaded: &Loaded) -> Vec<String> {
    let warnings = loaded.notes.iter().filter(|n| n.level == Level::Warn);
    warnings.map(ToString::to_string).collect()
}

/// Fails unless some line contains every one of `parts`.
pub fn expect_line(lines: &[String], parts: &[&str]) -> Result<(), Failed> {
    if lines.iter().any(|l| parts.iter().all(|p| l.contains(p))) {
        Ok(())
    } else {
        Err(format!(
            "no line contains all of {parts:?}; got:\n{}",
            lines.join("\n")
        )
        .into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (group, tests) in [
        ("seed", seed::tests()),
        ("deploy", deploy::tests()),
        ("env", env::tests()),
        ("mistakes", mistakes::tests()),
    ] {
        for (name, body) in tests {
            trials.push(Trial::test(format!("{group}::{name}"), body));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
