//! One question to the CLIENT API and its answer, shared by the command line and `serve`:
//! validate what was asked, answer it from the store, and describe the request as it is
//! recorded.

use std::time::Instant;

use serde_json::{json, Value};

use crate::query::{self, Hit, Recommended, Search};
use crate::record::{Kind, Request};
use crate::store::{Store, StoreError};

/// What the asker got wrong; the text starts with the parameter's name (as the HTTP API spells
/// it) and says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A validated question.
#[derive(Debug, Clone)]
pub enum Ask {
    Search { search: Search, user: String },
    Product { product_id: String, user: String },
    Recommend { user: String, limit: i64 },
}

/// A search's parameters as the command line or the query string gives them (text).
#[derive(Debug, Clone, Default)]
pub struct SearchParams {
    pub text: String,
    pub category: String,
    pub brand: String,
    pub min_price: String,
    pub max_price: String,
    pub in_stock: bool,
    pub limit: i64,
    pub user: String,
}

const LIMITS: std::ops::RangeInclusive<i64> = 1..=1000;

/// The longest search text, in characters. Longer is refused, not truncated: no product name is
/// that long (names are at most 512 characters and a search matches words, not whole texts), and
/// every word of the text costs full-text and trigram work on every search.
pub const MAX_QUERY_CHARS: usize = 500;

/// The longest category or brand filter: the SHOP API's limit for both, so longer can match
/// nothing.
pub const MAX_FILTER_CHARS: usize = 128;

