//! The one normalisation of text that ban values and product fields both go through, so a ban
//! is stored in the form it is matched in. Its own module: the ban list (`ban`) and the matcher
//! (`matcher`) both need it, and neither should depend on the other for it.

use unicode_segmentation::UnicodeSegmentation;

/// Lowercase (full Unicode) and fold ё into е, the way Russian text is written inconsistently.
pub fn normalise_text(s: &str) -> String {
    s.to_lowercase().replace('ё', "е")
}

/// Brand form used for matching: normalised text with whitespace runs collapsed to one space.
pub fn normalise_brand(s: &str) -> String {
    normalise_text(s)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words of (already normalised) text, on Unicode word boundaries. A combining mark after
/// a space joins the space in one segment (UAX #29, WB4), which would make a word of " ◌"; the
/// space is not part of the word (found by `make fuzz`, target `ban_text`: a word ban holding
/// such a mark changed when normalised again).
pub fn words(normalised: &str) -> impl Iterator<Item = &str> {
    normalised
        .unicode_words()
        .map(str::trim)
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_after_a_space_is_a_word_without_the_space() {
        assert_eq!(
            words("a \u{5c1} b").collect::<Vec<_>>(),
            ["a", "\u{5c1}", "b"]
        );
    }
}
