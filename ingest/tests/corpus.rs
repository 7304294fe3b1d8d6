//! The committed data: the catalogue is entirely valid, every bad-input case is rejected with
//! the expected field and kind, and every good record next to them survives. (No platform
//! needed; the same files are published for real in `platform_corpus.rs`.)

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use vygoda_ingest::input::Format;
use vygoda_ingest::shop_api::validate;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(path)
}

fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(data("bad-products/expected.json")).unwrap()).unwrap()
}

#[test]
fn catalogue_is_valid_and_large_enough() {
    let bytes = std::fs::read(data("catalogue.json")).unwrap();
    let v = validate("catalogue.json", &bytes);
    assert_eq!(v.format, Some(Format::Array));
    assert!(v.rejected.is_empty(), "{:?}", v.rejected.first());
    assert!(v.valid.len() >= 2000);
    let ids: BTreeSet<&str> = v.valid.iter().map(|r| r.product_id.as_str()).collect();
    assert_eq!(ids.len(), v.valid.len(), "product ids are unique");
    assert!(ids.contains("123") && ids.contains("234"));
}

fn check_file(name: &str) {
    let exp = &expected()[name];
    let bytes = std::fs::read(data(&format!("bad-products/{name}"))).unwrap();
    let v = validate(name, &bytes);
    let bad = exp["bad"].as_array().unwrap();
    assert!(!bad.is_empty());
    assert_eq!(v.rejected.len(), bad.len(), "rejections: {:#?}", v.rejected);
    for (case, rejection) in bad.iter().zip(&v.rejected) {
        let label = case["label"].as_str().unwrap();
        assert_eq!(
            rejection.index as u64,
            case["index"].as_u64().unwrap(),
            "{label}"
        );
        assert_eq!(rejection.file, name);
        let want_field = case["field"].as_str().unwrap();
        let want_kind = case["kind"].as_str().unwrap();
        let found = rejection.errors.iter().any(|e| {
            e.field == want_field
                && serde_json::to_value(e.kind).unwrap() == want_kind
                && !e.reason.is_empty()
        });
        assert!(
            found,
            "{label}: expected {want_field}/{want_kind}, got {:?}",
            rejection.errors
        );
    }
    let good: Vec<&str> = exp["good_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    let valid: Vec<&str> = v.valid.iter().map(|r| r.product_id.as_str()).collect();
    assert_eq!(valid, good);
}

#[test]
fn every_bad_case_has_its_error_and_good_records_survive() {
    check_file("mixed.ndjson");
}

#[test]
fn a_broken_array_element_costs_only_itself() {
    check_file("array.json");
}

#[test]
fn corpus_covers_at_least_twenty_cases() {
    assert!(expected()["mixed.ndjson"]["bad"].as_array().unwrap().len() >= 20);
}
