//! `vygoda-schema-registry register`: put every `<subject>.avsc` of a directory into a running
//! registry (used by `make up` and deployments). Every file is tried; the run fails if any
//! file was refused, naming the subject and the registry's reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vygoda_avro::registry::{Registry, RegistryConfig, RegistryError};

use crate::config::RegisterConfig;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("cannot list {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(RegistryError),
    #[error(
        "cannot reach the registry at {url}: {reason}; is it running (`make up`)? is --ca right?"
    )]
    Unreachable { url: String, reason: String },
    #[error("{} of {total} schemas refused:\n{}", failures.len(), failures.join("\n"))]
    Refused { total: usize, failures: Vec<String> },
}

impl RegisterError {
    pub fn exit_code(&self) -> i32 {
        use vygoda_common::exit;
        match self {
            RegisterError::Dir { .. } | RegisterError::Client(_) => exit::USAGE,
            RegisterError::Unreachable { .. } => exit::UNAVAILABLE,
            RegisterError::Refused { .. } => exit::FAILED,
        }
    }
}

/// What happened to one file: its schema id, or none for `--check-only`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub subject: String,
    pub id: Option<u32>,
}

/// `<subject>.avsc` files of `dir`, sorted by subject.
pub fn schema_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, RegisterError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RegisterError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "avsc"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), p)))
        .collect();
    files.sort();
    Ok(files)
}

/// Register (or with `check_only`, test) every schema file, through the same registry client
/// the services use.
pub async fn run(config: &RegisterConfig) -> Result<Vec<Outcome>, RegisterError> {
    let files = schema_files(&config.dir)?;
    if files.is_empty() {
        tracing::warn!(dir = %config.dir.display(), "no .avsc files; nothing to register");
    }
    let registry = Registry::new(RegistryConfig {
        url: config.url.clone(),
        ca: config.ca.clone(),
        // The registry knows the caller by its certificate; the file's name is how an operator
        // knows it, for messages only.
        principal: config.identity.cert.file_stem().map_or_else(
            || config.identity.cert.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        ),
        identity: Some(config.identity.clone()),
        timeout: Duration::from_secs(30),
    })
    .map_err(RegisterError::Client)?;
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for (subject, path) in &files {
        match register_one(&registry, config.check_only, subject, path).await {
            Ok(id) => {
                tracing::info!(subject, file = %path.display(), id, check_only = config.check_only, "schema ok");
                outcomes.push(Outcome {
                    subject: subject.clone(),
                    id,
                });
            }
            Err(Failure::Refused(reason)) => {
                tracing::error!(subject, file = %path.display(), reason, "schema refused");
                failures.push(format!(
                    "  subject {subject} ({}): {reason}",
                    path.display()
                ));
            }
            Err(Failure::Transport(reason)) => {
                return Err(RegisterError::Unreachable {
                    url: config.url.clone(),
                    reason,
                })
            }
        }
    }
    if failures.is_empty() {
        Ok(outcomes)
    } else {
        Err(RegisterError::Refused {
            total: files.len(),
            failures,
        })
    }
}

enum Failure {
    Refused(String),
    Transport(String),
}

impl From<RegistryError> for Failure {
    fn from(error: RegistryError) -> Failure {
        match &error {
            // The whole run stops: no other file would fare better.
            RegistryError::Unreachable { source, .. } => Failure::Transport(error_chain(source)),
            _ => Failure::Refused(error.to_string()),
        }
    }
}

async fn register_one(
    registry: &Registry,
    check_only: bool,
    subject: &str,
    path: &Path,
) -> Result<Option<u32>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Refused(format!("cannot read the file: {e}")))?;
    if !check_only {
        return Ok(Some(registry.register(subject, &text).await?));
    }
    let problems = registry.incompatibilities(subject, &text).await?;
    if problems.is_empty() {
        Ok(None)
    } else {
        Err(Failure::Refused(format!(
            "incompatible: {}",
            problems.join("; ")
        )))
    }
}

/// reqwest hides the interesting part (certificate unknown, connection refused) in sources.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_avsc_files_count_and_stems_are_subjects() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b-value.avsc"), "{}").unwrap();
        std::fs::write(dir.path().join("a-value.avsc"), "{}").unwrap();
        std::fs::write(dir.path().join("README.md"), "").unwrap();
        let files = schema_files(dir.path()).unwrap();
        let subjects: Vec<&str> = files.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(subjects, ["a-value", "b-value"]);
    }
}
