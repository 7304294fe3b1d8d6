//! Every CLIENT API request is recorded twice: a row in `requests`, and a client-events record
//! for Kafka (analytics: mirrored, in the lake, read by the next Spark run).
//!
//! Guarantee: a request's event reaches Kafka at least once, even when Kafka is down while the
//! request is answered. The row and its event are written to PostgreSQL in one transaction (the
//! outbox, `event_outbox`); [`relay`] sends pending events and marks them sent only after the
//! brokers acknowledged them (acks=all, idempotent producer). A crash between the ack and the
//! mark sends the event again: readers deduplicate on `event_id`, which is the request id.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;
use vygoda_avro::registry::{Registry, RegistryConfig, RegistryError};
use vygoda_avro::schemas;
use vygoda_avro::wire::Encoder;
use vygoda_ingest::event::ClientEvent;
use vygoda_ingest::kafka_io::{self, KafkaIoError};

use crate::store::{q, Store, StoreError};

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Search,
    Product,
    Recommend,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Search => "search",
            Kind::Product => "product",
            Kind::Recommend => "recommend",
        }
    }

    /// The client-events type the request becomes: a product look-up is a `view`.
    pub fn event_type(self) -> &'static str {
        match self {
            Kind::Search => "search",
            Kind::Product => "view",
            Kind::Recommend => "recommend",
        }
    }
}

/// One answered request.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: Kind,
    pub user_id: String,
    pub session_id: String,
    pub query: Option<String>,
    pub product_id: Option<String>,
    pub filters: serde_json::Value,
    pub result_count: Option<i32>,
    /// `ok`, `not_found`, `fallback`.
    pub outcome: &'static str,
    pub latency: Duration,
}

/// Write the request row and its pending event together; the request id is the event id.
pub async fn record(store: &Store, r: &Request) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let mut tx = store.pool.begin().await.map_err(q("begin record"))?;
    sqlx::query(
        "INSERT INTO requests (request_id, at, kind, user_id, session_id, query, product_id,
             filters, result_count, outcome, latency_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(now)
    .bind(r.kind.as_str())
    .bind(&r.user_id)
    .bind(&r.session_id)
    .bind(&r.query)
    .bind(&r.product_id)
    .bind(&r.filters)
    .bind(r.result_count)
    .bind(r.outcome)
    .bind(r.latency.as_secs_f64() * 1000.0)
    .execute(&mut *tx)
    .await
    .map_err(q("record request"))?;
    sqlx::query(
        "INSERT INTO event_outbox (event_id, user_id, session_id, event_type, product_id, query,
             result_count, ts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&r.user_id)
    .bind(&r.session_id)
    .bind(r.kind.event_type())
    .bind(&r.product_id)
    .bind(&r.query)
    .bind(r.result_count)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(q("queue event"))?;
    tx.commit().await.map_err(q("commit record"))?;
    Ok(id)
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Where events go.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub kafka: BTreeMap<String, String>,
    pub cluster: String,
    pub principal: String,
    pub registry: RegistryConfig,
    pub topic: String,
    /// How long one send may wait for the brokers before the event stays pending.
    pub timeout: Duration,
}

/// What the CLIENT API does on Kafka: write its request events.
pub fn declared_access(c: &RelayConfig) -> Vec<vygoda_common::access::Access> {
    use vygoda_common::access::{Access, Operation};
    Access::topic(
        &c.principal,
        &c.cluster,
        &c.topic,
        &[Operation::Write, Operation::Describe],
    )
}

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Relayed {
    pub sent: u64,
    pub failed: u64,
    /// Still pending after the pass (failed ones included).
    pub pending: u64,
}

/// A long-lived sender of recorded events: the registered encoder and one producer, made once
/// (`client-api serve` keeps one; a one-shot command makes one only when events are pending).
pub struct Relayer {
    topic: String,
    encoder: Encoder,
    producer: FutureProducer,
}

impl std::fmt::Debug for Relayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relayer")
            .field("topic", &self.topic)
            .finish()
    }
}

impl Relayer {
    /// Register the client-events schema (or find it) and create the producer.
    pub async fn connect(config: &RelayConfig) -> Result<Relayer, RelayError> {
        let sr = Arc::new(Registry::new(config.registry.clone())?);
        let encoder = Encoder::register(
            &sr,
            &schemas::value_subject(&config.topic),
            schemas::CLIENT_EVENTS,
            schemas::client_events(),
        )
        .await?;
        let timeout = config.timeout.as_millis().to_string();
        let producer: FutureProducer = kafka_io::producer(
            &config.kafka,
            &[
                ("message.timeout.ms", timeout.as_str()),
                ("linger.ms", "5"),
                // An unreachable cluster is reported once, by the caller, not by every broker
                // thread.
                ("log_level", "2"),
            ],
        )?;
        Ok(Relayer {
            topic: config.topic.clone(),
            encoder,
            producer,
        })
    }

