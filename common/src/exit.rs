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

/// `code` as the value `main` returns. Returning it, rather than calling `std::process::exit`
/// inside the runtime, lets the runtime shut down first: it waits for blocking tasks, so no
/// librdkafka client is still running on another thread while the process tears down OpenSSL
/// (exiting under one crashed the mirror with SIGSEGV after a clean stop).
pub fn code(code: i32) -> std::process::ExitCode {
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
