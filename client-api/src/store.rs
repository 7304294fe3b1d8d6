//! The PostgreSQL store: connection, schema, and the writes of the store sink. Reads live in
//! [`crate::query`], request records in [`crate::record`].

use std::collections::BTreeMap;
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
    // Only the last change of a key matters (a put or a delete replaces whatever was there), so
    // the batch becomes one delete and one multi-row upsert per table: a round trip per record
    // held the sink to ~1,600 rows/s.
    let mut products: BTreeMap<&str, &Positioned> = BTreeMap::new();
    let mut recommendations: BTreeMap<&str, &Positioned> = BTreeMap::new();
    for record in batch {
        match &record.change {
            Change::PutProduct(p) => {
                products.insert(&p.product_id, record);
            }
            Change::DeleteProduct(id) => {
                products.insert(id, record);
            }
            Change::PutRecommendations(r) => {
                recommendations.insert(&r.user_id, record);
            }
            Change::DeleteRecommendations(user) => {
                recommendations.insert(user, record);
            }
            Change::Reject(_) => apply_one(&mut tx, record).await?,
        }
        next.insert((&record.topic, record.partition), record.offset + 1);
    }
    put_products(&mut tx, products.values().copied()).await?;
    for record in recommendations.values() {
        apply_one(&mut tx, record).await?;
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

/// The last change of each product of a batch: one `DELETE … = ANY` and one upsert of
/// `UNNEST`ed columns.
async fn put_products<'a>(
    tx: &mut Transaction<'_, Postgres>,
    last: impl Iterator<Item = &'a Positioned>,
) -> Result<(), StoreError> {
    let mut deleted: Vec<&str> = Vec::new();
    let mut rows = ProductColumns::default();
    for record in last {
        match &record.change {
            Change::PutProduct(p) => rows.push(p, record),
            Change::DeleteProduct(id) => deleted.push(id),
            _ => {}
        }
    }
    if !deleted.is_empty() {
        sqlx::query("DELETE FROM products WHERE product_id = ANY($1)")
            .bind(&deleted)
            .execute(&mut **tx)
            .await
            .map_err(q("delete products"))?;
    }
    if rows.product_id.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO products (product_id, name, brand, category, description, tags,
             price_cents, currency, available, reserved, store_id, updated_at,
             source_partition, source_offset)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
             $6::text[], $7::bigint[], $8::text[], $9::integer[], $10::integer[], $11::text[],
             $12::timestamptz[], $13::integer[], $14::bigint[])
         ON CONFLICT (product_id) DO UPDATE SET
             name = EXCLUDED.name, brand = EXCLUDED.brand, category = EXCLUDED.category,
             description = EXCLUDED.description, tags = EXCLUDED.tags,
             price_cents = EXCLUDED.price_cents, currency = EXCLUDED.currency,
             available = EXCLUDED.available, reserved = EXCLUDED.reserved,
             store_id = EXCLUDED.store_id, updated_at = EXCLUDED.updated_at,
             source_partition = EXCLUDED.source_partition,
             source_offset = EXCLUDED.source_offset",
    )
    .bind(&rows.product_id)
    .bind(&rows.name)
    .bind(&rows.brand)
    .bind(&rows.category)
    .bind(&rows.description)
    .bind(&rows.tags)
    .bind(&rows.price_cents)
    .bind(&rows.currency)
    .bind(&rows.available)
    .bind(&rows.reserved)
    .bind(&rows.store_id)
    .bind(&rows.updated_at)
    .bind(&rows.source_partition)
    .bind(&rows.source_offset)
    .execute(&mut **tx)
    .await
    .map_err(q("upsert products"))?;
    Ok(())
}

/// Products as columns, for `UNNEST`.
#[derive(Default)]
struct ProductColumns<'a> {
    product_id: Vec<&'a str>,
    name: Vec<&'a str>,
    brand: Vec<Option<&'a str>>,
    category: Vec<&'a str>,
    description: Vec<Option<&'a str>>,
    tags: Vec<&'a str>,
    price_cents: Vec<i64>,
    currency: Vec<&'a str>,
    available: Vec<i32>,
    reserved: Vec<Option<i32>>,
    store_id: Vec<&'a str>,
    updated_at: Vec<chrono::DateTime<chrono::Utc>>,
    source_partition: Vec<i32>,
    source_offset: Vec<i64>,
}

impl<'a> ProductColumns<'a> {
    fn push(&mut self, p: &'a ProductRow, at: &Positioned) {
        self.product_id.push(&p.product_id);
        self.name.push(&p.name);
        self.brand.push(p.brand.as_deref());
        self.category.push(&p.category);
        self.description.push(p.description.as_deref());
        self.tags.push(&p.tags);
        self.price_cents.push(p.price_cents);
        self.currency.push(&p.currency);
        self.available.push(p.available);
        self.reserved.push(p.reserved);
        self.store_id.push(&p.store_id);
        self.updated_at.push(ts(p.updated_at_ms));
        self.source_partition.push(at.partition);
        self.source_offset.push(at.offset);
    }
}

async fn apply_one(
    tx: &mut Transaction<'_, Postgres>,
    record: &Positioned,
) -> Result<(), StoreError> {
    match &record.change {
        // Products go in bulk (`put_products`).
        Change::PutProduct(_) | Change::DeleteProduct(_) => return Ok(()),
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
