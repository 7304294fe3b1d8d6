use std::sync::Arc;

use arrow::array::{Float64Array, Int32Array, StringArray};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;

use super::*;

type Row<'a> = (Option<&'a str>, i32, Option<&'a str>, f64, &'a str);

fn write_parquet(path: &std::path::Path, rows: &[Row<'_>]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, true),
        Field::new("rank", DataType::Int32, true),
        Field::new("product_id", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("model", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(Int32Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn run_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_parquet(
        &d.join("part-00000-x.snappy.parquet"),
        &[
            (Some("u2"), 2, Some("p9"), 0.5, "popularity"),
            (Some("u1"), 2, Some("p2"), 0.7, "als"),
            (Some("u1"), 1, Some("p1"), 0.9, "als"),
            (None, 1, Some("p1"), 0.9, "als"),
            (Some("u2"), 1, Some("p8"), 0.8, "als"),
        ],
    );
    write_parquet(
        &d.join("part-00001-x.snappy.parquet"),
        &[(Some("u3"), 1, Some(""), 0.1, "als")],
    );
    std::fs::write(
        d.join("_SUCCESS"),
        r#"{"run_id": "r-1", "completed_at": "2026-01-02T03:04:05.678+00:00"}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("metrics.json"),
        r#"{"k": 10, "als": {"ndcg@10": 0.25}, "note": "x"}"#,
    )
    .unwrap();
    std::fs::write(d.join("inputs.json"), "{}").unwrap();
    let url = format!("file://{}", d.display());
    (dir, url)
}

#[tokio::test]
async fn groups_rows_per_user_in_rank_order_and_reports_bad_rows() {
    let (_dir, url) = run_dir();
    let b = load(&url, Some("r-1")).await.unwrap();
    assert_eq!(b.run_id, "r-1");
    assert_eq!(b.generated_at_ms, 1_767_323_045_678);
    assert_eq!(
        b.metrics,
        BTreeMap::from([("k".into(), 10.0), ("als.ndcg@10".into(), 0.25)])
    );
    let users: Vec<_> = b.records.iter().map(|r| r.user_id.as_str()).collect();
    assert_eq!(users, ["u1", "u2"]);
    let u1: Vec<_> = b.records[0]
        .items
        .iter()
        .map(|i| (i.rank, i.product_id.as_str()))
        .collect();
    assert_eq!(u1, [(1, "p1"), (2, "p2")]);
    assert_eq!(b.records[0].model, "als");
    assert_eq!(b.records[1].model, "als+popularity");
    assert_eq!(b.rejected.len(), 2, "{:?}", b.rejected);
    assert!(
        b.rejected[0].contains("part-00000-x.snappy.parquet row 3: user_id"),
        "{:?}",
        b.rejected
    );
    assert!(
        b.rejected[1].contains("part-00001-x.snappy.parquet row 0: product_id"),
        "{:?}",
        b.rejected
    );
}

#[tokio::test]
async fn the_same_directory_reads_the_same_way_twice() {
    let (_dir, url) = run_dir();
    assert_eq!(
        load(&url, None).await.unwrap(),
        load(&url, None).await.unwrap()
    );
}

#[tokio::test]
async fn refuses_incomplete_or_foreign_runs() {
    let (dir, url) = run_dir();
    assert!(matches!(
        load(&url, Some("r-2")).await,
        Err(SourceError::WrongRun { .. })
    ));
    std::fs::write(dir.path().join("_SUCCESS"), "").unwrap();
    let e = load(&url, None).await.unwrap_err();
    assert!(e.to_string().contains("JSON marker"), "{e}");
    std::fs::remove_file(dir.path().join("_SUCCESS")).unwrap();
    assert!(matches!(
        load(&url, None).await,
        Err(SourceError::NotComplete { .. })
    ));
}
