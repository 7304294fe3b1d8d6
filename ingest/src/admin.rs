//! ADMIN CLI: the ban list on the compacted `product-bans` topic.
//!
//! `add` writes `<kind>:<value>` → ban record, `remove` writes a tombstone on that key, `list`
//! reads the topic from the beginning to the high watermarks (assign, no consumer group) and
//! prints the current state. Writes use acks=all + idempotence and wait for the acknowledgement,
//! so "done" means the ban filter will see it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::FutureRecord;
use vygoda_common::access::{Access, Operation};
use vygoda_common::exit;
use vygoda_common::kafka::PlatformArgs;

use crate::ban::{self, Ban, BanKind, BanValueError};
use crate::kafka_io::{self, KafkaIoError, Unreadable};
use vygoda_avro::registry::{Registry, RegistryArgs, RegistryConfig, RegistryError};
use vygoda_avro::schemas;
use vygoda_avro::wire::{Decoder, Encoder};

/// Manage vygoda's ban list.
#[derive(Debug, clap::Parser)]
#[command(name = "vygoda-admin", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Top,
}

#[derive(Debug, clap::Subcommand)]
pub enum Top {
    /// Ban list: add, remove, list. Connection flags go before the action:
    /// `vygoda-admin ban --topic T add brand X --reason R`.
    Ban {
        #[command(subcommand)]
        action: BanAction,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum BanAction {
    /// Ban a product id, a brand or a word (products matching it stop reaching products-filtered).
    Add {
        /// product-id, brand or word.
        kind: BanKind,
        /// The id, brand or word (phrase) to ban; normalised before it is stored.
        value: String,
        /// Why (ticket, law, complaint); required.
        #[arg(long, env = "VYGODA_BAN_REASON", default_value = "")]
        reason: String,
        /// Who bans; empty = $USER.
        #[arg(long, env = "VYGODA_BAN_BY", default_value = "")]
        by: String,
    },
    /// Lift a ban (matching products are listed again).
    Remove {
        /// product-id, brand or word.
        kind: BanKind,
        /// The value as given to `add` (any spelling: it is normalised the same way).
        value: String,
    },
    /// Print the current ban list.
    List {
        /// JSON array instead of a table.
        #[arg(long, env = "VYGODA_JSON", default_value_t = false)]
        json: bool,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub push: vygoda_common::push::PushArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Kafka cluster holding the ban list.
    #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
    pub cluster: String,
    /// Kafka principal to authenticate as.
    #[arg(long, env = "VYGODA_PRINCIPAL", default_value = "ban-admin")]
    pub principal: String,
    /// Consumer group id used only to read the ban list by assignment (never joined, nothing
    /// committed; librdkafka needs one to assign partitions).
    #[arg(long, env = "VYGODA_GROUP", default_value = "ban-admin")]
    pub group: String,
    /// Ban-list topic (compacted); the value schema is registered as `<topic>-value`.
    #[arg(long, env = "VYGODA_BANS_TOPIC", default_value = "product-bans")]
    pub topic: String,
    /// Give up on Kafka requests after this many seconds.
    #[arg(long, env = "VYGODA_TIMEOUT_SECS", default_value_t = 30)]
    pub timeout_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Value(#[from] BanValueError),
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("ban record {record} needs the registry, which did not answer: {reason}; retry when `make status` shows it up")]
    RegistryDown { record: String, reason: String },
    #[error("the brokers did not acknowledge the ban change: {0}; nothing changed, retry")]
    Delivery(String),
}

impl AdminError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AdminError::Usage(_) | AdminError::Value(_) => exit::USAGE,
            _ => exit::FAILED,
        }
    }
}

/// What to do, validated.
#[derive(Debug, Clone)]
pub enum Action {
    Add(Ban),
    Remove { kind: BanKind, value: String },
    List { json: bool },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Pushgateway for the run's outcome ([`vygoda_common::push`]); None: no push.
    pub push_to: Option<String>,
    pub kafka: BTreeMap<String, String>,
    pub cluster: String,
    pub principal: String,
    pub topic: String,
    pub group: String,
    pub registry: RegistryConfig,
    pub timeout: Duration,
    pub action: Action,
}

impl Cli {
    pub fn into_config(self) -> Result<Config, AdminError> {
        let Top::Ban { action, common: c } = self.command;
        let usage = |e: &dyn std::fmt::Display| AdminError::Usage(e.to_string());
        let (kafka, registry) = c
            .registry
            .connect_as(&c.platform, &c.cluster, &c.principal)
            .map_err(|e| usage(&e))?;
        let action = match action {
            BanAction::Add {
                kind,
                value,
                reason,
                by,
                ..
            } => {
                if reason.trim().is_empty() {
                    return Err(AdminError::Usage(
                        "--reason is required: say why (ticket, law, complaint)".into(),
                    ));
                }
                let by = if by.trim().is_empty() {
                    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
                } else {
                    by
                };
                Action::Add(Ban {
                    kind,
                    value: ban::normalise(kind, &value)?,
                    reason: reason.trim().to_owned(),
                    added_by: by.trim().to_owned(),
                    added_at: chrono::Utc::now().timestamp_millis(),
                })
            }
            BanAction::Remove { kind, value, .. } => Action::Remove {
                kind,
                value: ban::normalise(kind, &value)?,
            },
            BanAction::List { json, .. } => Action::List { json },
        };
        Ok(Config {
            push_to: c.push.resolve_from(&c.platform),
            kafka,
            cluster: c.cluster,
            principal: c.principal,
            topic: c.topic,
            group: c.group,
            registry,
            timeout: Duration::from_secs(c.timeout_secs.max(1)),
            action,
        })
    }
}

