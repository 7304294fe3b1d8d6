//! Characters a product's text must not carry.
//!
//! Ids, names, brands, SKUs, categories and tags are what buyers see and what bans and search
//! match on, so they must be visible text: no control characters (Unicode category Cc) and no
//! format characters (Cf: zero-width space/joiners, the BOM, bidi marks, overrides and
//! isolates, soft hyphen, …). A zero-width space makes `Orion` and `Or\u{200B}ion` two brands
//! that look the same; a right-to-left override makes a name display differently from its bytes
//! (the "Trojan Source" trick). Free text (description, image alt text, specification values)
//! may hold line breaks and tabs, and Cf characters that real text needs (soft hyphen, the
//! zero-width joiner of emoji sequences), but no other control character and no bidi control.
//!
//! Confusables (a Latin `a` inside a Cyrillic word) are accepted: mixing scripts is normal in
//! this marketplace's names (`Смартфон Orion F28`), every character is visible, and telling a
//! spoof from a typo needs a confusables table and a policy that belong to the ban matcher, not
//! to the shops' input rules. The corpus has a good record with such a name.

/// Which characters a field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chars {
    /// Visible text only: no Cc, no Cf.
    Visible,
    /// Free text: `\t`, `\n`, `\r` and non-bidi Cf allowed; other Cc and bidi controls refused.
    Text,
}

/// Unicode general category Cf (format), as of Unicode 15.1.
fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// Bidirectional marks, embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c as u32,
        0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069
    )
}

fn name_of(c: char) -> &'static str {
    match c as u32 {
        0x00AD => "SOFT HYPHEN",
        0x061C => "ARABIC LETTER MARK",
        0x180E => "MONGOLIAN VOWEL SEPARATOR",
        0x200B => "ZERO WIDTH SPACE",
        0x200C => "ZERO WIDTH NON-JOINER",
        0x200D => "ZERO WIDTH JOINER",
        0x200E => "LEFT-TO-RIGHT MARK",
        0x200F => "RIGHT-TO-LEFT MARK",
        0x202A => "LEFT-TO-RIGHT EMBEDDING",
        0x202B => "RIGHT-TO-LEFT EMBEDDING",
        0x202C => "POP DIRECTIONAL FORMATTING",
        0x202D => "LEFT-TO-RIGHT OVERRIDE",
        0x202E => "RIGHT-TO-LEFT OVERRIDE",
        0x2060 => "WORD JOINER",
        0x2066 => "LEFT-TO-RIGHT ISOLATE",
        0x2067 => "RIGHT-TO-LEFT ISOLATE",
        0x2068 => "FIRST STRONG ISOLATE",
        0x2069 => "POP DIRECTIONAL ISOLATE",
        0xFEFF => "ZERO WIDTH NO-BREAK SPACE / BYTE ORDER MARK",
        0x00 => "NULL",
        0x09 => "TAB",
        0x0A => "LINE FEED",
        0x0D => "CARRIAGE RETURN",
        0x1B => "ESCAPE",
        0x7F => "DELETE",
        _ if c.is_control() => "a control character",
        _ => "an invisible format character",
    }
}

/// The first forbidden character of `s` under `policy`, as a reason for the field's error.
pub fn forbidden(s: &str, policy: Chars) -> Option<String> {
    let (pos, c) = s.chars().enumerate().find(|&(_, c)| match policy {
        Chars::Visible => c.is_control() || is_format(c),
        Chars::Text => (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_bidi_control(c),
    })?;
    let what = if is_bidi_control(c) {
        "a bidirectional control: it changes how the text is displayed without being visible"
    } else if c.is_control() {
        "a control character"
    } else {
        "an invisible format character"
    };
    let rule = match policy {
        Chars::Visible => "ids, names, brands, SKUs, categories and tags must be visible text",
        Chars::Text => {
            "free text may hold line breaks and tabs, but no other control character and no bidi control"
        }
    };
    Some(format!(
        "contains U+{:04X} ({}) at character {}, {what}; {rule}: remove it",
        c as u32,
        name_of(c),
        pos + 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_refuses_invisible_and_control_characters() {
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{2060}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{E0041}',
            '\0',
            '\n',
            '\u{1B}',
            '\u{7F}',
            '\u{85}',
        ] {
            let s = format!("Or{c}ion");
            let reason = forbidden(&s, Chars::Visible).unwrap_or_default();
            assert!(
                reason.contains(&format!("U+{:04X}", c as u32)) && reason.contains("character 3"),
                "{:?}: {reason}",
                c
            );
        }
        for ok in [
            "Смартфон Orion F28",
            "Смaртфон",
            "«Ёлка» 6.1\" — №1",
            "Ω≈ç√∫ 日本 🙂",
        ] {
            assert_eq!(forbidden(ok, Chars::Visible), None, "{ok}");
        }
    }

    #[test]
    fn text_allows_line_breaks_but_not_bidi_controls() {
        assert_eq!(forbidden("Строка 1\r\nСтрока\t2", Chars::Text), None);
        assert_eq!(
            forbidden("пере\u{00AD}нос, 👨\u{200D}👩", Chars::Text),
            None
        );
        for c in ['\u{202E}', '\u{2067}', '\u{200F}', '\0', '\u{7}'] {
            assert!(forbidden(&format!("a{c}b"), Chars::Text).is_some(), "{c:?}");
        }
        assert!(forbidden("a\u{202E}b", Chars::Text)
            .unwrap_or_default()
            .contains("RIGHT-TO-LEFT OVERRIDE"));
    }
}
