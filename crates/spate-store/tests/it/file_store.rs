//! What only the file store has: files on disk that can be damaged or left half-written.

use std::sync::Arc;

use spate_store::{FileStore, PersistenceStore, Revision, StoreError};

use crate::backends::{Case, Fixture};
use crate::support::Context;
use crate::{ensure, ensure_eq};

pub fn cases() -> Vec<(&'static str, Case)> {
    vec![
        ("damaged_files_are_corrupt_errors", |f| {
            Box::pin(damaged_files(f))
        }),
        ("layout_and_no_temp_files_left", |f| Box::pin(layout(f))),
    ]
}

/// Something done to a snapshot file's bytes.
type Damage = fn(&mut Vec<u8>);

fn file_store(fx: &Fixture) -> Result<FileStore, String> {
    Ok(FileStore::new(
        fx.file_root.clone().ok_or("not a file fixture")?,
    ))
}

async fn damaged_files(fx: Arc<Fixture>) -> Result<(), String> {
    let store = file_store(&fx)?;
    let r = Revision::new(1_700_000_000_000, "App").ctx("revision")?;
    let snapshot = vec![7u8; 4096];
    let path = store.path_of("App", &r);
    let damages: [(&str, Damage); 4] = [
        ("truncated", |b| b.truncate(b.len() - 100)),
        ("cut inside the header", |b| b.truncate(10)),
        ("a flipped bit", |b| b[3000] ^= 0x10),
        ("foreign bytes", |b| {
            *b = b"{\"not\":\"a snapshot\"}".to_vec()
        }),
    ];
    for (what, damage) in damages {
        store.save("App", &r, &snapshot).await.ctx("save")?;
        let mut bytes = std::fs::read(&path).ctx("read file")?;
        damage(&mut bytes);
        std::fs::write(&path, &bytes).ctx("write damaged file")?;
        match store.load("App", &r).await {
            Err(e @ StoreError::Corrupt { .. }) => {
                ensure!(!e.is_transient(), "{what}: corruption must not be retried");
                ensure!(
                    e.to_string().contains(r.as_str()),
                    "{what}: message lacks the revision: {e}"
                );
            }
            other => return Err(format!("{what}: expected a Corrupt error, got {other:?}")),
        }
    }
    // The damaged revision is still listed, so an operator can see and delete it.
    ensure_eq!(store.latest("App").await.ctx("latest")?, Some(r));
    Ok(())
}

async fn layout(fx: Arc<Fixture>) -> Result<(), String> {
    let store = file_store(&fx)?;
    let r = Revision::new(5, "App").ctx("revision")?;
    store.save("App", &r, b"abc").await.ctx("save")?;
    let dir = store.location().join("App");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .ctx("list")?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    ensure_eq!(names, vec!["5__App".to_string()]);
    // Stray files (an editor backup, a leftover temp file) are not revisions.
    std::fs::write(dir.join("notes.txt"), "x").ctx("write stray")?;
    std::fs::write(dir.join(".tmp-6__App-1-1"), "x").ctx("write temp")?;
    std::fs::write(dir.join("6__Other"), "x").ctx("write other app's name")?;
    ensure_eq!(store.revisions("App").await.ctx("revisions")?, vec![r]);
    Ok(())
}