/// What the ADMIN CLI does on Kafka: reads and writes the ban topic; Describe on its group id.
pub fn declared_access(config: &Config) -> Vec<Access> {
    let mut out = Access::topic(
        &config.principal,
        &config.cluster,
        &config.topic,
        &[Operation::Read, Operation::Write, Operation::Describe],
    );
    // Reading by assignment still looks up the group's coordinator (see kafka_io::reader).
    out.push(Access {
        principal: config.principal.clone(),
        cluster: config.cluster.clone(),
        resource: vygoda_common::access::Resource::Group(config.group.clone()),
        operation: Operation::Describe,
    });
    out
}

/// The ban list as read from the topic: the bans in force, and the latest records of keys that
/// do not decode (not Confluent-framed, unknown schema, truncated, not a ban). Those are shown,
/// never fatal: `ban add` or `ban remove` of the same key replaces one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BanList {
    pub bans: BTreeMap<String, Ban>,
    pub unreadable: Vec<Unreadable>,
}

/// Result of a command, printed by the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Added {
        ban: Ban,
        replaced: bool,
    },
    Removed(Ban),
    /// The key's latest record was unreadable; a tombstone now removes it.
    RemovedUnreadable(Unreadable),
    NotBanned {
        key: String,
    },
    Listed(BanList),
}

/// The CLI's spine: one action, acknowledged before returning.
pub async fn run(config: Config) -> Result<Outcome, AdminError> {
    let registry = Arc::new(Registry::new(config.registry.clone())?);
    match &config.action {
        Action::List { .. } => Ok(Outcome::Listed(current(&config, &registry).await?)),
        Action::Add(ban) => {
            let now = current(&config, &registry).await?;
            let key = ban.key();
            let replaced = now.bans.contains_key(&key)
                || now.unreadable.iter().any(|u| u.key.as_ref() == Some(&key));
            let subject = schemas::value_subject(&config.topic);
            let encoder = Encoder::register(
                &registry,
                &subject,
                schemas::PRODUCT_BANS,
                schemas::product_bans(),
            )
            .await?;
            let payload = encoder
                .encode(ban.to_avro())
                .map_err(|e| AdminError::Usage(e.to_string()))?;
            write(&config, &ban.key(), Some(&payload)).await?;
            Ok(Outcome::Added {
                ban: ban.clone(),
                replaced,
            })
        }
        Action::Remove { kind, value } => {
            let key = ban::key(*kind, value);
            let mut now = current(&config, &registry).await?;
            if let Some(old) = now.bans.remove(&key) {
                write(&config, &key, None).await?;
                return Ok(Outcome::Removed(old));
            }
            match now
                .unreadable
                .into_iter()
                .find(|u| u.key.as_ref() == Some(&key))
            {
                Some(bad) => {
                    write(&config, &key, None).await?;
                    Ok(Outcome::RemovedUnreadable(bad))
                }
                None => Ok(Outcome::NotBanned { key }),
            }
        }
    }
}

/// The ban list now: the topic read to its high watermark, latest record per key. A record
/// that does not decode is reported with where it is and why; only a registry that does not
/// answer fails the command (nothing could be decoded, and retrying will help).
pub async fn current(config: &Config, registry: &Arc<Registry>) -> Result<BanList, AdminError> {
    let raw = kafka_io::latest_by_key(
        config.kafka.clone(),
        config.topic.clone(),
        config.group.clone(),
        config.timeout,
    )
    .await?;
    let decoder = Decoder::new(registry.clone(), schemas::product_bans());
    let mut list = BanList {
        unreadable: raw.keyless,
        ..BanList::default()
    };
    for (key, latest) in raw.latest {
        let ban = match decoder.decode(&latest.payload).await {
            Ok((_, value)) => Ban::from_avro(value).map_err(|e| e.to_string()),
            Err(e) if e.is_transient() => {
                return Err(AdminError::RegistryDown {
                    record: latest
                        .unreadable(&config.topic, &key, String::new())
                        .to_string(),
                    reason: e.to_string(),
                })
            }
            Err(e) => Err(e.to_string()),
        };
        match ban {
            // A ban stored under another key than its own was not written by this CLI.
            Ok(ban) if ban.key() == key => {
                list.bans.insert(key, ban);
            }
            Ok(ban) => list.unreadable.push(latest.unreadable(
                &config.topic,
                &key,
                format!("holds the ban {} under another key", ban.key()),
            )),
            Err(reason) => list
                .unreadable
                .push(latest.unreadable(&config.topic, &key, reason)),
        }
    }
    for bad in &list.unreadable {
        tracing::warn!(record = %bad, "unreadable ban record; shown, not applied");
    }
    Ok(list)
}

async fn write(config: &Config, key: &str, payload: Option<&[u8]>) -> Result<(), AdminError> {
    let producer = kafka_io::producer(&config.kafka, &[("message.timeout.ms", "30000")])?;
    let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(&config.topic).key(key);
    if let Some(p) = payload {
        record = record.payload(p);
    }
    producer
        .send(record, config.timeout)
        .await
        .map_err(|(e, _)| AdminError::Delivery(e.to_string()))?;
    tracing::info!(topic = %config.topic, key, tombstone = payload.is_none(), "ban change acknowledged");
    Ok(())
}

/// Render the list as an aligned table.
pub fn table(bans: &[Ban]) -> String {
    let rows: Vec<[String; 5]> = bans
        .iter()
        .map(|b| {
            [
                b.kind.to_string(),
                b.value.clone(),
                b.reason.clone(),
                b.added_by.clone(),
                crate::product::format_ts(b.added_at),
            ]
        })
        .collect();
    let header = ["KIND", "VALUE", "REASON", "BY", "ADDED AT"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    std::iter::once(&header)
        .chain(rows.iter())
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            cells.join("  ").trim_end().to_owned() + "\n"
        })
        .collect()
}
