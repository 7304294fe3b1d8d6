//! vygoda-jobs: the Spark jobs driver and the recommendations publisher.
//!
//! - [`cli`]: the `vygoda-jobs` command line and its `run()` (manual runs, history, logs, cancel,
//!   and `serve`, the scheduler).
//! - [`config`]: `jobs.toml`, the job definitions.
//! - [`runner`]: one run from admission to final state (attempts, timeout, post-step).
//! - [`store`]: run history and cross-process admission in PostgreSQL.
//! - [`recovery`]: orphaned runs and cancellation.
//! - [`process`]: process groups (spawn, stream, kill the tree).
//! - [`scheduler`], [`metrics`], [`progress`], [`commands`]: serve, /metrics, the `run` terminal.
//! - [`publisher`]: a run's recommendations to Kafka (bin `publisher`).
//! - storage: `vygoda_storage::url` (file:// and hdfs:// reads, the lake writer's backends).

pub mod cli;
pub mod commands;
pub(crate) mod config;
pub mod metrics;
pub mod process;
pub(crate) mod progress;
pub mod publisher;
pub mod recovery;
pub mod runner;
pub mod scheduler;
pub mod store;

pub use cli::{run, Cli};

/// Exit codes the driver records for processes that did not exit on their own.
pub mod exit_code {
    /// The process could not be started (like a shell's 127).
    pub const NOT_STARTED: i32 = 127;
    /// Killed for exceeding its timeout (like timeout(1)'s 124).
    pub const TIMEOUT: i32 = 124;
}

/// Errors of the driver binary, mapped to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Platform(#[from] vygoda_common::platform::PlatformError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Run(#[from] runner::RunError),
    #[error(transparent)]
    Metrics(#[from] vygoda_common::metrics::MetricsError),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        use vygoda_common::exit;
        match self {
            Error::Config(_) | Error::Platform(_) | Error::Usage(_) => exit::USAGE,
            Error::Store(store::StoreError::UnknownRun(_)) => exit::USAGE,
            Error::Store(_) | Error::Metrics(_) => exit::UNAVAILABLE,
            Error::Run(runner::RunError::Store(_)) => exit::UNAVAILABLE,
            Error::Run(_) => exit::FAILED,
        }
    }
}
