//! Writer schemas by id, each mapped to a [`LakeSchema`] once. The registry client and the wire
//! format are `vygoda_avro`'s; what is the lake writer's own is the mapping, remembering schemas
//! that cannot be mapped, and waiting out registry outages instead of dead-lettering.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apache_avro::Schema;
use tokio_util::sync::CancellationToken;
use vygoda_avro::registry::RegistryError;
use vygoda_avro::source::SchemaSource;

use crate::rows::LakeSchema;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A definite refusal (certificate, settings): no record can be decoded until it is fixed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cancelled while waiting for the schema registry")]
    Cancelled,
}

/// What a schema id resolves to: the mapped schema, or why its records cannot be decoded.
pub type Resolved = Result<Arc<LakeSchema>, String>;

/// Schemas already mapped, by id. A schema that cannot be parsed or mapped is remembered with
/// its reason (its records are dead-lettered without asking again).
pub struct SchemaCache<R> {
    source: R,
    by_id: HashMap<u32, Resolved>,
    /// Ids the registry did not know, re-asked after a while (the registry may be catching up).
    missing: HashMap<u32, Instant>,
    stop: CancellationToken,
}

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
    pub async fn get(&mut self, id: u32) -> Result<Resolved, SchemaError> {
        if let Some(hit) = self.by_id.get(&id) {
            return Ok(hit.clone());
        }
        let unknown = || Err(format!("schema id {id} is not in the registry"));
        if let Some(at) = self.missing.get(&id) {
            if at.elapsed() < Duration::from_secs(30) {
                return Ok(unknown());
            }
        }
        let schema = match self.with_retry(|s| s.schema(id)).await {
            Ok(schema) => schema,
            Err(SchemaError::Registry(RegistryError::UnknownId(_))) => {
                self.missing.insert(id, Instant::now());
                return Ok(unknown());
            }
            Err(SchemaError::Registry(e @ RegistryError::BadSchema { .. })) => {
                let resolved = Err(e.to_string());
                self.by_id.insert(id, resolved.clone());
                return Ok(resolved);
            }
            Err(e) => return Err(e),
        };
        let resolved = map_schema(id, &schema);
        self.missing.remove(&id);
        self.by_id.insert(id, resolved.clone());
        Ok(resolved)
    }

    /// The latest schema of a subject (for tombstones arriving before any value of their
    /// partition). `None` when the subject does not exist or cannot be mapped.
    pub async fn latest(&mut self, subject: &str) -> Result<Option<Arc<LakeSchema>>, SchemaError> {
        let latest = match self.with_retry(|s| s.latest(subject)).await {
            Ok(latest) => latest,
            Err(SchemaError::Registry(RegistryError::BadSchema { .. })) => None,
            Err(e) => return Err(e),
        };
        let Some((id, schema)) = latest else {
            return Ok(None);
        };
        if let Some(hit) = self.by_id.get(&id) {
            return Ok(hit.clone().ok());
        }
        let resolved = map_schema(id, &schema);
        self.by_id.insert(id, resolved.clone());
        Ok(resolved.ok())
    }

    async fn with_retry<'a, T, F, Fut>(&'a self, mut call: F) -> Result<T, SchemaError>
    where
        F: FnMut(&'a R) -> Fut,
        Fut: Future<Output = Result<T, RegistryError>>,
    {
        let mut delay = Duration::from_millis(200);
        loop {
            match call(&self.source).await {
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, ?delay, "schema registry unavailable; waiting");
                    tokio::select! {
                        _ = self.stop.cancelled() => return Err(SchemaError::Cancelled),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                other => return other.map_err(SchemaError::from),
            }
        }
    }
}

fn map_schema(id: u32, schema: &Schema) -> Resolved {
    LakeSchema::from_avro(id, schema.clone())
        .map(Arc::new)
        .map_err(|e| format!("schema id {id}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vygoda_avro::source::StaticSchemas;

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
        src.by_id.insert(4, "not a schema".into());
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
        assert!(cache
            .get(4)
            .await
            .unwrap()
            .unwrap_err()
            .contains("not valid Avro"));
    }
}
