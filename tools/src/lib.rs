//! Operator tooling over the tables in `kafka/`, kept out of `vygoda-common` because no service
//! needs it at run time:
//!
//! - [`acl`]: `kafka/acls.toml` as production `kafka-acls.sh` scripts and as the bindings `make up`
//!   applies to the local brokers;
//! - [`topics`]: `kafka/topics.toml` as production `kafka-topics.sh --create` scripts.
//!
//! The binary `vygoda-acls` prints them; `make acls` commits them to kafka/generated/.

pub mod acl;
pub mod topics;
