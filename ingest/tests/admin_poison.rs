//! The ADMIN CLI on a ban topic holding records it cannot read (written by a buggy producer, or
//! restored from elsewhere): `ban list` shows each with where it is and why instead of failing,
//! and `ban add` / `ban remove` still work, including removing an unreadable record by its key.
//! The shared poison table (`vygoda_tests::poison`) runs through it between good bans.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{registered_samples, tp, Topics};
use vygoda_ingest::admin::{BanList, Outcome};
use vygoda_tests::poison::{self, Consumer};
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

async fn listed(t: &Topics) -> BanList {
    match t.admin(&["list"]).await {
        Outcome::Listed(list) => list,
        other => panic!("ban list: {other:?}"),
    }
}

#[tokio::test]
async fn the_poison_table_is_listed_between_good_bans() {
    let t = Topics::create("admin-poison-table", 1).await;
    let (product, ban) = registered_samples(&t).await;
    let poisons = poison::records(ban.pair(), product.pair());
    let add = |brand: &'static str| {
        let t = &t;
        async move {
            let out = t
                .admin(&["add", "brand", brand, "--reason", "poison table"])
                .await;
            assert!(matches!(out, Outcome::Added { .. }), "{out:?}");
        }
    };
    add("BeforePoison").await;
    let records: Vec<vygoda_tests::KeyValue> = poisons
        .iter()
        .map(|p| (Some(p.key.clone()), p.value.clone()))
        .collect();
    produce(&tp().kafka_props("prod", "admin"), &t.bans.name, &records).await;
    add("AfterPoison").await;

    let expected: Vec<&str> = poisons
        .iter()
        .filter(|p| p.is_poison_for(Consumer::Admin))
        .map(|p| p.key_str())
        .collect();
    let check = |list: &BanList| {
        assert_eq!(
            list.bans.keys().collect::<Vec<_>>(),
            ["brand:afterpoison", "brand:beforepoison"],
            "every good ban is listed, and no bad record as a ban"
        );
        let mut keys: Vec<&str> = list
            .unreadable
            .iter()
            .map(|u| u.key.as_deref().unwrap_or_default())
            .collect();
        keys.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(
            keys, want,
            "each bad record listed once; the tombstone not at all"
        );
        for bad in &list.unreadable {
            let p = poisons
                .iter()
                .find(|p| p.key_str() == bad.key.as_deref().unwrap())
                .unwrap();
            assert!(p.reason_matches(&bad.reason), "{}: {}", p.kind, bad.reason);
            assert_eq!(
                (bad.topic.as_str(), bad.partition),
                (t.bans.name.as_str(), 0)
            );
        }
    };
    let first = listed(&t).await;
    check(&first);
    // Another invocation reads the same records again and trips over none of them.
    let again = listed(&t).await;
    check(&again);
    let offsets = |l: &BanList| l.unreadable.iter().map(|u| u.offset).collect::<Vec<_>>();
    assert_eq!(offsets(&first), offsets(&again));
}
