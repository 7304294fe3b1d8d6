//! The shared ban-matching table (tests/fixtures/ban_cases.json) through the ban filter's own
//! matcher. spark/tests/test_ban_cases.py runs the same table through the Spark jobs'
//! eligibility, so a product is banned in one exactly when it is banned in the other.

use serde_json::Value;
use vygoda_ingest::ban::{self, Ban, BanKind};
use vygoda_ingest::matcher::{BanSet, Matchable};

fn text(v: &Value) -> Option<&str> {
    v.as_str()
}

/// `Some(banned)` as the filter decides it, or `Err` when the case itself is malformed.
fn decide(case: &Value) -> Result<bool, String> {
    let kind = match case["ban"]["kind"].as_str() {
        Some("word") => BanKind::Word,
        Some("brand") => BanKind::Brand,
        Some("product_id") => BanKind::ProductId,
        other => return Err(format!("unknown ban kind {other:?}")),
    };
    let raw = text(&case["ban"]["value"]).ok_or("ban.value is not a string")?;
    // A value the ADMIN CLI refuses never becomes a ban: it bans nothing.
    let Ok(value) = ban::normalise(kind, raw) else {
        return Ok(false);
    };
    let bans = BanSet::single(Ban {
        kind,
        value,
        reason: "shared case".into(),
        added_by: "test".into(),
        added_at: 0,
    });
    let p = &case["product"];
    let tags: Vec<String> = p["tags"]
        .as_array()
        .ok_or("product.tags is not a list")?
        .iter()
        .map(|t| t.as_str().map(str::to_owned).ok_or("a tag is not a string"))
        .collect::<Result<_, _>>()?;
    let product = Matchable {
        product_id: text(&p["product_id"]).ok_or("product.product_id is not a string")?,
        brand: text(&p["brand"]),
        name: text(&p["name"]).ok_or("product.name is not a string")?,
        description: text(&p["description"]),
        tags: &tags,
    };
    Ok(bans.matches(product).is_some())
}

#[test]
fn the_filter_decides_every_shared_case_as_the_table_says() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/ban_cases.json"
    );
    let table: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read table"))
        .expect("table is JSON");
    let cases = table["cases"].as_array().expect("cases");
    assert!(cases.len() >= 25, "only {} cases", cases.len());
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let name = case["name"].as_str().unwrap_or("(unnamed)");
            match (decide(case), case["banned"].as_bool()) {
                (Ok(got), Some(want)) if got == want => None,
                (Ok(got), want) => {
                    Some(format!("{name}: filter says banned={got}, table {want:?}"))
                }
                (Err(e), _) => Some(format!("{name}: {e}")),
            }
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} case(s) differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
