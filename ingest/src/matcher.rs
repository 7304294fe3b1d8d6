//! Does a product match the ban list?
//!
//! - id bans: exact product id;
//! - brand bans: the brand normalised (lowercase, ё → е, whitespace collapsed), exact;
//! - word bans: words on Unicode word boundaries (UAX #29, so Cyrillic, Latin and digits are
//!   all handled) in the name, description and each tag, normalised the same way. A ban of
//!   several words matches them adjacent, in order, within one field. No stemming: «реплика»
//!   does not match «реплики» (ban each form you mean).

use std::collections::{BTreeMap, HashMap};

use crate::ban::{Ban, BanKind};
use crate::text::{normalise_brand, normalise_text, words};

/// The fields of a product the bans look at.
#[derive(Debug, Clone, Copy)]
pub struct Matchable<'a> {
    pub product_id: &'a str,
    pub brand: Option<&'a str>,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub tags: &'a [String],
}

impl<'a> From<&'a crate::product::Product> for Matchable<'a> {
    fn from(p: &'a crate::product::Product) -> Self {
        Matchable {
            product_id: &p.product_id,
            brand: p.brand.as_deref(),
            name: &p.name,
            description: p.description.as_deref(),
            tags: p.tags.as_deref().unwrap_or(&[]),
        }
    }
}

/// The current ban list, indexed for matching. Changes are rare; lookups are per product.
#[derive(Debug, Default, Clone)]
pub struct BanSet {
    by_key: BTreeMap<String, Ban>,
    ids: HashMap<String, String>,
    brands: HashMap<String, String>,
    /// First word → (all words, key). One-word bans are phrases of length one.
    phrases: HashMap<String, Vec<(Vec<String>, String)>>,
}

/// What applying one ban-topic record changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(Ban),
    /// Same key again (new reason or author): matching is unchanged.
    Updated(Ban),
    Removed(Ban),
    /// Tombstone for a key that was not banned.
    Nothing,
}

impl BanSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding one ban: to test already-passed products against a new ban only.
    pub fn single(ban: Ban) -> Self {
        let mut set = Self::new();
        set.apply(&ban.key(), Some(ban));
        set
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn bans(&self) -> impl Iterator<Item = &Ban> {
        self.by_key.values()
    }

    pub fn count(&self, kind: BanKind) -> usize {
        self.by_key.values().filter(|b| b.kind == kind).count()
    }

    /// Apply one record of the ban topic: `Some(ban)` adds or updates, `None` (a tombstone)
    /// removes. The ban's key is recomputed from its fields, so a record under a stale or
    /// hand-written key still lands on the canonical entry.
    pub fn apply(&mut self, key: &str, ban: Option<Ban>) -> Change {
        let change = match ban {
            Some(ban) => {
                let canonical = ban.key();
                if canonical != key {
                    tracing::warn!(
                        key,
                        canonical,
                        "ban record key is not canonical; using the canonical key"
                    );
                }
                match self.by_key.insert(canonical, ban.clone()) {
                    Some(_) => Change::Updated(ban),
                    None => Change::Added(ban),
                }
            }
            None => match self.by_key.remove(key) {
                Some(old) => Change::Removed(old),
                None => Change::Nothing,
            },
        };
        if matches!(change, Change::Added(_) | Change::Removed(_)) {
            self.reindex();
        }
        change
    }

    fn reindex(&mut self) {
        self.ids.clear();
        self.brands.clear();
        self.phrases.clear();
        for (key, ban) in &self.by_key {
            match ban.kind {
                BanKind::ProductId => {
                    self.ids.insert(ban.value.clone(), key.clone());
                }
                BanKind::Brand => {
                    self.brands.insert(normalise_brand(&ban.value), key.clone());
                }
                BanKind::Word => {
                    let norm = normalise_text(&ban.value);
                    let ws: Vec<String> = words(&norm).map(str::to_owned).collect();
                    if let Some(first) = ws.first().cloned() {
                        self.phrases
                            .entry(first)
                            .or_default()
                            .push((ws, key.clone()));
                    }
                }
            }
        }
    }

    /// The first ban the product matches (id, then brand, then words), if any.
    pub fn matches(&self, p: Matchable<'_>) -> Option<&Ban> {
        if self.by_key.is_empty() {
            return None;
        }
        let key = self
            .ids
            .get(p.product_id)
            .or_else(|| p.brand.and_then(|b| self.brands.get(&normalise_brand(b))))
            .or_else(|| {
                if self.phrases.is_empty() {
                    return None;
                }
                std::iter::once(p.name)
                    .chain(p.description)
                    .chain(p.tags.iter().map(String::as_str))
                    .find_map(|text| self.match_words(text))
            })?;
        self.by_key.get(key)
    }

    fn match_words(&self, text: &str) -> Option<&String> {
        let norm = normalise_text(text);
        let tokens: Vec<&str> = words(&norm).collect();
        for (i, token) in tokens.iter().enumerate() {
            if let Some(candidates) = self.phrases.get(*token) {
                for (phrase, key) in candidates {
                    let end = i + phrase.len();
                    if end <= tokens.len()
                        && phrase.iter().zip(&tokens[i..end]).all(|(a, b)| a == b)
                    {
                        return Some(key);
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
