//! Command line / environment of the lake writer, validated into a typed [`Config`].

use std::net::SocketAddr;
use std::time::Duration;

use vygoda_common::kafka::PlatformArgs;

/// Default topics: everything the analytics cluster carries for the lake.
pub const DEFAULT_TOPICS: &str = "products-filtered,client-events,recommendations,product-bans";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--{flag} `{value}`: {why}")]
    Invalid {
        flag: &'static str,
        value: String,
        why: String,
    },
    #[error("{0}")]
    Platform(#[from] vygoda_common::platform::PlatformError),
    #[error("{0}")]
    Kafka(#[from] vygoda_common::kafka::KafkaConfigError),
}

fn invalid(flag: &'static str, value: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        flag,
        value: value.to_owned(),
        why: why.into(),
    }
}

/// Which clock decides the `date=/hour=` directory of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PartitionBy {
    /// The Kafka record timestamp (event time); records without one use ingest time.
    Record,
    /// The writer's wall clock when it consumed the record.
    Ingest,
}

impl PartitionBy {
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionBy::Record => "record",
            PartitionBy::Ingest => "ingest",
        }
    }
}

/// Parquet page compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Codec {
    Zstd,
    Snappy,
}

/// Flags of `lake-writer`. Every one has an environment variable and a default.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "lake-writer",
    version,
    about = "Analytics topics to Parquet, exactly once"
)]
pub struct Args {
    #[command(flatten)]
    pub platform: PlatformArgs,

    /// Lake root URL (`hdfs://host:port/path` or `file:///path`). Empty: `lake_root` of the
    /// platform file.
    #[arg(long, env = "VYGODA_LAKE_ROOT", default_value = "")]
    pub lake_root: String,

    /// Topics to write, comma-separated. Run one writer per topic set: partitions are
    /// assigned, not balanced through the group.
    #[arg(long, env = "VYGODA_LAKE_TOPICS", value_delimiter = ',', default_value = DEFAULT_TOPICS)]
    pub topics: Vec<String>,

    /// Cluster (in the platform file) to read from.
    #[arg(long, env = "VYGODA_LAKE_CLUSTER", default_value = "analytics")]
    pub cluster: String,

    /// Principal (in the platform file) to authenticate as.
    #[arg(long, env = "VYGODA_LAKE_PRINCIPAL", default_value = "lake-writer")]
    pub principal: String,

    /// Consumer group used only to publish progress for lag monitoring.
    #[arg(long, env = "VYGODA_LAKE_GROUP", default_value = "lake-writer")]
    pub group: String,

    #[command(flatten)]
    pub registry: vygoda_avro::registry::RegistryArgs,

