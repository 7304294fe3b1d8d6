//! Command line and the typed configuration it is validated into.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use vygoda_common::kafka::{KafkaConfigError, PlatformArgs};

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

/// Export every consumer group's committed offsets and lag, as the brokers see them, for
/// Prometheus. Reads only: it never joins a group and never commits.
#[derive(Debug, Clone, clap::Parser)]
#[command(version, about)]
pub struct Args {
    #[command(flatten)]
    pub platform: PlatformArgs,

    /// Principal the exporter connects as (needs Describe on topics and groups).
    #[arg(long, env = "VYGODA_LAG_PRINCIPAL", default_value = "monitoring")]
    pub principal: String,

    /// Clusters to watch (names in the platform file, comma-separated).
    #[arg(
        long,
        env = "VYGODA_LAG_CLUSTERS",
        value_delimiter = ',',
        default_value = "prod,analytics"
    )]
    pub clusters: Vec<String>,

    /// Seconds between two looks at the clusters.
    #[arg(long, env = "VYGODA_LAG_INTERVAL", default_value_t = 10.0)]
    pub interval: f64,

    /// Seconds allowed for each request to a cluster (group list, offsets, watermarks).
    #[arg(long, env = "VYGODA_LAG_TIMEOUT", default_value_t = 10.0)]
    pub timeout: f64,

    /// Group name prefixes to leave out (comma-separated), e.g. the local platform's
    /// throw-away test groups; empty: every group.
    #[arg(
        long,
        env = "VYGODA_LAG_EXCLUDE_GROUPS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub exclude_groups: Vec<String>,

    /// Address of the /metrics endpoint.
    #[arg(
        long,
        env = "VYGODA_LAG_METRICS_ADDR",
        default_value = "127.0.0.1:9308"
    )]
    pub metrics_addr: SocketAddr,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub principal: String,
    /// (cluster name, librdkafka properties), in the order given.
    pub clusters: Vec<(String, BTreeMap<String, String>)>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Group name prefixes left out.
    pub exclude_groups: Vec<String>,
    pub metrics_addr: SocketAddr,
}

fn seconds(flag: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if value.is_finite() && (0.1..=3600.0).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(ConfigError::Invalid {
            flag,
            value: value.to_string(),
            problem: "must be between 0.1 and 3600 seconds",
        })
    }
}

impl Args {
    /// Check the flags and resolve each cluster's Kafka properties.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut names: Vec<String> = Vec::new();
        for name in self.clusters.iter().map(|c| c.trim()) {
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        if names.is_empty() {
            return Err(ConfigError::Invalid {
                flag: "clusters",
                value: self.clusters.join(","),
                problem: "name at least one cluster",
            });
        }
        let platform = self.platform.platform().map_err(KafkaConfigError::from)?;
        let mut clusters = Vec::new();
        for name in names {
            let props = self
                .platform
                .kafka_props_in(platform.as_ref(), &name, &self.principal)?;
            clusters.push((name, props));
        }
        Ok(Config {
            principal: self.principal,
            clusters,
            interval: seconds("interval", self.interval)?,
            timeout: seconds("timeout", self.timeout)?,
            exclude_groups: self
                .exclude_groups
                .iter()
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            metrics_addr: self.metrics_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(extra: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec![
            "lag-exporter",
            "--platform",
            "/nonexistent/platform.json",
            "-X",
            "bootstrap.servers=127.0.0.1:1",
        ];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).expect("flags").into_config()
    }

    #[test]
    fn clusters_are_deduplicated_in_order() {
        let config = parse(&["--clusters", "analytics,prod,analytics"]).unwrap();
        let names: Vec<&str> = config.clusters.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["analytics", "prod"]);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let err = parse(&["--clusters", " , "]).unwrap_err().to_string();
        assert!(err.contains("--clusters"), "{err}");
        let err = parse(&["--interval", "0"]).unwrap_err().to_string();
        assert!(err.contains("--interval"), "{err}");
    }
}
