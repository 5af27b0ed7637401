//! HTTP Basic authentication for the REST API and for sources with `basic.auth.enabled`.
//!
//! Users come from `spate.users` in `deployment.yaml`. When none are configured, the node
//! generates a random password for `admin` on its first start, keeps it in the data directory
//! (readable by the owner only) and prints it once — there is no well-known default password.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::spate_section::User;

/// The user a generated password is for.
pub const GENERATED_USER: &str = "admin";
/// The file in the data directory that keeps the generated password.
pub const PASSWORD_FILE: &str = "admin-password";

/// The users allowed in.
#[derive(Clone, PartialEq, Eq)]
pub struct Users {
    users: Vec<User>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.users.iter().map(|u| &u.username))
            .finish()
    }
}

/// How the users were set up (to tell the operator once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsersOrigin {
    /// From `spate.users`.
    Configured,
    /// A password generated earlier, read from this file.
    Kept(PathBuf),
    /// A password generated now and written to this file.
    Generated { file: PathBuf, password: String },
}

impl Users {
    /// Exactly these users.
    pub fn new(users: Vec<User>) -> Users {
        Users { users }
    }

    /// The configured users, or `admin` with the password kept in (or generated into)
    /// `data_dir`.
    pub fn load_or_generate(
        configured: &[User],
        data_dir: &Path,
    ) -> std::io::Result<(Users, UsersOrigin)> {
        if !configured.is_empty() {
            return Ok((Users::new(configured.to_vec()), UsersOrigin::Configured));
        }
        let file = data_dir.join(PASSWORD_FILE);
        let (password, origin) = match std::fs::read_to_string(&file) {
            Ok(text) if !text.trim().is_empty() => {
                (text.trim().to_string(), UsersOrigin::Kept(file))
            }
            Ok(_) | Err(_) => {
                let password = random_password()?;
                write_private(&file, &password)?;
                (password.clone(), UsersOrigin::Generated { file, password })
            }
        };
        let user = User {
            username: GENERATED_USER.to_string(),
            password,
        };
        Ok((Users::new(vec![user]), origin))
    }

    /// Whether the request's `Authorization: Basic ...` names one of the users.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        // Check every user without stopping early, comparing in constant time.
        self.users.iter().fold(false, |found, u| {
            found
                | (same(u.username.as_bytes(), user.as_bytes())
                    & same(u.password.as_bytes(), password.as_bytes()))
        })
    }
}

/// `user:password` from a Basic `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Compares without an early exit on the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 24 characters from [A-Za-z0-9] (about 143 bits).
fn random_password() -> std::io::Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(24);
    while out.len() < 24 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        // Rejection sampling keeps every character equally likely.
        for b in bytes {
            if (b as usize) < ALPHABET.len() * 4 && out.len() < 24 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// Writes `text` to `file`, readable by the owner only.
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn header(user: &str, password: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        h.insert(AUTHORIZATION, HeaderValue::from_str(&value).expect("ascii"));
        h
    }

    #[test]
    fn checks_user_and_password() {
        let users = Users::new(vec![User {
            username: "admin".into(),
            password: "s3cret".into(),
        }]);
        assert!(users.allows(&header("admin", "s3cret")));
        assert!(!users.allows(&header("admin", "wrong")));
        assert!(!users.allows(&header("root", "s3cret")));
        assert!(!users.allows(&HeaderMap::new()));
    }

    #[test]
    fn a_generated_password_is_kept() {
        let dir = std::env::temp_dir().join(format!("spate-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (first, origin) = Users::load_or_generate(&[], &dir).expect("generated");
        let UsersOrigin::Generated { password, .. } = origin else {
            panic!("expected a new password");
        };
        assert_eq!(password.len(), 24);
        let (again, origin) = Users::load_or_generate(&[], &dir).expect("kept");
        assert!(matches!(origin, UsersOrigin::Kept(_)));
        assert_eq!(first, again);
        assert!(again.allows(&header("admin", &password)));
        std::fs::remove_dir_all(&dir).ok();
    }
}
