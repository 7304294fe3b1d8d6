//! The Avro schemas of `kafka/schemas/`, compiled in so a binary always writes the schema it
//! was built and tested with. Subjects follow the topic-name strategy: `<topic>-value`.

use std::sync::{Arc, OnceLock};

use apache_avro::Schema;

pub const PRODUCTS: &str = include_str!("../../kafka/schemas/products-value.avsc");
pub const PRODUCTS_FILTERED: &str =
    include_str!("../../kafka/schemas/products-filtered-value.avsc");
pub const PRODUCT_BANS: &str = include_str!("../../kafka/schemas/product-bans-value.avsc");
pub const CLIENT_EVENTS: &str = include_str!("../../kafka/schemas/client-events-value.avsc");
pub const RECOMMENDATIONS: &str = include_str!("../../kafka/schemas/recommendations-value.avsc");

/// The value subject of a topic.
pub fn value_subject(topic: &str) -> String {
    format!("{topic}-value")
}

fn parsed(cell: &'static OnceLock<Arc<Schema>>, text: &str) -> Arc<Schema> {
    cell.get_or_init(|| {
        // The texts are compiled in and parsed by a unit test, so this cannot fail at run time.
        #[allow(clippy::expect_used)]
        Arc::new(Schema::parse_str(text).expect("bundled schema parses (unit-tested)"))
    })
    .clone()
}

pub fn products() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    parsed(&S, PRODUCTS)
}

pub fn products_filtered() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    parsed(&S, PRODUCTS_FILTERED)
}

pub fn product_bans() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    parsed(&S, PRODUCT_BANS)
}

pub fn client_events() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    parsed(&S, CLIENT_EVENTS)
}

pub fn recommendations() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    parsed(&S, RECOMMENDATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_schemas_parse() {
        for text in [
            PRODUCTS,
            PRODUCTS_FILTERED,
            PRODUCT_BANS,
            CLIENT_EVENTS,
            RECOMMENDATIONS,
        ] {
            Schema::parse_str(text).unwrap();
        }
        // products-filtered carries the same record, so the filter can forward bytes unchanged.
        // (Parsing Canonical Form drops docs and logical types: it fixes the binary encoding.)
        assert_eq!(
            products().canonical_form(),
            products_filtered().canonical_form()
        );
    }

    #[test]
    fn amount_is_a_decimal_12_2() {
        let Schema::Record(r) = &*products() else {
            panic!("record")
        };
        let price = &r.fields[r.lookup["price"]].schema;
        let Schema::Record(p) = price else {
            panic!("price record")
        };
        match &p.fields[p.lookup["amount"]].schema {
            Schema::Decimal(d) => assert_eq!((d.precision, d.scale), (12, 2)),
            other => panic!("amount is {other:?}"),
        }
    }
}
