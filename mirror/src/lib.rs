//! vygoda-mirror: duplicates topics from the prod cluster to the analytics cluster.
//!
//! Each source partition is copied to the destination partition with the same number, record by
//! record: key, value, headers and timestamp, plus a provenance header ([`header::SOURCE_HEADER`])
//! naming the source offset. The destination is the only record of progress: on start, the last
//! record of every destination partition says where to resume. With an idempotent producer
//! (no duplicates from retries, order kept) this copies every source record exactly once across
//! crashes, without Kafka transactions (why, case by case: DESIGN.md, Mirror; `/metrics` for lag).

pub mod config;
mod copy;
pub mod header;
mod metrics;
mod resume;
mod setup;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use vygoda_common::access::{Access, Operation, Resource};

pub use config::{Config, EmptyDestination};

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("kafka client for {cluster}: {source}; check --platform / -X properties")]
    Client {
        cluster: String,
        source: rdkafka::error::KafkaError,
    },
    #[error(
        "{cluster} cluster did not answer within {seconds}s ({what}); is it up? (`make status`)"
    )]
    Unavailable {
        cluster: String,
        what: String,
        seconds: u64,
    },
    #[error(
        "source topic {topic} does not exist on {cluster}; create it or drop it from --topics"
    )]
    MissingSource { cluster: String, topic: String },
    #[error(
        "destination topic {topic} does not exist and --create-topics is off; create it with \
         {partitions} partitions or turn --create-topics on"
    )]
    MissingDestination { topic: String, partitions: usize },
    #[error(
        "destination topic {topic} has {destination} partitions but the source has {source_partitions}; \
         partitions are copied one to one: give the destination as many \
         (kafka-topics --alter --partitions {source_partitions})"
    )]
    PartitionMismatch {
        topic: String,
        source_partitions: usize,
        destination: usize,
    },
    #[error("cannot {what} topic {topic}: {detail}")]
    Admin {
        what: &'static str,
        topic: String,
        detail: String,
    },
    #[error(
        "destination {topic}/{partition} at offset {offset}: {problem}; the destination must be \
         written by this mirror only (check who else writes it)"
    )]
    ForeignRecord {
        topic: String,
        partition: i32,
        offset: i64,
        problem: String,
    },
    #[error(
        "destination {topic}/{partition} says source offset {copied} was copied but the source \
         ends at {high}; was the source topic recreated? Empty the destination topic to copy it anew"
    )]
    DestinationAhead {
        topic: String,
        partition: i32,
        copied: i64,
        high: i64,
    },
    #[error(
        "destination {topic}/{partition} holds offsets up to {high} but no record any more \
         (retention), and the source still has records: where to resume is unknown. Choose with \
         --empty-destination earliest|latest"
    )]
    AmbiguousResume {
        topic: String,
        partition: i32,
        high: i64,
    },
    #[error(
        "copying to {topic}/{partition} failed for source offset {offset}: {detail}; nothing after \
         it was written, the next start resumes at this record (fix the cause first, e.g. \
         max.message.bytes of the destination topic)"
    )]
    Delivery {
        topic: String,
        partition: i32,
        offset: i64,
        detail: String,
    },
    #[error(
        "{pending} records were still unacknowledged after {seconds}s of flushing; they are not \
         lost: the next start resumes after the last record the destination holds"
    )]
    FlushTimeout { pending: i32, seconds: u64 },
    #[error(transparent)]
    Metrics(#[from] vygoda_common::metrics::MetricsError),
    #[error("internal task failed: {0}")]
    Task(String),
}

impl MirrorError {
    /// Exit code for the binary: configuration problems are USAGE, unreachable clusters are
    /// UNAVAILABLE, the rest FAILED.
    pub fn exit_code(&self) -> i32 {
        use vygoda_common::exit;
        match self {
            MirrorError::Unavailable { .. } => exit::UNAVAILABLE,
            MirrorError::MissingSource { .. }
            | MirrorError::MissingDestination { .. }
            | MirrorError::PartitionMismatch { .. }
            | MirrorError::AmbiguousResume { .. }
            | MirrorError::Metrics(_) => exit::USAGE,
            _ => exit::FAILED,
        }
    }
}

