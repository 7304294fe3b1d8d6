//! The Kafka-agnostic core: records in, committed lake files out. `run.rs` feeds it from
//! Kafka; tests feed it directly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use apache_avro::types::Value;
use parquet::file::properties::WriterProperties;
use tokio_util::sync::CancellationToken;

use crate::commit::{commit_group, CommitObserver, Member};
use crate::config::{PartitionBy, WriterConfig};
use crate::layout::hour_start;
use crate::metrics::{CloseReason, Metrics, PartitionLabel};
use crate::open_file::{writer_properties, FileError, OpenFile};
use crate::partition::PartitionWriter;
use crate::recovery::{recover, Recovery};
use crate::rows::{LakeSchema, RecordMeta};
use crate::schema_cache::{SchemaCache, SchemaError};
use crate::watermark::Watermarks;
use vygoda_avro::datum::DatumError;
use vygoda_avro::source::SchemaSource;
use vygoda_storage::{Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("lake storage: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Registry(#[from] SchemaError),
    #[error("{topic}/{partition}@{offset}: {source}; this is a bug, the file is dropped and re-read after restart")]
    File {
        topic: String,
        partition: i32,
        offset: i64,
        source: FileError,
    },
}

/// One Kafka record as the engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// What became of a pushed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Buffered,
    DeadLettered,
    /// Already in the lake (or buffered): a duplicate delivery.
    Skipped,
}

/// Offsets the lake now holds, for the (monitoring-only) consumer group commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}

pub struct Engine<S, R> {
    storage: S,
    schemas: SchemaCache<R>,
    cfg: WriterConfig,
    props: Arc<WriterProperties>,
    parts: BTreeMap<(Arc<str>, i32), PartitionWriter>,
    recovered: BTreeMap<(String, i32), i64>,
    watermarks: Watermarks,
    metrics: Metrics,
    buffered: u64,
    progress: Vec<Progress>,
}

struct LatencyObserver<'a>(&'a Metrics);

impl CommitObserver for LatencyObserver<'_> {
    fn written(&mut self, _m: &Member, elapsed: std::time::Duration) {
        self.0.write_seconds.observe(elapsed.as_secs_f64());
    }
}

