//! Ban filter: `products` + `product-bans` → `products-filtered` (allowed products, keyed by
//! product_id; tombstones delist) and `products-dlq` (undecodable records).
//!
//! Guarantee: at-least-once with idempotent keyed output. Offsets of `products` are committed
//! only after every output of the batch is acknowledged (acks=all); a crash replays the batch,
//! which rewrites the same keys with the same bytes. Bans are never committed: they are re-read
//! from the beginning at every start, before any product (see `bootstrap`), and re-synced to
//! the bans topic's high watermark before every batch (see `Engine::sync_bans`).
//!
//! Scales out: instances in one consumer group share the products partitions. Each reads the
//! whole ban list (a global table) and keeps the product state of the partitions it owns; it
//! writes every product to the same partition of the filtered topic as its products record, so
//! a partition's state is rebuilt from that partition of both topics when it changes hands
//! (`bootstrap::take_over`), and a ban delists, on every instance, the products it owns.

mod assignment;
mod bootstrap;
mod engine;
pub mod metrics;
mod output;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vygoda_common::access::{Access, Operation};
use vygoda_common::exit;
use vygoda_common::kafka::{client_config, PlatformArgs};

use crate::kafka_io::{self, KafkaIoError};
use assignment::GroupContext;
use engine::{Engine, EngineParts};
use metrics::Metrics;
use output::Output;
use vygoda_avro::registry::{Registry, RegistryArgs, RegistryConfig, RegistryError};
use vygoda_avro::schemas;
use vygoda_avro::wire::{Decoder, Encoder};

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Metrics(#[from] vygoda_common::metrics::MetricsError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error("Kafka consumer: {0}")]
    Consumer(rdkafka::error::KafkaError),
    #[error("writing to {topic} failed: {error}; offsets not committed, the batch is replayed on restart")]
    Produce { topic: String, error: String },
    #[error("cancelled")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}

impl FilterError {
    pub fn exit_code(&self) -> i32 {
        match self {
            FilterError::Usage(_) => exit::USAGE,
            FilterError::Cancelled => exit::OK,
            _ => exit::FAILED,
        }
    }
}

/// Ban filter service.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ban-filter", version)]
pub struct Args {
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Kafka cluster to run on.
    #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
    pub cluster: String,
    /// Kafka principal to authenticate as.
    #[arg(long, env = "VYGODA_PRINCIPAL", default_value = "ban-filter")]
    pub principal: String,
    /// Input topic of shops' products.
    #[arg(long, env = "VYGODA_PRODUCTS_TOPIC", default_value = "products")]
    pub products_topic: String,
    /// Ban-list topic (compacted).
    #[arg(long, env = "VYGODA_BANS_TOPIC", default_value = "product-bans")]
    pub bans_topic: String,
    /// Output topic of allowed products (compacted); schema subject `<topic>-value`.
    #[arg(
        long,
        env = "VYGODA_FILTERED_TOPIC",
        default_value = "products-filtered"
    )]
    pub filtered_topic: String,
    /// Dead-letter topic for undecodable records.
    #[arg(long, env = "VYGODA_DLQ_TOPIC", default_value = "products-dlq")]
    pub dlq_topic: String,
    /// Consumer group of the products topic.
    #[arg(long, env = "VYGODA_GROUP", default_value = "ban-filter")]
    pub group: String,
    /// Address of the /metrics endpoint.
    #[arg(long, env = "VYGODA_METRICS_ADDR", default_value = "127.0.0.1:9101")]
    pub metrics_addr: SocketAddr,
    /// Most records processed (and committed) as one batch.
    #[arg(long, env = "VYGODA_MAX_BATCH", default_value_t = 1000)]
    pub max_batch: usize,
    /// At start-up, replay `products` up to the committed offsets to recover held-back versions.
    #[arg(long, env = "VYGODA_REPLAY_PRODUCTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub replay_products: bool,
    /// Give up start-up reads and ban syncs after this many seconds without progress.
    #[arg(long, env = "VYGODA_BOOTSTRAP_TIMEOUT_SECS", default_value_t = 60)]
    pub bootstrap_timeout_secs: u64,
    /// Static group membership id (KIP-345): a restarted filter takes its partitions back at
    /// once instead of after a rebalance, and a second instance with the same id is fenced.
    /// Give each instance of a scaled-out group its own (ban-filter-0, ban-filter-1, …).
    /// Empty = dynamic membership.
    #[arg(long, env = "VYGODA_INSTANCE_ID", default_value = "ban-filter-0")]
    pub instance_id: String,
    /// librdkafka statistics interval feeding the consumer-lag metric, in milliseconds.
    #[arg(long, env = "VYGODA_STATS_INTERVAL_MS", default_value_t = 5000)]
    pub stats_interval_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub kafka: BTreeMap<String, String>,
    pub cluster: String,
    pub principal: String,
    pub products_topic: String,
    pub bans_topic: String,
    pub filtered_topic: String,
    pub dlq_topic: String,
    pub group: String,
    pub registry: RegistryConfig,
    pub metrics_addr: SocketAddr,
    pub max_batch: usize,
    pub replay_products: bool,
    pub bootstrap_timeout: Duration,
    pub stats_interval_ms: u64,
    pub instance_id: String,
}

