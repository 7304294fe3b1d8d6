//! A PostgreSQL pool whose schema is applied at connect, for the services that keep state in
//! the platform's PostgreSQL (jobs run history, the CLIENT API's store).

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

/// Why [`connect_with_schema`] failed: the server could not be reached, or it refused the schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot connect: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("applying the schema failed: {0}")]
    Apply(#[source] sqlx::Error),
}

/// Connect (`max` connections, `timeout` to get one) and run `schema`, an idempotent script
/// (`CREATE … IF NOT EXISTS`), in one transaction under the advisory lock `(lock_ns, 0)`, so
/// concurrent first starts of several processes serialise instead of racing on the catalog.
pub async fn connect_with_schema(
    url: &str,
    max: u32,
    timeout: Duration,
    lock_ns: i32,
    schema: &str,
) -> Result<PgPool, SchemaError> {
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(timeout)
        .connect(url)
        .await
        .map_err(SchemaError::Connect)?;
    // Already applied: skip the DDL. `ALTER TABLE … IF NOT EXISTS` takes an ACCESS EXCLUSIVE
    // lock even when there is nothing to do, and queued behind a running transaction that
    // then needs a row lock it deadlocks with it (seen between concurrent driver tests).
    let applied: Option<bool> =
        sqlx::query_scalar("SELECT digest = md5($2) FROM vygoda_schema WHERE lock_ns = $1")
            .bind(lock_ns)
            .bind(schema)
            .fetch_optional(&pool)
            .await
            .ok()
            .flatten();
    if applied == Some(true) {
        return Ok(pool);
    }
    let mut tx = pool.begin().await.map_err(SchemaError::Connect)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
        .bind(lock_ns)
        .execute(&mut *tx)
        .await
        .map_err(SchemaError::Apply)?;
    // "already exists, skipping" notices on every start are noise, not news.
    sqlx::raw_sql("SET LOCAL client_min_messages = warning")
        .execute(&mut *tx)
        .await
        .map_err(SchemaError::Apply)?;
    sqlx::raw_sql(schema)
        .execute(&mut *tx)
        .await
        .map_err(SchemaError::Apply)?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS vygoda_schema (lock_ns integer PRIMARY KEY, digest text NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(SchemaError::Apply)?;
    sqlx::query(
        "INSERT INTO vygoda_schema (lock_ns, digest) VALUES ($1, md5($2))
         ON CONFLICT (lock_ns) DO UPDATE SET digest = EXCLUDED.digest",
    )
    .bind(lock_ns)
    .bind(schema)
    .execute(&mut *tx)
    .await
    .map_err(SchemaError::Apply)?;
    tx.commit().await.map_err(SchemaError::Apply)?;
    Ok(pool)
}
