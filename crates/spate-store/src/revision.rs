//! Revision names: `<epochMillis>__<app>`, as Siddhi names full snapshots, plus the rules for
//! the app names the stores accept.
//!
//! Revisions order by their timestamp (then by name), never by file name or row id: the
//! timestamp is the only order that is the same in every store. [`Revision::now`] never hands
//! out the same or an earlier timestamp twice in one process, and [`Revision::next`] makes a
//! revision that sorts after a given one even when this node's clock is behind the node that
//! wrote it (after a failover).

use std::cmp::Ordering;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Result, StoreError};

/// Separates the timestamp from the app name in a revision (Siddhi's `REVISION_SEPARATOR`).
pub const REVISION_SEPARATOR: &str = "__";

/// The longest app name the stores accept (the `siddhiAppName VARCHAR(100)` column).
pub const MAX_APP_NAME_CHARS: usize = 100;

/// The last timestamp [`Revision::now`] handed out in this process.
static LAST_ISSUED_MILLIS: AtomicI64 = AtomicI64::new(i64::MIN);

/// The name of one stored snapshot of one app: `<epochMillis>__<app>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revision {
    name: String,
    epoch_millis: i64,
}

impl Revision {
    /// The revision of `app` taken at `epoch_millis`.
    pub fn new(epoch_millis: i64, app: &str) -> Result<Revision> {
        validate_app_name(app)?;
        if epoch_millis < 0 {
            return Err(StoreError::invalid(
                "revision",
                &epoch_millis.to_string(),
                "the timestamp must not be negative",
            ));
        }
        Ok(Revision {
            name: format!("{epoch_millis}{REVISION_SEPARATOR}{app}"),
            epoch_millis,
        })
    }

    /// A revision of `app` for the current wall-clock time, later than every revision this
    /// process made before (two snapshots in the same millisecond get distinct names).
    pub fn now(app: &str) -> Result<Revision> {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let previous = LAST_ISSUED_MILLIS
            .fetch_update(AtomicOrdering::SeqCst, AtomicOrdering::SeqCst, |last| {
                Some(wall.max(last.saturating_add(1)))
            })
            .unwrap_or(wall);
        Revision::new(wall.max(previous.saturating_add(1)), app)
    }

    /// A revision of `app` at `now_millis`, or one millisecond after `after` if that is later:
    /// a node whose clock is behind still writes a revision that sorts last.
    pub fn next(app: &str, now_millis: i64, after: Option<&Revision>) -> Result<Revision> {
        let floor = after.map_or(i64::MIN, |r| r.epoch_millis.saturating_add(1));
        Revision::new(now_millis.max(floor), app)
    }

    /// Reads a revision name written by [`Revision::new`] (or by WSO2's full-snapshot stores).
    pub fn parse(name: &str) -> Result<Revision> {
        let Some((millis, app)) = name.split_once(REVISION_SEPARATOR) else {
            return Err(StoreError::invalid(
                "revision",
                name,
                "expected `<epochMillis>__<app>`",
            ));
        };
        let epoch_millis = millis
            .parse::<i64>()
            .ok()
            .filter(|_| millis.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                StoreError::invalid(
                    "revision",
                    name,
                    "the part before `__` must be epoch millis",
                )
            })?;
        validate_app_name(app)?;
        Ok(Revision {
            name: name.to_string(),
            epoch_millis,
        })
    }

    /// The full name, `<epochMillis>__<app>`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// When the snapshot was taken, in milliseconds since the Unix epoch.
    pub fn epoch_millis(&self) -> i64 {
        self.epoch_millis
    }

    /// The app the revision belongs to.
    pub fn app(&self) -> &str {
        let prefix = self.name.find(REVISION_SEPARATOR).unwrap_or(0) + REVISION_SEPARATOR.len();
        &self.name[prefix..]
    }
}

impl Ord for Revision {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch_millis
            .cmp(&other.epoch_millis)
            .then_with(|| self.name.cmp(&other.name))
    }
}

impl PartialOrd for Revision {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Checks that `app` can name a directory and a `VARCHAR(100)` value: 1 to 100 characters, no
/// path separators, no control characters, not `.` or `..`.
pub fn validate_app_name(app: &str) -> Result<()> {
    let reason = if app.is_empty() {
        "it is empty"
    } else if app.chars().count() > MAX_APP_NAME_CHARS {
        "it is longer than 100 characters"
    } else if app == "." || app == ".." {
        "it is a relative directory name"
    } else if app.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        "it contains a path separator or a control character"
    } else {
        return Ok(());
    };
    Err(StoreError::invalid("app name", app, reason))
}

/// Sorts revisions oldest first and returns those beyond the newest `keep`.
pub(crate) fn oldest_beyond(mut revisions: Vec<Revision>, keep: usize) -> Vec<Revision> {
    revisions.sort();
    let excess = revisions.len().saturating_sub(keep);
    revisions.truncate(excess);
    revisions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders_by_timestamp() {
        let a = Revision::new(999, "App__x").unwrap();
        assert_eq!(a.as_str(), "999__App__x");
        let parsed = Revision::parse("999__App__x").unwrap();
        assert_eq!(parsed, a);
        assert_eq!(parsed.app(), "App__x");
        assert_eq!(parsed.epoch_millis(), 999);
        // 1000 sorts after 999 although "1000" < "999" as text.
        let b = Revision::new(1000, "App__x").unwrap();
        assert!(b > a);
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "no-separator",
            "12x__App",
            "-5__App",
            "12__",
            "12__a/b",
            "12__..",
        ] {
            assert!(Revision::parse(bad).is_err(), "{bad}");
        }
        assert!(validate_app_name(&"x".repeat(101)).is_err());
        assert!(validate_app_name(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn now_is_strictly_increasing() {
        let mut last = Revision::now("A").unwrap();
        for _ in 0..1000 {
            let next = Revision::now("A").unwrap();
            assert!(next.epoch_millis() > last.epoch_millis());
            last = next;
        }
    }

    #[test]
    fn next_sorts_after_a_revision_from_a_faster_clock() {
        let theirs = Revision::new(5_000, "A").unwrap();
        let mine = Revision::next("A", 4_000, Some(&theirs)).unwrap();
        assert_eq!(mine.epoch_millis(), 5_001);
        assert_eq!(
            Revision::next("A", 9_000, Some(&theirs))
                .unwrap()
                .epoch_millis(),
            9_000
        );
    }

    #[test]
    fn oldest_beyond_keeps_the_newest() {
        let revs: Vec<_> = [5, 1, 3, 2, 4]
            .iter()
            .map(|t| Revision::new(*t, "A").unwrap())
            .collect();
        let gone: Vec<_> = oldest_beyond(revs, 2)
            .iter()
            .map(Revision::epoch_millis)
            .collect();
        assert_eq!(gone, vec![1, 2, 3]);
    }
}
