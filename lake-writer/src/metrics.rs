//! Prometheus metrics of the lake writer (served on /metrics).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabel {
    pub topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub topic: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabel {
    pub topic: String,
    pub partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    pub op: String,
}

/// The `reason` label values of `dead_lettered` (see `engine::short_reason`).
pub const DEAD_LETTER_REASONS: [&str; 6] = [
    "wire_format",
    "unknown_schema",
    "corrupt_avro",
    "bad_key",
    "unmappable_schema",
    "bad_value",
];

/// Why files were closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Size,
    Count,
    Age,
    Memory,
    Schema,
    Shutdown,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Size => "size",
            CloseReason::Count => "count",
            CloseReason::Age => "age",
            CloseReason::Memory => "memory",
            CloseReason::Schema => "schema",
            CloseReason::Shutdown => "shutdown",
        }
    }
}

#[derive(Clone)]
pub struct Metrics {
    pub records_written: Family<TopicLabel, Counter>,
    pub bytes_written: Family<TopicLabel, Counter>,
    pub files_closed: Family<ReasonLabel, Counter>,
    pub dead_lettered: Family<ReasonLabel, Counter>,
    pub skipped: Family<TopicLabel, Counter>,
    pub open_files: Gauge,
    pub buffered_bytes: Gauge,
    pub lag: Family<PartitionLabel, Gauge>,
    pub watermark: Family<TopicLabel, Gauge>,
    pub write_seconds: Histogram,
    pub commit_delay: Family<TopicLabel, Histogram, fn() -> Histogram>,
    pub storage_retries: Family<OpLabel, Counter>,
}

impl Metrics {
    /// Metrics not exposed anywhere (tests, benchmarks).
    pub fn unregistered() -> Metrics {
        Metrics {
            records_written: Family::default(),
            bytes_written: Family::default(),
            files_closed: Family::default(),
            dead_lettered: Family::default(),
            skipped: Family::default(),
            open_files: Gauge::default(),
            buffered_bytes: Gauge::default(),
            lag: Family::default(),
            watermark: Family::default(),
            write_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            commit_delay: Family::new_with_constructor(vygoda_common::metrics::delay_histogram),
            storage_retries: Family::default(),
        }
    }

    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics::unregistered();
        let r = registry.sub_registry_with_prefix("vygoda_lake_writer");
        r.register(
            "records_written",
            "Records committed to the lake (Parquet rows, tombstones included)",
            m.records_written.clone(),
        );
        r.register(
            "bytes_written",
            "Bytes of committed lake files",
            m.bytes_written.clone(),
        );
        r.register(
            "files_closed",
            "Files committed, by what closed them (size, count, age, memory, schema, shutdown)",
            m.files_closed.clone(),
        );
        r.register(
            "dead_lettered",
            "Records written to the dead-letter directory instead of Parquet",
            m.dead_lettered.clone(),
        );
        r.register(
            "skipped",
            "Records skipped because the lake already holds their offset",
            m.skipped.clone(),
        );
        r.register("open_files", "Files being filled", m.open_files.clone());
        r.register(
            "buffered_bytes",
            "Bytes buffered in memory, not yet committed (bounded by --memory-budget-bytes)",
            m.buffered_bytes.clone(),
        );
        r.register(
            "lag_records",
            "High watermark minus the first offset not yet in the lake",
            m.lag.clone(),
        );
        r.register(
            "watermark_seconds",
            "Event time (unix seconds) before which every hour of the topic is complete",
            m.watermark.clone(),
        );
        r.register(
            "write_seconds",
            "Time to write one file durably (upload + rename to its ready name)",
            m.write_seconds.clone(),
        );
        r.register(
            "commit_delay_seconds",
            "Record's Kafka timestamp to the lake file holding it committed, per record",
            m.commit_delay.clone(),
        );
        r.register(
            "storage_retries",
            "Storage calls retried after a transient failure",
            m.storage_retries.clone(),
        );
        m
    }

    /// Create a topic's counters at 0 when its first partition is assigned: dashboards,
    /// `rate()` and `increase()` then see the series before the first file or dead letter.
    pub fn preset_topic(&self, topic: &str) {
        let _ = self.records_written.get_or_create(&Self::topic(topic));
        let _ = self.bytes_written.get_or_create(&Self::topic(topic));
        let _ = self.commit_delay.get_or_create(&Self::topic(topic));
        for reason in [
            CloseReason::Size,
            CloseReason::Count,
            CloseReason::Age,
            CloseReason::Memory,
            CloseReason::Schema,
            CloseReason::Shutdown,
        ] {
            let _ = self
                .files_closed
                .get_or_create(&Self::reason(topic, reason.as_str()));
        }
        for reason in DEAD_LETTER_REASONS {
            let _ = self
                .dead_lettered
                .get_or_create(&Self::reason(topic, reason));
        }
    }

    pub fn topic(topic: &str) -> TopicLabel {
        TopicLabel {
            topic: topic.to_owned(),
        }
    }

    pub fn reason(topic: &str, reason: &str) -> ReasonLabel {
        ReasonLabel {
            topic: topic.to_owned(),
            reason: reason.to_owned(),
        }
    }
}
