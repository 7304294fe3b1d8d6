//! The poison table (`vygoda_tests::poison`) through the mirror on the live platform: the mirror
//! copies bytes and decodes nothing, so every record of the table, the oversized one and the
//! tombstone included, must reach the analytics cluster byte for byte and in order between the
//! good records, and a restart must copy only what is new.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vygoda_tests::poison::{self, Consumer};
use vygoda_tests::{consume_all, eventually, produce, unique_name, KeyValue, TestPlatform};

fn good(range: std::ops::Range<u32>) -> Vec<KeyValue> {
    range
        .map(|n| {
            (
                Some(format!("good-{n}").into_bytes()),
                Some(format!("value-{n}").into_bytes()),
            )
        })
        .collect()
}

/// Run the mirror until the destination holds `total` records; returns how many it copied.
async fn mirror_until(tp: &TestPlatform, topic: &str, total: i64) -> u64 {
    let analytics = tp.kafka_props("analytics", "admin");
    let stop = CancellationToken::new();
    let mirror = tokio::spawn(vygoda_mirror::run(
        support::config(tp, topic, &[]),
        stop.clone(),
    ));
    eventually(
        "every record in the destination",
        Duration::from_secs(60),
        || {
            let done = mirror.is_finished();
            let n = support::total(&analytics, topic);
            async move {
                assert!(!done, "the mirror stopped by itself");
                (n >= total).then_some(())
            }
        },
    )
    .await;
    stop.cancel();
    mirror.await.unwrap().unwrap().records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_poison_is_copied_verbatim_and_in_order() {
    let tp = TestPlatform::get();
    let topic = unique_name("mirror-poison");
    // One partition: the order of the copy is the order of the source, record for record.
    let _source = tp.create_topic("prod", &topic, 1, false).await;
    let _destination = tp.guard_topic("analytics", &topic);
    let prod = tp.kafka_props("prod", "admin");
    // Nothing is decoded: any id and bytes serve as the "real" and "foreign" schema.
    let poisons = poison::records((1, b"\x06abc\x02"), (2, b"\x02x"));
    assert!(poisons.iter().all(|p| !p.is_poison_for(Consumer::Mirror)));

    let mut records = good(0..5);
    records.extend(
        poisons
            .iter()
            .map(|p| (Some(p.key.clone()), p.value.clone())),
    );
    records.extend(good(5..10));
    produce(&prod, &topic, &records).await;
    let copied = mirror_until(tp, &topic, records.len() as i64).await;
    assert_eq!(copied, records.len() as u64);

    // A restart copies what is new, and none of the old records again.
    produce(&prod, &topic, &good(10..15)).await;
    let copied = mirror_until(tp, &topic, records.len() as i64 + 5).await;
    assert_eq!(
        copied, 5,
        "the restarted mirror copied only the new records"
    );
    records.extend(good(10..15));

    let source = consume_all(&prod, &topic);
    let copy = consume_all(&tp.kafka_props("analytics", "admin"), &topic);
    let kv = |r: &vygoda_tests::Record| (r.key.clone(), r.value.clone());
    assert!(
        source.iter().map(kv).eq(records.iter().cloned()),
        "the source does not hold what was produced"
    );
    assert_eq!(copy.len(), source.len(), "one copy of each record");
    // Record for record at the source's offsets (a fresh destination, no transaction markers).
    for (s, d) in source.iter().zip(&copy) {
        let key = String::from_utf8_lossy(s.key.as_deref().unwrap_or_default());
        assert_eq!(d.offset, s.offset, "{key}: out of order");
        assert!(
            d.key == s.key && d.value == s.value,
            "{key}: not copied byte for byte"
        );
    }
}
