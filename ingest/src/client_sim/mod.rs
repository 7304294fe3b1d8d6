//! Client activity simulator: realistic, seeded sessions over the filtered catalogue, written to
//! `client-events` (Avro, key = user_id, acks=all + idempotence) as principal `client-api`.
//!
//! The catalogue is read from `products-filtered` (what clients can actually see) as the
//! read-only `operator` principal, or from a file (`--catalogue FILE`, same formats as the SHOP
//! API). The model is in [`model`].

pub mod model;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use vygoda_common::access::{Access, Operation};
use vygoda_common::exit;
use vygoda_common::kafka::PlatformArgs;

use crate::event::ClientEvent;
use crate::kafka_io::{self, KafkaIoError};
use crate::product::{self, Product};
pub use model::{Item, Params, Simulation, Truth};
use vygoda_avro::registry::{Registry, RegistryArgs, RegistryConfig, RegistryError};
use vygoda_avro::schemas;
use vygoda_avro::wire::{Decoder, Encoder};

/// Simulate client activity into client-events.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "client-sim", version)]
pub struct Args {
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub push: vygoda_common::push::PushArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Kafka cluster.
    #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
    pub cluster: String,
    /// Principal that writes the events.
    #[arg(long, env = "VYGODA_PRINCIPAL", default_value = "client-api")]
    pub principal: String,
    /// Events topic; value subject `<topic>-value`.
    #[arg(long, env = "VYGODA_EVENTS_TOPIC", default_value = "client-events")]
    pub topic: String,
    /// Catalogue file (JSON array or NDJSON); empty = read --catalogue-topic.
    #[arg(long, env = "VYGODA_CATALOGUE", default_value = "")]
    pub catalogue: String,
    /// Filtered catalogue topic, read to its high watermark when no --catalogue file is given.
    #[arg(
        long,
        env = "VYGODA_CATALOGUE_TOPIC",
        default_value = "products-filtered"
    )]
    pub catalogue_topic: String,
    /// Read-only principal used to read the catalogue topic.
    #[arg(long, env = "VYGODA_CATALOGUE_PRINCIPAL", default_value = "operator")]
    pub catalogue_principal: String,
    /// Group id used only to read the catalogue by assignment (never joined, nothing committed).
    #[arg(
        long,
        env = "VYGODA_CATALOGUE_GROUP",
        default_value = "operator-client-sim"
    )]
    pub catalogue_group: String,
    /// Number of users.
    #[arg(long, env = "VYGODA_USERS", default_value_t = 1000)]
    pub users: usize,
    /// Total number of events (at least users × (holdout + 5)).
    #[arg(long, env = "VYGODA_EVENTS", default_value_t = 100_000)]
    pub events: usize,
    /// Random seed: the same seed, catalogue and flags give the same events.
    #[arg(long, env = "VYGODA_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Start of the simulated period (RFC 3339).
    #[arg(long, env = "VYGODA_SIM_START", default_value = "2024-06-01T00:00:00Z")]
    pub start: String,
    /// Days of history before the split.
    #[arg(long, env = "VYGODA_TRAIN_DAYS", default_value_t = 28)]
    pub train_days: u32,
    /// Days after the split, holding each user's held-out events.
    #[arg(long, env = "VYGODA_TEST_DAYS", default_value_t = 2)]
    pub test_days: u32,
    /// Events per user at or after the split (the evaluation set).
    #[arg(long, env = "VYGODA_HOLDOUT", default_value_t = 5)]
    pub holdout: usize,
    /// Zipf exponent of product popularity.
    #[arg(long, env = "VYGODA_ZIPF", default_value_t = 1.05)]
    pub zipf: f64,
    /// Write the planted preferences (ground truth) as JSON lines to this file (empty = none).
    #[arg(long, env = "VYGODA_TRUTH", default_value = "")]
    pub truth: String,
    /// Seconds to wait for reads and acknowledgements.
    #[arg(long, env = "VYGODA_TIMEOUT_SECS", default_value_t = 60)]
    pub timeout_secs: u64,
}

