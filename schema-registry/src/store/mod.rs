//! Where schemas, subject versions and compatibility settings live.
//!
//! The registry logic ([`crate::registry`]) is written against [`Store`]; [`memory::MemoryStore`]
//! backs fast tests and throw-away instances, [`postgres::PostgresStore`] is the durable one.
//! Every operation that must be atomic (registering = look up, check, allocate id and version) is
//! one trait method, so each implementation can make it atomic its own way (a mutex, a
//! transaction with a per-subject lock).

use std::future::Future;

use crate::compat::Level;

pub mod memory;
pub mod postgres;

pub use memory::MemoryStore;
pub use postgres::PostgresStore;

/// A schema by id. Schemas are never removed, so an id, once handed out, always resolves: data
/// written with it stays readable even after its subject versions are permanently deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchema {
    pub id: i32,
    pub schema: String,
}

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema: String,
    pub deleted: bool,
}

/// What a registration sees of its subject, inside its atomic section.
#[derive(Debug)]
pub struct SubjectState<'a> {
    /// Every version still stored (soft-deleted ones included), oldest first.
    pub versions: &'a [Version],
    pub subject_level: Option<Level>,
    pub global_level: Option<Level>,
}

impl SubjectState<'_> {
    pub fn level(&self) -> Level {
        self.subject_level.or(self.global_level).unwrap_or_default()
    }
}

/// The schema being registered.
#[derive(Debug, Clone, Copy)]
pub struct NewSchema<'a> {
    pub canonical: &'a str,
    pub compact: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// The schema already was a live version of the subject; nothing changed.
    Existing(Version),
    /// A new version was created (with a new id or the id the schema has elsewhere).
    Created(Version),
    /// The check refused it; nothing changed.
    Rejected(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("PostgreSQL error: {0}; check that the database is up and --database-url is right")]
    Database(#[from] sqlx::Error),
    #[error("schema store is inconsistent: {0}")]
    Corrupt(String),
}

/// Which versions a read includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Exclude,
    Include,
}

impl Deleted {
    pub fn from_flag(include: bool) -> Deleted {
        if include {
            Deleted::Include
        } else {
            Deleted::Exclude
        }
    }
}

/// Storage for the registry. Methods return `impl Future + Send` so the axum handlers built on
/// a generic store stay `Send`.
pub trait Store: Send + Sync + 'static {
    /// Atomically: if `schema` is a live version of `subject`, return it; otherwise call `check`
    /// with the subject's state and, if it returns no messages, store the schema (reusing its
    /// id if it exists under any subject) as the subject's next version. Concurrent calls for the
    /// same subject are serialised; concurrent calls for the same schema get the same id.
    fn register<F>(
        &self,
        subject: &str,
        schema: NewSchema<'_>,
        check: F,
    ) -> impl Future<Output = Result<Registered, StoreError>> + Send
    where
        F: FnOnce(&SubjectState<'_>) -> Vec<String> + Send;

    fn schema_by_id(
        &self,
        id: i32,
    ) -> impl Future<Output = Result<Option<StoredSchema>, StoreError>> + Send;

    /// Versions of `subject`, oldest first.
    fn versions(
        &self,
        subject: &str,
        deleted: Deleted,
    ) -> impl Future<Output = Result<Vec<Version>, StoreError>> + Send;

    /// Subjects with at least one version matching `deleted`, sorted.
    fn subjects(
        &self,
        deleted: Deleted,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// (subject, version) pairs using schema `id`.
    fn usages(
        &self,
        id: i32,
        deleted: Deleted,
    ) -> impl Future<Output = Result<Vec<(String, i32)>, StoreError>> + Send;

    /// Soft-delete the live versions of `subject` (all, or just `version`); returns the
    /// versions it marked.
    fn soft_delete(
        &self,
        subject: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<Vec<i32>, StoreError>> + Send;

    /// Permanently remove soft-deleted versions of `subject` (all, or just `version`); live
    /// versions are never touched. Returns the versions removed.
    fn purge(
        &self,
        subject: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<Vec<i32>, StoreError>> + Send;

    /// Compatibility level of `subject`, or the global one for `None`, if set.
    fn level(
        &self,
        subject: Option<&str>,
    ) -> impl Future<Output = Result<Option<Level>, StoreError>> + Send;

    fn set_level(
        &self,
        subject: Option<&str>,
        level: Level,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Remove a level; returns the one removed.
    fn clear_level(
        &self,
        subject: Option<&str>,
    ) -> impl Future<Output = Result<Option<Level>, StoreError>> + Send;
}

/// Behaviour every [`Store`] must have, run against the in-memory store by unit tests and
/// against PostgreSQL by `tests/postgres.rs` (feature `testkit`, which this crate's own tests
/// turn on; the binary is built without it).
#[cfg(any(test, feature = "testkit"))]
pub mod contract;
