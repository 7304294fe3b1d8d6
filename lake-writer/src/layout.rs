//! Names and places of everything in the lake.
//!
//! ```text
//! <topic>/date=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first:020>+<last:020>.parquet
//! <topic>/date=YYYY-MM-DD/hour=HH/_manifest.json, _SUCCESS
//! <topic>/_watermark.json
//! _dead_letter/<topic>/<topic>+<partition>+<first:020>+<last:020>.ndjson
//! ```
//! In-flight files live next to their final name, hidden from Spark and pyarrow by a leading
//! dot:
//! - `.<final>.<uuid>.inprogress`: being written; always garbage after a crash.
//! - `.<final>.cut-<C:020>.ready`: complete and durable, waiting for its commit group (all
//!   files of one Kafka partition up to offset C) to be committed. See `commit.rs`.

use chrono::{DateTime, Datelike, Timelike, Utc};

pub const DEAD_LETTER_DIR: &str = "_dead_letter";
pub const MANIFEST: &str = "_manifest.json";
pub const SUCCESS: &str = "_SUCCESS";
pub const WATERMARK: &str = "_watermark.json";

/// Start of the hour containing `ms` (epoch milliseconds), in epoch seconds.
pub fn hour_start(ms: i64) -> i64 {
    ms.div_euclid(3_600_000) * 3600
}

/// `<topic>/date=YYYY-MM-DD/hour=HH`.
pub fn hour_dir(topic: &str, hour_start_secs: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp(hour_start_secs, 0).unwrap_or_default();
    format!(
        "{topic}/date={:04}-{:02}-{:02}/hour={:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour()
    )
}

/// The hour start (epoch seconds) of a `.../date=YYYY-MM-DD/hour=HH` directory.
pub fn parse_hour_dir(dir: &str) -> Option<i64> {
    let mut parts = dir.rsplit('/');
    let hour: u32 = parts.next()?.strip_prefix("hour=")?.parse().ok()?;
    let date = parts.next()?.strip_prefix("date=")?;
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(hour, 0, 0)?.and_utc().timestamp())
}

pub fn dead_letter_dir(topic: &str) -> String {
    format!("{DEAD_LETTER_DIR}/{topic}")
}

/// What a lake file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Parquet,
    DeadLetter,
}

impl FileKind {
    fn ext(self) -> &'static str {
        match self {
            FileKind::Parquet => "parquet",
            FileKind::DeadLetter => "ndjson",
        }
    }
}

/// `<topic>+<partition>+<first:020>+<last:020>.<ext>`: zero-padded so names sort by offset.
pub fn file_name(topic: &str, partition: i32, first: i64, last: i64, kind: FileKind) -> String {
    format!("{topic}+{partition}+{first:020}+{last:020}.{}", kind.ext())
}

pub fn inprogress_name(final_name: &str, attempt: &str) -> String {
    format!(".{final_name}.{attempt}.inprogress")
}

pub fn ready_name(final_name: &str, cut: i64) -> String {
    format!(".{final_name}.cut-{cut:020}.ready")
}

/// A committed lake file's coordinates, parsed from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub topic: String,
    pub partition: i32,
    pub first: i64,
    pub last: i64,
    pub kind: FileKind,
}

/// What a file name in the lake means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Committed(Committed),
    /// Complete temporary of a commit group ending at offset `cut`.
    Ready {
        committed: Committed,
        final_name: String,
        cut: i64,
    },
    InProgress,
    Manifest,
    Success,
    Other,
}

pub fn parse_committed(name: &str) -> Option<Committed> {
    let (stem, ext) = name.rsplit_once('.')?;
    let kind = match ext {
        "parquet" => FileKind::Parquet,
        "ndjson" => FileKind::DeadLetter,
        _ => return None,
    };
    let mut parts = stem.rsplitn(4, '+');
    let last = parts.next()?;
    let first = parts.next()?;
    let partition = parts.next()?;
    let topic = parts.next()?;
    if last.len() != 20 || first.len() != 20 || topic.is_empty() || topic.starts_with(['.', '_']) {
        return None;
    }
    Some(Committed {
        topic: topic.to_owned(),
        partition: partition.parse().ok()?,
        first: first.parse().ok()?,
        last: last.parse().ok()?,
        kind,
    })
}

pub fn classify(name: &str) -> Entry {
    if name == MANIFEST {
        return Entry::Manifest;
    }
    if name == SUCCESS {
        return Entry::Success;
    }
    if name.starts_with('.') && name.ends_with(".inprogress") {
        return Entry::InProgress;
    }
    if let Some(inner) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".ready"))
    {
        if let Some((final_name, cut)) = inner.rsplit_once(".cut-") {
            if let (Some(committed), Ok(cut)) = (parse_committed(final_name), cut.parse()) {
                return Entry::Ready {
                    committed,
                    final_name: final_name.to_owned(),
                    cut,
                };
            }
        }
        return Entry::Other;
    }
    match parse_committed(name) {
        Some(c) => Entry::Committed(c),
        None => Entry::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_dirs_round_trip() {
        // 2024-02-29T23:59:59.999Z
        let ms = 1_709_251_199_999;
        let h = hour_start(ms);
        let dir = hour_dir("client-events", h);
        assert_eq!(dir, "client-events/date=2024-02-29/hour=23");
        assert_eq!(parse_hour_dir(&dir), Some(h));
        assert_eq!(hour_start(-1), -3600);
    }

    #[test]
    fn names_sort_by_offset_and_parse_back() {
        let a = file_name("t.x-y", 3, 9, 10, FileKind::Parquet);
        let b = file_name("t.x-y", 3, 11, 100, FileKind::Parquet);
        assert!(a < b);
        assert_eq!(
            a,
            "t.x-y+3+00000000000000000009+00000000000000000010.parquet"
        );
        let parsed = parse_committed(&a).unwrap();
        assert_eq!((parsed.partition, parsed.first, parsed.last), (3, 9, 10));
        assert_eq!(classify(&a), Entry::Committed(parsed.clone()));

        let ready = ready_name(&a, 42);
        let Entry::Ready {
            committed,
            final_name,
            cut,
        } = classify(&ready)
        else {
            panic!("ready name not recognised: {ready}")
        };
        assert_eq!(
            (committed, final_name.as_str(), cut),
            (parsed, a.as_str(), 42)
        );
        assert_eq!(classify(&inprogress_name(&a, "abc")), Entry::InProgress);
        assert_eq!(classify("_manifest.json"), Entry::Manifest);
        assert_eq!(classify("part-0000.parquet"), Entry::Other);
    }
}
