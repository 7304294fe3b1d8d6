//! The SHOP API's product parser and validator on arbitrary bytes: it must accept or name what is
//! wrong, never panic, and a product it accepts must encode with the Avro schema (otherwise a
//! record that passed validation would fail at send time).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vygoda_avro::schemas;
use vygoda_ingest::product;

fuzz_target!(|bytes: &[u8]| {
    match product::parse_bytes(bytes) {
        Ok(p) => {
            apache_avro::to_avro_datum(&schemas::products(), p.to_avro())
                .expect("an accepted product encodes");
        }
        Err(errors) => assert!(!errors.is_empty(), "a refusal names at least one field"),
    }
});
