//! Kafka plumbing shared by the binaries: producers with our delivery settings, reading a topic
//! from the beginning up to given offsets (no consumer group), metadata checks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use vygoda_common::kafka::{client_config, enforce, retrying};

#[derive(Debug, thiserror::Error)]
pub enum KafkaIoError {
    #[error("cannot create a Kafka client: {0}; check the -X properties")]
    Client(KafkaError),
    #[error("cannot reach the brokers of `{topic}` ({source}); are they running (`make status`)?")]
    Unreachable { topic: String, source: KafkaError },
    #[error("topic `{0}` does not exist; create it (`make up` creates the platform's topics)")]
    NoTopic(String),
    #[error("reading `{topic}`: {source}")]
    Read { topic: String, source: KafkaError },
    #[error("reading `{topic}` did not reach offset {target} of partition {partition} within {timeout:?}")]
    Timeout {
        topic: String,
        partition: i32,
        target: i64,
        timeout: Duration,
    },
    #[error("background task failed: {0}")]
    Join(String),
}

/// What every producer of this crate rests on, applied after the `-X` pass-through: acks=all (an
/// acknowledged record survives a leader change) and idempotence (retries cannot duplicate or
/// reorder). The ban filter's at-least-once-without-duplicates argument needs both.
pub(crate) const GUARANTEES: [(&str, &str); 2] = [("acks", "all"), ("enable.idempotence", "true")];

/// Producer settings: murmur2 partitioning like the Java client (the same key lands on the same
/// partition whoever writes it), `extra` and the pass-through map, then [`GUARANTEES`].
pub(crate) fn producer_config(
    props: &BTreeMap<String, String>,
    extra: &[(&str, &str)],
) -> rdkafka::ClientConfig {
    let mut settings = vec![("partitioner", "murmur2_random"), ("linger.ms", "5")];
    settings.extend_from_slice(extra);
    enforce(
        client_config(props, &settings),
        props,
        &GUARANTEES,
        "acknowledged records must survive leader changes and retries must not duplicate",
    )
}

/// A producer that never loses or reorders an acknowledged record ([`producer_config`]).
pub fn producer(
    props: &BTreeMap<String, String>,
    extra: &[(&str, &str)],
) -> Result<FutureProducer, KafkaIoError> {
    producer_config(props, extra)
        .create()
        .map_err(KafkaIoError::Client)
}

/// Settings of a consumer that reads by explicit offsets and commits nothing. librdkafka needs
/// a `group.id` to `assign()` (it looks up the group's coordinator, which needs Describe on the
/// group); the group is never joined and nothing is committed to it. Empty `group` = metadata only.
fn reader_config(props: &BTreeMap<String, String>, group: &str) -> rdkafka::ClientConfig {
    let mut settings = vec![
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("enable.partition.eof", "false"),
    ];
    if !group.is_empty() {
        settings.push(("group.id", group));
    }
    client_config(props, &settings)
}

/// A consumer that reads by explicit offsets (see [`reader_config`]).
pub fn reader(props: &BTreeMap<String, String>, group: &str) -> Result<BaseConsumer, KafkaIoError> {
    reader_config(props, group)
        .create()
        .map_err(KafkaIoError::Client)
}

/// Same, as a stream (for long-lived readers inside async code).
pub fn stream_reader(
    props: &BTreeMap<String, String>,
    group: &str,
) -> Result<StreamConsumer, KafkaIoError> {
    reader_config(props, group)
        .create()
        .map_err(KafkaIoError::Client)
}

/// Partition ids of `topic` (blocking; call from a blocking context).
pub fn partitions<X: ConsumerContext + 'static, C: Consumer<X>>(
    consumer: &C,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>, KafkaIoError> {
    let md = retrying(timeout, |t| consumer.fetch_metadata(Some(topic), t)).map_err(|source| {
        KafkaIoError::Unreachable {
            topic: topic.to_owned(),
            source,
        }
    })?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| KafkaIoError::NoTopic(topic.to_owned()))?;
    if t.error().is_some() || t.partitions().is_empty() {
        return Err(KafkaIoError::NoTopic(topic.to_owned()));
    }
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

/// `(low, high)` watermarks of every partition of `topic` (blocking).
pub fn watermarks<X: ConsumerContext + 'static, C: Consumer<X>>(
    consumer: &C,
    topic: &str,
    timeout: Duration,
) -> Result<BTreeMap<i32, (i64, i64)>, KafkaIoError> {
    partitions(consumer, topic, timeout)?
        .into_iter()
        .map(|p| {
            retrying(timeout, |t| consumer.fetch_watermarks(topic, p, t))
                .map(|w| (p, w))
                .map_err(|source| KafkaIoError::Unreachable {
                    topic: topic.to_owned(),
                    source,
                })
        })
        .collect()
}

