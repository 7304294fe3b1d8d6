//! Plumbing every vygoda service shares, so that each service crate holds only its own stage.
//!
//! - [`access`]: what a service declares it does on Kafka (checked against kafka/acls.toml).
//! - [`platform`]: the platform description `make up` writes to `.vygoda/platform.json`.
//! - [`kafka`]: clap arguments that resolve a cluster + principal into librdkafka properties.
//! - [`metrics`]: the `/metrics` HTTP endpoint and the end-to-end delay histogram.
//! - [`postgres`]: a PostgreSQL pool with its schema applied at connect.
//! - [`push`]: short-lived commands report each run to the Prometheus Pushgateway.
//! - [`shutdown`]: SIGTERM/SIGINT as a cancellation token.
//! - [`telemetry`]: `tracing` set-up.
//! - [`tls`]: the HTTPS servers' mutual TLS settings, listener and graceful shutdown.
//! - [`exit`]: process exit codes shared by all binaries.

pub mod access;
pub mod acl;
pub mod exit;
pub mod https;
pub mod kafka;
pub mod metrics;
pub mod platform;
pub mod postgres;
pub mod push;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
