//! Completeness of hour directories: watermarks, `_manifest.json`, `_SUCCESS`.
//!
//! Per Kafka partition p of topic T the writer keeps w(p), a time such that every record of p
//! with partition time < w(p) is already in committed files:
//! - after a commit: w(p) ≥ (largest partition time committed for p) − lateness;
//! - while p is caught up (nothing buffered, committed next offset ≥ high watermark):
//!   w(p) ≥ now − lateness.
//!
//! w(p) never decreases. The topic watermark is W(T) = min over all partitions of T (unknown
//! while some partition has no estimate yet). Hour H of T is **complete** when W(T) ≥ H + 1h:
//! its `_manifest.json` then says `"complete": true` and `_SUCCESS` is created after it.
//! "lateness" is `--watermark-lateness` for `--partition-by record` and 0 for ingest time.
//! A record that still arrives for a complete hour (later than the lateness allowed) is
//! written there anyway; the manifest is rewritten with a higher `revision` and keeps
//! `complete_offsets`, the per-partition offsets at completion, so a job can tell
//! (`_offset >= complete_offsets[_partition]`) which rows came late.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::config::PartitionBy;
use crate::layout::{hour_dir, inprogress_name, MANIFEST, SUCCESS, WATERMARK};
use crate::metrics::Metrics;
use vygoda_storage::{Storage, StorageResult};

/// `<topic>/date=…/hour=…/_manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub topic: String,
    pub partition_by: String,
    pub date: String,
    pub hour: u32,
    /// Hour bounds, RFC 3339 UTC, end exclusive.
    pub start: String,
    pub end: String,
    pub complete: bool,
    /// Topic watermark when written (RFC 3339), if known.
    pub watermark: Option<String>,
    pub lateness_seconds: u64,
    /// Per Kafka partition: first offset not yet in the lake when written.
    pub offsets: BTreeMap<String, i64>,
    /// `offsets` at the moment the hour became complete; rows at or past them are late.
    pub complete_offsets: Option<BTreeMap<String, i64>>,
    pub completed_at: Option<String>,
    pub revision: u64,
    pub updated_at: String,
}

/// `<topic>/_watermark.json`: where the whole topic stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicWatermark {
    pub version: u32,
    pub topic: String,
    pub partition_by: String,
    pub watermark: Option<String>,
    pub lateness_seconds: u64,
    pub partitions: BTreeMap<String, PartitionProgress>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionProgress {
    /// First offset not yet in the lake.
    pub next_offset: i64,
    pub high_watermark: Option<i64>,
    /// w(p), RFC 3339.
    pub watermark: Option<String>,
}

#[derive(Debug, Default)]
struct PartClock {
    next_offset: i64,
    high: Option<i64>,
    buffering: bool,
    /// w(p) in epoch ms.
    w: Option<i64>,
}

#[derive(Debug, Default)]
struct TopicState {
    parts: BTreeMap<i32, PartClock>,
    /// Hours with data whose `_SUCCESS` is not written yet.
    pending: BTreeSet<i64>,
    /// Hours that received files since their manifest was last written.
    dirty: BTreeSet<i64>,
    manifests: HashMap<i64, Manifest>,
    published: Option<(Option<i64>, BTreeMap<i32, i64>, Instant)>,
}

