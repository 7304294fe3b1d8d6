//! Confluent wire format: magic byte 0, the schema id as 4 bytes big-endian, the Avro datum.
//!
//! [`Encoder`] validates every value against the registered schema before it is framed (nothing
//! that does not match the schema is ever sent); [`Decoder`] fetches writer schemas by id and
//! resolves them to our reader schema, so older or newer compatible writers are read correctly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use apache_avro::types::Value;
use apache_avro::Schema;

use crate::datum::DatumError;
use crate::registry::{Registry, RegistryError};

pub const MAGIC: u8 = 0;
pub const HEADER_LEN: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("empty payload (no magic byte)")]
    Empty,
    #[error("payload of {0} bytes is shorter than the 5-byte Confluent header")]
    Short(usize),
    #[error("magic byte is {0:#04x}, not 0x00: not Confluent-framed Avro")]
    BadMagic(u8),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("Avro datum does not decode with writer schema {id}: {source}")]
    Decode {
        id: u32,
        source: Box<apache_avro::Error>,
    },
    #[error(
        "Avro datum does not decode with writer schema {id}: it ends inside a value (truncated)"
    )]
    Truncated { id: u32 },
    #[error("Avro datum of schema {id} leaves {extra} trailing bytes: corrupt or wrong schema id")]
    Trailing { id: u32, extra: usize },
    #[error("value does not match schema {id}: {source}")]
    Encode {
        id: u32,
        source: Box<apache_avro::Error>,
    },
}

impl WireError {
    /// Worth retrying later (the registry is down), as opposed to a bad record.
    pub fn is_transient(&self) -> bool {
        matches!(self, WireError::Registry(e) if e.is_transient())
    }
}

/// Frame an already-encoded datum.
pub fn frame(id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + datum.len());
    out.push(MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(datum);
    out
}

/// Split a framed payload into schema id and datum.
pub fn split(payload: &[u8]) -> Result<(u32, &[u8]), WireError> {
    match payload {
        [] => Err(WireError::Empty),
        [m, ..] if *m != MAGIC => Err(WireError::BadMagic(*m)),
        [_, a, b, c, d, rest @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        _ => Err(WireError::Short(payload.len())),
    }
}

/// The same datum under another schema id (for identical schemas under two subjects).
pub fn reframe(payload: &[u8], id: u32) -> Result<Vec<u8>, WireError> {
    let (_, datum) = split(payload)?;
    Ok(frame(id, datum))
}

/// Encodes values of one registered schema.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub id: u32,
    pub schema: Arc<Schema>,
}

impl Encoder {
    /// Register `schema_text` under `subject` and return an encoder for it.
    pub async fn register(
        registry: &Registry,
        subject: &str,
        schema_text: &str,
        schema: Arc<Schema>,
    ) -> Result<Encoder, RegistryError> {
        let id = registry
            .register_with_retry(subject, schema_text, 5)
            .await?;
        registry.remember(id, schema.clone());
        tracing::info!(subject, id, "schema registered");
        Ok(Encoder { id, schema })
    }

    /// Validate against the schema, encode, frame.
    pub fn encode(&self, value: Value) -> Result<Vec<u8>, WireError> {
        let datum = apache_avro::to_avro_datum(&self.schema, value).map_err(|source| {
            WireError::Encode {
                id: self.id,
                source: Box::new(source),
            }
        })?;
        Ok(frame(self.id, &datum))
    }
}

/// Decodes framed payloads into values of our reader schema.
#[derive(Debug)]
pub struct Decoder {
    registry: Arc<Registry>,
    reader: Arc<Schema>,
    reader_form: String,
    /// Per writer id: is it our reader schema exactly (then resolution is skipped)?
    identical: Mutex<HashMap<u32, bool>>,
}

