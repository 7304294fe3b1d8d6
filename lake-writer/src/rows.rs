//! The table layout of one lake file: value columns + Kafka metadata columns, and the row
//! builder that fills it.
//!
//! A top-level Avro record becomes one column per field; any other top-level type becomes a
//! single `value` column. Top-level value columns are always nullable because tombstone rows
//! (`_tombstone = true`) carry no value. Metadata columns, after the value columns:
//! `_topic` utf8, `_partition` int32, `_offset` int64, `_timestamp` timestamp(ms, UTC)
//! (Kafka record timestamp, null if absent), `_key` utf8 (null if absent), `_schema_id` int32
//! (null on tombstones), `_tombstone` boolean.

use std::sync::Arc;

use apache_avro::types::Value;
use apache_avro::Schema;
use arrow::array::*;
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use crate::builders::{BuildError, ColumnBuilder};
use crate::mapping::{plan_for, Kind, MappingError, Plan};

pub const METADATA_COLUMNS: [&str; 7] = [
    "_topic",
    "_partition",
    "_offset",
    "_timestamp",
    "_key",
    "_schema_id",
    "_tombstone",
];

/// Everything needed to write records of one schema id.
#[derive(Debug)]
pub struct LakeSchema {
    /// Registry id; `None` for the metadata-only layout used when a tombstone arrives before
    /// any schema of its topic is known.
    pub id: Option<u32>,
    pub avro: Option<Schema>,
    /// Value columns; a single `value` column when the Avro type is not a record.
    pub columns: Vec<(String, Plan)>,
    /// Whether the value is a record flattened into `columns`.
    pub flattened: bool,
    /// Some column contains a decimal: values are checked before appending so that a value
    /// out of range fails the record, not the file.
    checked: bool,
    pub arrow: SchemaRef,
}

impl LakeSchema {
    pub fn from_avro(id: u32, schema: Schema) -> Result<LakeSchema, MappingError> {
        let plan = plan_for(&schema)?;
        let (columns, flattened) = match plan.kind {
            Kind::Record(fields) if plan.union.is_none() => (fields, true),
            Kind::Record(fields) if fields.is_empty() => {
                return Err(MappingError::EmptyRecord(String::new()))
            }
            _ => (vec![("value".to_owned(), plan)], false),
        };
        let columns: Vec<(String, Plan)> = columns
            .into_iter()
            .map(|(name, mut plan)| {
                plan.nullable = true;
                (name, plan)
            })
            .collect();
        if let Some((name, _)) = columns
            .iter()
            .find(|(n, _)| METADATA_COLUMNS.contains(&n.as_str()))
        {
            return Err(MappingError::Collision(name.clone()));
        }
        let checked = columns.iter().any(|(_, p)| has_decimal(p));
        Ok(Self::build(
            Some(id),
            Some(schema),
            columns,
            flattened,
            checked,
        ))
    }

    pub fn metadata_only() -> LakeSchema {
        Self::build(None, None, Vec::new(), true, false)
    }

    fn build(
        id: Option<u32>,
        avro: Option<Schema>,
        columns: Vec<(String, Plan)>,
        flattened: bool,
        checked: bool,
    ) -> LakeSchema {
        let mut fields: Vec<Field> = columns.iter().map(|(n, p)| p.field(n)).collect();
        fields.extend([
            Field::new("_topic", DataType::Utf8, false),
            Field::new("_partition", DataType::Int32, false),
            Field::new("_offset", DataType::Int64, false),
            Field::new(
                "_timestamp",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("_key", DataType::Utf8, true),
            Field::new("_schema_id", DataType::Int32, true),
            Field::new("_tombstone", DataType::Boolean, false),
        ]);
        let mut meta = std::collections::HashMap::new();
        if let Some(id) = id {
            meta.insert("vygoda.schema_id".to_owned(), id.to_string());
        }
        if let Some(avro) = &avro {
            meta.insert("avro.schema".to_owned(), avro.canonical_form());
        }
        LakeSchema {
            id,
            avro,
            columns,
            flattened,
            checked,
            arrow: Arc::new(ArrowSchema::new_with_metadata(fields, meta)),
        }
    }
}

fn has_decimal(plan: &Plan) -> bool {
    match &plan.kind {
        Kind::Decimal { .. } => true,
        Kind::Record(fields) => fields.iter().any(|(_, p)| has_decimal(p)),
        Kind::Union(members) => members.iter().any(has_decimal),
        Kind::Array(p) | Kind::Map(p) => has_decimal(p),
        _ => false,
    }
}

/// Check decimals fit their precision before anything is appended, so a bad value rejects
/// its record (dead letter) instead of leaving half a row in the builders.
fn check(plan: &Plan, value: &Value) -> Result<(), BuildError> {
    let value = match (&plan.union, value) {
        (Some(u), Value::Union(branch, inner)) => {
            if u.null == Some(*branch) {
                return Ok(());
            }
            if let Kind::Union(members) = &plan.kind {
                let m = u.member.get(*branch as usize).copied().flatten();
                return match m.and_then(|m| members.get(m)) {
                    Some(p) => check(p, inner),
                    None => Err(BuildError::Invalid {
                        path: String::new(),
                        why: format!("union branch {branch} out of range"),
                    }),
                };
            }
            inner.as_ref()
        }
        (_, v) => v,
    };
    match (&plan.kind, value) {
        (Kind::Decimal { precision, .. }, Value::Decimal(d)) => {
            let digits = crate::builders::decimal_digits(d)?;
            if digits > *precision as usize {
                return Err(BuildError::Invalid {
                    path: String::new(),
                    why: format!("decimal has {digits} digits, precision is {precision}"),
                });
            }
        }
        (Kind::Record(fields), Value::Record(values)) => {
            for ((_, p), (_, v)) in fields.iter().zip(values) {
                check(p, v)?;
            }
        }
        (Kind::Array(p), Value::Array(items)) => items.iter().try_for_each(|v| check(p, v))?,
        (Kind::Map(p), Value::Map(m)) => m.values().try_for_each(|v| check(p, v))?,
        _ => {}
    }
    Ok(())
}

/// Kafka coordinates and metadata of one record.
#[derive(Debug, Clone, Copy)]
pub struct RecordMeta<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<&'a str>,
}

