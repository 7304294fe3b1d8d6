//! The commit protocol of one Kafka partition's open files (a *commit group*).
//!
//! All files of a partition are committed together, at a cut offset C = the last offset any of
//! them holds: afterwards every record of the partition with offset ≤ C is in a committed file
//! (Parquet or dead-letter), so "resume at max(last offset) + 1" is exact.
//!
//! 1. Each member is written to `.<final>.<uuid>.inprogress`, then renamed to
//!    `.<final>.cut-<C>.ready`: a `.ready` file is always complete and durable.
//! 2. The member whose last offset is C is renamed to its final name first. That rename is
//!    the commit point: from then on the largest committed last offset of the partition is C.
//! 3. The other members are renamed to their final names.
//!
//! Recovery after a crash anywhere: `.inprogress` files are deleted; a `.ready` file with
//! cut ≤ the partition's largest committed last offset belongs to a group past its commit
//! point and is renamed to its final name (roll forward); any other `.ready` file is deleted
//! and its records are read again from Kafka.

use std::time::Instant;

use bytes::Bytes;

use crate::layout::{inprogress_name, ready_name};
use vygoda_storage::{Storage, StorageResult};

/// One file of a commit group.
pub struct Member {
    /// Directory relative to the lake root.
    pub dir: String,
    pub final_name: String,
    pub bytes: Bytes,
    pub last_offset: i64,
}

impl Member {
    pub fn final_path(&self) -> String {
        format!("{}/{}", self.dir, self.final_name)
    }
}

/// Observes each step, for crash-point tests and latency metrics.
pub trait CommitObserver {
    /// A member was written (durably) in `elapsed`.
    fn written(&mut self, _member: &Member, _elapsed: std::time::Duration) {}
}

impl CommitObserver for () {}

/// Commit `members` (non-empty) as one group. Returns the cut offset.
pub async fn commit_group<S: Storage>(
    storage: &S,
    members: &[Member],
    observer: &mut impl CommitObserver,
) -> StorageResult<i64> {
    let cut = members.iter().map(|m| m.last_offset).max().unwrap_or(-1);
    // Phase 1: every member complete and durable under a `.ready` name. Members are
    // independent files, uploaded concurrently (HDFS completes a file in ~0.5 s on a quiet
    // cluster, whatever its size).
    let uploads = members.iter().map(|m| async move {
        let started = Instant::now();
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        let tmp = format!(
            "{}/{}",
            m.dir,
            inprogress_name(&m.final_name, &attempt[..12])
        );
        let rdy = format!("{}/{}", m.dir, ready_name(&m.final_name, cut));
        storage.put(&tmp, m.bytes.clone()).await?;
        storage.rename(&tmp, &rdy, true).await?;
        Ok::<_, vygoda_storage::StorageError>((rdy, started.elapsed()))
    });
    // join_all, not try_join_all: no upload is left running behind a failed commit.
    let mut ready = Vec::with_capacity(members.len());
    for (m, done) in members.iter().zip(futures::future::join_all(uploads).await) {
        let (rdy, elapsed) = done?;
        observer.written(m, elapsed);
        ready.push(rdy);
    }
    // Phase 2: the member holding the cut first (commit point), then the others.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| members[i].last_offset != cut);
    for i in order {
        publish(storage, &ready[i], &members[i].final_path()).await?;
    }
    Ok(cut)
}

/// Rename a `.ready` file to its final name; if the final name exists, the group was already
/// committed (by this writer before a crash) and the temporary is dropped.
pub async fn publish<S: Storage>(storage: &S, ready: &str, final_path: &str) -> StorageResult<()> {
    match storage.rename(ready, final_path, false).await {
        Err(e) if e.is_already_exists() => {
            tracing::warn!(
                file = final_path,
                "already committed; dropping the duplicate temporary"
            );
            storage.delete(ready).await
        }
        other => other,
    }
}
