//! The ban filter scaled out on the live platform: three instances in one consumer group share
//! the products partitions, each with the whole ban list and the product state of its own
//! partitions. A ban delists the products that passed on every partition, each instance the
//! ones it owns; an instance killed mid-stream hands its partitions to the others, and no banned
//! product reaches the filtered topic while none is lost.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use common::{catalogue, Topics, WAIT};
use serde_json::json;
use vygoda_tests::metrics::{free_local_addr, scrape, value};
use vygoda_tests::{eventually, ServiceProcess};

const OWNED: &str = "vygoda_ban_filter_partitions_owned";
const DELISTED: &str = "vygoda_ban_filter_delisted_total";

struct Instance {
    process: ServiceProcess,
    metrics: SocketAddr,
}

fn spawn(t: &Topics, n: usize) -> Instance {
    let metrics = free_local_addr();
    let mut args = t.filter_args();
    let at = args.iter().position(|a| a == "--metrics-addr").unwrap();
    args[at + 1] = metrics.to_string();
    args.extend(
        [
            "--instance-id",
            &format!("{}-{n}", t.group),
            // A killed instance's partitions move after its session times out (the brokers'
            // minimum is 6 s); the default 45 s would only make the test wait.
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "heartbeat.interval.ms=1000",
        ]
        .map(String::from),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let process = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_ban-filter"),
        &refs,
        &[("RUST_LOG", "info")],
    );
    Instance { process, metrics }
}

fn gauge(i: &Instance, name: &str) -> Option<f64> {
    value(&scrape(i.metrics)?, name)
}

/// Wait until the running instances own every partition between them, each at least one.
async fn shared(instances: &mut [Instance], partitions: f64) {
    eventually("the partitions shared by the instances", WAIT, || {
        let mut owned = Vec::new();
        for i in instances.iter_mut() {
            assert!(
                i.process.is_running(),
                "an instance exited: {:?}",
                i.process.log_path()
            );
            owned.push(gauge(i, OWNED));
        }
        async move {
            let owned: Vec<f64> = owned.into_iter().collect::<Option<_>>()?;
            (owned.iter().all(|&n| n >= 1.0) && owned.iter().sum::<f64>() == partitions)
                .then_some(())
        }
    })
    .await;
}

/// Products made from one of the catalogue's, each with its id and a brand.
fn products(prefix: &str, range: std::ops::Range<u32>, brand: &str) -> Vec<serde_json::Value> {
    let template = catalogue()["100000"].clone();
    range
        .map(|n| {
            let mut p = template.clone();
            p["product_id"] = json!(format!("{prefix}-{n}"));
            p["brand"] = json!(brand);
            p
        })
        .collect()
}

