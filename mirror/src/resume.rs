//! Where to resume: read back the last record of every destination partition.
//!
//! The destination is the only record of progress. Its last record carries the source offset it
//! was copied from (header::SOURCE_HEADER), so resuming at that offset + 1 neither skips nor
//! repeats, whatever moment the previous instance died at (the argument is in the design notes).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use vygoda_common::kafka::client_config;

use crate::header::SourcePosition;
use crate::setup::{metadata_client, SourceTopic};
use crate::{Config, EmptyDestination, MirrorError};

/// One partition to copy and where its copy stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    pub topic: String,
    pub partition: i32,
    /// Next source offset to copy.
    pub next: i64,
    /// Timestamp (ms) of the last record the destination holds, if any.
    pub last_copied_ms: Option<i64>,
}

/// The newest record found in a destination partition.
#[derive(Debug, Clone)]
struct Tail {
    offset: i64,
    timestamp_ms: Option<i64>,
    source: Option<Result<SourcePosition, crate::header::BadHeader>>,
}

type Watermarks = BTreeMap<(String, i32), (i64, i64)>;

fn watermarks(
    client: &BaseConsumer,
    cluster: &str,
    sources: &[SourceTopic],
    timeout: Duration,
) -> Result<Watermarks, MirrorError> {
    let mut out = BTreeMap::new();
    for s in sources {
        for p in 0..s.partitions as i32 {
            let wm = client.fetch_watermarks(&s.name, p, timeout).map_err(|e| {
                MirrorError::Unavailable {
                    cluster: cluster.to_owned(),
                    what: format!("watermarks of {}/{p}: {e}", s.name),
                    seconds: timeout.as_secs(),
                }
            })?;
            out.insert((s.name.clone(), p), wm);
        }
    }
    Ok(out)
}

/// Resume positions for every partition of `sources`.
pub(crate) async fn positions(
    config: &Config,
    sources: &[SourceTopic],
) -> Result<Vec<Slot>, MirrorError> {
    let dest = Arc::new(metadata_client(
        &config.destination,
        &config.destination_cluster,
    )?);
    let timeout = config.startup_timeout;
    let dest_marks = |dest: &Arc<BaseConsumer>| {
        let (dest, cluster, owned) = (
            Arc::clone(dest),
            config.destination_cluster.clone(),
            sources.to_vec(),
        );
        blocking(move || watermarks(&dest, &cluster, &owned, timeout))
    };
    let mut marks = dest_marks(&dest).await?;

    // A crashed predecessor's last produce requests may still be completing on the brokers (a
    // request already received, a follower catching up before the high watermark moves). Reading
    // the tail before they land would copy those records again, so wait until nothing moves.
    if !config.resume_settle.is_zero() {
        let deadline = Instant::now() + config.resume_settle * 10;
        loop {
            tokio::time::sleep(config.resume_settle).await;
            let again = dest_marks(&dest).await?;
            if again == marks {
                break;
            }
            tracing::info!("destination still moving; waiting for it to settle");
            marks = again;
            if Instant::now() > deadline {
                return Err(MirrorError::Unavailable {
                    cluster: config.destination_cluster.clone(),
                    what: "destination high watermarks to stop moving (is another mirror running?)"
                        .into(),
                    seconds: (config.resume_settle * 10).as_secs(),
                });
            }
        }
    }

    let src = metadata_client(&config.source, &config.source_cluster)?;
    let cluster = config.source_cluster.clone();
    let owned = sources.to_vec();
    let source_marks = blocking(move || watermarks(&src, &cluster, &owned, timeout)).await?;

    let config2 = config.clone();
    let owned = sources.to_vec();
    let marks2 = marks.clone();
    let tails = blocking(move || read_tails(&config2, &owned, &marks2)).await?;

    let mut slots = Vec::new();
    for s in sources {
        for p in 0..s.partitions as i32 {
            let key = (s.name.clone(), p);
            let (_, dhigh) = marks[&key];
            let (slow, shigh) = source_marks[&key];
            let slot = decide(config, &s.name, p, dhigh, (slow, shigh), tails.get(&key))?;
            if slot.next < slow {
                tracing::warn!(
                    topic = s.name,
                    partition = p,
                    next = slot.next,
                    source_low = slow,
                    lost = slow - slot.next,
                    "source records expired before they were copied; resuming at the oldest left"
                );
            }
            tracing::info!(
                topic = s.name,
                partition = p,
                next = slot.next,
                source_high = shigh,
                "resuming"
            );
            slots.push(slot);
        }
    }
    Ok(slots)
}

