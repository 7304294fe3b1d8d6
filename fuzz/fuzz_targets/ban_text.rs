//! The ban list's text normalisation and matching on arbitrary text: normalising is idempotent
//! (a stored ban keeps its key when read back and normalised again), and a word ban always
//! bans a product whose name is the very text it was made from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vygoda_ingest::ban::{self, Ban, BanKind};
use vygoda_ingest::matcher::{BanSet, Matchable};

fuzz_target!(|text: &str| {
    for kind in [BanKind::ProductId, BanKind::Brand, BanKind::Word] {
        let Ok(value) = ban::normalise(kind, text) else {
            continue;
        };
        assert_eq!(
            ban::normalise(kind, &value).as_deref(),
            Ok(value.as_str()),
            "normalising {kind:?} twice changes it"
        );
        let bans = BanSet::single(Ban {
            kind,
            value: value.clone(),
            reason: String::new(),
            added_by: String::new(),
            added_at: 0,
        });
        let product = Matchable {
            product_id: text.trim(),
            brand: Some(text),
            name: text,
            description: None,
            tags: &[],
        };
        assert!(
            bans.matches(product).is_some(),
            "a {kind:?} ban made from a text does not match that text"
        );
    }
});
