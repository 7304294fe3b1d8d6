//! Client events (`kafka/schemas/client-events-value.avsc`).

use apache_avro::types::Value;

use crate::avro::{self, nullable, AvroShapeError, Fields};

/// Event types producers may write. A string in the schema (readers must tolerate new ones),
/// validated here so producers never invent one by mistake.
/// `recommend`: a client asked for its recommendations (CLIENT API).
pub const EVENT_TYPES: &[&str] = &[
    "view",
    "add_to_cart",
    "purchase",
    "review",
    "search",
    "recommend",
];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientEvent {
    pub event_id: String,
    pub user_id: String,
    pub session_id: String,
    pub event_type: String,
    pub product_id: Option<String>,
    pub query: Option<String>,
    pub rating: Option<i32>,
    /// Results a search (or recommendation request) returned; CLIENT API requests only.
    pub result_count: Option<i32>,
    /// UTC milliseconds.
    pub ts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error(
        "unknown event_type `{0}`; known: view, add_to_cart, purchase, review, search, recommend"
    )]
    UnknownType(String),
    #[error("{0} events need a product_id")]
    NeedsProduct(String),
    #[error("search events need a query")]
    NeedsQuery,
    #[error("review rating {0} is outside 1..=5")]
    Rating(i32),
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

impl ClientEvent {
    /// The rules the schema cannot express.
    pub fn validate(&self) -> Result<(), EventError> {
        for (name, v) in [
            ("event_id", &self.event_id),
            ("user_id", &self.user_id),
            ("session_id", &self.session_id),
        ] {
            if v.is_empty() {
                return Err(EventError::Empty(name));
            }
        }
        let t = self.event_type.as_str();
        if !EVENT_TYPES.contains(&t) {
            return Err(EventError::UnknownType(self.event_type.clone()));
        }
        if !matches!(t, "search" | "recommend")
            && self.product_id.as_deref().is_none_or(str::is_empty)
        {
            return Err(EventError::NeedsProduct(self.event_type.clone()));
        }
        if t == "search" && self.query.as_deref().is_none_or(str::is_empty) {
            return Err(EventError::NeedsQuery);
        }
        match (t, self.rating) {
            ("review", Some(r)) if !(1..=5).contains(&r) => Err(EventError::Rating(r)),
            _ => Ok(()),
        }
    }

    pub fn to_avro(&self) -> Value {
        let s = |v: &str| Value::String(v.to_owned());
        Value::Record(vec![
            ("event_id".into(), s(&self.event_id)),
            ("user_id".into(), s(&self.user_id)),
            ("session_id".into(), s(&self.session_id)),
            ("event_type".into(), s(&self.event_type)),
            (
                "product_id".into(),
                nullable(self.product_id.as_deref().map(s)),
            ),
            ("query".into(), nullable(self.query.as_deref().map(s))),
            ("rating".into(), nullable(self.rating.map(Value::Int))),
            ("ts".into(), Value::TimestampMillis(self.ts)),
            (
                "result_count".into(),
                nullable(self.result_count.map(Value::Int)),
            ),
        ])
    }

    pub fn from_avro(value: Value) -> Result<ClientEvent, AvroShapeError> {
        let mut f = Fields::of(value, "ClientEvent")?;
        Ok(ClientEvent {
            event_id: avro::string(f.take("event_id")?, "event_id")?,
            user_id: avro::string(f.take("user_id")?, "user_id")?,
            session_id: avro::string(f.take("session_id")?, "session_id")?,
            event_type: avro::string(f.take("event_type")?, "event_type")?,
            product_id: avro::opt_string(f.take("product_id")?, "product_id")?,
            query: avro::opt_string(f.take("query")?, "query")?,
            rating: avro::optional(f.take("rating")?)
                .map(|v| avro::int(v, "rating"))
                .transpose()?,
            ts: avro::timestamp_millis(f.take("ts")?, "ts")?,
            result_count: avro::optional(f.take("result_count")?)
                .map(|v| avro::int(v, "result_count"))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: &str) -> ClientEvent {
        ClientEvent {
            event_id: "e".into(),
            user_id: "u".into(),
            session_id: "s".into(),
            event_type: t.into(),
            product_id: Some("123".into()),
            query: None,
            rating: None,
            result_count: None,
            ts: 1,
        }
    }

    #[test]
    fn validates_types_and_fields() {
        assert!(ev("view").validate().is_ok());
        assert_eq!(
            ev("wishlist").validate(),
            Err(EventError::UnknownType("wishlist".into()))
        );
        assert_eq!(ev("search").validate(), Err(EventError::NeedsQuery));
        let mut r = ev("review");
        r.rating = Some(6);
        assert_eq!(r.validate(), Err(EventError::Rating(6)));
        let mut v = ev("purchase");
        v.product_id = None;
        assert!(v.validate().is_err());
    }

    #[test]
    fn avro_round_trip() {
        let schema = vygoda_avro::schemas::client_events();
        let mut e = ev("review");
        e.rating = Some(5);
        let bytes = apache_avro::to_avro_datum(&schema, e.to_avro()).unwrap();
        let back = apache_avro::from_avro_datum(&schema, &mut bytes.as_slice(), None).unwrap();
        assert_eq!(ClientEvent::from_avro(back).unwrap(), e);
    }
}
