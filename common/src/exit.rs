//! Exit codes shared by every vygoda binary, so schedulers and scripts can tell outcomes apart.

/// Everything went through.
pub const OK: i32 = 0;
/// The run failed: nothing (or not everything) was done; retrying may help.
pub const FAILED: i32 = 1;
/// The command line or the configuration is wrong; fix it before retrying.
pub const USAGE: i32 = 2;
/// The run finished but some input records were rejected (see the report / dead-letter topic).
pub const PARTIAL: i32 = 3;
/// A dependency (broker, registry, HDFS, PostgreSQL) could not be reached.
pub const UNAVAILABLE: i32 = 69;
/// The run was cancelled or timed out.
pub const CANCELLED: i32 = 130;
