//! Splitting a shop's file into records without parsing it as a whole.
//!
//! A JSON array with one broken element cannot be parsed by a JSON parser at all, yet its other
//! elements are fine: we scan the array's top level (strings, escapes and nesting) to cut it into
//! elements, then parse each on its own. NDJSON is cut on newlines. Either way a broken record
//! costs only itself.

/// One record of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// 0-based position among the file's records.
    pub index: usize,
    /// 1-based line where the record starts.
    pub line: usize,
    pub bytes: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of objects.
    Array,
    /// One JSON object per line (blank lines ignored).
    Ndjson,
}

/// Cut `data` into records; the format is detected from the first non-blank byte (`[` = array).
pub fn split(data: &[u8]) -> (Format, Vec<RawRecord<'_>>) {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match data.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => (Format::Array, split_array(data)),
        _ => (Format::Ndjson, split_lines(data)),
    }
}

fn split_lines(data: &[u8]) -> Vec<RawRecord<'_>> {
    data.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .enumerate()
        .map(|(index, (n, line))| RawRecord {
            index,
            line: n + 1,
            bytes: trim(line),
        })
        .collect()
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest
        } else {
            break;
        }
    }
    s
}

fn split_array(data: &[u8]) -> Vec<RawRecord<'_>> {
    let mut out = Vec::new();
    let Some(open) = data.iter().position(|&b| b == b'[') else {
        return out;
    };
    let mut line = 1 + data[..open].iter().filter(|&&b| b == b'\n').count();
    let mut i = open + 1;
    let mut start = i;
    let mut start_line = line;
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut closed = false;
    while i < data.len() {
        let b = data[i];
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                // A raw newline cannot be inside a JSON string: the string was never closed.
                b'\n' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 0 => depth -= 1,
                b']' => {
                    let has_content = !trim(&data[start..i]).is_empty();
                    if has_content || !out.is_empty() {
                        push(data, start, i, start_line, &mut out);
                    }
                    closed = true;
                    i += 1;
                    break;
                }
                b',' if depth == 0 => {
                    push(data, start, i, start_line, &mut out);
                    start = i + 1;
                    start_line = line;
                }
                _ => {}
            }
        }
        if b == b'\n' {
            line += 1;
        }
        i += 1;
    }
    if !closed {
        // Truncated file: whatever follows the last comma is a (broken) record of its own.
        if !trim(&data[start..]).is_empty() {
            push(data, start, data.len(), start_line, &mut out);
        }
    } else if !trim(&data[i.min(data.len())..]).is_empty() {
        // Bytes after the closing bracket: reported as one more (malformed) record.
        let rest_line = line;
        push(data, i, data.len(), rest_line, &mut out);
    }
    out
}

fn push<'a>(data: &'a [u8], from: usize, to: usize, at_line: usize, out: &mut Vec<RawRecord<'a>>) {
    let raw = &data[from..to];
    let leading = raw
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .filter(|&&b| b == b'\n')
        .count();
    out.push(RawRecord {
        index: out.len(),
        line: at_line + leading,
        bytes: trim(raw),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(records: &'a [RawRecord<'a>]) -> Vec<&'a str> {
        records
            .iter()
            .map(|r| std::str::from_utf8(r.bytes).unwrap())
            .collect()
    }

    #[test]
    fn splits_arrays_on_top_level_commas_only() {
        let data = br#"[ {"a": [1, 2], "b": "x,]}"}, {"c": "\"q\""} ,
{"d": {"e": 1}} ]"#;
        let (format, recs) = split(data);
        assert_eq!(format, Format::Array);
        assert_eq!(
            texts(&recs),
            vec![
                r#"{"a": [1, 2], "b": "x,]}"}"#,
                r#"{"c": "\"q\""}"#,
                r#"{"d": {"e": 1}}"#
            ]
        );
        assert_eq!(
            recs.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(recs[2].line, 2);
    }

    #[test]
    fn broken_element_costs_only_itself() {
        let data = b"[\n{\"a\": 1},\n{\"b\": 2,},\n{\"c\": 3}\n]\n";
        let (_, recs) = split(data);
        assert_eq!(
            texts(&recs),
            vec!["{\"a\": 1}", "{\"b\": 2,}", "{\"c\": 3}"]
        );
        assert_eq!(
            recs.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
    }

    #[test]
    fn empty_array_and_truncated_array() {
        assert!(split(b" [ ] ").1.is_empty());
        let (_, recs) = split(b"[{\"a\":1}, {\"b\":");
        assert_eq!(texts(&recs), vec!["{\"a\":1}", "{\"b\":"]);
        let (_, recs) = split(b"[{\"a\":1}] trailing");
        assert_eq!(texts(&recs), vec!["{\"a\":1}", "trailing"]);
    }

    #[test]
    fn ndjson_skips_blank_lines_and_keeps_line_numbers() {
        let data = b"{\"a\":1}\n\n  \n{\"b\":2}\r\nnot json\n";
        let (format, recs) = split(data);
        assert_eq!(format, Format::Ndjson);
        assert_eq!(texts(&recs), vec!["{\"a\":1}", "{\"b\":2}", "not json"]);
        assert_eq!(
            recs.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![1, 4, 5]
        );
        assert_eq!(
            recs.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn bom_is_ignored() {
        let (format, recs) = split(b"\xEF\xBB\xBF[{\"a\":1}]");
        assert_eq!(format, Format::Array);
        assert_eq!(recs.len(), 1);
    }
}
