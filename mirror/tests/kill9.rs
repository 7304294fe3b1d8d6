//! The real `mirror` binary killed with SIGKILL at random moments while prod is being written:
//! after a final clean run, the destination holds every source record exactly once, in order.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use rdkafka::producer::{FutureProducer, FutureRecord};
use vygoda_common::kafka::client_config;
use vygoda_mirror::header::{SourcePosition, SOURCE_HEADER};
use vygoda_tests::{consume_all, unique_name, ServiceProcess, TestPlatform};

const PARTITIONS: i32 = 3;
const RECORDS: u32 = 24_000;
const KILLS: usize = 5;

/// Produce RECORDS records, paced over several seconds so that the kills land while producing.
async fn produce_paced(props: BTreeMap<String, String>, topic: String, done: Arc<AtomicBool>) {
    let producer: FutureProducer = client_config(
        &props,
        &[("enable.idempotence", "true"), ("linger.ms", "5")],
    )
    .create()
    .expect("producer");
    let mut pending = Vec::new();
    for i in 0..RECORDS {
        let key = format!("k{i}");
        let value = format!("v{i}");
        let record = FutureRecord::to(&topic)
            .partition((i % PARTITIONS as u32) as i32)
            .key(&key)
            .payload(&value);
        pending.push(producer.send_result(record).expect("queue"));
        if i % 100 == 99 {
            for f in pending.drain(..) {
                f.await
                    .expect("delivery")
                    .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
            }
            // Load pacing (about 2000 records/s), not synchronisation.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for f in pending {
        f.await
            .expect("delivery")
            .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
    }
    done.store(true, Ordering::SeqCst);
}

fn spawn_mirror(tp: &TestPlatform, topic: &str) -> ServiceProcess {
    let platform = tp.platform_file();
    ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_mirror"),
        &[
            "--platform",
            platform.to_str().expect("utf-8 path"),
            "--topics",
            topic,
            "--metrics-addr",
            "127.0.0.1:0",
            "--resume-settle",
            "0.5",
        ],
        &[("RUST_LOG", "info")],
    )
}

/// Wait until `check` holds, failing with the mirror's log if it dies or time runs out.
async fn wait_for(
    what: &str,
    mirror: &mut ServiceProcess,
    timeout: Duration,
    check: impl Fn() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            mirror.is_running(),
            "mirror exited while waiting for {what}; log: {}",
            mirror.log_path().display()
        );
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; log: {}",
            mirror.log_path().display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_neither_skips_nor_repeats() {
    let tp = TestPlatform::get();
    let topic = unique_name("mirror-kill9");
    let _source = tp.create_topic("prod", &topic, PARTITIONS, false).await;
    let _destination = tp
        .create_topic("analytics", &topic, PARTITIONS, false)
        .await;
    let prod = tp.kafka_props("prod", "admin");
    let analytics = tp.kafka_props("analytics", "admin");

    let done = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce_paced(
        prod.clone(),
        topic.clone(),
        Arc::clone(&done),
    ));

    let mut rng = rand::rng();
    for round in 0..KILLS {
        let before = support::total(&analytics, &topic);
        let mut mirror = spawn_mirror(tp, &topic);
        // Kill only once this instance is copying (or has nothing left to copy), then at a
        // random moment within the next 400 ms.
        wait_for(
            "the mirror to copy",
            &mut mirror,
            Duration::from_secs(60),
            || {
                let now = support::total(&analytics, &topic);
                now > before
                    || (done.load(Ordering::SeqCst) && now >= support::total(&prod, &topic))
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        mirror.kill9();
        eprintln!(
            "round {round}: killed with {} copied",
            support::total(&analytics, &topic)
        );
    }
    producer.await.expect("producer task");

    let produced = support::total(&prod, &topic);
    assert_eq!(produced, i64::from(RECORDS));
    let mut mirror = spawn_mirror(tp, &topic);
    wait_for(
        "the copy to catch up",
        &mut mirror,
        Duration::from_secs(120),
        || support::total(&analytics, &topic) >= produced,
    )
    .await;
    let status = mirror.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "clean stop exits 0: {status}; log: {}",
        mirror.log_path().display()
    );

    // Each source offset exactly once, in order, with its own key and value.
    let source = consume_all(&prod, &topic);
    let copy = consume_all(&analytics, &topic);
    assert_eq!(
        copy.len(),
        source.len(),
        "destination has extra or missing records"
    );
    for p in 0..PARTITIONS {
        let src: Vec<_> = source.iter().filter(|r| r.partition == p).collect();
        let dst: Vec<_> = copy.iter().filter(|r| r.partition == p).collect();
        assert_eq!(dst.len(), src.len(), "partition {p}");
        for (i, (s, d)) in src.iter().zip(&dst).enumerate() {
            let header = d
                .headers
                .iter()
                .rfind(|(k, _)| k == SOURCE_HEADER)
                .and_then(|(_, v)| v.as_deref())
                .unwrap_or_else(|| panic!("{topic}/{p} record {i} has no provenance header"));
            let pos = SourcePosition::decode(header).expect("provenance header");
            assert_eq!(
                (pos.topic.as_str(), pos.partition, pos.offset),
                (topic.as_str(), p, s.offset),
                "{topic}/{p}: destination record {i} is a copy of the wrong source record"
            );
            assert_eq!(
                (&d.key, &d.value),
                (&s.key, &s.value),
                "{topic}/{p}/{}",
                s.offset
            );
        }
    }
}