impl<S: Storage, R: SchemaSource> Engine<S, R> {
    pub fn new(
        storage: S,
        source: R,
        cfg: WriterConfig,
        metrics: Metrics,
        stop: CancellationToken,
    ) -> Self {
        Engine {
            storage,
            schemas: SchemaCache::new(source, stop),
            props: writer_properties(&cfg),
            watermarks: Watermarks::new(cfg.partition_by, cfg.lateness),
            cfg,
            parts: BTreeMap::new(),
            recovered: BTreeMap::new(),
            metrics,
            buffered: 0,
            progress: Vec::new(),
        }
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Clean up after a crash and learn where each partition resumes. Call before `assign`.
    pub async fn recover(&mut self, topics: &[String]) -> Result<Recovery, EngineError> {
        let rec = recover(&self.storage, topics).await?;
        for (topic, hours) in &rec.pending_hours {
            self.watermarks.add_pending(topic, hours.iter().copied());
        }
        self.recovered = rec.next_offsets.clone();
        Ok(rec)
    }

    /// Take a partition; returns the offset to resume from (`None`: the beginning).
    pub fn assign(&mut self, topic: &str, partition: i32) -> Option<i64> {
        let next = self.recovered.get(&(topic.to_owned(), partition)).copied();
        self.metrics.preset_topic(topic);
        let key = (Arc::<str>::from(topic), partition);
        self.parts
            .entry(key.clone())
            .or_insert_with(|| PartitionWriter::new(key.0, partition, next));
        self.watermarks
            .add_partition(topic, partition, next.unwrap_or(0));
        next
    }

    pub fn set_high_watermark(&mut self, topic: &str, partition: i32, high: i64) {
        self.watermarks.set_high(topic, partition, high);
        if let Some(p) = self.parts.get(&(Arc::from(topic), partition)) {
            let next = p.committed_next.unwrap_or(0);
            let label = PartitionLabel {
                topic: topic.to_owned(),
                partition: partition.to_string(),
            };
            self.metrics
                .lag
                .get_or_create(&label)
                .set((high - next).max(0));
        }
    }

    /// Offsets committed to the lake since the last call.
    pub fn take_progress(&mut self) -> Vec<Progress> {
        std::mem::take(&mut self.progress)
    }

    pub fn buffered_bytes(&self) -> u64 {
        self.buffered
    }

    /// Take one record. Errors are fatal for the process (storage gave up, cancelled, bug);
    /// restarting resumes from the lake without loss or duplicates.
    pub async fn push(&mut self, rec: &Record<'_>, ingest_ms: i64) -> Result<Pushed, EngineError> {
        let key = (Arc::<str>::from(rec.topic), rec.partition);
        if !self.parts.contains_key(&key) {
            self.assign(rec.topic, rec.partition);
        }
        let p = self.parts.get(&key).ok_or_else(|| unreachable_part(rec))?;
        if p.already_has(rec.offset) {
            self.metrics
                .skipped
                .get_or_create(&Metrics::topic(rec.topic))
                .inc();
            return Ok(Pushed::Skipped);
        }
        let time_ms = match (self.cfg.partition_by, rec.timestamp_ms) {
            (PartitionBy::Record, Some(ts)) if ts >= 0 => ts,
            _ => ingest_ms,
        };
        let hour = hour_start(time_ms);
        let meta_key = match rec.key.map(std::str::from_utf8) {
            Some(Err(_)) => return self.dead_letter(&key, rec, None, "key is not UTF-8").await,
            other => other.and_then(Result::ok),
        };
        let meta = RecordMeta {
            topic: rec.topic,
            partition: rec.partition,
            offset: rec.offset,
            timestamp_ms: rec.timestamp_ms.filter(|t| *t >= 0),
            key: meta_key,
        };
        // Decode the value with its writer schema, or find the schema a tombstone goes with.
        let (schema, value, schema_id) = match rec.value {
            Some(payload) => {
                let (id, body) = match vygoda_avro::wire::split(payload) {
                    Ok(x) => x,
                    Err(e) => return self.dead_letter(&key, rec, None, &e.to_string()).await,
                };
                let schema = match self.schemas.get(id).await? {
                    Ok(s) => s,
                    Err(why) => return self.dead_letter(&key, rec, Some(id), &why).await,
                };
                let value = match decode(&schema, body) {
                    Ok(v) => v,
                    Err(why) => return self.dead_letter(&key, rec, Some(id), &why).await,
                };
                (schema, Some(value), Some(id))
            }
            None => (self.tombstone_schema(&key, hour).await?, None, None),
        };
        // A value of another schema closes the partition's files (readers get one schema
        // per file); a tombstone fits any schema.
        let p = self.parts.get(&key).ok_or_else(|| unreachable_part(rec))?;
        if let (Some(id), Some(f)) = (schema_id, p.open.get(&hour)) {
            if f.schema().id != Some(id) {
                self.commit_partition(&key, CloseReason::Schema).await?;
            }
        }
        let props = self.props.clone();
        let p = self
            .parts
            .get_mut(&key)
            .ok_or_else(|| unreachable_part(rec))?;
        if value.is_some() {
            p.last_schema = Some(schema.clone());
        }
        let file = match p.open.entry(hour) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(
                OpenFile::new(schema, props, hour).map_err(|source| file_error(rec, source))?,
            ),
        };
        let input = rec.value.map_or(0, <[u8]>::len) + rec.key.map_or(0, <[u8]>::len);
        if let Err(e) = file.append(&meta, value.as_ref(), input, time_ms) {
            if file.poisoned() || matches!(e, FileError::Parquet(_)) {
                return Err(file_error(rec, e));
            }
            return self.dead_letter(&key, rec, schema_id, &e.to_string()).await;
        }
        let (records, size) = (file.records, file.size_estimate());
        p.took(rec.offset);
        if records >= self.cfg.max_file_records {
            self.commit_partition(&key, CloseReason::Count).await?;
        } else if size >= self.cfg.target_file_bytes {
            self.commit_partition(&key, CloseReason::Size).await?;
        }
        self.account(&key).await?;
        Ok(Pushed::Buffered)
    }