#[derive(Debug, Clone)]
pub enum CatalogueSource {
    File(PathBuf),
    Topic {
        topic: String,
        principal: String,
        group: String,
        kafka: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Pushgateway for the run's outcome ([`vygoda_common::push`]); None: no push.
    pub push_to: Option<String>,
    pub kafka: BTreeMap<String, String>,
    pub cluster: String,
    pub principal: String,
    pub topic: String,
    pub registry: RegistryConfig,
    pub catalogue: CatalogueSource,
    pub params: Params,
    pub truth: Option<PathBuf>,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read the catalogue {path}: {source}")]
    Catalogue {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the catalogue has no valid product; publish some (shop-api) or pass --catalogue FILE"
    )]
    EmptyCatalogue,
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("event {index} is invalid: {reason}")]
    Invalid { index: usize, reason: String },
    #[error("{failed} of {total} events were not acknowledged (first: {first}); re-run: event ids are deterministic, readers deduplicate")]
    Delivery {
        failed: usize,
        total: usize,
        first: String,
    },
    #[error("cancelled after {sent} of {total} events")]
    Cancelled { sent: usize, total: usize },
    #[error("cannot write {path}: {source}")]
    Truth {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SimError {
    pub fn exit_code(&self) -> i32 {
        match self {
            SimError::Usage(_) | SimError::Catalogue { .. } => exit::USAGE,
            SimError::Cancelled { .. } => exit::CANCELLED,
            _ => exit::FAILED,
        }
    }
}

impl Args {
    pub fn into_config(self) -> Result<Config, SimError> {
        let usage = |e: &dyn std::fmt::Display| SimError::Usage(e.to_string());
        let (kafka, registry) = self
            .registry
            .connect_as(&self.platform, &self.cluster, &self.principal)
            .map_err(|e| usage(&e))?;
        let start_ms = chrono::DateTime::parse_from_rfc3339(&self.start)
            .map_err(|e| usage(&format!("--start: {e}")))?
            .timestamp_millis();
        if self.users == 0 {
            return Err(SimError::Usage("--users must be at least 1".into()));
        }
        if !(self.zipf > 0.0 && self.zipf < 5.0) {
            return Err(SimError::Usage("--zipf must be in (0, 5)".into()));
        }
        let catalogue = if self.catalogue.is_empty() {
            let kafka = self
                .platform
                .kafka_props(&self.cluster, &self.catalogue_principal)
                .map_err(|e| usage(&e))?;
            CatalogueSource::Topic {
                topic: self.catalogue_topic,
                principal: self.catalogue_principal,
                group: self.catalogue_group,
                kafka,
            }
        } else {
            CatalogueSource::File(PathBuf::from(self.catalogue))
        };
        Ok(Config {
            push_to: self.push.resolve_from(&self.platform),
            kafka,
            cluster: self.cluster,
            principal: self.principal,
            topic: self.topic,
            registry,
            catalogue,
            params: Params {
                users: self.users,
                events: self.events,
                seed: self.seed,
                start_ms,
                train_days: self.train_days,
                test_days: self.test_days,
                holdout: self.holdout,
                zipf: self.zipf,
            },
            truth: (!self.truth.is_empty()).then(|| PathBuf::from(self.truth)),
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
        })
    }
}

fn describe_group(principal: &str, cluster: &str, group: &str) -> Access {
    Access {
        principal: principal.to_owned(),
        cluster: cluster.to_owned(),
        resource: vygoda_common::access::Resource::Group(group.to_owned()),
        operation: Operation::Describe,
    }
}

/// What the simulator does on Kafka: writes events; reads the filtered catalogue read-only.
pub fn declared_access(c: &Config) -> Vec<Access> {
    let mut out = Access::topic(
        &c.principal,
        &c.cluster,
        &c.topic,
        &[Operation::Write, Operation::Describe],
    );
    if let CatalogueSource::Topic {
        topic,
        principal,
        group,
        ..
    } = &c.catalogue
    {
        out.extend(Access::topic(
            principal,
            &c.cluster,
            topic,
            &[Operation::Read, Operation::Describe],
        ));
        out.push(describe_group(principal, &c.cluster, group));
    }
    out
}

fn item(p: Product) -> Item {
    Item {
        product_id: p.product_id,
        category: p.category,
        brand: p.brand,
    }
}

/// The catalogue the clients browse, sorted by product id (determinism).
pub async fn load_catalogue(
    config: &Config,
    registry: &Arc<Registry>,
) -> Result<Vec<Item>, SimError> {
    let mut items = match &config.catalogue {
        CatalogueSource::File(path) => {
            let data = tokio::fs::read(path)
                .await
                .map_err(|source| SimError::Catalogue {
                    path: path.display().to_string(),
                    source,
                })?;
            let (_, records) = crate::input::split(&data);
            records
                .iter()
                .filter_map(|r| product::parse_bytes(r.bytes).ok())
                .map(item)
                .collect::<Vec<_>>()
        }
        CatalogueSource::Topic {
            topic,
            kafka,
            group,
            ..
        } => {
            let raw = kafka_io::latest_by_key(
                kafka.clone(),
                topic.clone(),
                group.clone(),
                config.timeout,
            )
            .await?;
            let decoder = Decoder::new(registry.clone(), schemas::products_filtered());
            let mut out = Vec::with_capacity(raw.latest.len());
            for (pid, latest) in raw.latest {
                match decoder
                    .decode(&latest.payload)
                    .await
                    .map(|(_, v)| Product::from_avro(v))
                {
                    Ok(Ok(p)) => out.push(item(p)),
                    Ok(Err(e)) => {
                        tracing::warn!(product_id = %pid, error = %e, "catalogue record skipped")
                    }
                    Err(e) => {
                        tracing::warn!(product_id = %pid, error = %e, "catalogue record skipped")
                    }
                }
            }
            out
        }
    };
    items.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    items.dedup_by(|a, b| a.product_id == b.product_id);
    if items.is_empty() {
        return Err(SimError::EmptyCatalogue);
    }
    Ok(items)
}

/// Outcome of a run.
#[derive(Debug, Clone)]
pub struct Report {
    pub sent: usize,
    pub products: usize,
    pub split_ts: i64,
    pub elapsed: Duration,
}

/// The simulator's spine: catalogue → simulate → validate → send (acknowledged) → truth file.
pub async fn run(config: Config, stop: CancellationToken) -> Result<Report, SimError> {
    let started = Instant::now();
    let registry = Arc::new(Registry::new(config.registry.clone())?);
    let catalogue = load_catalogue(&config, &registry).await?;
    let sim = model::simulate(&catalogue, &config.params);
    for (index, e) in sim.events.iter().enumerate() {
        e.validate().map_err(|err| SimError::Invalid {
            index,
            reason: err.to_string(),
        })?;
    }
    tracing::info!(products = catalogue.len(), events = sim.events.len(), split_ts = %product::format_ts(sim.split_ts), "simulated");
    if let Some(path) = &config.truth {
        let text: String = sim
            .truth
            .iter()
            .filter_map(|t| serde_json::to_string(t).ok())
            .map(|l| l + "\n")
            .collect();
        tokio::fs::write(path, text)
            .await
            .map_err(|source| SimError::Truth {
                path: path.clone(),
                source,
            })?;
    }
    kafka_io::preflight(config.kafka.clone(), config.topic.clone(), config.timeout).await?;
    let encoder = Encoder::register(
        &registry,
        &schemas::value_subject(&config.topic),
        schemas::CLIENT_EVENTS,
        schemas::client_events(),
    )
    .await?;
    let sent = send(&config, &encoder, &sim.events, &stop).await?;
    Ok(Report {
        sent,
        products: catalogue.len(),
        split_ts: sim.split_ts,
        elapsed: started.elapsed(),
    })
}

async fn send(
    config: &Config,
    encoder: &Encoder,
    events: &[ClientEvent],
    stop: &CancellationToken,
) -> Result<usize, SimError> {
    let timeout = config.timeout.as_millis().to_string();
    let producer = kafka_io::producer(
        &config.kafka,
        &[("message.timeout.ms", &timeout), ("linger.ms", "20")],
    )?;
    let mut sender = kafka_io::Sender::new(&producer, 10_000);
    for (index, e) in events.iter().enumerate() {
        if stop.is_cancelled() {
            sender.finish().await;
            return Err(SimError::Cancelled {
                sent: sender.acked,
                total: events.len(),
            });
        }
        let payload = encoder
            .encode(e.to_avro())
            .map_err(|err| SimError::Invalid {
                index,
                reason: err.to_string(),
            })?;
        sender
            .send(&config.topic, e.user_id.as_bytes(), &payload)
            .await;
    }
    sender.finish().await;
    if sender.failed > 0 {
        return Err(SimError::Delivery {
            failed: sender.failed,
            total: events.len(),
            first: sender.first_error.unwrap_or_default(),
        });
    }
    Ok(sender.acked)
}
