//! Confluent wire format and the Schema Registry: schemas fetched by id once, cached forever
//! (an id always names the same schema), mapped to a [`LakeSchema`] once.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::rows::LakeSchema;

/// Why a payload is not in the Confluent wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("payload of {0} bytes is shorter than the 5-byte header")]
    Short(usize),
    #[error("magic byte {0} (expected 0)")]
    BadMagic(u8),
}

/// `0x00`, 4-byte big-endian schema id, Avro binary.
pub fn split_wire(payload: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if payload.len() < 5 {
        return Err(WireError::Short(payload.len()));
    }
    if payload[0] != 0 {
        return Err(WireError::BadMagic(payload[0]));
    }
    let id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
    Ok((id, &payload[5..]))
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    #[error("schema id {0} is not in the registry")]
    NotFound(u32),
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
    #[error("schema registry answer not understood: {0}")]
    Invalid(String),
    #[error("cancelled while waiting for the schema registry")]
    Cancelled,
}

/// Where schemas come from (the registry, or a map in tests).
pub trait SchemaSource: Send + Sync + 'static {
    /// The schema JSON for `id`.
    fn schema(&self, id: u32) -> impl Future<Output = Result<String, RegistryError>> + Send;
    /// Latest (id, schema) of `subject`, if the subject exists.
    fn latest(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<(u32, String)>, RegistryError>> + Send;
}

/// HTTPS client of a Confluent-compatible registry.
#[derive(Clone)]
pub struct HttpRegistry {
    client: reqwest::Client,
    base: String,
}

impl HttpRegistry {
    pub fn new(
        url: &str,
        ca: Option<&Path>,
        identity: Option<&vygoda_common::https::Identity>,
    ) -> Result<HttpRegistry, RegistryError> {
        let client = vygoda_common::https::client(ca, identity, Duration::from_secs(10))
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        Ok(HttpRegistry {
            client,
            base: url.trim_end_matches('/').to_owned(),
        })
    }

    async fn get_json(&self, path: &str) -> Result<Option<serde_json::Value>, RegistryError> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Accept", "application/vnd.schemaregistry.v1+json")
            .send()
            .await
            .map_err(|e| RegistryError::Unavailable(e.to_string()))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(RegistryError::Unavailable(format!("{path}: HTTP {status}")));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(RegistryError::Invalid(format!(
                "{path}: HTTP {status}; the registry refused the lake writer's certificate \
                 (--schema-registry-cert/--schema-registry-key)"
            )));
        }
        if !status.is_success() {
            return Err(RegistryError::Invalid(format!("{path}: HTTP {status}")));
        }
        resp.json()
            .await
            .map(Some)
            .map_err(|e| RegistryError::Unavailable(format!("{path}: {e}")))
    }
}

fn avro_schema_field(v: &serde_json::Value) -> Result<String, RegistryError> {
    if let Some(kind) = v.get("schemaType").and_then(|t| t.as_str()) {
        if kind != "AVRO" {
            return Err(RegistryError::Invalid(format!(
                "schemaType {kind} is not AVRO"
            )));
        }
    }
    v.get("schema")
        .and_then(|s| s.as_str())
        .map(str::to_owned)
        .ok_or_else(|| RegistryError::Invalid("no `schema` string".into()))
}

impl SchemaSource for HttpRegistry {
    async fn schema(&self, id: u32) -> Result<String, RegistryError> {
        match self.get_json(&format!("/schemas/ids/{id}")).await? {
            None => Err(RegistryError::NotFound(id)),
            Some(v) => avro_schema_field(&v),
        }
    }

    async fn latest(&self, subject: &str) -> Result<Option<(u32, String)>, RegistryError> {
        match self
            .get_json(&format!("/subjects/{subject}/versions/latest"))
            .await?
        {
            None => Ok(None),
            Some(v) => {
                let id = v
                    .get("id")
                    .and_then(|i| i.as_u64())
                    .and_then(|i| u32::try_from(i).ok())
                    .ok_or_else(|| RegistryError::Invalid("no `id` in subject version".into()))?;
                Ok(Some((id, avro_schema_field(&v)?)))
            }
        }
    }
}

/// Schemas already mapped, by id. A schema that cannot be parsed or mapped is remembered with
/// its reason (its records are dead-lettered without asking again).
pub struct SchemaCache<R> {
    source: R,
    by_id: HashMap<u32, Result<Arc<LakeSchema>, String>>,
    /// Ids the registry did not know, re-asked after a while (the registry may be catching up).
    missing: HashMap<u32, Instant>,
    stop: CancellationToken,
}

/// What a schema id resolves to.
pub type Resolved = Result<Arc<LakeSchema>, String>;

impl<R: SchemaSource> SchemaCache<R> {
    pub fn new(source: R, stop: CancellationToken) -> Self {
        SchemaCache {
            source,
            by_id: HashMap::new(),
            missing: HashMap::new(),
            stop,
        }
    }

