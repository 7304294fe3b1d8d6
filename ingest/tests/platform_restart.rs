//! Crash safety of the ban filter: kill -9 mid-stream, add a ban while it is down, restart.
//! Afterwards the filtered topic holds exactly the allowed catalogue, no banned product was
//! ever written after its ban, and products passed before the crash-time ban were tombstoned.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{brand_of, catalogue, data, Topics, WAIT};
use vygoda_ingest::ban::{normalise, BanKind};
use vygoda_ingest::matcher::{BanSet, Matchable};
use vygoda_ingest::product::Product;
use vygoda_tests::eventually;

fn banset(bans: &[(BanKind, &str)]) -> BanSet {
    let mut set = BanSet::new();
    for (kind, raw) in bans {
        let ban = vygoda_ingest::ban::Ban {
            kind: *kind,
            value: normalise(*kind, raw).unwrap(),
            reason: "t".into(),
            added_by: "t".into(),
            added_at: 0,
        };
        set.apply(&ban.key(), Some(ban));
    }
    set
}

/// Records on the filtered topic, cheaply: the sum of its high watermarks.
async fn filtered_count(t: &Topics) -> i64 {
    let props = common::tp().kafka_props("prod", "operator");
    let topic = t.filtered.name.clone();
    tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let c: BaseConsumer = vygoda_common::kafka::client_config(&props, &[])
            .create()
            .unwrap();
        (0..3)
            .map(|p| {
                c.fetch_watermarks(&topic, p, Duration::from_secs(10))
                    .map(|(_, h)| h)
                    .unwrap_or(0)
            })
            .sum()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_then_restart_never_leaks_a_banned_product() {
    let t = Topics::create("restart", 3).await;
    let cat = catalogue();
    let before = [
        (BanKind::ProductId, "234"),
        (BanKind::Brand, "FakeLab"),
        (BanKind::Word, "реплика"),
    ];
    for (kind, value) in before {
        let kind_flag = match kind {
            BanKind::ProductId => "product-id",
            BanKind::Brand => "brand",
            BanKind::Word => "word",
        };
        t.admin(&[
            "add",
            kind_flag,
            value,
            "--reason",
            "restart test",
            "--by",
            "test",
        ])
        .await;
    }
    // The whole catalogue waits on the topic; small batches make the run long enough to kill.
    let summary = t
        .publish(&data("catalogue.json"), &[])
        .await
        .expect("publish catalogue");
    assert_eq!(summary.rejected, 0);
    let mut filter = t.spawn_filter(&["--max-batch", "20"]);
    let deadline = Instant::now() + WAIT;
    while filtered_count(&t).await < 100 {
        assert!(
            Instant::now() < deadline,
            "filter made no progress; log {}",
            filter.log_path().display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    filter.kill9();
    let at_kill = filtered_count(&t).await;
    let allowed_before = cat
        .values()
        .filter(|p| {
            let p = vygoda_ingest::product::parse(p).unwrap();
            banset(&before).matches(Matchable::from(&p)).is_none()
        })
        .count() as i64;
    assert!(
        at_kill < allowed_before,
        "killed after {at_kill} records: not mid-stream"
    );

    // A ban arrives while the filter is down: products of that brand already passed must be
    // delisted at restart, and none may be written after the ban.
    t.admin(&[
        "add",
        "brand",
        "Зелёный Дракон",
        "--reason",
        "while down",
        "--by",
        "test",
    ])
    .await;
    let ban_acked_ms = chrono::Utc::now().timestamp_millis();
    let mut filter = t.spawn_filter(&["--max-batch", "20"]);

    let all_bans = banset(&[
        (BanKind::ProductId, "234"),
        (BanKind::Brand, "FakeLab"),
        (BanKind::Word, "реплика"),
        (BanKind::Brand, "Зелёный Дракон"),
    ]);
    let parsed: BTreeMap<String, Product> = cat
        .iter()
        .map(|(id, p)| (id.clone(), vygoda_ingest::product::parse(p).unwrap()))
        .collect();
    let expected: BTreeSet<String> = parsed
        .iter()
        .filter(|(_, p)| all_bans.matches(Matchable::from(*p)).is_none())
        .map(|(id, _)| id.clone())
        .collect();
    assert!(expected.len() < cat.len());

    let (records, latest) = eventually(
        "filtered topic holds exactly the allowed catalogue",
        WAIT * 2,
        || async {
            let (records, latest) = t.filtered_state().await;
            let listed: BTreeSet<String> = latest
                .iter()
                .filter(|(_, p)| p.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            (listed == expected).then_some((records, latest))
        },
    )
    .await;

    // Bans in place before the run: never on the topic at all.
    let first = banset(&before);
    for (record, product) in &records {
        if let Some(p) = product {
            assert!(
                first.matches(Matchable::from(p)).is_none(),
                "banned product {} reached the filtered topic",
                p.product_id
            );
            // The crash-time ban: nothing of that brand written after it was acknowledged.
            if brand_of(&cat[&p.product_id]) == "зеленый дракон" {
                assert!(
                    record.timestamp.unwrap_or(0) < ban_acked_ms,
                    "{} written after its ban",
                    p.product_id
                );
            }
        }
    }
    // Products of the crash-time brand that were listed before the crash are tombstoned now.
    for (id, p) in &latest {
        if brand_of(&cat[id]) == "зеленый дракон" {
            assert!(p.is_none(), "{id} still listed");
        }
    }
    let status = filter.terminate(Duration::from_secs(30));
    assert!(status.success(), "log {}", filter.log_path().display());
}
