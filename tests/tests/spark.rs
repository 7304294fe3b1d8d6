//! spark-submit (pyspark 4 from the platform venv) reads a Parquet file we put on HDFS.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use vygoda_storage::Storage;
use vygoda_tests::TestPlatform;

#[tokio::test]
async fn spark_submit_reads_parquet_from_hdfs() {
    let tp = TestPlatform::get();
    let dir = tp.hdfs_dir("spark-smoke");
    let rows: i64 = 1000;
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from_iter_values(0..rows))],
    )
    .unwrap();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    dir.storage()
        .put("numbers.parquet", Bytes::from(buf))
        .await
        .unwrap();

    let output = tokio::process::Command::new(&tp.platform.spark.submit)
        .args(["--master", "local[1]", "--conf", "spark.ui.enabled=false"])
        .arg(tp.root.join("tests/fixtures/spark_count.py"))
        .arg(format!("{}/numbers.parquet", dir.url))
        .output()
        .await
        .expect("run spark-submit");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "spark-submit failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = format!("rows={rows} sum={}", rows * (rows - 1) / 2);
    assert!(
        stdout.lines().any(|l| l.trim() == expected),
        "expected `{expected}` in spark output: {stdout}"
    );
}
