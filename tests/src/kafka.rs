//! Topics and records for tests.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use vygoda_common::kafka::client_config;

/// A topic created for one test, deleted when dropped.
#[derive(Debug)]
pub struct TopicGuard {
    pub name: String,
    admin_props: BTreeMap<String, String>,
}

pub(crate) async fn create_topic(
    admin_props: BTreeMap<String, String>,
    name: &str,
    partitions: i32,
    compact: bool,
) -> TopicGuard {
    let admin: AdminClient<DefaultClientContext> = client_config(&admin_props, &[])
        .create()
        .expect("admin client");
    let policy = if compact { "compact" } else { "delete" };
    let topic =
        NewTopic::new(name, partitions, TopicReplication::Fixed(3)).set("cleanup.policy", policy);
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .expect("create_topics request");
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
    TopicGuard::adopt(admin_props, name)
}

impl TopicGuard {
    /// Take charge of deleting a topic created elsewhere.
    pub(crate) fn adopt(admin_props: BTreeMap<String, String>, name: &str) -> TopicGuard {
        TopicGuard {
            name: name.to_owned(),
            admin_props,
        }
    }
}

impl Drop for TopicGuard {
    fn drop(&mut self) {
        let props = self.admin_props.clone();
        let name = self.name.clone();
        crate::cleanup_on_own_thread(async move {
            if let Ok(admin) = client_config(&props, &[]).create::<AdminClient<_>>() {
                let _ = admin
                    .delete_topics(&[name.as_str()], &AdminOptions::new())
                    .await;
            }
        });
    }
}

/// One consumed record, everything a test may compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

/// A record to produce: optional key, optional value (`None` = tombstone).
pub type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Produce `(key, value)` records and wait for every acknowledgement.
pub async fn produce(props: &BTreeMap<String, String>, topic: &str, records: &[KeyValue]) {
    let producer: FutureProducer =
        client_config(props, &[("enable.idempotence", "true"), ("acks", "all")])
            .create()
            .expect("producer");
    // Enqueue everything first, then wait: awaiting each send in turn would pay a linger and a
    // round trip per record.
    let mut pending = Vec::with_capacity(records.len());
    for (k, v) in records {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
        if let Some(k) = k {
            record = record.key(k.as_slice());
        }
        if let Some(v) = v {
            record = record.payload(v.as_slice());
        }
        loop {
            match producer.send_result(record) {
                Ok(delivery) => break pending.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => panic!("produce to {topic}: {e}"),
            }
        }
    }
    for delivery in pending {
        delivery
            .await
            .expect("producer dropped a delivery")
            .unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
    }
}

/// Read every record of `topic` from the beginning up to the high watermarks seen at the start.
/// Uses `assign` (no group), like an independent auditor would.
pub fn consume_all(props: &BTreeMap<String, String>, topic: &str) -> Vec<Record> {
    let consumer: BaseConsumer = client_config(
        props,
        &[
            ("group.id", "test-reader"),
            // librdkafka's default, stated: tests check only what a committed reader sees.
            ("isolation.level", "read_committed"),
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "false"),
        ],
    )
    .create()
    .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(15))
        .expect("metadata");
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut tpl = TopicPartitionList::new();
    let mut remaining = BTreeMap::new();
    for p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, *p, Duration::from_secs(15))
            .expect("watermarks");
        if high > low {
            remaining.insert(*p, high);
            tpl.add_partition_offset(topic, *p, Offset::Beginning)
                .expect("assign offset");
        }
    }
    let mut out = Vec::new();
    if remaining.is_empty() {
        return out;
    }
    consumer.assign(&tpl).expect("assign");
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !remaining.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "consume_all({topic}) timed out"
        );
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        // librdkafka reports a lost connection to one broker as an error event and then
        // reconnects or moves to the new leader by itself; only other errors are real.
        let msg = match msg {
            Ok(msg) => msg,
            Err(KafkaError::MessageConsumption(code)) if is_transient(code) => continue,
            Err(e) => panic!("consume_all({topic}): {e}"),
        };
        // Each offset once: after a leader move librdkafka may fetch a partition again from
        // an earlier position, and a partition already read to its end may still deliver.
        match remaining.get(&msg.partition()) {
            Some(high) if msg.offset() < *high => {}
            _ => continue,
        }
        if next
            .get(&msg.partition())
            .is_some_and(|n| msg.offset() < *n)
        {
            continue;
        }
        next.insert(msg.partition(), msg.offset() + 1);
        let headers = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Record {
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: msg.timestamp().to_millis(),
        });
        if let Some(high) = remaining.get(&msg.partition()) {
            if msg.offset() + 1 >= *high {
                remaining.remove(&msg.partition());
            }
        }
    }
    out
}

/// Errors a consumer survives without help: a broker went away or a leader moved.
fn is_transient(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut
    )
}

/// Headers builder for tests that produce with headers.
pub fn headers(pairs: &[(&str, &[u8])]) -> OwnedHeaders {
    pairs.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
        h.insert(Header {
            key: k,
            value: Some(*v),
        })
    })
}
