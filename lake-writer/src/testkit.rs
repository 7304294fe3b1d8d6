//! Reading a lake back, independently of the writer's own bookkeeping, for this crate's tests
//! (feature `testkit`).

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, Int64Type};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::dead_letter::DeadLetter;
use crate::layout::{classify, dead_letter_dir, Entry, FileKind};
use vygoda_storage::{Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{path}: {why}")]
    Bad { path: String, why: String },
}

/// Every row of every committed Parquet file of `topic` (hidden files ignored, like Spark).
pub async fn read_topic<S: Storage>(
    storage: &S,
    topic: &str,
) -> Result<Vec<(String, RecordBatch)>, ReadError> {
    let mut out = Vec::new();
    for e in storage.list(topic).await? {
        if let Entry::Committed(c) = classify(e.name()) {
            if c.kind != FileKind::Parquet {
                continue;
            }
            let bytes = storage.read(&e.path).await?;
            out.extend(
                read_parquet(&e.path, bytes)?
                    .into_iter()
                    .map(|b| (e.path.clone(), b)),
            );
        }
    }
    Ok(out)
}

pub fn read_parquet(path: &str, bytes: bytes::Bytes) -> Result<Vec<RecordBatch>, ReadError> {
    let bad = |why: String| ReadError::Bad {
        path: path.to_owned(),
        why,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| bad(e.to_string()))?
        .build()
        .map_err(|e| bad(e.to_string()))?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))
}

/// Dead letters of `topic`.
pub async fn read_dead_letters<S: Storage>(
    storage: &S,
    topic: &str,
) -> Result<Vec<DeadLetter>, ReadError> {
    let mut out = Vec::new();
    for e in storage.list(&dead_letter_dir(topic)).await? {
        if !matches!(classify(e.name()), Entry::Committed(_)) {
            continue;
        }
        let bytes = storage.read(&e.path).await?;
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            out.push(serde_json::from_slice(line).map_err(|e2| ReadError::Bad {
                path: e.path.clone(),
                why: e2.to_string(),
            })?);
        }
    }
    Ok(out)
}

/// (partition, offset) of every Parquet row and every dead letter of `topic`, sorted: what
/// the lake holds, for exactly-once checks.
pub async fn lake_offsets<S: Storage>(
    storage: &S,
    topic: &str,
) -> Result<Vec<(i32, i64)>, ReadError> {
    let mut out = Vec::new();
    for (path, batch) in read_topic(storage, topic).await? {
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| ReadError::Bad {
                    path: path.clone(),
                    why: format!("no {name} column"),
                })
        };
        let parts = col("_partition")?;
        let offsets = col("_offset")?;
        let parts = parts.as_primitive::<Int32Type>();
        let offsets = offsets.as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            if parts.is_valid(i) && offsets.is_valid(i) {
                out.push((parts.value(i), offsets.value(i)));
            }
        }
    }
    for d in read_dead_letters(storage, topic).await? {
        out.push((d.partition, d.offset));
    }
    out.sort_unstable();
    Ok(out)
}
