//! The `recommendations-value` record and its Avro binary encoding, written by hand so that the
//! bytes are a pure function of the record: map entries in key order, items in rank order. A
//! general encoder that walks a HashMap would give different bytes for the same run.

use std::collections::BTreeMap;

/// The schema registered for the topic's values (kafka/schemas/recommendations-value.avsc).
pub const SCHEMA: &str = vygoda_avro::schemas::RECOMMENDATIONS;

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub product_id: String,
    pub score: f64,
    pub rank: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub user_id: String,
    pub items: Vec<Item>,
    pub run_id: String,
    pub model: String,
    pub generated_at_ms: i64,
    pub metrics: BTreeMap<String, f64>,
}

fn put_long(buf: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64; // zig-zag
    while z >= 0x80 {
        buf.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    buf.push(z as u8);
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_long(buf, s.len() as i64);
    buf.extend_from_slice(s.as_bytes());
}

fn put_double(buf: &mut Vec<u8>, f: f64) {
    buf.extend_from_slice(&f.to_le_bytes());
}

/// Avro binary encoding of one record (fields in schema order; one block per array/map).
pub fn encode(r: &Recommendation) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + r.items.len() * 24 + r.metrics.len() * 24);
    put_str(&mut buf, &r.user_id);
    if !r.items.is_empty() {
        put_long(&mut buf, r.items.len() as i64);
        for item in &r.items {
            put_str(&mut buf, &item.product_id);
            put_double(&mut buf, item.score);
            put_long(&mut buf, i64::from(item.rank));
        }
    }
    put_long(&mut buf, 0);
    put_str(&mut buf, &r.run_id);
    put_str(&mut buf, &r.model);
    put_long(&mut buf, r.generated_at_ms);
    if !r.metrics.is_empty() {
        put_long(&mut buf, r.metrics.len() as i64);
        for (k, v) in &r.metrics {
            put_str(&mut buf, k);
            put_double(&mut buf, *v);
        }
    }
    put_long(&mut buf, 0);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Value;
    use proptest::prelude::*;

    fn decode(bytes: &[u8]) -> Value {
        let schema = apache_avro::Schema::parse_str(SCHEMA).unwrap();
        let mut reader = bytes;
        let v = apache_avro::from_avro_datum(&schema, &mut reader, None).unwrap();
        assert!(reader.is_empty(), "trailing bytes");
        v
    }

    fn expected(r: &Recommendation) -> Value {
        let items = r
            .items
            .iter()
            .map(|i| {
                Value::Record(vec![
                    ("product_id".into(), Value::String(i.product_id.clone())),
                    ("score".into(), Value::Double(i.score)),
                    ("rank".into(), Value::Int(i.rank)),
                ])
            })
            .collect();
        Value::Record(vec![
            ("user_id".into(), Value::String(r.user_id.clone())),
            ("items".into(), Value::Array(items)),
            ("run_id".into(), Value::String(r.run_id.clone())),
            ("model".into(), Value::String(r.model.clone())),
            (
                "generated_at".into(),
                Value::TimestampMillis(r.generated_at_ms),
            ),
            (
                "metrics".into(),
                Value::Map(
                    r.metrics
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::Double(*v)))
                        .collect(),
                ),
            ),
        ])
    }

    fn rec() -> impl Strategy<Value = Recommendation> {
        let item =
            ("\\PC{0,12}", -1e6f64..1e6, any::<i32>()).prop_map(|(product_id, score, rank)| Item {
                product_id,
                score,
                rank,
            });
        (
            "\\PC{0,16}",
            proptest::collection::vec(item, 0..12),
            "[a-z0-9-]{1,30}",
            "[a-z+]{0,20}",
            any::<i64>(),
            proptest::collection::btree_map("\\PC{0,10}", -1e3f64..1e3, 0..6),
        )
            .prop_map(
                |(user_id, items, run_id, model, generated_at_ms, metrics)| Recommendation {
                    user_id,
                    items,
                    run_id,
                    model,
                    generated_at_ms,
                    metrics,
                },
            )
    }

    proptest! {
        #[test]
        fn round_trips_through_a_general_avro_decoder(r in rec()) {
            prop_assert_eq!(decode(&encode(&r)), expected(&r));
        }

        #[test]
        fn encoding_is_deterministic(r in rec()) {
            let mut shuffled = r.clone();
            // Same content built in another order: BTreeMap keeps the bytes identical.
            shuffled.metrics = r.metrics.iter().rev().map(|(k, v)| (k.clone(), *v)).collect();
            prop_assert_eq!(encode(&r), encode(&shuffled));
        }
    }

    #[test]
    fn zigzag_varints() {
        let mut b = Vec::new();
        put_long(&mut b, -1);
        put_long(&mut b, 64);
        assert_eq!(b, vec![0x01, 0x80, 0x01]);
    }
}
