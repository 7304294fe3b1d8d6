//! vygoda's serving side.
//!
//! - [`sink`]: the store sink service, products-filtered and recommendations into PostgreSQL
//!   exactly once (offsets in the same transaction as the rows).
//! - [`query`]: search (Russian full text + trigram fallback), one product, recommendations.
//! - [`record`]: every request recorded in `requests` and, through an outbox, in Kafka.
//! - [`answer`]: one question (search, product, recommend), validated and answered; shared by
//!   the command line and the server.
//! - [`cli`]: the `client-api` command line and its spine.
//! - [`serve`]: `client-api serve`, the same questions over HTTPS, with `/metrics`.

pub(crate) mod answer;
pub mod cli;
pub(crate) mod decode;
mod output;
pub(crate) mod query;
pub mod record;
pub mod serve;
pub mod sink;
pub mod store;