    /// Time that picks the `date=/hour=` directory: record (Kafka timestamp) or ingest.
    #[arg(
        long,
        env = "VYGODA_LAKE_PARTITION_BY",
        value_enum,
        default_value = "record"
    )]
    pub partition_by: PartitionBy,

    /// Close a file when its Parquet size reaches this (e.g. 128MiB).
    #[arg(long, env = "VYGODA_LAKE_TARGET_FILE_BYTES", default_value = "128MiB")]
    pub target_file_bytes: String,

    /// Close a file when it holds this many records.
    #[arg(
        long,
        env = "VYGODA_LAKE_MAX_FILE_RECORDS",
        default_value_t = 10_000_000
    )]
    pub max_file_records: u64,

    /// Close a file this long after its first record (e.g. 30s, 10m, 1h). Bounds how far the
    /// lake trails Kafka.
    #[arg(long, env = "VYGODA_LAKE_MAX_FILE_AGE", default_value = "10m")]
    pub max_file_age: String,

    /// Target encoded size of a Parquet row group.
    #[arg(long, env = "VYGODA_LAKE_ROW_GROUP_BYTES", default_value = "64MiB")]
    pub row_group_bytes: String,

    /// Parquet compression codec.
    #[arg(
        long,
        env = "VYGODA_LAKE_COMPRESSION",
        value_enum,
        default_value = "zstd"
    )]
    pub compression: Codec,

    /// zstd level (1-22); ignored for snappy.
    #[arg(long, env = "VYGODA_LAKE_ZSTD_LEVEL", default_value_t = 3)]
    pub zstd_level: i32,

    /// Budget for all buffered (not yet committed) data; past it the largest buffers are
    /// committed early (close reason `memory`).
    #[arg(
        long,
        env = "VYGODA_LAKE_MEMORY_BUDGET_BYTES",
        default_value = "512MiB"
    )]
    pub memory_budget_bytes: String,

    /// How late (behind the newest committed record time of a partition) records may still
    /// arrive before an hour is declared complete. Ignored with --partition-by ingest.
    #[arg(long, env = "VYGODA_LAKE_WATERMARK_LATENESS", default_value = "5m")]
    pub watermark_lateness: String,

    /// How often to check file ages, refresh high watermarks, lag and manifests.
    #[arg(long, env = "VYGODA_LAKE_TICK", default_value = "1s")]
    pub tick: String,

    /// Give up on a storage (HDFS) operation after retrying it this long; the process then
    /// exits 69 and a restart resumes exactly where the lake ends.
    #[arg(long, env = "VYGODA_LAKE_STORAGE_RETRY_FOR", default_value = "10m")]
    pub storage_retry_for: String,

    /// Where to serve /metrics.
    #[arg(
        long,
        env = "VYGODA_LAKE_METRICS_ADDR",
        default_value = "127.0.0.1:9103"
    )]
    pub metrics_addr: SocketAddr,

    /// Commit and exit 0 once every partition is in the lake up to the high watermark it had
    /// at start (backfills, benchmarks). Without it the writer runs until SIGTERM.
    #[arg(long, env = "VYGODA_LAKE_UNTIL_CAUGHT_UP", default_value_t = false)]
    pub until_caught_up: bool,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub lake_root: String,
    pub topics: Vec<String>,
    pub group: String,
    pub cluster: String,
    pub principal: String,
    pub kafka_props: std::collections::BTreeMap<String, String>,
    pub registry: vygoda_avro::registry::RegistryConfig,
    pub writer: WriterConfig,
    pub tick: Duration,
    pub storage_retry_for: Duration,
    pub metrics_addr: SocketAddr,
    pub until_caught_up: bool,
}

/// What the storage-agnostic engine needs (also built directly by tests).
#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub partition_by: PartitionBy,
    pub target_file_bytes: u64,
    pub max_file_records: u64,
    pub max_file_age: Duration,
    pub row_group_bytes: u64,
    pub compression: Codec,
    pub zstd_level: i32,
    pub memory_budget_bytes: u64,
    pub lateness: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            partition_by: PartitionBy::Record,
            target_file_bytes: 128 << 20,
            max_file_records: 10_000_000,
            max_file_age: Duration::from_secs(600),
            row_group_bytes: 64 << 20,
            compression: Codec::Zstd,
            zstd_level: 3,
            memory_budget_bytes: 512 << 20,
            lateness: Duration::from_secs(300),
        }
    }
}

