//! Compatibility levels and the check behind them, shared by the server (registrations and
//! `/compatibility`) and the git-history test, so CI rejects exactly what the server would.
//!
//! The reading rules are apache-avro's `SchemaCompatibility::can_read`. Two gaps of that crate are
//! closed here before calling it: `decimal` and `big-decimal` fall through to "Inconclusive" even
//! when both sides are identical, so they are replaced by stand-in named types that compare by
//! precision and scale, as the Avro specification asks.

use std::fmt;

use apache_avro::error::CompatibilityError;
use apache_avro::schema::{EnumSchema, Name, RecordSchema, Schema, UnionSchema};
use serde::{Deserialize, Serialize};

/// Confluent's compatibility levels. BACKWARD (the default): consumers on the new schema can read
/// data written with the previous one. FORWARD: consumers still on the previous schema can read data
/// written with the new one. FULL: both. *_TRANSITIVE: against every live version, not only the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::None,
        Level::Backward,
        Level::BackwardTransitive,
        Level::Forward,
        Level::ForwardTransitive,
        Level::Full,
        Level::FullTransitive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Case-insensitive, as Confluent accepts `backward` too.
    pub fn parse(text: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text.trim()))
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive
        )
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a reader cannot read a writer's data: the field path (`order.items.price`, empty for the
/// top level) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "field `{}`: {}", self.path, self.reason)
        }
    }
}

/// Can data written with `writer` be read by a consumer using `reader`?
pub fn can_read(writer: &Schema, reader: &Schema) -> Result<(), Incompatibility> {
    let writer = stand_in(writer);
    let reader = stand_in(reader);
    apache_avro::schema_compatibility::SchemaCompatibility::can_read(&writer, &reader)
        .map_err(|error| explain(&error))
}

/// An earlier version of the subject, as the check sees it.
#[derive(Debug, Clone, Copy)]
pub struct Earlier<'a> {
    pub version: i32,
    pub schema: &'a Schema,
}

