//! The file store: `<location>/<app>/<revision>`, one file per snapshot.
//!
//! Unlike WSO2's file store, which overwrote files in place, a save writes a temporary file in
//! the app's directory, fsyncs it, renames it over the final name and fsyncs the directory: a
//! crash leaves either the old state or the new file, never a half-written revision. Each file
//! starts with a small header (magic, version, length, CRC-32 of the bytes), so a truncated or
//! damaged file is reported as [`StoreError::Corrupt`] instead of being handed to the engine.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::{BoxFuture, PersistenceStore, check_revision_app};
use crate::error::{Result, StoreError};
use crate::revision::{Revision, oldest_beyond, validate_app_name};

/// First bytes of every snapshot file.
const MAGIC: [u8; 8] = *b"SPATEREV";
/// Version of the file layout.
const VERSION: u16 = 1;
/// magic (8) + version (2) + reserved (2) + CRC-32 (4) + length (8), little endian.
const HEADER_LEN: usize = 24;
/// Temporary files start with this, so listings skip them.
const TEMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this are leftovers of a crash and are removed by `clean`.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Makes temporary file names unique within the process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Snapshots as files under one directory (shared storage for HA: both nodes need the same
/// `location`).
#[derive(Debug, Clone)]
pub struct FileStore {
    location: PathBuf,
}

impl FileStore {
    /// A store rooted at `location` (created on first save).
    pub fn new(location: impl Into<PathBuf>) -> FileStore {
        FileStore {
            location: location.into(),
        }
    }

    /// The root directory.
    pub fn location(&self) -> &Path {
        &self.location
    }

    /// The file that holds `revision` of `app`.
    pub fn path_of(&self, app: &str, revision: &Revision) -> PathBuf {
        self.location.join(app).join(revision.as_str())
    }

    fn app_dir(&self, app: &str) -> Result<PathBuf> {
        validate_app_name(app)?;
        Ok(self.location.join(app))
    }
}

impl PersistenceStore for FileStore {
    fn save<'a>(
        &'a self,
        app: &'a str,
        revision: &'a Revision,
        snapshot: &'a [u8],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            check_revision_app(app, revision)?;
            let dir = self.app_dir(app)?;
            let root = self.location.clone();
            let name = revision.as_str().to_string();
            let mut contents = Vec::with_capacity(HEADER_LEN + snapshot.len());
            contents.extend_from_slice(&header(snapshot));
            contents.extend_from_slice(snapshot);
            blocking(move || write_atomically(&root, &dir, &name, &contents)).await
        })
    }

    fn load<'a>(
        &'a self,
        app: &'a str,
        revision: &'a Revision,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            check_revision_app(app, revision)?;
            let path = self.path_of(app, revision);
            let Some(contents) = blocking(move || read_if_exists(&path)).await? else {
                return Ok(None);
            };
            decode(&contents)
                .map(Some)
                .map_err(|reason| StoreError::Corrupt {
                    app: app.to_string(),
                    revision: revision.to_string(),
                    reason,
                })
        })
    }

    fn revisions<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Vec<Revision>>> {
        Box::pin(async move {
            let dir = self.app_dir(app)?;
            let app = app.to_string();
            blocking(move || list_revisions(&dir, &app)).await
        })
    }

    fn delete_all<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let dir = self.app_dir(app)?;
            let app = app.to_string();
            blocking(move || {
                let revisions = list_revisions(&dir, &app)?;
                let deleted = remove_revisions(&dir, &revisions)?;
                remove_stale_temp_files(&dir, Duration::ZERO)?;
                // Leave the directory if something else lives there; it is harmless.
                if let Err(e) = fs::remove_dir(&dir) {
                    tracing::debug!(dir = %dir.display(), error = %e, "App directory kept.");
                }
                Ok(deleted)
            })
            .await
        })
    }

    fn clean<'a>(&'a self, app: &'a str, keep: usize) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let dir = self.app_dir(app)?;
            let app = app.to_string();
            blocking(move || {
                let doomed = oldest_beyond(list_revisions(&dir, &app)?, keep);
                let deleted = remove_revisions(&dir, &doomed)?;
                remove_stale_temp_files(&dir, STALE_TEMP_AGE)?;
                Ok(deleted)
            })
            .await
        })
    }
}

