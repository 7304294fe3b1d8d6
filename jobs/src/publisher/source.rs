//! A recommendations run's output directory, read into one record per user.
//!
//! The directory holds Parquet part files (user_id, rank, product_id, score, model), the JSON
//! `_SUCCESS` marker written last by the job (run id, completion time), `metrics.json` and
//! `inputs.json`. Everything a record carries comes from these files, never from the clock, so
//! publishing the same run twice yields the same bytes.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int32Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::avro::{Item, Recommendation};
use vygoda_storage::url as storage;
use vygoda_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{url}: the run is not complete (no _SUCCESS marker); publish only successful runs")]
    NotComplete { url: String },
    #[error("{url}: {message}")]
    Marker { url: String, message: String },
    #[error("{url}: run id is `{found}`, expected `{expected}`; check --run-dir")]
    WrongRun {
        url: String,
        found: String,
        expected: String,
    },
    #[error("{file}: not a readable Parquet file: {message}")]
    Parquet { file: String, message: String },
    #[error("{file}: column `{column}` {message}")]
    Column {
        file: String,
        column: &'static str,
        message: String,
    },
    #[error("{url}: no Parquet files; the run wrote no recommendations")]
    Empty { url: String },
}

/// Everything to publish for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub run_id: String,
    pub generated_at_ms: i64,
    pub metrics: BTreeMap<String, f64>,
    pub records: Vec<Recommendation>,
    /// Rows that could not be used, each naming its file, row and field.
    pub rejected: Vec<String>,
}

/// Flatten `{"als": {"ndcg@10": 0.1}, "k": 10}` into `{"als.ndcg@10": 0.1, "k": 10.0}`.
pub fn flatten_metrics(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, f64>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, inner) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_metrics(&key, inner, out);
            }
        }
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.insert(prefix.to_owned(), f);
            }
        }
        _ => {}
    }
}

async fn marker(run_dir: &str) -> Result<(String, i64), SourceError> {
    let url = format!("{run_dir}/_SUCCESS");
    let bytes = match storage::read(&url).await {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Err(SourceError::NotComplete { url }),
        Err(e) => return Err(e.into()),
    };
    let bad = |message: String| SourceError::Marker {
        url: url.clone(),
        message,
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "not the job's JSON marker ({e}); was it written by recommendations.py?"
        ))
    })?;
    let run_id = v["run_id"]
        .as_str()
        .ok_or_else(|| bad("has no run_id".into()))?
        .to_owned();
    let completed = v["completed_at"]
        .as_str()
        .ok_or_else(|| bad("has no completed_at".into()))?;
    let at = chrono::DateTime::parse_from_rfc3339(completed)
        .map_err(|e| bad(format!("completed_at `{completed}` is not RFC 3339: {e}")))?;
    Ok((run_id, at.timestamp_millis()))
}

