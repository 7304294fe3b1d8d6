//! vygoda's serving side.
//!
//! - [`sink`]: the store sink service, products-filtered and recommendations into PostgreSQL
//!   exactly once (offsets in the same transaction as the rows).
//! - [`query`]: search (Russian full text + trigram fallback), one product, recommendations.
//! - [`record`]: every request recorded in `requests` and, through an outbox, in Kafka.
//! - [`cli`]: the `client-api` command line and its spine.

pub mod cli;
pub mod decode;
mod output;
pub mod query;
pub mod record;
pub mod sink;
pub mod store;
