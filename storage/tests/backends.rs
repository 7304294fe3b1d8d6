//! The semantics the lake's commit protocol and the jobs' readers rely on (see the crate docs),
//! as one scenario run against each backend: a local directory and the platform's HDFS.

use bytes::Bytes;
use vygoda_storage::{url, FileStorage, Storage};
use vygoda_tests::TestPlatform;

/// `root_url` is where `storage` is rooted, for the whole-URL readers.
#[allow(
    clippy::unwrap_used,
    reason = "a test body shared by the #[test]s below"
)]
async fn contract(storage: impl Storage, root_url: &str) {
    // Missing directories list as empty; missing files read as not found.
    assert!(storage.list("t").await.unwrap().is_empty());
    assert!(storage.read("t/none").await.unwrap_err().is_not_found());
    assert!(!storage.exists("t/none").await.unwrap());

    // Large enough to span more than one HDFS packet, small enough for a fast test.
    let data: Bytes = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    storage.put("t/h=1/part.tmp", data.clone()).await.unwrap();
    storage.put("t/h=1/other", Bytes::from("x")).await.unwrap();
    storage.put("t/top", Bytes::from("top")).await.unwrap();

    // Rename without overwrite commits, and refuses an existing destination atomically.
    storage
        .rename("t/h=1/part.tmp", "t/h=1/part.parquet", false)
        .await
        .unwrap();
    let refused = storage
        .rename("t/h=1/other", "t/h=1/part.parquet", false)
        .await
        .unwrap_err();
    assert!(refused.is_already_exists(), "{refused}");
    assert_eq!(storage.read("t/h=1/part.parquet").await.unwrap(), data);

    // Listing is recursive, files only, sorted, relative to the root.
    let listed: Vec<(String, u64)> = storage
        .list("t")
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.path, e.len))
        .collect();
    assert_eq!(
        listed,
        [
            ("t/h=1/other".to_owned(), 1),
            ("t/h=1/part.parquet".to_owned(), data.len() as u64),
            ("t/top".to_owned(), 3),
        ]
    );

    // Rename with overwrite replaces; delete is idempotent.
    storage
        .rename("t/h=1/other", "t/h=1/part.parquet", true)
        .await
        .unwrap();
    assert_eq!(storage.read("t/h=1/part.parquet").await.unwrap(), "x");
    storage.delete("t/h=1/part.parquet").await.unwrap();
    storage.delete("t/h=1/part.parquet").await.unwrap();
    assert!(!storage.exists("t/h=1/part.parquet").await.unwrap());

    // The whole-URL readers see the same files through the same backend.
    let t = format!("{root_url}/t");
    let direct: Vec<_> = url::list_files(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.url))
        .collect();
    assert_eq!(direct, [("top".to_owned(), format!("{t}/top"))]);
    assert_eq!(url::read(&format!("{t}/top")).await.unwrap(), "top");
    assert!(url::read(&format!("{t}/h=1/part.parquet"))
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn file_backend_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::new(dir.path()).unwrap();
    contract(storage, &format!("file://{}", dir.path().display())).await;
}

#[tokio::test]
async fn hdfs_backend_keeps_the_contract() {
    let tp = TestPlatform::get();
    let dir = tp.hdfs_dir("storage-contract");
    contract(dir.storage(), &dir.url).await;
}
