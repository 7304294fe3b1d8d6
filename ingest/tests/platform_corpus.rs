//! The bad-input corpus through the real SHOP API: each bad record is reported with its field
//! and kind (in the returned summary and the report file), the rest of the file is published.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::{data, Topics};
use vygoda_ingest::shop_api::ShopApiError;

fn expected(file: &str) -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("bad-products/expected.json")).unwrap())
            .unwrap();
    all[file].clone()
}

async fn published_ids(topic: &str) -> BTreeSet<String> {
    common::read_all(topic.to_owned())
        .await
        .into_iter()
        .map(|r| String::from_utf8(r.key.unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_are_reported_and_the_rest_is_published() {
    let t = Topics::create("corpus", 3).await;
    for file in ["mixed.ndjson", "array.json"] {
        let exp = expected(file);
        let report = tempfile::NamedTempFile::new().unwrap();
        let report_path = report.path().display().to_string();
        let summary = t
            .publish(
                &data(&format!("bad-products/{file}")),
                &["--report", &report_path],
            )
            .await
            .expect("publish");
        let bad = exp["bad"].as_array().unwrap();
        let good = exp["good_ids"].as_array().unwrap();
        assert_eq!(
            (summary.sent, summary.rejected),
            (good.len(), bad.len()),
            "{file}"
        );

        let lines: Vec<serde_json::Value> = std::fs::read_to_string(report.path())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for case in bad {
            let hit = lines.iter().any(|l| {
                l["index"] == case["index"]
                    && l["field"] == case["field"]
                    && l["kind"] == case["kind"]
                    && l["file"].as_str().unwrap().ends_with(file)
            });
            assert!(hit, "{file}: no report line for {case}");
        }
        let ids = published_ids(&t.products.name).await;
        for g in good {
            assert!(
                ids.contains(g.as_str().unwrap()),
                "{file}: good record {g} not published"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_sends_nothing_when_anything_is_bad() {
    let t = Topics::create("aon", 1).await;
    let summary = t
        .publish(&data("bad-products/mixed.ndjson"), &["--all-or-nothing"])
        .await
        .expect("publish");
    assert_eq!(summary.sent, 0);
    assert!(summary.rejected > 0);
    assert!(published_ids(&t.products.name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_brokers_fail_the_run() {
    let t = Topics::create("down", 1).await;
    let err = t
        .publish(
            &data("bad-products/array.json"),
            &[
                "-X",
                "bootstrap.servers=127.0.0.1:9",
                "--delivery-timeout-secs",
                "5",
            ],
        )
        .await
        .expect_err("no broker on port 9");
    assert!(
        matches!(err, ShopApiError::Kafka(_) | ShopApiError::Delivery { .. }),
        "{err}"
    );
    assert_eq!(err.exit_code(), vygoda_common::exit::FAILED);
}
