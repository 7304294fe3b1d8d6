//! HTTP Basic authentication of principals (`--users-file`, `{"username": "password", ...}`).
//!
//! Policy: calls that change state (register, delete, config changes) need a known principal;
//! reads, lookups and compatibility checks are open to anyone who completed the TLS handshake.
//! Credentials that are sent are always verified, on reads too, so a misconfigured client learns
//! at once instead of at its first write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read users file {path}: {source}; `make up` writes it, or pass --users-file")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("users file {path} is not a JSON object of username → password: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("users file {0} has no users; nobody could register a schema")]
    Empty(PathBuf),
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Principal(String),
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the Authorization header is not HTTP Basic credentials")]
    Malformed,
    #[error("unknown user or wrong password")]
    BadCredentials,
}

/// The known principals.
#[derive(Clone, Default)]
pub struct Users {
    passwords: HashMap<String, String>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print passwords.
        let mut names: Vec<&String> = self.passwords.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

impl Users {
    pub fn new(passwords: HashMap<String, String>) -> Self {
        Users { passwords }
    }

    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.to_owned(),
            source,
        })?;
        let passwords: HashMap<String, String> =
            serde_json::from_str(&text).map_err(|source| AuthError::Parse {
                path: path.to_owned(),
                source,
            })?;
        if passwords.is_empty() {
            return Err(AuthError::Empty(path.to_owned()));
        }
        warn_if_readable_by_others(path);
        Ok(Users { passwords })
    }

    pub fn len(&self) -> usize {
        self.passwords.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }

    /// Identify the caller from an `Authorization` header value, if any.
    pub fn identify(&self, authorization: Option<&[u8]>) -> Result<Caller, Refusal> {
        let Some(header) = authorization else {
            return Ok(Caller::Anonymous);
        };
        let header = std::str::from_utf8(header).map_err(|_| Refusal::Malformed)?;
        let (scheme, encoded) = header.trim().split_once(' ').ok_or(Refusal::Malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(Refusal::Malformed);
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| Refusal::Malformed)?;
        let decoded = String::from_utf8(decoded).map_err(|_| Refusal::Malformed)?;
        let (user, password) = decoded.split_once(':').ok_or(Refusal::Malformed)?;
        // Compare against a dummy for unknown users too, so timing does not reveal which
        // usernames exist.
        let expected = self.passwords.get(user);
        let matches = constant_time_eq(
            expected.map_or(b"\0unknown-user".as_slice(), |p| p.as_bytes()),
            password.as_bytes(),
        );
        if matches && expected.is_some() {
            Ok(Caller::Principal(user.to_owned()))
        } else {
            Err(Refusal::BadCredentials)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777),
                "users file is readable by group/others; chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        Users::new(HashMap::from([("admin".to_owned(), "s3cret:x".to_owned())]))
    }

    fn basic(user_pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
        .into_bytes()
    }

    #[test]
    fn principals_are_identified_by_basic_credentials() {
        let users = users();
        assert_eq!(users.identify(None), Ok(Caller::Anonymous));
        assert_eq!(
            users.identify(Some(&basic("admin:s3cret:x"))),
            Ok(Caller::Principal("admin".into()))
        );
        assert_eq!(
            users.identify(Some(&basic("admin:s3cret"))),
            Err(Refusal::BadCredentials)
        );
        assert_eq!(
            users.identify(Some(&basic("eve:s3cret:x"))),
            Err(Refusal::BadCredentials)
        );
        assert_eq!(users.identify(Some(b"Bearer abc")), Err(Refusal::Malformed));
        assert_eq!(users.identify(Some(b"Basic !!!")), Err(Refusal::Malformed));
    }

    #[test]
    fn users_file_is_validated_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.json");
        std::fs::write(&path, r#"{"admin":"pw-123"}"#).unwrap();
        let users = Users::load(&path).unwrap();
        assert_eq!(users.len(), 1);
        assert!(!format!("{users:?}").contains("pw-123"));
        std::fs::write(&path, "{}").unwrap();
        assert!(matches!(Users::load(&path), Err(AuthError::Empty(_))));
        std::fs::write(&path, "[1]").unwrap();
        assert!(matches!(Users::load(&path), Err(AuthError::Parse { .. })));
    }
}
