//! The crate's one error type. Database failures keep spate-store's [`RetryHint`], so the
//! caller can tell an outage (retry with backoff) from a statement that can never succeed.

use spate_store::{RetryHint, StoreError};

/// Crate-wide result type.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// Why a refused sync connection was refused (sent on the wire as a `u16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// The peers speak different protocol versions.
    VersionMismatch,
    /// The first frame was not a hello, or the magic was wrong.
    NotSpate,
    /// The peer belongs to another cluster group.
    WrongGroup,
    /// The peer's epoch is older than one this receiver has already accepted (a fenced active).
    StaleEpoch,
    /// A frame could not be decoded (bad checksum, truncated field, unknown kind).
    Malformed,
    /// The receiver's bounded queue of an app is full; the sender reconnects after backoff and
    /// resends, by which time a control message should have trimmed it.
    QueueFull,
    /// The receiver is shutting down or has been sealed (its node became active).
    Closing,
    /// A code this build does not know (from a newer peer).
    Other(u16),
}

impl RefusalCode {
    /// The code on the wire.
    pub fn to_wire(self) -> u16 {
        match self {
            RefusalCode::VersionMismatch => 1,
            RefusalCode::NotSpate => 2,
            RefusalCode::WrongGroup => 3,
            RefusalCode::StaleEpoch => 4,
            RefusalCode::Malformed => 5,
            RefusalCode::QueueFull => 6,
            RefusalCode::Closing => 7,
            RefusalCode::Other(code) => code,
        }
    }

    /// The code read from the wire.
    pub fn from_wire(code: u16) -> RefusalCode {
        match code {
            1 => RefusalCode::VersionMismatch,
            2 => RefusalCode::NotSpate,
            3 => RefusalCode::WrongGroup,
            4 => RefusalCode::StaleEpoch,
            5 => RefusalCode::Malformed,
            6 => RefusalCode::QueueFull,
            7 => RefusalCode::Closing,
            other => RefusalCode::Other(other),
        }
    }
}

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The coordinator's settings cannot work (empty group id, zero interval, bad table prefix).
    #[error("cluster configuration: {0}")]
    Config(String),
    /// The cluster database failed; see the retry hint.
    #[error(transparent)]
    Db(#[from] StoreError),
    /// A cluster database call did not answer in time.
    #[error("cluster database: {op} did not answer within {millis} ms")]
    DbTimeout {
        /// What was being done.
        op: &'static str,
        /// The limit that passed.
        millis: u128,
    },
    /// A socket operation failed.
    #[error("event sync: {op}: {cause}")]
    Io {
        /// What was being done (`connect to 10.0.0.2:9893`, `bind 0.0.0.0:9893`, ...).
        op: String,
        /// The operating system's error.
        #[source]
        cause: std::io::Error,
    },
    /// A frame broke the protocol (bad checksum, truncated, unknown kind, too large).
    #[error("event sync: malformed frame: {0}")]
    Malformed(String),
    /// The peer refused the connection.
    #[error("event sync: the peer refused the connection ({code:?}): {message}")]
    Refused {
        /// Why.
        code: RefusalCode,
        /// The peer's explanation.
        message: String,
    },
    /// The sender or receiver has been shut down.
    #[error("event sync: {0} is closed")]
    Closed(&'static str),
    /// An entry was submitted out of sequence order for its app.
    #[error(
        "event sync: app `{app}`: seq {seq} is not after {last}; entries of an app must be sent in sequence order"
    )]
    OutOfOrder {
        /// The app.
        app: String,
        /// The seq submitted.
        seq: u64,
        /// The last seq submitted before it.
        last: u64,
    },
}

impl From<std::io::Error> for ClusterError {
    /// Socket errors from the framed streams.
    fn from(cause: std::io::Error) -> ClusterError {
        ClusterError::io("socket", cause)
    }
}

impl ClusterError {
    /// Whether the failed call may succeed if tried again later.
    pub fn retry_hint(&self) -> RetryHint {
        match self {
            ClusterError::Db(e) => e.retry_hint(),
            ClusterError::DbTimeout { .. } | ClusterError::Io { .. } => RetryHint::WithBackoff,
            ClusterError::Refused {
                code: RefusalCode::QueueFull | RefusalCode::Closing,
                ..
            } => RetryHint::WithBackoff,
            _ => RetryHint::NoRetry,
        }
    }

    pub(crate) fn io(op: impl Into<String>, cause: std::io::Error) -> ClusterError {
        ClusterError::Io {
            op: op.into(),
            cause,
        }
    }
}
