use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use vygoda_avro::schemas;

fn sample() -> serde_json::Value {
    json!({
        "product_id": "12345",
        "name": "Умные часы XYZ",
        "description": "Умные часы с функцией мониторинга здоровья, GPS и уведомлениями.",
        "price": {"amount": 4999.99, "currency": "RUB"},
        "category": "Электроника",
        "brand": "XYZ",
        "stock": {"available": 150, "reserved": 20},
        "sku": "XYZ-12345",
        "tags": ["умные часы", "гаджеты", "технологии"],
        "images": [{"url": "https://example.com/images/product1.jpg", "alt": "Умные часы XYZ - вид спереди"}],
        "specifications": {"weight": "50g", "dimensions": "42mm x 36mm x 10mm", "battery_life": "24 hours", "water_resistance": "IP68"},
        "created_at": "2023-10-01T12:00:00Z",
        "updated_at": "2023-10-10T15:30:00+03:00",
        "index": "products",
        "store_id": "store_001"
    })
}

fn errors_of(v: serde_json::Value) -> Vec<(String, ErrorKind)> {
    parse(&v)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.kind))
        .collect()
}

#[test]
fn parses_the_shops_example_exactly() {
    let p = parse(&sample()).unwrap();
    assert_eq!(p.price.amount, Amount(499_999));
    assert_eq!(
        p.stock,
        Stock {
            available: 150,
            reserved: Some(20)
        }
    );
    assert_eq!(p.created_at, 1_696_161_600_000);
    // +03:00 is kept as the same instant in UTC.
    assert_eq!(p.updated_at, Some(1_696_941_000_000));
    assert_eq!(p.specifications.as_ref().map(BTreeMap::len), Some(4));
    assert_eq!(parse(&p.to_json()).unwrap(), p);
}

#[test]
fn omitted_optional_fields_stay_omitted() {
    let mut v = sample();
    for k in [
        "description",
        "brand",
        "sku",
        "tags",
        "images",
        "specifications",
        "updated_at",
        "index",
    ] {
        v.as_object_mut().unwrap().remove(k);
    }
    v["stock"].as_object_mut().unwrap().remove("reserved");
    let p = parse(&v).unwrap();
    assert_eq!(
        (p.description.clone(), p.tags.clone(), p.stock.reserved),
        (None, None, None)
    );
    assert_eq!(p.to_json(), parse(&p.to_json()).unwrap().to_json());
    let mut empty = sample();
    empty["tags"] = json!([]);
    assert_eq!(parse(&empty).unwrap().tags, Some(vec![]));
}

#[test]
fn reports_every_bad_field_at_once() {
    let mut v = sample();
    v["name"] = json!("");
    v["price"]["currency"] = json!("RUR");
    v["stock"]["available"] = json!(-1);
    v["images"][0]["url"] = json!("ftp://x/y.jpg");
    v["colour"] = json!("red");
    let mut errs = errors_of(v);
    errs.sort();
    assert_eq!(
        errs,
        vec![
            ("colour".into(), ErrorKind::UnknownField),
            ("images[0].url".into(), ErrorKind::InvalidFormat),
            ("name".into(), ErrorKind::Empty),
            ("price.currency".into(), ErrorKind::UnknownCurrency),
            ("stock.available".into(), ErrorKind::OutOfRange),
        ]
    );
}

#[test]
fn money_rules() {
    let with = |amount: serde_json::Value| {
        let mut v = sample();
        v["price"]["amount"] = amount;
        parse(&v)
    };
    assert_eq!(
        with(json!("1299.90")).unwrap().price.amount,
        Amount(129_990)
    );
    assert_eq!(with(json!(0)).unwrap().price.amount, Amount(0));
    assert_eq!(
        with(json!(10.999)).unwrap_err()[0].kind,
        ErrorKind::InvalidFormat
    );
    assert_eq!(
        with(json!(-0.01)).unwrap_err()[0].kind,
        ErrorKind::OutOfRange
    );
    assert_eq!(
        with(json!(1e12)).unwrap_err()[0].kind,
        ErrorKind::OutOfRange
    );
    assert_eq!(with(json!(true)).unwrap_err()[0].kind, ErrorKind::WrongType);
}

#[test]
fn record_level_errors() {
    let e = parse_bytes(b"{\"product_id\": ").unwrap_err();
    assert_eq!(
        (e[0].field.as_str(), e[0].kind),
        ("", ErrorKind::MalformedJson)
    );
    let e = parse_bytes(b"{\"name\": \"\xff\"}").unwrap_err();
    assert_eq!(e[0].kind, ErrorKind::InvalidUtf8);
    let e = parse_bytes(b"\"just a string\"").unwrap_err();
    assert_eq!(e[0].kind, ErrorKind::NotAnObject);
}

