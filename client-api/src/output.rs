//! What `client-api` prints: text for people, one JSON document with `--json`.

use crate::answer::Body;
use crate::query::{Hit, Recommended, Search};
use crate::record::Relayed;

fn line(rank: usize, h: &Hit) -> String {
    let brand = h
        .brand
        .as_deref()
        .map(|b| format!(" · {b}"))
        .unwrap_or_default();
    let stock = if h.in_stock {
        "in stock"
    } else {
        "out of stock"
    };
    format!(
        "{rank:>3}. {}{brand} — {} {} ({stock}) [{}, {}]",
        h.name, h.price, h.currency, h.category, h.product_id
    )
}

fn json(value: serde_json::Value) {
    println!("{value}");
}

/// Print an answer: its JSON document, or lines for people.
pub fn answer(body: &Body, as_json: bool) {
    if as_json {
        return json(body.to_json());
    }
    match body {
        Body::Hits { search, hits } => self::hits(search, hits),
        Body::Product { product_id, found } => product(product_id, found.as_ref()),
        Body::Recommended(list) => recommended(list),
    }
}

fn hits(search: &Search, hits: &[Hit]) {
    if hits.is_empty() {
        println!("nothing found for “{}”", search.text);
        return;
    }
    println!("{} found for “{}”:", hits.len(), search.text);
    for (i, h) in hits.iter().enumerate() {
        println!("{}", line(i + 1, h));
    }
}

fn product(id: &str, found: Option<&Hit>) {
    match found {
        Some(h) => println!("{}", line(1, h).trim_start_matches("  1. ")),
        None => eprintln!("product {id} not found: never published, banned, delisted or deleted"),
    }
}

fn recommended(list: &Recommended) {
    match list.source {
        "personal" => println!(
            "recommendations for {} (run {}, model {}):",
            list.user_id,
            list.run_id.as_deref().unwrap_or("?"),
            list.model.as_deref().unwrap_or("?")
        ),
        _ => println!(
            "no personal recommendations for {} yet; popular products instead:",
            list.user_id
        ),
    }
    for (i, h) in list.items.iter().enumerate() {
        println!("{}  score {:.3}", line(i + 1, h), h.score);
    }
}

pub fn relayed(done: &Relayed, as_json: bool) {
    if as_json {
        return json(serde_json::to_value(done).unwrap_or_default());
    }
    println!(
        "sent {} recorded events to Kafka, {} failed, {} still pending",
        done.sent, done.failed, done.pending
    );
}
