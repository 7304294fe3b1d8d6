//! Progress of every partition, kept by the copy loop and exported on /metrics.
//!
//! - `vygoda_mirror_lag_records{topic,partition}`: source high watermark − next source offset
//!   to copy (offsets, so a compacted source with gaps reads a little high).
//! - `vygoda_mirror_lag_seconds{topic,partition}`: 0 when caught up; otherwise now − timestamp
//!   of the oldest record read but not yet acknowledged, or, when none is in flight, of the
//!   last record copied (an upper bound: the next record is younger).
//! - `vygoda_mirror_copied_records_total`, `vygoda_mirror_copied_bytes_total` (key + value).
//! - `vygoda_mirror_delay_seconds{topic}`: histogram of source record timestamp → acknowledged
//!   by the destination, per record (the timestamp is copied, so this is the source producer's
//!   clock against ours).
//! - `vygoda_mirror_next_source_offset`, `vygoda_mirror_source_errors_total`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rdkafka::consumer::Consumer;
use tokio_util::sync::CancellationToken;
use vygoda_common::metrics::{delay_histogram, delay_seconds, now_ms};

use crate::resume::Slot;
use crate::setup::metadata_client;
use crate::Config;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: i32,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

/// A record sent to the destination and not acknowledged yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub bytes: u64,
}

/// One source partition's progress and its metric handles.
#[derive(Debug)]
pub(crate) struct PartitionProgress {
    pub topic: String,
    pub partition: i32,
    /// Next source offset to copy: everything before it is acknowledged by the destination.
    next: AtomicI64,
    /// Timestamp of the last acknowledged record, `i64::MIN` when unknown.
    last_copied_ms: AtomicI64,
    /// Sent records awaiting acknowledgement, oldest first (acks come in order per partition).
    inflight: Mutex<VecDeque<InFlight>>,
    records: Counter,
    bytes: Counter,
    next_gauge: Gauge,
    lag_records: Gauge,
    lag_seconds: Gauge<f64, AtomicU64>,
    delay: Histogram,
}

impl PartitionProgress {
    pub fn sent(&self, record: InFlight) {
        self.lock().push_back(record);
    }

    /// Forget the newest sent record (it could not be handed to the producer).
    pub fn unsent(&self) {
        self.lock().pop_back();
    }

    /// The oldest in-flight record was acknowledged (or failed: `ok` false).
    pub fn acked(&self, ok: bool) -> Option<InFlight> {
        let record = self.lock().pop_front()?;
        if ok {
            self.next.store(record.offset + 1, Ordering::Release);
            if let Some(ts) = record.timestamp_ms {
                self.last_copied_ms.store(ts, Ordering::Release);
                self.delay.observe(delay_seconds(ts, now_ms()));
            }
            self.records.inc();
            self.bytes.inc_by(record.bytes);
            self.next_gauge.set(record.offset + 1);
        }
        Some(record)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<InFlight>> {
        // A poisoned lock only means a panic elsewhere; the queue itself is still consistent.
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update_lag(&self, source_high: i64, now_ms: i64) {
        let lag = (source_high - self.next.load(Ordering::Acquire)).max(0);
        self.lag_records.set(lag);
        let seconds = if lag == 0 {
            0.0
        } else {
            let oldest = self
                .lock()
                .front()
                .and_then(|r| r.timestamp_ms)
                .or_else(|| Some(self.last_copied_ms.load(Ordering::Acquire)))
                .filter(|&t| t != i64::MIN);
            oldest.map_or(0.0, |t| (now_ms - t).max(0) as f64 / 1000.0)
        };
        self.lag_seconds.set(seconds);
    }
}

/// Every partition's progress, indexed like the copy loop's slots.
#[derive(Debug)]
pub(crate) struct Metrics {
    pub partitions: Vec<PartitionProgress>,
    index: HashMap<String, usize>,
    pub source_errors: Counter,
}

impl Metrics {
    pub fn register(slots: &[Slot]) -> (Registry, Metrics) {
        let mut registry = Registry::with_prefix("vygoda_mirror");
        let records = Family::<PartitionLabels, Counter>::default();
        let bytes = Family::<PartitionLabels, Counter>::default();
        let next = Family::<PartitionLabels, Gauge>::default();
        let lag_records = Family::<PartitionLabels, Gauge>::default();
        let lag_seconds = Family::<PartitionLabels, Gauge<f64, AtomicU64>>::default();
        let source_errors = Counter::default();
        let delay = Family::<TopicLabels, Histogram>::new_with_constructor(
            delay_histogram as fn() -> Histogram,
        );
        registry.register(
            "copied_records",
            "Records copied and acknowledged by the destination",
            records.clone(),
        );
        registry.register(
            "copied_bytes",
            "Key and value bytes copied and acknowledged by the destination",
            bytes.clone(),
        );
        registry.register(
            "next_source_offset",
            "Next source offset to copy; everything before it is in the destination",
            next.clone(),
        );
        registry.register(
            "lag_records",
            "Source high watermark minus next source offset to copy",
            lag_records.clone(),
        );
        registry.register(
            "lag_seconds",
            "Age of the oldest record not yet copied (0 when caught up)",
            lag_seconds.clone(),
        );
        registry.register(
            "delay_seconds",
            "Source record timestamp to acknowledged by the destination",
            delay.clone(),
        );
        registry.register(
            "source_errors",
            "Errors reported while reading the source (the copy retries)",
            source_errors.clone(),
        );
        let mut index = HashMap::new();
        let partitions = slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                index
                    .entry(s.topic.clone())
                    .or_insert(i - s.partition as usize);
                let labels = PartitionLabels {
                    topic: s.topic.clone(),
                    partition: s.partition,
                };
                let p = PartitionProgress {
                    topic: s.topic.clone(),
                    partition: s.partition,
                    next: AtomicI64::new(s.next),
                    last_copied_ms: AtomicI64::new(s.last_copied_ms.unwrap_or(i64::MIN)),
                    inflight: Mutex::new(VecDeque::new()),
                    records: records.get_or_create_owned(&labels),
                    bytes: bytes.get_or_create_owned(&labels),
                    next_gauge: next.get_or_create_owned(&labels),
                    lag_records: lag_records.get_or_create_owned(&labels),
                    lag_seconds: lag_seconds.get_or_create_owned(&labels),
                    delay: delay.get_or_create_owned(&TopicLabels {
                        topic: s.topic.clone(),
                    }),
                };
                p.next_gauge.set(s.next);
                p
            })
            .collect();
        (
            registry,
            Metrics {
                partitions,
                index,
                source_errors,
            },
        )
    }

