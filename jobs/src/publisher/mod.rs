//! The recommendations publisher: one successful run's output → one Avro record per user on the
//! `recommendations` topic (Confluent wire format, keyed by user_id, acks=all, idempotent).
//!
//! Idempotent per run: every byte of a record derives from the run's files (see [`source`]) and
//! the schema id, so publishing a run again writes the same key and value bytes; a reader of the
//! compacted topic sees the same state whether a run was published once or five times.

pub mod avro;
pub mod source;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use tokio_util::sync::CancellationToken;
use vygoda_common::access::{Access, Operation};
use vygoda_common::exit;
use vygoda_common::kafka::PlatformArgs;

use source::SourceError;
use vygoda_avro::registry::{Registry, RegistryArgs, RegistryConfig, RegistryError};

/// `publisher` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "publisher",
    version,
    about = "Publish a recommendations run to Kafka"
)]
pub struct Args {
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub push: vygoda_common::push::PushArgs,
    /// Output directory of the run (file:// or hdfs:// URL), holding Parquet and _SUCCESS.
    #[arg(long, env = "VYGODA_PUBLISHER_RUN_DIR", default_value = "")]
    pub run_dir: String,
    /// Expected run id; refuses a directory of another run. Empty: take it from _SUCCESS.
    #[arg(long, env = "VYGODA_PUBLISHER_RUN_ID", default_value = "")]
    pub run_id: String,
    /// Kafka cluster to publish to.
    #[arg(long, env = "VYGODA_PUBLISHER_CLUSTER", default_value = "prod")]
    pub cluster: String,
    /// Principal to authenticate as (Kafka and registry).
    #[arg(long, env = "VYGODA_PUBLISHER_PRINCIPAL", default_value = "publisher")]
    pub principal: String,
    /// Topic to write.
    #[arg(
        long,
        env = "VYGODA_PUBLISHER_TOPIC",
        default_value = "recommendations"
    )]
    pub topic: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// How long one record may take to be acknowledged by all in-sync replicas.
    #[arg(long, env = "VYGODA_PUBLISHER_DELIVERY_TIMEOUT", default_value = "60s")]
    pub delivery_timeout: String,
}

/// Validated publisher settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Pushgateway for the run's outcome ([`vygoda_common::push`]); None: no push.
    pub push_to: Option<String>,
    pub kafka: BTreeMap<String, String>,
    pub cluster: String,
    pub principal: String,
    pub topic: String,
    pub run_dir: String,
    pub run_id: Option<String>,
    pub registry: RegistryConfig,
    pub delivery_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cannot create the Kafka producer: {0}")]
    Producer(rdkafka::error::KafkaError),
    #[error("{failed} of {total} records were not acknowledged by {topic} (first: {first}); rerun: publishing is idempotent")]
    Delivery {
        topic: String,
        failed: usize,
        total: usize,
        first: String,
    },
}

impl PublishError {
    pub fn exit_code(&self) -> i32 {
        match self {
            PublishError::Usage(_) => exit::USAGE,
            PublishError::Source(SourceError::Storage(_)) => exit::UNAVAILABLE,
            PublishError::Source(_) => exit::FAILED,
            PublishError::Registry(e) if e.is_transient() => exit::UNAVAILABLE,
            PublishError::Registry(_) => exit::FAILED,
            PublishError::Producer(_) | PublishError::Delivery { .. } => exit::UNAVAILABLE,
        }
    }
}

impl Config {
    pub fn from_args(args: &Args) -> Result<Self, PublishError> {
        let usage = |e: &dyn std::fmt::Display| PublishError::Usage(e.to_string());
        if args.run_dir.trim().is_empty() {
            return Err(PublishError::Usage(
                "--run-dir is required (the run's output directory)".into(),
            ));
        }
        let platform = args.platform.platform().map_err(|e| usage(&e))?;
        let kafka = args
            .platform
            .kafka_props(&args.cluster, &args.principal)
            .map_err(|e| usage(&e))?;
        let registry = args
            .registry
            .resolve(platform.as_ref(), &args.principal)
            .map_err(|e| usage(&e))?;
        Ok(Config {
            push_to: args.push.resolve(platform.as_ref()),
            kafka,
            cluster: args.cluster.clone(),
            principal: args.principal.clone(),
            topic: args.topic.clone(),
            run_dir: args.run_dir.trim().to_owned(),
            run_id: Some(args.run_id.clone()).filter(|s| !s.is_empty()),
            registry,
            delivery_timeout: crate::config::parse_duration(&args.delivery_timeout)
                .map_err(PublishError::Usage)?,
        })
    }