impl Args {
    /// Resolve defaults from the platform file and validate everything.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let platform = self.platform.platform()?;
        let lake_root = match (self.lake_root.trim(), &platform) {
            ("", Some(p)) => p.lake_root.clone(),
            ("", None) => return Err(invalid("lake-root", "", "no platform file; pass a URL")),
            (root, _) => root.to_owned(),
        };
        if !(lake_root.starts_with("hdfs://") || lake_root.starts_with("file://")) {
            return Err(invalid(
                "lake-root",
                &lake_root,
                "use hdfs://… or file:///…",
            ));
        }
        let topics: Vec<String> = self
            .topics
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if topics.is_empty() {
            return Err(invalid("topics", "", "name at least one topic"));
        }
        for t in &topics {
            if !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(invalid("topics", t, "Kafka topic names are [a-zA-Z0-9._-]"));
            }
        }
        let registry = self
            .registry
            .resolve(platform.as_ref(), &self.principal)
            .map_err(|e| invalid("registry-url", &self.registry.registry_url, e.to_string()))?;
        let level = self.zstd_level;
        if !(1..=22).contains(&level) {
            return Err(invalid("zstd-level", &level.to_string(), "use 1..=22"));
        }
        let writer = WriterConfig {
            partition_by: self.partition_by,
            target_file_bytes: bytes_flag("target-file-bytes", &self.target_file_bytes)?,
            max_file_records: match self.max_file_records {
                0 => return Err(invalid("max-file-records", "0", "must be at least 1")),
                n => n,
            },
            max_file_age: duration_flag("max-file-age", &self.max_file_age)?,
            row_group_bytes: bytes_flag("row-group-bytes", &self.row_group_bytes)?,
            compression: self.compression,
            zstd_level: level,
            memory_budget_bytes: bytes_flag("memory-budget-bytes", &self.memory_budget_bytes)?,
            lateness: duration_flag("watermark-lateness", &self.watermark_lateness)?,
        };
        Ok(Config {
            lake_root,
            kafka_props: self.platform.kafka_props(&self.cluster, &self.principal)?,
            topics,
            group: self.group.clone(),
            cluster: self.cluster.clone(),
            principal: self.principal.clone(),
            registry,
            writer,
            tick: duration_flag("tick", &self.tick)?,
            storage_retry_for: duration_flag("storage-retry-for", &self.storage_retry_for)?,
            metrics_addr: self.metrics_addr,
            until_caught_up: self.until_caught_up,
        })
    }
}

fn bytes_flag(flag: &'static str, raw: &str) -> Result<u64, ConfigError> {
    match parse_bytes(raw) {
        Some(0) | None => Err(invalid(
            flag,
            raw,
            "use a positive size like 64MiB or 1000000",
        )),
        Some(n) => Ok(n),
    }
}

fn duration_flag(flag: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    parse_duration(raw).ok_or_else(|| invalid(flag, raw, "use a duration like 500ms, 30s, 10m, 1h"))
}

/// `123`, `64KiB`, `128MiB`, `1GiB`, `10MB` (decimal units too).
pub fn parse_bytes(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `250ms`, `30s`, `10m`, `1h`, or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_bytes("128MiB"), Some(128 << 20));
        assert_eq!(parse_bytes("10MB"), Some(10_000_000));
        assert_eq!(parse_bytes("42"), Some(42));
        assert_eq!(parse_bytes("12 parsecs"), None);
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn validates_without_platform_file() {
        let args = Args::parse_from([
            "lake-writer",
            "--platform",
            "/nonexistent/platform.json",
            "-X",
            "bootstrap.servers=h:1",
            "--lake-root",
            "file:///tmp/lake",
            "--registry-url",
            "https://r:1",
            "--topics",
            "a, b",
            "--max-file-age",
            "30s",
        ]);
        let cfg = args.validate().unwrap();
        assert_eq!(cfg.topics, vec!["a", "b"]);
        assert_eq!(cfg.writer.max_file_age, Duration::from_secs(30));
        assert_eq!(cfg.writer.target_file_bytes, 128 << 20);
        assert_eq!(cfg.kafka_props["bootstrap.servers"], "h:1");
    }

    #[test]
    fn rejects_bad_values_naming_the_flag() {
        let args = Args::parse_from([
            "lake-writer",
            "--platform",
            "/nonexistent/platform.json",
            "--lake-root",
            "s3://bucket/lake",
        ]);
        let err = args.validate().unwrap_err().to_string();
        assert!(err.contains("--lake-root"), "{err}");
    }
}
