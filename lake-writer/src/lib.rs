//! vygoda lake writer: analytics-cluster topics → Parquet files (HDFS or local), exactly once,
//! without a write-ahead log or an external lock.
//!
//! - [`run`]: the service spine (Kafka in, lake out, SIGTERM → flush, commit, exit 0).
//! - [`engine`]: the Kafka-agnostic core (decode, buffer, close, commit, watermarks).
//! - [`commit`] / [`recovery`]: the file protocol that makes a crash at any point harmless.
//! - [`mapping`], [`builders`], [`rows`]: Avro → Arrow schema and values.
//! - storage: `vygoda_storage` (`file://` and `hdfs://` behind one trait, with retries).
//! - [`watermark`]: `_manifest.json`, `_SUCCESS`, `_watermark.json` (what is final).
//! - [`testkit`]: reading a lake back (tests, benchmarks, checks).

pub mod builders;
pub mod commit;
pub mod config;
pub mod dead_letter;
pub mod engine;
pub mod layout;
pub mod mapping;
pub mod metrics;
pub mod open_file;
pub mod partition;
pub mod recovery;
pub mod rows;
pub mod run;
pub mod schema_cache;
pub mod testkit;
pub mod watermark;

pub use config::{Args, Config, WriterConfig};
pub use engine::{Engine, Pushed, Record};
pub use run::run;
