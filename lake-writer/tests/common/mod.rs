//! One exactly-once scenario, written once and run against every storage backend.
//!
//! A simulated Kafka log (3 partitions, two schema versions, tombstones, undecodable
//! records, out-of-order event times) is written by the engine; a fault-injecting storage
//! "crashes" the writer at the k-th mutating storage call, for many k; a fresh engine then
//! recovers from the lake alone and finishes. The lake must then hold every offset exactly
//! once, with the right values, and nothing half-written.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use apache_avro::types::Value;
use apache_avro::Schema;
use arrow::array::AsArray;
use arrow::datatypes::{Int32Type, Int64Type};
use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use vygoda_avro::source::StaticSchemas;
use vygoda_lake_writer::config::{PartitionBy, WriterConfig};
use vygoda_lake_writer::metrics::Metrics;
use vygoda_lake_writer::testkit::{lake_offsets, read_dead_letters, read_topic};
use vygoda_lake_writer::{Engine, Record};
use vygoda_storage::{FileEntry, Storage, StorageError, StorageResult};

pub const TOPIC: &str = "orders";
pub const PARTITIONS: i32 = 3;
pub const PER_PARTITION: i64 = 250;
/// 2024-01-01T10:00:00Z
const BASE_MS: i64 = 1_704_103_200_000;

const V1: &str = r#"{"type":"record","name":"Order","namespace":"vygoda.test","fields":[
  {"name":"id","type":"long"},
  {"name":"user","type":"string"},
  {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
  {"name":"tags","type":{"type":"array","items":"string"}},
  {"name":"attrs","type":{"type":"map","values":"long"}},
  {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
  {"name":"note","type":["null","string"],"default":null}]}"#;

fn v2() -> String {
    V1.replace(
        r#"{"name":"note","type":["null","string"],"default":null}]}"#,
        r#"{"name":"note","type":["null","string"],"default":null},
           {"name":"coupon","type":["null","string"],"default":null}]}"#,
    )
}

/// One record of the simulated log.
#[derive(Clone)]
pub struct LogRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub bad: bool,
}

pub struct Log {
    pub records: Vec<Vec<LogRecord>>,
    pub schemas: StaticSchemas,
}

fn order(schema_v2: bool, p: i32, o: i64, at: i64) -> Value {
    let mut fields = vec![
        ("id".to_owned(), Value::Long(o * 10 + p as i64)),
        ("user".to_owned(), Value::String(format!("u{}", o % 7))),
        (
            "amount".to_owned(),
            Value::Decimal(apache_avro::Decimal::from((o * 100 + 5).to_be_bytes())),
        ),
        (
            "tags".to_owned(),
            Value::Array((0..o % 3).map(|i| Value::String(format!("t{i}"))).collect()),
        ),
        (
            "attrs".to_owned(),
            Value::Map([("n".to_owned(), Value::Long(o))].into_iter().collect()),
        ),
        ("at".to_owned(), Value::TimestampMillis(at)),
        (
            "status".to_owned(),
            Value::Enum((o % 2) as u32, ["NEW", "PAID"][(o % 2) as usize].to_owned()),
        ),
        (
            "note".to_owned(),
            if o % 4 == 0 {
                Value::Union(0, Box::new(Value::Null))
            } else {
                Value::Union(1, Box::new(Value::String(format!("note {o}"))))
            },
        ),
    ];
    if schema_v2 {
        fields.push((
            "coupon".to_owned(),
            Value::Union(1, Box::new(Value::String("X".into()))),
        ));
    }
    Value::Record(fields)
}

fn wire(id: u32, body: &[u8]) -> Vec<u8> {
    vygoda_avro::wire::frame(id, body)
}

pub fn build_log() -> Log {
    let s1 = Schema::parse_str(V1).expect("v1 parses");
    let s2 = Schema::parse_str(&v2()).expect("v2 parses");
    let mut schemas = StaticSchemas::default();
    schemas.by_id.insert(1, V1.to_owned());
    schemas.by_id.insert(2, v2());
    schemas.subjects.insert(format!("{TOPIC}-value"), 2);
    let mut records = Vec::new();
    for p in 0..PARTITIONS {
        let mut part = Vec::new();
        for o in 0..PER_PARTITION {
            // 15 s apart, every 5th record a few minutes late: ~1h over 2 hour directories.
            let jitter = if o % 5 == 0 { -200_000 } else { 0 };
            let ts = BASE_MS + o * 15_000 + jitter;
            let use_v2 = o >= 100 + 60 * p as i64;
            let (id, schema) = if use_v2 { (2, &s2) } else { (1, &s1) };
            let body =
                apache_avro::to_avro_datum(schema, order(use_v2, p, o, ts)).expect("encodes");
            let (value, bad) = match o % 97 {
                13 => (Some(vec![7u8, 1, 2, 3, 4, 5]), true),
                40 => (Some(wire(99, &body)), true),
                70 => (Some(wire(id, &body[..body.len() / 2])), true),
                _ if o % 17 == 5 => (None, false),
                _ => (Some(wire(id, &body)), false),
            };
            part.push(LogRecord {
                partition: p,
                offset: o,
                timestamp_ms: ts,
                key: (o % 11 != 0).then(|| format!("k{}", o % 50).into_bytes()),
                value,
                bad,
            });
        }
        records.push(part);
    }
    Log { records, schemas }
}

