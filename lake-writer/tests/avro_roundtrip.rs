//! Property test of the Avro → Arrow → Parquet path: random Avro schemas and values are
//! encoded (Avro binary), decoded with the writer schema, built into Arrow, written to
//! Parquet, read back with the parquet crate, and compared value by value.

use std::collections::BTreeMap;
use std::sync::Arc;

use apache_avro::types::Value;
use apache_avro::Schema;
use arrow::array::*;
use arrow::datatypes::*;
use parquet::arrow::ArrowWriter;
use proptest::prelude::*;
use serde_json::json;
use vygoda_lake_writer::rows::{LakeSchema, RecordMeta, RowBuilder};
use vygoda_lake_writer::testkit::read_parquet;

#[derive(Debug, Clone, Copy, PartialEq)]
enum P {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    Str,
    Uuid,
    Date,
    TimeMs,
    TimeUs,
    TsMs,
    TsUs,
    TsNs,
    LocalTsMs,
    LocalTsUs,
}

#[derive(Debug, Clone)]
enum G {
    Prim(P),
    Fixed(usize),
    Enum(usize),
    Decimal {
        p: usize,
        s: usize,
        fixed: bool,
    },
    Record(Vec<G>),
    Array(Box<G>),
    Map(Box<G>),
    Nullable(Box<G>, bool),
    /// General union of distinct primitive types, with `null` at the given position.
    Union(Vec<P>, Option<usize>),
}

const UNION_MEMBERS: [P; 7] = [
    P::Boolean,
    P::Int,
    P::Long,
    P::Float,
    P::Double,
    P::Bytes,
    P::Str,
];

fn prim() -> impl Strategy<Value = P> {
    use P::*;
    prop::sample::select(vec![
        Boolean, Int, Long, Float, Double, Bytes, Str, Uuid, Date, TimeMs, TimeUs, TsMs, TsUs,
        TsNs, LocalTsMs, LocalTsUs,
    ])
}

fn leaf() -> impl Strategy<Value = G> {
    prop_oneof![
        4 => prim().prop_map(G::Prim),
        1 => (1usize..6).prop_map(G::Fixed),
        1 => (1usize..5).prop_map(G::Enum),
        1 => (1usize..=60, 0usize..=60, any::<bool>())
            .prop_map(|(p, s, fixed)| G::Decimal { p, s: s.min(p), fixed }),
        1 => (prop::sample::subsequence(UNION_MEMBERS.to_vec(), 2..4), prop::option::of(0usize..3))
            .prop_map(|(m, null)| G::Union(m, null)),
    ]
}

fn schema_tree() -> impl Strategy<Value = G> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(G::Record),
            inner.clone().prop_map(|g| G::Array(Box::new(g))),
            inner.clone().prop_map(|g| G::Map(Box::new(g))),
            (inner, any::<bool>()).prop_map(|(g, first)| match g {
                G::Nullable(..) | G::Union(..) => g,
                other => G::Nullable(Box::new(other), first),
            }),
        ]
    })
}

fn prim_json(p: P) -> serde_json::Value {
    let logical = |base: &str, l: &str| json!({"type": base, "logicalType": l});
    match p {
        P::Boolean => json!("boolean"),
        P::Int => json!("int"),
        P::Long => json!("long"),
        P::Float => json!("float"),
        P::Double => json!("double"),
        P::Bytes => json!("bytes"),
        P::Str => json!("string"),
        P::Uuid => logical("string", "uuid"),
        P::Date => logical("int", "date"),
        P::TimeMs => logical("int", "time-millis"),
        P::TimeUs => logical("long", "time-micros"),
        P::TsMs => logical("long", "timestamp-millis"),
        P::TsUs => logical("long", "timestamp-micros"),
        P::TsNs => logical("long", "timestamp-nanos"),
        P::LocalTsMs => logical("long", "local-timestamp-millis"),
        P::LocalTsUs => logical("long", "local-timestamp-micros"),
    }
}

