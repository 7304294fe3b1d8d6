//! The shops' JSON → [`Product`], with every business rule and an error per bad field.
//!
//! All problems of a record are collected (not just the first), so a shop fixes its feed in one
//! round trip. `null` counts as absent: fine for optional fields, `missing` for required ones.
//! Unknown fields are rejected: the schema has no place for them and dropping them silently
//! would break the promise that the record carries the shop's JSON exactly.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde_json::{Map, Value};

use super::chars::{self, Chars};
use super::{Amount, ErrorKind, FieldError, Image, Price, Product, Stock};
use ErrorKind::*;

/// Size limits of the business rules (documented in the schema and data/README.md).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub record_bytes: usize,
    pub id_chars: usize,
    pub name_chars: usize,
    pub description_bytes: usize,
    pub short_chars: usize,
    pub sku_chars: usize,
    pub tags: usize,
    pub tag_chars: usize,
    pub images: usize,
    pub url_chars: usize,
    pub alt_chars: usize,
    pub specs: usize,
    pub spec_key_chars: usize,
    pub spec_value_chars: usize,
}

pub const LIMITS: Limits = Limits {
    record_bytes: 1 << 20,
    id_chars: 128,
    name_chars: 512,
    description_bytes: 64 * 1024,
    short_chars: 128,
    sku_chars: 64,
    tags: 50,
    tag_chars: 64,
    images: 20,
    url_chars: 2048,
    alt_chars: 256,
    specs: 100,
    spec_key_chars: 128,
    spec_value_chars: 1024,
};

const KNOWN: &[&str] = &[
    "product_id",
    "name",
    "description",
    "price",
    "category",
    "brand",
    "stock",
    "sku",
    "tags",
    "images",
    "specifications",
    "created_at",
    "updated_at",
    "index",
    "store_id",
];

/// Raw bytes of one record (a line or an array element) → product.
pub fn parse_bytes(bytes: &[u8]) -> Result<Product, Vec<FieldError>> {
    if bytes.len() > LIMITS.record_bytes {
        return Err(vec![FieldError::new(
            "",
            TooLarge,
            format!(
                "record is {} bytes; the limit is {} (1 MiB): shorten its text (a description holds at most 64 KiB)",
                bytes.len(),
                LIMITS.record_bytes
            ),
        )]);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        vec![FieldError::new(
            "",
            InvalidUtf8,
            format!(
                "invalid UTF-8 at byte {} of the record; save the file as UTF-8",
                e.valid_up_to()
            ),
        )]
    })?;
    // Duplicate keys, numbers beyond f64 and too-deep nesting are reported with their field.
    let value = super::json::read(text)?;
    parse(&value)
}

