//! The poison table (`vygoda_tests::poison`) against the ban filter on the live platform, on both
//! of its inputs: the table is injected into `products` between good products published through
//! the SHOP API, and into `product-bans` between good bans added with the ADMIN CLI. Every good
//! product arrives (or is held back by its ban), each bad record is dead-lettered once with its
//! source and reason and counted on /metrics, the filter keeps running, and after a SIGTERM and
//! a restart on the same topics and group nothing is dead-lettered again.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::{catalogue, read_all, tp, Topics, WAIT};
use serde_json::json;
use vygoda_tests::metrics::{free_local_addr, scrape, sum};
use vygoda_tests::poison::{self, Consumer, Poison};
use vygoda_tests::{eventually, produce, KeyValue, Record, ServiceProcess};

const DEAD_LETTERED: &str = "vygoda_ban_filter_dead_lettered_total";

fn spawn_filter(t: &Topics, metrics: SocketAddr) -> ServiceProcess {
    let mut args = t.filter_args();
    let at = args.iter().position(|a| a == "--metrics-addr").unwrap();
    args[at + 1] = metrics.to_string();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_ban-filter"),
        &refs,
        &[("RUST_LOG", "info")],
    )
}

fn product(id: &str, brand: &str) -> serde_json::Value {
    let mut p = catalogue()["100000"].clone();
    p["product_id"] = json!(id);
    p["brand"] = json!(brand);
    p
}

fn goods(range: std::ops::Range<u32>) -> Vec<serde_json::Value> {
    range
        .map(|n| product(&format!("good-{n}"), "Норвейв"))
        .collect()
}

async fn add_brand_ban(t: &Topics, brand: &str) {
    let out = t
        .admin(&[
            "add",
            "brand",
            brand,
            "--reason",
            "poison test",
            "--by",
            "test",
        ])
        .await;
    assert!(
        matches!(out, vygoda_ingest::admin::Outcome::Added { .. }),
        "{out:?}"
    );
}

fn as_records(poisons: &[Poison]) -> Vec<KeyValue> {
    poisons
        .iter()
        .map(|p| (Some(p.key.clone()), p.value.clone()))
        .collect()
}

fn header<'a>(r: &'a Record, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref())
        .map(|v| std::str::from_utf8(v).unwrap())
        .unwrap_or_else(|| panic!("dead letter without header {name}: {r:?}"))
}

/// Each poison of `poisons` that is poison to `consumer` is in `dlq` exactly once, with its
/// bytes, its position on `source` and a reason saying what is wrong; no other record of
/// `source` is there.
fn assert_reported(
    dlq: &[Record],
    source: &[Record],
    topic: &str,
    poisons: &[Poison],
    consumer: Consumer,
) {
    let from_topic: Vec<&Record> = dlq
        .iter()
        .filter(|r| header(r, "source.topic") == topic)
        .collect();
    for p in poisons {
        let letters: Vec<&&Record> = from_topic
            .iter()
            .filter(|r| r.key.as_deref() == Some(p.key.as_slice()))
            .collect();
        if !p.is_poison_for(consumer) {
            assert!(letters.is_empty(), "{} of {topic} dead-lettered", p.kind);
            continue;
        }
        assert_eq!(letters.len(), 1, "{} of {topic} dead-lettered once", p.kind);
        let letter = letters[0];
        let original = source
            .iter()
            .find(|r| r.key.as_deref() == Some(p.key.as_slice()))
            .unwrap_or_else(|| panic!("{} not on {topic}", p.kind));
        assert_eq!(
            letter.value, p.value,
            "{}: the record's bytes, untouched",
            p.kind
        );
        assert_eq!(
            header(letter, "source.partition"),
            original.partition.to_string(),
            "{}",
            p.kind
        );
        assert_eq!(
            header(letter, "source.offset"),
            original.offset.to_string(),
            "{}",
            p.kind
        );
        let reason = header(letter, "error");
        assert!(
            p.reason_matches(reason),
            "{}: reason {reason:?}, want one of {:?}",
            p.kind,
            p.reasons
        );
    }
    let expected = poisons.iter().filter(|p| p.is_poison_for(consumer)).count();
    assert_eq!(from_topic.len(), expected, "dead letters from {topic}");
}

/// Where each record is and its key: what a failure prints instead of 900 KB values.
fn positions(records: &[Record]) -> Vec<(i32, i64, String)> {
    records
        .iter()
        .map(|r| {
            (
                r.partition,
                r.offset,
                String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned(),
            )
        })
        .collect()
}

/// The dead-letter counters of the products and bans topics on the filter's /metrics.
fn dead_lettered(metrics: SocketAddr, t: &Topics) -> Option<(f64, f64)> {
    let text = scrape(metrics)?;
    let of = |topic: &str| sum(&text, DEAD_LETTERED, &format!("topic=\"{topic}\""));
    Some((of(&t.products.name)?, of(&t.bans.name)?))
}

