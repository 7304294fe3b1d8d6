//! The scenario end to end on the real platform: SHOP API → ban filter (real binary) →
//! products-filtered, with bans from the ADMIN CLI.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{brand_of, catalogue, Topics, WAIT};
use serde_json::json;
use vygoda_ingest::admin::Outcome;
use vygoda_tests::eventually;

fn sentinel(n: u32) -> serde_json::Value {
    let mut p = catalogue()["100000"].clone();
    p["product_id"] = json!(format!("sentinel-{n}"));
    p
}

/// Publish `products` followed by a sentinel on a one-partition topic and wait until the
/// sentinel is on the filtered topic: everything before it has then been processed.
async fn publish_and_settle(t: &Topics, products: &[serde_json::Value], n: u32) {
    let mut all = products.to_vec();
    all.push(sentinel(n));
    let summary = t.publish_json(&all).await;
    assert_eq!((summary.sent, summary.rejected), (all.len(), 0));
    let id = format!("sentinel-{n}");
    eventually(&format!("{id} on the filtered topic"), WAIT, || async {
        let (_, latest) = t.filtered_state().await;
        latest.get(&id).and_then(Option::as_ref).map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ban_unban_and_retroactive_brand_ban() {
    let t = Topics::create("scenario", 1).await;
    let mut filter = t.spawn_filter(&[]);
    let cat = catalogue();

    // 1. Product 123 passes.
    publish_and_settle(&t, &[cat["123"].clone()], 1).await;
    let (_, latest) = t.filtered_state().await;
    assert_eq!(
        latest["123"].as_ref().map(|p| p.name.clone()),
        cat["123"]["name"].as_str().map(str::to_owned)
    );

    // 2. Ban 234, then publish it: it must not appear.
    let out = t
        .admin(&[
            "add",
            "product-id",
            " 234 ",
            "--reason",
            "scenario",
            "--by",
            "test",
        ])
        .await;
    assert!(
        matches!(out, Outcome::Added { ref ban, .. } if ban.key() == "product_id:234"),
        "{out:?}"
    );
    publish_and_settle(&t, &[cat["234"].clone()], 2).await;
    let (all, _) = t.filtered_state().await;
    assert!(
        all.iter()
            .all(|(r, _)| r.key.as_deref() != Some(b"234".as_slice())),
        "banned 234 reached the filtered topic"
    );

    // 3. Unban 234, publish it again: it appears.
    assert!(matches!(
        t.admin(&["remove", "product-id", "234"]).await,
        Outcome::Removed(_)
    ));
    assert!(matches!(
        t.admin(&["remove", "product-id", "234"]).await,
        Outcome::NotBanned { .. }
    ));
    publish_and_settle(&t, &[cat["234"].clone()], 3).await;
    let (_, latest) = t.filtered_state().await;
    assert!(
        latest.get("234").and_then(Option::as_ref).is_some(),
        "234 listed after unban"
    );

    // 4. Products of a brand pass; banning the brand (another spelling) tombstones them.
    let fakelab: Vec<serde_json::Value> = cat
        .values()
        .filter(|p| brand_of(p) == "fakelab")
        .take(4)
        .cloned()
        .collect();
    assert_eq!(fakelab.len(), 4);
    publish_and_settle(&t, &fakelab, 4).await;
    let ids: Vec<String> = fakelab
        .iter()
        .map(|p| p["product_id"].as_str().unwrap().to_owned())
        .collect();
    let (_, latest) = t.filtered_state().await;
    assert!(
        ids.iter()
            .all(|id| latest.get(id).and_then(Option::as_ref).is_some()),
        "brand listed before the ban"
    );

    t.admin(&[
        "add",
        "brand",
        "FAKELAB",
        "--reason",
        "counterfeit",
        "--by",
        "test",
    ])
    .await;
    eventually("tombstones for the banned brand", WAIT, || async {
        let (_, latest) = t.filtered_state().await;
        ids.iter()
            .all(|id| matches!(latest.get(id), Some(None)))
            .then_some(())
    })
    .await;
    let (_, latest) = t.filtered_state().await;
    assert!(
        latest["123"].is_some() && latest["234"].is_some(),
        "unrelated products stay listed"
    );

    // 5. The list shows exactly the brand ban, normalised.
    match t.admin(&["list"]).await {
        Outcome::Listed(list) => {
            assert_eq!(list.bans.keys().collect::<Vec<_>>(), vec!["brand:fakelab"]);
            assert_eq!(list.bans["brand:fakelab"].reason, "counterfeit");
            assert_eq!(list.unreadable, []);
        }
        other => panic!("{other:?}"),
    }

    // 6. Graceful shutdown exits 0.
    let status = filter.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "ban-filter exit {status:?}; log {}",
        filter.log_path().display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unban_relists_held_product_and_words_match_cyrillic() {
    let t = Topics::create("relist", 1).await;
    let _filter = t.spawn_filter(&[]);
    let cat = catalogue();

    t.admin(&[
        "add",
        "word",
        "Реплика",
        "--reason",
        "counterfeit",
        "--by",
        "test",
    ])
    .await;
    let mut replica = cat["100000"].clone();
    replica["product_id"] = json!("replica-1");
    replica["name"] = json!("Часы «РЕПЛИКА» швейцарских");
    let mut lookalike = cat["100000"].clone();
    lookalike["product_id"] = json!("lookalike-1");
    lookalike["name"] = json!("Репликатор идей");
    publish_and_settle(&t, &[replica, lookalike], 1).await;
    let (_, latest) = t.filtered_state().await;
    assert!(
        !latest.contains_key("replica-1"),
        "word ban matched case-insensitively"
    );
    assert!(
        latest.get("lookalike-1").and_then(Option::as_ref).is_some(),
        "no substring match"
    );

    // Lifting the ban lists the held version without the shop publishing again.
    t.admin(&["remove", "word", "реплика"]).await;
    eventually("held product relisted", WAIT, || async {
        let (_, latest) = t.filtered_state().await;
        latest.get("replica-1").and_then(Option::as_ref).map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_records_go_to_the_dead_letter_topic() {
    let t = Topics::create("dlq", 1).await;
    let _filter = t.spawn_filter(&[]);
    let props = common::tp().kafka_props("prod", "shop-api");
    vygoda_tests::produce(
        &props,
        &t.products.name,
        &[(
            Some(b"raw-1".to_vec()),
            Some(b"{\"not\": \"avro\"}".to_vec()),
        )],
    )
    .await;
    publish_and_settle(&t, &[], 1).await;
    let dlq = eventually("a dead letter", WAIT, || async {
        let records = common::read_all(t.dlq.name.clone()).await;
        (!records.is_empty()).then_some(records)
    })
    .await;
    assert_eq!(dlq.len(), 1);
    let h = |k: &str| {
        dlq[0]
            .headers
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.clone())
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(h("source.topic").as_deref(), Some(t.products.name.as_str()));
    assert_eq!(h("source.offset").as_deref(), Some("0"));
    assert!(
        h("error").is_some_and(|e| e.contains("magic")),
        "{:?}",
        h("error")
    );
    assert_eq!(
        dlq[0].value.as_deref(),
        Some(b"{\"not\": \"avro\"}".as_slice())
    );
}
