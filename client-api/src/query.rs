//! What the CLIENT API answers: search, one product, a user's recommendations. Everything is
//! read from the store, which holds only listed products: banned and delisted ones are gone.

use serde::Serialize;
use sqlx::Row;

use crate::store::{q, Store, StoreError};

/// Below this trigram word similarity a product is not a fuzzy match (pg_trgm's default, 0.6,
/// misses one-letter typos in short words such as "чсы").
const FUZZY_THRESHOLD: &str = "0.4";

/// A search with its filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Search {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_price_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price_cents: Option<i64>,
    pub in_stock: bool,
    pub limit: i64,
}

/// A product as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub product_id: String,
    pub name: String,
    pub brand: Option<String>,
    pub category: String,
    /// The price as a decimal string (`1234.50`), never a float.
    pub price: String,
    pub currency: String,
    pub in_stock: bool,
    /// Search rank (full-text rank plus trigram similarity); the score of the recommendation.
    pub score: f64,
}

fn price(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn hit(row: &sqlx::postgres::PgRow) -> Result<Hit, sqlx::Error> {
    let available: i32 = row.try_get("available")?;
    let reserved: Option<i32> = row.try_get("reserved")?;
    Ok(Hit {
        product_id: row.try_get("product_id")?,
        name: row.try_get("name")?,
        brand: row.try_get("brand")?,
        category: row.try_get("category")?,
        price: price(row.try_get("price_cents")?),
        currency: row.try_get("currency")?,
        in_stock: available - reserved.unwrap_or(0) > 0,
        score: row.try_get("score")?,
    })
}

/// The filters every search applies ($2 … $6), after its own match condition.
const FILTERS: &str = "
           AND ($2::text IS NULL OR p.category = $2)
           AND ($3::text IS NULL OR lower(p.brand) = lower($3))
           AND ($4::bigint IS NULL OR p.price_cents >= $4)
           AND ($5::bigint IS NULL OR p.price_cents <= $5)
           AND (NOT $6 OR p.available - coalesce(p.reserved, 0) > 0)";

/// `sql` with the search text and the [`FILTERS`] bound as $1 … $6.
fn with_filters<'q>(
    sql: &'q str,
    s: &'q Search,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(&s.text)
        .bind(&s.category)
        .bind(&s.brand)
        .bind(s.min_price_cents)
        .bind(s.max_price_cents)
        .bind(s.in_stock)
}

const COLUMNS: &str = "p.product_id, p.name, p.brand, p.category, p.price_cents, p.currency,
                p.available, p.reserved";

/// Full text with Russian morphology, ranked; then, when that finds fewer than the limit,
/// trigram similarity for typos and partial words. Two steps rather than one `OR`: with the
/// `OR` PostgreSQL ranks every row either condition matches, and a common word on a 100k
/// catalogue took 1.6 s instead of 45 ms for the full-text step alone.
pub async fn search(store: &Store, s: &Search) -> Result<Vec<Hit>, StoreError> {
    let words = format!(
        "SELECT {COLUMNS}, ts_rank(p.document, q)::float8 AS score
         FROM products p, websearch_to_tsquery('russian', $1) q
         WHERE p.document @@ q {FILTERS}
         ORDER BY score DESC, p.product_id
         LIMIT $7"
    );
    let rows = with_filters(&words, s)
        .bind(s.limit)
        .fetch_all(&store.pool)
        .await
        .map_err(q("search"))?;
    let mut hits = rows
        .iter()
        .map(hit)
        .collect::<Result<Vec<_>, _>>()
        .map_err(q("read search rows"))?;
    let short = s.limit - hits.len() as i64;
    if short > 0 {
        let found: Vec<String> = hits.iter().map(|h| h.product_id.clone()).collect();
        hits.extend(fuzzy(store, s, short, &found).await?);
    }
    Ok(hits)
}

