//! The registry's behaviour, independent of HTTP: what each Confluent REST call does and which
//! Confluent error it answers with. [`crate::api`] only maps requests onto these methods.

use serde::Deserialize;

use crate::compat::{self, Earlier, Level};
use crate::metrics::Metrics;
use crate::schema::{self, Candidate, SchemaError};
use crate::store::{Deleted, NewSchema, Registered, Store, StoreError, StoredSchema, Version};

/// Confluent's errors, with its error codes, so clients map them to the same exceptions.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {1} not found for subject '{0}'.")]
    VersionNotFound(String, String),
    #[error("Schema {0} not found.")]
    SchemaNotFound(String),
    #[error("Subject '{0}' was soft deleted. Set permanent=true to delete permanently.")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted; delete it without permanent=true first.")]
    SubjectNotSoftDeleted(String),
    #[error(
        "Version {1} of subject '{0}' was soft deleted. Set permanent=true to delete permanently."
    )]
    VersionSoftDeleted(String, i32),
    #[error("Version {1} of subject '{0}' was not deleted first before being permanently deleted; delete it without permanent=true first.")]
    VersionNotSoftDeleted(String, i32),
    #[error("Subject '{0}' does not have subject-level compatibility configured; add ?defaultToGlobal=true or PUT /config/{0}.")]
    SubjectLevelNotConfigured(String),
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\".")]
    InvalidVersion(String),
    #[error("Invalid compatibility level '{0}'. Valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE.")]
    InvalidLevel(String),
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\" (level {level}); details: {}", details.join("; "))]
    Incompatible {
        subject: String,
        level: Level,
        details: Vec<String>,
    },
    #[error("Invalid request: {0}")]
    BadRequest(String),
    #[error("HTTP 404 Not Found: no such endpoint in the Confluent Schema Registry API")]
    NoSuchEndpoint,
    #[error("Unauthorized: {0}")]
    Unauthorized(String),
    #[error("Forbidden: {0}")]
    Forbidden(String),
    #[error("Store error: {0}")]
    Store(#[from] StoreError),
}

impl RegistryError {
    /// (HTTP status, Confluent error code).
    pub fn status_and_code(&self) -> (u16, u32) {
        use RegistryError::*;
        match self {
            SubjectNotFound(_) => (404, 40401),
            VersionNotFound(..) => (404, 40402),
            SchemaNotFound(_) => (404, 40403),
            SubjectSoftDeleted(_) => (404, 40404),
            SubjectNotSoftDeleted(_) => (404, 40405),
            VersionSoftDeleted(..) => (404, 40406),
            VersionNotSoftDeleted(..) => (404, 40407),
            SubjectLevelNotConfigured(_) => (404, 40408),
            InvalidSchema(_) => (422, 42201),
            InvalidVersion(_) => (422, 42202),
            InvalidLevel(_) => (422, 42203),
            Incompatible { .. } => (409, 409),
            BadRequest(_) => (400, 400),
            NoSuchEndpoint => (404, 404),
            Unauthorized(_) => (401, 40101),
            Forbidden(_) => (403, 40301),
            Store(_) => (500, 50001),
        }
    }
}

impl From<SchemaError> for RegistryError {
    fn from(error: SchemaError) -> Self {
        RegistryError::InvalidSchema(error.to_string())
    }
}

/// The body of register, lookup and compatibility calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRequest {
    pub schema: String,
    #[serde(default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub rule_set: Option<serde_json::Value>,
}

impl SchemaRequest {
    pub fn new(schema: impl Into<String>) -> Self {
        SchemaRequest {
            schema: schema.into(),
            schema_type: None,
            references: None,
            metadata: None,
            rule_set: None,
        }
    }

    fn candidate(&self) -> Result<Candidate, RegistryError> {
        if self.references.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(SchemaError::References.into());
        }
        // Storing neither would silently drop them; say so instead.
        if self.metadata.as_ref().is_some_and(|m| !m.is_null())
            || self.rule_set.as_ref().is_some_and(|r| !r.is_null())
        {
            return Err(RegistryError::InvalidSchema(
                "metadata and ruleSet (data contracts) are not supported; send the schema alone"
                    .into(),
            ));
        }
        Ok(schema::candidate(
            &self.schema,
            self.schema_type.as_deref(),
        )?)
    }
}

/// `latest` (or Confluent's `-1`) or a version number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(i32),
}

impl VersionSpec {
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        if text.eq_ignore_ascii_case("latest") || text == "-1" {
            return Ok(VersionSpec::Latest);
        }
        match text.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
            _ => Err(RegistryError::InvalidVersion(text.to_owned())),
        }
    }

    fn label(self) -> String {
        match self {
            VersionSpec::Latest => "latest".into(),
            VersionSpec::Number(n) => n.to_string(),
        }
    }
}

/// The registry: Confluent semantics over a [`Store`].
#[derive(Debug)]
pub struct Registry<S> {
    store: S,
    metrics: Metrics,
}

