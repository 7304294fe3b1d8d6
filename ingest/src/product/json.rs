//! Reading one record's JSON text into a [`Value`], with errors that name the field.
//!
//! `serde_json::from_str::<Value>` is close to what we need but loses three things a shop needs
//! to fix its feed: it keeps the last of two equal keys silently (a product with two `price`
//! keys is ambiguous, so we refuse it), and when a number is too large for a double or the
//! nesting is deeper than serde_json's recursion limit (128) it says where in the line, not in
//! which field. This reader is the same single pass (serde_json's parser, our visitor), tracking
//! the path of the value being read; duplicate detection costs nothing (the map insert reports
//! the old value).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{ErrorKind, FieldError};

enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Default)]
struct Ctx {
    /// Where the reader is: left as it was when an error interrupts the read.
    path: Vec<Seg>,
    /// Paths of keys that appeared more than once in their object.
    duplicates: Vec<String>,
}

fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Parse one record; every error is a [`FieldError`] naming the field when there is one.
pub fn read(text: &str) -> Result<Value, Vec<FieldError>> {
    let ctx = RefCell::new(Ctx::default());
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Node(&ctx)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    let ctx = ctx.into_inner();
    match parsed {
        Ok(_) if !ctx.duplicates.is_empty() => Err(ctx
            .duplicates
            .into_iter()
            .map(|field| {
                let key = field.rsplit('.').next().unwrap_or(&field).to_owned();
                FieldError::new(
                    field,
                    ErrorKind::DuplicateKey,
                    format!(
                        "key `{key}` appears more than once in the same object; which value is meant is ambiguous: send it once"
                    ),
                )
            })
            .collect()),
        Ok(value) => Ok(value),
        Err(e) => Err(vec![classify(text, &ctx.path, &e)]),
    }
}

fn classify(text: &str, path: &[Seg], e: &serde_json::Error) -> FieldError {
    let msg = e.to_string();
    if msg.starts_with("recursion limit exceeded") {
        // Report the outermost field: the deep path itself is hundreds of `[0]`s.
        let top = render(&path[..path.len().min(1)]);
        return FieldError::new(
            top,
            ErrorKind::TooDeep,
            format!(
                "JSON nested more than 128 levels deep ({e}); product fields nest at most 3 levels: send the value flat"
            ),
        );
    }
    if msg.starts_with("number out of range") {
        return FieldError::new(
            render(path),
            ErrorKind::OutOfRange,
            format!(
                "number beyond the range of a 64-bit float (about ±1.8e308) ({e}); send a value within the field's limits"
            ),
        );
    }
    let reason = if text.starts_with('\u{FEFF}') {
        "the record starts with a byte order mark (U+FEFF); only the start of a file may carry one: remove it (were files concatenated?)".to_owned()
    } else if path.is_empty() {
        format!("malformed JSON: {e}")
    } else {
        format!("malformed JSON in `{}`: {e}", render(path))
    };
    FieldError::new("", ErrorKind::MalformedJson, reason)
}

struct Node<'c>(&'c RefCell<Ctx>);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never hands over a non-finite double (it refuses the number instead).
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.0.borrow_mut().path.push(Seg::Index(items.len()));
            let next = seq.next_element_seed(Node(self.0))?;
            self.0.borrow_mut().path.pop();
            match next {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.0.borrow_mut().path.push(Seg::Key(key));
            let value = map.next_value_seed(Node(self.0))?;
            let mut ctx = self.0.borrow_mut();
            let field = render(&ctx.path);
            let Some(Seg::Key(key)) = ctx.path.pop() else {
                unreachable!("the key pushed above")
            };
            if obj.insert(key, value).is_some() {
                ctx.duplicates.push(field);
            }
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (String, ErrorKind, String) {
        let e = read(text).unwrap_err().remove(0);
        (e.field, e.kind, e.reason)
    }

    #[test]
    fn reads_like_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(
            read(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn duplicate_keys_are_named_with_their_path() {
        let e =
            read(r#"{"price": {"amount": 1, "amount": 2}, "name": "a", "name": "b"}"#).unwrap_err();
        let fields: Vec<_> = e.iter().map(|e| (e.field.as_str(), e.kind)).collect();
        assert_eq!(
            fields,
            vec![
                ("price.amount", ErrorKind::DuplicateKey),
                ("name", ErrorKind::DuplicateKey)
            ]
        );
        assert!(e[1].reason.contains("`name`"), "{}", e[1].reason);
    }

    #[test]
    fn errors_name_the_field() {
        let (field, kind, reason) = err(r#"{"price": {"amount": 1e400}}"#);
        assert_eq!(
            (field.as_str(), kind),
            ("price.amount", ErrorKind::OutOfRange)
        );
        assert!(reason.contains("64-bit float"), "{reason}");

        let (field, kind, _) = err(r#"{"tags": ["a", 1e999]}"#);
        assert_eq!((field.as_str(), kind), ("tags[1]", ErrorKind::OutOfRange));

        let deep = format!(
            r#"{{"tags": {}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let (field, kind, reason) = err(&deep);
        assert_eq!((field.as_str(), kind), ("tags", ErrorKind::TooDeep));
        assert!(reason.contains("128"), "{reason}");

        let (field, kind, reason) = err(r#"{"price": {"amount": NaN}}"#);
        assert_eq!((field.as_str(), kind), ("", ErrorKind::MalformedJson));
        assert!(reason.contains("`price.amount`"), "{reason}");

        let (_, kind, reason) = err("\u{FEFF}{\"a\": 1}");
        assert_eq!(kind, ErrorKind::MalformedJson);
        assert!(reason.contains("byte order mark"), "{reason}");

        let (_, kind, _) = err(r#"{"a": 1} {"b": 2}"#);
        assert_eq!(kind, ErrorKind::MalformedJson);
    }
}
