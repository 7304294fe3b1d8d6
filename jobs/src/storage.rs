//! Reading job outputs from `file://` or `hdfs://` URLs (the same URLs the Spark jobs write).

use bytes::Bytes;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("`{0}` is not a file:// or hdfs:// URL (or an absolute path)")]
    BadUrl(String),
    #[error("cannot read {url}: {message}")]
    Io { url: String, message: String },
    #[error("{0} does not exist")]
    NotFound(String),
}

/// A file in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub url: String,
    pub name: String,
    pub len: u64,
    pub is_dir: bool,
}

enum Location {
    Local(std::path::PathBuf),
    /// (client URL `hdfs://host:port`, absolute path on the cluster)
    Hdfs(String, String),
}

fn locate(url: &str) -> Result<Location, StorageError> {
    if let Some(rest) = url.strip_prefix("file://") {
        return Ok(Location::Local(rest.into()));
    }
    if url.starts_with('/') {
        return Ok(Location::Local(url.into()));
    }
    if let Some(rest) = url.strip_prefix("hdfs://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() {
            return Err(StorageError::BadUrl(url.to_owned()));
        }
        let path = if path.is_empty() { "/" } else { path };
        return Ok(Location::Hdfs(
            format!("hdfs://{authority}"),
            path.to_owned(),
        ));
    }
    Err(StorageError::BadUrl(url.to_owned()))
}

fn hdfs_client(base: &str, url: &str) -> Result<hdfs_native::Client, StorageError> {
    hdfs_native::ClientBuilder::new()
        .with_url(base)
        .build()
        .map_err(|e| StorageError::Io {
            url: url.to_owned(),
            message: e.to_string(),
        })
}

fn hdfs_err(url: &str, e: hdfs_native::HdfsError) -> StorageError {
    match e {
        hdfs_native::HdfsError::FileNotFound(_) => StorageError::NotFound(url.to_owned()),
        other => StorageError::Io {
            url: url.to_owned(),
            message: other.to_string(),
        },
    }
}

/// The whole content of a (small) file.
pub async fn read(url: &str) -> Result<Bytes, StorageError> {
    match locate(url)? {
        Location::Local(path) => match tokio::fs::read(&path).await {
            Ok(data) => Ok(Bytes::from(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::NotFound(url.to_owned()))
            }
            Err(e) => Err(StorageError::Io {
                url: url.to_owned(),
                message: e.to_string(),
            }),
        },
        Location::Hdfs(base, path) => {
            let client = hdfs_client(&base, url)?;
            let mut reader = client.read(&path).await.map_err(|e| hdfs_err(url, e))?;
            let len = reader.file_length();
            reader.read_bytes(len).await.map_err(|e| hdfs_err(url, e))
        }
    }
}

/// Direct children of a directory, sorted by name.
pub async fn list(url: &str) -> Result<Vec<Entry>, StorageError> {
    let base_url = url.trim_end_matches('/');
    let mut entries = match locate(url)? {
        Location::Local(path) => {
            let mut dir = match tokio::fs::read_dir(&path).await {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StorageError::NotFound(url.to_owned()))
                }
                Err(e) => {
                    return Err(StorageError::Io {
                        url: url.to_owned(),
                        message: e.to_string(),
                    })
                }
            };
            let mut out = Vec::new();
            while let Some(e) = dir.next_entry().await.map_err(|e| StorageError::Io {
                url: url.to_owned(),
                message: e.to_string(),
            })? {
                let meta = e.metadata().await.map_err(|err| StorageError::Io {
                    url: url.to_owned(),
                    message: err.to_string(),
                })?;
                let name = e.file_name().to_string_lossy().into_owned();
                out.push(Entry {
                    url: format!("{base_url}/{name}"),
                    name,
                    len: meta.len(),
                    is_dir: meta.is_dir(),
                });
            }
            out
        }
        Location::Hdfs(base, path) => {
            let client = hdfs_client(&base, url)?;
            let statuses = client
                .list_status(&path, false)
                .await
                .map_err(|e| hdfs_err(url, e))?;
            statuses
                .into_iter()
                .map(|s| {
                    let name = s.path.rsplit('/').next().unwrap_or_default().to_owned();
                    Entry {
                        url: format!("{base_url}/{name}"),
                        name,
                        len: s.length as u64,
                        is_dir: s.isdir,
                    }
                })
                .collect()
        }
    };
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
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
        let url = format!("file://{}", dir.path().display());
        let names: Vec<_> = list(&url)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.is_dir))
            .collect();
        assert_eq!(
            names,
            [
                ("a.txt".into(), false),
                ("b.txt".into(), false),
                ("sub".into(), true)
            ]
        );
        assert_eq!(
            read(&format!("{url}/b.txt")).await.unwrap(),
            Bytes::from("bee")
        );
        assert!(matches!(
            read(&format!("{url}/none")).await,
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(
            read("s3://x/y").await,
            Err(StorageError::BadUrl(_))
        ));
    }

    #[test]
    fn splits_hdfs_urls() {
        match locate("hdfs://127.0.0.1:9000/lake/x").unwrap() {
            Location::Hdfs(base, path) => assert_eq!(
                (base.as_str(), path.as_str()),
                ("hdfs://127.0.0.1:9000", "/lake/x")
            ),
            Location::Local(_) => panic!("not local"),
        }
        assert!(locate("hdfs:///x").is_err());
    }
}
