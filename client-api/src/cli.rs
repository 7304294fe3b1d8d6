//! The `client-api` command line: flags validated into a [`Config`], and the command's
//! [`run`] spine (answer, record, print, relay).

use std::time::Duration;

use vygoda_avro::registry::RegistryArgs;
use vygoda_common::exit;
use vygoda_common::kafka::PlatformArgs;

use crate::answer::{self, Ask, Invalid, SearchParams};
use crate::output;
use crate::record::{self, RelayConfig};
use crate::serve::{ServeArgs, ServeConfig, ServeError};
use crate::store::{Store, StoreError};

/// CLIENT API: search products, look one up, get a user's recommendations. Every request is
/// recorded in the store and, as a client event, in Kafka.
#[derive(Debug, clap::Parser)]
#[command(name = "client-api", version)]
pub struct Cli {
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// PostgreSQL URL of the store; empty = `store_url` of the platform file.
    #[arg(long, env = "VYGODA_STORE_URL", default_value = "")]
    pub store_url: String,
    /// Kafka cluster that receives the request events.
    #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
    pub cluster: String,
    /// Principal for Kafka and the registry.
    #[arg(long, env = "VYGODA_PRINCIPAL", default_value = "client-api")]
    pub principal: String,
    /// Topic of the request events.
    #[arg(long, env = "VYGODA_EVENTS_TOPIC", default_value = "client-events")]
    pub events_topic: String,
    /// The client's session id; empty = a new session for this invocation.
    #[arg(long, env = "VYGODA_SESSION", default_value = "")]
    pub session: String,
    /// How long the store may take to answer before the command gives up (seconds).
    #[arg(long, env = "VYGODA_STORE_TIMEOUT_SECS", default_value_t = 5)]
    pub store_timeout_secs: u64,
    /// How long sending the request's event may wait for the brokers (seconds); an event not
    /// sent stays in the store's outbox and goes with a later request or `client-api relay`.
    #[arg(long, env = "VYGODA_RECORD_TIMEOUT_SECS", default_value_t = 10)]
    pub record_timeout_secs: u64,
    /// JSON for scripts instead of text for people.
    #[arg(long, global = true, env = "VYGODA_JSON", default_value_t = false)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Find products by name, brand, category, tags or description (Russian morphology, typos).
    Search {
        /// What to look for.
        text: String,
        /// Only this category (exact name).
        #[arg(long, env = "VYGODA_CATEGORY", default_value = "")]
        category: String,
        /// Only this brand (any case).
        #[arg(long, env = "VYGODA_BRAND", default_value = "")]
        brand: String,
        /// Lowest price, e.g. 100 or 99.90.
        #[arg(long, env = "VYGODA_MIN_PRICE", default_value = "")]
        min_price: String,
        /// Highest price, e.g. 5000.
        #[arg(long, env = "VYGODA_MAX_PRICE", default_value = "")]
        max_price: String,
        /// Only products in stock.
        #[arg(long, env = "VYGODA_IN_STOCK", default_value_t = false)]
        in_stock: bool,
        /// How many results at most.
        #[arg(long, env = "VYGODA_LIMIT", default_value_t = 10)]
        limit: i64,
        /// Who asks (recorded with the request).
        #[arg(long, env = "VYGODA_USER", default_value = "anonymous")]
        user: String,
    },
    /// Show one product; a banned, delisted or unknown one is not found (exit 4).
    Product {
        /// The product id.
        product_id: String,
        /// Who asks (recorded as a view).
        #[arg(long, env = "VYGODA_USER", default_value = "anonymous")]
        user: String,
    },
    /// A user's recommendations from the latest published run (popular products otherwise).
    Recommend {
        /// The user.
        #[arg(long, env = "VYGODA_USER", default_value = "")]
        user: String,
        /// How many items at most.
        #[arg(long, env = "VYGODA_LIMIT", default_value_t = 10)]
        limit: i64,
    },
    /// Serve search, product and recommend as an HTTPS JSON API, with /metrics.
    Serve(ServeArgs),
    /// Send recorded request events that have not reached Kafka yet (after an outage).
    Relay {
        /// How many events at most in this pass.
        #[arg(long, env = "VYGODA_RELAY_LIMIT", default_value_t = 10_000)]
        limit: i64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sending recorded events failed: {0}")]
    Relay(#[from] record::RelayError),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

impl From<Invalid> for ApiError {
    fn from(Invalid(why): Invalid) -> Self {
        ApiError::Usage(why)
    }
}

impl ApiError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ApiError::Usage(_) => exit::USAGE,
            ApiError::Store(e) if e.is_unavailable() => exit::UNAVAILABLE,
            ApiError::Relay(_) => exit::UNAVAILABLE,
            ApiError::Store(_) => exit::FAILED,
            ApiError::Serve(e) => e.exit_code(),
        }
    }
}

