//! The poison table (`vygoda_tests::poison`) against the real lake-writer binary on the live
//! platform (analytics cluster, HDFS lake): the table is injected between good records; every
//! good record lands in Parquet, each record the table marks as poison for the lake writer is
//! in the dead letters once with its topic, partition, offset and reason and counted on
//! /metrics, the others (a datum of another schema, a tombstone) are rows like any record, the
//! writer keeps running, and after a SIGTERM and a restart nothing is dead-lettered again.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod live;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use apache_avro::types::Value;
use base64::Engine as _;
use live::{hdfs, kafka_offsets, records, register, spawn_writer, writer_args};
use vygoda_lake_writer::testkit::{lake_offsets, read_dead_letters};
use vygoda_tests::metrics::{free_local_addr, scrape};
use vygoda_tests::poison::{self, Consumer, Poison};
use vygoda_tests::{
    consume_all, eventually, produce, unique_name, KeyValue, ServiceProcess, TestPlatform,
};

const DEAD_LETTERED: &str = "vygoda_lake_writer_dead_lettered_total";
const WAIT: Duration = Duration::from_secs(60);

fn spawn(tp: &TestPlatform, topic: &str, lake: &str, metrics: SocketAddr) -> ServiceProcess {
    let mut args = writer_args(tp, topic, lake, &["--max-file-age", "1s"]);
    let at = args.iter().position(|a| a == "--metrics-addr").unwrap();
    args[at + 1] = metrics.to_string();
    spawn_writer(&args)
}

/// Good wire-format records of the test schema (the helper's tombstones and garbage left out),
/// keyed `good-<n>`.
fn goods(id: u32, range: std::ops::Range<usize>) -> Vec<KeyValue> {
    let all = records(id, range.end);
    range
        .filter(|i| all[*i].1.as_ref().is_some_and(|v| v.len() > 5 && v[0] == 0))
        .map(|i| (Some(format!("good-{i}").into_bytes()), all[i].1.clone()))
        .collect()
}

/// The id and a datum of another registered schema (the product-bans value schema).
async fn foreign(tp: &TestPlatform) -> (u32, Vec<u8>) {
    let config = vygoda_avro::registry::RegistryArgs::default()
        .resolve(Some(&tp.platform), "lake-writer")
        .unwrap();
    let subject = format!("{}-value", unique_name("lake-poison-foreign"));
    let id = vygoda_avro::registry::Registry::new(config)
        .unwrap()
        .register(&subject, vygoda_avro::schemas::PRODUCT_BANS)
        .await
        .unwrap();
    let ban = Value::Record(vec![
        ("kind".into(), Value::Enum(2, "word".into())),
        ("value".into(), Value::String("poison".into())),
        ("reason".into(), Value::String("sample".into())),
        ("added_by".into(), Value::String("test".into())),
        ("added_at".into(), Value::TimestampMillis(0)),
    ]);
    let datum = apache_avro::to_avro_datum(&vygoda_avro::schemas::product_bans(), ban).unwrap();
    (id, datum)
}

/// The lake holds every offset Kafka holds, exactly once (rows and dead letters together).
async fn caught_up(tp: &TestPlatform, lake: &str, topic: &str, writer: &mut ServiceProcess) {
    let store = hdfs(lake);
    let log = writer.log_path().display().to_string();
    eventually(
        &format!("the lake to hold {topic}; log {log}"),
        WAIT,
        || {
            let running = writer.is_running();
            let (store, log) = (&store, &log);
            async move {
                assert!(running, "the writer stopped; log {log}");
                let want = kafka_offsets(tp, topic);
                let got = lake_offsets(store, topic).await.ok()?;
                (got == want).then_some(())
            }
        },
    )
    .await;
}

/// The writer's dead-letter counters of `topic` on /metrics, by reason label.
fn dead_lettered(metrics: SocketAddr, topic: &str) -> Option<BTreeMap<String, f64>> {
    let text = scrape(metrics)?;
    vygoda_lake_writer::metrics::DEAD_LETTER_REASONS
        .iter()
        .map(|reason| {
            let prefix = format!("{DEAD_LETTERED}{{topic=\"{topic}\",reason=\"{reason}\"}} ");
            let value = text
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some(((*reason).to_owned(), value))
        })
        .collect()
}

/// The metric's reason label each poison kind gets (`engine::short_reason`).
fn label(p: &Poison) -> &'static str {
    match p.kind {
        "not_framed" | "truncated_header" => "wire_format",
        "unknown_schema_id" => "unknown_schema",
        "truncated_datum" | "oversized" => "corrupt_avro",
        other => panic!("no label for {other}"),
    }
}