fn render(g: &G, n: &mut usize) -> serde_json::Value {
    *n += 1;
    let id = *n;
    match g {
        G::Prim(p) => prim_json(*p),
        G::Fixed(size) => json!({"type": "fixed", "name": format!("F{id}"), "size": size}),
        G::Enum(k) => json!({"type": "enum", "name": format!("E{id}"),
            "symbols": (0..*k).map(|i| format!("S{i}")).collect::<Vec<_>>()}),
        G::Decimal { p, s, fixed: false } => {
            json!({"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s})
        }
        G::Decimal { p, s, fixed: true } => json!({"type": "fixed", "name": format!("D{id}"),
            "size": if *p <= 38 { 16 } else { 32 }, "logicalType": "decimal", "precision": p, "scale": s}),
        G::Record(fields) => record_json(&format!("R{id}"), fields, n),
        G::Array(item) => json!({"type": "array", "items": render(item, n)}),
        G::Map(v) => json!({"type": "map", "values": render(v, n)}),
        G::Nullable(inner, true) => json!(["null", render(inner, n)]),
        G::Nullable(inner, false) => json!([render(inner, n), "null"]),
        G::Union(members, null) => {
            let mut v: Vec<_> = members.iter().map(|p| prim_json(*p)).collect();
            if let Some(at) = null {
                v.insert((*at).min(v.len()), json!("null"));
            }
            json!(v)
        }
    }
}

fn record_json(name: &str, fields: &[G], n: &mut usize) -> serde_json::Value {
    let fields: Vec<_> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| json!({"name": format!("f{i}"), "type": render(f, n)}))
        .collect();
    json!({"type": "record", "name": name, "fields": fields})
}

fn prim_value(p: P) -> BoxedStrategy<Value> {
    match p {
        P::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        P::Int => any::<i32>().prop_map(Value::Int).boxed(),
        P::Long => any::<i64>().prop_map(Value::Long).boxed(),
        P::Float => any::<f32>().prop_map(Value::Float).boxed(),
        P::Double => any::<f64>().prop_map(Value::Double).boxed(),
        P::Bytes => prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(Value::Bytes)
            .boxed(),
        P::Str => "[a-zé😀]{0,6}".prop_map(Value::String).boxed(),
        P::Uuid => any::<u128>()
            .prop_map(|u| Value::Uuid(uuid::Uuid::from_u128(u)))
            .boxed(),
        P::Date => (-100_000i32..100_000).prop_map(Value::Date).boxed(),
        P::TimeMs => (0i32..86_400_000).prop_map(Value::TimeMillis).boxed(),
        P::TimeUs => (0i64..86_400_000_000).prop_map(Value::TimeMicros).boxed(),
        P::TsMs => any::<i64>().prop_map(Value::TimestampMillis).boxed(),
        P::TsUs => any::<i64>().prop_map(Value::TimestampMicros).boxed(),
        P::TsNs => any::<i64>().prop_map(Value::TimestampNanos).boxed(),
        P::LocalTsMs => any::<i64>().prop_map(Value::LocalTimestampMillis).boxed(),
        P::LocalTsUs => any::<i64>().prop_map(Value::LocalTimestampMicros).boxed(),
    }
}

fn value_of(g: &G) -> BoxedStrategy<Value> {
    match g {
        G::Prim(p) => prim_value(*p),
        G::Fixed(n) => {
            let n = *n;
            prop::collection::vec(any::<u8>(), n)
                .prop_map(move |b| Value::Fixed(n, b))
                .boxed()
        }
        G::Enum(k) => (0..*k as u32)
            .prop_map(|i| Value::Enum(i, format!("S{i}")))
            .boxed(),
        G::Decimal { p, .. } => {
            let max = 10i128.pow((*p).min(38) as u32) - 1;
            (-max..=max)
                .prop_map(|v| Value::Decimal(apache_avro::Decimal::from(v.to_be_bytes())))
                .boxed()
        }
        G::Record(fields) => {
            let parts: Vec<_> = fields.iter().map(value_of).collect();
            parts
                .prop_map(|vals| {
                    Value::Record(
                        vals.into_iter()
                            .enumerate()
                            .map(|(i, v)| (format!("f{i}"), v))
                            .collect(),
                    )
                })
                .boxed()
        }
        G::Array(item) => prop::collection::vec(value_of(item), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        G::Map(v) => prop::collection::hash_map("[a-z]{1,3}", value_of(v), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        G::Nullable(inner, null_first) => {
            let (null_at, value_at) = if *null_first { (0, 1) } else { (1, 0) };
            prop_oneof![
                Just(Value::Union(null_at, Box::new(Value::Null))),
                value_of(inner).prop_map(move |v| Value::Union(value_at, Box::new(v))),
            ]
            .boxed()
        }
        G::Union(members, null) => {
            let mut branches: Vec<Option<P>> = members.iter().map(|p| Some(*p)).collect();
            if let Some(at) = null {
                branches.insert((*at).min(branches.len()), None);
            }
            let options: Vec<BoxedStrategy<Value>> = branches
                .into_iter()
                .enumerate()
                .map(|(i, b)| match b {
                    None => Just(Value::Union(i as u32, Box::new(Value::Null))).boxed(),
                    Some(p) => prim_value(p)
                        .prop_map(move |v| Value::Union(i as u32, Box::new(v)))
                        .boxed(),
                })
                .collect();
            prop::strategy::Union::new(options).boxed()
        }
    }
}

/// A value in a form both sides can produce.
#[derive(Debug, Clone, PartialEq)]
enum Norm {
    Null,
    Bool(bool),
    I(i128),
    F32(u32),
    F64(u64),
    B(Vec<u8>),
    S(String),
    List(Vec<Norm>),
    Map(BTreeMap<String, Norm>),
    Struct(Vec<Norm>),
}

fn norm_avro(g: &G, v: &Value) -> Norm {
    match (g, v) {
        (_, Value::Null) => Norm::Null,
        (_, Value::Union(_, b)) if matches!(**b, Value::Null) => Norm::Null,
        (G::Nullable(inner, _), Value::Union(_, b)) => norm_avro(inner, b),
        (G::Union(members, _), Value::Union(_, b)) => {
            let member = members.iter().position(|p| prim_matches(*p, b));
            Norm::Struct(
                members
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        if Some(i) == member {
                            norm_avro(&G::Prim(*p), b)
                        } else {
                            Norm::Null
                        }
                    })
                    .collect(),
            )
        }
        (_, Value::Boolean(b)) => Norm::Bool(*b),
        (_, Value::Int(i) | Value::Date(i) | Value::TimeMillis(i)) => Norm::I(*i as i128),
        (
            _,
            Value::Long(i)
            | Value::TimeMicros(i)
            | Value::TimestampMillis(i)
            | Value::TimestampMicros(i)
            | Value::TimestampNanos(i)
            | Value::LocalTimestampMillis(i)
            | Value::LocalTimestampMicros(i),
        ) => Norm::I(*i as i128),
        (_, Value::Float(f)) => Norm::F32(f.to_bits()),
        (_, Value::Double(f)) => Norm::F64(f.to_bits()),
        (_, Value::Bytes(b) | Value::Fixed(_, b)) => Norm::B(b.clone()),
        (_, Value::String(s) | Value::Enum(_, s)) => Norm::S(s.clone()),
        (_, Value::Uuid(u)) => Norm::S(u.to_string()),
        (_, Value::Decimal(d)) => {
            let bytes: Vec<u8> = d.try_into().expect("decimal bytes");
            let mut buf = [if bytes[0] & 0x80 != 0 { 0xff } else { 0 }; 16];
            buf[16 - bytes.len()..].copy_from_slice(&bytes);
            Norm::I(i128::from_be_bytes(buf))
        }
        (G::Record(fields), Value::Record(vals)) => Norm::Struct(
            fields
                .iter()
                .zip(vals)
                .map(|(f, (_, v))| norm_avro(f, v))
                .collect(),
        ),
        (G::Array(item), Value::Array(items)) => {
            Norm::List(items.iter().map(|v| norm_avro(item, v)).collect())
        }
        (G::Map(value), Value::Map(m)) => Norm::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), norm_avro(value, v)))
                .collect(),
        ),
        (g, v) => panic!("value {v:?} does not fit {g:?}"),
    }
}