    async fn tombstone_schema(
        &mut self,
        key: &(Arc<str>, i32),
        hour: i64,
    ) -> Result<Arc<LakeSchema>, EngineError> {
        if let Some(p) = self.parts.get(key) {
            if let Some(f) = p.open.get(&hour) {
                return Ok(f.schema().clone());
            }
            if let Some(s) = &p.last_schema {
                return Ok(s.clone());
            }
        }
        // Nothing seen yet in this partition: the subject's latest schema keeps the columns
        // the same as in the value files next to it.
        let subject = format!("{}-value", key.0);
        let schema = match self.schemas.latest(&subject).await? {
            Some(s) => s,
            None => Arc::new(LakeSchema::metadata_only()),
        };
        if let Some(p) = self.parts.get_mut(key) {
            p.last_schema = Some(schema.clone());
        }
        Ok(schema)
    }

    async fn dead_letter(
        &mut self,
        key: &(Arc<str>, i32),
        rec: &Record<'_>,
        schema_id: Option<u32>,
        reason: &str,
    ) -> Result<Pushed, EngineError> {
        tracing::warn!(
            topic = rec.topic,
            partition = rec.partition,
            offset = rec.offset,
            reason,
            "record dead-lettered"
        );
        let label = Metrics::reason(rec.topic, short_reason(reason));
        self.metrics.dead_lettered.get_or_create(&label).inc();
        let p = self
            .parts
            .get_mut(key)
            .ok_or_else(|| unreachable_part(rec))?;
        let meta = RecordMeta {
            topic: rec.topic,
            partition: rec.partition,
            offset: rec.offset,
            timestamp_ms: rec.timestamp_ms,
            key: None,
        };
        p.dead
            .get_or_insert_with(Default::default)
            .push(&meta, rec.key, rec.value, schema_id, reason);
        p.took(rec.offset);
        self.account(key).await?;
        Ok(Pushed::DeadLettered)
    }

    /// Update the memory budget after `key` changed; commit the largest buffers while over.
    async fn account(&mut self, key: &(Arc<str>, i32)) -> Result<(), EngineError> {
        if let Some(p) = self.parts.get_mut(key) {
            let before = p.memory;
            let after = p.measure();
            self.buffered = self.buffered.saturating_sub(before) + after;
        }
        while self.buffered > self.cfg.memory_budget_bytes {
            let largest = self
                .parts
                .iter()
                .filter(|(_, p)| p.has_data())
                .max_by_key(|(_, p)| p.memory)
                .map(|(k, _)| k.clone());
            let Some(largest) = largest else { break };
            self.commit_partition(&largest, CloseReason::Memory).await?;
        }
        self.metrics.buffered_bytes.set(self.buffered as i64);
        Ok(())
    }

    /// Commit every open file of one partition as one group (see `commit.rs`).
    async fn commit_partition(
        &mut self,
        key: &(Arc<str>, i32),
        reason: CloseReason,
    ) -> Result<(), EngineError> {
        let Some(p) = self.parts.get_mut(key) else {
            return Ok(());
        };
        let memory = p.memory;
        let group = p.take_group().map_err(|source| EngineError::File {
            topic: key.0.to_string(),
            partition: key.1,
            offset: p.consumed_next.unwrap_or(-1),
            source,
        })?;
        let Some(group) = group else { return Ok(()) };
        self.buffered -= memory.min(self.buffered);
        let started = Instant::now();
        let cut = commit_group(
            &self.storage,
            &group.members,
            &mut LatencyObserver(&self.metrics),
        )
        .await?;
        let topic = &*key.0;
        if let Some(p) = self.parts.get_mut(key) {
            p.committed_next = Some(cut + 1);
        }
        let m = &self.metrics;
        group.stamps.observe(
            &m.commit_delay.get_or_create(&Metrics::topic(topic)),
            vygoda_common::metrics::now_ms(),
        );
        m.records_written
            .get_or_create(&Metrics::topic(topic))
            .inc_by(group.records);
        m.bytes_written
            .get_or_create(&Metrics::topic(topic))
            .inc_by(group.bytes);
        let parquet_files = group.hours.len() as u64;
        m.files_closed
            .get_or_create(&Metrics::reason(topic, reason.as_str()))
            .inc_by(parquet_files);
        self.watermarks.on_commit(
            topic,
            key.1,
            cut + 1,
            group.max_time_ms,
            group.hours.iter().copied(),
        );
        self.progress.push(Progress {
            topic: topic.to_owned(),
            partition: key.1,
            next_offset: cut + 1,
        });
        tracing::info!(
            topic,
            partition = key.1,
            cut,
            files = group.members.len(),
            records = group.records,
            dead_letters = group.dead_letters,
            bytes = group.bytes,
            reason = reason.as_str(),
            ms = started.elapsed().as_millis() as u64,
            "committed"
        );
        self.metrics.buffered_bytes.set(self.buffered as i64);
        Ok(())
    }