/// Read a run directory (`file://…` or `hdfs://…`).
pub async fn load(run_dir: &str, expected_run_id: Option<&str>) -> Result<Batch, SourceError> {
    let run_dir = run_dir.trim_end_matches('/');
    let (run_id, generated_at_ms) = marker(run_dir).await?;
    if let Some(expected) = expected_run_id.filter(|e| *e != run_id) {
        return Err(SourceError::WrongRun {
            url: run_dir.to_owned(),
            found: run_id,
            expected: expected.to_owned(),
        });
    }
    let mut metrics = BTreeMap::new();
    match storage::read(&format!("{run_dir}/metrics.json")).await {
        Ok(bytes) => {
            let v: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| SourceError::Marker {
                    url: format!("{run_dir}/metrics.json"),
                    message: format!("not JSON: {e}"),
                })?;
            flatten_metrics("", &v, &mut metrics);
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    let files: Vec<_> = storage::list_files(run_dir)
        .await?
        .into_iter()
        .filter(|e| e.name.ends_with(".parquet") && !e.name.starts_with(['_', '.']))
        .collect();
    if files.is_empty() {
        return Err(SourceError::Empty {
            url: run_dir.to_owned(),
        });
    }
    let mut users: BTreeMap<String, Vec<(Item, String)>> = BTreeMap::new();
    let mut rejected = Vec::new();
    for f in &files {
        let bytes = storage::read(&f.url).await?;
        read_file(&f.url, bytes, &mut users, &mut rejected)?;
    }
    let records = users
        .into_iter()
        .map(|(user_id, mut rows)| {
            rows.sort_by(|a, b| (a.0.rank, &a.0.product_id).cmp(&(b.0.rank, &b.0.product_id)));
            // A product listed twice for a user keeps its best rank.
            let mut seen = std::collections::BTreeSet::new();
            rows.retain(|(item, _)| seen.insert(item.product_id.clone()));
            let mut models: Vec<&str> = rows.iter().map(|(_, m)| m.as_str()).collect();
            models.sort_unstable();
            models.dedup();
            Recommendation {
                model: models.join("+"),
                items: rows.iter().map(|(i, _)| i.clone()).collect(),
                user_id,
                run_id: run_id.clone(),
                generated_at_ms,
                metrics: metrics.clone(),
            }
        })
        .collect();
    Ok(Batch {
        run_id,
        generated_at_ms,
        metrics,
        records,
        rejected,
    })
}

fn column(
    file: &str,
    batch: &RecordBatch,
    name: &'static str,
    ty: &DataType,
) -> Result<std::sync::Arc<dyn Array>, SourceError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| SourceError::Column {
            file: file.to_owned(),
            column: name,
            message: format!(
                "is missing (found: {:?})",
                batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect::<Vec<_>>()
            ),
        })?;
    arrow::compute::cast(col, ty).map_err(|e| SourceError::Column {
        file: file.to_owned(),
        column: name,
        message: format!("has type {}, expected {ty}: {e}", col.data_type()),
    })
}

fn read_file(
    file: &str,
    bytes: bytes::Bytes,
    users: &mut BTreeMap<String, Vec<(Item, String)>>,
    rejected: &mut Vec<String>,
) -> Result<(), SourceError> {
    let perr = |e: &dyn std::fmt::Display| SourceError::Parquet {
        file: file.to_owned(),
        message: e.to_string(),
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| perr(&e))?
        .build()
        .map_err(|e| perr(&e))?;
    let mut row_base = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| perr(&e))?;
        let user = column(file, &batch, "user_id", &DataType::Utf8)?;
        let product = column(file, &batch, "product_id", &DataType::Utf8)?;
        let rank = column(file, &batch, "rank", &DataType::Int32)?;
        let score = column(file, &batch, "score", &DataType::Float64)?;
        let model = column(file, &batch, "model", &DataType::Utf8)?;
        let (user, product, model) = (
            user.as_string::<i32>(),
            product.as_string::<i32>(),
            model.as_string::<i32>(),
        );
        let (rank, score) = (
            rank.as_primitive::<Int32Type>(),
            score.as_primitive::<Float64Type>(),
        );
        for i in 0..batch.num_rows() {
            let row = row_base + i;
            let problem = if user.is_null(i) || user.value(i).is_empty() {
                Some("user_id is null or empty")
            } else if product.is_null(i) || product.value(i).is_empty() {
                Some("product_id is null or empty")
            } else if rank.is_null(i) || rank.value(i) < 1 {
                Some("rank is null or below 1")
            } else if score.is_null(i) || !score.value(i).is_finite() {
                Some("score is null or not finite")
            } else {
                None
            };
            if let Some(problem) = problem {
                rejected.push(format!("{file} row {row}: {problem}"));
                continue;
            }
            let item = Item {
                product_id: product.value(i).to_owned(),
                score: score.value(i),
                rank: rank.value(i),
            };
            let m = if model.is_null(i) {
                "unknown"
            } else {
                model.value(i)
            };
            users
                .entry(user.value(i).to_owned())
                .or_default()
                .push((item, m.to_owned()));
        }
        row_base += batch.num_rows();
    }
    Ok(())
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