/// Accumulates rows of one [`LakeSchema`] until they are turned into a [`RecordBatch`].
pub struct RowBuilder {
    schema: Arc<LakeSchema>,
    values: Vec<ColumnBuilder>,
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    timestamp: TimestampMillisecondBuilder,
    key: StringBuilder,
    schema_id: Int32Builder,
    tombstone: BooleanBuilder,
    rows: usize,
    /// A value failed after some columns took theirs: the batch is unusable.
    poisoned: bool,
}

impl RowBuilder {
    pub fn new(schema: Arc<LakeSchema>) -> RowBuilder {
        RowBuilder {
            values: schema
                .columns
                .iter()
                .map(|(_, p)| ColumnBuilder::new(p))
                .collect(),
            schema,
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            timestamp: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            key: StringBuilder::new(),
            schema_id: Int32Builder::new(),
            tombstone: BooleanBuilder::new(),
            rows: 0,
            poisoned: false,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn schema(&self) -> &Arc<LakeSchema> {
        &self.schema
    }

    /// Whether an append failed half-way (a mapping bug, never a data problem: data problems
    /// are caught by the checks before anything is appended). The caller must drop the
    /// builder and its file.
    pub fn poisoned(&self) -> bool {
        self.poisoned
    }

    /// Append a record; `value` is `None` for a tombstone. On error nothing was appended
    /// unless [`Self::poisoned`] says otherwise.
    pub fn append(
        &mut self,
        meta: &RecordMeta<'_>,
        value: Option<&Value>,
    ) -> Result<(), BuildError> {
        if self.poisoned {
            return Err(BuildError::Invalid {
                path: String::new(),
                why: "row builder poisoned by an earlier failure".into(),
            });
        }
        match value {
            None => self.values.iter_mut().for_each(ColumnBuilder::append_null),
            Some(value) if self.schema.flattened => {
                let Value::Record(fields) = value else {
                    return Err(BuildError::Invalid {
                        path: String::new(),
                        why: "top-level value is not a record".into(),
                    });
                };
                if fields.len() != self.values.len() {
                    return Err(BuildError::Invalid {
                        path: String::new(),
                        why: format!("{} fields, schema has {}", fields.len(), self.values.len()),
                    });
                }
                if self.schema.checked {
                    for ((name, plan), (_, v)) in self.schema.columns.iter().zip(fields) {
                        check(plan, v).map_err(|e| prefix(e, name))?;
                    }
                }
                for (b, (name, v)) in self.values.iter_mut().zip(fields) {
                    if let Err(e) = b.append(v) {
                        self.poisoned = true;
                        return Err(prefix(e, name));
                    }
                }
            }
            Some(value) => {
                if self.schema.checked {
                    check(&self.schema.columns[0].1, value)?;
                }
                if let Err(e) = self.values[0].append(value) {
                    self.poisoned = true;
                    return Err(e);
                }
            }
        }
        self.topic.append_value(meta.topic);
        self.partition.append_value(meta.partition);
        self.offset.append_value(meta.offset);
        self.timestamp.append_option(meta.timestamp_ms);
        self.key.append_option(meta.key);
        match value {
            Some(_) => self
                .schema_id
                .append_option(self.schema.id.map(|id| id as i32)),
            None => self.schema_id.append_null(),
        }
        self.tombstone.append_value(value.is_none());
        self.rows += 1;
        Ok(())
    }

    /// The rows appended since the last call, as one batch.
    pub fn finish(&mut self) -> Result<RecordBatch, BuildError> {
        let mut arrays = Vec::with_capacity(self.values.len() + METADATA_COLUMNS.len());
        for b in &mut self.values {
            arrays.push(b.finish()?);
        }
        arrays.push(Arc::new(self.topic.finish()) as ArrayRef);
        arrays.push(Arc::new(self.partition.finish()));
        arrays.push(Arc::new(self.offset.finish()));
        arrays.push(Arc::new(self.timestamp.finish()));
        arrays.push(Arc::new(self.key.finish()));
        arrays.push(Arc::new(self.schema_id.finish()));
        arrays.push(Arc::new(self.tombstone.finish()));
        let rows = std::mem::take(&mut self.rows);
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.schema.arrow.clone(),
            arrays,
            &options,
        )?)
    }
}

fn prefix(e: BuildError, name: &str) -> BuildError {
    match e {
        BuildError::Mismatch {
            path,
            expected,
            got,
        } => BuildError::Mismatch {
            path: join(name, &path),
            expected,
            got,
        },
        BuildError::Invalid { path, why } => BuildError::Invalid {
            path: join(name, &path),
            why,
        },
        other => other,
    }
}

fn join(name: &str, path: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{name}.{path}")
    }
}
