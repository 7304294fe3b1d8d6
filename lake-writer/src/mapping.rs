//! Avro schema → Arrow schema, nesting kept.
//!
//! | Avro | Arrow |
//! |---|---|
//! | record | Struct (top-level record: one column per field) |
//! | array | List (item field `element`) |
//! | map | Map (`entries` struct of `key` utf8 + `value`) |
//! | union [null, T] / [T, null] | T, nullable |
//! | other unions | Struct of nullable `member0..memberN` (non-null branches in order, as spark-avro does); exactly one member set per row |
//! | enum | Utf8 (symbols kept in field metadata `avro.enum.symbols`) |
//! | fixed / bytes | FixedSizeBinary(n) / Binary |
//! | decimal (bytes or fixed) | Decimal128(p, s) (p ≤ 38) or Decimal256 (p ≤ 76) |
//! | big-decimal | Utf8 (its decimal text) |
//! | uuid | Utf8 |
//! | date | Date32 |
//! | time-millis / time-micros | Time32(ms) / Time64(us) |
//! | timestamp-millis/micros/nanos | Timestamp(ms/us/ns, "UTC") |
//! | local-timestamp-* | Timestamp(unit, no zone) |
//! | duration | FixedSizeBinary(12): Parquet's INTERVAL layout (months, days, millis, LE u32) |
//!
//! Recursive named types cannot be flattened into a fixed columnar schema and are refused
//! (records with such schemas are dead-lettered with the reason).

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::schema::{Name, Namespace, Schema};
use arrow::datatypes::{DataType, Field, Fields, TimeUnit};

/// Why an Avro schema cannot be mapped.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum MappingError {
    #[error("recursive type `{0}` cannot be stored as columns")]
    Recursive(String),
    #[error("reference to unknown named type `{0}`")]
    UnknownRef(String),
    #[error("decimal precision {precision} / scale {scale} is not storable (max precision 76)")]
    Decimal { precision: usize, scale: usize },
    #[error("union nested directly in a union")]
    NestedUnion,
    #[error("value field `{0}` collides with a lake metadata column")]
    Collision(String),
    #[error("record `{0}` has no fields; Parquet cannot store an empty group")]
    EmptyRecord(String),
}

/// How to decode one Avro value into one Arrow column: the Avro schema with references
/// resolved, plus the Arrow type it maps to.
#[derive(Debug, Clone)]
pub struct Plan {
    pub kind: Kind,
    pub nullable: bool,
    /// Present when the Avro schema is a union: maps a branch index to what it means.
    pub union: Option<UnionBranches>,
}

#[derive(Debug, Clone)]
pub struct UnionBranches {
    /// Branch index of `null`, if the union has one.
    pub null: Option<u32>,
    /// For each branch index, the struct member it fills (general unions only).
    pub member: Vec<Option<usize>>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(i32),
    Enum(Arc<[String]>),
    Uuid,
    Date,
    TimeMillis,
    TimeMicros,
    Timestamp(TimeUnit, bool),
    Decimal {
        precision: u8,
        scale: i8,
    },
    BigDecimal,
    Duration,
    Record(Vec<(String, Plan)>),
    Array(Box<Plan>),
    Map(Box<Plan>),
    /// General union: one nullable member per non-null branch.
    Union(Vec<Plan>),
}

impl Plan {
    fn new(kind: Kind) -> Plan {
        Plan {
            kind,
            nullable: false,
            union: None,
        }
    }

    /// The Arrow field for this plan.
    pub fn field(&self, name: &str) -> Field {
        let mut field = Field::new(name, self.data_type(), self.nullable);
        if let Kind::Enum(symbols) = &self.kind {
            field = field.with_metadata([("avro.enum.symbols", symbols.join(","))]);
        }
        field
    }

    pub fn data_type(&self) -> DataType {
        match &self.kind {
            Kind::Null => DataType::Null,
            Kind::Boolean => DataType::Boolean,
            Kind::Int => DataType::Int32,
            Kind::Long => DataType::Int64,
            Kind::Float => DataType::Float32,
            Kind::Double => DataType::Float64,
            Kind::Bytes => DataType::Binary,
            Kind::String | Kind::Enum(_) | Kind::Uuid | Kind::BigDecimal => DataType::Utf8,
            Kind::Fixed(n) => DataType::FixedSizeBinary(*n),
            Kind::Duration => DataType::FixedSizeBinary(12),
            Kind::Date => DataType::Date32,
            Kind::TimeMillis => DataType::Time32(TimeUnit::Millisecond),
            Kind::TimeMicros => DataType::Time64(TimeUnit::Microsecond),
            Kind::Timestamp(unit, utc) => DataType::Timestamp(*unit, utc.then(|| Arc::from("UTC"))),
            Kind::Decimal { precision, scale } if *precision <= 38 => {
                DataType::Decimal128(*precision, *scale)
            }
            Kind::Decimal { precision, scale } => DataType::Decimal256(*precision, *scale),
            Kind::Record(fields) => DataType::Struct(struct_fields(fields)),
            Kind::Array(item) => DataType::List(Arc::new(item.field("element"))),
            Kind::Map(value) => DataType::Map(Arc::new(map_entries(value)), false),
            Kind::Union(members) => DataType::Struct(
                members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Arc::new(m.field(&format!("member{i}"))))
                    .collect(),
            ),
        }
    }
}

