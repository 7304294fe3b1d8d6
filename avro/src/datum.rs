//! Decoding one Avro datum, all of it and only it.
//!
//! apache-avro reads a string, a boolean or a union index that the end of the input cuts short
//! as null instead of failing (found by `make fuzz`, target `wire_decoder`): a truncated record
//! would pass as a record with nulls where its schema allows none. [`decode`] reads through a
//! slice that notes when a read asked for more bytes than were left, and refuses such a datum.

use std::io::Read;

use apache_avro::types::Value;
use apache_avro::Schema;

/// Why a datum was refused.
#[derive(Debug, thiserror::Error)]
pub enum DatumError {
    #[error("{0}")]
    Avro(Box<apache_avro::Error>),
    #[error("it ends inside a value (truncated)")]
    Truncated,
    #[error("{0} trailing bytes after the value")]
    Trailing(usize),
}

/// A byte slice that remembers whether a read ran past its end.
struct Guarded<'a> {
    rest: &'a [u8],
    short: bool,
}

impl Read for Guarded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Avro's decoder reads exactly what the schema says comes next; asking for more than
        // is left means the datum was cut.
        if buf.len() > self.rest.len() {
            self.short = true;
        }
        let n = buf.len().min(self.rest.len());
        let (head, tail) = self.rest.split_at(n);
        buf[..n].copy_from_slice(head);
        self.rest = tail;
        Ok(n)
    }
}

/// Decode `datum` with `writer`, resolved to `reader` when given; the whole datum must be one
/// value, neither cut short nor followed by anything.
pub fn decode(writer: &Schema, reader: Option<&Schema>, datum: &[u8]) -> Result<Value, DatumError> {
    let mut input = Guarded {
        rest: datum,
        short: false,
    };
    let value = apache_avro::from_avro_datum(writer, &mut input, reader);
    if input.short {
        return Err(DatumError::Truncated);
    }
    let value = value.map_err(|e| DatumError::Avro(Box::new(e)))?;
    if !input.rest.is_empty() {
        return Err(DatumError::Trailing(input.rest.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas;
    use apache_avro::types::Record;

    fn ban() -> Vec<u8> {
        let schema = schemas::product_bans();
        let mut r = Record::new(&schema).unwrap();
        r.put("kind", Value::Enum(1, "brand".into()));
        r.put("value", "fakelab");
        r.put("reason", "counterfeit");
        r.put("added_by", "ops");
        r.put("added_at", Value::TimestampMillis(1));
        apache_avro::to_avro_datum(&schema, r).unwrap()
    }

    #[test]
    fn a_whole_datum_decodes() {
        let schema = schemas::product_bans();
        let value = decode(&schema, None, &ban()).unwrap();
        assert_eq!(apache_avro::to_avro_datum(&schema, value).unwrap(), ban());
    }

    #[test]
    fn every_cut_is_refused() {
        // Cut inside every field, the last string's included: apache-avro alone reads a string
        // cut by the end of the input as null.
        let schema = schemas::product_bans();
        let full = ban();
        for len in 0..full.len() {
            let cut = decode(&schema, None, &full[..len]);
            assert!(
                cut.is_err(),
                "a datum cut to {len} of {} bytes decoded: {cut:?}",
                full.len()
            );
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut long = ban();
        long.extend_from_slice(b"xyz");
        let schema = schemas::product_bans();
        assert!(matches!(
            decode(&schema, None, &long),
            Err(DatumError::Trailing(3))
        ));
    }
}