    /// Subject of the value schema (TopicNameStrategy).
    pub fn subject(&self) -> String {
        format!("{}-value", self.topic)
    }
}

/// What the publisher does on Kafka, for the ACL check against kafka/acls.toml.
pub fn declared_access(cfg: &Config) -> Vec<Access> {
    Access::topic(
        &cfg.principal,
        &cfg.cluster,
        &cfg.topic,
        &[Operation::Write, Operation::Describe],
    )
}

/// Outcome of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub run_id: String,
    pub published: usize,
    pub rejected: usize,
    pub cancelled: bool,
}

impl Report {
    pub fn exit_code(&self) -> i32 {
        if self.cancelled {
            exit::CANCELLED
        } else if self.rejected > 0 {
            exit::PARTIAL
        } else {
            exit::OK
        }
    }
}

/// The publisher's spine: read the run, resolve the schema id, produce, wait for every ack.
pub async fn run(cfg: &Config, stop: CancellationToken) -> Result<Report, PublishError> {
    // 1. The run's output: refuses runs without the job's _SUCCESS marker.
    let batch = source::load(&cfg.run_dir, cfg.run_id.as_deref()).await?;
    for r in batch.rejected.iter().take(20) {
        tracing::warn!(rejected = r.as_str(), "row not published");
    }
    tracing::info!(
        run_id = batch.run_id,
        users = batch.records.len(),
        rejected = batch.rejected.len(),
        "run loaded"
    );
    // 2. Schema id: the same schema text always gets the same id.
    // Registering an already registered schema returns its id, so one call both looks up and
    // (first time) registers; the same text always maps to the same id, which keeps the wire
    // bytes of a re-published run identical.
    let schema_id = Registry::new(cfg.registry.clone())?
        .register_with_retry(&cfg.subject(), avro::SCHEMA, 3)
        .await?;
    // 3. Produce. acks=all + idempotence: librdkafka's retries cannot duplicate or reorder.
    let producer: FutureProducer = vygoda_common::kafka::client_config(
        &cfg.kafka,
        &[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "20"),
            ("compression.type", "zstd"),
        ],
    )
    .create()
    .map_err(PublishError::Producer)?;
    let timeout = Timeout::After(cfg.delivery_timeout);
    let total = batch.records.len();
    let results: Vec<Result<(), String>> = futures::stream::iter(batch.records.iter())
        .take_until(stop.cancelled())
        .map(|rec| {
            let producer = &producer;
            let topic = cfg.topic.as_str();
            async move {
                let value = vygoda_avro::wire::frame(schema_id, &avro::encode(rec));
                let record = FutureRecord::to(topic)
                    .key(rec.user_id.as_str())
                    .payload(&value);
                producer
                    .send(record, timeout)
                    .await
                    .map(|_| ())
                    .map_err(|(e, _)| format!("user {}: {e}", rec.user_id))
            }
        })
        .buffer_unordered(1024)
        .collect()
        .await;
    // 4. Whatever was handed to librdkafka is flushed, cancelled or not.
    let _ = producer.flush(Timeout::After(cfg.delivery_timeout));
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(first) = failed.first() {
        return Err(PublishError::Delivery {
            topic: cfg.topic.clone(),
            failed: failed.len(),
            total,
            first: (*first).clone(),
        });
    }
    let report = Report {
        run_id: batch.run_id,
        published: results.len(),
        rejected: batch.rejected.len(),
        cancelled: results.len() < total,
    };
    tracing::info!(
        run_id = report.run_id,
        topic = cfg.topic,
        published = report.published,
        schema_id,
        "run published"
    );
    Ok(report)
}