/// Read `topic` from each partition's beginning up to (excluding) `ends[partition]`, calling
/// `f` for every record, in offset order per partition. Blocking: run it in `spawn_blocking`.
pub fn read_until<F>(
    consumer: &BaseConsumer,
    topic: &str,
    ends: &BTreeMap<i32, i64>,
    timeout: Duration,
    mut f: F,
) -> Result<(), KafkaIoError>
where
    F: FnMut(&BorrowedMessage<'_>),
{
    let mut remaining: BTreeMap<i32, i64> = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for (&p, &end) in ends {
        let (low, _) =
            retrying(timeout, |t| consumer.fetch_watermarks(topic, p, t)).map_err(|source| {
                KafkaIoError::Unreachable {
                    topic: topic.to_owned(),
                    source,
                }
            })?;
        if end > low {
            remaining.insert(p, end);
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|source| KafkaIoError::Read {
                    topic: topic.to_owned(),
                    source,
                })?;
        }
    }
    if remaining.is_empty() {
        return Ok(());
    }
    consumer.assign(&tpl).map_err(|source| KafkaIoError::Read {
        topic: topic.to_owned(),
        source,
    })?;
    let mut last_progress = Instant::now();
    while !remaining.is_empty() {
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            // Compaction can leave the last offsets empty: the fetch position tells us we are past.
            drop_reached(consumer, topic, &mut remaining);
            if remaining.is_empty() {
                break;
            }
            if last_progress.elapsed() > timeout {
                let (&partition, &target) = remaining.iter().next().unwrap_or((&-1, &-1));
                return Err(KafkaIoError::Timeout {
                    topic: topic.to_owned(),
                    partition,
                    target,
                    timeout,
                });
            }
            continue;
        };
        // librdkafka reports connection hiccups (a broker closing an idle connection, a
        // failover) through poll and recovers by itself; a lasting problem ends in the
        // no-progress timeout above.
        let msg = match result {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(topic, error = %e, "transient error while reading; retrying");
                continue;
            }
        };
        last_progress = Instant::now();
        use rdkafka::Message;
        let (p, offset) = (msg.partition(), msg.offset());
        let Some(&end) = remaining.get(&p) else {
            continue;
        };
        if offset < end {
            f(&msg);
        }
        if offset + 1 >= end {
            remaining.remove(&p);
        }
    }
    consumer.unassign().map_err(|source| KafkaIoError::Read {
        topic: topic.to_owned(),
        source,
    })?;
    Ok(())
}

/// Forget partitions whose fetch position is already at or past their end offset.
pub fn drop_reached<X: ConsumerContext + 'static, C: Consumer<X>>(
    consumer: &C,
    topic: &str,
    remaining: &mut BTreeMap<i32, i64>,
) {
    if let Ok(positions) = consumer.position() {
        for e in positions.elements_for_topic(topic) {
            if let (Offset::Offset(pos), Some(&end)) = (e.offset(), remaining.get(&e.partition())) {
                if pos >= end {
                    remaining.remove(&e.partition());
                }
            }
        }
    }
}

/// The latest record of a key in a compacted topic, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub partition: i32,
    pub offset: i64,
    pub payload: Vec<u8>,
}