pub fn struct_fields(fields: &[(String, Plan)]) -> Fields {
    fields
        .iter()
        .map(|(name, plan)| Arc::new(plan.field(name)))
        .collect()
}

pub fn map_entries(value: &Plan) -> Field {
    let entries = Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        value.field("value"),
    ]);
    Field::new("entries", DataType::Struct(entries), false)
}

/// Map an Avro schema to a plan (named references resolved).
pub fn plan_for(schema: &Schema) -> Result<Plan, MappingError> {
    let mut names = HashMap::new();
    collect_names(schema, &None, &mut names);
    Mapper {
        names,
        stack: Vec::new(),
        depth: 0,
    }
    .plan(schema, &None)
}

fn fullname(name: &Name, enclosing: &Namespace) -> String {
    name.fullname(enclosing.clone())
}

/// Named types are defined once and referenced afterwards by (full) name.
fn collect_names<'s>(schema: &'s Schema, ns: &Namespace, out: &mut HashMap<String, &'s Schema>) {
    match schema {
        Schema::Record(r) => {
            let full = fullname(&r.name, ns);
            let inner_ns = r.name.namespace.clone().or_else(|| ns.clone());
            out.insert(full, schema);
            for f in &r.fields {
                collect_names(&f.schema, &inner_ns, out);
            }
        }
        Schema::Enum(e) => {
            out.insert(fullname(&e.name, ns), schema);
        }
        Schema::Fixed(f) => {
            out.insert(fullname(&f.name, ns), schema);
        }
        Schema::Decimal(d) => collect_names(&d.inner, ns, out),
        Schema::Array(a) => collect_names(&a.items, ns, out),
        Schema::Map(m) => collect_names(&m.types, ns, out),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect_names(v, ns, out)),
        _ => {}
    }
}

struct Mapper<'s> {
    names: HashMap<String, &'s Schema>,
    /// Records being mapped, to detect recursion.
    stack: Vec<String>,
    /// Nesting depth: 0 is the top-level schema.
    depth: usize,
}

impl<'s> Mapper<'s> {
    fn plan(&mut self, schema: &'s Schema, ns: &Namespace) -> Result<Plan, MappingError> {
        self.depth += 1;
        let plan = self.plan_at(schema, ns);
        self.depth -= 1;
        plan
    }

    fn plan_at(&mut self, schema: &'s Schema, ns: &Namespace) -> Result<Plan, MappingError> {
        Ok(match schema {
            Schema::Null => Plan {
                nullable: true,
                ..Plan::new(Kind::Null)
            },
            Schema::Boolean => Plan::new(Kind::Boolean),
            Schema::Int => Plan::new(Kind::Int),
            Schema::Long => Plan::new(Kind::Long),
            Schema::Float => Plan::new(Kind::Float),
            Schema::Double => Plan::new(Kind::Double),
            Schema::Bytes => Plan::new(Kind::Bytes),
            Schema::String => Plan::new(Kind::String),
            Schema::Uuid => Plan::new(Kind::Uuid),
            Schema::Date => Plan::new(Kind::Date),
            Schema::TimeMillis => Plan::new(Kind::TimeMillis),
            Schema::TimeMicros => Plan::new(Kind::TimeMicros),
            Schema::TimestampMillis => Plan::new(Kind::Timestamp(TimeUnit::Millisecond, true)),
            Schema::TimestampMicros => Plan::new(Kind::Timestamp(TimeUnit::Microsecond, true)),
            Schema::TimestampNanos => Plan::new(Kind::Timestamp(TimeUnit::Nanosecond, true)),
            Schema::LocalTimestampMillis => {
                Plan::new(Kind::Timestamp(TimeUnit::Millisecond, false))
            }
            Schema::LocalTimestampMicros => {
                Plan::new(Kind::Timestamp(TimeUnit::Microsecond, false))
            }
            Schema::LocalTimestampNanos => Plan::new(Kind::Timestamp(TimeUnit::Nanosecond, false)),
            Schema::Duration => Plan::new(Kind::Duration),
            Schema::BigDecimal => Plan::new(Kind::BigDecimal),
            Schema::Fixed(f) => Plan::new(Kind::Fixed(f.size as i32)),
            Schema::Enum(e) => Plan::new(Kind::Enum(e.symbols.clone().into())),
            Schema::Decimal(d) => {
                if d.precision == 0 || d.precision > 76 || d.scale > d.precision {
                    return Err(MappingError::Decimal {
                        precision: d.precision,
                        scale: d.scale,
                    });
                }
                Plan::new(Kind::Decimal {
                    precision: d.precision as u8,
                    scale: d.scale as i8,
                })
            }
            Schema::Array(a) => Plan::new(Kind::Array(Box::new(self.plan(&a.items, ns)?))),
            Schema::Map(m) => Plan::new(Kind::Map(Box::new(self.plan(&m.types, ns)?))),
            Schema::Record(r) => {
                let full = fullname(&r.name, ns);
                if self.stack.contains(&full) {
                    return Err(MappingError::Recursive(full));
                }
                self.stack.push(full);
                let inner_ns = r.name.namespace.clone().or_else(|| ns.clone());
                let mut fields = Vec::with_capacity(r.fields.len());
                for f in &r.fields {
                    fields.push((f.name.clone(), self.plan(&f.schema, &inner_ns)?));
                }
                let name = self.stack.pop().unwrap_or_default();
                // The top-level record is flattened into columns; nested it would be an
                // empty Parquet group, which Parquet cannot store.
                if fields.is_empty() && self.depth > 1 {
                    return Err(MappingError::EmptyRecord(name));
                }
                Plan::new(Kind::Record(fields))
            }
            Schema::Ref { name } => {
                let full = fullname(name, ns);
                if self.stack.contains(&full) {
                    return Err(MappingError::Recursive(full));
                }
                let target = *self
                    .names
                    .get(&full)
                    .ok_or_else(|| MappingError::UnknownRef(full.clone()))?;
                self.plan(target, ns)?
            }
            Schema::Union(u) => self.union(u.variants(), ns)?,
        })
    }

