//! `client-api serve`: the CLIENT API as an HTTPS JSON service ([`http`]), with `/metrics`
//! ([`metrics`]) and a relay that sends recorded request events to Kafka.
//!
//! Guarantees are the command line's: every answered request is recorded (row and outbox event
//! in one transaction) and its event reaches Kafka at least once ([`crate::record`]). The relay
//! here is one long-lived producer, woken by each recorded request and by a timer, so events
//! left by a Kafka outage leave as soon as the brokers are back.

mod http;
pub mod metrics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use prometheus_client::registry::Registry as MetricsRegistry;
use tokio::sync::{oneshot, Notify};
use tokio_util::sync::CancellationToken;
use vygoda_common::tls::TlsError;

use crate::record::{RelayConfig, Relayer};
use crate::store::{Store, StoreError};
use metrics::{Metrics, OutcomeLabels};

/// Flags of `client-api serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address of the HTTPS API.
    #[arg(
        long,
        env = "VYGODA_CLIENT_API_LISTEN",
        default_value = "127.0.0.1:18443"
    )]
    pub listen: String,
    /// PEM certificate chain of the server (leaf first).
    #[arg(
        long,
        env = "VYGODA_CLIENT_API_TLS_CERT",
        default_value = ".vygoda/tls/client-api.pem"
    )]
    pub tls_cert: PathBuf,
    /// PEM private key of the server certificate.
    #[arg(
        long,
        env = "VYGODA_CLIENT_API_TLS_KEY",
        default_value = ".vygoda/tls/client-api.key"
    )]
    pub tls_key: PathBuf,
    /// PEM CA whose certificates callers must present (mutual TLS, as the registry); `none`:
    /// server TLS only, any caller (an endpoint for the public behind the marketplace's gateway).
    #[arg(
        long,
        env = "VYGODA_CLIENT_API_CLIENT_CA",
        default_value = ".vygoda/tls/ca.pem"
    )]
    pub client_ca: String,
    /// Address of the plain-HTTP Prometheus /metrics endpoint.
    #[arg(long, env = "VYGODA_METRICS_ADDR", default_value = "127.0.0.1:9107")]
    pub metrics_addr: String,
    /// Connections to the store (concurrent requests beyond it wait for one).
    #[arg(long, env = "VYGODA_STORE_CONNECTIONS", default_value_t = 16)]
    pub store_connections: u32,
    /// How often pending request events are retried when no request wakes the relay (ms).
    #[arg(long, env = "VYGODA_RELAY_EVERY_MS", default_value_t = 1000)]
    pub relay_every_ms: u64,
    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "VYGODA_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

/// Validated settings of `serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub client_ca: Option<PathBuf>,
    pub metrics_addr: SocketAddr,
    pub store_connections: u32,
    pub relay_every: Duration,
    pub shutdown_grace: Duration,
}

