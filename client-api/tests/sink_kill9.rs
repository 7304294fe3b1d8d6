//! The real `store-sink` binary killed with SIGKILL at random moments while products-filtered is
//! written (versions, deletions): after a final clean run the store holds every live product
//! exactly once, with its latest version, and none that the topic deleted; every rejected record
//! is named in `sink_rejects`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::Rng;
use sqlx::Row;
use vygoda_avro::registry::{Registry, RegistryArgs};
use vygoda_avro::schemas;
use vygoda_avro::wire::Encoder;
use vygoda_tests::{produce, unique_name, KeyValue, ServiceProcess, TempDb, TestPlatform};

const PRODUCTS: usize = 300;
const ROUNDS: usize = 6;
const KILLS: usize = 4;

fn product_json(id: &str, version: usize) -> Vec<u8> {
    serde_json::json!({
        "product_id": id,
        "name": format!("Товар {id} версия {version}"),
        "price": {"amount": 100 + version, "currency": "RUB"},
        "category": "Тест",
        "stock": {"available": version},
        "created_at": "2026-01-01T00:00:00Z",
        "store_id": "test-shop",
    })
    .to_string()
    .into_bytes()
}

async fn encoder(tp: &TestPlatform, topic: &str) -> Encoder {
    let config = RegistryArgs::default()
        .resolve(Some(&tp.platform), "admin")
        .expect("registry settings");
    let registry = Registry::new(config).expect("registry client");
    Encoder::register(
        &registry,
        &schemas::value_subject(topic),
        schemas::PRODUCTS_FILTERED,
        schemas::products_filtered(),
    )
    .await
    .expect("register the test subject")
}

fn spawn_sink(tp: &TestPlatform, db: &TempDb, products: &str, recs: &str) -> ServiceProcess {
    let platform = tp.platform_file();
    ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_store-sink"),
        &[
            "--platform",
            platform.to_str().expect("utf-8 path"),
            "--store-url",
            &db.url,
            "--products-topic",
            products,
            "--recommendations-topic",
            recs,
            "--group",
            &format!("{products}-sink"),
            // Small transactions: many commit points for the kills to fall between.
            "--max-batch",
            "17",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[("RUST_LOG", "info")],
    )
}

async fn applied(pool: &sqlx::PgPool, topic: &str) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>(
        "SELECT sum(next_offset)::bigint FROM sink_offsets WHERE topic = $1",
    )
    .bind(topic)
    .fetch_one(pool)
    .await
    .ok()
    .flatten()
    .unwrap_or(0)
}

/// Wait until the store's offsets of `topic` add up to `at_least`, failing with the sink's log if
/// it dies or two minutes pass.
async fn wait_applied(
    pool: &sqlx::PgPool,
    topic: &str,
    sink: &mut ServiceProcess,
    at_least: i64,
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while applied(pool, topic).await < at_least {
        let log = sink.log_path().display().to_string();
        assert!(sink.is_running(), "sink died waiting for {what}; log {log}");
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; log {log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_leaves_every_product_once_at_its_latest_version() {
    let tp = TestPlatform::get();
    let products = unique_name("sink-products");
    let recs = unique_name("sink-recs");
    let _p = tp.create_topic("prod", &products, 3, true).await;
    let _r = tp.create_topic("prod", &recs, 1, true).await;
    let db = TempDb::create(&tp.platform.postgres_url, "sink").await;
    let props = tp.kafka_props("prod", "admin");
    let encoder = encoder(tp, &products).await;

    // Each round publishes new products, updates or deletes (tombstone) some of the earlier
    // ones, and one garbage record. New keys make every batch matter: a batch whose offsets
    // were committed without its rows would leave products missing, not merely old. Expected:
    // the last value of each key, unless its last record is a tombstone.
    let mut expected: BTreeMap<String, Option<usize>> = BTreeMap::new();
    let mut batches: Vec<Vec<KeyValue>> = Vec::new();
    let mut rng = rand::rng();
    let value = |id: &str, round: usize| {
        let product = vygoda_ingest::product::parse_bytes(&product_json(id, round)).expect("valid");
        encoder.encode(product.to_avro()).expect("encode")
    };
    for round in 0..ROUNDS {
        let mut batch = Vec::new();
        let earlier: Vec<String> = expected.keys().cloned().collect();
        for key in earlier {
            if rng.random_ratio(1, 10) {
                batch.push((Some(key.clone().into_bytes()), None));
                expected.insert(key, None);
            } else if rng.random_ratio(1, 5) {
                batch.push((Some(key.clone().into_bytes()), Some(value(&key, round))));
                expected.insert(key, Some(round));
            }
        }
        for n in 0..PRODUCTS {
            let key = format!("r{round}-{n}");
            batch.push((Some(key.clone().into_bytes()), Some(value(&key, round))));
            expected.insert(key, Some(round));
        }
        batch.push((
            Some(format!("bad{round}").into_bytes()),
            Some(b"not avro".to_vec()),
        ));
        batches.push(batch);
    }
    let total: i64 = batches.iter().map(|b| b.len() as i64).sum();

    let pool = sqlx::PgPool::connect(&db.url).await.expect("test pool");
    let mut kills = 0;
    let mut sink = spawn_sink(tp, &db, &products, &recs);
    for batch in &batches {
        // Measured before the round is produced: the sink may apply a whole round while its
        // acknowledgements come back, and then nothing more would arrive to wait for.
        let before = applied(&pool, &products).await;
        produce(&props, &products, batch).await;
        if kills < KILLS {
            // Kill once this instance has applied something of this round, at a random moment after.
            wait_applied(
                &pool,
                &products,
                &mut sink,
                before + 1,
                "the sink to apply a batch",
            )
            .await;
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await;
            sink.kill9();
            kills += 1;
            sink = spawn_sink(tp, &db, &products, &recs);
        }
    }
    wait_applied(&pool, &products, &mut sink, total, "the sink to catch up").await;
    let status = sink.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "SIGTERM exits 0: {status}; log {}",
        sink.log_path().display()
    );
    assert_eq!(kills, KILLS);

    let rows = sqlx::query("SELECT product_id, name FROM products ORDER BY product_id")
        .fetch_all(&pool)
        .await
        .expect("products");
    let got: BTreeMap<String, String> = rows
        .iter()
        .map(|r| (r.get("product_id"), r.get("name")))
        .collect();
    let want: BTreeMap<String, String> = expected
        .iter()
        .filter_map(|(key, v)| v.map(|round| (key.clone(), format!("Товар {key} версия {round}"))))
        .collect();
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let stale: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, v)| format!("{k}: {} instead of {v}", got[k]))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && stale.is_empty(),
        "the store differs from the topic's latest values: {} missing {:?}, {} deleted but present {:?}, {} stale {:?}",
        missing.len(),
        &missing[..missing.len().min(5)],
        extra.len(),
        &extra[..extra.len().min(5)],
        stale.len(),
        &stale[..stale.len().min(5)]
    );
    let rejects: Vec<String> =
        sqlx::query_scalar("SELECT error FROM sink_rejects ORDER BY \"offset\"")
            .fetch_all(&pool)
            .await
            .expect("rejects");
    assert_eq!(
        rejects.len(),
        ROUNDS,
        "each garbage record named once: {rejects:?}"
    );
    assert!(
        rejects.iter().all(|e| e.contains("magic byte")),
        "{rejects:?}"
    );
    pool.close().await;
}