/// A JSON value → product.
pub fn parse(value: &Value) -> Result<Product, Vec<FieldError>> {
    let Some(obj) = value.as_object() else {
        return Err(vec![FieldError::new(
            "",
            NotAnObject,
            format!("a product must be a JSON object, got {}", type_name(value)),
        )]);
    };
    let mut c = Checker::default();
    for key in obj.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        c.err(key, UnknownField, "unknown field; the products schema has no place for it (ask the platform team to evolve products-value)");
    }
    let product_id = c.req_str(obj, "", "product_id", LIMITS.id_chars, Chars::Visible);
    if let Some(id) = &product_id {
        // The id is the Kafka key and a path segment of the CLIENT API (/v1/products/{id}).
        if let Some(ch) = id
            .chars()
            .find(|&ch| ch.is_whitespace() || ch == '/' || ch == '\\')
        {
            c.err(
                "product_id",
                InvalidFormat,
                format!("contains {ch:?}; an id must not contain whitespace, `/` or `\\`: use `-` or `_` instead"),
            );
        }
    }
    let name = c.req_str(obj, "", "name", LIMITS.name_chars, Chars::Visible);
    let description = c.opt_str(obj, "", "description", usize::MAX, Chars::Text);
    if let Some(d) = &description {
        if d.len() > LIMITS.description_bytes {
            c.err(
                "description",
                TooLong,
                format!(
                    "{} bytes; the limit is {} (64 KiB)",
                    d.len(),
                    LIMITS.description_bytes
                ),
            );
        }
    }
    let price = c.object(obj, "", "price", true).and_then(|p| c.price(p));
    let category = c.req_str(obj, "", "category", LIMITS.short_chars, Chars::Visible);
    let brand = c.opt_str(obj, "", "brand", LIMITS.short_chars, Chars::Visible);
    let stock = c.object(obj, "", "stock", true).and_then(|s| c.stock(s));
    let sku = c.opt_str(obj, "", "sku", LIMITS.sku_chars, Chars::Visible);
    let tags = c.tags(obj);
    let images = c.images(obj);
    let specifications = c.specs(obj);
    let created_at = c.timestamp(obj, "created_at", true);
    let updated_at = c.timestamp(obj, "updated_at", false);
    if let (Some(created), Some(updated)) = (created_at, updated_at) {
        if updated < created {
            c.err("updated_at", Inconsistent, "is before created_at");
        }
    }
    let index = c.opt_str(obj, "", "index", LIMITS.short_chars, Chars::Visible);
    let store_id = c.req_str(obj, "", "store_id", LIMITS.sku_chars, Chars::Visible);

    match (
        product_id, name, price, category, stock, created_at, store_id,
    ) {
        (
            Some(product_id),
            Some(name),
            Some(price),
            Some(category),
            Some(stock),
            Some(created_at),
            Some(store_id),
        ) if c.errors.is_empty() => Ok(Product {
            product_id,
            name,
            description,
            price,
            category,
            brand,
            stock,
            sku,
            tags,
            images,
            specifications,
            created_at,
            updated_at,
            index,
            store_id,
        }),
        _ => Err(c.errors),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

#[derive(Default)]
struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn err(&mut self, field: &str, kind: ErrorKind, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, kind, reason));
    }

    /// The field's value, `None` if absent or null (reported as missing when `required`).
    fn get<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        path: &str,
        required: bool,
    ) -> Option<&'v Value> {
        let name = path.rsplit('.').next().unwrap_or(path);
        match obj.get(name) {
            Some(Value::Null) | None => {
                if required {
                    self.err(path, Missing, "required field is missing or null");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    fn string(
        &mut self,
        v: &Value,
        path: &str,
        max_chars: usize,
        allow_empty: bool,
        policy: Chars,
    ) -> Option<String> {
        let Some(s) = v.as_str() else {
            self.err(
                path,
                WrongType,
                format!("must be a string, got {}", type_name(v)),
            );
            return None;
        };
        if let Some(reason) = chars::forbidden(s, policy) {
            self.err(path, ForbiddenCharacter, reason);
            return None;
        }
        if !allow_empty && s.trim().is_empty() {
            self.err(
                path,
                Empty,
                if s.is_empty() {
                    "must not be empty"
                } else {
                    "must not be empty or only whitespace"
                },
            );
            return None;
        }
        let chars = s.chars().count();
        if chars > max_chars {
            self.err(
                path,
                TooLong,
                format!("{chars} characters; the limit is {max_chars}"),
            );
            return None;
        }
        Some(s.to_owned())
    }

    fn req_str(
        &mut self,
        obj: &Map<String, Value>,
        prefix: &str,
        name: &str,
        max: usize,
        policy: Chars,
    ) -> Option<String> {
        let path = join(prefix, name);
        let v = self.get(obj, &path, true)?;
        self.string(v, &path, max, false, policy)
    }

    fn opt_str(
        &mut self,
        obj: &Map<String, Value>,
        prefix: &str,
        name: &str,
        max: usize,
        policy: Chars,
    ) -> Option<String> {
        let path = join(prefix, name);
        let v = self.get(obj, &path, false)?;
        self.string(v, &path, max, true, policy)
    }

    fn object<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        prefix: &str,
        name: &str,
        required: bool,
    ) -> Option<&'v Map<String, Value>> {
        let path = join(prefix, name);
        let v = self.get(obj, &path, required)?;
        match v.as_object() {
            Some(o) => Some(o),
            None => {
                self.err(
                    &path,
                    WrongType,
                    format!("must be an object, got {}", type_name(v)),
                );
                None
            }
        }
    }

    /// An optional array field of at most `limit` items; `of` names the items in the error.
    fn array<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        name: &str,
        of: &str,
        limit: usize,
    ) -> Option<&'v Vec<Value>> {
        let v = self.get(obj, name, false)?;
        let Some(items) = v.as_array() else {
            self.err(
                name,
                WrongType,
                format!("must be an array of {of}, got {}", type_name(v)),
            );
            return None;
        };
        self.within_limit(name, items.len(), name, limit)?;
        Some(items)
    }

    /// `None` (and the error recorded) when a collection has more than `limit` `noun`.
    fn within_limit(&mut self, field: &str, n: usize, noun: &str, limit: usize) -> Option<()> {
        if n > limit {
            self.err(field, TooMany, format!("{n} {noun}; the limit is {limit}"));
            return None;
        }
        Some(())
    }

    fn unknown(&mut self, obj: &Map<String, Value>, prefix: &str, known: &[&str]) {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            self.err(
                &join(prefix, key),
                UnknownField,
                "unknown field; the products schema has no place for it",
            );
        }
    }

    fn price(&mut self, p: &Map<String, Value>) -> Option<Price> {
        self.unknown(p, "price", &["amount", "currency"]);
        let amount = self.get(p, "price.amount", true).and_then(|v| {
            let parsed = match v {
                Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Amount::parse(&i.to_string()),
                    // 1e30 or 18446744073709551616: out of range, not "not a decimal".
                    (None, Some(f)) if f.abs() >= 1e10 => Err((
                        OutOfRange,
                        format!("`{n}` is too large; the maximum is 9999999999.99"),
                    )),
                    (None, _) => Amount::parse(&n.to_string()),
                },
                Value::String(s) => Amount::parse(s),
                other => Err((
                    WrongType,
                    format!(
                        "must be a number or a decimal string, got {}",
                        type_name(other)
                    ),
                )),
            };
            parsed
                .map_err(|(kind, reason)| self.err("price.amount", kind, reason))
                .ok()
        });
        let currency = self.get(p, "price.currency", true).and_then(|v| {
            self.string(
                v,
                "price.currency",
                LIMITS.short_chars,
                false,
                Chars::Visible,
            )
        });
        let currency = currency.and_then(|c| {
            let upper = c.to_ascii_uppercase();
            if super::is_currency(&c) {
                Some(c)
            } else if super::is_currency(&upper) {
                self.err(
                    "price.currency",
                    UnknownCurrency,
                    format!(
                        "`{c}` is not upper-case; ISO 4217 codes are upper-case: send `{upper}`"
                    ),
                );
                None
            } else {
                self.err(
                    "price.currency",
                    UnknownCurrency,
                    format!("`{c}` is not an active ISO 4217 code (e.g. RUB, USD, EUR)"),
                );
                None
            }
        });
        Some(Price {
            amount: amount?,
            currency: currency?,
        })
    }

    fn int(&mut self, v: &Value, path: &str) -> Option<i32> {
        // Whole numbers beyond i64 (18446744073709551616, 1e30) arrive as u64 or f64.
        let whole_beyond_i64 = match v {
            Value::Number(n) if n.as_i64().is_none() => {
                n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        };
        if whole_beyond_i64 {
            self.err(
                path,
                OutOfRange,
                format!(
                    "{v} is out of range; stock counts are whole numbers from 0 to {}",
                    i32::MAX
                ),
            );
            return None;
        }
        let Some(n) = v.as_i64() else {
            self.err(
                path,
                WrongType,
                format!(
                    "must be a whole number, got {}",
                    if v.is_number() {
                        "a fraction"
                    } else {
                        type_name(v)
                    }
                ),
            );
            return None;
        };
        if n < 0 {
            self.err(path, OutOfRange, format!("{n} is negative"));
            return None;
        }
        match i32::try_from(n) {
            Ok(i) => Some(i),
            Err(_) => {
                self.err(path, OutOfRange, format!("{n} is above {}", i32::MAX));
                None
            }
        }
    }

    fn stock(&mut self, s: &Map<String, Value>) -> Option<Stock> {
        self.unknown(s, "stock", &["available", "reserved"]);
        let available = self
            .get(s, "stock.available", true)
            .and_then(|v| self.int(v, "stock.available"));
        let reserved = self
            .get(s, "stock.reserved", false)
            .map(|v| self.int(v, "stock.reserved"));
        let reserved = match reserved {
            Some(None) => return None,
            Some(Some(r)) => Some(r),
            None => None,
        };
        let available = available?;
        if let Some(r) = reserved {
            if r > available {
                self.err(
                    "stock.reserved",
                    Inconsistent,
                    format!("{r} reserved is more than {available} available"),
                );
                return None;
            }
        }
        Some(Stock {
            available,
            reserved,
        })
    }

    fn tags(&mut self, obj: &Map<String, Value>) -> Option<Vec<String>> {
        let items = self.array(obj, "tags", "strings", LIMITS.tags)?;
        let tags: Vec<Option<String>> = items
            .iter()
            .enumerate()
            .map(|(i, t)| {
                self.string(
                    t,
                    &format!("tags[{i}]"),
                    LIMITS.tag_chars,
                    false,
                    Chars::Visible,
                )
            })
            .collect();
        tags.into_iter().collect()
    }

    fn images(&mut self, obj: &Map<String, Value>) -> Option<Vec<Image>> {
        let items = self.array(obj, "images", "objects", LIMITS.images)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("images[{i}]");
            let Some(img) = item.as_object() else {
                self.err(
                    &prefix,
                    WrongType,
                    format!(
                        "must be an object with url and alt, got {}",
                        type_name(item)
                    ),
                );
                continue;
            };
            self.unknown(img, &prefix, &["url", "alt"]);
            let url = self
                .req_str(img, &prefix, "url", LIMITS.url_chars, Chars::Visible)
                .and_then(|u| self.url(&u, &format!("{prefix}.url")));
            let alt = self.opt_str(img, &prefix, "alt", LIMITS.alt_chars, Chars::Text);
            if let Some(url) = url {
                out.push(Image { url, alt });
            }
        }
        (out.len() == items.len()).then_some(out)
    }

    fn url(&mut self, raw: &str, path: &str) -> Option<String> {
        match url::Url::parse(raw) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some_and(|h| !h.is_empty()) =>
            {
                Some(raw.to_owned())
            }
            Ok(u) => {
                self.err(
                    path,
                    InvalidFormat,
                    format!(
                        "`{}` URLs are not allowed; use an absolute http(s) URL",
                        u.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.err(
                    path,
                    InvalidFormat,
                    format!("not an absolute http(s) URL: {e}"),
                );
                None
            }
        }
    }

    fn specs(&mut self, obj: &Map<String, Value>) -> Option<BTreeMap<String, String>> {
        let v = self.get(obj, "specifications", false)?;
        let Some(map) = v.as_object() else {
            self.err(
                "specifications",
                WrongType,
                format!("must be an object of strings, got {}", type_name(v)),
            );
            return None;
        };
        self.within_limit("specifications", map.len(), "entries", LIMITS.specs)?;
        let mut out = BTreeMap::new();
        for (k, val) in map {
            let path = format!("specifications.{k}");
            if k.trim().is_empty() {
                self.err(&path, Empty, "specification names must not be empty");
                continue;
            }
            if let Some(reason) = chars::forbidden(k, Chars::Visible) {
                self.err(&path, ForbiddenCharacter, format!("the name {reason}"));
                continue;
            }
            if k.chars().count() > LIMITS.spec_key_chars {
                self.err(
                    &path,
                    TooLong,
                    format!("name longer than {} characters", LIMITS.spec_key_chars),
                );
                continue;
            }
            if let Some(s) = self.string(val, &path, LIMITS.spec_value_chars, true, Chars::Text) {
                out.insert(k.clone(), s);
            }
        }
        (out.len() == map.len()).then_some(out)
    }

    fn timestamp(&mut self, obj: &Map<String, Value>, name: &str, required: bool) -> Option<i64> {
        let v = self.get(obj, name, required)?;
        let Some(s) = v.as_str() else {
            self.err(
                name,
                WrongType,
                format!(
                    "must be an ISO 8601 string like 2024-01-15T10:30:00Z, got {}",
                    type_name(v)
                ),
            );
            return None;
        };
        match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t.timestamp_millis() < 0 => {
                self.err(
                    name,
                    OutOfRange,
                    format!("`{s}` is before 1970-01-01T00:00:00Z; a product cannot be that old: check the date (or its year)"),
                );
                None
            }
            Ok(t) => Some(t.timestamp_millis()),
            Err(e) => {
                self.err(name, InvalidFormat, format!("`{s}` is not an ISO 8601 date-time with offset (2024-01-15T10:30:00Z): {e}"));
                None
            }
        }
    }
}
