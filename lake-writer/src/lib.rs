//! vygoda lake writer: analytics-cluster topics → Parquet files (HDFS or local), exactly once,
//! without a write-ahead log or an external lock.
//!
//! - [`run`]: the service spine (Kafka in, lake out, SIGTERM → flush, commit, exit 0).
//! - [`engine`]: the Kafka-agnostic core (decode, buffer, close, commit, watermarks).
//! - [`commit`] / [`recovery`]: the file protocol that makes a crash at any point harmless.
//! - [`mapping`], [`builders`], [`rows`]: Avro → Arrow schema and values.
//! - storage: `vygoda_storage` (`file://` and `hdfs://` behind one trait, with retries).
//! - [`watermark`]: `_manifest.json`, `_SUCCESS`, `_watermark.json` (what is final).
//! - `testkit` (feature `testkit`, on for this crate's own tests): reading a lake back.

pub(crate) mod builders;
pub(crate) mod commit;
pub mod config;
pub(crate) mod dead_letter;
pub(crate) mod engine;
pub(crate) mod layout;
pub(crate) mod mapping;
pub mod metrics;
pub(crate) mod open_file;
pub(crate) mod partition;
pub(crate) mod recovery;
pub mod rows;
pub mod run;
pub(crate) mod schema_cache;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod watermark;

pub use config::{Args, Config, WriterConfig};
pub use engine::{Engine, Pushed, Record};
pub use run::run;
