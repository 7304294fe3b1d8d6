//! The poison suite's table: every kind of bad record a consumer of the platform can meet,
//! written once here and run against each consumer on the live platform (`ingest/tests/poison.rs`
//! for the ban filter's two inputs, `lake-writer/tests/poison.rs`, `client-api/tests/poison.rs`
//! for the store sink, `mirror/tests/poison.rs`).
//!
//! Each test injects [`records`] between good records and checks that every good record still
//! arrives downstream, that each record [`Poison::is_poison_for`] its consumer is counted on
//! `/metrics` and reported once (with topic, partition, offset and a reason that
//! [`Poison::reason_matches`]), that the service stays up, and that a restart reports nothing
//! again. A record that is not poison for a consumer must be taken as an ordinary record.
//!
//! The table is bytes only (no Avro dependency): a caller passes the schema id and one valid
//! datum (unframed Avro) of the schema its consumer reads, and the id and a datum of another
//! registered schema that does not resolve to it.

/// A consumer the table runs against, with what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// The ban filter on `products`: decodes against the Product schema; a tombstone is the
    /// shop deleting a product and is forwarded to `products-filtered` as a tombstone.
    BanFilterProducts,
    /// The ban filter on `product-bans`: decodes against the ProductBan schema; a tombstone is
    /// a lifted ban (a no-op for a key that holds no ban).
    BanFilterBans,
    /// The lake writer: decodes each record with its own writer schema and has no reader
    /// schema, so a datum of another registered schema is a valid record (written to a Parquet
    /// file of that schema); a tombstone is a row with a null value (the lake keeps the log).
    LakeWriter,
    /// The store sink on `products-filtered`: decodes against the Product schema; a tombstone
    /// deletes the product's row.
    StoreSink,
    /// The mirror copies bytes and decodes nothing: no record is poison to it.
    Mirror,
    /// The ADMIN CLI's `ban list/add/remove` on `product-bans`: decodes the latest record of
    /// each key against the ProductBan schema and lists what it cannot read; a tombstone is a
    /// removed ban and lists nothing.
    Admin,
}

/// Every consumer that decodes values and so must dead-letter a value it cannot read.
const DECODERS: &[Consumer] = &[
    Consumer::BanFilterProducts,
    Consumer::BanFilterBans,
    Consumer::LakeWriter,
    Consumer::StoreSink,
    Consumer::Admin,
];

/// The consumers that resolve against a reader schema.
const RESOLVERS: &[Consumer] = &[
    Consumer::BanFilterProducts,
    Consumer::BanFilterBans,
    Consumer::StoreSink,
    Consumer::Admin,
];

/// The schema id of [`records`]' `unknown_schema_id`: no registry hands it out (ids count
/// up from 1), and it is the one the ADMIN CLI's poison test uses.
pub const UNKNOWN_ID: u32 = 2_147_483_632;

/// Bytes of garbage after the valid datum of `oversized`: together with the rest of the record
/// just under the brokers' default 1 MB limit, so every consumer's producer can still
/// dead-letter or copy it whole.
pub const OVERSIZED_GARBAGE: usize = 900_000;

/// One bad record.
#[derive(Debug, Clone)]
pub struct Poison {
    /// Stable name of the kind, e.g. `truncated_datum`.
    pub kind: &'static str,
    /// `poison-<kind>`: unique within the table, so a report is found by its key.
    pub key: Vec<u8>,
    /// `None` = tombstone.
    pub value: Option<Vec<u8>>,
    /// The report's reason contains one of these: the wording of the shared decoder
    /// (`vygoda_avro::wire`, used by the ban filter and the store sink), then the lake writer's
    /// own where it words it differently.
    pub reasons: Vec<String>,
    /// The consumers that must dead-letter this record; every other one takes it as an
    /// ordinary record.
    pub poison_for: &'static [Consumer],
}

impl Poison {
    pub fn key_str(&self) -> &str {
        std::str::from_utf8(&self.key).unwrap_or("")
    }

    pub fn is_poison_for(&self, consumer: Consumer) -> bool {
        self.poison_for.contains(&consumer)
    }

