//! The store sink: products-filtered and recommendations into PostgreSQL, exactly once.
//!
//! Guarantee: every record is applied to the store exactly once, in offset order per partition.
//! Each batch's row changes and the next offsets go to PostgreSQL in one transaction
//! ([`crate::store::apply`]); at start the consumer is assigned those offsets. A crash before
//! the commit loses the uncommitted batch's effects together with its offsets, so the batch is
//! read and applied again; a crash after it finds both. Kafka's committed group offsets are
//! written after the transaction, for lag monitoring only, and never read back.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry as Metrics;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vygoda_avro::registry::{Registry, RegistryConfig, RegistryError};
use vygoda_avro::schemas;
use vygoda_avro::wire::{Decoder, WireError};
use vygoda_ingest::kafka_io::{self, KafkaIoError};

use crate::decode::{change, Feed};
use crate::store::{apply, Change, Positioned, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error("Kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Metrics(#[from] vygoda_common::metrics::MetricsError),
}

impl SinkError {
    pub fn exit_code(&self) -> i32 {
        use vygoda_common::exit;
        match self {
            SinkError::Store(e) if e.is_unavailable() => exit::UNAVAILABLE,
            SinkError::Kafka(_) | SinkError::Registry(_) => exit::UNAVAILABLE,
            SinkError::Metrics(_) => exit::USAGE,
            _ => exit::FAILED,
        }
    }
}

/// Validated settings of the sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub kafka: BTreeMap<String, String>,
    pub cluster: String,
    pub principal: String,
    pub registry: RegistryConfig,
    pub store_url: String,
    pub products_topic: String,
    pub recommendations_topic: String,
    pub group: String,
    pub max_batch: usize,
    pub metrics_addr: SocketAddr,
    pub timeout: Duration,
}

/// `store-sink`: keep the store equal to products-filtered and recommendations.
#[derive(Debug, clap::Parser)]
#[command(name = "store-sink", version)]
pub struct Args {
    #[command(flatten)]
    pub platform: vygoda_common::kafka::PlatformArgs,
    #[command(flatten)]
    pub registry: vygoda_avro::registry::RegistryArgs,
    /// PostgreSQL URL of the store; empty = `store_url` of the platform file.
    #[arg(long, env = "VYGODA_STORE_URL", default_value = "")]
    pub store_url: String,
    /// Kafka cluster to read.
    #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
    pub cluster: String,
    /// Principal for Kafka and the registry.
    #[arg(long, env = "VYGODA_PRINCIPAL", default_value = "store-sink")]
    pub principal: String,
    /// Listed products (a tombstone delists).
    #[arg(
        long,
        env = "VYGODA_PRODUCTS_TOPIC",
        default_value = "products-filtered"
    )]
    pub products_topic: String,
    /// Published recommendations, one record per user.
    #[arg(
        long,
        env = "VYGODA_RECOMMENDATIONS_TOPIC",
        default_value = "recommendations"
    )]
    pub recommendations_topic: String,
    /// Consumer group: offsets are committed there for lag monitoring only (the store keeps
    /// the real ones).
    #[arg(long, env = "VYGODA_GROUP", default_value = "store-sink")]
    pub group: String,
    /// Records per store transaction at most.
    #[arg(long, env = "VYGODA_MAX_BATCH", default_value_t = 1000)]
    pub max_batch: usize,
    /// Where /metrics is served.
    #[arg(long, env = "VYGODA_METRICS_ADDR", default_value = "127.0.0.1:9106")]
    pub metrics_addr: SocketAddr,
    /// How long to wait for the brokers and the store at start (seconds).
    #[arg(long, env = "VYGODA_TIMEOUT_SECS", default_value_t = 30)]
    pub timeout_secs: u64,
}

impl Args {
    /// Validate into a [`SinkConfig`]; the error names the flag to fix.
    pub fn into_config(self) -> Result<SinkConfig, String> {
        let (kafka, registry) =
            self.registry
                .connect_as(&self.platform, &self.cluster, &self.principal)?;
        let platform = self.platform.platform().map_err(|e| e.to_string())?;
        let store_url = Some(self.store_url.trim().to_owned())
            .filter(|u| !u.is_empty())
            .or_else(|| platform.and_then(|p| p.store_url))
            .ok_or("no --store-url and no store_url in the platform file; run `make up`")?;
        if self.products_topic.is_empty() || self.recommendations_topic.is_empty() {
            return Err("--products-topic and --recommendations-topic must not be empty".into());
        }
        Ok(SinkConfig {
            kafka,
            cluster: self.cluster,
            principal: self.principal,
            registry,
            store_url,
            products_topic: self.products_topic,
            recommendations_topic: self.recommendations_topic,
            group: self.group,
            max_batch: self.max_batch.clamp(1, 100_000),
            metrics_addr: self.metrics_addr,
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
        })
    }
}