/// A record a reader could not use: where it is, its key when it had a readable one, and why.
/// Readers report these and go on with the others; one bad record never costs more than itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}@{}", self.topic, self.partition, self.offset)?;
        if let Some(key) = &self.key {
            write!(f, " key {key}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A compacted topic read to its high watermarks: the latest value per key, and the records
/// that have no usable key (they can never be superseded, so they are reported, not dropped).
#[derive(Debug, Default)]
pub struct Compacted {
    pub latest: BTreeMap<String, Latest>,
    pub keyless: Vec<Unreadable>,
}

impl Latest {
    /// This record reported as unreadable, for a reader that could not decode it.
    pub fn unreadable(&self, topic: &str, key: &str, reason: String) -> Unreadable {
        Unreadable {
            topic: topic.to_owned(),
            partition: self.partition,
            offset: self.offset,
            key: Some(key.to_owned()),
            reason,
        }
    }
}

/// Read a whole compacted topic up to its current high watermarks and keep the latest value
/// per key (a tombstone removes the key).
pub async fn latest_by_key(
    props: BTreeMap<String, String>,
    topic: String,
    group: String,
    timeout: Duration,
) -> Result<Compacted, KafkaIoError> {
    latest_by_key_in(props, topic, group, None, timeout).await
}

/// [`latest_by_key`] over some partitions only (`None` = all): the ban filter instance that
/// takes a partition over reads just that partition's share of its output.
pub async fn latest_by_key_in(
    props: BTreeMap<String, String>,
    topic: String,
    group: String,
    only: Option<BTreeSet<i32>>,
    timeout: Duration,
) -> Result<Compacted, KafkaIoError> {
    tokio::task::spawn_blocking(move || {
        let consumer = reader(&props, &group)?;
        let ends: BTreeMap<i32, i64> = watermarks(&consumer, &topic, timeout)?
            .into_iter()
            .filter(|(p, _)| only.as_ref().is_none_or(|o| o.contains(p)))
            .map(|(p, (_, high))| (p, high))
            .collect();
        let mut state = Compacted::default();
        read_until(&consumer, &topic, &ends, timeout, |msg| {
            use rdkafka::Message;
            let (partition, offset) = (msg.partition(), msg.offset());
            let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                let reason = match msg.key() {
                    None => "record without a key",
                    Some(_) => "record key is not UTF-8",
                };
                tracing::warn!(topic = %topic, partition, offset, reason, "record skipped");
                state.keyless.push(Unreadable {
                    topic: topic.clone(),
                    partition,
                    offset,
                    key: None,
                    reason: reason.to_owned(),
                });
                return;
            };
            match msg.payload() {
                Some(v) => state.latest.insert(
                    key.to_owned(),
                    Latest {
                        partition,
                        offset,
                        payload: v.to_vec(),
                    },
                ),
                None => state.latest.remove(key),
            };
        })?;
        Ok(state)
    })
    .await
    .map_err(|e| KafkaIoError::Join(e.to_string()))?
}

/// Check that the brokers answer and `topic` exists, before doing any work; its partitions.
pub async fn preflight_partitions(
    props: BTreeMap<String, String>,
    topic: String,
    timeout: Duration,
) -> Result<Vec<i32>, KafkaIoError> {
    tokio::task::spawn_blocking(move || {
        let consumer = reader(&props, "")?;
        partitions(&consumer, &topic, timeout)
    })
    .await
    .map_err(|e| KafkaIoError::Join(e.to_string()))?
}

/// Check that the brokers answer and `topic` exists; its partition count.
pub async fn preflight(
    props: BTreeMap<String, String>,
    topic: String,
    timeout: Duration,
) -> Result<usize, KafkaIoError> {
    preflight_partitions(props, topic, timeout)
        .await
        .map(|p| p.len())
}

/// Sends records with a bounded number awaiting acknowledgement, retrying on a full local
/// queue, and counts outcomes. `finish` waits for every acknowledgement.
pub struct Sender<'p> {
    producer: &'p FutureProducer,
    in_flight: futures::stream::FuturesUnordered<rdkafka::producer::DeliveryFuture>,
    window: usize,
    pub acked: usize,
    pub failed: usize,
    pub first_error: Option<String>,
}

impl std::fmt::Debug for Sender<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("in_flight", &self.in_flight.len())
            .field("acked", &self.acked)
            .field("failed", &self.failed)
            .finish()
    }
}

impl<'p> Sender<'p> {
    pub fn new(producer: &'p FutureProducer, window: usize) -> Self {
        Sender {
            producer,
            in_flight: futures::stream::FuturesUnordered::new(),
            window: window.max(1),
            acked: 0,
            failed: 0,
            first_error: None,
        }
    }

    /// Records settled (acknowledged or failed) so far.
    pub fn settled(&self) -> usize {
        self.acked + self.failed
    }

    fn fail(&mut self, error: String) {
        self.failed += 1;
        self.first_error.get_or_insert(error);
    }

    async fn settle_one(&mut self) -> bool {
        use futures::StreamExt;
        match self.in_flight.next().await {
            Some(Ok(Ok(_))) => self.acked += 1,
            Some(Ok(Err((e, _)))) => self.fail(e.to_string()),
            Some(Err(_)) => self.fail("producer dropped the record before delivery".into()),
            None => return false,
        }
        true
    }

    /// Queue one record (copied into librdkafka); waits while the window or queue is full.
    pub async fn send(&mut self, topic: &str, key: &[u8], payload: &[u8]) {
        use rdkafka::error::RDKafkaErrorCode;
        loop {
            let record = rdkafka::producer::FutureRecord::to(topic)
                .key(key)
                .payload(payload);
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.in_flight.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    if !self.settle_one().await {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                Err((e, _)) => {
                    self.fail(e.to_string());
                    return;
                }
            }
        }
        while self.in_flight.len() >= self.window {
            self.settle_one().await;
        }
    }

    /// Wait for every queued record's outcome.
    pub async fn finish(&mut self) {
        while self.settle_one().await {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_through_map_cannot_weaken_the_producers_guarantees() {
        let props = vygoda_common::kafka::parse_props(&[
            "acks=0".to_owned(),
            "enable.idempotence=false".to_owned(),
            "compression.type=zstd".to_owned(),
        ])
        .unwrap();
        let cfg = producer_config(&props, &[("linger.ms", "2")]);
        assert_eq!(cfg.get("acks"), Some("all"));
        assert_eq!(cfg.get("enable.idempotence"), Some("true"));
        assert_eq!(cfg.get("compression.type"), Some("zstd"));
        assert_eq!(cfg.get("linger.ms"), Some("2"));
    }
}