/// Turn what the destination holds into a resume offset, refusing to guess.
fn decide(
    config: &Config,
    topic: &str,
    partition: i32,
    dhigh: i64,
    (slow, shigh): (i64, i64),
    tail: Option<&Tail>,
) -> Result<Slot, MirrorError> {
    let slot = |next: i64, last: Option<i64>| Slot {
        topic: topic.to_owned(),
        partition,
        next,
        last_copied_ms: last,
    };
    let Some(tail) = tail else {
        // Never written: copy everything the source still has.
        if dhigh == 0 {
            return Ok(slot(slow, None));
        }
        // Written once, every record since expired. If the source is empty too nothing is
        // ambiguous; otherwise only the operator can say what the copy should hold.
        return match (slow == shigh, config.empty_destination) {
            (true, _) => Ok(slot(shigh, None)),
            (false, EmptyDestination::Earliest) => Ok(slot(slow, None)),
            (false, EmptyDestination::Latest) => Ok(slot(shigh, None)),
            (false, EmptyDestination::Fail) => Err(MirrorError::AmbiguousResume {
                topic: topic.to_owned(),
                partition,
                high: dhigh,
            }),
        };
    };
    let foreign = |problem: String| MirrorError::ForeignRecord {
        topic: topic.to_owned(),
        partition,
        offset: tail.offset,
        problem,
    };
    let source = match &tail.source {
        None => return Err(foreign("it has no provenance header".into())),
        Some(Err(e)) => return Err(foreign(e.to_string())),
        Some(Ok(s)) => s,
    };
    if source.topic != topic || source.partition != partition {
        return Err(foreign(format!(
            "it was copied from {}/{}",
            source.topic, source.partition
        )));
    }
    if source.offset >= shigh {
        return Err(MirrorError::DestinationAhead {
            topic: topic.to_owned(),
            partition,
            copied: source.offset,
            high: shigh,
        });
    }
    Ok(slot(source.offset + 1, tail.timestamp_ms))
}

/// Read the newest record of every non-empty destination partition, one topic at a time
/// (librdkafka's end-of-partition event names the partition only).
fn read_tails(
    config: &Config,
    sources: &[SourceTopic],
    marks: &Watermarks,
) -> Result<BTreeMap<(String, i32), Tail>, MirrorError> {
    let consumer: BaseConsumer = client_config(
        &config.destination,
        &[
            ("group.id", config.group_id.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "earliest"),
        ],
    )
    .create()
    .map_err(|source| MirrorError::Client {
        cluster: config.destination_cluster.clone(),
        source,
    })?;
    let deadline = Instant::now() + config.startup_timeout;
    let mut tails = BTreeMap::new();
    for s in sources {
        // Start one record before the end. On a compacted topic that record may be gone (a
        // tombstone past delete.retention.ms); then look further back, 16 times wider each round.
        let mut window: BTreeMap<i32, i64> = (0..s.partitions as i32)
            .filter(|p| {
                let (low, high) = marks[&(s.name.clone(), *p)];
                high > low
            })
            .map(|p| (p, 1))
            .collect();
        while !window.is_empty() {
            let mut tpl = TopicPartitionList::new();
            let mut starts = BTreeMap::new();
            for (&p, &w) in &window {
                let (low, high) = marks[&(s.name.clone(), p)];
                let start = (high - w).max(low);
                starts.insert(p, start);
                tpl.add_partition_offset(&s.name, p, Offset::Offset(start))
                    .map_err(|source| MirrorError::Client {
                        cluster: config.destination_cluster.clone(),
                        source,
                    })?;
            }
            consumer
                .assign(&tpl)
                .map_err(|source| MirrorError::Client {
                    cluster: config.destination_cluster.clone(),
                    source,
                })?;
            let mut open: BTreeSet<i32> = window.keys().copied().collect();
            while !open.is_empty() {
                if Instant::now() > deadline {
                    return Err(MirrorError::Unavailable {
                        cluster: config.destination_cluster.clone(),
                        what: format!("the last records of {}", s.name),
                        seconds: config.startup_timeout.as_secs(),
                    });
                }
                match consumer.poll(Duration::from_millis(100)) {
                    None => {}
                    Some(Err(KafkaError::PartitionEOF(p))) => {
                        open.remove(&p);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(topic = s.name, error = %e, "reading destination tail");
                    }
                    Some(Ok(m)) => {
                        let source = m.headers().and_then(|h| {
                            SourcePosition::find_last(h.iter().map(|h| (h.key, h.value)))
                        });
                        let tail = Tail {
                            offset: m.offset(),
                            timestamp_ms: m.timestamp().to_millis(),
                            source,
                        };
                        let key = (s.name.clone(), m.partition());
                        if tails
                            .get(&key)
                            .is_none_or(|t: &Tail| t.offset < tail.offset)
                        {
                            tails.insert(key, tail);
                        }
                    }
                }
            }
            // Partitions whose window held no record and that have older offsets to look at.
            window = window
                .into_iter()
                .filter(|(p, _)| {
                    let (low, _) = marks[&(s.name.clone(), *p)];
                    !tails.contains_key(&(s.name.clone(), *p)) && starts[p] > low
                })
                .map(|(p, w)| (p, w.saturating_mul(16)))
                .collect();
        }
    }
    Ok(tails)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MirrorError> + Send + 'static,
) -> Result<T, MirrorError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MirrorError::Task(e.to_string()))?
}
