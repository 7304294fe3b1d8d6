//! vygoda's ingest side: everything that writes into or filters the prod cluster.
//!
//! - Avro schemas, the Schema Registry client and the wire format are `vygoda_avro`'s.
//! - [`product`], [`ban`], [`event`]: the records, JSON ⇄ typed ⇄ Avro.
//! - [`matcher`]: does a product match the ban list (Unicode word boundaries, ё/е).
//! - [`shop_api`], [`admin`], [`filter`], [`client_sim`]: the services/CLIs behind the binaries
//!   `shop-api`, `vygoda-admin`, `ban-filter`, `client-sim`, each with `declared_access`.

pub mod admin;
pub mod avro;
pub mod ban;
pub mod client_sim;
pub mod event;
pub mod filter;
pub mod input;
pub mod kafka_io;
pub mod matcher;
pub mod product;
pub mod shop_api;
pub mod text;