/// What the command does.
#[derive(Debug, Clone)]
pub enum Action {
    Ask(Ask),
    Serve(ServeConfig),
    Relay { limit: i64 },
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub store_url: String,
    pub store_timeout: Duration,
    pub relay: RelayConfig,
    pub session: String,
    pub json: bool,
    pub action: Action,
}

impl Cli {
    pub fn into_config(self) -> Result<Config, ApiError> {
        let usage = |e: &dyn std::fmt::Display| ApiError::Usage(e.to_string());
        let (kafka, registry) = self
            .registry
            .connect_as(&self.platform, &self.cluster, &self.principal)
            .map_err(|e| usage(&e))?;
        let platform = self.platform.platform().map_err(|e| usage(&e))?;
        let store_url = if self.store_url.trim().is_empty() {
            platform.and_then(|p| p.store_url).ok_or_else(|| {
                ApiError::Usage(
                    "no --store-url and no store_url in the platform file; run `make up`".into(),
                )
            })?
        } else {
            self.store_url.trim().to_owned()
        };
        let action = match self.command {
            Command::Search {
                text,
                category,
                brand,
                min_price,
                max_price,
                in_stock,
                limit,
                user,
            } => Action::Ask(Ask::search(SearchParams {
                text,
                category,
                brand,
                min_price,
                max_price,
                in_stock,
                limit,
                user,
            })?),
            Command::Product { product_id, user } => Action::Ask(Ask::product(&product_id, &user)?),
            Command::Recommend { user, limit } => Action::Ask(Ask::recommend(&user, limit)?),
            Command::Serve(args) => Action::Serve(args.validate().map_err(ApiError::Usage)?),
            Command::Relay { limit } => Action::Relay { limit },
        };
        Ok(Config {
            store_url,
            store_timeout: Duration::from_secs(self.store_timeout_secs.max(1)),
            relay: RelayConfig {
                kafka,
                cluster: self.cluster,
                principal: self.principal,
                registry,
                topic: self.events_topic,
                timeout: Duration::from_secs(self.record_timeout_secs.max(1)),
            },
            session: if self.session.trim().is_empty() {
                uuid::Uuid::new_v4().to_string()
            } else {
                self.session
            },
            json: self.json,
            action,
        })
    }
}

/// The command's spine: answer from the store, record the request (row and outbox event in one
/// transaction), print, then send pending events to Kafka. A Kafka outage costs the answer
/// nothing: the event stays in the outbox. `serve` runs [`crate::serve::run`] until SIGTERM.
/// Returns the exit code.
pub async fn run(config: Config) -> Result<i32, ApiError> {
    let ask = match config.action {
        Action::Serve(serve) => {
            let stop = vygoda_common::shutdown::on_signal();
            crate::serve::run(
                config.store_url,
                config.store_timeout,
                config.relay,
                serve,
                stop,
                None,
            )
            .await?;
            return Ok(exit::OK);
        }
        Action::Relay { limit } => {
            let store = Store::connect(&config.store_url, config.store_timeout).await?;
            let done = record::relay(&store, &config.relay, limit).await?;
            output::relayed(&done, config.json);
            return Ok(if done.failed > 0 {
                exit::UNAVAILABLE
            } else {
                exit::OK
            });
        }
        Action::Ask(ask) => ask,
    };
    let store = Store::connect(&config.store_url, config.store_timeout).await?;
    let answer = answer::answer(&store, ask, &config.session).await?;
    output::answer(&answer.body, config.json);
    record::record(&store, &answer.request).await?;
    // This request's event and any left by earlier ones; a failure leaves them pending.
    match record::relay(&store, &config.relay, 1000).await {
        Ok(done) if done.pending > 0 => tracing::warn!(
            pending = done.pending,
            "some request events are not in Kafka yet; `client-api relay` sends them"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "request events not sent; they stay in the outbox"),
    }
    Ok(if answer.body.found() {
        exit::OK
    } else {
        exit::NOT_FOUND
    })
}
