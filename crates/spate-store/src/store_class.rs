//! The Java class names `state.persistence.persistenceStore` may hold, mapped to Spate's stores.
//!
//! | Class (both `org.wso2.carbon.streaming.integrator.core.persistence.` and the older SP package `org.wso2.carbon.stream.processor.core.persistence.`) | Spate store |
//! |---|---|
//! | `FileSystemPersistenceStore` | [`FileStore`](crate::FileStore) |
//! | `DBPersistenceStore` | [`DbStore`](crate::DbStore) |
//! | `IncrementalFileSystemPersistenceStore` | [`FileStore`](crate::FileStore), full snapshots (warned) |
//! | `IncrementalDBPersistenceStore` | [`DbStore`](crate::DbStore), full snapshots (warned) |
//!
//! Spate always writes full snapshots: the incremental classes are accepted so a seed file loads,
//! but each persist stores the whole app state. Spate's own short names `file` and `db` are
//! accepted too. Any other class (a custom Java store) is an error.

/// Which kind of store a class name selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Snapshots as files ([`FileStore`](crate::FileStore)).
    File,
    /// Snapshots as table rows ([`DbStore`](crate::DbStore)).
    Database,
}

/// A recognised `persistenceStore` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreClass {
    /// The store Spate uses for it.
    pub kind: StoreKind,
    /// The class asks for incremental snapshots; Spate writes full ones instead.
    pub incremental: bool,
}

/// The SI package of the persistence store classes.
pub const SI_PACKAGE: &str = "org.wso2.carbon.streaming.integrator.core.persistence.";
/// The SP 4.x package, still shown in some docs.
pub const SP_PACKAGE: &str = "org.wso2.carbon.stream.processor.core.persistence.";
/// SI's default `persistenceStore`.
pub const DEFAULT_STORE_CLASS: &str =
    "org.wso2.carbon.streaming.integrator.core.persistence.FileSystemPersistenceStore";

/// The simple class names (or Spate short names) and what they map to.
const CLASSES: [(&str, StoreClass); 6] = [
    (
        "FileSystemPersistenceStore",
        StoreClass {
            kind: StoreKind::File,
            incremental: false,
        },
    ),
    (
        "DBPersistenceStore",
        StoreClass {
            kind: StoreKind::Database,
            incremental: false,
        },
    ),
    (
        "IncrementalFileSystemPersistenceStore",
        StoreClass {
            kind: StoreKind::File,
            incremental: true,
        },
    ),
    (
        "IncrementalDBPersistenceStore",
        StoreClass {
            kind: StoreKind::Database,
            incremental: true,
        },
    ),
    (
        "file",
        StoreClass {
            kind: StoreKind::File,
            incremental: false,
        },
    ),
    (
        "db",
        StoreClass {
            kind: StoreKind::Database,
            incremental: false,
        },
    ),
];

/// Maps a `persistenceStore` value to a store; `None` for classes Spate does not implement.
pub fn store_class(name: &str) -> Option<StoreClass> {
    let simple = name
        .strip_prefix(SI_PACKAGE)
        .or_else(|| name.strip_prefix(SP_PACKAGE))
        .filter(|s| s.starts_with(|c: char| c.is_ascii_uppercase()));
    let short = simple.is_none() && !name.contains('.');
    CLASSES
        .iter()
        .find(|(n, _)| {
            Some(*n) == simple || (short && *n == name && n.starts_with(char::is_lowercase))
        })
        .map(|(_, class)| *class)
}

/// The accepted values, for error messages.
pub fn accepted_store_classes() -> String {
    format!(
        "{SI_PACKAGE}FileSystemPersistenceStore, {SI_PACKAGE}DBPersistenceStore (or their \
         Incremental variants, or the {SP_PACKAGE}* names), or `file` / `db`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_si_sp_and_short_names() {
        let db = store_class(&format!("{SI_PACKAGE}DBPersistenceStore")).unwrap();
        assert_eq!(
            db,
            StoreClass {
                kind: StoreKind::Database,
                incremental: false
            }
        );
        let sp = store_class(&format!("{SP_PACKAGE}FileSystemPersistenceStore")).unwrap();
        assert_eq!(sp.kind, StoreKind::File);
        let inc = store_class(&format!("{SI_PACKAGE}IncrementalDBPersistenceStore")).unwrap();
        assert!(inc.incremental);
        assert_eq!(
            store_class(DEFAULT_STORE_CLASS).unwrap().kind,
            StoreKind::File
        );
        assert_eq!(store_class("db").unwrap().kind, StoreKind::Database);
        for unknown in [
            "com.acme.MyStore",
            "DBPersistenceStore",
            "org.wso2.carbon.streaming.integrator.core.persistence.db",
        ] {
            assert_eq!(store_class(unknown), None, "{unknown}");
        }
    }
}
