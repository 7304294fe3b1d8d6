//! `hdfs://` backend on hdfs-native (no JVM, no libhdfs).

use std::sync::Arc;

use bytes::Bytes;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};

use super::{FileEntry, Storage, StorageError, StorageResult};

#[derive(Clone)]
pub struct HdfsStorage {
    client: Arc<Client>,
    /// Absolute path of the lake root inside HDFS, without a trailing slash.
    base: String,
    url: String,
}

impl HdfsStorage {
    /// `hdfs://host:port/path/of/lake`.
    pub fn new(url: &str) -> StorageResult<HdfsStorage> {
        let bad = |msg: String| StorageError::Permanent {
            op: "open",
            path: url.to_owned(),
            msg,
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let authority = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("hdfs://{h}:{p}"),
            (Some(h), None) => format!("hdfs://{h}"),
            _ => return Err(bad("no NameNode host in the URL".into())),
        };
        let client = ClientBuilder::new()
            .with_url(&authority)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(HdfsStorage {
            client: Arc::new(client),
            base: parsed.path().trim_end_matches('/').to_owned(),
            url: url.to_owned(),
        })
    }

    /// Delete `dir` and everything under it (a missing one is fine). Not part of [`Storage`]:
    /// the lake's commit protocol never removes trees; throw-away roots (tests, benches) do.
    pub async fn remove_tree(&self, dir: &str) -> StorageResult<()> {
        let abs = self.abs(dir);
        match self.client.delete(&abs, true).await {
            Ok(_) => Ok(()),
            Err(e) => match classify("delete", &abs, e) {
                StorageError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    fn abs(&self, rel: &str) -> String {
        let rel = rel.trim_start_matches('/');
        if rel.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{rel}", self.base)
        }
    }
}

/// Sort HDFS errors into what the retry loop and the commit protocol act on.
fn classify(op: &'static str, path: &str, e: HdfsError) -> StorageError {
    let path = path.to_owned();
    let msg = e.to_string();
    match e {
        HdfsError::FileNotFound(_) => StorageError::NotFound { op, path },
        HdfsError::AlreadyExists(_) => StorageError::AlreadyExists { op, path },
        HdfsError::RPCError(class, _) | HdfsError::FatalRPCError(class, _) => {
            if class.ends_with("FileNotFoundException") {
                StorageError::NotFound { op, path }
            } else if class.ends_with("FileAlreadyExistsException") {
                StorageError::AlreadyExists { op, path }
            } else if class.ends_with("AccessControlException")
                || class.ends_with("ParentNotDirectoryException")
                || class.ends_with("InvalidPathException")
                || class.ends_with("PathIsNotEmptyDirectoryException")
            {
                StorageError::Permanent { op, path, msg }
            } else {
                // SafeModeException, RetriableException, StandbyException, lease trouble and
                // anything unexpected from a NameNode that is (re)starting.
                StorageError::Transient { op, path, msg }
            }
        }
        HdfsError::InvalidPath(_)
        | HdfsError::InvalidArgument(_)
        | HdfsError::UrlParseError(_)
        | HdfsError::IsADirectoryError(_)
        | HdfsError::UnsupportedFeature(_)
        | HdfsError::UnsupportedErasureCodingPolicy(_)
        | HdfsError::SASLError(_)
        | HdfsError::NoSASLMechanism => StorageError::Permanent { op, path, msg },
        _ => StorageError::Transient { op, path, msg },
    }
}

impl Storage for HdfsStorage {
    fn root(&self) -> &str {
        &self.url
    }

    async fn put(&self, path: &str, data: Bytes) -> StorageResult<()> {
        let abs = self.abs(path);
        let opts = WriteOptions::default().overwrite(true).create_parent(true);
        let mut writer = self
            .client
            .create(&abs, opts)
            .await
            .map_err(|e| classify("put", &abs, e))?;
        writer
            .write_bytes(data)
            .await
            .map_err(|e| classify("put", &abs, e))?;
        // close() waits for the DataNode pipeline acks and completes the file at the NameNode:
        // after it the bytes are replicated as configured.
        writer.close().await.map_err(|e| classify("put", &abs, e))
    }

    async fn rename(&self, from: &str, to: &str, overwrite: bool) -> StorageResult<()> {
        let (from, to) = (self.abs(from), self.abs(to));
        self.client
            .rename(&from, &to, overwrite)
            .await
            .map_err(|e| match classify("rename", &from, e) {
                StorageError::AlreadyExists { op, .. } => StorageError::AlreadyExists {
                    op,
                    path: to.clone(),
                },
                other => other,
            })
    }

    async fn list(&self, dir: &str) -> StorageResult<Vec<FileEntry>> {
        let abs = self.abs(dir);
        let statuses = match self.client.list_status(&abs, true).await {
            Ok(s) => s,
            Err(e) => match classify("list", &abs, e) {
                StorageError::NotFound { .. } => return Ok(Vec::new()),
                other => return Err(other),
            },
        };
        let prefix = format!("{}/", self.base);
        let mut out: Vec<FileEntry> = statuses
            .into_iter()
            .filter(|s| !s.isdir)
            .filter_map(|s| {
                let rel = s.path.strip_prefix(&prefix)?.to_owned();
                Some(FileEntry {
                    path: rel,
                    len: s.length as u64,
                })
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    async fn delete(&self, path: &str) -> StorageResult<()> {
        let abs = self.abs(path);
        match self.client.delete(&abs, false).await {
            Ok(_) => Ok(()),
            Err(e) => match classify("delete", &abs, e) {
                StorageError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn read(&self, path: &str) -> StorageResult<Bytes> {
        let abs = self.abs(path);
        let reader = self
            .client
            .read(&abs)
            .await
            .map_err(|e| classify("read", &abs, e))?;
        reader
            .read_range(0, reader.file_length())
            .await
            .map_err(|e| classify("read", &abs, e))
    }

    async fn exists(&self, path: &str) -> StorageResult<bool> {
        let abs = self.abs(path);
        match self.client.get_file_info(&abs).await {
            Ok(_) => Ok(true),
            Err(e) => match classify("exists", &abs, e) {
                StorageError::NotFound { .. } => Ok(false),
                other => Err(other),
            },
        }
    }
}
