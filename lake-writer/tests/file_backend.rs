//! The exactly-once scenario on the `file://` backend (see tests/common).

mod common;

use vygoda_storage::FileStorage;

#[tokio::test]
async fn exactly_once_survives_a_crash_at_every_storage_call() {
    // tmpfs when there is one: the scenario is about process crashes, and fsync on a real
    // disk would make the ~150 writer lives take minutes.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    let dir = dir.expect("tempdir");
    let root = dir.path().to_path_buf();
    let every_call = |total| (1..=total).collect();
    common::crash_everywhere(
        |name| FileStorage::new(root.join(name)).expect("root"),
        every_call,
    )
    .await;
}