/// Runs file-system work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        StoreError::io(
            "run the file task for",
            PathBuf::new(),
            std::io::Error::other(e),
        )
    })?
}

fn header(snapshot: &[u8]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&crc32fast::hash(snapshot).to_le_bytes());
    h[16..24].copy_from_slice(&(snapshot.len() as u64).to_le_bytes());
    h
}

/// Checks the header and returns the snapshot bytes, or why the file is not a good snapshot.
fn decode(contents: &[u8]) -> Result<Vec<u8>, String> {
    if contents.len() < HEADER_LEN {
        return Err(format!(
            "the file has {} bytes, less than its header",
            contents.len()
        ));
    }
    let (h, body) = contents.split_at(HEADER_LEN);
    if h[..8] != MAGIC {
        return Err("the file was not written by Spate's file store".to_string());
    }
    let version = u16::from_le_bytes([h[8], h[9]]);
    if version != VERSION {
        return Err(format!(
            "file layout version {version} is not supported (expected {VERSION})"
        ));
    }
    let crc = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&h[16..24]);
    let len = u64::from_le_bytes(len_bytes);
    if body.len() as u64 != len {
        return Err(format!(
            "expected {len} bytes of snapshot, found {} (truncated?)",
            body.len()
        ));
    }
    if crc32fast::hash(body) != crc {
        return Err("checksum mismatch".to_string());
    }
    Ok(body.to_vec())
}

fn write_atomically(root: &Path, dir: &Path, name: &str, contents: &[u8]) -> Result<()> {
    let created = !dir.exists();
    fs::create_dir_all(dir).map_err(|e| StoreError::io("create directory", dir, e))?;
    if created {
        sync_dir(root)?;
    }
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{name}-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| StoreError::io("create", &temp, e))?;
        file.write_all(contents)
            .map_err(|e| StoreError::io("write", &temp, e))?;
        file.sync_all()
            .map_err(|e| StoreError::io("fsync", &temp, e))?;
        let target = dir.join(name);
        fs::rename(&temp, &target).map_err(|e| StoreError::io("rename into", &target, e))
    })();
    if written.is_err() {
        let _ignored = fs::remove_file(&temp);
    }
    written?;
    sync_dir(dir)
}

/// Makes a rename or a new directory entry durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("fsync directory", dir, e))
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("open", path, e)),
    };
    let mut contents = Vec::new();
    file.read_to_end(&mut contents)
        .map_err(|e| StoreError::io("read", path, e))?;
    Ok(Some(contents))
}

/// The revisions of `app` in `dir`, oldest first; other files are skipped.
fn list_revisions(dir: &Path, app: &str) -> Result<Vec<Revision>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("list", dir, e)),
    };
    let mut revisions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        match Revision::parse(name) {
            Ok(revision) if revision.app() == app => revisions.push(revision),
            _ => tracing::debug!(dir = %dir.display(), file = name, "Not a revision; skipped."),
        }
    }
    revisions.sort();
    Ok(revisions)
}

fn remove_revisions(dir: &Path, revisions: &[Revision]) -> Result<u64> {
    let mut deleted = 0;
    for revision in revisions {
        let path = dir.join(revision.as_str());
        match fs::remove_file(&path) {
            Ok(()) => deleted += 1,
            // Another node cleaned it first (shared storage): the goal is reached.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("delete", &path, e)),
        }
    }
    if deleted > 0 {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

fn remove_stale_temp_files(dir: &Path, older_than: Duration) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let is_temp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX));
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        if is_temp && age >= older_than {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| StoreError::io("delete", &path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let body = b"sealed snapshot bytes".to_vec();
        let mut file = header(&body).to_vec();
        file.extend_from_slice(&body);
        assert_eq!(decode(&file).unwrap(), body);
        assert!(
            decode(&file[..file.len() - 1])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(decode(&file[..10]).unwrap_err().contains("header"));
        let mut flipped = file.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
        let mut foreign = file;
        foreign[0] = b'X';
        assert!(
            decode(&foreign)
                .unwrap_err()
                .contains("not written by Spate")
        );
    }
}
