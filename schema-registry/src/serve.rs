//! The server's spine: [`run`], from start to graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use prometheus_client::registry::Registry as MetricsRegistry;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::{Database, ServeConfig};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::{MemoryStore, PostgresStore, Store, StoreError};
use crate::tls::{self, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot reach PostgreSQL: {0}")]
    Database(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Metrics(#[from] vygoda_common::metrics::MetricsError),
    #[error(
        "cannot listen on {addr}: {source}; is another registry running? pick another --listen"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTPS server failed: {0}")]
    Serve(std::io::Error),
}

impl ServeError {
    pub fn exit_code(&self) -> i32 {
        use vygoda_common::exit;
        match self {
            ServeError::Database(_) => exit::UNAVAILABLE,
            ServeError::Tls(_) | ServeError::Metrics(_) | ServeError::Bind { .. } => exit::USAGE,
            ServeError::Serve(_) => exit::FAILED,
        }
    }
}

/// Where a started server listens (sent once it accepts connections).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub api: SocketAddr,
    pub metrics: SocketAddr,
}

/// Serve until `stop` is cancelled, then let in-flight requests finish (up to the grace
/// period) and return. `ready` receives the bound addresses once connections are accepted.
pub async fn run(
    config: ServeConfig,
    stop: CancellationToken,
    ready: Option<oneshot::Sender<Bound>>,
) -> Result<(), ServeError> {
    // Storage first: without it nothing can be answered, and a bad URL must fail the start,
    // not the first request. PostgreSQL tables are created here if missing.
    match &config.database {
        Database::Postgres(options) => {
            let store = PostgresStore::connect((**options).clone(), config.db_connections).await?;
            tracing::info!(pool = config.db_connections, "connected to PostgreSQL");
            serve_with(store, config, stop, ready).await
        }
        Database::Memory => {
            tracing::warn!("in-memory store: every schema is lost on exit");
            serve_with(MemoryStore::new(), config, stop, ready).await
        }
    }
}

async fn serve_with<S: Store>(
    store: S,
    config: ServeConfig,
    stop: CancellationToken,
    ready: Option<oneshot::Sender<Bound>>,
) -> Result<(), ServeError> {
    // TLS identity: read before binding so a wrong path fails before the port is taken.
    let tls = RustlsConfig::from_config(Arc::new(tls::server_config(
        &config.tls_cert,
        &config.tls_key,
        Some(&config.client_ca),
    )?));

    // Metrics on their own plain-HTTP port, stopped by the same token.
    let mut metrics_registry = MetricsRegistry::default();
    let metrics = Metrics::new(&mut metrics_registry);
    let metrics_addr =
        vygoda_common::metrics::serve(config.metrics_addr, metrics_registry, stop.clone()).await?;

    let state = Arc::new(AppState {
        registry: Registry::new(store, metrics.clone()),
        policy: config.policy.clone(),
        metrics,
    });
    let app = api::router(state);

    let (listener, api_addr) =
        vygoda_common::tls::bind(config.listen).map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let handle = axum_server::Handle::new();
    // Each connection's requests carry the caller its client certificate names.
    let server = axum_server::from_tcp(listener)
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?
        .acceptor(tls::IdentifyingAcceptor::new(tls))
        .handle(handle.clone());

    // On SIGTERM/SIGINT: stop accepting, give in-flight requests the grace period. Each
    // registration is a single transaction, so a cut-off request leaves nothing half-written.
    vygoda_common::tls::shutdown_on(stop.clone(), handle.clone(), config.shutdown_grace);

    let serving = tokio::spawn(server.serve(app.into_make_service()));
    if handle.listening().await.is_some() {
        tracing::info!(addr = %api_addr, "serving the schema registry over HTTPS (client certificates required)");
        if let Some(ready) = ready {
            let _ = ready.send(Bound {
                api: api_addr,
                metrics: metrics_addr,
            });
        }
    }
    let result = serving
        .await
        .map_err(|e| ServeError::Serve(std::io::Error::other(e.to_string())))?;
    // The server may also end on its own (an accept error): stop the metrics endpoint too.
    stop.cancel();
    result.map_err(ServeError::Serve)?;
    tracing::info!("schema registry stopped");
    Ok(())
}
