//! Command line and the typed configuration it is validated into.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use vygoda_common::kafka::{KafkaConfigError, PlatformArgs};

/// Topics duplicated by default: what the analytics side (lake writer, Spark jobs) reads.
pub const DEFAULT_TOPICS: &str = "products-filtered,product-bans,client-events,recommendations";

/// What to do with a destination partition that was written to but holds no record any more
/// (its records all expired): the last copied source offset cannot be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmptyDestination {
    /// Refuse to start and say so; the operator chooses.
    Fail,
    /// Copy from the source's earliest record (may repeat records that expired only in the
    /// destination).
    Earliest,
    /// Copy only records produced from now on (may skip records not copied before the crash).
    Latest,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Kafka(#[from] KafkaConfigError),
    #[error("--{flag} {value:?}: {problem}")]
    Invalid {
        flag: &'static str,
        value: String,
        problem: &'static str,
    },
}

/// Duplicate topics from one Kafka cluster to another, exactly once, resuming from the
/// destination after any crash.
#[derive(Debug, Clone, clap::Parser)]
#[command(version, about)]
pub struct Args {
    #[command(flatten)]
    pub platform: PlatformArgs,

    /// Principal (SCRAM user) the mirror authenticates as on both clusters.
    #[arg(long, env = "VYGODA_MIRROR_PRINCIPAL", default_value = "mirror")]
    pub principal: String,

    /// Cluster to copy from (a name in the platform file).
    #[arg(long, env = "VYGODA_MIRROR_SOURCE", default_value = "prod")]
    pub source_cluster: String,

    /// Cluster to copy to (a name in the platform file).
    #[arg(long, env = "VYGODA_MIRROR_DESTINATION", default_value = "analytics")]
    pub destination_cluster: String,

    /// Bootstrap servers of the source, overriding the platform file (for deployments
    /// without one). Empty: from the platform file.
    #[arg(long, env = "VYGODA_MIRROR_SOURCE_BOOTSTRAP", default_value = "")]
    pub source_bootstrap: String,

    /// Bootstrap servers of the destination, overriding the platform file. Empty: from the
    /// platform file.
    #[arg(long, env = "VYGODA_MIRROR_DESTINATION_BOOTSTRAP", default_value = "")]
    pub destination_bootstrap: String,

    /// Topics to duplicate (comma-separated). Same names on both sides.
    #[arg(
        long,
        env = "VYGODA_MIRROR_TOPICS",
        value_delimiter = ',',
        default_value = DEFAULT_TOPICS
    )]
    pub topics: Vec<String>,

    /// Create missing destination topics with the source's partition count and cleanup.policy.
    #[arg(long, env = "VYGODA_MIRROR_CREATE_TOPICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub create_topics: bool,

    /// Replication factor of created destination topics; -1 = the broker's
    /// default.replication.factor.
    #[arg(long, env = "VYGODA_MIRROR_REPLICATION_FACTOR", default_value_t = -1, allow_negative_numbers = true)]
    pub replication_factor: i32,

    /// Consumer group id librdkafka requires for partition assignment. Nothing is committed
    /// to it and it never has members; its coordinator is only looked up.
    #[arg(long, env = "VYGODA_MIRROR_GROUP", default_value = "mirror")]
    pub group_id: String,

    /// Seconds to wait, before reading where to resume, for destination high watermarks to
    /// stop moving: a crashed instance's last produce requests may still be completing on the
    /// brokers. Set at least the brokers' replica.lag.time.max.ms when the supervisor restarts
    /// the mirror at once after a crash.
    #[arg(long, env = "VYGODA_MIRROR_RESUME_SETTLE", default_value_t = 5.0)]
    pub resume_settle: f64,

    /// When a destination partition has offsets but no record left (all expired).
    #[arg(
        long,
        value_enum,
        env = "VYGODA_MIRROR_EMPTY_DESTINATION",
        default_value = "fail"
    )]
    pub empty_destination: EmptyDestination,

    /// Seconds allowed for each start-up step (metadata, topic creation, reading tails).
    #[arg(long, env = "VYGODA_MIRROR_STARTUP_TIMEOUT", default_value_t = 30.0)]
    pub startup_timeout: f64,

    /// Seconds to wait at shutdown for in-flight records to be acknowledged.
    #[arg(long, env = "VYGODA_MIRROR_FLUSH_TIMEOUT", default_value_t = 30.0)]
    pub flush_timeout: f64,

    /// Seconds between refreshes of the source high watermarks behind the lag metrics.
    #[arg(long, env = "VYGODA_MIRROR_LAG_INTERVAL", default_value_t = 5.0)]
    pub lag_interval: f64,

    /// Address of the /metrics endpoint.
    #[arg(
        long,
        env = "VYGODA_MIRROR_METRICS_ADDR",
        default_value = "127.0.0.1:9102"
    )]
    pub metrics_addr: SocketAddr,
}