    /// The schema for `id`, or the reason its records cannot be decoded. Waits (with backoff)
    /// while the registry is unavailable: records are never dead-lettered for an outage.
    pub async fn get(&mut self, id: u32) -> Result<Resolved, RegistryError> {
        if let Some(hit) = self.by_id.get(&id) {
            return Ok(hit.clone());
        }
        if let Some(at) = self.missing.get(&id) {
            if at.elapsed() < Duration::from_secs(30) {
                return Ok(Err(format!("schema id {id} is not in the registry")));
            }
        }
        let id_ = id;
        let json = match self.with_retry(|s| s.schema(id_)).await {
            Ok(json) => json,
            Err(RegistryError::NotFound(_)) => {
                self.missing.insert(id, Instant::now());
                return Ok(Err(format!("schema id {id} is not in the registry")));
            }
            Err(RegistryError::Invalid(why)) => {
                let resolved = Err(format!("schema id {id}: {why}"));
                self.by_id.insert(id, resolved.clone());
                return Ok(resolved);
            }
            Err(e) => return Err(e),
        };
        let resolved = map_schema(id, &json);
        self.missing.remove(&id);
        self.by_id.insert(id, resolved.clone());
        Ok(resolved)
    }

    /// The latest schema of a subject (for tombstones arriving before any value of their
    /// partition). `None` when the subject does not exist or cannot be mapped.
    pub async fn latest(
        &mut self,
        subject: &str,
    ) -> Result<Option<Arc<LakeSchema>>, RegistryError> {
        let latest = self.with_retry(|s| s.latest(subject)).await?;
        let Some((id, json)) = latest else {
            return Ok(None);
        };
        if let Some(hit) = self.by_id.get(&id) {
            return Ok(hit.clone().ok());
        }
        let resolved = map_schema(id, &json);
        self.by_id.insert(id, resolved.clone());
        Ok(resolved.ok())
    }

    async fn with_retry<'a, T, F, Fut>(&'a self, mut call: F) -> Result<T, RegistryError>
    where
        F: FnMut(&'a R) -> Fut,
        Fut: Future<Output = Result<T, RegistryError>>,
    {
        let mut delay = Duration::from_millis(200);
        loop {
            match call(&self.source).await {
                Err(RegistryError::Unavailable(why)) => {
                    tracing::warn!(error = %why, ?delay, "schema registry unavailable; waiting");
                    tokio::select! {
                        _ = self.stop.cancelled() => return Err(RegistryError::Cancelled),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }
}

fn map_schema(id: u32, json: &str) -> Resolved {
    let schema = apache_avro::Schema::parse_str(json)
        .map_err(|e| format!("schema id {id} is not valid Avro: {e}"))?;
    LakeSchema::from_avro(id, schema)
        .map(Arc::new)
        .map_err(|e| format!("schema id {id}: {e}"))
}

/// Schemas from memory, for tests and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct StaticSchemas {
    pub by_id: HashMap<u32, String>,
    pub subjects: HashMap<String, u32>,
}

impl SchemaSource for StaticSchemas {
    async fn schema(&self, id: u32) -> Result<String, RegistryError> {
        self.by_id
            .get(&id)
            .cloned()
            .ok_or(RegistryError::NotFound(id))
    }

    async fn latest(&self, subject: &str) -> Result<Option<(u32, String)>, RegistryError> {
        Ok(self
            .subjects
            .get(subject)
            .and_then(|id| Some((*id, self.by_id.get(id)?.clone()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_checked() {
        assert_eq!(split_wire(&[0, 0, 0, 1, 2, 9]), Ok((258, &[9u8][..])));
        assert_eq!(split_wire(&[1, 0, 0, 0, 1]), Err(WireError::BadMagic(1)));
        assert_eq!(split_wire(&[0, 0]), Err(WireError::Short(2)));
    }

    #[tokio::test]
    async fn cache_maps_once_and_remembers_bad_schemas() {
        let mut src = StaticSchemas::default();
        src.by_id.insert(
            1,
            r#"{"type":"record","name":"A","fields":[{"name":"x","type":"long"}]}"#.into(),
        );
        src.by_id.insert(
            2,
            r#"{"type":"record","name":"N","fields":[{"name":"n","type":["null","N"]}]}"#.into(),
        );
        let mut cache = SchemaCache::new(src, CancellationToken::new());
        let a = cache.get(1).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&a, &cache.get(1).await.unwrap().unwrap()));
        assert!(cache
            .get(2)
            .await
            .unwrap()
            .unwrap_err()
            .contains("recursive"));
        assert!(cache
            .get(3)
            .await
            .unwrap()
            .unwrap_err()
            .contains("not in the registry"));
    }
}