pub fn writer_config() -> WriterConfig {
    WriterConfig {
        partition_by: PartitionBy::Record,
        target_file_bytes: 1 << 20,
        max_file_records: 40,
        max_file_age: Duration::ZERO,
        row_group_bytes: 1 << 20,
        memory_budget_bytes: 12 << 10,
        lateness: Duration::ZERO,
        ..WriterConfig::default()
    }
}

/// Fails every mutating call from the `fail_at`-th on: the writer "dies" there.
#[derive(Clone)]
pub struct Faulty<S> {
    pub inner: S,
    calls: Arc<AtomicUsize>,
    fail_at: usize,
}

impl<S: Storage> Faulty<S> {
    pub fn new(inner: S, fail_at: usize) -> Self {
        Faulty {
            inner,
            calls: Arc::new(AtomicUsize::new(0)),
            fail_at,
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn gate(&self, op: &'static str, path: &str) -> StorageResult<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.fail_at {
            return Err(StorageError::Permanent {
                op,
                path: path.to_owned(),
                msg: "injected crash".into(),
            });
        }
        Ok(())
    }
}

impl<S: Storage> Storage for Faulty<S> {
    fn root(&self) -> &str {
        self.inner.root()
    }
    async fn put(&self, path: &str, data: Bytes) -> StorageResult<()> {
        self.gate("put", path)?;
        self.inner.put(path, data).await
    }
    async fn rename(&self, from: &str, to: &str, overwrite: bool) -> StorageResult<()> {
        self.gate("rename", from)?;
        self.inner.rename(from, to, overwrite).await
    }
    async fn list(&self, dir: &str) -> StorageResult<Vec<FileEntry>> {
        self.inner.list(dir).await
    }
    async fn delete(&self, path: &str) -> StorageResult<()> {
        self.gate("delete", path)?;
        self.inner.delete(path).await
    }
    async fn read(&self, path: &str) -> StorageResult<Bytes> {
        self.inner.read(path).await
    }
    async fn exists(&self, path: &str) -> StorageResult<bool> {
        self.inner.exists(path).await
    }
}

/// Run one writer life: recover, consume from the recovered offsets (round-robin batches of
/// 7 records per partition, a tick every 500 records), and finish with a clean shutdown
/// unless the storage fails first. Returns the metrics and whether it ended cleanly.
pub async fn writer_life<S: Storage>(storage: S, log: &Log) -> (Metrics, bool) {
    let metrics = Metrics::unregistered();
    let mut engine = Engine::new(
        storage,
        log.schemas.clone(),
        writer_config(),
        metrics.clone(),
        CancellationToken::new(),
    );
    if engine.recover(&[TOPIC.to_owned()]).await.is_err() {
        return (metrics, false);
    }
    let mut pos: Vec<usize> = (0..PARTITIONS)
        .map(|p| engine.assign(TOPIC, p).unwrap_or(0) as usize)
        .collect();
    let mut pushed = 0;
    loop {
        let mut progressed = false;
        for (part, next) in log.records.iter().zip(pos.iter_mut()) {
            for _ in 0..7 {
                let Some(r) = part.get(*next) else {
                    break;
                };
                let rec = Record {
                    topic: TOPIC,
                    partition: r.partition,
                    offset: r.offset,
                    timestamp_ms: Some(r.timestamp_ms),
                    key: r.key.as_deref(),
                    value: r.value.as_deref(),
                };
                if engine.push(&rec, BASE_MS).await.is_err() {
                    return (metrics, false);
                }
                *next += 1;
                pushed += 1;
                progressed = true;
                if pushed % 500 == 0 && engine.tick(BASE_MS).await.is_err() {
                    return (metrics, false);
                }
            }
        }
        if !progressed {
            break;
        }
    }
    for p in 0..PARTITIONS {
        engine.set_high_watermark(TOPIC, p, PER_PARTITION);
    }
    let now = chrono::Utc::now().timestamp_millis();
    if engine
        .flush_all(vygoda_lake_writer::metrics::CloseReason::Shutdown, now)
        .await
        .is_err()
    {
        return (metrics, false);
    }
    (metrics, true)
}

/// Everything the lake must satisfy after the log was written completely.
pub async fn verify_lake<S: Storage>(storage: &S, log: &Log) {
    let expected: Vec<(i32, i64)> = log
        .records
        .iter()
        .flatten()
        .map(|r| (r.partition, r.offset))
        .collect();
    let got = lake_offsets(storage, TOPIC).await.expect("lake readable");
    assert_eq!(
        got.len(),
        expected.len(),
        "row count (duplicates or losses)"
    );
    assert_eq!(got, expected, "every offset exactly once");

    let dead = read_dead_letters(storage, TOPIC)
        .await
        .expect("dead letters readable");
    let bad: usize = log.records.iter().flatten().filter(|r| r.bad).count();
    assert_eq!(dead.len(), bad, "undecodable records are dead-lettered");
    assert!(dead
        .iter()
        .all(|d| !d.reason.is_empty() && d.value_base64.is_some()));

    // Values: id = offset * 10 + partition on every non-tombstone row.
    let by_offset: BTreeMap<(i32, i64), &LogRecord> = log
        .records
        .iter()
        .flatten()
        .map(|r| ((r.partition, r.offset), r))
        .collect();
    for (path, batch) in read_topic(storage, TOPIC).await.expect("readable") {
        let parts = batch.column_by_name("_partition").expect("_partition");
        let offs = batch.column_by_name("_offset").expect("_offset");
        let tomb = batch
            .column_by_name("_tombstone")
            .expect("_tombstone")
            .as_boolean()
            .clone();
        let ids = batch.column_by_name("id").expect("id column");
        let (parts, offs, ids) = (
            parts.as_primitive::<Int32Type>(),
            offs.as_primitive::<Int64Type>(),
            ids.as_primitive::<Int64Type>(),
        );
        for i in 0..batch.num_rows() {
            let (p, o) = (parts.value(i), offs.value(i));
            let source = by_offset[&(p, o)];
            assert_eq!(tomb.value(i), source.value.is_none(), "{path} row {i}");
            if !tomb.value(i) {
                assert_eq!(ids.value(i), o * 10 + p as i64, "{path} row {i}");
            }
        }
    }

    // Nothing hidden left behind; every hour directory has a complete manifest.
    let files = storage.list(TOPIC).await.expect("list");
    assert!(
        files.iter().all(|f| !f.name().starts_with('.')),
        "temporaries left: {:?}",
        files
            .iter()
            .filter(|f| f.name().starts_with('.'))
            .collect::<Vec<_>>()
    );
    let hours: std::collections::BTreeSet<&str> = files
        .iter()
        .filter(|f| f.name().ends_with(".parquet"))
        .map(|f| f.dir())
        .collect();
    assert!(
        hours.len() >= 2,
        "record time spreads over hours: {hours:?}"
    );
    for dir in hours {
        let m = storage
            .read(&format!("{dir}/_manifest.json"))
            .await
            .expect("manifest");
        let m: vygoda_lake_writer::watermark::Manifest = serde_json::from_slice(&m).expect("json");
        assert!(
            m.complete,
            "{dir} complete once every partition is caught up"
        );
        assert!(storage
            .exists(&format!("{dir}/_SUCCESS"))
            .await
            .expect("exists"));
        assert_eq!(m.offsets.len(), PARTITIONS as usize);
    }
}

/// The scenario: one clean life to count storage calls, then a crash at each call `points`
/// picks (given the clean life's call count) followed by a recovering life, then the checks.
pub async fn crash_everywhere<S, F>(make_storage: F, points: impl Fn(usize) -> Vec<usize>)
where
    S: Storage + Clone,
    F: Fn(&str) -> S,
{
    let log = build_log();
    let clean = make_storage("clean");
    let counting = Faulty::new(clean.clone(), usize::MAX);
    let started = std::time::Instant::now();
    let (metrics, ok) = writer_life(counting.clone(), &log).await;
    assert!(ok, "clean run");
    verify_lake(&clean, &log).await;
    let reasons = ["count", "memory", "schema", "age", "shutdown"];
    let closed: Vec<(&str, u64)> = reasons
        .iter()
        .map(|r| {
            (
                *r,
                metrics
                    .files_closed
                    .get_or_create(&Metrics::reason(TOPIC, r))
                    .get(),
            )
        })
        .collect();
    assert!(
        closed.iter().all(|(_, n)| *n > 0),
        "every close reason happens: {closed:?}"
    );
    let total = counting.calls();
    eprintln!("clean life: {total} storage calls, {:?}", started.elapsed());
    assert!(
        total > 20,
        "the scenario commits many files ({total} calls)"
    );

    for fail_at in points(total) {
        let storage = make_storage(&format!("crash-{fail_at}"));
        let (_, ok) = writer_life(Faulty::new(storage.clone(), fail_at), &log).await;
        assert!(!ok, "the injected crash at call {fail_at} stops the writer");
        let (_, ok) = writer_life(storage.clone(), &log).await;
        assert!(ok, "recovery after a crash at call {fail_at}");
        verify_lake(&storage, &log).await;
    }
}