/// Validated configuration of one mirror.
#[derive(Debug, Clone)]
pub struct Config {
    pub principal: String,
    pub source_cluster: String,
    pub destination_cluster: String,
    /// librdkafka properties (bootstrap, credentials, TLS, pass-through) for each side.
    pub source: BTreeMap<String, String>,
    pub destination: BTreeMap<String, String>,
    pub topics: Vec<String>,
    pub create_topics: bool,
    pub replication_factor: i32,
    pub group_id: String,
    pub resume_settle: Duration,
    pub empty_destination: EmptyDestination,
    pub startup_timeout: Duration,
    pub flush_timeout: Duration,
    pub lag_interval: Duration,
    pub metrics_addr: SocketAddr,
}

fn seconds(flag: &'static str, value: f64, min: f64) -> Result<Duration, ConfigError> {
    if value.is_finite() && value >= min {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(ConfigError::Invalid {
            flag,
            value: value.to_string(),
            problem: "must be a number of seconds within range",
        })
    }
}

impl Args {
    /// Check the flags and resolve Kafka properties for both clusters.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut topics: Vec<String> = self
            .topics
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        topics.sort();
        topics.dedup();
        if topics.is_empty() {
            return Err(ConfigError::Invalid {
                flag: "topics",
                value: self.topics.join(","),
                problem: "give at least one topic",
            });
        }
        if let Some(bad) = topics.iter().find(|t| {
            !t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        }) {
            return Err(ConfigError::Invalid {
                flag: "topics",
                value: bad.clone(),
                problem: "Kafka topic names use [a-zA-Z0-9._-] only",
            });
        }
        if self.replication_factor == 0 || self.replication_factor < -1 {
            return Err(ConfigError::Invalid {
                flag: "replication-factor",
                value: self.replication_factor.to_string(),
                problem: "must be -1 (broker default) or at least 1",
            });
        }
        let source_props = with_bootstrap(
            self.platform
                .kafka_props(&self.source_cluster, &self.principal)?,
            &self.source_bootstrap,
        );
        let destination_props = with_bootstrap(
            self.platform
                .kafka_props(&self.destination_cluster, &self.principal)?,
            &self.destination_bootstrap,
        );
        if self.source_cluster == self.destination_cluster
            || source_props.get("bootstrap.servers") == destination_props.get("bootstrap.servers")
        {
            return Err(ConfigError::Invalid {
                flag: "destination-cluster",
                value: self.destination_cluster,
                problem: "source and destination must be different clusters",
            });
        }
        Ok(Config {
            principal: self.principal,
            source_cluster: self.source_cluster,
            destination_cluster: self.destination_cluster,
            source: source_props,
            destination: destination_props,
            topics,
            create_topics: self.create_topics,
            replication_factor: self.replication_factor,
            group_id: self.group_id,
            resume_settle: seconds("resume-settle", self.resume_settle, 0.0)?,
            empty_destination: self.empty_destination,
            startup_timeout: seconds("startup-timeout", self.startup_timeout, 1.0)?,
            flush_timeout: seconds("flush-timeout", self.flush_timeout, 0.0)?,
            lag_interval: seconds("lag-interval", self.lag_interval, 0.1)?,
            metrics_addr: self.metrics_addr,
        })
    }
}

fn with_bootstrap(
    mut props: BTreeMap<String, String>,
    bootstrap: &str,
) -> BTreeMap<String, String> {
    if !bootstrap.trim().is_empty() {
        props.insert("bootstrap.servers".into(), bootstrap.trim().to_owned());
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec![
            "mirror",
            "--platform",
            "/nonexistent/platform.json",
            "--source-bootstrap",
            "p:9092",
            "--destination-bootstrap",
            "a:9092",
            "-X",
            "bootstrap.servers=unused:1",
        ];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn defaults_are_the_production_set() {
        let c = args(&[]).into_config().unwrap();
        assert_eq!(
            c.topics,
            vec![
                "client-events",
                "product-bans",
                "products-filtered",
                "recommendations"
            ]
        );
        assert_eq!(c.source["bootstrap.servers"], "p:9092");
        assert_eq!(c.destination["bootstrap.servers"], "a:9092");
        assert_eq!(c.metrics_addr.port(), 9102);
        assert!(c.create_topics);
        assert_eq!(c.replication_factor, -1);
    }

    #[test]
    fn bad_flags_are_named() {
        let e = args(&["--topics", "a b"])
            .into_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("--topics"), "{e}");
        let e = args(&["--replication-factor", "0"])
            .into_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("--replication-factor"), "{e}");
        let e = args(&["--flush-timeout=-1"])
            .into_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("--flush-timeout"), "{e}");
        let e = args(&["--destination-cluster", "prod"])
            .into_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("different clusters"), "{e}");
    }
}
