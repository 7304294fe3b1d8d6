//! Unique lake locations for tests: a local directory or an HDFS directory, removed on drop.

use std::path::PathBuf;

use vygoda_storage::HdfsStorage;

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
}

impl HdfsDir {
    pub(crate) fn new(namenode: &str, prefix: &str) -> Self {
        let path = format!("/test/{}", crate::unique_name(prefix));
        HdfsDir {
            url: format!("{}{}", namenode.trim_end_matches('/'), path),
            path,
        }
    }

    /// The platform's own HDFS backend rooted at this directory, for the test's reads and writes.
    pub fn storage(&self) -> HdfsStorage {
        HdfsStorage::new(&self.url).expect("hdfs storage")
    }
}

impl Drop for HdfsDir {
    fn drop(&mut self) {
        let url = self.url.clone();
        crate::cleanup_on_own_thread(async move {
            if let Ok(storage) = HdfsStorage::new(&url) {
                let _ = storage.remove_tree("").await;
            }
        });
    }
}
