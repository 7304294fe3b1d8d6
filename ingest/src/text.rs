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

/// The words of (already normalised) text, on Unicode word boundaries.
pub fn words(normalised: &str) -> impl Iterator<Item = &str> {
    normalised.unicode_words()
}