/// Each product id on the filtered topic, with the partitions its records are in.
fn partitions_by_key(records: &[vygoda_tests::Record]) -> BTreeMap<String, BTreeSet<i32>> {
    let mut by = BTreeMap::<String, BTreeSet<i32>>::new();
    for r in records {
        let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
        by.entry(key).or_default().insert(r.partition);
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_delist_a_brand_on_every_partition() {
    let t = Topics::create("scale", 6).await;
    let mut instances: Vec<Instance> = (0..3).map(|n| spawn(&t, n)).collect();
    shared(&mut instances, 6.0).await;

    let mut all = products("doomed", 0..60, "Scaledoomed");
    all.extend(products("kept", 0..60, "Scalekept"));
    let summary = t.publish_json(&all).await;
    assert_eq!(summary.sent, 120, "{summary:?}");
    eventually("every product listed", WAIT, || async {
        let (_, latest) = t.filtered_state().await;
        (latest.values().filter(|p| p.is_some()).count() == 120).then_some(())
    })
    .await;

    let out = t
        .admin(&["add", "brand", "Scaledoomed", "--reason", "scale-out test"])
        .await;
    assert!(
        matches!(out, vygoda_ingest::admin::Outcome::Added { .. }),
        "{out:?}"
    );
    let latest = eventually("the brand delisted", WAIT, || async {
        let (_, latest) = t.filtered_state().await;
        let gone = latest
            .iter()
            .filter(|(id, p)| id.starts_with("doomed-") && p.is_none())
            .count();
        (gone == 60).then_some(latest)
    })
    .await;
    for (id, p) in &latest {
        assert_eq!(p.is_some(), id.starts_with("kept-"), "{id}");
    }

    let records = t.filtered_records().await;
    let by_key = partitions_by_key(&records);
    assert!(
        by_key.values().all(|parts| parts.len() == 1),
        "a product's listing and delisting are in one partition: {by_key:?}"
    );
    let delisted_on: BTreeSet<i32> = records
        .iter()
        .filter(|r| r.value.is_none())
        .map(|r| r.partition)
        .collect();
    assert_eq!(
        delisted_on,
        (0..6).collect(),
        "tombstones on every partition"
    );
    // Each instance delisted the products of its own partitions.
    for (n, i) in instances.iter().enumerate() {
        let delisted = gauge(i, DELISTED).unwrap_or(0.0);
        assert!(delisted >= 1.0, "instance {n} delisted nothing");
    }
    let total: f64 = instances
        .iter()
        .map(|i| gauge(i, DELISTED).unwrap_or(0.0))
        .sum();
    assert_eq!(total, 60.0, "each product delisted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_hands_its_partitions_over() {
    let t = Topics::create("scale-kill", 6).await;
    let out = t
        .admin(&["add", "brand", "Scalebanned", "--reason", "scale-out test"])
        .await;
    assert!(
        matches!(out, vygoda_ingest::admin::Outcome::Added { .. }),
        "{out:?}"
    );
    let mut instances: Vec<Instance> = (0..3).map(|n| spawn(&t, n)).collect();
    shared(&mut instances, 6.0).await;

    let mut first = products("early-ok", 0..100, "Scaleallowed");
    first.extend(products("early-banned", 0..100, "Scalebanned"));
    t.publish_json(&first).await;

    // The second stream is being filtered when one instance dies.
    let mut second = products("late-ok", 0..1500, "Scaleallowed");
    second.extend(products("late-banned", 0..1500, "Scalebanned"));
    let publisher = {
        let (topic, products) = (t.products.name.clone(), second.clone());
        tokio::spawn(async move { common::publish_json_to(&topic, &products).await })
    };
    eventually("the second stream under way", WAIT, || async {
        let (_, latest) = t.filtered_state().await;
        let late = latest.keys().filter(|k| k.starts_with("late-ok-")).count();
        (late >= 50).then_some(())
    })
    .await;
    let mut victim = instances.remove(1);
    victim.process.kill9();
    let summary = publisher.await.unwrap();
    assert_eq!(summary.sent, 3000, "{summary:?}");
    shared(&mut instances, 6.0).await;

    let allowed: BTreeSet<String> = first
        .iter()
        .chain(&second)
        .filter(|p| p["brand"] == "Scaleallowed")
        .map(|p| p["product_id"].as_str().unwrap().to_owned())
        .collect();
    let (all, latest) = eventually("every allowed product listed", WAIT, || async {
        let (all, latest) = t.filtered_state().await;
        let listed = allowed
            .iter()
            .filter(|id| latest.get(*id).is_some_and(|p| p.is_some()))
            .count();
        (listed == allowed.len()).then_some((all, latest))
    })
    .await;
    let leaked: Vec<&str> = all
        .iter()
        .filter_map(|(_, p)| p.as_ref())
        .filter(|p| p.brand.as_deref() == Some("Scalebanned"))
        .map(|p| p.product_id.as_str())
        .collect();
    assert!(
        leaked.is_empty(),
        "banned products reached the filtered topic: {leaked:?}"
    );
    assert_eq!(
        latest.len(),
        allowed.len(),
        "only allowed products on the filtered topic"
    );
    assert!(
        common::read_all(t.dlq.name.clone()).await.is_empty(),
        "nothing was dead-lettered"
    );
}
