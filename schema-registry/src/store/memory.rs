//! In-memory [`Store`]: one mutex around everything. For tests and `--database-url memory:`
//! experiments; it forgets everything on exit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{
    Deleted, NewSchema, Registered, Store, StoreError, StoredSchema, SubjectState, Version,
};
use crate::compat::Level;

#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Index = id - 1: (canonical, compact).
    schemas: Vec<(String, String)>,
    by_canonical: HashMap<String, i32>,
    /// subject → versions, oldest first.
    subjects: BTreeMap<String, Vec<Row>>,
    levels: HashMap<Option<String>, Level>,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    version: i32,
    id: i32,
    deleted: bool,
}

impl State {
    fn version(&self, subject: &str, row: Row) -> Version {
        Version {
            subject: subject.to_owned(),
            version: row.version,
            id: row.id,
            schema: self.schemas[(row.id - 1) as usize].1.clone(),
            deleted: row.deleted,
        }
    }

    fn versions(&self, subject: &str, deleted: Deleted) -> Vec<Version> {
        self.subjects
            .get(subject)
            .into_iter()
            .flatten()
            .filter(|row| deleted == Deleted::Include || !row.deleted)
            .map(|row| self.version(subject, *row))
            .collect()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every mutation is a single
        // push or flag flip), so a poisoned lock is safe to keep using.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    async fn register<F>(
        &self,
        subject: &str,
        schema: NewSchema<'_>,
        check: F,
    ) -> Result<Registered, StoreError>
    where
        F: FnOnce(&SubjectState<'_>) -> Vec<String> + Send,
    {
        let mut state = self.lock();
        let known_id = state.by_canonical.get(schema.canonical).copied();
        let rows = state.subjects.get(subject).cloned().unwrap_or_default();
        if let Some(id) = known_id {
            if let Some(row) = rows.iter().find(|row| row.id == id && !row.deleted) {
                return Ok(Registered::Existing(state.version(subject, *row)));
            }
        }
        let versions = state.versions(subject, Deleted::Include);
        let messages = check(&SubjectState {
            versions: &versions,
            subject_level: state.levels.get(&Some(subject.to_owned())).copied(),
            global_level: state.levels.get(&None).copied(),
        });
        if !messages.is_empty() {
            return Ok(Registered::Rejected(messages));
        }
        let id = match known_id {
            Some(id) => id,
            None => {
                state
                    .schemas
                    .push((schema.canonical.to_owned(), schema.compact.to_owned()));
                let id = i32::try_from(state.schemas.len())
                    .map_err(|_| StoreError::Corrupt("schema ids exhausted".into()))?;
                state.by_canonical.insert(schema.canonical.to_owned(), id);
                id
            }
        };
        let version = rows.last().map_or(1, |row| row.version + 1);
        let row = Row {
            version,
            id,
            deleted: false,
        };
        state
            .subjects
            .entry(subject.to_owned())
            .or_default()
            .push(row);
        Ok(Registered::Created(state.version(subject, row)))
    }

    async fn schema_by_id(&self, id: i32) -> Result<Option<StoredSchema>, StoreError> {
        let state = self.lock();
        let index = usize::try_from(id).ok().and_then(|i| i.checked_sub(1));
        Ok(index
            .and_then(|i| state.schemas.get(i))
            .map(|(_, compact)| StoredSchema {
                id,
                schema: compact.clone(),
            }))
    }

    async fn versions(&self, subject: &str, deleted: Deleted) -> Result<Vec<Version>, StoreError> {
        Ok(self.lock().versions(subject, deleted))
    }

    async fn subjects(&self, deleted: Deleted) -> Result<Vec<String>, StoreError> {
        let state = self.lock();
        Ok(state
            .subjects
            .iter()
            .filter(|(_, rows)| {
                rows.iter()
                    .any(|row| deleted == Deleted::Include || !row.deleted)
            })
            .map(|(subject, _)| subject.clone())
            .collect())
    }

    async fn usages(&self, id: i32, deleted: Deleted) -> Result<Vec<(String, i32)>, StoreError> {
        let state = self.lock();
        Ok(state
            .subjects
            .iter()
            .flat_map(|(subject, rows)| rows.iter().map(move |row| (subject, row)))
            .filter(|(_, row)| row.id == id && (deleted == Deleted::Include || !row.deleted))
            .map(|(subject, row)| (subject.clone(), row.version))
            .collect())
    }

    async fn soft_delete(
        &self,
        subject: &str,
        version: Option<i32>,
    ) -> Result<Vec<i32>, StoreError> {
        let mut state = self.lock();
        let mut marked = Vec::new();
        for row in state.subjects.get_mut(subject).into_iter().flatten() {
            if !row.deleted && version.is_none_or(|v| v == row.version) {
                row.deleted = true;
                marked.push(row.version);
            }
        }
        Ok(marked)
    }

    async fn purge(&self, subject: &str, version: Option<i32>) -> Result<Vec<i32>, StoreError> {
        let mut state = self.lock();
        let mut removed = Vec::new();
        if let Some(rows) = state.subjects.get_mut(subject) {
            rows.retain(|row| {
                let goes = row.deleted && version.is_none_or(|v| v == row.version);
                if goes {
                    removed.push(row.version);
                }
                !goes
            });
            if rows.is_empty() {
                state.subjects.remove(subject);
            }
        }
        Ok(removed)
    }

    async fn level(&self, subject: Option<&str>) -> Result<Option<Level>, StoreError> {
        Ok(self.lock().levels.get(&subject.map(str::to_owned)).copied())
    }

    async fn set_level(&self, subject: Option<&str>, level: Level) -> Result<(), StoreError> {
        self.lock().levels.insert(subject.map(str::to_owned), level);
        Ok(())
    }

    async fn clear_level(&self, subject: Option<&str>) -> Result<Option<Level>, StoreError> {
        Ok(self.lock().levels.remove(&subject.map(str::to_owned)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_meets_the_store_contract() {
        crate::store::contract::run_all(&MemoryStore::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_concurrent_registrations_agree() {
        crate::store::contract::concurrent_registrations_agree(std::sync::Arc::new(
            MemoryStore::new(),
        ))
        .await;
    }
}
