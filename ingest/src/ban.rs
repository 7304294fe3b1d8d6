//! Ban-list entries (`kafka/schemas/product-bans-value.avsc`): kinds, normalisation, keys.
//!
//! The key of an entry is `<kind>:<normalised value>`, so adding the same ban twice (in any
//! spelling) updates one entry and a tombstone on that key removes it, on a compacted topic.

use apache_avro::types::Value;

use crate::avro::{self, AvroShapeError, Fields};
use crate::text;

/// What a ban matches against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BanKind {
    /// Exact product id.
    ProductId,
    /// Normalised brand, exact.
    Brand,
    /// A word (or phrase) on Unicode word boundaries in name, description and tags.
    Word,
}

impl BanKind {
    pub const ALL: [BanKind; 3] = [BanKind::ProductId, BanKind::Brand, BanKind::Word];

    /// The Avro enum symbol, also the key prefix.
    pub fn symbol(self) -> &'static str {
        match self {
            BanKind::ProductId => "product_id",
            BanKind::Brand => "brand",
            BanKind::Word => "word",
        }
    }

    fn index(self) -> u32 {
        match self {
            BanKind::ProductId => 0,
            BanKind::Brand => 1,
            BanKind::Word => 2,
        }
    }

    pub fn from_symbol(s: &str) -> Option<BanKind> {
        BanKind::ALL.into_iter().find(|k| k.symbol() == s)
    }
}

impl std::fmt::Display for BanKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Command-line spelling: `product-id` (or `product_id`, `id`), `brand`, `word`.
impl std::str::FromStr for BanKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "product-id" | "product_id" | "id" => Ok(BanKind::ProductId),
            "brand" => Ok(BanKind::Brand),
            "word" => Ok(BanKind::Word),
            other => Err(format!(
                "unknown ban kind `{other}`; use product-id, brand or word"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BanValueError {
    #[error("the {0} to ban is empty")]
    Empty(BanKind),
    #[error("`{0}` contains no word characters; a word ban needs at least one letter or digit")]
    NoWords(String),
    #[error("product ids contain no whitespace; `{0}` cannot match any product")]
    IdWithSpace(String),
}

/// The stored (and matched) form of a ban value.
///
/// Product ids are opaque and case-sensitive: only trimmed. Brands: lowercase, ё → е, inner
/// whitespace collapsed. Words: the same, then reduced to their words joined by one space, so
/// `«Вейп!»` and `вейп` are one ban.
pub fn normalise(kind: BanKind, raw: &str) -> Result<String, BanValueError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(BanValueError::Empty(kind));
    }
    match kind {
        BanKind::ProductId => {
            if trimmed.chars().any(char::is_whitespace) {
                return Err(BanValueError::IdWithSpace(trimmed.to_owned()));
            }
            Ok(trimmed.to_owned())
        }
        BanKind::Brand => Ok(text::normalise_brand(trimmed)),
        BanKind::Word => {
            let text = text::normalise_text(trimmed);
            let words: Vec<&str> = text::words(&text).collect();
            if words.is_empty() {
                return Err(BanValueError::NoWords(trimmed.to_owned()));
            }
            Ok(words.join(" "))
        }
    }
}

/// The Kafka key of a ban: `kind:value` (value already normalised).
pub fn key(kind: BanKind, value: &str) -> String {
    format!("{}:{value}", kind.symbol())
}

/// Split a key back; `None` for keys this version does not know.
pub fn parse_key(key: &str) -> Option<(BanKind, &str)> {
    let (kind, value) = key.split_once(':')?;
    Some((BanKind::from_symbol(kind)?, value))
}

/// One ban-list entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ban {
    pub kind: BanKind,
    pub value: String,
    pub reason: String,
    pub added_by: String,
    /// UTC milliseconds.
    pub added_at: i64,
}

impl Ban {
    pub fn key(&self) -> String {
        key(self.kind, &self.value)
    }