/// Trigram word similarity over name, brand, category and tags, for what full text missed.
async fn fuzzy(
    store: &Store,
    s: &Search,
    limit: i64,
    found: &[String],
) -> Result<Vec<Hit>, StoreError> {
    let mut tx = store.pool.begin().await.map_err(q("begin search"))?;
    // Local to this transaction: lets the `<%` operator use the trigram index at our threshold.
    sqlx::query("SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)")
        .bind(FUZZY_THRESHOLD)
        .execute(&mut *tx)
        .await
        .map_err(q("search settings"))?;
    let similar = format!(
        "SELECT {COLUMNS}, word_similarity(lower($1), p.flat)::float8 AS score
         FROM products p
         WHERE lower($1) <% p.flat AND NOT (p.product_id = ANY($8)) {FILTERS}
         ORDER BY score DESC, p.product_id
         LIMIT $7"
    );
    let rows = with_filters(&similar, s)
        .bind(limit)
        .bind(found)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("search"))?;
    tx.commit().await.map_err(q("end search"))?;
    rows.iter()
        .map(hit)
        .collect::<Result<_, _>>()
        .map_err(q("read search rows"))
}

/// One listed product, or None (never published, banned, delisted or deleted).
pub async fn product(store: &Store, product_id: &str) -> Result<Option<Hit>, StoreError> {
    let row = sqlx::query(
        "SELECT product_id, name, brand, category, price_cents, currency, available, reserved,
                1.0::float8 AS score
         FROM products WHERE product_id = $1",
    )
    .bind(product_id)
    .fetch_optional(&store.pool)
    .await
    .map_err(q("product"))?;
    row.as_ref().map(hit).transpose().map_err(q("read product"))
}

/// Where a recommendation list came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommended {
    pub user_id: String,
    /// `personal`: the user's list of the latest published run; `popularity`: the user has no
    /// list, so the products the latest runs recommend most often.
    pub source: &'static str,
    pub run_id: Option<String>,
    pub model: Option<String>,
    pub items: Vec<Hit>,
}

/// The user's list from the latest published run, with each item's name and price; products
/// delisted since are left out. Without a list: the popularity fallback.
pub async fn recommend(store: &Store, user: &str, limit: i64) -> Result<Recommended, StoreError> {
    let head = sqlx::query("SELECT run_id, model FROM recommendations WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&store.pool)
        .await
        .map_err(q("recommendations"))?;
    if let Some(head) = head {
        let rows = sqlx::query(
            "SELECT p.product_id, p.name, p.brand, p.category, p.price_cents, p.currency,
                    p.available, p.reserved, (i->>'score')::float8 AS score
             FROM recommendations r
             CROSS JOIN LATERAL jsonb_array_elements(r.items) WITH ORDINALITY AS e(i, n)
             JOIN products p ON p.product_id = i->>'product_id'
             WHERE r.user_id = $1
             ORDER BY (i->>'rank')::int, e.n
             LIMIT $2",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(&store.pool)
        .await
        .map_err(q("recommended products"))?;
        return Ok(Recommended {
            user_id: user.to_owned(),
            source: "personal",
            run_id: head.try_get("run_id").map_err(q("read run id"))?,
            model: head.try_get("model").map_err(q("read model"))?,
            items: rows
                .iter()
                .map(hit)
                .collect::<Result<_, _>>()
                .map_err(q("read recommended products"))?,
        });
    }
    let rows = sqlx::query(
        "SELECT p.product_id, p.name, p.brand, p.category, p.price_cents, p.currency,
                p.available, p.reserved, sum(1.0 / (i->>'rank')::int)::float8 AS score
         FROM recommendations r
         CROSS JOIN LATERAL jsonb_array_elements(r.items) AS i
         JOIN products p ON p.product_id = i->>'product_id'
         GROUP BY p.product_id
         ORDER BY score DESC, p.product_id
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&store.pool)
    .await
    .map_err(q("popular products"))?;
    Ok(Recommended {
        user_id: user.to_owned(),
        source: "popularity",
        run_id: None,
        model: Some("popularity".to_owned()),
        items: rows
            .iter()
            .map(hit)
            .collect::<Result<_, _>>()
            .map_err(q("read popular products"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_exact_decimals() {
        assert_eq!(price(123_450), "1234.50");
        assert_eq!(price(5), "0.05");
        assert_eq!(price(0), "0.00");
    }
}
