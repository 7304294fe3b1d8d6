//! The Confluent wire decoder on arbitrary bytes, with the platform's real schemas as writers:
//! it must answer (a value or an error), never panic or hang, and whatever it decodes must encode
//! back with the reader schema and decode to the same value.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vygoda_avro::registry::{Registry, RegistryConfig};
use vygoda_avro::schemas;
use vygoda_avro::wire::{self, Decoder, Encoder};

/// Writer ids 1–3 are known without a registry: products, products-filtered, product-bans.
fn decoder() -> &'static Decoder {
    static DECODER: OnceLock<Decoder> = OnceLock::new();
    DECODER.get_or_init(|| {
        let registry = Registry::new(RegistryConfig {
            url: "https://127.0.0.1:9".into(),
            ca: None,
            principal: "fuzz".into(),
            identity: None,
            timeout: Duration::from_secs(1),
        })
        .expect("registry client");
        registry.remember(1, schemas::products());
        registry.remember(2, schemas::products_filtered());
        registry.remember(3, schemas::product_bans());
        Decoder::new(Arc::new(registry), schemas::products_filtered())
    })
}

fuzz_target!(|payload: &[u8]| {
    let decoder = decoder();
    let Ok((id, _)) = wire::split(payload) else {
        return;
    };
    let Some(writer) = decoder.registry().cached(id) else {
        return;
    };
    let Ok(value) = decoder.decode_with(payload, &writer) else {
        return;
    };
    let reader = Encoder {
        id: 2,
        schema: schemas::products_filtered(),
    };
    let again = reader.encode(value.clone()).expect("a decoded value encodes with the reader");
    let back = decoder
        .decode_with(&again, &schemas::products_filtered())
        .expect("re-encoded value decodes");
    assert_eq!(back, value, "round trip changed the value");
});