impl Args {
    pub fn into_config(self) -> Result<Config, FilterError> {
        let usage = |e: &dyn std::fmt::Display| FilterError::Usage(e.to_string());
        let (kafka, registry) = self
            .registry
            .connect_as(&self.platform, &self.cluster, &self.principal)
            .map_err(|e| usage(&e))?;
        let topics = [
            &self.products_topic,
            &self.bans_topic,
            &self.filtered_topic,
            &self.dlq_topic,
        ];
        if topics.iter().any(|t| t.trim().is_empty()) || self.group.trim().is_empty() {
            return Err(FilterError::Usage(
                "topic and group names must not be empty".into(),
            ));
        }
        if self.filtered_topic == self.products_topic {
            return Err(FilterError::Usage(
                "--filtered-topic must differ from --products-topic".into(),
            ));
        }
        Ok(Config {
            kafka,
            cluster: self.cluster,
            principal: self.principal,
            products_topic: self.products_topic,
            bans_topic: self.bans_topic,
            filtered_topic: self.filtered_topic,
            dlq_topic: self.dlq_topic,
            group: self.group,
            registry,
            metrics_addr: self.metrics_addr,
            max_batch: self.max_batch.max(1),
            replay_products: self.replay_products,
            bootstrap_timeout: Duration::from_secs(self.bootstrap_timeout_secs.max(1)),
            stats_interval_ms: self.stats_interval_ms,
            instance_id: self.instance_id,
        })
    }
}

/// What the ban filter does on Kafka (checked against kafka/acls.toml).
pub fn declared_access(c: &Config) -> Vec<Access> {
    use Operation::{Describe, Read, Write};
    let p = c.principal.as_str();
    let mut out = Access::topic(p, &c.cluster, &c.products_topic, &[Read, Describe]);
    out.extend(Access::topic(
        p,
        &c.cluster,
        &c.bans_topic,
        &[Read, Describe],
    ));
    out.extend(Access::topic(
        p,
        &c.cluster,
        &c.filtered_topic,
        &[Read, Write, Describe],
    ));
    out.extend(Access::topic(
        p,
        &c.cluster,
        &c.dlq_topic,
        &[Write, Describe],
    ));
    out.extend(Access::group(p, &c.cluster, &c.group));
    out
}

fn commit(
    consumer: &StreamConsumer<GroupContext>,
    topic: &str,
    offsets: &BTreeMap<i32, i64>,
    mode: CommitMode,
) {
    if offsets.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for (&p, &next) in offsets {
        if let Err(e) = tpl.add_partition_offset(topic, p, Offset::Offset(next)) {
            tracing::warn!(partition = p, error = %e, "cannot build commit");
        }
    }
    // A failed commit only means a replay after restart (at-least-once), never a loss.
    if let Err(e) = consumer.commit(&tpl, mode) {
        tracing::warn!(error = %e, "offset commit failed; the batch will be replayed after a restart");
    }
}

