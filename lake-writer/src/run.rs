//! The service spine: recover from the lake, assign partitions at the recovered offsets,
//! consume → engine, tick, and on SIGTERM commit everything buffered and exit 0.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vygoda_common::kafka::retrying;

use crate::config::Config;
use crate::engine::{Engine, EngineError, Progress, Record};
use crate::metrics::{CloseReason, Metrics, OpLabel};
use crate::schema_cache::SchemaError;
use vygoda_avro::registry::{Registry as SchemaRegistry, RegistryError};
use vygoda_storage::{AnyStorage, Retrying, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("lake storage {root}: {source}")]
    Storage { root: String, source: StorageError },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("schema registry: {0}")]
    Registry(RegistryError),
    #[error("kafka: {0}; check the brokers and --cluster/--principal")]
    Kafka(#[from] KafkaError),
    #[error("topic `{0}` does not exist on the cluster; create it or fix --topics")]
    MissingTopic(String),
    #[error(transparent)]
    Metrics(#[from] vygoda_common::metrics::MetricsError),
}

impl RunError {
    /// Exit code for the binary: a dependency that is down is UNAVAILABLE, a bug is FAILED.
    pub fn exit_code(&self) -> i32 {
        use vygoda_common::exit;
        match self {
            RunError::Storage { .. }
            | RunError::Kafka(_)
            | RunError::Registry(_)
            | RunError::Engine(EngineError::Storage(_) | EngineError::Registry(_)) => {
                exit::UNAVAILABLE
            }
            RunError::MissingTopic(_) | RunError::Metrics(_) => exit::USAGE,
            RunError::Engine(EngineError::File { .. }) => exit::FAILED,
        }
    }
}

/// Background news for the main loop.
enum Event {
    High(String, i32, i64),
    NewPartitions(Vec<(String, i32)>),
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Run until `stop` is cancelled (then commit what is buffered) or a fatal error.
pub async fn run(cfg: Config, stop: CancellationToken) -> Result<(), RunError> {
    // Metrics first, so a port clash fails fast.
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    vygoda_common::metrics::serve(cfg.metrics_addr, registry, stop.clone()).await?;

    // The lake, with retries that outlast an HDFS restart.
    let storage_err = |source| RunError::Storage {
        root: cfg.lake_root.clone(),
        source,
    };
    let retries = metrics.storage_retries.clone();
    let storage = Retrying::new(
        AnyStorage::open(&cfg.lake_root).map_err(storage_err)?,
        cfg.storage_retry_for,
    )
    .with_hook(Arc::new(move |op| {
        retries.get_or_create(&OpLabel { op: op.to_owned() }).inc();
    }));
    let source = SchemaRegistry::new(cfg.registry.clone()).map_err(RunError::Registry)?;
    let mut engine = Engine::new(storage, source, cfg.writer.clone(), metrics, stop.clone());

    // Recovery: the committed file names say where every partition resumes.
    let rec = engine.recover(&cfg.topics).await?;
    tracing::info!(
        lake = cfg.lake_root,
        committed_files = rec.committed_files,
        rolled_forward = rec.rolled_forward,
        deleted_temporaries = rec.deleted,
        "recovered from the lake"
    );

    // Every partition of the configured topics, at the lake's offsets (see design: assign,
    // not a group subscription; the group only receives progress for lag dashboards).
    let consumer: Arc<StreamConsumer> = Arc::new(
        vygoda_common::kafka::client_config(
            &cfg.kafka_props,
            &[
                ("group.id", cfg.group.as_str()),
                ("client.id", "lake-writer"),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                // Prefetch is outside the memory budget: keep it bounded and modest.
                ("queued.max.messages.kbytes", "32768"),
                ("fetch.max.bytes", "16777216"),
            ],
        )
        .create()?,
    );
    let partitions = list_partitions(&consumer, &cfg.topics).await?;
    let mut assigned: BTreeSet<(String, i32)> = BTreeSet::new();
    let resume = assign(&consumer, &mut engine, &mut assigned, partitions, false)?;
    // Backfill mode: the partitions still short of the high watermark they have now.
    let mut remaining = match cfg.until_caught_up {
        true => {
            let (targets, highs) = catch_up_targets(&consumer, resume).await?;
            // The watermark clock needs these too: without them a backfill never sees its
            // partitions caught up, and no hour it wrote would be marked complete.
            for ((topic, p), high) in highs {
                engine.set_high_watermark(&topic, p, high);
            }
            Some(targets)
        }
        false => None,
    };

    let (tx, mut rx) = mpsc::channel(1024);
    tokio::spawn(watch_partitions(
        consumer.clone(),
        cfg.topics.clone(),
        assigned.clone(),
        tx,
        stop.clone(),
    ));
    let mut tick = tokio::time::interval(cfg.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        if remaining.as_ref().is_some_and(BTreeMap::is_empty) {
            tracing::info!("caught up with the high watermarks seen at start");
            break;
        }
        let msg = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tick.tick() => {
                engine.tick(now_ms()).await?;
                commit_progress(&consumer, engine.take_progress(), CommitMode::Async);
                continue;
            }
            Some(event) = rx.recv() => {
                match event {
                    Event::High(t, p, high) => engine.set_high_watermark(&t, p, high),
                    Event::NewPartitions(new) => {
                        assign(&consumer, &mut engine, &mut assigned, new, true)?;
                    }
                }
                continue;
            }
            msg = consumer.recv() => msg,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(error) => {
                // librdkafka recovers from broker restarts by itself; report and go on.
                tracing::warn!(%error, "kafka consume error");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let rec = Record {
            topic: msg.topic(),
            partition: msg.partition(),
            offset: msg.offset(),
            timestamp_ms: msg.timestamp().to_millis(),
            key: msg.key(),
            value: msg.payload(),
        };
        if let Some(targets) = remaining.as_mut() {
            let key = (rec.topic.to_owned(), rec.partition);
            if targets.get(&key).is_some_and(|t| rec.offset + 1 >= *t) {
                targets.remove(&key);
            }
        }
        match engine.push(&rec, now_ms()).await {
            Ok(_) => {}
            // SIGTERM while waiting for the registry: this record is not taken; flush the rest.
            Err(EngineError::Registry(SchemaError::Cancelled)) => break,
            Err(e) => return Err(e.into()),
        }
        let progress = engine.take_progress();
        if !progress.is_empty() {
            commit_progress(&consumer, progress, CommitMode::Async);
        }
    }

    tracing::info!("stopping: committing buffered files");
    engine.flush_all(CloseReason::Shutdown, now_ms()).await?;
    commit_progress(&consumer, engine.take_progress(), CommitMode::Sync);
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn list_partitions(
    consumer: &Arc<StreamConsumer>,
    topics: &[String],
) -> Result<Vec<(String, i32)>, RunError> {
    let consumer = consumer.clone();
    let topics = topics.to_vec();
    let task = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for topic in &topics {
            let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(30))?;
            let t = md
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .filter(|t| t.error().is_none() && !t.partitions().is_empty())
                .ok_or_else(|| RunError::MissingTopic(topic.clone()))?;
            out.extend(t.partitions().iter().map(|p| (topic.clone(), p.id())));
        }
        Ok(out)
    });
    task.await
        .unwrap_or(Err(RunError::Kafka(KafkaError::Canceled)))
}

/// High watermark per (topic, partition).
type HighWatermarks = BTreeMap<(String, i32), i64>;

/// The partitions still short of their high watermark, and every partition's high watermark.
async fn catch_up_targets(
    consumer: &Arc<StreamConsumer>,
    resume: Vec<(String, i32, Option<i64>)>,
) -> Result<(HighWatermarks, HighWatermarks), RunError> {
    let consumer = consumer.clone();
    let task = tokio::task::spawn_blocking(move || {
        let (mut targets, mut highs) = (BTreeMap::new(), BTreeMap::new());
        for (topic, p, next) in resume {
            let (low, high) = retrying(Duration::from_secs(30), |t| {
                consumer.fetch_watermarks(&topic, p, t)
            })?;
            if high > next.unwrap_or(low).max(low) {
                targets.insert((topic.clone(), p), high);
            }
            highs.insert((topic, p), high);
        }
        Ok((targets, highs))
    });
    task.await
        .unwrap_or(Err(RunError::Kafka(KafkaError::Canceled)))
}

/// Assign new partitions at the lake's offsets; returns (topic, partition, resume offset).
fn assign(
    consumer: &StreamConsumer,
    engine: &mut Engine<Retrying<AnyStorage>, SchemaRegistry>,
    assigned: &mut BTreeSet<(String, i32)>,
    partitions: Vec<(String, i32)>,
    incremental: bool,
) -> Result<Vec<(String, i32, Option<i64>)>, RunError> {
    let mut resumed = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for (topic, p) in partitions {
        if !assigned.insert((topic.clone(), p)) {
            continue;
        }
        let next = engine.assign(&topic, p);
        let offset = match next {
            Some(next) => Offset::Offset(next),
            None => Offset::Beginning,
        };
        resumed.push((topic.clone(), p, next));
        tracing::info!(topic, partition = p, ?offset, "assigned");
        tpl.add_partition_offset(&topic, p, offset)?;
    }
    if tpl.count() > 0 {
        if incremental {
            consumer.incremental_assign(&tpl)?;
        } else {
            consumer.assign(&tpl)?;
        }
    }
    Ok(resumed)
}

/// High watermarks every 5 s (lag, idle partitions' watermarks), new partitions every 60 s.
async fn watch_partitions(
    consumer: Arc<StreamConsumer>,
    topics: Vec<String>,
    known: BTreeSet<(String, i32)>,
    tx: mpsc::Sender<Event>,
    stop: CancellationToken,
) {
    let mut known = known;
    for round in 1u64.. {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(if round == 1 { 1 } else { 5 })) => {}
        }
        let (c, t) = (consumer.clone(), topics.clone());
        let refresh = round % 12 == 0;
        let mut parts: Vec<(String, i32)> = known.iter().cloned().collect();
        let task = tokio::task::spawn_blocking(move || {
            if refresh {
                for topic in &t {
                    let Ok(md) = c.fetch_metadata(Some(topic), Duration::from_secs(10)) else {
                        continue;
                    };
                    for mt in md.topics().iter().filter(|mt| mt.name() == topic) {
                        parts.extend(mt.partitions().iter().map(|p| (topic.clone(), p.id())));
                    }
                }
            }
            let highs: Vec<Event> = parts
                .iter()
                .filter_map(|(topic, p)| {
                    let (_, high) = c
                        .fetch_watermarks(topic, *p, Duration::from_secs(10))
                        .ok()?;
                    Some(Event::High(topic.clone(), *p, high))
                })
                .collect();
            (parts, highs)
        });
        let Ok((parts, highs)) = task.await else {
            continue;
        };
        let new: Vec<_> = parts
            .into_iter()
            .filter(|p| known.insert(p.clone()))
            .collect();
        if !new.is_empty() && tx.send(Event::NewPartitions(new)).await.is_err() {
            return;
        }
        for e in highs {
            if tx.send(e).await.is_err() {
                return;
            }
        }
    }
}

/// Publish lake progress to the consumer group (monitoring only: never read back).
fn commit_progress(consumer: &StreamConsumer, progress: Vec<Progress>, mode: CommitMode) {
    if progress.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for p in progress {
        let _ = tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.next_offset));
    }
    if let Err(error) = consumer.commit(&tpl, mode) {
        tracing::debug!(%error, "progress commit to the consumer group failed (monitoring only)");
    }
}
