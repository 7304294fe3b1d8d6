//! Avro values (decoded with the writer schema) → Arrow arrays, following a [`Plan`].
//!
//! Arrow's generic nested builders need downcasting at every level; a small tree of our own
//! keeps the decoding one `match` per value. Non-nullable children of a null struct get a
//! masked null, which Arrow and Parquet accept (the parent's definition level covers it).

use std::collections::BTreeMap;
use std::sync::Arc;

use apache_avro::types::Value;
use arrow::array::*;
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{i256, FieldRef, Fields, TimeUnit};
use arrow::error::ArrowError;

use crate::mapping::{map_entries, struct_fields, Kind, Plan, UnionBranches};

/// A value that does not fit the plan (cannot happen with a value decoded by the same schema,
/// unless the mapping has a bug), or an Arrow construction failure.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("field `{path}`: expected {expected}, got {got}")]
    Mismatch {
        path: String,
        expected: &'static str,
        got: String,
    },
    #[error("field `{path}`: {why}")]
    Invalid { path: String, why: String },
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
}

impl BuildError {
    fn at(self, name: &str) -> Self {
        let join = |path: String| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{name}.{path}")
            }
        };
        match self {
            BuildError::Mismatch {
                path,
                expected,
                got,
            } => BuildError::Mismatch {
                path: join(path),
                expected,
                got,
            },
            BuildError::Invalid { path, why } => BuildError::Invalid {
                path: join(path),
                why,
            },
            other => other,
        }
    }
}

fn mismatch(expected: &'static str, got: &Value) -> BuildError {
    let mut got = format!("{got:?}");
    got.truncate(60);
    BuildError::Mismatch {
        path: String::new(),
        expected,
        got,
    }
}

enum Col {
    Null(NullBuilder),
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Bin(BinaryBuilder),
    Str(StringBuilder),
    Fixed(FixedSizeBinaryBuilder),
    Date(Date32Builder),
    TimeMs(Time32MillisecondBuilder),
    TimeUs(Time64MicrosecondBuilder),
    TsMs(TimestampMillisecondBuilder),
    TsUs(TimestampMicrosecondBuilder),
    TsNs(TimestampNanosecondBuilder),
    Dec128(Decimal128Builder),
    Dec256(Decimal256Builder),
    Struct(Nested),
    List(Seq),
    Map(Seq, StringBuilder),
    Union(Nested),
}

struct Nested {
    fields: Fields,
    children: Vec<ColumnBuilder>,
    nulls: NullBufferBuilder,
    len: usize,
}

struct Seq {
    field: FieldRef,
    offsets: Vec<i32>,
    child: Box<ColumnBuilder>,
    nulls: NullBufferBuilder,
}

/// Builds one Arrow column from Avro values.
pub struct ColumnBuilder {
    col: Col,
    union: Option<UnionBranches>,
    nullable: bool,
}

