//! Exit codes shared by every vygoda binary, so schedulers and scripts can tell outcomes apart.

/// Everything went through.
pub const OK: i32 = 0;
/// The run failed: nothing (or not everything) was done; retrying may help.
pub const FAILED: i32 = 1;
/// The command line or the configuration is wrong; fix it before retrying.
pub const USAGE: i32 = 2;
/// The run finished but some input records were rejected (see the report / dead-letter topic).
pub const PARTIAL: i32 = 3;
/// What was asked for does not exist (a product not listed: unknown, banned or delisted).
pub const NOT_FOUND: i32 = 4;
/// A dependency (broker, registry, HDFS, PostgreSQL) could not be reached.
pub const UNAVAILABLE: i32 = 69;
/// The run was cancelled or timed out.
pub const CANCELLED: i32 = 130;

/// How long `block_on` lets blocking tasks (librdkafka polls and closes) finish after the
/// service returned, before the process exits anyway.
pub const BLOCKING_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Every binary's `main`: run `service` on a multi-thread runtime, then shut the runtime down
/// (waiting up to [`BLOCKING_GRACE`] for blocking tasks) and return the service's exit code.
pub fn block_on<F>(service: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = i32>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}; check the process's thread and file limits");
            return code(FAILED);
        }
    };
    let outcome = runtime.block_on(service);
    runtime.shutdown_timeout(BLOCKING_GRACE);
    code(outcome)
}

/// `code` as the value `main` returns. Returning it, rather than calling `std::process::exit`
/// inside the runtime, lets the runtime shut down first: it waits for blocking tasks, so no
/// librdkafka client is still running on another thread while the process tears down OpenSSL
/// (exiting under one crashed the mirror with SIGSEGV after a clean stop).
pub fn code(code: i32) -> std::process::ExitCode {
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
