//! vygoda's ingest side: everything that writes into or filters the prod cluster.
//!
//! - [`schemas`], [`registry`], [`wire`]: Avro schemas, the Schema Registry client and the
//!   Confluent wire format (validate before send, resolve on read).
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
pub mod registry;
pub mod schemas;
pub mod shop_api;
pub mod text;
pub mod wire;
