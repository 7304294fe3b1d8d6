//! Reading decoded Avro values into typed structs.
//!
//! Decoding resolves every record to our reader schema first, so a shape error here means a
//! writer schema that does not resolve to ours the way we expect: the record goes to the
//! dead-letter topic with this error, it never stops a service.

use apache_avro::types::Value;

/// A decoded value does not have the shape of our schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Avro value does not match the expected schema at `{field}`: {problem}")]
pub struct AvroShapeError {
    pub field: String,
    pub problem: String,
}

impl AvroShapeError {
    pub fn unexpected(field: &str, got: &Value) -> Self {
        AvroShapeError {
            field: field.to_owned(),
            problem: format!("unexpected {}", kind(got)),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int(_) => "int",
        Value::Long(_) => "long",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Record(_) => "record",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Union(..) => "union",
        Value::Enum(..) => "enum",
        Value::Decimal(_) => "decimal",
        Value::TimestampMillis(_) => "timestamp-millis",
        _ => "value",
    }
}

/// The fields of one record, taken out by name.
#[derive(Debug)]
pub struct Fields {
    record: &'static str,
    fields: Vec<(String, Value)>,
}

impl Fields {
    pub fn of(value: Value, record: &'static str) -> Result<Self, AvroShapeError> {
        match value {
            Value::Record(fields) => Ok(Fields { record, fields }),
            other => Err(AvroShapeError::unexpected(record, &other)),
        }
    }

    pub fn take(&mut self, name: &str) -> Result<Value, AvroShapeError> {
        let pos = self
            .fields
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| AvroShapeError {
                field: format!("{}.{name}", self.record),
                problem: "missing".into(),
            })?;
        Ok(self.fields.swap_remove(pos).1)
    }
}

/// `Some(inner)` for a non-null union branch (or a plain value), `None` for null.
pub fn optional(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Union(_, inner) => optional(*inner),
        other => Some(other),
    }
}

pub fn string(value: Value, field: &str) -> Result<String, AvroShapeError> {
    match value {
        Value::String(s) => Ok(s),
        Value::Union(_, inner) => string(*inner, field),
        other => Err(AvroShapeError::unexpected(field, &other)),
    }
}

pub fn opt_string(value: Value, field: &str) -> Result<Option<String>, AvroShapeError> {
    optional(value).map(|v| string(v, field)).transpose()
}

pub fn int(value: Value, field: &str) -> Result<i32, AvroShapeError> {
    match value {
        Value::Int(i) => Ok(i),
        Value::Union(_, inner) => int(*inner, field),
        other => Err(AvroShapeError::unexpected(field, &other)),
    }
}

pub fn timestamp_millis(value: Value, field: &str) -> Result<i64, AvroShapeError> {
    match value {
        Value::TimestampMillis(t) | Value::Long(t) => Ok(t),
        Value::Union(_, inner) => timestamp_millis(*inner, field),
        other => Err(AvroShapeError::unexpected(field, &other)),
    }
}

pub fn array(value: Value, field: &str) -> Result<Vec<Value>, AvroShapeError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Union(_, inner) => array(*inner, field),
        other => Err(AvroShapeError::unexpected(field, &other)),
    }
}

/// `["null", T]` union value.
pub fn nullable(value: Option<Value>) -> Value {
    match value {
        Some(v) => Value::Union(1, Box::new(v)),
        None => Value::Union(0, Box::new(Value::Null)),
    }
}
