//! Kafka records of products-filtered and recommendations into store changes.
//!
//! A record that cannot be read becomes [`Change::Reject`] naming the record and the field, so
//! one bad record costs only itself; a registry that cannot be reached is an error instead (the
//! batch is retried, nothing is skipped).

use apache_avro::types::Value;
use vygoda_avro::wire::{Decoder, WireError};
use vygoda_ingest::avro::{self, AvroShapeError, Fields};
use vygoda_ingest::product::Product;

use crate::store::{Change, ProductRow, RecommendationRow};

/// Which table a topic feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    Products,
    Recommendations,
}

/// The change one record makes. `Err` only for a transient failure (registry unreachable).
pub async fn change(
    feed: Feed,
    decoder: &Decoder,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
) -> Result<Change, WireError> {
    let key = match key.map(std::str::from_utf8) {
        Some(Ok(k)) if !k.is_empty() => k.to_owned(),
        Some(Err(_)) => return Ok(Change::Reject("key is not UTF-8".into())),
        _ => return Ok(Change::Reject("record has no key".into())),
    };
    let Some(payload) = payload else {
        // A tombstone: the product was banned, delisted or deleted; the user's list withdrawn.
        return Ok(match feed {
            Feed::Products => Change::DeleteProduct(key),
            Feed::Recommendations => Change::DeleteRecommendations(key),
        });
    };
    let value = match decoder.decode(payload).await {
        Ok((_, value)) => value,
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => return Ok(Change::Reject(format!("key {key}: {e}"))),
    };
    let change = match feed {
        Feed::Products => Product::from_avro(value).map(|p| {
            if p.product_id == key {
                Change::PutProduct(ProductRow::from_product(p))
            } else {
                Change::Reject(format!(
                    "key {key}: product_id is {} (the key must be the product id)",
                    p.product_id
                ))
            }
        }),
        Feed::Recommendations => recommendations(value).map(|r| {
            if r.user_id == key {
                Change::PutRecommendations(r)
            } else {
                Change::Reject(format!(
                    "key {key}: user_id is {} (the key must be the user id)",
                    r.user_id
                ))
            }
        }),
    };
    Ok(change.unwrap_or_else(|e| Change::Reject(format!("key {key}: {e}"))))
}

fn double(value: Value, field: &str) -> Result<f64, AvroShapeError> {
    match value {
        Value::Double(d) => Ok(d),
        Value::Float(f) => Ok(f64::from(f)),
        Value::Union(_, inner) => double(*inner, field),
        other => Err(AvroShapeError::unexpected(field, &other)),
    }
}

/// A recommendations record (kafka/schemas/recommendations-value.avsc).
pub fn recommendations(value: Value) -> Result<RecommendationRow, AvroShapeError> {
    let mut f = Fields::of(value, "Recommendations")?;
    let items = avro::array(f.take("items")?, "items")?
        .into_iter()
        .map(|item| {
            let mut i = Fields::of(item, "Item")?;
            Ok(serde_json::json!({
                "product_id": avro::string(i.take("product_id")?, "items.product_id")?,
                "score": double(i.take("score")?, "items.score")?,
                "rank": avro::int(i.take("rank")?, "items.rank")?,
            }))
        })
        .collect::<Result<Vec<_>, AvroShapeError>>()?;
    Ok(RecommendationRow {
        user_id: avro::string(f.take("user_id")?, "user_id")?,
        run_id: avro::string(f.take("run_id")?, "run_id")?,
        model: avro::string(f.take("model")?, "model")?,
        generated_at_ms: avro::timestamp_millis(f.take("generated_at")?, "generated_at")?,
        items: serde_json::Value::Array(items),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, score: f64, rank: i32) -> Value {
        Value::Record(vec![
            ("product_id".into(), Value::String(id.into())),
            ("score".into(), Value::Double(score)),
            ("rank".into(), Value::Int(rank)),
        ])
    }

    #[test]
    fn a_recommendations_record_becomes_a_row() {
        let value = Value::Record(vec![
            ("user_id".into(), Value::String("u1".into())),
            (
                "items".into(),
                Value::Array(vec![item("p1", 0.9, 1), item("p2", 0.5, 2)]),
            ),
            ("run_id".into(), Value::String("r1".into())),
            ("model".into(), Value::String("als".into())),
            ("generated_at".into(), Value::TimestampMillis(1_000)),
            ("metrics".into(), Value::Map(Default::default())),
        ]);
        let row = recommendations(value).unwrap();
        assert_eq!(row.user_id, "u1");
        assert_eq!(row.items[1]["product_id"], "p2");
        assert_eq!(row.items[0]["rank"], 1);
        assert_eq!(row.generated_at_ms, 1_000);
    }

    #[test]
    fn a_wrong_shape_names_the_field() {
        let value = Value::Record(vec![
            ("user_id".into(), Value::String("u1".into())),
            (
                "items".into(),
                Value::Array(vec![Value::Record(vec![
                    ("product_id".into(), Value::String("p1".into())),
                    ("score".into(), Value::String("high".into())),
                    ("rank".into(), Value::Int(1)),
                ])]),
            ),
        ]);
        let error = recommendations(value).unwrap_err();
        assert_eq!(error.field, "items.score");
    }
}
