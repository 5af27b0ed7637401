//! `file.uri` as Siddhi writes it — `file:///abs/path`, `file:/abs/path` or a plain path — as a
//! local path. Remote schemes (ftp, sftp, smb, webdav) and `{{attr}}` placeholders are refused
//! with a message saying so.

use std::path::PathBuf;

/// `file.uri`: the file to read or write.
pub const FILE_URI: &str = "file.uri";

/// The local path of `uri`.
pub fn local_path(uri: &str, what: &str) -> Result<PathBuf, String> {
    let uri = uri.trim();
    if uri.contains("{{") {
        return Err(format!(
            "{what}: `{FILE_URI}` '{uri}' has a `{{{{...}}}}` placeholder; per-event file names \
             are not supported, write one file per stream"
        ));
    }
    let path = if let Some(rest) = uri.strip_prefix("file://") {
        rest
    } else if let Some(rest) = uri.strip_prefix("file:") {
        rest
    } else if let Some((scheme, _)) = uri.split_once("://") {
        return Err(format!(
            "{what}: `{FILE_URI}` '{uri}': the {scheme} scheme is not supported; use a local path"
        ));
    } else {
        uri
    };
    if path.is_empty() {
        return Err(format!("{what}: `{FILE_URI}` is empty"));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_uris_to_paths() {
        let p = |u: &str| local_path(u, "x");
        assert_eq!(p("file:///tmp/a.txt"), Ok(PathBuf::from("/tmp/a.txt")));
        assert_eq!(p("file:/tmp/a.txt"), Ok(PathBuf::from("/tmp/a.txt")));
        assert_eq!(p("out/a.csv"), Ok(PathBuf::from("out/a.csv")));
        assert!(p("sftp://h/a").is_err_and(|e| e.contains("sftp")));
        assert!(p("/tmp/{{symbol}}.txt").is_err_and(|e| e.contains("placeholder")));
        assert!(p("file://").is_err());
    }
}