impl<S: Store> Registry<S> {
    pub fn new(store: S, metrics: Metrics) -> Self {
        Registry { store, metrics }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Register `request` under `subject`: the existing version if the schema is already live
    /// there, else a new version after the subject's compatibility check.
    pub async fn register(
        &self,
        subject: &str,
        request: &SchemaRequest,
    ) -> Result<Version, RegistryError> {
        validate_subject(subject)?;
        let candidate = request.candidate()?;
        let mut level_used = Level::default();
        let outcome = self
            .store
            .register(
                subject,
                NewSchema {
                    canonical: &candidate.canonical,
                    compact: &candidate.compact,
                },
                |state| {
                    level_used = state.level();
                    let live: Vec<&Version> =
                        state.versions.iter().filter(|v| !v.deleted).collect();
                    check_against(level_used, &candidate.avro, &live)
                },
            )
            .await?;
        match outcome {
            Registered::Existing(version) => {
                self.metrics.registration("existing");
                Ok(version)
            }
            Registered::Created(version) => {
                self.metrics.registration("new_version");
                tracing::info!(
                    subject,
                    version = version.version,
                    id = version.id,
                    "registered schema"
                );
                Ok(version)
            }
            Registered::Rejected(details) => {
                self.metrics.registration("incompatible");
                self.metrics.incompatible("register");
                tracing::warn!(subject, level = %level_used, ?details, "refused incompatible schema");
                Err(RegistryError::Incompatible {
                    subject: subject.to_owned(),
                    level: level_used,
                    details,
                })
            }
        }
    }

    /// Which version of `subject` is `request`? (Confluent `POST /subjects/{subject}`.)
    pub async fn lookup(
        &self,
        subject: &str,
        request: &SchemaRequest,
        deleted: bool,
    ) -> Result<Version, RegistryError> {
        let candidate = request.candidate()?;
        let versions = self
            .store
            .versions(subject, Deleted::from_flag(deleted))
            .await?;
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        versions
            .into_iter()
            .rev()
            .find(|v| identity_of(&v.schema).as_deref() == Some(candidate.canonical.as_str()))
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("under subject '{subject}'")))
    }

    pub async fn schema_by_id(&self, id: i32) -> Result<StoredSchema, RegistryError> {
        self.store
            .schema_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("id {id}")))
    }

    /// (subject, version) pairs using schema `id`.
    pub async fn usages(
        &self,
        id: i32,
        deleted: bool,
    ) -> Result<Vec<(String, i32)>, RegistryError> {
        self.schema_by_id(id).await?;
        Ok(self.store.usages(id, Deleted::from_flag(deleted)).await?)
    }

    pub async fn subjects(&self, deleted: bool) -> Result<Vec<String>, RegistryError> {
        Ok(self.store.subjects(Deleted::from_flag(deleted)).await?)
    }

    pub async fn versions(
        &self,
        subject: &str,
        deleted: bool,
    ) -> Result<Vec<Version>, RegistryError> {
        let versions = self
            .store
            .versions(subject, Deleted::from_flag(deleted))
            .await?;
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        Ok(versions)
    }

    /// One version; `latest` is the newest live one (or the newest at all with `deleted`).
    pub async fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<Version, RegistryError> {
        let versions = self.versions(subject, deleted).await?;
        let found = match spec {
            VersionSpec::Latest => versions.last().cloned(),
            VersionSpec::Number(n) => versions.into_iter().find(|v| v.version == n),
        };
        found.ok_or_else(|| RegistryError::VersionNotFound(subject.to_owned(), spec.label()))
    }

    /// Messages of the compatibility check (empty = compatible). `None` or `latest` checks as a
    /// registration would (against the latest, or every live version for *_TRANSITIVE); a
    /// version number checks against that version only.
    pub async fn check(
        &self,
        subject: &str,
        spec: Option<VersionSpec>,
        request: &SchemaRequest,
    ) -> Result<Vec<String>, RegistryError> {
        let candidate = request.candidate()?;
        let level = self.effective_level(subject).await?;
        let live = self.store.versions(subject, Deleted::Exclude).await?;
        let against: Vec<&Version> = match spec {
            None | Some(VersionSpec::Latest) => live.iter().collect(),
            Some(VersionSpec::Number(n)) => {
                if live.is_empty() {
                    return Err(RegistryError::SubjectNotFound(subject.to_owned()));
                }
                let one = live.iter().find(|v| v.version == n).ok_or_else(|| {
                    RegistryError::VersionNotFound(subject.to_owned(), n.to_string())
                })?;
                vec![one]
            }
        };
        let messages = check_against(level, &candidate.avro, &against);
        if !messages.is_empty() {
            self.metrics.incompatible("check");
        }
        Ok(messages)
    }

    /// Soft-delete every live version, or, with `permanent`, remove a soft-deleted subject.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<i32>, RegistryError> {
        let all = self.store.versions(subject, Deleted::Include).await?;
        if all.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        let any_live = all.iter().any(|v| !v.deleted);
        if permanent {
            if any_live {
                return Err(RegistryError::SubjectNotSoftDeleted(subject.to_owned()));
            }
            let removed = self.store.purge(subject, None).await?;
            // The subject's level goes with it, as in Confluent.
            self.store.clear_level(Some(subject)).await?;
            tracing::info!(subject, ?removed, "permanently deleted subject");
            return Ok(removed);
        }
        if !any_live {
            return Err(RegistryError::SubjectSoftDeleted(subject.to_owned()));
        }
        let marked = self.store.soft_delete(subject, None).await?;
        tracing::info!(subject, ?marked, "soft-deleted subject");
        Ok(marked)
    }

    /// Soft-delete one version, or, with `permanent`, remove a soft-deleted one.
    pub async fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<i32, RegistryError> {
        let all = self.store.versions(subject, Deleted::Include).await?;
        if all.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        let target = match spec {
            // `latest` means the newest live version, or for a permanent delete the newest one.
            VersionSpec::Latest => all.iter().rev().find(|v| permanent || !v.deleted),
            VersionSpec::Number(n) => all.iter().find(|v| v.version == n),
        }
        .ok_or_else(|| RegistryError::VersionNotFound(subject.to_owned(), spec.label()))?;
        let number = target.version;
        if permanent {
            if !target.deleted {
                return Err(RegistryError::VersionNotSoftDeleted(
                    subject.to_owned(),
                    number,
                ));
            }
            self.store.purge(subject, Some(number)).await?;
        } else {
            if target.deleted {
                return Err(RegistryError::VersionSoftDeleted(
                    subject.to_owned(),
                    number,
                ));
            }
            self.store.soft_delete(subject, Some(number)).await?;
        }
        tracing::info!(subject, version = number, permanent, "deleted version");
        Ok(number)
    }

    /// The level of `subject` (or the global one for `None`). A subject without its own level
    /// answers 40408 unless `default_to_global`.
    pub async fn level(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<Level, RegistryError> {
        match subject {
            None => Ok(self.store.level(None).await?.unwrap_or_default()),
            Some(s) => match self.store.level(Some(s)).await? {
                Some(level) => Ok(level),
                None if default_to_global => Ok(self.store.level(None).await?.unwrap_or_default()),
                None => Err(RegistryError::SubjectLevelNotConfigured(s.to_owned())),
            },
        }
    }

    pub async fn set_level(
        &self,
        subject: Option<&str>,
        level: &str,
    ) -> Result<Level, RegistryError> {
        if let Some(s) = subject {
            validate_subject(s)?;
        }
        let parsed =
            Level::parse(level).ok_or_else(|| RegistryError::InvalidLevel(level.to_owned()))?;
        self.store.set_level(subject, parsed).await?;
        tracing::info!(subject = subject.unwrap_or("(global)"), level = %parsed, "compatibility level set");
        Ok(parsed)
    }

    /// Remove a level; answers the level in force before.
    pub async fn clear_level(&self, subject: Option<&str>) -> Result<Level, RegistryError> {
        let previous = self.level(subject, true).await?;
        let removed = self.store.clear_level(subject).await?;
        if let (Some(s), None) = (subject, removed) {
            if self.store.versions(s, Deleted::Include).await?.is_empty() {
                return Err(RegistryError::SubjectNotFound(s.to_owned()));
            }
        }
        Ok(removed.unwrap_or(previous))
    }

    async fn effective_level(&self, subject: &str) -> Result<Level, RegistryError> {
        self.level(Some(subject), true).await
    }
}

/// Check `new` against live `versions` (oldest first) under `level`.
fn check_against(level: Level, new: &apache_avro::Schema, versions: &[&Version]) -> Vec<String> {
    let mut parsed = Vec::with_capacity(versions.len());
    for v in versions {
        match schema::parse_stored(&v.schema) {
            Ok(avro) => parsed.push((v.version, avro)),
            // Stored schemas were valid when registered; a newer parser refusing one must not
            // let an unchecked schema through.
            Err(error) => return vec![format!("version {} no longer parses: {error}", v.version)],
        }
    }
    let earlier: Vec<Earlier<'_>> = parsed
        .iter()
        .map(|(version, schema)| Earlier {
            version: *version,
            schema,
        })
        .collect();
    compat::check(level, new, &earlier)
}

/// The identity (canonical text) of stored compact text.
fn identity_of(stored: &str) -> Option<String> {
    serde_json::from_str(stored)
        .ok()
        .map(|v| schema::canonical(&v))
}

fn validate_subject(subject: &str) -> Result<(), RegistryError> {
    if subject.is_empty() || subject.chars().any(char::is_control) {
        return Err(RegistryError::BadRequest(format!(
            "subject {subject:?} is empty or has control characters"
        )));
    }
    Ok(())
}
