//! The ADMIN CLI on a ban topic holding records it cannot read (written by a buggy producer, or
//! restored from elsewhere): `ban list` shows each with where it is and why instead of failing,
//! and `ban add` / `ban remove` still work, including removing an unreadable record by its key.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{tp, Topics};
use vygoda_ingest::admin::Outcome;
use vygoda_tests::produce;

fn kv(key: &str, value: &[u8]) -> vygoda_tests::KeyValue {
    (Some(key.as_bytes().to_vec()), Some(value.to_vec()))
}

#[tokio::test]
async fn unreadable_ban_records_are_listed_not_fatal() {
    let t = Topics::create("admin-poison", 1).await;
    assert!(matches!(
        t.admin(&["add", "brand", "FakeLab", "--reason", "counterfeit"])
            .await,
        Outcome::Added { .. }
    ));
    // Offsets 1..=4, one partition: the ways a record can be unreadable (a compacted topic's
    // brokers refuse keyless records themselves).
    let framed_unknown_id = [&[0u8, 0x7f, 0xff, 0xff, 0xf0][..], b"\x02x"].concat();
    produce(
        &tp().kafka_props("prod", "admin"),
        &t.bans.name,
        &[
            kv("word:plain", b"banned word, plain text"),
            kv("word:unknown-id", &framed_unknown_id),
            kv("word:short", &[0, 0, 0]),
            kv("word:empty", b""),
        ],
    )
    .await;

    let Outcome::Listed(list) = t.admin(&["list"]).await else {
        panic!("list")
    };
    assert_eq!(list.bans.keys().collect::<Vec<_>>(), ["brand:fakelab"]);
    let mut seen: Vec<(i64, Option<&str>)> = list
        .unreadable
        .iter()
        .map(|u| (u.offset, u.key.as_deref()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (1, Some("word:plain")),
            (2, Some("word:unknown-id")),
            (3, Some("word:short")),
            (4, Some("word:empty")),
        ]
    );
    let reason = |key: &str| {
        list.unreadable
            .iter()
            .find(|u| u.key.as_deref() == Some(key))
            .map(|u| u.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("word:plain").contains("magic byte"),
        "{}",
        reason("word:plain")
    );
    assert!(
        reason("word:unknown-id").contains("2147483632"),
        "{}",
        reason("word:unknown-id")
    );
    assert!(
        reason("word:short").contains("shorter"),
        "{}",
        reason("word:short")
    );
    assert!(list
        .unreadable
        .iter()
        .all(|u| u.topic == t.bans.name && u.partition == 0));

    // Adding still works, and replaces an unreadable record under the same key.
    assert!(matches!(
        t.admin(&["add", "word", "short", "--reason", "fixed"])
            .await,
        Outcome::Added { replaced: true, .. }
    ));
    // Removing an unreadable record's key clears it with a tombstone.
    match t.admin(&["remove", "word", "plain"]).await {
        Outcome::RemovedUnreadable(bad) => assert_eq!(bad.offset, 1),
        other => panic!("{other:?}"),
    }
    let Outcome::Listed(after) = t.admin(&["list"]).await else {
        panic!("list")
    };
    assert_eq!(
        after.bans.keys().collect::<Vec<_>>(),
        ["brand:fakelab", "word:short"]
    );
    let left: Vec<Option<&str>> = after.unreadable.iter().map(|u| u.key.as_deref()).collect();
    assert_eq!(left, [Some("word:empty"), Some("word:unknown-id")]);
}
