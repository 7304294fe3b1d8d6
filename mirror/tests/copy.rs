//! The mirror against the real local platform: what it copies, and the topics it creates.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use vygoda_common::kafka::client_config;
use vygoda_mirror::header::SOURCE_HEADER;
use vygoda_tests::{consume_all, eventually, unique_name, TestPlatform};

struct Sample {
    partition: i32,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(&'static str, Option<Vec<u8>>)>,
    timestamp: i64,
}

fn samples() -> Vec<Sample> {
    let ts = 1_600_000_000_000; // an old timestamp: it must survive, not become "now"
    let mut out = vec![
        Sample {
            partition: 0,
            key: Some(b"k0".to_vec()),
            value: Some(b"v0".to_vec()),
            // Repeated header names keep their order; a null header value stays null.
            headers: vec![
                ("h", Some(b"1".to_vec())),
                ("h", Some(b"2".to_vec())),
                ("null-header", None),
            ],
            timestamp: ts,
        },
        Sample {
            partition: 1,
            key: None,
            value: Some(b"no key".to_vec()),
            headers: vec![],
            timestamp: ts + 1,
        },
        Sample {
            partition: 2,
            key: Some(b"deleted".to_vec()),
            value: None, // tombstone
            headers: vec![("why", Some(b"delisted".to_vec()))],
            timestamp: ts + 2,
        },
        Sample {
            partition: 2,
            key: Some((0..=255u8).collect()),
            value: Some((0..200_000u32).map(|i| (i * 7 % 251) as u8).collect()),
            headers: vec![("bin", Some(vec![0, 255, 10, 13]))],
            timestamp: ts + 3,
        },
    ];
    for i in 0..300u32 {
        out.push(Sample {
            partition: (i % 3) as i32,
            key: Some(format!("key-{i}").into_bytes()),
            value: Some(format!("value-{i}").into_bytes()),
            headers: vec![("seq", Some(i.to_be_bytes().to_vec()))],
            timestamp: ts + 10 + i64::from(i),
        });
    }
    out
}

async fn produce(props: &BTreeMap<String, String>, topic: &str, samples: &[Sample]) {
    let producer: FutureProducer = client_config(props, &[("enable.idempotence", "true")])
        .create()
        .expect("producer");
    // One at a time, so the order within a partition is the order of `samples`.
    for s in samples {
        let headers = s.headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
            h.insert(Header {
                key: k,
                value: v.as_deref(),
            })
        });
        let mut r: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
            .partition(s.partition)
            .timestamp(s.timestamp)
            .headers(headers);
        if let Some(k) = &s.key {
            r = r.key(k);
        }
        if let Some(v) = &s.value {
            r = r.payload(v);
        }
        producer
            .send(r, Duration::from_secs(30))
            .await
            .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_key_value_headers_timestamp_and_partition() {
    let tp = TestPlatform::get();
    let topic = unique_name("mirror-fidelity");
    let _source = tp.create_topic("prod", &topic, 3, false).await;
    // The destination does not exist: the mirror creates it.
    let _destination = tp.guard_topic("analytics", &topic);
    let prod = tp.kafka_props("prod", "admin");
    let analytics = tp.kafka_props("analytics", "admin");
    let samples = samples();
    produce(&prod, &topic, &samples).await;

    let config = support::config(tp, &topic, &[]);
    let metrics_addr = config.metrics_addr;
    let stop = CancellationToken::new();
    let mirror = tokio::spawn(vygoda_mirror::run(config, stop.clone()));

    let n = samples.len() as i64;
    eventually(
        "every record in the destination",
        Duration::from_secs(60),
        || {
            let a = analytics.clone();
            let t = topic.clone();
            async move { (support::total(&a, &t) >= n).then_some(()) }
        },
    )
    .await;
    // Lag reaches 0 and the counters say what was copied.
    let text = eventually("lag 0 on /metrics", Duration::from_secs(30), || async {
        let text = support::scrape(metrics_addr)?;
        let lag: f64 = (0..3)
            .map(|p| {
                support::sample(
                    &text,
                    "vygoda_mirror_lag_records",
                    &format!("topic=\"{topic}\",partition=\"{p}\""),
                )
                .unwrap_or(f64::NAN)
            })
            .sum();
        (lag == 0.0).then_some(text)
    })
    .await;
    let copied: f64 = (0..3)
        .filter_map(|p| {
            support::sample(
                &text,
                "vygoda_mirror_copied_records_total",
                &format!("topic=\"{topic}\",partition=\"{p}\""),
            )
        })
        .sum();
    assert_eq!(copied, n as f64, "{text}");

    stop.cancel();
    let summary = mirror.await.expect("join").expect("mirror run");
    assert_eq!(summary.records, n as u64);
    assert_eq!(summary.partitions, 3);

    let source = consume_all(&prod, &topic);
    let copy = consume_all(&analytics, &topic);
    assert_eq!(copy.len(), source.len());
    for p in 0..3 {
        let src: Vec<_> = source.iter().filter(|r| r.partition == p).collect();
        let dst: Vec<_> = copy.iter().filter(|r| r.partition == p).collect();
        assert_eq!(src.len(), dst.len(), "partition {p}");
        for (s, d) in src.iter().zip(&dst) {
            assert_eq!(d.key, s.key, "key of {topic}/{p}/{}", s.offset);
            assert_eq!(d.value, s.value, "value of {topic}/{p}/{}", s.offset);
            assert_eq!(
                d.timestamp, s.timestamp,
                "timestamp of {topic}/{p}/{}",
                s.offset
            );
            let mut want = s.headers.clone();
            want.push((
                SOURCE_HEADER.to_owned(),
                Some(format!("{topic}/{p}/{}", s.offset).into_bytes()),
            ));
            assert_eq!(d.headers, want, "headers of {topic}/{p}/{}", s.offset);
        }
    }
    // What was produced is what the source holds (guards the comparison above).
    let tomb = source
        .iter()
        .find(|r| r.key.as_deref() == Some(b"deleted"))
        .expect("tombstone in source");
    assert_eq!(tomb.value, None);
    assert_eq!(
        source
            .iter()
            .filter(|r| r.timestamp == Some(1_600_000_000_000))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_the_destination_like_the_source_and_resumes_without_repeating() {
    let tp = TestPlatform::get();
    let topic = unique_name("mirror-compact");
    let _source = tp.create_topic("prod", &topic, 2, true).await;
    let _destination = tp.guard_topic("analytics", &topic);
    let prod = tp.kafka_props("prod", "admin");
    let analytics = tp.kafka_props("analytics", "admin");
    let batch = |from: u32, to: u32| -> Vec<Sample> {
        (from..to)
            .map(|i| Sample {
                partition: (i % 2) as i32,
                key: Some(format!("user-{i}").into_bytes()),
                value: Some(format!("{i}").into_bytes()),
                headers: vec![],
                timestamp: 1_700_000_000_000 + i64::from(i),
            })
            .collect()
    };

    // Two runs with records produced in between: the second resumes where the first stopped.
    for (from, to) in [(0, 50), (50, 120)] {
        produce(&prod, &topic, &batch(from, to)).await;
        let stop = CancellationToken::new();
        let mirror = tokio::spawn(vygoda_mirror::run(
            support::config(tp, &topic, &[]),
            stop.clone(),
        ));
        eventually("copy caught up", Duration::from_secs(60), || {
            let a = analytics.clone();
            let t = topic.clone();
            async move { (support::total(&a, &t) >= i64::from(to)).then_some(()) }
        })
        .await;
        stop.cancel();
        let summary = mirror.await.expect("join").expect("mirror run");
        assert_eq!(
            summary.records,
            u64::from(to - from),
            "second run copies only the new records"
        );
    }

    assert_eq!(support::high_watermarks(&analytics, &topic).len(), 2);
    let admin: AdminClient<DefaultClientContext> =
        client_config(&analytics, &[]).create().expect("admin");
    let configs = admin
        .describe_configs(&[ResourceSpecifier::Topic(&topic)], &AdminOptions::new())
        .await
        .expect("describe_configs");
    let resource = configs.into_iter().next().expect("one").expect("described");
    let policy = resource
        .entries
        .iter()
        .find(|e| e.name == "cleanup.policy")
        .and_then(|e| e.value.clone());
    assert_eq!(policy.as_deref(), Some("compact"));

    let copy = consume_all(&analytics, &topic);
    let mut offsets: Vec<(i32, i64)> = copy
        .iter()
        .map(|r| {
            let h = r
                .headers
                .iter()
                .rfind(|(k, _)| k == SOURCE_HEADER)
                .and_then(|(_, v)| v.clone())
                .expect("provenance header");
            let text = String::from_utf8(h).expect("utf-8");
            let offset = text
                .rsplit('/')
                .next()
                .expect("offset")
                .parse()
                .expect("number");
            (r.partition, offset)
        })
        .collect();
    let n = offsets.len();
    offsets.dedup();
    assert_eq!(offsets.len(), n, "a source offset copied twice");
    assert_eq!(n, 120);
}
