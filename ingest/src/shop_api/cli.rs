//! Command line of `shop-api`, validated into [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Map, Value};
use vygoda_common::kafka::PlatformArgs;

use super::{Config, Input, ShopApiError};
use vygoda_avro::registry::RegistryArgs;

/// SHOP API: validates shops' products and publishes them to Kafka (Avro, Schema Registry).
#[derive(Debug, clap::Parser)]
#[command(name = "shop-api", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start-up; boxing the large variant would only complicate clap's derive.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Publish every product of a JSON array or NDJSON file (`-` = stdin).
    Publish {
        #[command(flatten)]
        args: PublishArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Publish one product described by flags.
    PublishOne {
        #[command(flatten)]
        args: PublishOneArgs,
        #[command(flatten)]
        common: CommonArgs,
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
    /// Kafka cluster to publish to (a key of platform.json `clusters`).
    #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
    pub cluster: String,
    /// Kafka principal to authenticate as.
    #[arg(long, env = "VYGODA_PRINCIPAL", default_value = "shop-api")]
    pub principal: String,
    /// Topic to publish to; the value schema is registered as `<topic>-value`.
    #[arg(long, env = "VYGODA_PRODUCTS_TOPIC", default_value = "products")]
    pub topic: String,
    /// Write every rejection as a JSON line to this file (empty = no report file).
    #[arg(long, env = "VYGODA_REPORT", default_value = "")]
    pub report: String,
    /// Publish nothing if any record is rejected.
    #[arg(long, env = "VYGODA_ALL_OR_NOTHING", default_value_t = false)]
    pub all_or_nothing: bool,
    /// Give up on a record (and fail the run) if the brokers have not acknowledged it by then.
    #[arg(long, env = "VYGODA_DELIVERY_TIMEOUT_SECS", default_value_t = 60)]
    pub delivery_timeout_secs: u64,
    /// Show a progress bar: auto (only when stderr is a terminal), always, never.
    #[arg(long, env = "VYGODA_PROGRESS", default_value = "auto")]
    pub progress: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// Products file: a JSON array or NDJSON; `-` reads standard input.
    #[arg(long, env = "VYGODA_FILE", default_value = "-")]
    pub file: String,
}

/// One product from flags; the JSON it builds goes through the same validation as a file's.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishOneArgs {
    /// Product id (also the Kafka key).
    #[arg(long, env = "VYGODA_PRODUCT_ID", default_value = "")]
    pub product_id: String,
    /// Product name.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Description (empty = omitted).
    #[arg(long, default_value = "")]
    pub description: String,
    /// Price, a decimal such as 1299.99.
    #[arg(long, default_value = "")]
    pub price: String,
    /// ISO 4217 currency code.
    #[arg(long, default_value = "RUB")]
    pub currency: String,
    /// Category name.
    #[arg(long, default_value = "")]
    pub category: String,
    /// Brand (empty = omitted).
    #[arg(long, default_value = "")]
    pub brand: String,
    /// Units available.
    #[arg(long, default_value_t = 0)]
    pub stock_available: i64,
    /// Units reserved (negative = omitted).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub stock_reserved: i64,
    /// Stock keeping unit (empty = omitted).
    #[arg(long, default_value = "")]
    pub sku: String,
    /// A tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// An image as `URL` or `URL|alt text` (repeatable).
    #[arg(long = "image")]
    pub images: Vec<String>,
    /// A specification as `name=value` (repeatable).
    #[arg(long = "spec")]
    pub specs: Vec<String>,
    /// Creation time, RFC 3339 (empty = now).
    #[arg(long, default_value = "")]
    pub created_at: String,
    /// Last update time, RFC 3339 (empty = omitted).
    #[arg(long, default_value = "")]
    pub updated_at: String,
    /// Search index name (empty = omitted).
    #[arg(long, default_value = "products")]
    pub index: String,
    /// Owning store.
    #[arg(long, env = "VYGODA_STORE_ID", default_value = "")]
    pub store_id: String,
}