#[test]
fn avro_round_trip_of_the_example() {
    let schema = schemas::products();
    let p = parse(&sample()).unwrap();
    let bytes = apache_avro::to_avro_datum(&schema, p.to_avro()).unwrap();
    let back = apache_avro::from_avro_datum(&schema, &mut bytes.as_slice(), None).unwrap();
    assert_eq!(Product::from_avro(back).unwrap(), p);
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[а-яА-ЯёЁa-zA-Z0-9 ,.«»\"\\\\/-]{{1,{max}}}"))
        .unwrap()
        .prop_filter("not blank", |s| !s.trim().is_empty())
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:-]{1,20}"
}

prop_compose! {
    fn arb_product()(
        product_id in id(), name in text(40), description in proptest::option::of(text(200)),
        amount in 0i64..=money::MAX_UNSCALED, currency in proptest::sample::select(CURRENCIES.to_vec()),
        category in text(20), brand in proptest::option::of(text(20)),
        available in 0i32..=i32::MAX, reserved_frac in proptest::option::of(0.0f64..=1.0),
        sku in proptest::option::of(id()),
        tags in proptest::option::of(proptest::collection::vec(text(10), 0..6)),
        images in proptest::option::of(proptest::collection::vec((id(), proptest::option::of(text(20))), 0..4)),
        specs in proptest::option::of(proptest::collection::btree_map(text(10), "[а-яa-z0-9 ]{0,10}", 0..5)),
        created in 0i64..4_102_444_800_000, delta in proptest::option::of(0i64..1_000_000_000),
        index in proptest::option::of(id()), store_id in id(),
    ) -> Product {
        Product {
            product_id, name, description,
            price: Price { amount: Amount(amount), currency: currency.to_owned() },
            category, brand,
            stock: Stock { available, reserved: reserved_frac.map(|f| (f64::from(available) * f) as i32) },
            sku, tags,
            images: images.map(|v| v.into_iter().map(|(path, alt)| Image { url: format!("https://cdn.example/{path}.jpg"), alt }).collect()),
            specifications: specs,
            created_at: created, updated_at: delta.map(|d| created + d),
            index, store_id,
        }
    }
}

proptest! {
    /// JSON → product → JSON is the identity on canonical JSON, and parsing it gives the product.
    #[test]
    fn json_round_trip(p in arb_product()) {
        let json = p.to_json();
        let back = parse(&json).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.to_json(), json);
    }

    /// product → Avro bytes (validated against products-value) → product is the identity.
    #[test]
    fn avro_round_trip(p in arb_product()) {
        let schema = schemas::products();
        let bytes = apache_avro::to_avro_datum(&schema, p.to_avro()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let value = apache_avro::from_avro_datum(&schema, &mut bytes.as_slice(), None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Product::from_avro(value).map_err(|e| TestCaseError::fail(e.to_string()))?, p);
    }
}

#[test]
fn edge_values_name_their_field() {
    let one = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = sample();
        edit(&mut v);
        parse(&v).unwrap_err().remove(0)
    };
    let e = one(&|v| v["stock"]["available"] = json!(18_446_744_073_709_551_615u64));
    assert_eq!(
        (e.field.as_str(), e.kind),
        ("stock.available", ErrorKind::OutOfRange)
    );
    let e = one(&|v| v["stock"]["reserved"] = json!(1e30));
    assert_eq!(
        (e.field.as_str(), e.kind),
        ("stock.reserved", ErrorKind::OutOfRange)
    );
    let e = one(&|v| v["stock"]["available"] = json!(2.5));
    assert_eq!(e.kind, ErrorKind::WrongType);
    let e = one(&|v| v["price"]["amount"] = json!(1e30));
    assert_eq!(
        (e.field.as_str(), e.kind),
        ("price.amount", ErrorKind::OutOfRange)
    );
    let e = one(&|v| v["price"]["currency"] = json!("rub"));
    assert_eq!(e.kind, ErrorKind::UnknownCurrency);
    assert!(
        e.reason.contains("upper-case") && e.reason.contains("`RUB`"),
        "{}",
        e.reason
    );
    let e = one(&|v| v["created_at"] = json!("0001-01-01T00:00:00Z"));
    assert_eq!(
        (e.field.as_str(), e.kind),
        ("created_at", ErrorKind::OutOfRange)
    );
    let e = one(&|v| v["name"] = json!("Ori\u{200B}on"));
    assert_eq!(
        (e.field.as_str(), e.kind),
        ("name", ErrorKind::ForbiddenCharacter)
    );
    assert!(e.reason.contains("U+200B"), "{}", e.reason);
    let e = one(&|v| v["specifications"] = json!({"Ве\u{200B}с": "5"}));
    assert_eq!(e.kind, ErrorKind::ForbiddenCharacter);
    let e = one(&|v| v["product_id"] = json!("a\\b"));
    assert_eq!(
        (e.field.as_str(), e.kind),
        ("product_id", ErrorKind::InvalidFormat)
    );
    // Confusables are accepted (see chars.rs): a Latin `a` in a Cyrillic word.
    let mut v = sample();
    v["name"] = json!("Умные чaсы XYZ");
    assert!(parse(&v).is_ok());
}