fn prim_matches(p: P, v: &Value) -> bool {
    matches!(
        (p, v),
        (P::Boolean, Value::Boolean(_))
            | (P::Int, Value::Int(_))
            | (P::Long, Value::Long(_))
            | (P::Float, Value::Float(_))
            | (P::Double, Value::Double(_))
            | (P::Bytes, Value::Bytes(_))
            | (P::Str, Value::String(_))
    )
}

fn norm_arrow(a: &dyn Array, i: usize) -> Norm {
    if a.is_null(i) {
        return Norm::Null;
    }
    match a.data_type() {
        DataType::Boolean => Norm::Bool(a.as_boolean().value(i)),
        DataType::Int32 => Norm::I(a.as_primitive::<Int32Type>().value(i) as i128),
        DataType::Int64 => Norm::I(a.as_primitive::<Int64Type>().value(i) as i128),
        DataType::Date32 => Norm::I(a.as_primitive::<Date32Type>().value(i) as i128),
        DataType::Time32(_) => Norm::I(a.as_primitive::<Time32MillisecondType>().value(i) as i128),
        DataType::Time64(_) => Norm::I(a.as_primitive::<Time64MicrosecondType>().value(i) as i128),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            Norm::I(a.as_primitive::<TimestampMillisecondType>().value(i) as i128)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Norm::I(a.as_primitive::<TimestampMicrosecondType>().value(i) as i128)
        }
        DataType::Timestamp(_, _) => {
            Norm::I(a.as_primitive::<TimestampNanosecondType>().value(i) as i128)
        }
        DataType::Float32 => Norm::F32(a.as_primitive::<Float32Type>().value(i).to_bits()),
        DataType::Float64 => Norm::F64(a.as_primitive::<Float64Type>().value(i).to_bits()),
        DataType::Binary => Norm::B(a.as_binary::<i32>().value(i).to_vec()),
        DataType::FixedSizeBinary(_) => Norm::B(a.as_fixed_size_binary().value(i).to_vec()),
        DataType::Utf8 => Norm::S(a.as_string::<i32>().value(i).to_owned()),
        DataType::Decimal128(..) => Norm::I(a.as_primitive::<Decimal128Type>().value(i)),
        DataType::Decimal256(..) => Norm::I(
            a.as_primitive::<Decimal256Type>()
                .value(i)
                .to_i128()
                .expect("test values fit i128"),
        ),
        DataType::Struct(_) => {
            let s = a.as_struct();
            Norm::Struct(
                s.columns()
                    .iter()
                    .map(|c| norm_arrow(c.as_ref(), i))
                    .collect(),
            )
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>().value(i);
            Norm::List((0..l.len()).map(|j| norm_arrow(l.as_ref(), j)).collect())
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            Norm::Map(
                (0..entries.len())
                    .map(|j| {
                        let k = keys.as_string::<i32>().value(j).to_owned();
                        (k, norm_arrow(values.as_ref(), j))
                    })
                    .collect(),
            )
        }
        other => panic!("unexpected arrow type {other}"),
    }
}

