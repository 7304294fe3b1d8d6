//! vygoda's Schema Registry: the Confluent Schema Registry REST API for AVRO, over PostgreSQL,
//! served over HTTPS with HTTP Basic principals for writes.
//!
//! - [`schema`]: what a schema's identity is (whitespace- and key-order-insensitive JSON).
//! - [`compat`]: compatibility levels and checks (shared with the git-history CI test).
//! - [`store`]: storage trait, in-memory and PostgreSQL implementations.
//! - [`registry`]: Confluent semantics (versions, soft/hard delete, config, error codes).
//! - [`api`]: the REST routes; [`auth`]: principals; [`tls`]: rustls; [`metrics`].
//! - [`serve::run`]: the server's spine; [`register_dir::run`]: the `register` subcommand;
//!   [`history`]: the git-history BACKWARD check (`check-history`, and a CI test).

pub mod api;
pub mod auth;
pub mod compat;
pub mod config;
pub mod history;
pub mod metrics;
pub mod register_dir;
pub mod registry;
// Schema text → parsed candidate. The REST handlers are its only users; the fuzz targets reach it
// through the test-only feature.
#[cfg(feature = "testkit")]
pub mod schema;
#[cfg(not(feature = "testkit"))]
pub(crate) mod schema;
pub mod serve;
pub mod store;
pub(crate) mod tls;

pub use config::{Cli, Command};