/// The ban filter's spine, from start to graceful shutdown.
pub async fn run(config: Config, stop: CancellationToken) -> Result<(), FilterError> {
    // 1. Metrics first, so a start-up that hangs is visible.
    let metrics = Metrics::default();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    metrics.preset(&[&config.products_topic, &config.bans_topic]);
    vygoda_common::metrics::serve(config.metrics_addr, registry, stop.clone()).await?;

    // 2. Schemas: our output subject is registered; writers of the inputs are fetched by id.
    let sr = Arc::new(Registry::new(config.registry.clone())?);
    let filtered = Encoder::register(
        &sr,
        &schemas::value_subject(&config.filtered_topic),
        schemas::PRODUCTS_FILTERED,
        schemas::products_filtered(),
    )
    .await?;

    // 3. Clients. The products consumer joins the group only after the state is rebuilt.
    let timeout = config.bootstrap_timeout;
    let producer = kafka_io::producer(&config.kafka, &[("linger.ms", "2")])?;
    let ban_parts =
        kafka_io::preflight_partitions(config.kafka.clone(), config.bans_topic.clone(), timeout)
            .await?;
    let mut counts = Vec::new();
    for topic in [
        &config.products_topic,
        &config.filtered_topic,
        &config.dlq_topic,
    ] {
        counts.push(kafka_io::preflight(config.kafka.clone(), topic.clone(), timeout).await?);
    }
    if counts[0] != counts[1] {
        return Err(FilterError::Usage(format!(
            "{} has {} partitions and {} has {}: the filter writes each product to the partition \
             it came from, so give both topics the same number",
            config.products_topic, counts[0], config.filtered_topic, counts[1]
        )));
    }
    let bans: Arc<StreamConsumer> =
        Arc::new(kafka_io::stream_reader(&config.kafka, &config.group)?);
    let mut tpl = TopicPartitionList::new();
    for p in &ban_parts {
        tpl.add_partition_offset(&config.bans_topic, *p, Offset::Beginning)
            .map_err(FilterError::Consumer)?;
    }
    bans.assign(&tpl).map_err(FilterError::Consumer)?;
    let stats = config.stats_interval_ms.to_string();
    let mut settings = vec![
        ("group.id", config.group.as_str()),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("auto.offset.reset", "earliest"),
        ("statistics.interval.ms", stats.as_str()),
        // A rebalance moves only the partitions it must; the others keep their state.
        ("partition.assignment.strategy", "cooperative-sticky"),
    ];
    if !config.instance_id.is_empty() {
        settings.push(("group.instance.id", config.instance_id.as_str()));
    }
    let group: Arc<StreamConsumer<GroupContext>> = Arc::new(
        client_config(&config.kafka, &settings)
            .create_with_context(GroupContext::new(metrics.clone()))
            .map_err(|e| FilterError::Kafka(KafkaIoError::Client(e)))?,
    );
    let mut engine = Engine::new(EngineParts {
        output: Output::new(
            producer,
            config.filtered_topic.clone(),
            config.dlq_topic.clone(),
        ),
        metrics: metrics.clone(),
        products: Decoder::new(sr.clone(), schemas::products()),
        bans_decoder: Decoder::new(sr.clone(), schemas::product_bans()),
        stored: Decoder::new(sr.clone(), schemas::products_filtered()),
        filtered,
        stop: stop.clone(),
        bans_topic: config.bans_topic.clone(),
        ban_partitions: ban_parts,
        watermarks: Arc::new(kafka_io::reader(&config.kafka, "")?),
        timeout,
    });

    // 4. The whole ban list, before any product.
    match bootstrap::load_bans(&mut engine, &bans).await {
        Err(FilterError::Cancelled) => return Ok(()),
        other => other?,
    }

    // 5. Join the group and consume: bans as they come, products in batches (partitions
    //    assigned since the last batch taken over, bans synced, outputs acknowledged, then
    //    offsets committed).
    group
        .subscribe(&[config.products_topic.as_str()])
        .map_err(FilterError::Consumer)?;
    tracing::info!(products = %config.products_topic, filtered = %config.filtered_topic, group = %config.group, "filtering");
    let result = consume(&mut engine, &config, &bans, &group, &stop).await;

    // 6. Shutdown: nothing in flight is left unacknowledged; the last offsets are committed.
    engine.output.close(Duration::from_secs(10));
    match result {
        Ok(()) | Err(FilterError::Cancelled) => {
            tracing::info!("ban filter stopped");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Apply the rebalances since the last call: forget revoked partitions' products, take the
/// newly assigned ones over. Called only between batches.
async fn follow_assignment(
    engine: &mut Engine,
    config: &Config,
    group: &Arc<StreamConsumer<GroupContext>>,
    owned: &mut BTreeSet<i32>,
) -> Result<(), FilterError> {
    let changes = group.context().take();
    if changes.is_empty() {
        return Ok(());
    }
    let released = engine.release(&changes.revoked);
    owned.retain(|p| !changes.revoked.contains(p));
    if !changes.revoked.is_empty() {
        tracing::info!(partitions = ?changes.revoked, products = released, "partitions released");
    }
    if !changes.assigned.is_empty() {
        bootstrap::take_over(engine, config, group, &changes.assigned).await?;
        owned.extend(&changes.assigned);
    }
    engine.metrics.partitions_owned.set(owned.len() as i64);
    engine.update_gauges();
    Ok(())
}

async fn consume(
    engine: &mut Engine,
    config: &Config,
    bans: &Arc<StreamConsumer>,
    group: &Arc<StreamConsumer<GroupContext>>,
    stop: &CancellationToken,
) -> Result<(), FilterError> {
    let mut owned = BTreeSet::new();
    // Partitions assigned while no record arrives are taken over too: their reconciliation
    // (a ban added while the filter was down, a lost relisting) must not wait for traffic.
    let mut idle = tokio::time::interval(Duration::from_millis(250));
    idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            ban = bans.recv() => match ban {
                Ok(msg) => {
                    let msg = msg.detach();
                    // A ban acts on the products of the partitions owned now, never on ones
                    // another instance has taken.
                    follow_assignment(engine, config, group, &mut owned).await?;
                    engine.handle_ban(&msg, true).await?;
                    engine.output.flush().await?;
                    engine.update_gauges();
                }
                Err(e) => tracing::warn!(error = %e, "reading bans"),
            },
            first = group.recv() => {
                let first = match first {
                    Ok(m) => m.detach(),
                    Err(e) => {
                        // Fenced by another instance with our id, or another fatal state.
                        if let Some((code, reason)) = group.client().fatal_error() {
                            return Err(FilterError::Internal(format!("consumer fatal error {code:?}: {reason}")));
                        }
                        tracing::warn!(error = %e, "reading products");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let mut batch = vec![first];
                while batch.len() < config.max_batch {
                    match tokio::time::timeout(Duration::ZERO, group.recv()).await {
                        Ok(Ok(m)) => batch.push(m.detach()),
                        _ => break,
                    }
                }
                let started = std::time::Instant::now();
                follow_assignment(engine, config, group, &mut owned).await?;
                // Records of a partition revoked in the meantime are its new owner's to process.
                batch.retain(|m| owned.contains(&m.partition()));
                engine.sync_bans(bans, true).await?;
                let mut offsets = BTreeMap::new();
                for msg in &batch {
                    engine.handle_product(msg).await?;
                    offsets.insert(msg.partition(), msg.offset() + 1);
                }
                engine.output.flush().await?;
                engine.metrics.batch_done(batch.iter().map(|m| m.timestamp().to_millis()), started);
                commit(group, &config.products_topic, &offsets, CommitMode::Async);
                engine.update_gauges();
            }
            _ = idle.tick() => follow_assignment(engine, config, group, &mut owned).await?,
        }
    }
    // Everything processed was flushed and committed per batch; make the last commit durable.
    if let Ok(positions) = group.position() {
        let offsets: BTreeMap<i32, i64> = positions
            .elements_for_topic(&config.products_topic)
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect();
        commit(group, &config.products_topic, &offsets, CommitMode::Sync);
    }
    Ok(())
}
