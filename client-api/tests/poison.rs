//! The poison table (`vygoda_tests::poison`) against the real `store-sink` binary on the live
//! platform: the table is injected into products-filtered between good products; every good
//! product lands in the store, each record the table marks as poison for the sink is in
//! `sink_rejects` once with its partition, offset and reason and counted on /metrics, the
//! tombstone deletes its product, the sink keeps running, and after a SIGTERM and a restart
//! nothing is rejected again.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use vygoda_avro::registry::{Registry, RegistryArgs};
use vygoda_avro::schemas;
use vygoda_avro::wire::{split, Encoder};
use vygoda_ingest::ban::{Ban, BanKind};
use vygoda_tests::metrics::{free_local_addr, scrape, sum};
use vygoda_tests::poison::{self, Consumer};
use vygoda_tests::{
    consume_all, eventually, produce, unique_name, KeyValue, ServiceProcess, TempDb, TestPlatform,
};

const WAIT: Duration = Duration::from_secs(60);

fn product_json(id: &str) -> Vec<u8> {
    serde_json::json!({
        "product_id": id,
        "name": format!("Товар {id}"),
        "price": {"amount": 100, "currency": "RUB"},
        "category": "Тест",
        "stock": {"available": 1},
        "created_at": "2026-01-01T00:00:00Z",
        "store_id": "test-shop",
    })
    .to_string()
    .into_bytes()
}

fn spawn_sink(
    tp: &TestPlatform,
    db: &TempDb,
    products: &str,
    recs: &str,
    metrics: SocketAddr,
) -> ServiceProcess {
    let platform = tp.platform_file();
    ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_store-sink"),
        &[
            "--platform",
            platform.to_str().unwrap(),
            "--store-url",
            &db.url,
            "--products-topic",
            products,
            "--recommendations-topic",
            recs,
            "--group",
            &format!("{products}-sink"),
            "--metrics-addr",
            &metrics.to_string(),
        ],
        &[("RUST_LOG", "info")],
    )
}

/// Wait until the store's offsets of `topic` reach every record Kafka holds.
async fn caught_up(tp: &TestPlatform, pool: &sqlx::PgPool, topic: &str, sink: &mut ServiceProcess) {
    let props = tp.kafka_props("prod", "admin");
    let log = sink.log_path().display().to_string();
    eventually(
        &format!("the sink to apply {topic}; log {log}"),
        WAIT,
        || {
            let running = sink.is_running();
            let (props, log) = (&props, &log);
            async move {
                assert!(running, "the sink stopped; log {log}");
                let ends: BTreeMap<i32, i64> = consume_all(props, topic)
                    .iter()
                    .map(|r| (r.partition, r.offset + 1))
                    .collect();
                let stored: Vec<(i32, i64)> = sqlx::query_as(
                    "SELECT partition, next_offset FROM sink_offsets WHERE topic = $1",
                )
                .bind(topic)
                .fetch_all(pool)
                .await
                .ok()?;
                (stored.into_iter().collect::<BTreeMap<_, _>>() == ends).then_some(())
            }
        },
    )
    .await;
}