impl ServeArgs {
    /// Check the flags; the message names the flag.
    pub fn validate(&self) -> Result<ServeConfig, String> {
        let address = |flag: &str, v: &str| {
            v.parse::<SocketAddr>()
                .map_err(|e| format!("--{flag} {v}: {e}; give host:port"))
        };
        if self.store_connections == 0 {
            return Err("--store-connections 0: at least one is needed".into());
        }
        Ok(ServeConfig {
            listen: address("listen", &self.listen)?,
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            client_ca: match self.client_ca.trim() {
                "none" => None,
                ca => Some(PathBuf::from(ca)),
            },
            metrics_addr: address("metrics-addr", &self.metrics_addr)?,
            store_connections: self.store_connections,
            relay_every: Duration::from_millis(self.relay_every_ms.max(10)),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Metrics(#[from] vygoda_common::metrics::MetricsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cannot listen on {addr}: {source}; is another CLIENT API running? pick another --listen"
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
            ServeError::Store(e) if e.is_unavailable() => exit::UNAVAILABLE,
            ServeError::Tls(_) | ServeError::Metrics(_) | ServeError::Bind { .. } => exit::USAGE,
            ServeError::Store(_) | ServeError::Serve(_) => exit::FAILED,
        }
    }
}

/// Where a started server listens (sent once it accepts connections).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub api: SocketAddr,
    pub metrics: SocketAddr,
}

/// The service's spine: serve until `stop` (SIGTERM/SIGINT), let in-flight requests finish,
/// send what the outbox holds, return.
pub async fn run(
    store_url: String,
    store_timeout: Duration,
    relay: RelayConfig,
    config: ServeConfig,
    stop: CancellationToken,
    ready: Option<oneshot::Sender<Bound>>,
) -> Result<(), ServeError> {
    // 1. TLS identity, read before anything binds: a wrong path fails the start.
    let tls = vygoda_common::tls::server_config(
        &config.tls_cert,
        &config.tls_key,
        config.client_ca.as_deref(),
    )?;
    let tls = RustlsConfig::from_config(Arc::new(tls));

    // 2. Metrics, so a start that hangs is visible.
    let mut registry = MetricsRegistry::default();
    let metrics = Metrics::register(&mut registry);
    let metrics_addr =
        vygoda_common::metrics::serve(config.metrics_addr, registry, stop.clone()).await?;

    // 3. The store (schema applied): without it nothing can be answered.
    let store = Store::connect_with(&store_url, store_timeout, config.store_connections).await?;

    // 4. The relay, until the server has drained (so the last requests' events go too).
    let relay_wake = Arc::new(Notify::new());
    let drained = CancellationToken::new();
    let relaying = tokio::spawn(relay_loop(
        store.clone(),
        relay,
        relay_wake.clone(),
        metrics.clone(),
        config.relay_every,
        drained.clone(),
    ));

    // 5. HTTPS until stopped; then in-flight requests get the grace period.
    let bind = |source| ServeError::Bind {
        addr: config.listen,
        source,
    };
    let (listener, api_addr) = vygoda_common::tls::bind(config.listen).map_err(bind)?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .map_err(bind)?
        .handle(handle.clone());
    vygoda_common::tls::shutdown_on(stop.clone(), handle.clone(), config.shutdown_grace);
    let app = http::router(Arc::new(http::AppState {
        store,
        metrics,
        relay_wake,
    }));
    let serving = tokio::spawn(server.serve(app.into_make_service()));
    if handle.listening().await.is_some() {
        tracing::info!(addr = %api_addr, mutual_tls = config.client_ca.is_some(), "CLIENT API serving over HTTPS");
        if let Some(ready) = ready {
            let _ = ready.send(Bound {
                api: api_addr,
                metrics: metrics_addr,
            });
        }
    }
    let served = serving
        .await
        .map_err(|e| ServeError::Serve(std::io::Error::other(e.to_string())));
    // The server may also end on its own (an accept error): stop the metrics endpoint too.
    stop.cancel();

    // 6. Last relay pass, then exit.
    drained.cancel();
    let _ = relaying.await;
    served?.map_err(ServeError::Serve)?;
    tracing::info!("CLIENT API stopped");
    Ok(())
}

/// Send pending request events whenever a request is recorded or `every` passes; one last
/// pass after `drained`. The registry and Kafka may be down at start or later: the relay keeps
/// trying, and the events wait in the outbox.
async fn relay_loop(
    store: Store,
    config: RelayConfig,
    wake: Arc<Notify>,
    metrics: Metrics,
    every: Duration,
    drained: CancellationToken,
) {
    let mut relayer: Option<Relayer> = None;
    loop {
        let last = tokio::select! {
            _ = drained.cancelled() => true,
            _ = wake.notified() => false,
            _ = tokio::time::sleep(every) => false,
        };
        if relayer.is_none() {
            match Relayer::connect(&config).await {
                Ok(r) => relayer = Some(r),
                Err(error) => {
                    tracing::warn!(%error, "cannot send request events yet; they wait in the outbox")
                }
            }
        }
        if let Some(r) = &relayer {
            match r.pass(&store, 1000).await {
                Ok(done) => {
                    let count = |outcome, n| {
                        metrics
                            .relayed
                            .get_or_create(&OutcomeLabels { outcome })
                            .inc_by(n);
                    };
                    count("sent", done.sent);
                    count("failed", done.failed);
                    metrics
                        .outbox_pending
                        .set(i64::try_from(done.pending).unwrap_or(i64::MAX));
                    // More than one pass holds: go again without waiting for a wake.
                    if done.sent > 0 && done.pending > 0 && !last {
                        wake.notify_one();
                    }
                }
                Err(error) => tracing::warn!(%error, "relay pass failed; events stay pending"),
            }
        }
        if last {
            return;
        }
    }
}
