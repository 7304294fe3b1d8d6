//! State of one Kafka partition: its open files (one per hour directory), its dead letters,
//! and the offset up to which the lake already holds it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::commit::Member;
use crate::dead_letter::DeadLetterBuffer;
use crate::layout::{dead_letter_dir, file_name, hour_dir, FileKind};
use crate::open_file::{FileError, OpenFile, Stamps};
use crate::rows::LakeSchema;

pub struct PartitionWriter {
    pub topic: Arc<str>,
    pub partition: i32,
    /// First offset not yet in the lake (committed files). `None`: nothing committed yet.
    pub committed_next: Option<i64>,
    /// One past the last offset taken into the open files or dead letters.
    pub consumed_next: Option<i64>,
    pub open: BTreeMap<i64, OpenFile>,
    pub dead: Option<DeadLetterBuffer>,
    /// When the oldest open file (or dead-letter buffer) got its first record.
    pub oldest: Option<Instant>,
    /// Schema of the last value seen, for tombstones that open a file.
    pub last_schema: Option<Arc<LakeSchema>>,
    /// Memory accounted for this partition in the engine's budget.
    pub memory: u64,
}

/// What a group commit will write, with the numbers for metrics and watermarks.
pub struct Group {
    pub members: Vec<Member>,
    pub records: u64,
    pub dead_letters: u64,
    pub bytes: u64,
    pub hours: Vec<i64>,
    pub max_time_ms: Option<i64>,
    /// Kafka timestamps of the group's Parquet rows, for the commit-delay histogram.
    pub stamps: Stamps,
}

impl PartitionWriter {
    pub fn new(topic: Arc<str>, partition: i32, committed_next: Option<i64>) -> Self {
        PartitionWriter {
            topic,
            partition,
            committed_next,
            consumed_next: committed_next,
            open: BTreeMap::new(),
            dead: None,
            oldest: None,
            last_schema: None,
            memory: 0,
        }
    }

    /// The lake (or the open files) already hold this offset.
    pub fn already_has(&self, offset: i64) -> bool {
        self.consumed_next.is_some_and(|next| offset < next)
    }

    pub fn has_data(&self) -> bool {
        !self.open.is_empty() || self.dead.is_some()
    }

    pub fn took(&mut self, offset: i64) {
        self.consumed_next = Some(offset + 1);
        self.oldest.get_or_insert_with(Instant::now);
    }

    /// Recompute the memory held (cheap: a handful of open files per partition).
    pub fn measure(&mut self) -> u64 {
        self.memory = self.open.values().map(OpenFile::memory).sum::<u64>()
            + self.dead.as_ref().map_or(0, DeadLetterBuffer::memory);
        self.memory
    }

    /// Close every open file and the dead-letter buffer into one commit group.
    pub fn take_group(&mut self) -> Result<Option<Group>, FileError> {
        if !self.has_data() {
            return Ok(None);
        }
        let mut group = Group {
            members: Vec::new(),
            records: 0,
            dead_letters: 0,
            bytes: 0,
            hours: Vec::new(),
            max_time_ms: None,
            stamps: Stamps::default(),
        };
        for (_, file) in std::mem::take(&mut self.open) {
            let f = file.finish()?;
            group.records += f.records;
            group.bytes += f.bytes.len() as u64;
            group.hours.push(f.hour);
            group.max_time_ms = group.max_time_ms.max(Some(f.max_time_ms));
            group.stamps.merge(f.stamps);
            group.members.push(Member {
                dir: hour_dir(&self.topic, f.hour),
                final_name: file_name(
                    &self.topic,
                    self.partition,
                    f.first_offset,
                    f.last_offset,
                    FileKind::Parquet,
                ),
                bytes: Bytes::from(f.bytes),
                last_offset: f.last_offset,
            });
        }
        if let Some(dead) = self.dead.take() {
            group.dead_letters = dead.records;
            let (first, last) = (dead.first_offset, dead.last_offset);
            let bytes = dead.into_bytes();
            group.bytes += bytes.len() as u64;
            group.members.push(Member {
                dir: dead_letter_dir(&self.topic),
                final_name: file_name(
                    &self.topic,
                    self.partition,
                    first,
                    last,
                    FileKind::DeadLetter,
                ),
                bytes: Bytes::from(bytes),
                last_offset: last,
            });
        }
        self.oldest = None;
        self.memory = 0;
        Ok(Some(group))
    }
}
