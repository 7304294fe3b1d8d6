//! Start-up recovery: the lake itself says where each Kafka partition resumes.
//!
//! For each topic the topic directory and its dead-letter directory are listed recursively.
//! Stale `.inprogress` files are deleted; `.ready` files are rolled forward or deleted (see
//! `commit.rs`); then the next offset of partition p is max(last offset of p's committed
//! files) + 1. Hours that hold data but no `_SUCCESS` are returned so their manifests are
//! kept up to date.

use std::collections::{BTreeMap, BTreeSet};

use crate::commit::publish;
use crate::layout::{classify, dead_letter_dir, parse_hour_dir, Entry, FileKind};
use vygoda_storage::{Storage, StorageResult};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Per (topic, partition): the first offset not in the lake. Absent: nothing written yet.
    pub next_offsets: BTreeMap<(String, i32), i64>,
    /// Per topic: hours (epoch seconds) with data files but no `_SUCCESS` marker.
    pub pending_hours: BTreeMap<String, BTreeSet<i64>>,
    pub committed_files: usize,
    pub rolled_forward: usize,
    pub deleted: usize,
}

struct ReadyFile {
    dir: String,
    path: String,
    final_name: String,
    partition: i32,
    cut: i64,
    kind: FileKind,
}

pub async fn recover<S: Storage>(storage: &S, topics: &[String]) -> StorageResult<Recovery> {
    let mut out = Recovery::default();
    for topic in topics {
        let mut entries = storage.list(topic).await?;
        entries.extend(storage.list(&dead_letter_dir(topic)).await?);
        let mut max_last: BTreeMap<i32, i64> = BTreeMap::new();
        let mut ready = Vec::new();
        let mut data_hours = BTreeSet::new();
        let mut done_hours = BTreeSet::new();
        for e in &entries {
            match classify(e.name()) {
                Entry::InProgress => {
                    storage.delete(&e.path).await?;
                    out.deleted += 1;
                }
                Entry::Committed(c) if &c.topic == topic => {
                    let last = max_last.entry(c.partition).or_insert(c.last);
                    *last = (*last).max(c.last);
                    out.committed_files += 1;
                    if c.kind == FileKind::Parquet {
                        data_hours.extend(parse_hour_dir(e.dir()));
                    }
                }
                Entry::Ready {
                    committed,
                    final_name,
                    cut,
                } if &committed.topic == topic => ready.push(ReadyFile {
                    dir: e.dir().to_owned(),
                    path: e.path.clone(),
                    final_name,
                    partition: committed.partition,
                    cut,
                    kind: committed.kind,
                }),
                Entry::Success => done_hours.extend(parse_hour_dir(e.dir())),
                _ => {}
            }
        }
        for r in ready {
            let committed_up_to = max_last.get(&r.partition).copied().unwrap_or(-1);
            if r.cut <= committed_up_to {
                // Its group passed the commit point before the crash: finish it.
                let final_path = format!("{}/{}", r.dir, r.final_name);
                publish(storage, &r.path, &final_path).await?;
                tracing::info!(topic, file = final_path, "rolled a committed group forward");
                out.rolled_forward += 1;
                if r.kind == FileKind::Parquet {
                    data_hours.extend(parse_hour_dir(&r.dir));
                }
            } else {
                storage.delete(&r.path).await?;
                out.deleted += 1;
            }
        }
        for (p, last) in max_last {
            out.next_offsets.insert((topic.clone(), p), last + 1);
        }
        let pending: BTreeSet<i64> = data_hours.difference(&done_hours).copied().collect();
        if !pending.is_empty() {
            out.pending_hours.insert(topic.clone(), pending);
        }
    }
    Ok(out)
}
