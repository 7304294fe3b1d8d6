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
fn corpus_covers_at_least_forty_cases() {
    assert!(expected()["mixed.ndjson"]["bad"].as_array().unwrap().len() >= 40);
}

/// The edge cases that must be accepted (BOM at the start of the file, a CRLF line, a name mixing
/// Latin and Cyrillic look-alikes, …) are valid records at their index.
#[test]
fn accepted_edge_cases_are_valid() {
    let exp = &expected()["mixed.ndjson"];
    let bytes = std::fs::read(data("bad-products/mixed.ndjson")).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "the file starts with a BOM"
    );
    let v = validate("mixed.ndjson", &bytes);
    let accepted = exp["accepted"].as_array().unwrap();
    assert!(accepted.len() >= 4);
    for case in accepted {
        let label = case["label"].as_str().unwrap();
        let index = case["index"].as_u64().unwrap() as usize;
        let hit = v.valid.iter().find(|r| r.index == index);
        assert_eq!(
            hit.map(|r| r.product_id.as_str()),
            case["id"].as_str(),
            "{label}"
        );
    }
}

fn good_line() -> String {
    // The first line (after the BOM) is good-1; the file as a whole is not UTF-8 on purpose.
    let bytes = std::fs::read(data("bad-products/mixed.ndjson")).unwrap();
    let first = bytes[3..].split(|&b| b == b'\n').next().unwrap();
    String::from_utf8(first.to_vec()).unwrap()
}

/// A 10 MB description: the record is refused by its size before it is parsed (the reason names
/// the size and the limit), and the good neighbours on both sides still go.
#[test]
fn ten_megabyte_record_costs_only_itself() {
    let good = good_line();
    let mut product: Value = serde_json::from_str(&good).unwrap();
    product["product_id"] = "huge".into();
    product["description"] = "д".repeat(5 * 1024 * 1024).into();
    let huge = product.to_string();
    assert!(huge.len() > 10_000_000);
    let file = format!("{good}\n{huge}\n{}\n", good.replace("good-1", "good-after"));
    let v = validate("big.ndjson", file.as_bytes());
    let valid: Vec<&str> = v.valid.iter().map(|r| r.product_id.as_str()).collect();
    assert_eq!(valid, vec!["good-1", "good-after"]);
    assert_eq!(v.rejected.len(), 1);
    let r = &v.rejected[0];
    assert_eq!((r.index, r.line), (1, 2));
    let e = &r.errors[0];
    assert_eq!(serde_json::to_value(e.kind).unwrap(), "too_large");
    assert!(
        e.reason.contains("1048576") && e.reason.contains(&huge.len().to_string()),
        "{}",
        e.reason
    );
}

/// 10,000 nested arrays: serde_json's recursion limit turns it into a per-record error naming
/// the field, not a stack overflow, and the neighbours still go.
#[test]
fn deep_nesting_costs_only_its_record() {
    let good = good_line();
    let deep = good.replacen(
        "\"tags\": [",
        &format!("\"tags\": [{}{}, ", "[".repeat(10_000), "]".repeat(10_000)),
        1,
    );
    let file = format!("{good}\n{deep}\n{good}\n");
    let v = validate("deep.ndjson", file.as_bytes());
    assert_eq!(v.valid.len(), 2);
    let e = &v.rejected[0].errors[0];
    assert_eq!(
        (e.field.as_str(), serde_json::to_value(e.kind).unwrap()),
        ("tags", Value::from("too_deep"))
    );
}