/// What a run did, for the log line at exit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub partitions: usize,
    pub records: u64,
    pub bytes: u64,
}

/// Everything the mirror does on Kafka with `config`, for the ACL check (kafka/acls.toml).
///
/// librdkafka needs a `group.id` to assign partitions and looks up that group's coordinator,
/// which Kafka authorizes with Describe on the group; the mirror never joins the group nor
/// commits to it, so Describe is all it needs there.
pub fn declared_access(config: &Config) -> Vec<Access> {
    let p = config.principal.as_str();
    let (src, dst) = (
        config.source_cluster.as_str(),
        config.destination_cluster.as_str(),
    );
    let mut out = Vec::new();
    for topic in &config.topics {
        let mut read = vec![Operation::Read, Operation::Describe];
        let mut write = vec![Operation::Read, Operation::Write, Operation::Describe];
        if config.create_topics {
            // The source's settings (cleanup.policy, ...) are copied onto the created topic.
            read.push(Operation::DescribeConfigs);
            write.push(Operation::Create);
        }
        out.extend(Access::topic(p, src, topic, &read));
        out.extend(Access::topic(p, dst, topic, &write));
    }
    for cluster in [src, dst] {
        out.push(Access {
            principal: p.to_owned(),
            cluster: cluster.to_owned(),
            resource: Resource::Group(config.group_id.clone()),
            operation: Operation::Describe,
        });
    }
    out
}

/// The mirror from start to graceful shutdown.
pub async fn run(config: Config, stop: CancellationToken) -> Result<Summary, MirrorError> {
    // 1. What to copy: every partition of every configured source topic. Partitions added to
    //    the source later are picked up at the next start.
    let sources = setup::discover_sources(&config).await?;

    // 2. Where to: destination topics with the same partition counts, created when missing with
    //    the source's cleanup.policy (a compacted source stays compacted).
    setup::ensure_destinations(&config, &sources).await?;

    // 3. Where to resume: the provenance header of the last record of each destination
    //    partition. Before reading it, wait until writes of a previous (crashed) instance that
    //    the brokers may still be completing have settled, or they would be copied twice.
    let slots = tokio::select! {
        slots = resume::positions(&config, &sources) => slots?,
        () = stop.cancelled() => return Ok(Summary::default()),
    };
    let partitions = slots.len();

    // 4. Metrics: per-partition lag and copied counters, served on --metrics-addr. They live
    //    as long as the copy does, whatever ends it (`done`).
    let done = stop.child_token();
    let (registry, metrics) = metrics::Metrics::register(&slots);
    let metrics = Arc::new(metrics);
    vygoda_common::metrics::serve(config.metrics_addr, registry, done.clone()).await?;
    let lag = tokio::spawn(metrics::refresh_lag(
        config.clone(),
        Arc::clone(&metrics),
        done.clone(),
    ));

    // 5. Copy until asked to stop or until a record cannot be written; then stop reading and
    //    flush what is in flight. The copy loop is blocking (librdkafka polling) and gets a
    //    thread of its own.
    let copy_config = config.clone();
    let copy_stop = stop.clone();
    let copy_metrics = Arc::clone(&metrics);
    let result = tokio::task::spawn_blocking(move || {
        copy::copy(&copy_config, slots, copy_metrics, &copy_stop)
    })
    .await
    .map_err(|e| MirrorError::Task(e.to_string()));

    // 6. Whatever ended the copy, the metrics endpoint and the lag task stop with it.
    done.cancel();
    let _ = lag.await;
    let (records, bytes) = metrics.totals();
    result??;
    Ok(Summary {
        partitions,
        records,
        bytes,
    })
}
