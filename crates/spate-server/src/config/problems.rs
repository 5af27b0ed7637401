//! What loading found: problems (the file cannot be used as written) and notes (warnings and
//! information the operator should see once at start-up).

use std::fmt;

use super::yaml::Origin;

/// One thing that keeps the configuration from loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path, e.g. `cluster.config.strategyConfig.heartbeatInterval` (empty when the
    /// problem is the environment variable itself).
    pub path: String,
    /// Where the offending value came from.
    pub origin: Origin,
    /// What is wrong, and what to do about it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.origin, self.path.is_empty()) {
            (Origin::Default, _) => write!(f, "{}: {}", self.path, self.message),
            (origin, true) => write!(f, "{origin}: {}", self.message),
            (origin, false) => write!(f, "{origin}: {}: {}", self.path, self.message),
        }
    }
}

/// How loudly a note is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Worth knowing (INFO).
    Info,
    /// Probably a mistake or a risk, but Spate can run (WARN).
    Warn,
}

/// Something the operator should be told once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// INFO or WARN.
    pub level: Level,
    /// The key path it is about.
    pub path: String,
    /// The message.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {file}: {message}")]
    Read {
        /// The file.
        file: String,
        /// The operating system's message.
        message: String,
    },
    /// The file is not valid YAML.
    #[error("{file}: line {line}: invalid YAML: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// Keys or values Spate cannot honour; every one found is listed.
    #[error("{file}: {}", render(problems))]
    Invalid {
        /// The file.
        file: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

fn render(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let lines: Vec<String> = many.iter().map(|p| format!("\n  - {p}")).collect();
            format!("{} problems:{}", many.len(), lines.concat())
        }
    }
}

/// Collects problems and notes while the sections are read.
#[derive(Debug, Default)]
pub struct Report {
    /// Problems found so far.
    pub problems: Vec<Problem>,
    /// Notes found so far.
    pub notes: Vec<Note>,
}

impl Report {
    /// Records a problem.
    pub fn problem(
        &mut self,
        path: impl Into<String>,
        origin: &Origin,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            path: path.into(),
            origin: origin.clone(),
            message: message.into(),
        });
    }

    /// Records a warning.
    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.notes.push(Note {
            level: Level::Warn,
            path: path.into(),
            message: message.into(),
        });
    }

    /// Records an informational note.
    pub fn info(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.notes.push(Note {
            level: Level::Info,
            path: path.into(),
            message: message.into(),
        });
    }
}
