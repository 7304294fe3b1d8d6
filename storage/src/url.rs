//! Whole-URL access for readers that are handed a location rather than a lake root: the jobs
//! driver reading a job's `_SUCCESS` and outputs, the publisher reading a run directory. They go
//! through the same backends as the lake writer, so `file://` and `hdfs://` mean the same
//! everywhere and errors are sorted the same way (not found / transient / permanent).

use bytes::Bytes;

use crate::{AnyStorage, FileStorage, HdfsStorage, Storage, StorageError, StorageResult};

/// A file directly inside a directory given by URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlEntry {
    /// The file's own URL, in the same scheme as the directory's.
    pub url: String,
    pub name: String,
    pub len: u64,
}

/// The backend holding `url` (rooted at the file system's root) and the path under it.
/// Accepts `file:///abs/path`, a plain absolute path, and `hdfs://host:port/abs/path`.
pub fn locate(url: &str) -> StorageResult<(AnyStorage, String)> {
    let bad = |msg: &str| StorageError::Permanent {
        op: "open",
        path: url.to_owned(),
        msg: msg.to_owned(),
    };
    let local = url
        .strip_prefix("file://")
        .or(url.strip_prefix('/').map(|_| url));
    if let Some(path) = local {
        let path = path
            .strip_prefix('/')
            .ok_or_else(|| bad("file:// URLs must be absolute (file:///path)"))?;
        return Ok((AnyStorage::File(FileStorage::new("/")?), path.to_owned()));
    }
    if let Some(rest) = url.strip_prefix("hdfs://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() {
            return Err(bad("no NameNode in the URL (hdfs://host:port/path)"));
        }
        let storage = HdfsStorage::new(&format!("hdfs://{authority}"))?;
        return Ok((
            AnyStorage::Hdfs(storage),
            path.trim_start_matches('/').to_owned(),
        ));
    }
    Err(bad("not a file:// or hdfs:// URL (or an absolute path)"))
}

/// The whole content of the file at `url`.
pub async fn read(url: &str) -> StorageResult<Bytes> {
    let (storage, path) = locate(url)?;
    storage.read(&path).await
}

/// Files directly inside the directory at `url` (not in its subdirectories), sorted by name. A
/// missing directory lists as empty, as [`Storage::list`] does.
pub async fn list_files(url: &str) -> StorageResult<Vec<UrlEntry>> {
    let (storage, dir) = locate(url)?;
    let dir = dir.trim_end_matches('/');
    let base = url.trim_end_matches('/');
    Ok(storage
        .list(dir)
        .await?
        .into_iter()
        .filter(|e| e.dir() == dir)
        .map(|e| UrlEntry {
            url: format!("{base}/{}", e.name()),
            name: e.name().to_owned(),
            len: e.len,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_and_lists_local_urls() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "bee").unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/c.txt"), "not listed").unwrap();
        for url in [
            format!("file://{}", dir.path().display()),
            dir.path().display().to_string(),
        ] {
            let names: Vec<_> = list_files(&url)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.name, e.len))
                .collect();
            assert_eq!(names, [("a.txt".into(), 1), ("b.txt".into(), 3)], "{url}");
            assert_eq!(read(&format!("{url}/b.txt")).await.unwrap(), "bee");
            assert!(read(&format!("{url}/none"))
                .await
                .unwrap_err()
                .is_not_found());
        }
        assert!(list_files(&format!("file://{}/none", dir.path().display()))
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn refuses_what_it_cannot_locate() {
        for url in ["s3://x/y", "hdfs:///x", "file://relative/x", "relative/x"] {
            assert!(
                matches!(locate(url), Err(StorageError::Permanent { .. })),
                "{url}"
            );
        }
        let (storage, path) = locate("hdfs://127.0.0.1:9000/lake/x").unwrap();
        assert_eq!(
            (storage.root(), path.as_str()),
            ("hdfs://127.0.0.1:9000", "lake/x")
        );
    }
}
