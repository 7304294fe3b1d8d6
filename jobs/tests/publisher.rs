//! The publisher against the real brokers and schema registry: publishing a run twice writes the
//! same key and value bytes for every user.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use vygoda_tests::{consume_all, unique_name, ServiceProcess, TestPlatform};

const USERS: usize = 50;
const TOP_N: usize = 5;

fn write_run(dir: &std::path::Path, run_id: &str) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("rank", DataType::Int32, false),
        Field::new("product_id", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("model", DataType::Utf8, false),
    ]));
    let (mut users, mut ranks, mut products, mut scores, mut models) =
        (vec![], vec![], vec![], vec![], vec![]);
    for u in 0..USERS {
        for r in 1..=TOP_N {
            users.push(format!("user-{u}"));
            ranks.push(r as i32);
            products.push(format!("p-{}", (u * 7 + r) % 97));
            scores.push(1.0 / r as f64 + u as f64 * 1e-3);
            models.push(if r == TOP_N { "popularity" } else { "als" });
        }
    }
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(users)),
            Arc::new(Int32Array::from(ranks)),
            Arc::new(StringArray::from(products)),
            Arc::new(Float64Array::from(scores)),
            Arc::new(StringArray::from(models)),
        ],
    )
    .expect("write the test run");
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(dir.join("part-00000.snappy.parquet")).expect("write the test run"),
        schema,
        None,
    )
    .expect("write the test run");
    w.write(&batch).expect("write the test run");
    w.close().expect("write the test run");
    std::fs::write(
        dir.join("metrics.json"),
        r#"{"k": 10, "als": {"ndcg@10": 0.31}, "popularity": {"ndcg@10": 0.12}}"#,
    )
    .expect("write the test run");
    std::fs::write(
        dir.join("_SUCCESS"),
        format!(r#"{{"run_id": "{run_id}", "completed_at": "2026-03-01T03:31:07.250+00:00"}}"#),
    )
    .expect("write the test run");
}

fn publish(run_dir: &str, run_id: &str, topic: &str) {
    let tp = TestPlatform::get();
    let platform = tp.platform_file().display().to_string();
    let args = [
        "--platform",
        &platform,
        "--run-dir",
        run_dir,
        "--run-id",
        run_id,
        "--topic",
        topic,
    ];
    let mut p = ServiceProcess::spawn(env!("CARGO_BIN_EXE_publisher"), &args, &[]);
    let status = p
        .wait_timeout(Duration::from_secs(120))
        .expect("publisher finishes");
    assert!(
        status.success(),
        "publisher failed ({status}); log {}",
        p.log_path().display()
    );
}

#[tokio::test]
async fn publishing_a_run_twice_writes_identical_bytes_per_key() {
    let tp = TestPlatform::get();
    let topic = unique_name("recommendations");
    let _guard = tp.create_topic("prod", &topic, 3, true).await;
    let dir = tempfile::tempdir().unwrap();
    let run_id = "recommendations-20260301T030000Z-test";
    write_run(dir.path(), run_id);
    let run_dir = format!("file://{}", dir.path().display());
    publish(&run_dir, run_id, &topic);
    publish(&run_dir, run_id, &topic);

    let props = tp.kafka_props("prod", "operator");
    let records = tokio::task::spawn_blocking(move || consume_all(&props, &topic))
        .await
        .unwrap();
    let mut by_key: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for r in records {
        by_key
            .entry(r.key.expect("keyed by user"))
            .or_default()
            .push(r.value.expect("value"));
    }
    assert_eq!(by_key.len(), USERS);
    let schema = apache_avro::Schema::parse_str(vygoda_jobs::publisher::avro::SCHEMA).unwrap();
    for (key, values) in &by_key {
        assert_eq!(values.len(), 2, "{}", String::from_utf8_lossy(key));
        assert_eq!(
            values[0],
            values[1],
            "re-publish changed the bytes of {}",
            String::from_utf8_lossy(key)
        );
        assert_eq!(values[0][0], 0, "Confluent magic byte");
        let mut body = &values[0][5..];
        let decoded = apache_avro::from_avro_datum(&schema, &mut body, None).unwrap();
        let apache_avro::types::Value::Record(fields) = decoded else {
            panic!("not a record")
        };
        let get = |n: &str| {
            fields
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            get("user_id"),
            apache_avro::types::Value::String(String::from_utf8(key.clone()).unwrap())
        );
        assert_eq!(
            get("run_id"),
            apache_avro::types::Value::String(run_id.into())
        );
        assert_eq!(
            get("model"),
            apache_avro::types::Value::String("als+popularity".into())
        );
        assert_eq!(
            get("generated_at"),
            apache_avro::types::Value::TimestampMillis(1_772_335_867_250)
        );
        let apache_avro::types::Value::Array(items) = get("items") else {
            panic!("items")
        };
        assert_eq!(items.len(), TOP_N);
    }
}
