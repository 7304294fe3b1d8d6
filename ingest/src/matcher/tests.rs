use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

use super::*;
use crate::ban::{normalise, Ban, BanKind};

fn ban(kind: BanKind, raw: &str) -> Ban {
    Ban {
        kind,
        value: normalise(kind, raw).unwrap(),
        reason: "test".into(),
        added_by: "test".into(),
        added_at: 0,
    }
}

fn set(bans: &[Ban]) -> BanSet {
    let mut s = BanSet::new();
    for b in bans {
        s.apply(&b.key(), Some(b.clone()));
    }
    s
}

fn product<'a>(
    name: &'a str,
    description: Option<&'a str>,
    brand: Option<&'a str>,
    tags: &'a [String],
) -> Matchable<'a> {
    Matchable {
        product_id: "p-1",
        brand,
        name,
        description,
        tags,
    }
}

#[test]
fn words_match_on_boundaries_only() {
    let s = set(&[ban(BanKind::Word, "вейп")]);
    assert!(s
        .matches(product("Вейп Smoke X", None, None, &[]))
        .is_some());
    assert!(s
        .matches(product("Жидкость для ВЕЙП-устройств", None, None, &[]))
        .is_some());
    assert!(s.matches(product("«вейп»", None, None, &[])).is_some());
    // Inside a longer word is not a match: no substring bans.
    assert!(s
        .matches(product("Вейпинг-культура", None, None, &[]))
        .is_none());
    assert!(s.matches(product("суперовейп", None, None, &[])).is_none());
    assert!(s
        .matches(product("Чайник", Some("Отличный вейп."), None, &[]))
        .is_some());
    assert!(s
        .matches(product("Чайник", None, None, &["вейп".into()]))
        .is_some());
}

#[test]
fn yo_and_ye_are_one_letter() {
    let s = set(&[
        ban(BanKind::Word, "ёлка"),
        ban(BanKind::Brand, "Зелёный Дракон"),
    ]);
    assert!(s
        .matches(product("Искусственная ЕЛКА 2 м", None, None, &[]))
        .is_some());
    assert!(s
        .matches(product("Искусственная Ёлка", None, None, &[]))
        .is_some());
    assert!(s
        .matches(product("Чай", None, Some("ЗЕЛЕНЫЙ   ДРАКОН"), &[]))
        .is_some());
    assert!(s
        .matches(product("Чай", None, Some("зелёный дракон"), &[]))
        .is_some());
    assert!(s
        .matches(product("Чай", None, Some("Зелёный Дракончик"), &[]))
        .is_none());
}

#[test]
fn brands_match_exactly_not_by_words() {
    let s = set(&[ban(BanKind::Brand, "FakeLab")]);
    assert!(s
        .matches(product("x", None, Some("FAKELAB"), &[]))
        .is_some());
    assert!(s
        .matches(product("x", None, Some("FakeLab Pro"), &[]))
        .is_none());
    // A brand ban does not look at the name: that is what word bans are for.
    assert!(s
        .matches(product("FakeLab case", None, Some("Other"), &[]))
        .is_none());
}

#[test]
fn ids_match_exactly_and_case_sensitively() {
    let s = set(&[ban(BanKind::ProductId, "AbC")]);
    assert!(s
        .matches(Matchable {
            product_id: "AbC",
            brand: None,
            name: "x",
            description: None,
            tags: &[]
        })
        .is_some());
    assert!(s
        .matches(Matchable {
            product_id: "abc",
            brand: None,
            name: "x",
            description: None,
            tags: &[]
        })
        .is_none());
}

#[test]
fn phrases_match_adjacent_words_in_one_field() {
    let s = set(&[ban(BanKind::Word, "жидкость для вейпа")]);
    assert!(s
        .matches(product("Жидкость для вейпа, 30 мл", None, None, &[]))
        .is_some());
    assert!(s
        .matches(product("Жидкость для  «вейпа»", None, None, &[]))
        .is_some());
    assert!(s
        .matches(product("Жидкость для мытья вейпа", None, None, &[]))
        .is_none());
    assert!(s
        .matches(product("Жидкость для", Some("вейпа"), None, &[]))
        .is_none());
}

#[test]
fn removing_a_ban_stops_matching() {
    let b = ban(BanKind::Word, "реплика");
    let mut s = set(std::slice::from_ref(&b));
    assert!(s
        .matches(product("Часы реплика", None, None, &[]))
        .is_some());
    assert_eq!(s.apply(&b.key(), None), Change::Removed(b.clone()));
    assert!(s
        .matches(product("Часы реплика", None, None, &[]))
        .is_none());
    assert_eq!(s.apply(&b.key(), None), Change::Nothing);
    assert!(matches!(
        s.apply(&b.key(), Some(b.clone())),
        Change::Added(_)
    ));
    assert!(matches!(s.apply(&b.key(), Some(b)), Change::Updated(_)));
    assert_eq!(s.len(), 1);
}

#[test]
fn latin_and_digits_are_words_too() {
    let s = set(&[ban(BanKind::Word, "iphone15")]);
    assert!(s
        .matches(product("Чехол для iPhone15", None, None, &[]))
        .is_some());
    assert!(s
        .matches(product("Чехол для iPhone 15", None, None, &[]))
        .is_none());
}

const CYRILLIC: &str = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ";

fn cyr_word() -> impl Strategy<Value = String> {
    let letters: Vec<char> = CYRILLIC.chars().collect();
    proptest::collection::vec(proptest::sample::select(letters), 2..10)
        .prop_map(|v| v.into_iter().collect())
}

fn separator() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        " ", ", ", ". ", " — ", " (", ") ", "! ", "\n", " «", "» ", "-",
    ])
    .prop_map(str::to_owned)
}

proptest! {
    /// A banned word anywhere in a text of words, in any case and ё/е spelling, is found.
    #[test]
    fn banned_word_is_found_wherever_it_is(
        words in proptest::collection::vec(cyr_word(), 0..12),
        seps in proptest::collection::vec(separator(), 12),
        target in cyr_word(),
        pos in 0usize..12,
        upper in any::<bool>(),
    ) {
        let s = set(&[ban(BanKind::Word, &target)]);
        let mut parts = words.clone();
        let shown = if upper { target.to_uppercase() } else { target.replace('е', "ё") };
        parts.insert(pos.min(parts.len()), shown);
        let text: String = parts.iter().zip(seps.iter().chain(std::iter::repeat(&" ".to_owned()))).map(|(w, s)| format!("{w}{s}")).collect();
        prop_assert!(s.matches(product(&text, None, None, &[])).is_some(), "{text:?} should match {target:?}");
    }

    /// A word containing the banned word with extra letters glued on is never a match.
    #[test]
    fn banned_word_inside_a_longer_word_is_not_found(target in cyr_word(), prefix in cyr_word(), suffix in cyr_word()) {
        let s = set(&[ban(BanKind::Word, &target)]);
        let glued = format!("{prefix}{target}{suffix}");
        prop_assume!(normalise_text(&glued) != normalise_text(&target));
        prop_assert!(s.matches(product(&glued, None, None, &[])).is_none());
    }

    /// Matching agrees with a naive definition: some normalised word equals the banned word.
    #[test]
    fn matches_naive_definition(text in "[а-яёА-ЯЁa-z0-9 ,.!-]{0,60}", target in cyr_word()) {
        let s = set(&[ban(BanKind::Word, &target)]);
        let norm_target = normalise_text(&target);
        let naive = normalise_text(&text).unicode_words().any(|w| w == norm_target);
        prop_assert_eq!(s.matches(product(&text, None, None, &[])).is_some(), naive);
    }
}
