//! `vygoda-schema-registry register`: put every `<subject>.avsc` of a directory into a running
//! registry (used by `make up` and deployments). Every file is tried; the run fails if any
//! file was refused, naming the subject and the registry's reason.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::api::CONTENT_TYPE;
use crate::config::RegisterConfig;
use vygoda_common::https::{self, HttpsError};

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("cannot list {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] HttpsError),
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
            RegisterError::Dir { .. } | RegisterError::Tls(_) => exit::USAGE,
            RegisterError::Unreachable { .. } => exit::UNAVAILABLE,
            RegisterError::Refused { .. } => exit::FAILED,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub subject: String,
    pub id: Option<i64>,
    pub version: Option<i64>,
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

/// Register (or with `check_only`, test) every schema file; one line per file on success.
pub async fn run(config: &RegisterConfig) -> Result<Vec<Outcome>, RegisterError> {
    let files = schema_files(&config.dir)?;
    if files.is_empty() {
        tracing::warn!(dir = %config.dir.display(), "no .avsc files; nothing to register");
    }
    let client = https::client(
        config.ca.as_deref(),
        Some(&config.identity),
        std::time::Duration::from_secs(30),
    )?;
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for (subject, path) in &files {
        match register_one(&client, config, subject, path).await {
            Ok(outcome) => {
                tracing::info!(subject, file = %path.display(), id = outcome.id, version = outcome.version,
                    check_only = config.check_only, "schema ok");
                outcomes.push(outcome);
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

fn encode_subject(subject: &str) -> String {
    // Path-segment encoding: keep unreserved characters, percent-encode the rest.
    subject
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn register_one(
    client: &reqwest::Client,
    config: &RegisterConfig,
    subject: &str,
    path: &Path,
) -> Result<Outcome, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Refused(format!("cannot read the file: {e}")))?;
    let body = json!({"schema": text, "schemaType": "AVRO"});
    let url = if config.check_only {
        format!(
            "{}/compatibility/subjects/{}/versions/latest?verbose=true",
            config.url,
            encode_subject(subject)
        )
    } else {
        format!(
            "{}/subjects/{}/versions",
            config.url,
            encode_subject(subject)
        )
    };
    let response = client
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .json(&body)
        .send()
        .await
        .map_err(|e| Failure::Transport(error_chain(&e)))?;
    let status = response.status();
    let answer: Value = response
        .json()
        .await
        .map_err(|e| Failure::Transport(format!("unreadable answer ({status}): {e}")))?;
    if !status.is_success() {
        let message = answer["message"].as_str().unwrap_or("(no message)");
        let code = &answer["error_code"];
        return Err(Failure::Refused(format!(
            "HTTP {status}, error_code {code}: {message}"
        )));
    }
    if config.check_only {
        if answer["is_compatible"] == Value::Bool(true) {
            return Ok(Outcome {
                subject: subject.to_owned(),
                id: None,
                version: None,
            });
        }
        return Err(Failure::Refused(format!(
            "incompatible: {}",
            answer["messages"]
        )));
    }
    Ok(Outcome {
        subject: subject.to_owned(),
        id: answer["id"].as_i64(),
        version: answer["version"].as_i64(),
    })
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
    fn subjects_are_path_encoded() {
        assert_eq!(encode_subject("products-value"), "products-value");
        assert_eq!(encode_subject("a/b c"), "a%2Fb%20c");
    }

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