/// Refuse control characters (U+0000 cannot even be stored in PostgreSQL text; the others have
/// no place in a search or an id).
pub fn plain(name: &str, text: &str) -> Result<(), Invalid> {
    match text.chars().find(|c| c.is_control()) {
        Some(c) => Err(Invalid(format!(
            "{name}: contains U+{:04X}, a control character; send plain text",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// A filter's text, trimmed; None when empty.
fn filter(name: &str, text: &str) -> Result<Option<String>, Invalid> {
    plain(name, text)?;
    let text = text.trim();
    let chars = text.chars().count();
    if chars > MAX_FILTER_CHARS {
        return Err(Invalid(format!(
            "{name}: {chars} characters; the limit is {MAX_FILTER_CHARS}, no product has a longer one"
        )));
    }
    Ok(Some(text.to_owned()).filter(|t| !t.is_empty()))
}

fn limit(limit: i64) -> Result<i64, Invalid> {
    if LIMITS.contains(&limit) {
        Ok(limit)
    } else {
        Err(Invalid(format!("limit {limit}: must be 1..=1000")))
    }
}

/// "1234.50" → 123450 cents; empty = no bound.
fn cents(name: &str, text: &str) -> Result<Option<i64>, Invalid> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    vygoda_ingest::product::Amount::parse(text.trim())
        .map(|a| Some(a.0))
        .map_err(|(_, why)| Invalid(format!("{name} {text}: {why}")))
}

fn user_or_anonymous(user: &str) -> Result<String, Invalid> {
    plain("user", user)?;
    Ok(match user.trim() {
        "" => "anonymous".to_owned(),
        u => u.to_owned(),
    })
}

impl Ask {
    /// The search text is plain text whatever it holds (`'`, `&`, `:*`, `--` …): it is bound as
    /// a parameter and read by `websearch_to_tsquery`, which never fails on syntax.
    pub fn search(p: SearchParams) -> Result<Ask, Invalid> {
        plain("q", &p.text)?;
        let text = p.text.trim();
        if text.is_empty() {
            return Err(Invalid(
                "q: the search text is empty; say what to look for".into(),
            ));
        }
        let chars = text.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(Invalid(format!(
                "q: the search text is {chars} characters; the limit is {MAX_QUERY_CHARS}: search for fewer words"
            )));
        }
        let min_price_cents = cents("min_price", &p.min_price)?;
        let max_price_cents = cents("max_price", &p.max_price)?;
        if let (Some(min), Some(max)) = (min_price_cents, max_price_cents) {
            if min > max {
                return Err(Invalid(format!(
                    "min_price {} is above max_price {}: nothing can match; swap them",
                    p.min_price.trim(),
                    p.max_price.trim()
                )));
            }
        }
        Ok(Ask::Search {
            search: Search {
                text: text.to_owned(),
                category: filter("category", &p.category)?,
                brand: filter("brand", &p.brand)?,
                min_price_cents,
                max_price_cents,
                in_stock: p.in_stock,
                limit: limit(p.limit)?,
            },
            user: user_or_anonymous(&p.user)?,
        })
    }

    pub fn product(product_id: &str, user: &str) -> Result<Ask, Invalid> {
        plain("product_id", product_id)?;
        match product_id.trim() {
            "" => Err(Invalid("product_id: the product id is empty".into())),
            id => Ok(Ask::Product {
                product_id: id.to_owned(),
                user: user_or_anonymous(user)?,
            }),
        }
    }

    pub fn recommend(user: &str, n: i64) -> Result<Ask, Invalid> {
        plain("user", user)?;
        match user.trim() {
            "" => Err(Invalid(
                "user: a user is required: whose recommendations?".into(),
            )),
            u => Ok(Ask::Recommend {
                user: u.to_owned(),
                limit: limit(n)?,
            }),
        }
    }

    /// The endpoint label of metrics and logs.
    pub fn kind(&self) -> Kind {
        match self {
            Ask::Search { .. } => Kind::Search,
            Ask::Product { .. } => Kind::Product,
            Ask::Recommend { .. } => Kind::Recommend,
        }
    }
}

/// What was found.
#[derive(Debug, Clone)]
pub enum Body {
    Hits {
        search: Search,
        hits: Vec<Hit>,
    },
    Product {
        product_id: String,
        found: Option<Hit>,
    },
    Recommended(Recommended),
}

impl Body {
    /// The JSON document of `--json` and of the HTTP API (one shape for both).
    pub fn to_json(&self) -> Value {
        match self {
            Body::Hits { search, hits } => {
                json!({ "query": search, "count": hits.len(), "results": hits })
            }
            Body::Product { found: Some(h), .. } => json!({ "found": true, "product": h }),
            Body::Product {
                product_id,
                found: None,
            } => json!({ "found": false, "product_id": product_id }),
            Body::Recommended(list) => serde_json::to_value(list).unwrap_or_default(),
        }
    }

    /// False only for a product that is not (or no longer) listed.
    pub fn found(&self) -> bool {
        !matches!(self, Body::Product { found: None, .. })
    }
}

/// An answer and the request as it is recorded.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: Body,
    pub request: Request,
}

/// Answer `ask` from the store; `session` is the asker's session id.
pub async fn answer(store: &Store, ask: Ask, session: &str) -> Result<Answer, StoreError> {
    let started = Instant::now();
    let kind = ask.kind();
    let (body, user_id, query, product_id, filters) = match ask {
        Ask::Search { search, user } => {
            let hits = query::search(store, &search).await?;
            let (text, filters) = (
                search.text.clone(),
                serde_json::to_value(&search).unwrap_or_default(),
            );
            (Body::Hits { search, hits }, user, Some(text), None, filters)
        }
        Ask::Product { product_id, user } => {
            let found = query::product(store, &product_id).await?;
            let id = Some(product_id.clone());
            (
                Body::Product { product_id, found },
                user,
                None,
                id,
                json!({}),
            )
        }
        Ask::Recommend { user, limit } => {
            let list = query::recommend(store, &user, limit).await?;
            (
                Body::Recommended(list),
                user,
                None,
                None,
                json!({ "limit": limit }),
            )
        }
    };
    let (result_count, outcome) = match &body {
        Body::Hits { hits, .. } => (hits.len(), "ok"),
        Body::Product { found, .. } => match found {
            Some(_) => (1, "ok"),
            None => (0, "not_found"),
        },
        Body::Recommended(list) => (
            list.items.len(),
            if list.source == "personal" {
                "ok"
            } else {
                "fallback"
            },
        ),
    };
    let request = Request {
        kind,
        user_id,
        session_id: session.to_owned(),
        query,
        product_id,
        filters,
        result_count: Some(i32::try_from(result_count).unwrap_or(i32::MAX)),
        outcome,
        latency: started.elapsed(),
    };
    Ok(Answer { body, request })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> SearchParams {
        SearchParams {
            text: text.into(),
            limit: 10,
            ..SearchParams::default()
        }
    }

    #[test]
    fn questions_are_checked_before_the_store_is_asked() {
        assert!(Ask::search(params("  ")).is_err());
        let too_many = SearchParams {
            limit: 0,
            ..params("часы")
        };
        assert_eq!(
            Ask::search(too_many).unwrap_err().0,
            "limit 0: must be 1..=1000"
        );
        let bad_price = SearchParams {
            min_price: "cheap".into(),
            ..params("часы")
        };
        assert!(Ask::search(bad_price)
            .unwrap_err()
            .0
            .starts_with("min_price cheap"));
        let swapped = SearchParams {
            min_price: "100".into(),
            max_price: "10".into(),
            ..params("часы")
        };
        assert!(Ask::search(swapped)
            .unwrap_err()
            .0
            .starts_with("min_price 100 is above max_price 10"));
        assert!(Ask::search(params(&"ч".repeat(MAX_QUERY_CHARS))).is_ok());
        assert!(Ask::search(params(&"ч".repeat(MAX_QUERY_CHARS + 1)))
            .unwrap_err()
            .0
            .starts_with("q: the search text is 501 characters; the limit is 500"));
        assert_eq!(
            Ask::search(params("ча\0сы")).unwrap_err().0,
            "q: contains U+0000, a control character; send plain text"
        );
        assert!(Ask::product("p\u{7}", "u").is_err());
        assert!(Ask::recommend("u\0", 5).is_err());
        assert!(Ask::product(" ", "u").is_err());
        assert!(Ask::recommend("", 5).is_err());
        assert!(Ask::recommend("u1", 1001).is_err());
        let Ok(Ask::Search { search, user }) = Ask::search(SearchParams {
            min_price: "99.90".into(),
            category: " ".into(),
            ..params(" часы ")
        }) else {
            panic!("a valid search was refused");
        };
        assert_eq!(
            (
                search.text.as_str(),
                search.min_price_cents,
                search.category
            ),
            ("часы", Some(9990), None)
        );
        assert_eq!(user, "anonymous");
    }

    #[test]
    fn a_product_not_found_is_the_only_answer_without_a_find() {
        let missing = Body::Product {
            product_id: "p1".into(),
            found: None,
        };
        assert!(!missing.found());
        assert_eq!(
            missing.to_json(),
            json!({ "found": false, "product_id": "p1" })
        );
        assert!(Body::Hits {
            search: Search::default(),
            hits: vec![]
        }
        .found());
    }
}