impl ColumnBuilder {
    pub fn new(plan: &Plan) -> ColumnBuilder {
        let tz = |utc: bool| utc.then(|| Arc::<str>::from("UTC"));
        let col = match &plan.kind {
            Kind::Null => Col::Null(NullBuilder::new()),
            Kind::Boolean => Col::Bool(BooleanBuilder::new()),
            Kind::Int => Col::I32(Int32Builder::new()),
            Kind::Long => Col::I64(Int64Builder::new()),
            Kind::Float => Col::F32(Float32Builder::new()),
            Kind::Double => Col::F64(Float64Builder::new()),
            Kind::Bytes => Col::Bin(BinaryBuilder::new()),
            Kind::String | Kind::Enum(_) | Kind::Uuid | Kind::BigDecimal => {
                Col::Str(StringBuilder::new())
            }
            Kind::Fixed(n) => Col::Fixed(FixedSizeBinaryBuilder::new(*n)),
            Kind::Duration => Col::Fixed(FixedSizeBinaryBuilder::new(12)),
            Kind::Date => Col::Date(Date32Builder::new()),
            Kind::TimeMillis => Col::TimeMs(Time32MillisecondBuilder::new()),
            Kind::TimeMicros => Col::TimeUs(Time64MicrosecondBuilder::new()),
            Kind::Timestamp(TimeUnit::Millisecond, utc) => {
                Col::TsMs(TimestampMillisecondBuilder::new().with_timezone_opt(tz(*utc)))
            }
            Kind::Timestamp(TimeUnit::Microsecond, utc) => {
                Col::TsUs(TimestampMicrosecondBuilder::new().with_timezone_opt(tz(*utc)))
            }
            Kind::Timestamp(_, utc) => {
                Col::TsNs(TimestampNanosecondBuilder::new().with_timezone_opt(tz(*utc)))
            }
            Kind::Decimal { precision, scale } if *precision <= 38 => {
                Col::Dec128(Decimal128Builder::new().with_data_type(plan.data_type()))
            }
            Kind::Decimal { .. } => {
                Col::Dec256(Decimal256Builder::new().with_data_type(plan.data_type()))
            }
            Kind::Record(fields) => Col::Struct(Nested {
                fields: struct_fields(fields),
                children: fields.iter().map(|(_, p)| ColumnBuilder::new(p)).collect(),
                nulls: NullBufferBuilder::new(0),
                len: 0,
            }),
            Kind::Union(members) => {
                let arrow::datatypes::DataType::Struct(fields) = plan.data_type() else {
                    unreachable!("unions map to structs")
                };
                Col::Union(Nested {
                    fields,
                    children: members.iter().map(ColumnBuilder::new).collect(),
                    nulls: NullBufferBuilder::new(0),
                    len: 0,
                })
            }
            Kind::Array(item) => Col::List(Seq {
                field: Arc::new(item.field("element")),
                offsets: vec![0],
                child: Box::new(ColumnBuilder::new(item)),
                nulls: NullBufferBuilder::new(0),
            }),
            Kind::Map(value) => Col::Map(
                Seq {
                    field: Arc::new(map_entries(value)),
                    offsets: vec![0],
                    child: Box::new(ColumnBuilder::new(value)),
                    nulls: NullBufferBuilder::new(0),
                },
                StringBuilder::new(),
            ),
        };
        ColumnBuilder {
            col,
            union: plan.union.clone(),
            nullable: plan.nullable,
        }
    }

    /// Append a null (for a nullable column, or masked under a null parent).
    pub fn append_null(&mut self) {
        match &mut self.col {
            Col::Null(b) => b.append_null(),
            Col::Bool(b) => b.append_null(),
            Col::I32(b) => b.append_null(),
            Col::I64(b) => b.append_null(),
            Col::F32(b) => b.append_null(),
            Col::F64(b) => b.append_null(),
            Col::Bin(b) => b.append_null(),
            Col::Str(b) => b.append_null(),
            Col::Fixed(b) => b.append_null(),
            Col::Date(b) => b.append_null(),
            Col::TimeMs(b) => b.append_null(),
            Col::TimeUs(b) => b.append_null(),
            Col::TsMs(b) => b.append_null(),
            Col::TsUs(b) => b.append_null(),
            Col::TsNs(b) => b.append_null(),
            Col::Dec128(b) => b.append_null(),
            Col::Dec256(b) => b.append_null(),
            Col::Struct(n) | Col::Union(n) => {
                n.children.iter_mut().for_each(ColumnBuilder::append_null);
                n.nulls.append_null();
                n.len += 1;
            }
            Col::List(s) | Col::Map(s, _) => {
                s.offsets.push(*s.offsets.last().unwrap_or(&0));
                s.nulls.append_null();
            }
        }
    }

    /// Append one Avro value.
    pub fn append(&mut self, value: &Value) -> Result<(), BuildError> {
        let value = match (&self.union, value) {
            (Some(u), Value::Union(branch, inner)) => {
                if u.null == Some(*branch) {
                    self.append_null();
                    return Ok(());
                }
                if let Col::Union(n) = &mut self.col {
                    let member = u.member.get(*branch as usize).copied().flatten();
                    let member = member.ok_or_else(|| BuildError::Invalid {
                        path: String::new(),
                        why: format!("union branch {branch} out of range"),
                    })?;
                    for (i, child) in n.children.iter_mut().enumerate() {
                        if i == member {
                            child
                                .append(inner)
                                .map_err(|e| e.at(&format!("member{i}")))?;
                        } else {
                            child.append_null();
                        }
                    }
                    n.nulls.append_non_null();
                    n.len += 1;
                    return Ok(());
                }
                inner.as_ref()
            }
            (_, Value::Null) if self.nullable => {
                self.append_null();
                return Ok(());
            }
            (_, v) => v,
        };
        self.append_plain(value)
    }