async fn rejects(pool: &sqlx::PgPool) -> Vec<(String, i32, i64, String, String)> {
    sqlx::query_as(
        "SELECT topic, partition, \"offset\", error, at::text FROM sink_rejects
         ORDER BY partition, \"offset\"",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn rejected(metrics: SocketAddr, topic: &str) -> Option<f64> {
    sum(
        &scrape(metrics)?,
        "vygoda_store_sink_rejected_total",
        &format!("topic=\"{topic}\""),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_poison_is_rejected_once_and_good_rows_land() {
    let tp = TestPlatform::get();
    let products = unique_name("sink-poison-products");
    let recs = unique_name("sink-poison-recs");
    let _p = tp.create_topic("prod", &products, 2, true).await;
    let _r = tp.create_topic("prod", &recs, 1, true).await;
    let db = TempDb::create(&tp.platform.postgres_url, "sink_poison").await;
    let props = tp.kafka_props("prod", "admin");

    let config = RegistryArgs::default()
        .resolve(Some(&tp.platform), "admin")
        .unwrap();
    let registry = Registry::new(config).unwrap();
    let encoder = Encoder::register(
        &registry,
        &schemas::value_subject(&products),
        schemas::PRODUCTS_FILTERED,
        schemas::products_filtered(),
    )
    .await
    .unwrap();
    let bans = Encoder::register(
        &registry,
        &format!("{}-value", unique_name("sink-poison-foreign")),
        schemas::PRODUCT_BANS,
        schemas::product_bans(),
    )
    .await
    .unwrap();
    let value = |id: &str| {
        let product = vygoda_ingest::product::parse_bytes(&product_json(id)).unwrap();
        encoder.encode(product.to_avro()).unwrap()
    };
    let good = |range: std::ops::Range<u32>| -> Vec<KeyValue> {
        range
            .map(|n| format!("good-{n}"))
            .map(|id| (Some(id.clone().into_bytes()), Some(value(&id))))
            .collect()
    };
    let sample = value("sample");
    let (_, datum) = split(&sample).unwrap();
    let ban = Ban {
        kind: BanKind::Word,
        value: "poison".into(),
        reason: "sample".into(),
        added_by: "test".into(),
        added_at: 0,
    };
    let foreign = bans.encode(ban.to_avro()).unwrap();
    let (_, foreign_datum) = split(&foreign).unwrap();
    let poisons = poison::records((encoder.id, datum), (bans.id, foreign_datum));
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();

    let metrics = free_local_addr();
    let mut sink = spawn_sink(tp, &db, &products, &recs, metrics);
    // The tombstone's product exists first, so its delete has something to delete.
    let mut first = good(0..10);
    first.push((
        Some(b"poison-tombstone".to_vec()),
        Some(value("poison-tombstone")),
    ));
    produce(&props, &products, &first).await;
    let bad: Vec<KeyValue> = poisons
        .iter()
        .map(|p| (Some(p.key.clone()), p.value.clone()))
        .collect();
    produce(&props, &products, &bad).await;
    produce(&props, &products, &good(10..20)).await;
    caught_up(tp, &pool, &products, &mut sink).await;

    let ids: BTreeSet<String> = sqlx::query_scalar("SELECT product_id FROM products")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let want: BTreeSet<String> = (0..20).map(|n| format!("good-{n}")).collect();
    assert_eq!(ids, want, "every good product, and the tombstone's deleted");

    // Where each bad record sits on Kafka (the last record of its key).
    let on_kafka: BTreeMap<Vec<u8>, (i32, i64)> = consume_all(&props, &products)
        .into_iter()
        .map(|r| (r.key.unwrap(), (r.partition, r.offset)))
        .collect();
    let stored = rejects(&pool).await;
    for p in &poisons {
        let at = on_kafka[&p.key];
        let rows: Vec<_> = stored
            .iter()
            .filter(|(t, part, off, _, _)| {
                (t.as_str(), *part, *off) == (products.as_str(), at.0, at.1)
            })
            .collect();
        if !p.is_poison_for(Consumer::StoreSink) {
            assert!(rows.is_empty(), "{} rejected: {rows:?}", p.kind);
            continue;
        }
        assert_eq!(rows.len(), 1, "{} rejected once", p.kind);
        let error = &rows[0].3;
        assert!(
            p.reason_matches(error),
            "{}: reason {error:?}, want one of {:?}",
            p.kind,
            p.reasons
        );
    }
    let bad_count = poisons
        .iter()
        .filter(|p| p.is_poison_for(Consumer::StoreSink))
        .count();
    assert_eq!(stored.len(), bad_count, "only the bad records: {stored:?}");
    eventually("the rejects counted on /metrics", WAIT, || async {
        (rejected(metrics, &products) == Some(bad_count as f64)).then_some(())
    })
    .await;
    assert!(
        sink.is_running(),
        "the sink stopped; log {}",
        sink.log_path().display()
    );

    // SIGTERM, then a new sink on the same store: it resumes after the bad records and rejects
    // none of them again (the rows, their times included, stay as they were).
    let status = sink.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "SIGTERM exits 0: {status}; log {}",
        sink.log_path().display()
    );
    let metrics = free_local_addr();
    let mut sink = spawn_sink(tp, &db, &products, &recs, metrics);
    produce(&props, &products, &good(20..30)).await;
    caught_up(tp, &pool, &products, &mut sink).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 30, "the new good products after the restart");
    assert_eq!(
        rejected(metrics, &products),
        Some(0.0),
        "the restarted sink rejected again"
    );
    assert_eq!(
        rejects(&pool).await,
        stored,
        "sink_rejects changed after the restart"
    );
    assert!(
        sink.is_running(),
        "the restarted sink stopped; log {}",
        sink.log_path().display()
    );
    let status = sink.terminate(Duration::from_secs(30));
    assert!(status.success(), "SIGTERM exits 0: {status}");
    pool.close().await;
}
