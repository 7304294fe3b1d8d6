//! One open Parquet file: rows accumulate in Arrow builders, go to the Parquet encoder in
//! batches, and the encoded bytes stay in memory until the file is committed (then they are
//! written in one go, which makes a failed upload simply retryable).

use std::collections::BTreeMap;
use std::sync::Arc;

use apache_avro::types::Value;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use prometheus_client::metrics::histogram::Histogram;

use crate::builders::BuildError;
use crate::config::{Codec, WriterConfig};
use crate::rows::{LakeSchema, RecordMeta, RowBuilder};

/// Rows collected before they are handed to the Parquet encoder.
const BATCH_ROWS: usize = 8192;
/// Builder bytes (estimated) before they are handed to the Parquet encoder.
const BATCH_BYTES: u64 = 8 << 20;
/// Arrow builders take roughly this much memory per byte of Avro input, plus per-row overhead.
const BUILDER_FACTOR: u64 = 2;
const ROW_OVERHEAD: u64 = 48;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("parquet encoding failed: {0}")]
    Parquet(#[from] ParquetError),
}

pub fn writer_properties(cfg: &WriterConfig) -> Arc<WriterProperties> {
    let compression = match cfg.compression {
        Codec::Zstd => Compression::ZSTD(ZstdLevel::try_new(cfg.zstd_level).unwrap_or_default()),
        Codec::Snappy => Compression::SNAPPY,
    };
    Arc::new(
        WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_bytes(Some(cfg.row_group_bytes.max(1) as usize))
            .set_max_row_group_row_count(Some(1 << 22))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("vygoda-lake-writer {}", env!("CARGO_PKG_VERSION")))
            .build(),
    )
}

/// Kafka timestamps of a file's records, counted per 10 ms tick: the commit observes every
/// record's delay without keeping one value per record (the resolution is far below the delays
/// that matter, which are seconds to an hour).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stamps(BTreeMap<i64, u64>);

impl Stamps {
    const TICK_MS: i64 = 10;

    pub fn add(&mut self, timestamp_ms: i64) {
        *self
            .0
            .entry(timestamp_ms.div_euclid(Self::TICK_MS))
            .or_default() += 1;
    }

    pub fn merge(&mut self, other: Stamps) {
        for (tick, n) in other.0 {
            *self.0.entry(tick).or_default() += n;
        }
    }

    /// Observe each record's delay from its timestamp to `now_ms` in `histogram`.
    pub fn observe(&self, histogram: &Histogram, now_ms: i64) {
        for (&tick, &n) in &self.0 {
            let delay = vygoda_common::metrics::delay_seconds(tick * Self::TICK_MS, now_ms);
            for _ in 0..n {
                histogram.observe(delay);
            }
        }
    }
}

pub struct OpenFile {
    rows: RowBuilder,
    writer: ArrowWriter<Vec<u8>>,
    pending_bytes: u64,
    pub hour: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub records: u64,
    /// Largest partition time (ms) of the rows in this file.
    pub max_time_ms: i64,
    pub stamps: Stamps,
}

/// A closed file, ready to upload.
pub struct FinishedFile {
    pub bytes: Vec<u8>,
    pub hour: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub records: u64,
    pub max_time_ms: i64,
    pub stamps: Stamps,
}

impl OpenFile {
    pub fn new(
        schema: Arc<LakeSchema>,
        props: Arc<WriterProperties>,
        hour: i64,
    ) -> Result<OpenFile, FileError> {
        let writer =
            ArrowWriter::try_new(Vec::new(), schema.arrow.clone(), Some((*props).clone()))?;
        Ok(OpenFile {
            rows: RowBuilder::new(schema),
            writer,
            pending_bytes: 0,
            hour,
            first_offset: -1,
            last_offset: -1,
            records: 0,
            max_time_ms: i64::MIN,
            stamps: Stamps::default(),
        })
    }

    pub fn schema(&self) -> &Arc<LakeSchema> {
        self.rows.schema()
    }

    pub fn poisoned(&self) -> bool {
        self.rows.poisoned()
    }

    /// Append one record; on a data error nothing was appended and the caller dead-letters it.
    pub fn append(
        &mut self,
        meta: &RecordMeta<'_>,
        value: Option<&Value>,
        input_bytes: usize,
        time_ms: i64,
    ) -> Result<(), FileError> {
        self.rows.append(meta, value)?;
        if self.records == 0 {
            self.first_offset = meta.offset;
        }
        self.last_offset = meta.offset;
        self.records += 1;
        self.max_time_ms = self.max_time_ms.max(time_ms);
        if let Some(ts) = meta.timestamp_ms {
            self.stamps.add(ts);
        }
        self.pending_bytes += input_bytes as u64 * BUILDER_FACTOR + ROW_OVERHEAD;
        if self.rows.rows() >= BATCH_ROWS || self.pending_bytes >= BATCH_BYTES {
            self.encode_pending()?;
        }
        Ok(())
    }

    fn encode_pending(&mut self) -> Result<(), FileError> {
        if self.rows.rows() > 0 {
            let batch = self.rows.finish()?;
            self.writer.write(&batch)?;
        }
        self.pending_bytes = 0;
        Ok(())
    }

    /// Estimated size of the file if it were closed now.
    pub fn size_estimate(&self) -> u64 {
        (self.writer.inner().len() + self.writer.in_progress_size()) as u64 + self.pending_bytes / 4
    }

    /// Memory held: encoded bytes, the encoder's buffers, and the builders.
    pub fn memory(&self) -> u64 {
        (self.writer.inner().len() + self.writer.memory_size()) as u64 + self.pending_bytes
    }

    pub fn finish(mut self) -> Result<FinishedFile, FileError> {
        self.encode_pending()?;
        self.writer.finish()?;
        let bytes = std::mem::take(self.writer.inner_mut());
        Ok(FinishedFile {
            bytes,
            hour: self.hour,
            first_offset: self.first_offset,
            last_offset: self.last_offset,
            records: self.records,
            max_time_ms: self.max_time_ms,
            stamps: std::mem::take(&mut self.stamps),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[test]
    fn stamps_observe_every_record_with_its_delay() {
        let mut file_a = Stamps::default();
        file_a.add(1_000);
        file_a.add(1_004); // same 10 ms tick as 1_000
        let mut file_b = Stamps::default();
        file_b.add(5_000);
        file_a.merge(file_b);
        let histogram = Histogram::new([2.0, 10.0]);
        file_a.observe(&histogram, 6_000);
        let mut registry = Registry::default();
        registry.register("delay", "test", histogram);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "delay_count 3",
            "delay_sum 11.0",
            "delay_bucket{le=\"2.0\"} 1",
            "delay_bucket{le=\"10.0\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
    }
}
