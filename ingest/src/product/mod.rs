//! A shop's product: the typed form between the shops' JSON and the Avro record `Product`
//! (`kafka/schemas/products-value.avsc`).
//!
//! JSON → [`Product`] ([`parse`]) is where every business rule lives and every error names its
//! field; [`Product`] → Avro ([`Product::to_avro`]) and back ([`Product::from_avro`]) are total
//! and lossless, so the ban filter and the tests see exactly what the shop sent (timestamps in
//! UTC milliseconds, money as a scale-2 decimal).

mod chars;
mod json;
mod money;
mod parse;

use std::collections::BTreeMap;

use apache_avro::types::Value;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use crate::avro::{self, AvroShapeError, Fields};
pub use money::{is_currency, Amount, CURRENCIES};
pub use parse::{parse, parse_bytes, Limits, LIMITS};

/// A product as published by a shop. Optional fields are `None` when the shop omitted them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub product_id: String,
    pub name: String,
    pub description: Option<String>,
    pub price: Price,
    pub category: String,
    pub brand: Option<String>,
    pub stock: Stock,
    pub sku: Option<String>,
    pub tags: Option<Vec<String>>,
    pub images: Option<Vec<Image>>,
    pub specifications: Option<BTreeMap<String, String>>,
    /// UTC milliseconds since the epoch.
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub index: Option<String>,
    pub store_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub amount: Amount,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stock {
    pub available: i32,
    pub reserved: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub url: String,
    pub alt: Option<String>,
}

/// What went wrong with a field (stable, machine-readable; the report and tests use it). The
/// `reason` next to it says what was wrong and what to do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    MalformedJson,
    InvalidUtf8,
    NotAnObject,
    TooLarge,
    Missing,
    WrongType,
    Empty,
    TooLong,
    TooMany,
    OutOfRange,
    InvalidFormat,
    UnknownCurrency,
    UnknownField,
    Inconsistent,
    /// The same key twice in one object (`"price"` sent twice): ambiguous, never "last wins".
    DuplicateKey,
    /// JSON nested deeper than the parser's limit (128 levels) inside the field.
    TooDeep,
    /// An invisible or control character in text (zero-width, bidi override, BOM, C0/C1
    /// control): the reason names the code point.
    ForbiddenCharacter,
}

/// One problem of one field: `field` is a path such as `price.amount` or `images[1].url`
/// (empty when the whole record is unreadable).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    pub field: String,
    pub kind: ErrorKind,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, kind: ErrorKind, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

fn opt<T>(value: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    match value {
        Some(v) => Value::Union(1, Box::new(f(v))),
        None => Value::Union(0, Box::new(Value::Null)),
    }
}

impl Product {
    /// The Avro `Product` record, field order as in the schema.
    pub fn to_avro(&self) -> Value {
        let s = |v: &String| Value::String(v.clone());
        Value::Record(vec![
            ("product_id".into(), s(&self.product_id)),
            ("name".into(), s(&self.name)),
            ("description".into(), opt(self.description.as_ref(), s)),
            (
                "price".into(),
                Value::Record(vec![
                    ("amount".into(), self.price.amount.to_avro()),
                    ("currency".into(), s(&self.price.currency)),
                ]),
            ),
            ("category".into(), s(&self.category)),
            ("brand".into(), opt(self.brand.as_ref(), s)),
            (
                "stock".into(),
                Value::Record(vec![
                    ("available".into(), Value::Int(self.stock.available)),
                    ("reserved".into(), opt(self.stock.reserved, Value::Int)),
                ]),
            ),
            ("sku".into(), opt(self.sku.as_ref(), s)),
            (
                "tags".into(),
                opt(self.tags.as_ref(), |t| {
                    Value::Array(t.iter().map(s).collect())
                }),
            ),
            (
                "images".into(),
                opt(self.images.as_ref(), |imgs| {
                    Value::Array(
                        imgs.iter()
                            .map(|i| {
                                Value::Record(vec![
                                    ("url".into(), s(&i.url)),
                                    ("alt".into(), opt(i.alt.as_ref(), s)),
                                ])
                            })
                            .collect(),
                    )
                }),
            ),
            (
                "specifications".into(),
                opt(self.specifications.as_ref(), |m| {
                    Value::Map(m.iter().map(|(k, v)| (k.clone(), s(v))).collect())
                }),
            ),
            ("created_at".into(), Value::TimestampMillis(self.created_at)),
            (
                "updated_at".into(),
                opt(self.updated_at, Value::TimestampMillis),
            ),
            ("index".into(), opt(self.index.as_ref(), s)),
            ("store_id".into(), s(&self.store_id)),
        ])
    }

