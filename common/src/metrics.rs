//! The `/metrics` endpoint every service exposes, in Prometheus text format.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::{encoding::text::encode, registry::Registry};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen for /metrics on {addr}: {source}; pick another --metrics-addr")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Buckets for a record's end-to-end delay (its Kafka timestamp to a stage's durable output):
/// 1 ms … ~35 min, doubling. One shape for every stage, so their panels compare directly.
pub fn delay_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 22))
}

/// Seconds from `timestamp_ms` (a Kafka record timestamp, Unix milliseconds) to `now_ms`,
/// never negative: a producer's clock ahead of ours reads as no delay rather than a bogus one.
pub fn delay_seconds(timestamp_ms: i64, now_ms: i64) -> f64 {
    (now_ms.saturating_sub(timestamp_ms)).max(0) as f64 / 1000.0
}

/// Now as Unix milliseconds, the unit of Kafka timestamps.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Serve `registry` on `addr` until `stop` is cancelled. Returns once the socket is bound, so a
/// port clash fails the service at start-up instead of silently losing its metrics.
pub async fn serve(
    addr: SocketAddr,
    registry: Registry,
    stop: CancellationToken,
) -> Result<SocketAddr, MetricsError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let app = router(Arc::new(registry));
    tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(error) = result {
            tracing::error!(%error, "metrics endpoint stopped");
        }
    });
    tracing::info!(addr = %bound, "serving /metrics");
    Ok(bound)
}

/// The router alone, for services that already run an HTTP server.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(registry)
}

async fn render(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let mut body = String::new();
    match encode(&mut body, &registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(error) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics failed: {error}"),
        )
            .into_response(),
    }
}