pub struct Watermarks {
    partition_by: PartitionBy,
    lateness_ms: i64,
    topics: BTreeMap<String, TopicState>,
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Watermarks {
    pub fn new(partition_by: PartitionBy, lateness: Duration) -> Watermarks {
        let lateness_ms = match partition_by {
            PartitionBy::Record => lateness.as_millis() as i64,
            PartitionBy::Ingest => 0,
        };
        Watermarks {
            partition_by,
            lateness_ms,
            topics: BTreeMap::new(),
        }
    }

    pub fn add_partition(&mut self, topic: &str, partition: i32, next_offset: i64) {
        let t = self.topics.entry(topic.to_owned()).or_default();
        t.parts.entry(partition).or_default().next_offset = next_offset;
    }

    pub fn add_pending(&mut self, topic: &str, hours: impl IntoIterator<Item = i64>) {
        let t = self.topics.entry(topic.to_owned()).or_default();
        t.pending.extend(hours);
    }

    pub fn on_commit(
        &mut self,
        topic: &str,
        partition: i32,
        next_offset: i64,
        max_time_ms: Option<i64>,
        hours: impl IntoIterator<Item = i64>,
    ) {
        let lateness = self.lateness_ms;
        let t = self.topics.entry(topic.to_owned()).or_default();
        let p = t.parts.entry(partition).or_default();
        p.next_offset = p.next_offset.max(next_offset);
        if let Some(max) = max_time_ms {
            p.w = p.w.max(Some(max.saturating_sub(lateness)));
        }
        for h in hours {
            t.pending.insert(h);
            t.dirty.insert(h);
        }
    }

    pub fn set_high(&mut self, topic: &str, partition: i32, high: i64) {
        if let Some(p) = self.part(topic, partition) {
            p.high = Some(high);
        }
    }

    pub fn set_buffering(&mut self, topic: &str, partition: i32, buffering: bool) {
        if let Some(p) = self.part(topic, partition) {
            p.buffering = buffering;
        }
    }

    fn part(&mut self, topic: &str, partition: i32) -> Option<&mut PartClock> {
        self.topics.get_mut(topic)?.parts.get_mut(&partition)
    }

    /// Advance idle, caught-up partitions to `now` and return W(T) in epoch ms.
    pub fn watermark(&mut self, topic: &str, now_ms: i64) -> Option<i64> {
        let lateness = self.lateness_ms;
        let t = self.topics.get_mut(topic)?;
        let mut min: Option<i64> = None;
        for p in t.parts.values_mut() {
            let caught_up = !p.buffering && p.high.is_some_and(|h| p.next_offset >= h);
            if caught_up {
                p.w = p.w.max(Some(now_ms - lateness));
            }
            let w = p.w?;
            min = Some(min.map_or(w, |m| m.min(w)));
        }
        min
    }

    /// Whether hour `hour` (epoch seconds) of `topic` is already complete.
    pub fn is_complete(&self, topic: &str, hour: i64, watermark: Option<i64>) -> bool {
        let _ = topic;
        watermark.is_some_and(|w| w >= (hour + 3600) * 1000)
    }

    /// Write manifests of hours that changed or completed, `_SUCCESS` of completed hours and
    /// the topic's `_watermark.json` (when it moved, at most every 5 s unless `force`).
    pub async fn publish<S: Storage>(
        &mut self,
        storage: &S,
        now_ms: i64,
        metrics: &Metrics,
        force: bool,
    ) -> StorageResult<()> {
        let topics: Vec<String> = self.topics.keys().cloned().collect();
        for topic in topics {
            let w = self.watermark(&topic, now_ms);
            if let Some(w) = w {
                metrics
                    .watermark
                    .get_or_create(&Metrics::topic(&topic))
                    .set(w / 1000);
            }
            let (partition_by, lateness) = (self.partition_by, self.lateness_ms);
            let Some(t) = self.topics.get_mut(&topic) else {
                continue;
            };
            let offsets: BTreeMap<String, i64> = t
                .parts
                .iter()
                .map(|(p, c)| (p.to_string(), c.next_offset))
                .collect();
            let due: Vec<i64> = t
                .pending
                .iter()
                .copied()
                .filter(|h| t.dirty.contains(h) || w.is_some_and(|w| w >= (h + 3600) * 1000))
                .collect();
            for hour in due {
                let complete = w.is_some_and(|w| w >= (hour + 3600) * 1000);
                let dir = hour_dir(&topic, hour);
                let prev = match t.manifests.get(&hour) {
                    Some(m) => Some(m.clone()),
                    None => read_manifest(storage, &dir).await?,
                };
                let was_complete = prev.as_ref().is_some_and(|m| m.complete);
                let now = rfc3339(now_ms);
                let start = DateTime::<Utc>::from_timestamp(hour, 0).unwrap_or_default();
                let manifest = Manifest {
                    version: 1,
                    topic: topic.clone(),
                    partition_by: partition_by.as_str().to_owned(),
                    date: start.format("%Y-%m-%d").to_string(),
                    hour: start.format("%H").to_string().parse().unwrap_or(0),
                    start: rfc3339(hour * 1000),
                    end: rfc3339((hour + 3600) * 1000),
                    complete: complete || was_complete,
                    watermark: w.map(rfc3339),
                    lateness_seconds: (lateness / 1000) as u64,
                    offsets: offsets.clone(),
                    complete_offsets: match &prev {
                        Some(m) if m.complete => m.complete_offsets.clone(),
                        _ => complete.then(|| offsets.clone()),
                    },
                    completed_at: match &prev {
                        Some(m) if m.complete => m.completed_at.clone(),
                        _ => complete.then(|| now.clone()),
                    },
                    revision: prev.as_ref().map_or(1, |m| m.revision + 1),
                    updated_at: now,
                };
                write_json(storage, &dir, MANIFEST, &manifest).await?;
                t.dirty.remove(&hour);
                if manifest.complete {
                    storage
                        .put(&format!("{dir}/{SUCCESS}"), Bytes::new())
                        .await?;
                    t.pending.remove(&hour);
                    t.manifests.remove(&hour);
                    tracing::info!(topic, dir, revision = manifest.revision, "hour complete");
                } else {
                    t.manifests.insert(hour, manifest);
                }
            }
            let state: BTreeMap<i32, i64> =
                t.parts.iter().map(|(p, c)| (*p, c.next_offset)).collect();
            let changed = t.published.as_ref().is_none_or(|(pw, ps, at)| {
                (*pw != w || *ps != state) && (force || at.elapsed() >= Duration::from_secs(5))
            });
            if changed || force {
                let doc = TopicWatermark {
                    version: 1,
                    topic: topic.clone(),
                    partition_by: partition_by.as_str().to_owned(),
                    watermark: w.map(rfc3339),
                    lateness_seconds: (lateness / 1000) as u64,
                    partitions: t
                        .parts
                        .iter()
                        .map(|(p, c)| {
                            let progress = PartitionProgress {
                                next_offset: c.next_offset,
                                high_watermark: c.high,
                                watermark: c.w.map(rfc3339),
                            };
                            (p.to_string(), progress)
                        })
                        .collect(),
                    updated_at: rfc3339(now_ms),
                };
                write_json(storage, &topic, WATERMARK, &doc).await?;
                t.published = Some((w, state, Instant::now()));
            }
        }
        Ok(())
    }
}

async fn read_manifest<S: Storage>(storage: &S, dir: &str) -> StorageResult<Option<Manifest>> {
    match storage.read(&format!("{dir}/{MANIFEST}")).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Temp + atomic replace, so a reader never sees a half-written document.
async fn write_json<S: Storage, T: Serialize>(
    storage: &S,
    dir: &str,
    name: &str,
    doc: &T,
) -> StorageResult<()> {
    let body = serde_json::to_vec_pretty(doc).unwrap_or_default();
    let attempt = uuid::Uuid::new_v4().simple().to_string();
    let tmp = format!("{dir}/{}", inprogress_name(name, &attempt[..12]));
    storage.put(&tmp, Bytes::from(body)).await?;
    storage.rename(&tmp, &format!("{dir}/{name}"), true).await
}
