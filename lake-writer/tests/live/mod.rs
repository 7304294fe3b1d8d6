//! Helpers of the tests on the live platform: a registered schema, wire-format records, the
//! independent Kafka reader and the real lake-writer binary.
// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use vygoda_storage::{HdfsStorage, Retrying};
use vygoda_tests::{consume_all, KeyValue, ServiceProcess, TestPlatform};

pub const SCHEMA: &str = r#"{"type":"record","name":"Event","namespace":"vygoda.test","fields":[
  {"name":"user_id","type":"string"},
  {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["VIEW","CART","PURCHASE"]}},
  {"name":"price","type":["null",{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}]},
  {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"tags","type":{"type":"array","items":"string"}}]}"#;

pub fn hdfs(url: &str) -> Retrying<HdfsStorage> {
    Retrying::new(
        HdfsStorage::new(url).expect("hdfs url"),
        Duration::from_secs(60),
    )
}

/// Register SCHEMA under `<topic>-value` as the lake writer's principal; returns its id.
pub async fn register(tp: &TestPlatform, topic: &str) -> u32 {
    let config = vygoda_avro::registry::RegistryArgs::default()
        .resolve(Some(&tp.platform), "lake-writer")
        .expect("registry settings");
    vygoda_avro::registry::Registry::new(config)
        .expect("registry client")
        .register(&format!("{topic}-value"), SCHEMA)
        .await
        .expect("schema registered")
}

/// `n` wire-format records (every 13th a tombstone, every 501st undecodable).
pub fn records(id: u32, n: usize) -> Vec<KeyValue> {
    use apache_avro::types::Value;
    let schema = apache_avro::Schema::parse_str(SCHEMA).expect("schema");
    (0..n)
        .map(|i| {
            let key = Some(format!("user-{}", i % 997).into_bytes());
            if i % 13 == 7 {
                return (key, None);
            }
            if i % 501 == 3 {
                return (key, Some(vec![9, 9, 9]));
            }
            let v = Value::Record(vec![
                ("user_id".into(), Value::String(format!("user-{}", i % 997))),
                (
                    "kind".into(),
                    Value::Enum((i % 3) as u32, ["VIEW", "CART", "PURCHASE"][i % 3].into()),
                ),
                (
                    "price".into(),
                    Value::Union(
                        1,
                        Box::new(Value::Decimal(((i as i64) * 7).to_be_bytes().into())),
                    ),
                ),
                (
                    "at".into(),
                    Value::TimestampMillis(1_700_000_000_000 + i as i64 * 1000),
                ),
                (
                    "tags".into(),
                    Value::Array(vec![Value::String(format!("t{}", i % 5))]),
                ),
            ]);
            let datum = apache_avro::to_avro_datum(&schema, v).expect("encode");
            (key, Some(vygoda_avro::wire::frame(id, &datum)))
        })
        .collect()
}

/// What Kafka holds, read independently of the writer: (partition, offset) sorted.
pub fn kafka_offsets(tp: &TestPlatform, topic: &str) -> Vec<(i32, i64)> {
    let mut v: Vec<_> = consume_all(&tp.kafka_props("analytics", "lake-writer"), topic)
        .into_iter()
        .map(|r| (r.partition, r.offset))
        .collect();
    v.sort_unstable();
    v
}

pub fn writer_args<'a>(
    tp: &'a TestPlatform,
    topic: &'a str,
    lake: &'a str,
    extra: &[&'a str],
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--platform",
        tp.platform_file().to_str().expect("utf8 path"),
        "--topics",
        topic,
        "--lake-root",
        lake,
        "--metrics-addr",
        "127.0.0.1:0",
        "--tick",
        "200ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

pub fn spawn_writer(args: &[String]) -> ServiceProcess {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_lake-writer"),
        &args,
        &[("RUST_LOG", "info")],
    )
}