/// Dead letters without their bytes: what is compared after the restart, and printed.
macro_rules! summary {
    ($dead:expr) => {
        $dead
            .iter()
            .map(|d| {
                (
                    d.partition,
                    d.offset,
                    d.reason.clone(),
                    d.rejected_at.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_poison_is_dead_lettered_once_and_good_records_land() {
    let tp = TestPlatform::get();
    let topic = unique_name("lake-poison");
    let _guard = tp.create_topic("analytics", &topic, 2, false).await;
    let id = register(tp, &topic).await;
    let first = goods(id, 0..20);
    let (_, sample) = vygoda_avro::wire::split(first[0].1.as_deref().unwrap()).unwrap();
    let (foreign_id, foreign_datum) = foreign(tp).await;
    let poisons = poison::records((id, sample), (foreign_id, &foreign_datum));
    let admin = tp.kafka_props("analytics", "admin");
    let dir = tp.hdfs_dir("lake-poison");
    let lake = hdfs(&dir.url);

    let metrics = free_local_addr();
    let mut writer = spawn(tp, &topic, &dir.url, metrics);
    produce(&admin, &topic, &first).await;
    let bad: Vec<KeyValue> = poisons
        .iter()
        .map(|p| (Some(p.key.clone()), p.value.clone()))
        .collect();
    produce(&admin, &topic, &bad).await;
    produce(&admin, &topic, &goods(id, 20..40)).await;
    caught_up(tp, &dir.url, &topic, &mut writer).await;

    // Where each record sits on Kafka, by key.
    let on_kafka: BTreeMap<Vec<u8>, (i32, i64)> =
        consume_all(&tp.kafka_props("analytics", "lake-writer"), &topic)
            .into_iter()
            .map(|r| (r.key.unwrap(), (r.partition, r.offset)))
            .collect();
    let dead = read_dead_letters(&lake, &topic).await.unwrap();
    let dead_at: BTreeSet<(i32, i64)> = dead.iter().map(|d| (d.partition, d.offset)).collect();
    let rows: BTreeSet<(i32, i64)> = lake_offsets(&lake, &topic)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| !dead_at.contains(o))
        .collect();
    for p in &poisons {
        let at = on_kafka[&p.key];
        let letters: Vec<_> = dead
            .iter()
            .filter(|d| d.key.as_deref() == Some(p.key_str()))
            .collect();
        if !p.is_poison_for(Consumer::LakeWriter) {
            assert!(letters.is_empty(), "{} dead-lettered", p.kind);
            assert!(rows.contains(&at), "{} is not a row", p.kind);
            continue;
        }
        assert_eq!(letters.len(), 1, "{} dead-lettered once", p.kind);
        let d = letters[0];
        assert_eq!(
            (d.topic.as_str(), d.partition, d.offset),
            (topic.as_str(), at.0, at.1),
            "{}",
            p.kind
        );
        assert_eq!(
            d.value_base64,
            p.value.as_deref().map(b64),
            "{}: its bytes",
            p.kind
        );
        assert!(
            p.reason_matches(&d.reason),
            "{}: reason {:?}, want one of {:?}",
            p.kind,
            d.reason,
            p.reasons
        );
    }
    let bad_count = poisons
        .iter()
        .filter(|p| p.is_poison_for(Consumer::LakeWriter))
        .count();
    assert_eq!(
        dead.len(),
        bad_count,
        "only the bad records are dead letters"
    );
    for (key, at) in &on_kafka {
        if key.starts_with(b"good-") {
            assert!(rows.contains(at), "good record {at:?} is not in Parquet");
        }
    }
    let mut want: BTreeMap<String, f64> = vygoda_lake_writer::metrics::DEAD_LETTER_REASONS
        .iter()
        .map(|r| ((*r).to_owned(), 0.0))
        .collect();
    for p in poisons
        .iter()
        .filter(|p| p.is_poison_for(Consumer::LakeWriter))
    {
        *want.get_mut(label(p)).unwrap() += 1.0;
    }
    eventually("the dead letters counted on /metrics", WAIT, || {
        let got = dead_lettered(metrics, &topic);
        let want = want.clone();
        async move { (got == Some(want)).then_some(()) }
    })
    .await;
    assert!(
        writer.is_running(),
        "the writer stopped; log {}",
        writer.log_path().display()
    );

    // SIGTERM, then a new writer on the same lake: it resumes after the bad records and
    // dead-letters none of them again.
    let status = writer.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "SIGTERM exits 0: {status}; log {}",
        writer.log_path().display()
    );
    let metrics = free_local_addr();
    let mut writer = spawn(tp, &topic, &dir.url, metrics);
    produce(&admin, &topic, &goods(id, 40..60)).await;
    caught_up(tp, &dir.url, &topic, &mut writer).await;
    let zero: BTreeMap<String, f64> = want.keys().map(|k| (k.clone(), 0.0)).collect();
    assert_eq!(
        dead_lettered(metrics, &topic),
        Some(zero),
        "the restarted writer dead-lettered again"
    );
    assert_eq!(
        summary!(read_dead_letters(&lake, &topic).await.unwrap()),
        summary!(dead),
        "the dead letters changed after the restart"
    );
    assert!(
        writer.is_running(),
        "the restarted writer stopped; log {}",
        writer.log_path().display()
    );
    let status = writer.terminate(Duration::from_secs(30));
    assert!(status.success(), "SIGTERM exits 0: {status}");
}
