//! Records the writer cannot decode, kept as NDJSON lines (raw bytes base64) in
//! `_dead_letter/<topic>/<topic>+<partition>+<first>+<last>.ndjson`.
//!
//! Dead-letter files are members of their partition's commit group like Parquet files, so the
//! offsets they hold count as written: exactly-once covers rejected records too.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::rows::RecordMeta;

/// One line of a dead-letter file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Kafka record timestamp, epoch milliseconds.
    pub timestamp: Option<i64>,
    /// The key as text when it is UTF-8.
    pub key: Option<String>,
    pub key_base64: Option<String>,
    pub value_base64: Option<String>,
    /// Schema id from the wire header, when there was one.
    pub schema_id: Option<u32>,
    /// Why the record was rejected, naming the field when there is one.
    pub reason: String,
    /// When the writer rejected it (RFC 3339).
    pub rejected_at: String,
}

#[derive(Default)]
pub struct DeadLetterBuffer {
    lines: Vec<u8>,
    pub first_offset: i64,
    pub last_offset: i64,
    pub records: u64,
}

impl DeadLetterBuffer {
    pub fn push(
        &mut self,
        meta: &RecordMeta<'_>,
        raw_key: Option<&[u8]>,
        raw_value: Option<&[u8]>,
        schema_id: Option<u32>,
        reason: &str,
    ) {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let line = DeadLetter {
            topic: meta.topic.to_owned(),
            partition: meta.partition,
            offset: meta.offset,
            timestamp: meta.timestamp_ms,
            key: raw_key.and_then(|k| std::str::from_utf8(k).ok().map(str::to_owned)),
            key_base64: raw_key.map(b64),
            value_base64: raw_value.map(b64),
            schema_id,
            reason: reason.to_owned(),
            rejected_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        // Serialising a struct of strings and integers cannot fail.
        if let Ok(json) = serde_json::to_vec(&line) {
            self.lines.extend_from_slice(&json);
            self.lines.push(b'\n');
        }
        if self.records == 0 {
            self.first_offset = meta.offset;
        }
        self.last_offset = meta.offset;
        self.records += 1;
    }

    pub fn memory(&self) -> u64 {
        self.lines.len() as u64
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.lines
    }
}
