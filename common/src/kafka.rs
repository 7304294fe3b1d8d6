//! Kafka client configuration: platform file + principal + pass-through librdkafka properties.
//!
//! Every service takes the same two flags (`--platform`, `-X key=value`) plus its own
//! `--cluster`/`--principal` defaults, and resolves them here into one property map. Pass-through
//! properties are applied last so an operator can tune anything librdkafka offers without a
//! code change; in production, where no platform file exists, `-X` alone can carry everything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;

use crate::platform::{Platform, PlatformError, DEFAULT_PATH};

#[derive(Debug, thiserror::Error)]
pub enum KafkaConfigError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("kafka property `{0}` must be key=value (e.g. -X linger.ms=20)")]
    BadProperty(String),
}

/// Flags shared by every service that talks to Kafka.
#[derive(Debug, Clone, clap::Args)]
pub struct PlatformArgs {
    /// Platform description written by `make up` (bootstrap lists, credentials, URLs).
    #[arg(long = "platform", env = "VYGODA_PLATFORM", default_value = DEFAULT_PATH)]
    pub platform: PathBuf,

    /// Extra librdkafka property `key=value`, applied after the platform's (repeatable,
    /// or comma-separated in the environment variable).
    #[arg(
        short = 'X',
        long = "kafka-prop",
        env = "VYGODA_KAFKA_PROPS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub kafka_props: Vec<String>,
}

impl PlatformArgs {
    /// The platform file, if it exists. Production deployments may run without one.
    pub fn platform(&self) -> Result<Option<Platform>, PlatformError> {
        if self.platform.exists() {
            Platform::load(&self.platform).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The platform file, required.
    pub fn require_platform(&self) -> Result<Platform, PlatformError> {
        Platform::load(&self.platform)
    }

    /// Parsed pass-through properties.
    pub fn overrides(&self) -> Result<BTreeMap<String, String>, KafkaConfigError> {
        parse_props(&self.kafka_props)
    }

    /// Complete librdkafka properties for `principal` on `cluster`.
    pub fn kafka_props(
        &self,
        cluster: &str,
        principal: &str,
    ) -> Result<BTreeMap<String, String>, KafkaConfigError> {
        self.kafka_props_in(self.platform()?.as_ref(), cluster, principal)
    }

    /// As `kafka_props`, with the platform file already loaded (`None`: there is none).
    pub fn kafka_props_in(
        &self,
        platform: Option<&Platform>,
        cluster: &str,
        principal: &str,
    ) -> Result<BTreeMap<String, String>, KafkaConfigError> {
        let overrides = self.overrides()?;
        let mut props = match platform {
            Some(platform) => platform.kafka_props(cluster, principal)?,
            // Without a platform file the operator must say where the brokers are via -X.
            None if overrides.contains_key("bootstrap.servers") => BTreeMap::new(),
            None => {
                return Err(PlatformError::Read {
                    path: self.platform.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no platform file and no -X bootstrap.servers=…",
                    ),
                }
                .into())
            }
        };
        props.extend(overrides);
        Ok(props)
    }
}

/// Parse `key=value` strings; empty strings (the flag's default) are skipped.
pub fn parse_props(raw: &[String]) -> Result<BTreeMap<String, String>, KafkaConfigError> {
    raw.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(KafkaConfigError::BadProperty(s.clone())),
        })
        .collect()
}

/// Build an rdkafka config from a property map, adding `extra` (service-specific settings that
/// the operator's map may still override: `extra` goes first).
pub fn client_config(props: &BTreeMap<String, String>, extra: &[(&str, &str)]) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    for (k, v) in props {
        cfg.set(k, v);
    }
    cfg
}