    /// Periodic work: close files past their age, publish watermarks and manifests.
    pub async fn tick(&mut self, now_ms: i64) -> Result<(), EngineError> {
        let max_age = self.cfg.max_file_age;
        let old: Vec<_> = self
            .parts
            .iter()
            .filter(|(_, p)| p.oldest.is_some_and(|t| t.elapsed() >= max_age))
            .map(|(k, _)| k.clone())
            .collect();
        for key in old {
            self.commit_partition(&key, CloseReason::Age).await?;
        }
        self.publish(now_ms, false).await
    }

    async fn publish(&mut self, now_ms: i64, force: bool) -> Result<(), EngineError> {
        let mut open_files = 0;
        for ((topic, partition), p) in &self.parts {
            open_files += p.open.len() as i64;
            self.watermarks
                .set_buffering(topic, *partition, p.has_data());
        }
        self.metrics.open_files.set(open_files);
        self.watermarks
            .publish(&self.storage, now_ms, &self.metrics, force)
            .await?;
        Ok(())
    }

    /// Commit everything buffered (graceful shutdown) and publish final watermarks.
    pub async fn flush_all(&mut self, reason: CloseReason, now_ms: i64) -> Result<(), EngineError> {
        let keys: Vec<_> = self.parts.keys().cloned().collect();
        for key in keys {
            self.commit_partition(&key, reason).await?;
        }
        self.publish(now_ms, true).await
    }
}

fn decode(schema: &LakeSchema, body: &[u8]) -> Result<Value, String> {
    let Some(avro) = &schema.avro else {
        return Err("no Avro schema".into());
    };
    vygoda_avro::datum::decode(avro, None, body).map_err(|e| match e {
        DatumError::Trailing(n) => format!(
            "corrupt Avro for schema id {:?}: {n} bytes left after the value",
            schema.id
        ),
        e => format!("corrupt Avro for schema id {:?}: {e}", schema.id),
    })
}

/// A low-cardinality label for the dead-letter metric.
/// One of `metrics::DEAD_LETTER_REASONS`, for the metric label (the full reason goes to the file).
fn short_reason(reason: &str) -> &'static str {
    if reason.contains("magic") || reason.contains("shorter than") {
        "wire_format"
    } else if reason.contains("not in the registry") {
        "unknown_schema"
    } else if reason.contains("corrupt Avro") {
        "corrupt_avro"
    } else if reason.contains("UTF-8") {
        "bad_key"
    } else if reason.contains("schema id") {
        "unmappable_schema"
    } else {
        "bad_value"
    }
}

fn file_error(rec: &Record<'_>, source: FileError) -> EngineError {
    EngineError::File {
        topic: rec.topic.to_owned(),
        partition: rec.partition,
        offset: rec.offset,
        source,
    }
}

fn unreachable_part(rec: &Record<'_>) -> EngineError {
    file_error(
        rec,
        FileError::Build(crate::builders::BuildError::Invalid {
            path: String::new(),
            why: "partition state missing".into(),
        }),
    )
}
