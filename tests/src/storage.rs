//! Unique lake locations for tests: a local directory or an HDFS directory, removed on drop.

use std::path::PathBuf;

/// A `file://` lake root of one test.
#[derive(Debug)]
pub struct LakeDir {
    pub path: PathBuf,
    pub url: String,
}

impl LakeDir {
    pub(crate) fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir()
            .join("vygoda-test-lake")
            .join(crate::unique_name(prefix));
        std::fs::create_dir_all(&path).expect("create test lake dir");
        let url = format!("file://{}", path.display());
        LakeDir { path, url }
    }
}

impl Drop for LakeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// An `hdfs://…/test/<name>` lake root of one test.
#[derive(Debug)]
pub struct HdfsDir {
    /// Full URL, e.g. `hdfs://127.0.0.1:9000/test/lake-123-…`.
    pub url: String,
    /// Path inside HDFS, e.g. `/test/lake-123-…`.
    pub path: String,
    namenode: String,
}

impl HdfsDir {
    pub(crate) fn new(namenode: &str, prefix: &str) -> Self {
        let path = format!("/test/{}", crate::unique_name(prefix));
        HdfsDir {
            url: format!("{}{}", namenode.trim_end_matches('/'), path),
            path,
            namenode: namenode.to_owned(),
        }
    }

    /// An hdfs-native client for the test's own reads and writes.
    pub fn client(&self) -> hdfs_native::Client {
        hdfs_native::ClientBuilder::new()
            .with_url(&self.namenode)
            .build()
            .expect("hdfs client")
    }
}

impl Drop for HdfsDir {
    fn drop(&mut self) {
        let namenode = self.namenode.clone();
        let path = self.path.clone();
        crate::cleanup_on_own_thread(async move {
            if let Ok(client) = hdfs_native::ClientBuilder::new()
                .with_url(&namenode)
                .build()
            {
                let _ = client.delete(&path, true).await;
            }
        });
    }
}