    fn append_plain(&mut self, value: &Value) -> Result<(), BuildError> {
        match (&mut self.col, value) {
            (Col::Null(b), Value::Null) => b.append_null(),
            (Col::Bool(b), Value::Boolean(v)) => b.append_value(*v),
            (Col::I32(b), Value::Int(v)) => b.append_value(*v),
            (Col::I64(b), Value::Long(v)) => b.append_value(*v),
            (Col::F32(b), Value::Float(v)) => b.append_value(*v),
            (Col::F64(b), Value::Double(v)) => b.append_value(*v),
            (Col::Bin(b), Value::Bytes(v)) => b.append_value(v),
            (Col::Str(b), Value::String(v) | Value::Enum(_, v)) => b.append_value(v),
            (Col::Str(b), Value::Uuid(v)) => b.append_value(v.to_string()),
            (Col::Str(b), Value::BigDecimal(v)) => b.append_value(v.to_string()),
            (Col::Fixed(b), Value::Fixed(_, v)) => b.append_value(v)?,
            (Col::Fixed(b), Value::Duration(d)) => b.append_value(<[u8; 12]>::from(*d))?,
            (Col::Date(b), Value::Date(v) | Value::Int(v)) => b.append_value(*v),
            (Col::TimeMs(b), Value::TimeMillis(v) | Value::Int(v)) => b.append_value(*v),
            (Col::TimeUs(b), Value::TimeMicros(v) | Value::Long(v)) => b.append_value(*v),
            (
                Col::TsMs(b),
                Value::TimestampMillis(v) | Value::LocalTimestampMillis(v) | Value::Long(v),
            ) => b.append_value(*v),
            (
                Col::TsUs(b),
                Value::TimestampMicros(v) | Value::LocalTimestampMicros(v) | Value::Long(v),
            ) => b.append_value(*v),
            (
                Col::TsNs(b),
                Value::TimestampNanos(v) | Value::LocalTimestampNanos(v) | Value::Long(v),
            ) => b.append_value(*v),
            (Col::Dec128(b), Value::Decimal(d)) => {
                let bytes = decimal_bytes(d)?;
                b.append_value(i128::from_be_bytes(sign_extend::<16>(&bytes)?));
            }
            (Col::Dec256(b), Value::Decimal(d)) => {
                let bytes = decimal_bytes(d)?;
                b.append_value(i256::from_be_bytes(sign_extend::<32>(&bytes)?));
            }
            (Col::Struct(n), Value::Record(fields)) => {
                if fields.len() != n.children.len() {
                    return Err(BuildError::Invalid {
                        path: String::new(),
                        why: format!("{} fields, schema has {}", fields.len(), n.children.len()),
                    });
                }
                for ((name, v), child) in fields.iter().zip(n.children.iter_mut()) {
                    child.append(v).map_err(|e| e.at(name))?;
                }
                n.nulls.append_non_null();
                n.len += 1;
            }
            (Col::List(s), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    s.child.append(item).map_err(|e| e.at(&format!("[{i}]")))?;
                }
                push_offset(s, items.len())?;
            }
            (Col::Map(s, keys), Value::Map(entries)) => {
                // Sorted so that the same record always produces the same file content.
                let sorted: BTreeMap<&String, &Value> = entries.iter().collect();
                for (k, v) in sorted {
                    keys.append_value(k);
                    s.child.append(v).map_err(|e| e.at(k))?;
                }
                push_offset(s, entries.len())?;
            }
            (col, v) => return Err(mismatch(col.expected(), v)),
        }
        Ok(())
    }

    /// Finish the column and reset the builder for the next batch.
    pub fn finish(&mut self) -> Result<ArrayRef, BuildError> {
        Ok(match &mut self.col {
            Col::Null(b) => Arc::new(b.finish()),
            Col::Bool(b) => Arc::new(b.finish()),
            Col::I32(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Bin(b) => Arc::new(b.finish()),
            Col::Str(b) => Arc::new(b.finish()),
            Col::Fixed(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::TimeMs(b) => Arc::new(b.finish()),
            Col::TimeUs(b) => Arc::new(b.finish()),
            Col::TsMs(b) => Arc::new(b.finish()),
            Col::TsUs(b) => Arc::new(b.finish()),
            Col::TsNs(b) => Arc::new(b.finish()),
            Col::Dec128(b) => Arc::new(b.finish()),
            Col::Dec256(b) => Arc::new(b.finish()),
            Col::Struct(n) | Col::Union(n) => {
                let arrays = n
                    .children
                    .iter_mut()
                    .map(ColumnBuilder::finish)
                    .collect::<Result<Vec<_>, _>>()?;
                let len = std::mem::take(&mut n.len);
                Arc::new(StructArray::try_new_with_length(
                    n.fields.clone(),
                    arrays,
                    n.nulls.finish(),
                    len,
                )?)
            }
            Col::List(s) => {
                let (offsets, nulls) = take_offsets(s);
                let values = s.child.finish()?;
                Arc::new(ListArray::try_new(s.field.clone(), offsets, values, nulls)?)
            }
            Col::Map(s, keys) => {
                let (offsets, nulls) = take_offsets(s);
                let arrow::datatypes::DataType::Struct(fields) = s.field.data_type().clone() else {
                    unreachable!("map entries are a struct")
                };
                let entries = StructArray::try_new(
                    fields,
                    vec![Arc::new(keys.finish()) as ArrayRef, s.child.finish()?],
                    None,
                )?;
                Arc::new(MapArray::try_new(
                    s.field.clone(),
                    offsets,
                    entries,
                    nulls,
                    false,
                )?)
            }
        })
    }
}

impl Col {
    fn expected(&self) -> &'static str {
        match self {
            Col::Null(_) => "null",
            Col::Bool(_) => "boolean",
            Col::I32(_) => "int",
            Col::I64(_) => "long",
            Col::F32(_) => "float",
            Col::F64(_) => "double",
            Col::Bin(_) => "bytes",
            Col::Str(_) => "string",
            Col::Fixed(_) => "fixed",
            Col::Date(_) => "date",
            Col::TimeMs(_) => "time-millis",
            Col::TimeUs(_) => "time-micros",
            Col::TsMs(_) | Col::TsUs(_) | Col::TsNs(_) => "timestamp",
            Col::Dec128(_) | Col::Dec256(_) => "decimal",
            Col::Struct(_) => "record",
            Col::List(_) => "array",
            Col::Map(..) => "map",
            Col::Union(_) => "union",
        }
    }
}