    pub fn to_avro(&self) -> Value {
        Value::Record(vec![
            (
                "kind".into(),
                Value::Enum(self.kind.index(), self.kind.symbol().into()),
            ),
            ("value".into(), Value::String(self.value.clone())),
            ("reason".into(), Value::String(self.reason.clone())),
            ("added_by".into(), Value::String(self.added_by.clone())),
            ("added_at".into(), Value::TimestampMillis(self.added_at)),
        ])
    }

    pub fn from_avro(value: Value) -> Result<Ban, AvroShapeError> {
        let mut f = Fields::of(value, "ProductBan")?;
        let kind = match f.take("kind")? {
            Value::Enum(_, symbol) | Value::String(symbol) => BanKind::from_symbol(&symbol)
                .ok_or_else(|| AvroShapeError {
                    field: "kind".into(),
                    problem: format!("unknown ban kind `{symbol}`; upgrade the ban filter"),
                })?,
            other => return Err(AvroShapeError::unexpected("kind", &other)),
        };
        Ok(Ban {
            kind,
            value: avro::string(f.take("value")?, "value")?,
            reason: avro::string(f.take("reason")?, "reason")?,
            added_by: avro::string(f.take("added_by")?, "added_by")?,
            added_at: avro::timestamp_millis(f.take("added_at")?, "added_at")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_a_word_ban_twice_changes_nothing() {
        // The input `make fuzz` (ban_text) found: a combining mark after a carriage return.
        let raw = "\u{4}\u{0}A\r\u{5c1}\u{6}UUUUUUV";
        let once = normalise(BanKind::Word, raw).unwrap();
        assert_eq!(normalise(BanKind::Word, &once).unwrap(), once);
    }

    #[test]
    fn normalises_per_kind() {
        assert_eq!(normalise(BanKind::ProductId, "  AbC-1 ").unwrap(), "AbC-1");
        assert_eq!(
            normalise(BanKind::Brand, "  Зелёный   ДРАКОН ").unwrap(),
            "зеленый дракон"
        );
        assert_eq!(normalise(BanKind::Word, "«Вейп!»").unwrap(), "вейп");
        assert_eq!(
            normalise(BanKind::Word, "Жидкость  для ВЕЙПА").unwrap(),
            "жидкость для вейпа"
        );
        assert_eq!(normalise(BanKind::Word, "ЁЛКА").unwrap(), "елка");
        assert_eq!(
            normalise(BanKind::Word, " !!! "),
            Err(BanValueError::NoWords("!!!".into()))
        );
        assert_eq!(
            normalise(BanKind::Brand, "   "),
            Err(BanValueError::Empty(BanKind::Brand))
        );
        assert!(normalise(BanKind::ProductId, "a b").is_err());
    }

    #[test]
    fn keys_round_trip() {
        let k = key(BanKind::Brand, "зеленый дракон");
        assert_eq!(k, "brand:зеленый дракон");
        assert_eq!(parse_key(&k), Some((BanKind::Brand, "зеленый дракон")));
        assert_eq!(
            parse_key("product_id:a:b"),
            Some((BanKind::ProductId, "a:b"))
        );
        assert_eq!(parse_key("colour:red"), None);
    }

    #[test]
    fn kinds_parse_from_cli_spelling() {
        assert_eq!("product-id".parse::<BanKind>().unwrap(), BanKind::ProductId);
        assert_eq!("Brand".parse::<BanKind>().unwrap(), BanKind::Brand);
        assert!("colour".parse::<BanKind>().is_err());
    }

    #[test]
    fn avro_round_trip() {
        let schema = apache_avro::Schema::parse_str(vygoda_avro::schemas::PRODUCT_BANS).unwrap();
        let ban = Ban {
            kind: BanKind::Word,
            value: "реплика".into(),
            reason: "контрафакт, тикет SEC-1".into(),
            added_by: "ivanov".into(),
            added_at: 1_717_000_000_123,
        };
        let bytes = apache_avro::to_avro_datum(&schema, ban.to_avro()).unwrap();
        let back = apache_avro::from_avro_datum(&schema, &mut bytes.as_slice(), None).unwrap();
        assert_eq!(Ban::from_avro(back).unwrap(), ban);
    }
}