/// What the sink does on Kafka, checked against kafka/acls.toml by the ACL tests.
pub fn declared_access(c: &SinkConfig) -> Vec<vygoda_common::access::Access> {
    use vygoda_common::access::{Access, Operation};
    let mut out = Vec::new();
    for topic in [&c.products_topic, &c.recommendations_topic] {
        out.extend(Access::topic(
            &c.principal,
            &c.cluster,
            topic,
            &[Operation::Read, Operation::Describe],
        ));
    }
    // Read: the monitoring-only commit of the group's offsets.
    out.extend(Access::group(&c.principal, &c.cluster, &c.group));
    out
}

type Labels = Vec<(String, String)>;

/// The sink's metrics (`vygoda_store_sink_*`).
#[derive(Debug, Clone)]
struct SinkMetrics {
    applied: Family<Labels, Counter>,
    rejected: Family<Labels, Counter>,
    batch_seconds: Histogram,
    delay: Family<Labels, Histogram, fn() -> Histogram>,
}

impl SinkMetrics {
    fn register(registry: &mut Metrics, topics: &[&str]) -> SinkMetrics {
        let m = SinkMetrics {
            applied: Family::default(),
            rejected: Family::default(),
            batch_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            delay: Family::new_with_constructor(vygoda_common::metrics::delay_histogram),
        };
        let r = registry.sub_registry_with_prefix("vygoda_store_sink");
        r.register(
            "applied",
            "Records applied to the store, by topic and change (put, delete)",
            m.applied.clone(),
        );
        r.register(
            "rejected",
            "Records that could not be applied (kept in sink_rejects), by topic",
            m.rejected.clone(),
        );
        r.register(
            "batch_seconds",
            "One batch: decode and the PostgreSQL transaction",
            m.batch_seconds.clone(),
        );
        r.register(
            "delay_seconds",
            "Record timestamp to its change committed in the store, by topic",
            m.delay.clone(),
        );
        for topic in topics {
            let t = |k: &str| {
                vec![
                    ("topic".into(), topic.to_string()),
                    ("change".into(), k.into()),
                ]
            };
            for kind in ["put", "delete"] {
                let _ = m.applied.get_or_create(&t(kind));
            }
            let _ = m
                .rejected
                .get_or_create(&vec![("topic".into(), topic.to_string())]);
            let _ = m
                .delay
                .get_or_create(&vec![("topic".into(), topic.to_string())]);
        }
        m
    }
}

