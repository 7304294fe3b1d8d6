//! Schema id for the topic's value subject from a Confluent-compatible Schema Registry.
//!
//! Registering an already registered schema returns its existing id, so one POST both looks up
//! and (first time) registers; the same schema text always maps to the same id, which keeps the
//! wire bytes of a re-published run identical.

use std::path::PathBuf;
use std::time::Duration;

use vygoda_common::https::Identity;

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub url: String,
    /// PEM CA bundle that signed the registry's certificate.
    pub ca: Option<PathBuf>,
    /// The publisher's certificate: the registry knows principals by it.
    pub identity: Option<Identity>,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry client set-up failed: {0}")]
    Client(#[from] vygoda_common::https::HttpsError),
    #[error("cannot reach the schema registry at {url}: {message}; is it up (`make up`)?")]
    Unreachable { url: String, message: String },
    #[error("the registry refused the publisher for subject `{subject}` ({status}): {body}; check its certificate and its Write grant on the topic in kafka/acls.toml")]
    Auth {
        subject: String,
        status: u16,
        body: String,
    },
    #[error("the registry rejected the schema for `{subject}` as incompatible: {body}; evolve kafka/schemas/recommendations-value.avsc compatibly")]
    Incompatible { subject: String, body: String },
    #[error("the registry answered {status} for `{subject}`: {body}")]
    Other {
        subject: String,
        status: u16,
        body: String,
    },
}

fn encode_path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Register (or find) `schema` under `subject`; returns its id.
pub async fn schema_id(
    cfg: &RegistryConfig,
    subject: &str,
    schema: &str,
) -> Result<u32, RegistryError> {
    let client =
        vygoda_common::https::client(cfg.ca.as_deref(), cfg.identity.as_ref(), cfg.timeout)?;
    let url = format!(
        "{}/subjects/{}/versions",
        cfg.url.trim_end_matches('/'),
        encode_path_segment(subject)
    );
    let req = client
        .post(&url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/vnd.schemaregistry.v1+json",
        )
        .json(&serde_json::json!({ "schema": schema }));
    let resp = req.send().await.map_err(|e| RegistryError::Unreachable {
        url: url.clone(),
        message: e.to_string(),
    })?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    match status {
        200 => {
            let v: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| RegistryError::Other {
                    subject: subject.to_owned(),
                    status,
                    body: format!("{body} ({e})"),
                })?;
            v["id"]
                .as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| RegistryError::Other {
                    subject: subject.to_owned(),
                    status,
                    body,
                })
        }
        401 | 403 => Err(RegistryError::Auth {
            subject: subject.to_owned(),
            status,
            body,
        }),
        409 => Err(RegistryError::Incompatible {
            subject: subject.to_owned(),
            body,
        }),
        _ => Err(RegistryError::Other {
            subject: subject.to_owned(),
            status,
            body,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_escaped_in_paths() {
        assert_eq!(
            encode_path_segment("recommendations-value"),
            "recommendations-value"
        );
        assert_eq!(encode_path_segment("a b/c"), "a%20b%2Fc");
    }

    #[tokio::test]
    async fn unreachable_registry_is_reported_with_its_url() {
        let cfg = RegistryConfig {
            url: "http://127.0.0.1:1".into(),
            ca: None,
            identity: None,
            timeout: Duration::from_secs(2),
        };
        let e = schema_id(&cfg, "s", "\"string\"").await.unwrap_err();
        assert!(matches!(e, RegistryError::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains("127.0.0.1:1"));
    }
}