impl PublishOneArgs {
    /// The product as the JSON a shop would send; validation happens later, like for files.
    pub fn to_json(&self) -> Result<Value, ShopApiError> {
        let mut o = Map::new();
        fn put_nonempty(o: &mut Map<String, Value>, k: &str, v: &str) {
            if !v.is_empty() {
                o.insert(k.into(), json!(v));
            }
        }
        o.insert("product_id".into(), json!(self.product_id));
        o.insert("name".into(), json!(self.name));
        put_nonempty(&mut o, "description", &self.description);
        o.insert(
            "price".into(),
            json!({"amount": self.price, "currency": self.currency}),
        );
        o.insert("category".into(), json!(self.category));
        put_nonempty(&mut o, "brand", &self.brand);
        let mut stock = json!({"available": self.stock_available});
        if self.stock_reserved >= 0 {
            stock["reserved"] = json!(self.stock_reserved);
        }
        o.insert("stock".into(), stock);
        put_nonempty(&mut o, "sku", &self.sku);
        if !self.tags.is_empty() {
            o.insert("tags".into(), json!(self.tags));
        }
        if !self.images.is_empty() {
            let imgs: Vec<Value> = self
                .images
                .iter()
                .map(|i| match i.split_once('|') {
                    Some((url, alt)) => json!({"url": url, "alt": alt}),
                    None => json!({"url": i}),
                })
                .collect();
            o.insert("images".into(), json!(imgs));
        }
        if !self.specs.is_empty() {
            let mut specs = Map::new();
            for s in &self.specs {
                let (k, v) = s.split_once('=').ok_or_else(|| {
                    ShopApiError::Usage(format!("--spec `{s}` must be name=value"))
                })?;
                specs.insert(k.trim().to_owned(), json!(v.trim()));
            }
            o.insert("specifications".into(), Value::Object(specs));
        }
        let created = if self.created_at.is_empty() {
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        } else {
            self.created_at.clone()
        };
        o.insert("created_at".into(), json!(created));
        put_nonempty(&mut o, "updated_at", &self.updated_at);
        put_nonempty(&mut o, "index", &self.index);
        o.insert("store_id".into(), json!(self.store_id));
        Ok(Value::Object(o))
    }
}

impl Cli {
    /// Validate flags into a [`Config`]: platform file, registry settings, input.
    pub fn into_config(self) -> Result<Config, ShopApiError> {
        let (c, input) = match self.command {
            Command::Publish { args, common } if args.file == "-" => (common, Input::Stdin),
            Command::Publish { args, common } => (common, Input::File(PathBuf::from(args.file))),
            Command::PublishOne { args, common } => (common, Input::One(args.to_json()?)),
        };
        let kafka = c
            .platform
            .kafka_props(&c.cluster, &c.principal)
            .map_err(|e| ShopApiError::Usage(e.to_string()))?;
        let platform = c
            .platform
            .platform()
            .map_err(|e| ShopApiError::Usage(e.to_string()))?;
        let registry = c
            .registry
            .resolve(platform.as_ref(), &c.principal)
            .map_err(|e| ShopApiError::Usage(e.to_string()))?;
        if c.topic.trim().is_empty() {
            return Err(ShopApiError::Usage("--topic must not be empty".into()));
        }
        let progress = match c.progress.as_str() {
            "auto" => std::io::IsTerminal::is_terminal(&std::io::stderr()),
            "always" => true,
            "never" => false,
            other => {
                return Err(ShopApiError::Usage(format!(
                    "--progress `{other}`: use auto, always or never"
                )))
            }
        };
        Ok(Config {
            push_to: c.push.resolve(platform.as_ref()),
            kafka,
            cluster: c.cluster,
            principal: c.principal,
            topic: c.topic,
            registry,
            input,
            all_or_nothing: c.all_or_nothing,
            report: (!c.report.is_empty()).then(|| PathBuf::from(c.report)),
            delivery_timeout: Duration::from_secs(c.delivery_timeout_secs.max(1)),
            progress,
        })
    }
}