fn push_offset(s: &mut Seq, n: usize) -> Result<(), BuildError> {
    let last = *s.offsets.last().unwrap_or(&0);
    let next = i32::try_from(n)
        .ok()
        .and_then(|n| last.checked_add(n))
        .ok_or_else(|| BuildError::Invalid {
            path: String::new(),
            why: "more than 2^31 nested items in one batch".into(),
        })?;
    s.offsets.push(next);
    s.nulls.append_non_null();
    Ok(())
}

fn take_offsets(s: &mut Seq) -> (OffsetBuffer<i32>, Option<NullBuffer>) {
    let offsets = std::mem::replace(&mut s.offsets, vec![0]);
    (OffsetBuffer::new(offsets.into()), s.nulls.finish())
}

/// Number of decimal digits of the unscaled value.
pub(crate) fn decimal_digits(d: &apache_avro::Decimal) -> Result<usize, BuildError> {
    let v = i256::from_be_bytes(sign_extend::<32>(&decimal_bytes(d)?)?);
    Ok(v.to_string().trim_start_matches('-').len())
}

fn decimal_bytes(d: &apache_avro::Decimal) -> Result<Vec<u8>, BuildError> {
    Vec::<u8>::try_from(d).map_err(|e| BuildError::Invalid {
        path: String::new(),
        why: format!("decimal: {e}"),
    })
}

/// Big-endian two's complement of any length → N bytes, refusing values that do not fit.
fn sign_extend<const N: usize>(bytes: &[u8]) -> Result<[u8; N], BuildError> {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let fill = if negative { 0xff } else { 0 };
    let mut out = [fill; N];
    let significant = {
        // Leading fill bytes carry no information as long as the sign survives.
        let mut s = bytes;
        while s.len() > N && s[0] == fill && (s[1] & 0x80 != 0) == negative {
            s = &s[1..];
        }
        s
    };
    if significant.len() > N {
        return Err(BuildError::Invalid {
            path: String::new(),
            why: format!("decimal of {} bytes does not fit {N}", bytes.len()),
        });
    }
    out[N - significant.len()..].copy_from_slice(significant);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_extension_keeps_values() {
        assert_eq!(
            i128::from_be_bytes(sign_extend::<16>(&[0xff, 0x38]).unwrap()),
            -200
        );
        assert_eq!(
            i128::from_be_bytes(sign_extend::<16>(&[0x00, 0xc8]).unwrap()),
            200
        );
        let mut long = vec![0xff; 20];
        long[19] = 0xfe;
        assert_eq!(i128::from_be_bytes(sign_extend::<16>(&long).unwrap()), -2);
        let mut too_big = vec![0u8; 20];
        too_big[2] = 1;
        assert!(sign_extend::<16>(&too_big).is_err());
    }
}