    fn union(&mut self, variants: &'s [Schema], ns: &Namespace) -> Result<Plan, MappingError> {
        let null = variants
            .iter()
            .position(|v| matches!(v, Schema::Null))
            .map(|i| i as u32);
        let others: Vec<(usize, &Schema)> = variants
            .iter()
            .enumerate()
            .filter(|(_, v)| !matches!(v, Schema::Null))
            .collect();
        if others.iter().any(|(_, v)| matches!(v, Schema::Union(_))) {
            return Err(MappingError::NestedUnion);
        }
        let mut member = vec![None; variants.len()];
        let mut plan = match others.as_slice() {
            // ["null"] alone: always null.
            [] => Plan::new(Kind::Null),
            [(_, only)] => self.plan(only, ns)?,
            _ => {
                let mut members = Vec::with_capacity(others.len());
                for (m, (branch, v)) in others.iter().enumerate() {
                    let mut p = self.plan(v, ns)?;
                    p.nullable = true;
                    members.push(p);
                    member[*branch] = Some(m);
                }
                Plan::new(Kind::Union(members))
            }
        };
        plan.nullable = null.is_some() || plan.nullable;
        plan.union = Some(UnionBranches { null, member });
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(json: &str) -> Result<Plan, MappingError> {
        plan_for(&Schema::parse_str(json).unwrap())
    }

    #[test]
    fn nesting_is_kept() {
        let plan = map(
            r#"{"type":"record","name":"P","namespace":"v","fields":[
              {"name":"id","type":"string"},
              {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}},
              {"name":"tags","type":{"type":"array","items":"string"}},
              {"name":"attrs","type":{"type":"map","values":["null","long"]}},
              {"name":"shop","type":["null",{"type":"record","name":"Shop","fields":[
                 {"name":"id","type":"int"}]}]},
              {"name":"other","type":["null","Shop"]},
              {"name":"at","type":{"type":"long","logicalType":"timestamp-micros"}},
              {"name":"day","type":{"type":"int","logicalType":"date"}},
              {"name":"kind","type":{"type":"enum","name":"K","symbols":["A","B"]}},
              {"name":"u","type":{"type":"string","logicalType":"uuid"}},
              {"name":"either","type":["int","string","null"]}
            ]}"#,
        )
        .unwrap();
        let DataType::Struct(fields) = plan.data_type() else {
            panic!("record maps to a struct")
        };
        let ty = |n: &str| fields.find(n).unwrap().1.data_type().clone();
        assert_eq!(ty("price"), DataType::Decimal128(12, 2));
        assert!(matches!(ty("tags"), DataType::List(f) if f.data_type() == &DataType::Utf8));
        assert!(matches!(ty("attrs"), DataType::Map(..)));
        assert!(fields.find("shop").unwrap().1.is_nullable());
        assert!(!fields.find("id").unwrap().1.is_nullable());
        assert_eq!(ty("other"), ty("shop"));
        assert_eq!(
            ty("at"),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(ty("day"), DataType::Date32);
        assert_eq!(ty("kind"), DataType::Utf8);
        assert_eq!(ty("u"), DataType::Utf8);
        let DataType::Struct(members) = ty("either") else {
            panic!("general unions map to structs")
        };
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].name(), "member0");
        assert!(fields.find("either").unwrap().1.is_nullable());
    }

    #[test]
    fn recursion_is_refused() {
        let err = map(r#"{"type":"record","name":"Node","fields":[
              {"name":"next","type":["null","Node"]}]}"#)
        .unwrap_err();
        assert_eq!(err, MappingError::Recursive("Node".into()));
    }

    #[test]
    fn wide_decimals_use_decimal256() {
        let plan = map(r#"{"type":"bytes","logicalType":"decimal","precision":50,"scale":10}"#);
        assert_eq!(plan.unwrap().data_type(), DataType::Decimal256(50, 10));
    }
}
