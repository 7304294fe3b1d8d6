//! Storage access every stage shares: a small trait with a local-filesystem and an HDFS backend,
//! a retrying wrapper that makes each operation survive transient failures (an HDFS restart),
//! and whole-URL reads and listings ([`url`]) for readers handed a location (the jobs driver, the
//! publisher).
//!
//! Paths are relative to the backend's root and `/`-separated.
//!
//! Semantics the exactly-once protocol relies on:
//! - `put` creates or replaces a file and returns only once the bytes are durable.
//! - `rename(.., overwrite = false)` is atomic and fails with `AlreadyExists` if the
//!   destination exists (HDFS rename, `link` + `unlink` locally).
//! - `rename(.., overwrite = true)` atomically replaces the destination.
//! - `list` is recursive and lists files only; a missing directory lists as empty.
//! - `delete` of a missing path succeeds.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

mod file;
mod hdfs;
mod retry;
pub mod url;

pub use file::FileStorage;
pub use hdfs::HdfsStorage;
pub use retry::{RetryHook, Retrying};

/// A file found by [`Storage::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to the lake root.
    pub path: String,
    pub len: u64,
}

impl FileEntry {
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    pub fn dir(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(d, _)| d)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{op} {path}: not found")]
    NotFound { op: &'static str, path: String },
    #[error("{op} {path}: already exists")]
    AlreadyExists { op: &'static str, path: String },
    /// Worth retrying (connection refused, NameNode in safe mode, DataNode pipeline broken…).
    #[error("{op} {path}: {msg} (transient; check that the storage is up)")]
    Transient {
        op: &'static str,
        path: String,
        msg: String,
    },
    /// Retrying will not help (permissions, invalid path, a bug).
    #[error("{op} {path}: {msg} (check the lake root and its permissions)")]
    Permanent {
        op: &'static str,
        path: String,
        msg: String,
    },
    #[error("gave up after {attempts} attempts over {waited:?}: {last}")]
    GaveUp {
        attempts: u32,
        waited: Duration,
        last: Box<StorageError>,
    },
}

impl StorageError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Transient { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound { .. })
    }

    pub fn is_already_exists(&self) -> bool {
        matches!(self, StorageError::AlreadyExists { .. })
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A lake backend. Implementations hold cheap clonable handles.
pub trait Storage: Send + Sync + 'static {
    /// The root URL, for logs.
    fn root(&self) -> &str;
    fn put(&self, path: &str, data: Bytes) -> impl Future<Output = StorageResult<()>> + Send;
    fn rename(
        &self,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> impl Future<Output = StorageResult<()>> + Send;
    fn list(&self, dir: &str) -> impl Future<Output = StorageResult<Vec<FileEntry>>> + Send;
    fn delete(&self, path: &str) -> impl Future<Output = StorageResult<()>> + Send;
    fn read(&self, path: &str) -> impl Future<Output = StorageResult<Bytes>> + Send;
    fn exists(&self, path: &str) -> impl Future<Output = StorageResult<bool>> + Send;
}

/// Either backend, chosen by the lake root's scheme.
#[derive(Clone)]
pub enum AnyStorage {
    File(FileStorage),
    Hdfs(HdfsStorage),
}

impl AnyStorage {
    /// `file:///path` or `hdfs://host:port/path`.
    pub fn open(root: &str) -> StorageResult<AnyStorage> {
        if let Some(path) = root.strip_prefix("file://") {
            Ok(AnyStorage::File(FileStorage::new(path)?))
        } else if root.starts_with("hdfs://") {
            Ok(AnyStorage::Hdfs(HdfsStorage::new(root)?))
        } else {
            Err(StorageError::Permanent {
                op: "open",
                path: root.to_owned(),
                msg: "unsupported scheme; use file:// or hdfs://".into(),
            })
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStorage::File($s) => $e,
            AnyStorage::Hdfs($s) => $e,
        }
    };
}

impl Storage for AnyStorage {
    fn root(&self) -> &str {
        dispatch!(self, s => s.root())
    }
    async fn put(&self, path: &str, data: Bytes) -> StorageResult<()> {
        dispatch!(self, s => s.put(path, data).await)
    }
    async fn rename(&self, from: &str, to: &str, overwrite: bool) -> StorageResult<()> {
        dispatch!(self, s => s.rename(from, to, overwrite).await)
    }
    async fn list(&self, dir: &str) -> StorageResult<Vec<FileEntry>> {
        dispatch!(self, s => s.list(dir).await)
    }
    async fn delete(&self, path: &str) -> StorageResult<()> {
        dispatch!(self, s => s.delete(path).await)
    }
    async fn read(&self, path: &str) -> StorageResult<Bytes> {
        dispatch!(self, s => s.read(path).await)
    }
    async fn exists(&self, path: &str) -> StorageResult<bool> {
        dispatch!(self, s => s.exists(path).await)
    }
}

impl<S: Storage> Storage for std::sync::Arc<S> {
    fn root(&self) -> &str {
        (**self).root()
    }
    fn put(&self, path: &str, data: Bytes) -> impl Future<Output = StorageResult<()>> + Send {
        (**self).put(path, data)
    }
    fn rename(
        &self,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> impl Future<Output = StorageResult<()>> + Send {
        (**self).rename(from, to, overwrite)
    }
    fn list(&self, dir: &str) -> impl Future<Output = StorageResult<Vec<FileEntry>>> + Send {
        (**self).list(dir)
    }
    fn delete(&self, path: &str) -> impl Future<Output = StorageResult<()>> + Send {
        (**self).delete(path)
    }
    fn read(&self, path: &str) -> impl Future<Output = StorageResult<Bytes>> + Send {
        (**self).read(path)
    }
    fn exists(&self, path: &str) -> impl Future<Output = StorageResult<bool>> + Send {
        (**self).exists(path)
    }
}
