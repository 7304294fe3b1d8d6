//! The provenance header every copied record carries: which source record it is a copy of.
//!
//! It is what makes the mirror restart-safe without transactions: the destination itself
//! remembers how far the copy got, in the same write as the data, so there is no second store
//! (consumer-group offsets, a state file) that could disagree with it after a crash. Readers of
//! the analytics cluster can use it too, to trace a record back to prod.
//!
//! Value: `<topic>/<partition>/<offset>` in ASCII, e.g. `client-events/3/1234`. Kafka topic
//! names cannot contain `/`, so the split is unambiguous; text keeps it readable in any tool.

/// Header name. When a source record already has one (a mirror of a mirror), ours is appended
/// after it and readers take the last occurrence.
pub const SOURCE_HEADER: &str = "vygoda.mirror.source";

/// A source record's coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourcePosition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {SOURCE_HEADER} = {value:?} is not <topic>/<partition>/<offset>")]
pub struct BadHeader {
    pub value: String,
}

impl SourcePosition {
    /// Header value for a record at `offset` of `topic`/`partition`.
    pub fn encode(topic: &str, partition: i32, offset: i64) -> String {
        format!("{topic}/{partition}/{offset}")
    }

    pub fn decode(value: &[u8]) -> Result<Self, BadHeader> {
        let bad = || BadHeader {
            value: String::from_utf8_lossy(value).into_owned(),
        };
        let text = std::str::from_utf8(value).map_err(|_| bad())?;
        let mut parts = text.rsplitn(3, '/');
        let offset = parts.next().and_then(|s| s.parse::<i64>().ok());
        let partition = parts.next().and_then(|s| s.parse::<i32>().ok());
        let topic = parts.next().filter(|t| !t.is_empty());
        match (topic, partition, offset) {
            (Some(topic), Some(partition), Some(offset)) if partition >= 0 && offset >= 0 => {
                Ok(SourcePosition {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                })
            }
            _ => Err(bad()),
        }
    }

    /// The last provenance header among `headers` (key, value) pairs, if any.
    pub fn find_last<'a, I>(headers: I) -> Option<Result<Self, BadHeader>>
    where
        I: IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
    {
        headers
            .into_iter()
            .filter(|(k, _)| *k == SOURCE_HEADER)
            .last()
            .map(|(_, v)| Self::decode(v.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_what_it_encodes() {
        let v = SourcePosition::encode("client-events", 3, 1234);
        assert_eq!(v, "client-events/3/1234");
        let p = SourcePosition::decode(v.as_bytes()).unwrap();
        assert_eq!(
            p,
            SourcePosition {
                topic: "client-events".into(),
                partition: 3,
                offset: 1234
            }
        );
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in ["", "t/1", "t/x/1", "/1/2", "t/1/-2", "t/-1/2", "t/1/2x"] {
            assert!(SourcePosition::decode(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(SourcePosition::decode(&[0xff, b'/', b'1', b'/', b'2']).is_err());
    }

    #[test]
    fn last_header_wins() {
        let h = [
            ("vygoda.mirror.source", Some(&b"a/0/1"[..])),
            ("other", Some(&b"x"[..])),
            ("vygoda.mirror.source", Some(&b"b/2/3"[..])),
        ];
        let p = SourcePosition::find_last(h).unwrap().unwrap();
        assert_eq!((p.topic.as_str(), p.partition, p.offset), ("b", 2, 3));
        assert!(SourcePosition::find_last([("other", None)]).is_none());
        assert!(SourcePosition::find_last([(SOURCE_HEADER, None)])
            .unwrap()
            .is_err());
    }

    proptest! {
        #[test]
        fn round_trips(topic in "[a-zA-Z0-9._-]{1,249}", partition in 0i32.., offset in 0i64..) {
            let v = SourcePosition::encode(&topic, partition, offset);
            let p = SourcePosition::decode(v.as_bytes()).unwrap();
            prop_assert_eq!(p, SourcePosition { topic, partition, offset });
        }
    }
}
