//! Inputs `make fuzz` once crashed on (`fuzz/regressions/wire_decoder/`), replayed as the
//! `wire_decoder` target checks them: decoded with the platform's schemas as writers (ids 1–3),
//! every input is refused or decodes to a value that encodes back with the reader schema.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vygoda_avro::registry::{Registry, RegistryConfig};
use vygoda_avro::schemas;
use vygoda_avro::wire::{self, Decoder, Encoder, WireError};

fn decoder() -> Decoder {
    let registry = Registry::new(RegistryConfig {
        url: "https://127.0.0.1:9".into(),
        ca: None,
        principal: "fuzz-regressions".into(),
        identity: None,
        timeout: Duration::from_secs(1),
    })
    .unwrap();
    registry.remember(1, schemas::products());
    registry.remember(2, schemas::products_filtered());
    registry.remember(3, schemas::product_bans());
    Decoder::new(Arc::new(registry), schemas::products_filtered())
}

#[test]
fn every_input_that_once_crashed_the_wire_decoder_is_handled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/wire_decoder");
    let decoder = decoder();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let payload = std::fs::read(&path).unwrap();
        seen += 1;
        let (id, _) = wire::split(&payload).unwrap();
        let writer = decoder.registry().cached(id).unwrap();
        match decoder.decode_with(&payload, &writer) {
            Err(
                WireError::Truncated { .. } | WireError::Decode { .. } | WireError::Trailing { .. },
            ) => {}
            Err(other) => panic!("{}: unexpected refusal {other}", path.display()),
            Ok(value) => {
                let reader = Encoder {
                    id: 2,
                    schema: schemas::products_filtered(),
                };
                reader.encode(value).unwrap_or_else(|e| {
                    panic!("{}: decoded but does not encode: {e}", path.display())
                });
            }
        }
    }
    assert!(seen >= 1, "no regression inputs in {}", dir.display());
}

#[test]
fn the_truncated_string_is_refused_as_truncated() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/wire_decoder");
    let payload = std::fs::read(dir.join("truncated-string-read-as-null.bin")).unwrap();
    let decoder = decoder();
    let writer = decoder.registry().cached(2).unwrap();
    let err = decoder.decode_with(&payload, &writer).unwrap_err();
    assert!(matches!(err, WireError::Truncated { id: 2 }), "{err}");
}
