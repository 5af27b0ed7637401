//! The crate's one error type, with a retry hint so callers (the persistence scheduler, the HA
//! manager) can tell a database that is briefly away from a request that can never succeed.

use std::path::PathBuf;

/// Crate-wide result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Whether an operation that failed may succeed when tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryHint {
    /// Retrying the same call cannot help: fix the configuration, the data or the code.
    NoRetry,
    /// The failure is transient (connection lost, lock timeout, pool exhausted): retry the same
    /// call later, with backoff. The store never retries by itself.
    WithBackoff,
}

/// Boxed cause of an error that came from a driver or the operating system.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store or datasource operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A datasource definition cannot be used as written.
    #[error("datasource `{datasource}`: {message}; {help}")]
    Config {
        /// The datasource's `name`.
        datasource: String,
        /// What is wrong.
        message: String,
        /// What to do about it.
        help: String,
    },
    /// An app name, revision name or table name that the store refuses.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName {
        /// What kind of name (`app name`, `revision`, `table name`).
        what: &'static str,
        /// The name as given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The database (or the file system) could not be reached; the same call may succeed later.
    #[error(
        "{store}: could not {op}: {cause}; the database is unreachable or busy, retry with backoff"
    )]
    Unavailable {
        /// Which store or datasource.
        store: String,
        /// What was being done (`save a snapshot`, `list revisions`, ...).
        op: &'static str,
        /// The driver's error.
        #[source]
        cause: Cause,
    },
    /// The database refused the statement; retrying the same call will not help.
    #[error("{store}: could not {op}: {cause}")]
    Database {
        /// Which store or datasource.
        store: String,
        /// What was being done.
        op: &'static str,
        /// The driver's error.
        #[source]
        cause: Cause,
    },
    /// A file operation failed.
    #[error("could not {op} `{}`: {cause}", path.display())]
    Io {
        /// What was being done (`write`, `rename`, `read`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        cause: std::io::Error,
    },
    /// A stored snapshot is damaged (truncated, checksum mismatch, not written by Spate).
    #[error(
        "snapshot `{revision}` of app `{app}` is corrupt ({reason}); restore another revision or \
         delete this one"
    )]
    Corrupt {
        /// The app.
        app: String,
        /// The revision that failed to load.
        revision: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// Whether the failed call may succeed if tried again later.
    pub fn retry_hint(&self) -> RetryHint {
        match self {
            StoreError::Unavailable { .. } => RetryHint::WithBackoff,
            StoreError::Io { cause, .. } if io_is_transient(cause) => RetryHint::WithBackoff,
            _ => RetryHint::NoRetry,
        }
    }

    /// Shorthand for `retry_hint() == RetryHint::WithBackoff`.
    pub fn is_transient(&self) -> bool {
        self.retry_hint() == RetryHint::WithBackoff
    }

    /// Maps a driver error of `store` to `Unavailable` (transient: connection lost, pool
    /// timeout, what `dialect` calls transient) or `Database` (anything else).
    pub fn from_sqlx(
        store: String,
        op: &'static str,
        dialect: &dyn crate::Dialect,
        e: sqlx::Error,
    ) -> StoreError {
        let cause = Box::new(e);
        if sqlx_is_transient(dialect, &cause) {
            StoreError::Unavailable { store, op, cause }
        } else {
            StoreError::Database { store, op, cause }
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            cause,
        }
    }

    pub(crate) fn config(datasource: &str, message: String, help: &str) -> Self {
        StoreError::Config {
            datasource: datasource.to_string(),
            message,
            help: help.to_string(),
        }
    }

    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        StoreError::InvalidName {
            what,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

fn io_is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        Interrupted | TimedOut | WouldBlock | ResourceBusy | StorageFull
    )
}

/// Whether a driver error is transient (connection lost, pool timeout, what `dialect` calls
/// transient): the same statement may succeed later. Anything else the database refused for good.
pub fn sqlx_is_transient(dialect: &dyn crate::Dialect, e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => dialect.is_transient(db.as_ref()),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}
