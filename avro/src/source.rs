//! Where writer schemas come from, for readers that are generic over it: the registry, or a
//! fixed map in tests and benchmarks.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use apache_avro::Schema;

use crate::registry::{Registry, RegistryError};

/// A source of writer schemas by id and of a subject's latest schema.
pub trait SchemaSource: Send + Sync + 'static {
    /// The schema with `id`.
    fn schema(&self, id: u32) -> impl Future<Output = Result<Arc<Schema>, RegistryError>> + Send;
    /// The latest (id, schema) of `subject`, if the subject exists.
    fn latest(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<(u32, Arc<Schema>)>, RegistryError>> + Send;
}

impl SchemaSource for Registry {
    async fn schema(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        Registry::schema(self, id).await
    }

    async fn latest(&self, subject: &str) -> Result<Option<(u32, Arc<Schema>)>, RegistryError> {
        Registry::latest(self, subject).await
    }
}

/// Schemas from memory (JSON by id, and each subject's latest id), for tests and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct StaticSchemas {
    pub by_id: HashMap<u32, String>,
    pub subjects: HashMap<String, u32>,
}

impl StaticSchemas {
    fn parsed(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        let text = self.by_id.get(&id).ok_or(RegistryError::UnknownId(id))?;
        Schema::parse_str(text)
            .map(Arc::new)
            .map_err(|source| RegistryError::BadSchema {
                id,
                source: Box::new(source),
            })
    }
}

impl SchemaSource for StaticSchemas {
    async fn schema(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        self.parsed(id)
    }

    async fn latest(&self, subject: &str) -> Result<Option<(u32, Arc<Schema>)>, RegistryError> {
        match self.subjects.get(subject) {
            Some(&id) => self.parsed(id).map(|s| Some((id, s))),
            None => Ok(None),
        }
    }
}