    /// Slot of a source partition. Slots of one topic are contiguous, by partition number.
    pub fn slot(&self, topic: &str, partition: i32) -> Option<usize> {
        let i = self.index.get(topic)? + usize::try_from(partition).ok()?;
        self.partitions
            .get(i)
            .filter(|p| p.partition == partition && p.topic == topic)
            .map(|_| i)
    }

    /// Records and bytes copied by this process.
    pub fn totals(&self) -> (u64, u64) {
        self.partitions
            .iter()
            .fold((0, 0), |(r, b), p| (r + p.records.get(), b + p.bytes.get()))
    }
}

/// Refresh the lag gauges from the source high watermarks every `lag_interval` until `stop`.
pub(crate) async fn refresh_lag(config: Config, metrics: Arc<Metrics>, stop: CancellationToken) {
    let client = match metadata_client(&config.source, &config.source_cluster) {
        Ok(c) => Arc::new(c),
        Err(error) => {
            tracing::error!(%error, "lag metrics unavailable");
            return;
        }
    };
    let timeout = config.lag_interval.max(std::time::Duration::from_secs(5));
    loop {
        let (c, m) = (Arc::clone(&client), Arc::clone(&metrics));
        let _ = tokio::task::spawn_blocking(move || {
            for p in &m.partitions {
                match c.fetch_watermarks(&p.topic, p.partition, timeout) {
                    Ok((_, high)) => p.update_lag(high, now_ms()),
                    Err(error) => {
                        tracing::warn!(topic = p.topic, partition = p.partition, %error,
                            "cannot read source high watermark for lag");
                    }
                }
            }
        })
        .await;
        tokio::select! {
            () = tokio::time::sleep(config.lag_interval) => {}
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots() -> Vec<Slot> {
        ["a", "b"]
            .iter()
            .flat_map(|t| {
                (0..2).map(|p| Slot {
                    topic: (*t).into(),
                    partition: p,
                    next: 10,
                    last_copied_ms: Some(1_000),
                })
            })
            .collect()
    }

    #[test]
    fn slots_are_found_by_topic_and_partition() {
        let (_, m) = Metrics::register(&slots());
        assert_eq!(m.slot("a", 1), Some(1));
        assert_eq!(m.slot("b", 0), Some(2));
        assert_eq!(m.slot("b", 2), None);
        assert_eq!(m.slot("c", 0), None);
        assert_eq!(m.slot("a", -1), None);
    }

    #[test]
    fn lag_follows_acknowledgements() {
        let (_, m) = Metrics::register(&slots());
        let p = &m.partitions[0];
        p.update_lag(10, 5_000);
        assert_eq!((p.lag_records.get(), p.lag_seconds.get()), (0, 0.0));
        // Two records behind, none in flight: bounded by the last copied record's age.
        p.update_lag(12, 5_000);
        assert_eq!((p.lag_records.get(), p.lag_seconds.get()), (2, 4.0));
        // In flight: the oldest unacknowledged record's age.
        p.sent(InFlight {
            offset: 10,
            timestamp_ms: Some(3_000),
            bytes: 7,
        });
        p.sent(InFlight {
            offset: 11,
            timestamp_ms: Some(4_000),
            bytes: 5,
        });
        p.update_lag(12, 5_000);
        assert_eq!(p.lag_seconds.get(), 2.0);
        assert_eq!(p.acked(true).map(|r| r.offset), Some(10));
        p.update_lag(12, 5_000);
        assert_eq!((p.lag_records.get(), p.lag_seconds.get()), (1, 1.0));
        p.acked(true);
        p.update_lag(12, 5_000);
        assert_eq!(p.lag_records.get(), 0);
        assert_eq!(m.totals(), (2, 12));
    }
}