async fn settled(t: &Topics, ids: &[String]) -> BTreeSet<String> {
    let ids = ids.to_vec();
    eventually("the good products on the filtered topic", WAIT, || {
        let ids = ids.clone();
        async move {
            let (_, latest) = t.filtered_state().await;
            let listed: BTreeSet<String> = latest
                .iter()
                .filter(|(_, p)| p.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            ids.iter().all(|id| listed.contains(id)).then_some(listed)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_poison_is_dead_lettered_once_and_good_records_pass() {
    let t = Topics::create("poison", 2).await;
    let (product_sample, ban_sample) = common::registered_samples(&t).await;
    let product_poisons = poison::records(product_sample.pair(), ban_sample.pair());
    let ban_poisons = poison::records(ban_sample.pair(), product_sample.pair());
    let admin = tp().kafka_props("prod", "admin");

    add_brand_ban(&t, "PoisonBrandA").await;
    let metrics = free_local_addr();
    let mut filter = spawn_filter(&t, metrics);

    // Products: the table between two batches of good products (and one the first ban holds).
    let mut first = goods(0..5);
    first.push(product("held-a", "PoisonBrandA"));
    assert_eq!(t.publish_json(&first).await.rejected, 0);
    produce(&admin, &t.products.name, &as_records(&product_poisons)).await;
    assert_eq!(t.publish_json(&goods(5..10)).await.rejected, 0);
    let ids = |r: std::ops::Range<u32>| r.map(|n| format!("good-{n}")).collect::<Vec<_>>();
    // Past start-up now (it has filtered products), so bad bans meet the running filter.
    settled(&t, &ids(0..10)).await;

    // Bans: the table between two good bans, then products each ban must hold back.
    add_brand_ban(&t, "PoisonBrandB").await;
    produce(&admin, &t.bans.name, &as_records(&ban_poisons)).await;
    add_brand_ban(&t, "PoisonBrandC").await;
    let mut third = goods(10..15);
    third.push(product("held-b", "PoisonBrandB"));
    third.push(product("held-c", "PoisonBrandC"));
    assert_eq!(t.publish_json(&third).await.rejected, 0);
    settled(&t, &ids(0..15)).await;

    let bad = |ps: &[Poison], c| ps.iter().filter(|p| p.is_poison_for(c)).count() as f64;
    let want = (
        bad(&product_poisons, Consumer::BanFilterProducts),
        bad(&ban_poisons, Consumer::BanFilterBans),
    );
    eventually("the dead letters counted on /metrics", WAIT, || async {
        (dead_lettered(metrics, &t) == Some(want)).then_some(())
    })
    .await;
    assert!(
        filter.is_running(),
        "the filter stopped; log {}",
        filter.log_path().display()
    );

    let dlq = read_all(t.dlq.name.clone()).await;
    let products = read_all(t.products.name.clone()).await;
    let bans = read_all(t.bans.name.clone()).await;
    assert_reported(
        &dlq,
        &products,
        &t.products.name,
        &product_poisons,
        Consumer::BanFilterProducts,
    );
    assert_reported(
        &dlq,
        &bans,
        &t.bans.name,
        &ban_poisons,
        Consumer::BanFilterBans,
    );
    assert_eq!(
        dlq.len() as f64,
        want.0 + want.1,
        "only the bad records: {:?}",
        positions(&dlq)
    );

    // The products tombstone is the shop deleting a product: forwarded, not dead-lettered.
    let (all, latest) = t.filtered_state().await;
    assert!(
        all.iter().any(
            |(r, _)| r.key.as_deref() == Some(b"poison-tombstone".as_slice()) && r.value.is_none()
        ),
        "the products tombstone was not forwarded"
    );
    // Every ban around the bad ones was applied: their products never reached the topic.
    for held in ["held-a", "held-b", "held-c"] {
        assert!(
            all.iter()
                .all(|(r, _)| r.key.as_deref() != Some(held.as_bytes())),
            "{held} passed its ban"
        );
    }
    assert!(
        latest
            .keys()
            .all(|k| k.starts_with("good-") || k == "poison-tombstone"),
        "{latest:?}"
    );

    // SIGTERM, then a new filter on the same topics and group: it does not trip over the bad
    // records again (they are behind its committed offsets, and bans read at start-up are not
    // dead-lettered), and new products still go through.
    let status = filter.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "SIGTERM exits 0: {status}; log {}",
        filter.log_path().display()
    );
    let metrics = free_local_addr();
    let mut filter = spawn_filter(&t, metrics);
    let mut fourth = goods(15..20);
    fourth.push(product("held-c-again", "PoisonBrandC"));
    assert_eq!(t.publish_json(&fourth).await.rejected, 0);
    let listed = settled(&t, &ids(0..20)).await;
    assert!(
        !listed.contains("held-c-again"),
        "a ban was lost across the restart"
    );
    assert_eq!(
        dead_lettered(metrics, &t),
        Some((0.0, 0.0)),
        "the restarted filter dead-lettered again"
    );
    let after = read_all(t.dlq.name.clone()).await;
    assert_eq!(
        positions(&after),
        positions(&dlq),
        "the dead-letter topic changed after the restart"
    );
    assert!(
        filter.is_running(),
        "the restarted filter stopped; log {}",
        filter.log_path().display()
    );
    let status = filter.terminate(Duration::from_secs(30));
    assert!(status.success(), "SIGTERM exits 0: {status}");
}
