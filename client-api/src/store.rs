//! The PostgreSQL store: connection, schema, and the writes of the store sink. Reads live in
//! [`crate::query`], request records in [`crate::record`].

use std::time::Duration;

use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};

const SCHEMA: &str = include_str!("schema.sql");
/// Advisory lock namespace for the schema: concurrent first starts serialise on it.
const LOCK_NS: i32 = 0x5354_4f52; // "STOR"

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot reach the store ({0}); is PostgreSQL up (`make status`) and --store-url right?"
    )]
    Connect(#[source] sqlx::Error),
    #[error("store query `{what}` failed: {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    /// The database could not be reached (as opposed to a query it refused).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect(_) => true,
            StoreError::Query { source, .. } => matches!(
                source,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            ),
        }
    }
}

pub(crate) fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

/// The store: a small pool, the schema applied.
#[derive(Debug, Clone)]
pub struct Store {
    pub pool: PgPool,
}

impl Store {
    /// Connect and create the tables (idempotent; serialised so concurrent first starts agree).
    pub async fn connect(url: &str, timeout: Duration) -> Result<Store, StoreError> {
        Self::connect_with(url, timeout, 8).await
    }

    /// Same, with `connections` in the pool (a server sizes it to its concurrency).
    pub async fn connect_with(
        url: &str,
        timeout: Duration,
        connections: u32,
    ) -> Result<Store, StoreError> {
        use vygoda_common::postgres::{connect_with_schema, SchemaError};
        let pool = connect_with_schema(url, connections, timeout, LOCK_NS, SCHEMA)
            .await
            .map_err(|e| match e {
                SchemaError::Connect(e) => StoreError::Connect(e),
                SchemaError::Apply(e) => q("create tables")(e),
            })?;
        Ok(Store { pool })
    }

    /// Where the sink resumes: next offset per partition of `topic` (absent: from the start).
    pub async fn offsets(&self, topic: &str) -> Result<Vec<(i32, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT partition, next_offset FROM sink_offsets WHERE topic = $1 ORDER BY partition",
        )
        .bind(topic)
        .fetch_all(&self.pool)
        .await
        .map_err(q("read sink offsets"))
    }
}

/// One product version as the sink stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductRow {
    pub product_id: String,
    pub name: String,
    pub brand: Option<String>,
    pub category: String,
    pub description: Option<String>,
    pub tags: String,
    pub price_cents: i64,
    pub currency: String,
    pub available: i32,
    pub reserved: Option<i32>,
    pub store_id: String,
    pub updated_at_ms: i64,
}

impl ProductRow {
    pub fn from_product(p: vygoda_ingest::product::Product) -> ProductRow {
        ProductRow {
            updated_at_ms: p.updated_at.unwrap_or(p.created_at),
            product_id: p.product_id,
            name: p.name,
            brand: p.brand,
            category: p.category,
            description: p.description,
            tags: p.tags.unwrap_or_default().join(" "),
            price_cents: p.price.amount.0,
            currency: p.price.currency,
            available: p.stock.available,
            reserved: p.stock.reserved,
            store_id: p.store_id,
        }
    }
}

/// One user's list as the sink stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationRow {
    pub user_id: String,
    pub run_id: String,
    pub model: String,
    pub generated_at_ms: i64,
    pub items: serde_json::Value,
}

/// What one Kafka record does to the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    PutProduct(ProductRow),
    DeleteProduct(String),
    PutRecommendations(RecommendationRow),
    DeleteRecommendations(String),
    /// The record could not be applied; it is named in `sink_rejects` and skipped.
    Reject(String),
}

/// A record's change with its position.
#[derive(Debug, Clone)]
pub struct Positioned {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub change: Change,
}

fn ts(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Apply a batch and advance the offsets in one transaction: after a crash either both are in
/// the store or neither is, so the next start resumes exactly after the last applied record.
pub async fn apply(store: &Store, batch: &[Positioned]) -> Result<(), StoreError> {
    let mut tx = store.pool.begin().await.map_err(q("begin"))?;
    let mut next: std::collections::BTreeMap<(&str, i32), i64> = Default::default();
    for record in batch {
        apply_one(&mut tx, record).await?;
        next.insert((&record.topic, record.partition), record.offset + 1);
    }
    for ((topic, partition), offset) in next {
        sqlx::query(
            "INSERT INTO sink_offsets (topic, partition, next_offset) VALUES ($1, $2, $3)
             ON CONFLICT (topic, partition)
             DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
        )
        .bind(topic)
        .bind(partition)
        .bind(offset)
        .execute(&mut *tx)
        .await
        .map_err(q("advance sink offsets"))?;
    }
    tx.commit().await.map_err(q("commit"))
}

async fn apply_one(
    tx: &mut Transaction<'_, Postgres>,
    record: &Positioned,
) -> Result<(), StoreError> {
    match &record.change {
        Change::PutProduct(p) => sqlx::query(
            "INSERT INTO products (product_id, name, brand, category, description, tags,
                 price_cents, currency, available, reserved, store_id, updated_at,
                 source_partition, source_offset)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (product_id) DO UPDATE SET
                 name = EXCLUDED.name, brand = EXCLUDED.brand, category = EXCLUDED.category,
                 description = EXCLUDED.description, tags = EXCLUDED.tags,
                 price_cents = EXCLUDED.price_cents, currency = EXCLUDED.currency,
                 available = EXCLUDED.available, reserved = EXCLUDED.reserved,
                 store_id = EXCLUDED.store_id, updated_at = EXCLUDED.updated_at,
                 source_partition = EXCLUDED.source_partition,
                 source_offset = EXCLUDED.source_offset",
        )
        .bind(&p.product_id)
        .bind(&p.name)
        .bind(&p.brand)
        .bind(&p.category)
        .bind(&p.description)
        .bind(&p.tags)
        .bind(p.price_cents)
        .bind(&p.currency)
        .bind(p.available)
        .bind(p.reserved)
        .bind(&p.store_id)
        .bind(ts(p.updated_at_ms))
        .bind(record.partition)
        .bind(record.offset)
        .execute(&mut **tx)
        .await
        .map_err(q("upsert product"))?,
        Change::DeleteProduct(id) => sqlx::query("DELETE FROM products WHERE product_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(q("delete product"))?,
        Change::PutRecommendations(r) => sqlx::query(
            "INSERT INTO recommendations (user_id, run_id, model, generated_at, items)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET run_id = EXCLUDED.run_id,
                 model = EXCLUDED.model, generated_at = EXCLUDED.generated_at,
                 items = EXCLUDED.items",
        )
        .bind(&r.user_id)
        .bind(&r.run_id)
        .bind(&r.model)
        .bind(ts(r.generated_at_ms))
        .bind(&r.items)
        .execute(&mut **tx)
        .await
        .map_err(q("upsert recommendations"))?,
        Change::DeleteRecommendations(user) => {
            sqlx::query("DELETE FROM recommendations WHERE user_id = $1")
                .bind(user)
                .execute(&mut **tx)
                .await
                .map_err(q("delete recommendations"))?
        }
        Change::Reject(error) => sqlx::query(
            "INSERT INTO sink_rejects (topic, partition, \"offset\", error) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(&record.topic)
        .bind(record.partition)
        .bind(record.offset)
        .bind(error)
        .execute(&mut **tx)
        .await
        .map_err(q("record a rejected record"))?,
    };
    Ok(())
}
