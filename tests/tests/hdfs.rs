//! HDFS through hdfs-native: write, list, read back, rename.

use bytes::Bytes;
use hdfs_native::WriteOptions;
use vygoda_tests::TestPlatform;

#[tokio::test]
async fn hdfs_write_read_rename_roundtrip() {
    let tp = TestPlatform::get();
    let dir = tp.hdfs_dir("smoke");
    let client = dir.client();
    client.mkdirs(&dir.path, 0o755, true).await.expect("mkdirs");
    // Large enough to span more than one packet, small enough for a fast test.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let tmp = format!("{}/file.tmp", dir.path);
    let mut writer = client
        .create(&tmp, WriteOptions::default())
        .await
        .expect("create");
    writer
        .write_bytes(Bytes::from(data.clone()))
        .await
        .expect("write");
    writer.close().await.expect("close");
    let done = format!("{}/file.bin", dir.path);
    client.rename(&tmp, &done, false).await.expect("rename");
    let listing = client.list_status(&dir.path, false).await.expect("list");
    let names: Vec<_> = listing.iter().map(|s| s.path.clone()).collect();
    assert_eq!(
        names.len(),
        1,
        "only the renamed file is visible: {names:?}"
    );
    let mut reader = client.read(&done).await.expect("open");
    let back = reader.read_bytes(data.len()).await.expect("read");
    assert_eq!(back.as_ref(), data.as_slice());
}