fn case() -> impl Strategy<Value = (G, bool, Vec<Value>)> {
    (prop::collection::vec(schema_tree(), 0..4), any::<bool>()).prop_flat_map(|(fields, top)| {
        // Either a record flattened into columns, or a single non-record `value` column.
        let g = if top || fields.is_empty() {
            G::Record(fields)
        } else {
            fields[0].clone()
        };
        let values = prop::collection::vec(value_of(&g), 1..12);
        (Just(g), Just(top), values)
    })
}

fn roundtrip(g: &G, values: &[Value]) {
    let mut n = 0;
    let json = match g {
        G::Record(fields) => record_json("Top", fields, &mut n),
        other => render(other, &mut n),
    };
    let avro = Schema::parse_str(&json.to_string()).expect("generated schema parses");
    let lake = Arc::new(LakeSchema::from_avro(7, avro.clone()).expect("schema maps"));
    let mut rows = RowBuilder::new(lake.clone());
    for (i, v) in values.iter().enumerate() {
        let body = apache_avro::to_avro_datum(&avro, v.clone()).expect("value encodes");
        let decoded =
            apache_avro::from_avro_datum(&avro, &mut body.as_slice(), None).expect("decodes");
        let meta = RecordMeta {
            topic: "t",
            partition: 0,
            offset: i as i64,
            timestamp_ms: Some(1),
            key: Some("k"),
        };
        rows.append(&meta, Some(&decoded)).expect("row appends");
    }
    let batch = rows.finish().expect("batch");
    let mut writer = ArrowWriter::try_new(Vec::new(), lake.arrow.clone(), None).expect("writer");
    writer.write(&batch).expect("parquet write");
    let bytes = writer.into_inner().expect("close");
    let back = read_parquet("mem", bytes.into()).expect("parquet read");
    let back = arrow::compute::concat_batches(&lake.arrow, &back).expect("concat");
    assert_eq!(back.num_rows(), values.len());
    assert_eq!(
        back.schema().fields(),
        lake.arrow.fields(),
        "schema survives Parquet"
    );
    for (i, v) in values.iter().enumerate() {
        match (g, v) {
            (G::Record(fields), Value::Record(vals)) => {
                for (c, (f, (_, fv))) in fields.iter().zip(vals).enumerate() {
                    assert_eq!(
                        norm_arrow(back.column(c).as_ref(), i),
                        norm_avro(f, fv),
                        "row {i} f{c}"
                    );
                }
            }
            _ => assert_eq!(
                norm_arrow(back.column(0).as_ref(), i),
                norm_avro(g, v),
                "row {i}"
            ),
        }
    }
    let offsets = back.column_by_name("_offset").expect("_offset");
    assert_eq!(
        offsets.as_primitive::<Int64Type>().values().to_vec(),
        (0..values.len() as i64).collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn avro_values_survive_arrow_and_parquet((g, _top, values) in case()) {
        roundtrip(&g, &values);
    }
}

#[test]
fn tombstones_are_rows_with_null_values() {
    let avro = Schema::parse_str(
        r#"{"type":"record","name":"P","fields":[{"name":"id","type":"string"}]}"#,
    )
    .unwrap();
    let lake = Arc::new(LakeSchema::from_avro(3, avro).unwrap());
    let mut rows = RowBuilder::new(lake.clone());
    let meta = RecordMeta {
        topic: "t",
        partition: 1,
        offset: 5,
        timestamp_ms: None,
        key: Some("p1"),
    };
    rows.append(&meta, None).unwrap();
    let batch = rows.finish().unwrap();
    let col = |n: &str| batch.column_by_name(n).unwrap().clone();
    assert!(col("id").is_null(0));
    assert!(col("_tombstone").as_boolean().value(0));
    assert!(col("_schema_id").is_null(0));
    assert_eq!(col("_key").as_string::<i32>().value(0), "p1");
}
