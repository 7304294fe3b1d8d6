//! Replication factor 3 with `min.insync.replicas=2` on real nodes: one node lost, acks=all
//! writes carry on; two lost, they are no longer acknowledged; nodes back, every ISR is full again
//! and every acknowledged record is there exactly once. Alone in its test binary, because it
//! stops two nodes of prod and no other test may see that.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use vygoda_common::kafka::client_config;
use vygoda_tests::{consume_all, eventually, produce, unique_name, KeyValue, TestPlatform};

fn batch(range: std::ops::Range<usize>) -> Vec<KeyValue> {
    range
        .map(|i| {
            (
                Some(format!("k{i}").into_bytes()),
                Some(i.to_string().into_bytes()),
            )
        })
        .collect()
}

/// (replicas, in-sync replicas) of every partition of `topic`, as the cluster reports them.
fn replicas(props: &BTreeMap<String, String>, topic: &str) -> Vec<(Vec<i32>, Vec<i32>)> {
    let consumer: BaseConsumer = client_config(props, &[("group.id", "test-durability")])
        .create()
        .expect("metadata client");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    md.topics()
        .iter()
        .flat_map(|t| t.partitions())
        .map(|p| {
            let mut isr = p.isr().to_vec();
            isr.sort_unstable();
            let mut all = p.replicas().to_vec();
            all.sort_unstable();
            (all, isr)
        })
        .collect()
}

/// Produce with acks=all and a short delivery timeout; how many were acknowledged.
async fn try_produce(props: &BTreeMap<String, String>, topic: &str, records: &[KeyValue]) -> usize {
    let producer: FutureProducer = client_config(
        props,
        &[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("message.timeout.ms", "15000"),
        ],
    )
    .create()
    .expect("producer");
    let mut acked = 0;
    for (k, v) in records {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
        if let (Some(k), Some(v)) = (k, v) {
            record = record.key(k.as_slice()).payload(v.as_slice());
        }
        if producer.send(record, Duration::from_secs(0)).await.is_ok() {
            acked += 1;
        }
    }
    acked
}

#[tokio::test]
async fn acknowledged_writes_need_two_in_sync_replicas_and_survive_two_node_losses() {
    let tp = TestPlatform::get();
    let topic = unique_name("durability");
    let _guard = tp.create_topic("prod", &topic, 3, false).await;
    let props = tp.kafka_props("prod", "shop-api");
    let admin = tp.kafka_props("prod", "admin");
    assert!(
        replicas(&admin, &topic)
            .iter()
            .all(|(all, isr)| all.len() == 3 && isr == all),
        "a new topic has three in-sync replicas per partition"
    );
    produce(&props, &topic, &batch(0..300)).await;

    // One node lost: two replicas remain in sync, acks=all writes go on. The nodes come back
    // when `outage` is dropped, also if an assertion below fails first.
    let mut outage = tp.kill("kafka-prod-3");
    tokio::time::timeout(
        Duration::from_secs(120),
        produce(&props, &topic, &batch(300..600)),
    )
    .await
    .expect("acks=all producing with one node down took over 120 s");
    // The surviving quorum takes node 3 out of every ISR before node 2 goes too.
    eventually("every ISR without node 3", Duration::from_secs(120), || {
        let now = replicas(&admin, &topic);
        async move { now.iter().all(|(_, isr)| !isr.contains(&3)).then_some(()) }
    })
    .await;

    // Two nodes lost: one replica left, below min.insync.replicas; nothing is acknowledged.
    outage.kill("kafka-prod-2");
    let acked = try_produce(&props, &topic, &batch(600..610)).await;
    assert_eq!(
        acked, 0,
        "a write was acknowledged with one in-sync replica"
    );

    // Healing (make up) waits for every ISR of the cluster to be full again.
    outage.heal();
    assert!(
        replicas(&admin, &topic).iter().all(|(all, isr)| isr == all),
        "ISR not full after the nodes came back"
    );

    let read = consume_all(&tp.kafka_props("prod", "operator"), &topic);
    let mut counts = BTreeMap::<usize, usize>::new();
    for r in &read {
        let v: usize = String::from_utf8(r.value.clone().expect("value"))
            .expect("utf-8")
            .parse()
            .expect("number");
        *counts.entry(v).or_default() += 1;
    }
    for i in 0..600 {
        assert_eq!(
            counts.get(&i),
            Some(&1),
            "acknowledged record {i} lost or duplicated"
        );
    }
    // Unacknowledged writes may or may not have reached the log (Kafka's contract); the
    // idempotent producer still never duplicates them.
    assert!(counts.values().all(|&n| n == 1), "a record appears twice");
}