    /// Whether a report's reason says what went wrong with this record.
    pub fn reason_matches(&self, reason: &str) -> bool {
        self.reasons.iter().any(|r| reason.contains(r.as_str()))
    }
}

/// Confluent framing: magic byte 0, the schema id big-endian, the datum.
pub fn frame(id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + datum.len());
    out.push(0);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(datum);
    out
}

/// The table. `real` = (schema id, one valid datum) of the schema the consumer reads;
/// `foreign` = (id, datum) of another registered schema whose datum does not resolve to it.
pub fn records(real: (u32, &[u8]), foreign: (u32, &[u8])) -> Vec<Poison> {
    let (real_id, datum) = real;
    let (foreign_id, foreign_datum) = foreign;
    assert!(datum.len() >= 2, "the valid datum is too short to truncate");
    assert_ne!(
        real_id, foreign_id,
        "the foreign schema must be another one"
    );
    let poison =
        |kind: &'static str, value: Option<Vec<u8>>, reasons: Vec<String>, poison_for| Poison {
            kind,
            key: format!("poison-{kind}").into_bytes(),
            value,
            reasons,
            poison_for,
        };
    let mut oversized = frame(real_id, datum);
    oversized.extend((0..OVERSIZED_GARBAGE).map(|i| (i % 251) as u8));
    vec![
        poison(
            "not_framed",
            Some(br#"{"product_id":"poison","note":"plain JSON, no wire header"}"#.to_vec()),
            vec!["magic byte".into()],
            DECODERS,
        ),
        poison(
            "unknown_schema_id",
            Some(frame(UNKNOWN_ID, b"\x02x")),
            vec![format!("schema id {UNKNOWN_ID} is not in the registry")],
            DECODERS,
        ),
        poison(
            "truncated_header",
            Some(vec![0, 0, 0]),
            vec!["shorter than the 5-byte Confluent header".into()],
            DECODERS,
        ),
        poison(
            "truncated_datum",
            Some(frame(real_id, &datum[..datum.len() / 2])),
            vec![
                format!("does not decode with writer schema {real_id}"),
                format!("corrupt Avro for schema id Some({real_id})"),
            ],
            DECODERS,
        ),
        poison(
            "oversized",
            Some(oversized),
            vec![
                format!("{OVERSIZED_GARBAGE} trailing bytes"),
                format!("{OVERSIZED_GARBAGE} bytes left after the value"),
            ],
            DECODERS,
        ),
        poison(
            "wrong_schema",
            Some(frame(foreign_id, foreign_datum)),
            vec![format!("does not decode with writer schema {foreign_id}")],
            RESOLVERS,
        ),
        // A keyed tombstone is a delete to every consumer here (see `Consumer`): none treats
        // it as poison, and each must handle it as its delete, not stumble on it.
        poison("tombstone", None, Vec::new(), &[]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_what_it_says() {
        let poisons = records((7, b"abcdef"), (8, b"xyz"));
        let kinds: Vec<_> = poisons.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                "not_framed",
                "unknown_schema_id",
                "truncated_header",
                "truncated_datum",
                "oversized",
                "wrong_schema",
                "tombstone"
            ]
        );
        let by = |k: &str| poisons.iter().find(|p| p.kind == k).unwrap();
        assert_eq!(
            by("truncated_datum").value.as_deref(),
            Some(&b"\0\0\0\0\x07abc"[..])
        );
        assert_eq!(by("wrong_schema").value, Some(frame(8, b"xyz")));
        let big = by("oversized").value.clone().unwrap();
        assert_eq!(big.len(), 5 + 6 + OVERSIZED_GARBAGE);
        assert!(big.len() < 1_000_000);
        assert!(by("tombstone").value.is_none());
        assert!(!by("wrong_schema").is_poison_for(Consumer::LakeWriter));
        assert!(poisons.iter().all(|p| !p.is_poison_for(Consumer::Mirror)));
        assert!(by("oversized").reason_matches("... leaves 900000 trailing bytes: ..."));
    }
}