impl Decoder {
    pub fn new(registry: Arc<Registry>, reader: Arc<Schema>) -> Decoder {
        let reader_form = reader.canonical_form();
        Decoder {
            registry,
            reader,
            reader_form,
            identical: Mutex::new(HashMap::new()),
        }
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Whether writer schema `id` has the same parsing canonical form as our reader schema,
    /// i.e. its datums are byte-for-byte datums of ours.
    pub fn is_identical(&self, id: u32, writer: &Schema) -> bool {
        if let Some(known) = self.identical.lock().ok().and_then(|m| m.get(&id).copied()) {
            return known;
        }
        let same = writer.canonical_form() == self.reader_form;
        if let Ok(mut m) = self.identical.lock() {
            m.insert(id, same);
        }
        same
    }

    /// The writer schema of `id`, fetched from the registry once.
    pub async fn writer(&self, id: u32) -> Result<Arc<Schema>, WireError> {
        match self.registry.cached(id) {
            Some(s) => Ok(s),
            None => Ok(self.registry.schema(id).await?),
        }
    }

    /// Decode one payload; registry fetches happen only for ids not seen before.
    pub async fn decode(&self, payload: &[u8]) -> Result<(u32, Value), WireError> {
        let (id, _) = split(payload)?;
        let writer = self.writer(id).await?;
        self.decode_with(payload, &writer).map(|v| (id, v))
    }

    /// Decode with an already-known writer schema (no I/O).
    pub fn decode_with(&self, payload: &[u8], writer: &Schema) -> Result<Value, WireError> {
        let (id, datum) = split(payload)?;
        let reader = if self.is_identical(id, writer) {
            None
        } else {
            Some(&*self.reader)
        };
        crate::datum::decode(writer, reader, datum).map_err(|e| match e {
            DatumError::Avro(source) => WireError::Decode { id, source },
            DatumError::Truncated => WireError::Truncated { id },
            DatumError::Trailing(extra) => WireError::Trailing { id, extra },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_splits() {
        let framed = frame(0x0102_0304, b"abc");
        assert_eq!(framed, vec![0, 1, 2, 3, 4, b'a', b'b', b'c']);
        assert_eq!(split(&framed).unwrap(), (0x0102_0304, &b"abc"[..]));
        assert!(matches!(split(&[]), Err(WireError::Empty)));
        assert!(matches!(
            split(&[1, 0, 0, 0, 1]),
            Err(WireError::BadMagic(1))
        ));
        assert!(matches!(split(&[0, 0, 1]), Err(WireError::Short(3))));
        assert_eq!(split(&[0, 0, 0, 0, 7]).unwrap(), (7, &b""[..]));
        assert_eq!(reframe(&framed, 9).unwrap(), frame(9, b"abc"));
    }

    fn registry() -> Arc<Registry> {
        let config = crate::registry::RegistryConfig {
            url: "https://127.0.0.1:1".into(),
            ca: None,
            principal: "test".into(),
            identity: None,
            timeout: std::time::Duration::from_secs(1),
        };
        Arc::new(Registry::new(config).unwrap())
    }

    proptest::proptest! {
        #[test]
        fn any_datum_survives_framing(id: u32, datum: Vec<u8>) {
            let framed = frame(id, &datum);
            proptest::prop_assert_eq!(split(&framed).unwrap(), (id, &datum[..]));
        }

        #[test]
        fn encoded_values_decode_to_themselves(id: u32, n: i64, name: String, score: Option<f64>) {
            let schema = Arc::new(Schema::parse_str(r#"{"type":"record","name":"R","fields":[
                {"name":"n","type":"long"},{"name":"name","type":"string"},
                {"name":"score","type":["null","double"],"default":null}]}"#).unwrap());
            let value = Value::Record(vec![
                ("n".into(), Value::Long(n)),
                ("name".into(), Value::String(name)),
                ("score".into(), match score {
                    Some(s) => Value::Union(1, Box::new(Value::Double(s))),
                    None => Value::Union(0, Box::new(Value::Null)),
                }),
            ]);
            let encoder = Encoder { id, schema: schema.clone() };
            let payload = encoder.encode(value.clone()).unwrap();
            let decoder = Decoder::new(registry(), schema.clone());
            let back = decoder.decode_with(&payload, &schema).unwrap();
            // NaN is not equal to itself; compare the encodings instead.
            proptest::prop_assert_eq!(encoder.encode(back).unwrap(), payload);
        }
    }

    #[test]
    fn a_value_off_the_schema_is_refused_before_framing() {
        let schema = Arc::new(
            Schema::parse_str(
                r#"{"type":"record","name":"R","fields":[{"name":"n","type":"long"}]}"#,
            )
            .unwrap(),
        );
        let encoder = Encoder { id: 1, schema };
        let bad = Value::Record(vec![("n".into(), Value::String("x".into()))]);
        assert!(matches!(
            encoder.encode(bad),
            Err(WireError::Encode { id: 1, .. })
        ));
    }
}
