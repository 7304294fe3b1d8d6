//! The schema registry's schema parser and compatibility check on arbitrary text: a schema it
//! accepts has a canonical form that parses to the same canonical form, is compatible with itself
//! at every level, and checks against the platform's schemas without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vygoda_avro::schemas;
use vygoda_schema_registry::compat::{self, Earlier, Level};
use vygoda_schema_registry::schema;

const LEVELS: [&str; 7] = [
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
];

fuzz_target!(|text: &str| {
    let Ok(candidate) = schema::candidate(text, None) else {
        return;
    };
    let again = schema::candidate(&candidate.canonical, None).expect("canonical form parses");
    assert_eq!(again.canonical, candidate.canonical, "canonical form is not stable");
    let products = schemas::products();
    for level in LEVELS.iter().filter_map(|l| Level::parse(l)) {
        let itself = [Earlier {
            version: 1,
            schema: &candidate.avro,
        }];
        assert!(
            compat::check(level, &candidate.avro, &itself).is_empty(),
            "a schema is incompatible with itself at {level}"
        );
        let others = [Earlier {
            version: 1,
            schema: &products,
        }];
        let _ = compat::check(level, &candidate.avro, &others);
    }
});