/// Check `new` against the live versions of a subject (oldest first) under `level`. Returns one
/// message per failed direction and version; empty means compatible.
pub fn check(level: Level, new: &Schema, earlier: &[Earlier<'_>]) -> Vec<String> {
    let against: &[Earlier<'_>] = if level.transitive() {
        earlier
    } else {
        earlier.len().checked_sub(1).map_or(&[], |i| &earlier[i..])
    };
    let mut messages = Vec::new();
    // Newest first: the most relevant failure leads the list.
    for old in against.iter().rev() {
        if level.backward() {
            if let Err(why) = can_read(old.schema, new) {
                messages.push(format!(
                    "{level}: the new schema cannot read data written with version {}: {why}",
                    old.version
                ));
            }
        }
        if level.forward() {
            if let Err(why) = can_read(new, old.schema) {
                messages.push(format!(
                    "{level}: readers on version {} cannot read data written with the new schema: {why}",
                    old.version
                ));
            }
        }
    }
    messages
}

/// Flatten apache-avro's nested error into a field path and the innermost reason.
fn explain(error: &CompatibilityError) -> Incompatibility {
    let mut path: Vec<&str> = Vec::new();
    let mut current = error;
    loop {
        match current {
            CompatibilityError::FieldTypeMismatch(field, inner) => {
                path.push(field);
                current = inner;
            }
            CompatibilityError::MissingDefaultValue(field) => {
                path.push(field);
                return Incompatibility {
                    path: path.join("."),
                    reason: "the reader has this field, the writer does not, and the reader's \
                             field has no default; add a default"
                        .to_owned(),
                };
            }
            CompatibilityError::NameMismatch {
                writer_name,
                reader_name,
            } => {
                return Incompatibility {
                    path: path.join("."),
                    reason: format!(
                        "written as {}, read as {}",
                        describe_name(writer_name),
                        describe_name(reader_name)
                    ),
                }
            }
            CompatibilityError::MissingSymbols => {
                return Incompatibility {
                    path: path.join("."),
                    reason: "the reader's enum lacks symbols the writer has; only add symbols"
                        .to_owned(),
                }
            }
            other => {
                return Incompatibility {
                    path: path.join("."),
                    reason: other.to_string(),
                }
            }
        }
    }
}

const DECIMAL_PREFIX: &str = "vygoda_decimal_";
const BIG_DECIMAL: &str = "vygoda_big_decimal";

fn describe_name(name: &str) -> String {
    if let Some(rest) = name.strip_prefix(DECIMAL_PREFIX) {
        let mut parts = rest.splitn(2, '_');
        let precision = parts.next().unwrap_or("?");
        let scale = parts.next().unwrap_or("?");
        format!("decimal(precision {precision}, scale {scale})")
    } else if name == BIG_DECIMAL {
        "big-decimal".to_owned()
    } else {
        format!("`{name}`")
    }
}

/// A copy of `schema` with decimals replaced by symbol-less enums named after precision and scale:
/// equal decimals then match, different ones fail with a name mismatch, and a decimal never
/// matches a plain type.
fn stand_in(schema: &Schema) -> Schema {
    match schema {
        Schema::Decimal(decimal) => named_stand_in(format!(
            "{DECIMAL_PREFIX}{}_{}",
            decimal.precision, decimal.scale
        )),
        Schema::BigDecimal => named_stand_in(BIG_DECIMAL.to_owned()),
        Schema::Record(record) => {
            let mut fields = record.fields.clone();
            for field in &mut fields {
                field.schema = stand_in(&field.schema);
            }
            Schema::Record(RecordSchema {
                fields,
                ..record.clone()
            })
        }
        Schema::Array(array) => {
            let mut array = array.clone();
            array.items = Box::new(stand_in(&array.items));
            Schema::Array(array)
        }
        Schema::Map(map) => {
            let mut map = map.clone();
            map.types = Box::new(stand_in(&map.types));
            Schema::Map(map)
        }
        Schema::Union(union) => {
            let variants = union.variants().iter().map(stand_in).collect();
            // The variants were a valid union before; the stand-ins are named types, which a
            // union accepts any number of, so this cannot fail. Keep the original if it does.
            UnionSchema::new(variants).map_or_else(|_| schema.clone(), Schema::Union)
        }
        other => other.clone(),
    }
}

fn named_stand_in(name: String) -> Schema {
    Schema::Enum(EnumSchema {
        name: Name {
            name,
            namespace: None,
        },
        aliases: None,
        doc: None,
        symbols: Vec::new(),
        default: None,
        attributes: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Schema {
        Schema::parse_str(text).unwrap()
    }

    const V1: &str = r#"{"type":"record","name":"Product","fields":[
        {"name":"id","type":"long"},
        {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}]}"#;

    #[test]
    fn new_required_field_breaks_backward_and_names_the_field() {
        let v2 = parse(&V1.replace(
            r#"{"name":"id","type":"long"},"#,
            r#"{"name":"id","type":"long"},{"name":"shop","type":"string"},"#,
        ));
        let why = can_read(&parse(V1), &v2).unwrap_err();
        assert_eq!(why.path, "shop");
        let messages = check(
            Level::Backward,
            &v2,
            &[Earlier {
                version: 1,
                schema: &parse(V1),
            }],
        );
        assert_eq!(messages.len(), 1);
        assert!(messages[0].contains("version 1") && messages[0].contains("`shop`"));
        // FORWARD is fine: old readers ignore the new field.
        assert!(check(
            Level::Forward,
            &v2,
            &[Earlier {
                version: 1,
                schema: &parse(V1)
            }]
        )
        .is_empty());
    }

    #[test]
    fn new_field_with_default_is_full_compatible() {
        let v2 = parse(&V1.replace(
            r#"{"name":"id","type":"long"},"#,
            r#"{"name":"id","type":"long"},{"name":"shop","type":["null","string"],"default":null},"#,
        ));
        let v1 = parse(V1);
        assert!(check(
            Level::FullTransitive,
            &v2,
            &[Earlier {
                version: 1,
                schema: &v1
            }]
        )
        .is_empty());
    }

    #[test]
    fn identical_decimals_match_and_scale_changes_do_not() {
        let v1 = parse(V1);
        assert_eq!(can_read(&v1, &v1), Ok(()));
        let rescaled = parse(&V1.replace(r#""scale":2"#, r#""scale":3"#));
        let why = can_read(&v1, &rescaled).unwrap_err();
        assert_eq!(why.path, "price");
        assert!(
            why.reason.contains("scale 2") && why.reason.contains("scale 3"),
            "{why}"
        );
    }

    #[test]
    fn transitive_checks_every_live_version_and_plain_only_the_latest() {
        let v1 = parse(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#);
        let v2 = parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int","default":0}]}"#,
        );
        // v3 makes `b` required: it reads v2's data (which has `b`) but not v1's.
        let v3 = parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}"#,
        );
        let earlier = [
            Earlier {
                version: 1,
                schema: &v1,
            },
            Earlier {
                version: 2,
                schema: &v2,
            },
        ];
        assert!(check(Level::Backward, &v3, &earlier).is_empty());
        let messages = check(Level::BackwardTransitive, &v3, &earlier);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("version 1"));
        assert!(check(Level::None, &v3, &earlier).is_empty());
    }

    #[test]
    fn type_change_is_reported_with_nested_path() {
        let v1 = parse(
            r#"{"type":"record","name":"O","fields":[{"name":"item","type":{"type":"record","name":"I","fields":[{"name":"qty","type":"long"}]}}]}"#,
        );
        let v2 = parse(
            r#"{"type":"record","name":"O","fields":[{"name":"item","type":{"type":"record","name":"I","fields":[{"name":"qty","type":"string"}]}}]}"#,
        );
        let why = can_read(&v1, &v2).unwrap_err();
        assert_eq!(why.path, "item.qty");
        // int → long promotion is allowed.
        let narrow = parse(
            r#"{"type":"record","name":"O","fields":[{"name":"item","type":{"type":"record","name":"I","fields":[{"name":"qty","type":"int"}]}}]}"#,
        );
        assert_eq!(can_read(&narrow, &v1), Ok(()));
    }

    #[test]
    fn levels_parse_case_insensitively() {
        for level in Level::ALL {
            assert_eq!(Level::parse(&level.as_str().to_lowercase()), Some(level));
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{}\"", level.as_str()));
        }
        assert_eq!(Level::parse("SIDEWAYS"), None);
    }
}