    /// Read a decoded (and resolved to our schema) `Product` record.
    pub fn from_avro(value: Value) -> Result<Product, AvroShapeError> {
        let mut f = Fields::of(value, "Product")?;
        let mut price = Fields::of(f.take("price")?, "Price")?;
        let mut stock = Fields::of(f.take("stock")?, "Stock")?;
        let tags = match avro::optional(f.take("tags")?) {
            Some(v) => Some(
                avro::array(v, "tags")?
                    .into_iter()
                    .map(|t| avro::string(t, "tags[]"))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let images = match avro::optional(f.take("images")?) {
            Some(v) => Some(
                avro::array(v, "images")?
                    .into_iter()
                    .map(|img| {
                        let mut i = Fields::of(img, "Image")?;
                        Ok(Image {
                            url: avro::string(i.take("url")?, "images[].url")?,
                            alt: avro::opt_string(i.take("alt")?, "images[].alt")?,
                        })
                    })
                    .collect::<Result<Vec<_>, AvroShapeError>>()?,
            ),
            None => None,
        };
        let specifications = match avro::optional(f.take("specifications")?) {
            Some(Value::Map(m)) => Some(
                m.into_iter()
                    .map(|(k, v)| Ok((k, avro::string(v, "specifications{}")?)))
                    .collect::<Result<BTreeMap<_, _>, AvroShapeError>>()?,
            ),
            Some(other) => return Err(AvroShapeError::unexpected("specifications", &other)),
            None => None,
        };
        Ok(Product {
            product_id: avro::string(f.take("product_id")?, "product_id")?,
            name: avro::string(f.take("name")?, "name")?,
            description: avro::opt_string(f.take("description")?, "description")?,
            price: Price {
                amount: Amount::from_avro(price.take("amount")?)?,
                currency: avro::string(price.take("currency")?, "price.currency")?,
            },
            category: avro::string(f.take("category")?, "category")?,
            brand: avro::opt_string(f.take("brand")?, "brand")?,
            stock: Stock {
                available: avro::int(stock.take("available")?, "stock.available")?,
                reserved: match avro::optional(stock.take("reserved")?) {
                    Some(v) => Some(avro::int(v, "stock.reserved")?),
                    None => None,
                },
            },
            sku: avro::opt_string(f.take("sku")?, "sku")?,
            tags,
            images,
            specifications,
            created_at: avro::timestamp_millis(f.take("created_at")?, "created_at")?,
            updated_at: match avro::optional(f.take("updated_at")?) {
                Some(v) => Some(avro::timestamp_millis(v, "updated_at")?),
                None => None,
            },
            index: avro::opt_string(f.take("index")?, "index")?,
            store_id: avro::string(f.take("store_id")?, "store_id")?,
        })
    }

    /// The canonical JSON form: what [`parse`] accepts and gives back this product (timestamps
    /// in UTC with milliseconds, money as a number).
    pub fn to_json(&self) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        let mut put = |k: &str, v: serde_json::Value| {
            o.insert(k.to_owned(), v);
        };
        put("product_id", json!(self.product_id));
        put("name", json!(self.name));
        if let Some(d) = &self.description {
            put("description", json!(d));
        }
        put(
            "price",
            json!({"amount": self.price.amount.to_json(), "currency": self.price.currency}),
        );
        put("category", json!(self.category));
        if let Some(b) = &self.brand {
            put("brand", json!(b));
        }
        let mut stock = json!({"available": self.stock.available});
        if let (Some(r), Some(obj)) = (self.stock.reserved, stock.as_object_mut()) {
            obj.insert("reserved".into(), json!(r));
        }
        put("stock", stock);
        if let Some(s) = &self.sku {
            put("sku", json!(s));
        }
        if let Some(t) = &self.tags {
            put("tags", json!(t));
        }
        if let Some(imgs) = &self.images {
            let list: Vec<_> = imgs
                .iter()
                .map(|i| match &i.alt {
                    Some(alt) => json!({"url": i.url, "alt": alt}),
                    None => json!({"url": i.url}),
                })
                .collect();
            put("images", json!(list));
        }
        if let Some(s) = &self.specifications {
            put("specifications", json!(s));
        }
        put("created_at", json!(format_ts(self.created_at)));
        if let Some(u) = self.updated_at {
            put("updated_at", json!(format_ts(u)));
        }
        if let Some(i) = &self.index {
            put("index", json!(i));
        }
        put("store_id", json!(self.store_id));
        serde_json::Value::Object(o)
    }
}

/// RFC 3339 in UTC with milliseconds, e.g. `2024-01-15T10:30:00.000Z`.
pub fn format_ts(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| millis.to_string())
}

#[cfg(test)]
mod tests;
