use std::collections::{BTreeMap, HashSet};

use super::*;

fn catalogue() -> Vec<Item> {
    let cats = [
        "Смартфоны",
        "Книги",
        "Обувь",
        "Игрушки",
        "Мебель",
        "Зоотовары",
    ];
    (0..600)
        .map(|i| Item {
            product_id: format!("p{i}"),
            category: cats[i % cats.len()].to_owned(),
            brand: Some(format!("brand{}", i % 5)),
        })
        .collect()
}

fn params() -> Params {
    Params {
        users: 50,
        events: 3000,
        seed: 7,
        start_ms: 1_717_200_000_000,
        train_days: 28,
        test_days: 2,
        holdout: 5,
        zipf: 1.05,
    }
}

#[test]
fn same_seed_same_events() {
    let a = simulate(&catalogue(), &params());
    let b = simulate(&catalogue(), &params());
    assert_eq!(a.events, b.events);
    let c = simulate(
        &catalogue(),
        &Params {
            seed: 8,
            ..params()
        },
    );
    assert_ne!(a.events, c.events);
}

#[test]
fn exact_count_valid_events_known_products() {
    let cat = catalogue();
    let sim = simulate(&cat, &params());
    assert_eq!(sim.events.len(), 3000);
    let ids: HashSet<&str> = cat.iter().map(|i| i.product_id.as_str()).collect();
    for e in &sim.events {
        e.validate().unwrap();
        if let Some(p) = &e.product_id {
            assert!(ids.contains(p.as_str()));
        }
    }
    assert!(sim.events.windows(2).all(|w| w[0].ts <= w[1].ts));
    let unique: HashSet<&str> = sim.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(unique.len(), sim.events.len());
}

#[test]
fn last_holdout_events_of_every_user_are_after_the_split() {
    let p = params();
    let sim = simulate(&catalogue(), &p);
    let mut per_user: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for e in &sim.events {
        per_user.entry(&e.user_id).or_default().push(e.ts);
    }
    assert_eq!(per_user.len(), p.users);
    for (user, ts) in per_user {
        let after = ts.iter().filter(|&&t| t >= sim.split_ts).count();
        assert_eq!(after, p.holdout, "{user}");
        assert!(ts.len() >= p.holdout + 5);
    }
}

#[test]
fn planted_preferences_dominate() {
    let cat = catalogue();
    let sim = simulate(&cat, &params());
    let category: BTreeMap<&str, &str> = cat
        .iter()
        .map(|i| (i.product_id.as_str(), i.category.as_str()))
        .collect();
    let truth: BTreeMap<&str, &Truth> = sim.truth.iter().map(|t| (t.user_id.as_str(), t)).collect();
    let (mut hits, mut total) = (0usize, 0usize);
    for e in sim.events.iter().filter(|e| e.event_type == "view") {
        let c = category[e.product_id.as_deref().unwrap()];
        total += 1;
        if truth[e.user_id.as_str()].categories.iter().any(|t| t == c) {
            hits += 1;
        }
    }
    // 75 % planted + a share of the random 25 % that falls into preferred categories anyway.
    let share = hits as f64 / total as f64;
    assert!(share > 0.7, "preferred share {share}");
}

#[test]
fn popularity_is_skewed() {
    let sim = simulate(
        &catalogue(),
        &Params {
            users: 200,
            events: 20_000,
            ..params()
        },
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in sim.events.iter().filter(|e| e.event_type == "view") {
        *counts.entry(e.product_id.as_deref().unwrap()).or_default() += 1;
    }
    let mut v: Vec<usize> = counts.into_values().collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = v.iter().take(v.len() / 10).sum();
    let all: usize = v.iter().sum();
    assert!(
        top as f64 / all as f64 > 0.3,
        "top 10% of products get {top}/{all} views"
    );
}