/// The sink's spine, from start to graceful shutdown.
pub async fn run(config: SinkConfig, stop: CancellationToken) -> Result<(), SinkError> {
    // 1. Metrics first, so a start that hangs is visible.
    let topics = [
        config.products_topic.as_str(),
        config.recommendations_topic.as_str(),
    ];
    let mut registry = Metrics::default();
    let metrics = SinkMetrics::register(&mut registry, &topics);
    vygoda_common::metrics::serve(config.metrics_addr, registry, stop.clone()).await?;

    // 2. The store (schema applied) and where each partition resumes.
    let store = Store::connect(&config.store_url, config.timeout).await?;
    let sr = Arc::new(Registry::new(config.registry.clone())?);
    let decoders = [
        (
            config.products_topic.clone(),
            Feed::Products,
            Decoder::new(sr.clone(), schemas::products_filtered()),
        ),
        (
            config.recommendations_topic.clone(),
            Feed::Recommendations,
            Decoder::new(sr.clone(), schemas::recommendations()),
        ),
    ];

    // 3. Assign every partition at the store's offset (the beginning when it has none).
    // A stored offset the topic no longer has (the topic was recreated) means the store must be
    // rebuilt from what the topic holds now: start over, never skip to the end. Set over -X.
    let mut props = config.kafka.clone();
    props.insert("auto.offset.reset".into(), "earliest".into());
    let consumer = kafka_io::stream_reader(&props, &config.group)?;
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let stored: BTreeMap<i32, i64> = store.offsets(topic).await?.into_iter().collect();
        let partitions =
            kafka_io::preflight_partitions(config.kafka.clone(), topic.to_owned(), config.timeout)
                .await?;
        for p in partitions {
            let at = stored
                .get(&p)
                .map_or(Offset::Beginning, |&o| Offset::Offset(o));
            tpl.add_partition_offset(topic, p, at)?;
        }
    }
    consumer.assign(&tpl)?;
    tracing::info!(partitions = tpl.count(), "store sink consuming");

    // 4. Batches until stopped: each one applied in one transaction with its offsets.
    loop {
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            m = consumer.recv() => m,
        };
        let first = match first {
            Ok(m) => m,
            Err(error) => {
                tracing::warn!(%error, "reading the topics; librdkafka retries");
                continue;
            }
        };
        let started = Instant::now();
        let mut batch = vec![first];
        while batch.len() < config.max_batch {
            match tokio::time::timeout(Duration::ZERO, consumer.recv()).await {
                Ok(Ok(m)) => batch.push(m),
                _ => break,
            }
        }
        let changes = loop {
            match decode_batch(&batch, &decoders).await {
                Ok(changes) => break changes,
                // The registry is down: retry the same batch, skipping nothing.
                Err(error) => {
                    tracing::warn!(%error, "registry unreachable; retrying the batch");
                    tokio::select! {
                        _ = stop.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        apply(&store, &changes).await?;
        observe(&metrics, &batch, &changes, started);
        commit_for_monitoring(&consumer, &changes);
    }
    // 5. Every applied batch is committed with its offsets: nothing to flush.
    tracing::info!("store sink stopped");
    Ok(())
}

async fn decode_batch(
    batch: &[BorrowedMessage<'_>],
    decoders: &[(String, Feed, Decoder)],
) -> Result<Vec<Positioned>, WireError> {
    let mut out = Vec::with_capacity(batch.len());
    for m in batch {
        let Some((_, feed, decoder)) = decoders.iter().find(|(t, _, _)| t == m.topic()) else {
            continue;
        };
        let change = change(*feed, decoder, m.key(), m.payload()).await?;
        if let Change::Reject(error) = &change {
            tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), %error,
                "record rejected; kept in sink_rejects");
        }
        out.push(Positioned {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            change,
        });
    }
    Ok(out)
}

fn observe(
    metrics: &SinkMetrics,
    batch: &[BorrowedMessage<'_>],
    changes: &[Positioned],
    started: Instant,
) {
    let now = vygoda_common::metrics::now_ms();
    for (m, c) in batch.iter().zip(changes) {
        let topic = vec![("topic".to_owned(), c.topic.clone())];
        let kind = match c.change {
            Change::PutProduct(_) | Change::PutRecommendations(_) => "put",
            Change::DeleteProduct(_) | Change::DeleteRecommendations(_) => "delete",
            Change::Reject(_) => {
                metrics.rejected.get_or_create(&topic).inc();
                continue;
            }
        };
        let mut labels = topic.clone();
        labels.push(("change".to_owned(), kind.to_owned()));
        metrics.applied.get_or_create(&labels).inc();
        if let Some(ts) = m.timestamp().to_millis() {
            metrics
                .delay
                .get_or_create(&topic)
                .observe(vygoda_common::metrics::delay_seconds(ts, now));
        }
    }
    metrics
        .batch_seconds
        .observe(started.elapsed().as_secs_f64());
}

/// Tell the group how far the store is, so the lag exporter sees the sink's lag. Never read
/// back: a failed commit costs nothing but a stale lag figure.
fn commit_for_monitoring(consumer: &StreamConsumer, changes: &[Positioned]) {
    let mut tpl = TopicPartitionList::new();
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for c in changes {
        next.insert((&c.topic, c.partition), c.offset + 1);
    }
    for ((topic, partition), offset) in next {
        if tpl
            .add_partition_offset(topic, partition, Offset::Offset(offset))
            .is_err()
        {
            return;
        }
    }
    if let Err(error) = consumer.commit(&tpl, CommitMode::Async) {
        tracing::debug!(%error, "group commit (monitoring only) failed");
    }
}