    /// Send pending events (oldest first, up to `limit`) and mark the acknowledged ones sent.
    /// Concurrent relays skip each other's rows (`FOR UPDATE SKIP LOCKED`).
    pub async fn pass(&self, store: &Store, limit: i64) -> Result<Relayed, RelayError> {
        let mut tx = store.pool.begin().await.map_err(q("begin relay"))?;
        let rows = sqlx::query(
            "SELECT event_id, user_id, session_id, event_type, product_id, query, result_count, ts
             FROM event_outbox WHERE sent_at IS NULL
             ORDER BY ts LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("read pending events"))?;
        let mut done = Relayed::default();
        let mut sends = Vec::with_capacity(rows.len());
        for row in &rows {
            let (id, event) = event_of(row)?;
            // Validated and encoded against the registered schema before anything is sent.
            let payload = event.validate().map_err(|e| e.to_string()).and_then(|()| {
                self.encoder
                    .encode(event.to_avro())
                    .map_err(|e| e.to_string())
            });
            sends.push((id, event.user_id, payload));
        }
        let deliveries = sends.iter().map(|(_, user, payload)| async move {
            let payload = payload.as_ref().map_err(Clone::clone)?;
            let record = FutureRecord::to(&self.topic)
                .key(user.as_bytes())
                .payload(payload);
            self.producer
                .send(record, Duration::ZERO)
                .await
                .map(|_| ())
                .map_err(|(e, _)| e.to_string())
        });
        let outcomes = futures::future::join_all(deliveries).await;
        let mut sent: Vec<Uuid> = Vec::with_capacity(sends.len());
        for ((id, _, _), outcome) in sends.iter().zip(outcomes) {
            match outcome {
                Ok(()) => sent.push(*id),
                Err(error) => {
                    tracing::warn!(event_id = %id, %error, "event not sent; it stays pending");
                    sqlx::query("UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 WHERE event_id = $1")
                        .bind(id)
                        .bind(&error)
                        .execute(&mut *tx)
                        .await
                        .map_err(q("note a failed send"))?;
                    done.failed += 1;
                }
            }
        }
        // One statement for every acknowledged event of the pass.
        if !sent.is_empty() {
            sqlx::query("UPDATE event_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE event_id = ANY($1)")
                .bind(&sent)
                .execute(&mut *tx)
                .await
                .map_err(q("mark events sent"))?;
            done.sent = sent.len() as u64;
        }
        tx.commit().await.map_err(q("commit relay"))?;
        done.pending = pending(store).await?;
        Ok(done)
    }
}

/// The client event an outbox row holds, and its id.
fn event_of(row: &sqlx::postgres::PgRow) -> Result<(Uuid, ClientEvent), StoreError> {
    let id: Uuid = row.try_get("event_id").map_err(q("read event"))?;
    let ts: chrono::DateTime<chrono::Utc> = row.try_get("ts").map_err(q("read event"))?;
    let event = ClientEvent {
        event_id: id.to_string(),
        user_id: row.try_get("user_id").map_err(q("read event"))?,
        session_id: row.try_get("session_id").map_err(q("read event"))?,
        event_type: row.try_get("event_type").map_err(q("read event"))?,
        product_id: row.try_get("product_id").map_err(q("read event"))?,
        query: row.try_get("query").map_err(q("read event"))?,
        rating: None,
        result_count: row.try_get("result_count").map_err(q("read event"))?,
        ts: ts.timestamp_millis(),
    };
    Ok((id, event))
}

/// Events recorded and not yet acknowledged by the brokers.
pub async fn pending(store: &Store) -> Result<u64, StoreError> {
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM event_outbox WHERE sent_at IS NULL")
            .fetch_one(&store.pool)
            .await
            .map_err(q("count pending events"))?;
    Ok(pending.max(0) as u64)
}

/// One relay pass of a one-shot command: connects to the registry and Kafka only when events
/// are pending.
pub async fn relay(store: &Store, config: &RelayConfig, limit: i64) -> Result<Relayed, RelayError> {
    if pending(store).await? == 0 {
        return Ok(Relayed::default());
    }
    Relayer::connect(config).await?.pass(store, limit).await
}