/// Set the properties a delivery guarantee rests on, after the operator's pass-through map, so
/// `-X` cannot weaken them by accident. An override that tried is ignored with a warning naming
/// the property and `why` it is kept.
pub fn enforce(
    mut cfg: ClientConfig,
    given: &BTreeMap<String, String>,
    guarantees: &[(&str, &str)],
    why: &'static str,
) -> ClientConfig {
    for (key, value) in guarantees {
        if given.get(*key).is_some_and(|v| v != value) {
            tracing::warn!(property = key, kept = value, why, "ignoring a -X override");
        }
        cfg.set(*key, *value);
    }
    cfg
}

/// Answers that only mean "ask again shortly": leadership moving after a broker restart, a
/// broker not reachable yet, a request that timed out.
pub fn transient(error: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(
            C::NotLeaderForPartition
                | C::LeaderNotAvailable
                | C::BrokerTransportFailure
                | C::AllBrokersDown
                | C::RequestTimedOut
                | C::OperationTimedOut
                | C::NetworkException
        )
    )
}

/// Run a blocking metadata call (metadata, watermarks) until it succeeds, fails for good, or
/// `timeout` is spent, so a service starting or running while a cluster elects new leaders
/// waits for them instead of exiting.
pub fn retrying<T>(
    timeout: Duration,
    mut call: impl FnMut(Duration) -> Result<T, KafkaError>,
) -> Result<T, KafkaError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match call(left.max(Duration::from_millis(100))) {
            Err(e) if transient(&e) && left > Duration::from_millis(200) => {
                tracing::debug!(error = %e, "metadata not ready; asking again");
                // Backoff between attempts of a blocking call (not test synchronisation).
                std::thread::sleep(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarantees_win_over_the_pass_through_map_and_the_rest_is_kept() {
        let given = parse_props(&["acks=1".to_owned(), "linger.ms=50".to_owned()]).unwrap();
        let cfg = enforce(
            client_config(&given, &[("acks", "all")]),
            &given,
            &[("acks", "all"), ("enable.idempotence", "true")],
            "test",
        );
        assert_eq!(cfg.get("acks"), Some("all"));
        assert_eq!(cfg.get("enable.idempotence"), Some("true"));
        assert_eq!(cfg.get("linger.ms"), Some("50"));
    }

    #[test]
    fn parses_pass_through_properties() {
        let raw = vec![
            "linger.ms=20".to_owned(),
            String::new(),
            "a.b = c=d".to_owned(),
        ];
        let props = parse_props(&raw).unwrap();
        assert_eq!(props["linger.ms"], "20");
        assert_eq!(props["a.b"], "c=d");
        assert_eq!(props.len(), 2);
    }

    #[test]
    fn rejects_property_without_value() {
        let err = parse_props(&["linger.ms".to_owned()]).unwrap_err();
        assert!(err.to_string().contains("key=value"));
    }

    #[test]
    fn missing_platform_file_needs_bootstrap() {
        let args = PlatformArgs {
            platform: "/nonexistent/platform.json".into(),
            kafka_props: vec![],
        };
        assert!(args.kafka_props("prod", "shop-api").is_err());
        let args = PlatformArgs {
            platform: "/nonexistent/platform.json".into(),
            kafka_props: vec!["bootstrap.servers=h:9092".into()],
        };
        assert_eq!(
            args.kafka_props("prod", "shop-api").unwrap()["bootstrap.servers"],
            "h:9092"
        );
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;
    use rdkafka::types::RDKafkaErrorCode;

    #[test]
    fn leadership_moves_are_retried_and_a_missing_topic_is_not() {
        let moved = KafkaError::MetadataFetch(RDKafkaErrorCode::NotLeaderForPartition);
        assert!(transient(&moved));
        let missing = KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopicOrPartition);
        assert!(!transient(&missing));
        let mut calls = 0;
        let answer = retrying(Duration::from_secs(5), |_| {
            calls += 1;
            if calls < 3 {
                Err(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::NotLeaderForPartition,
                ))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(answer.unwrap(), 3);
        let gave_up = retrying(Duration::from_secs(5), |_| -> Result<(), _> {
            Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::UnknownTopicOrPartition,
            ))
        });
        assert!(gave_up.is_err());
    }
}
