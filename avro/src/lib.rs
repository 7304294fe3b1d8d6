//! The Avro client layer every vygoda service shares.
//!
//! - [`registry`]: the Confluent Schema Registry client (register, schema by id, a subject's
//!   latest), its clap flags and their resolution from the platform file.
//! - [`wire`]: the Confluent wire format; [`wire::Encoder`] validates before it frames,
//!   [`wire::Decoder`] resolves writer schemas to the reader's.
//! - [`source`]: [`source::SchemaSource`], for readers generic over where schemas come from.
//! - [`schemas`]: the platform's schemas of `kafka/schemas/`, compiled in.

pub mod datum;
pub mod registry;
pub mod schemas;
pub mod source;
pub mod wire;
