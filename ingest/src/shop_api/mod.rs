//! SHOP API: shops' products → validated Avro records on the `products` topic.
//!
//! Every record is parsed, checked against the business rules and encoded against the schema
//! before anything is sent; bad records are reported (file, index, line, field, reason) and the
//! good ones still go, unless `--all-or-nothing`. Records are keyed by product_id and written
//! with acks=all and idempotence, so an acknowledged product is never lost or duplicated.

mod cli;
mod send;

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vygoda_common::access::{Access, Operation};
use vygoda_common::exit;

use crate::input::{self, Format};
use crate::kafka_io::KafkaIoError;
use crate::product::{self, ErrorKind, FieldError};
pub use cli::{Cli, Command, CommonArgs, PublishArgs, PublishOneArgs};
pub use send::Summary;
use vygoda_avro::registry::{RegistryConfig, RegistryError};
use vygoda_avro::schemas;

#[derive(Debug, thiserror::Error)]
pub enum ShopApiError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    Input {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the report {path}: {source}")]
    Report {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{failed} of {total} records were not acknowledged by the brokers (first error: {first}); {sent} were sent. Re-run: publishing is idempotent per product_id")]
    Delivery {
        failed: usize,
        total: usize,
        sent: usize,
        first: String,
    },
    #[error("cancelled after sending {sent} of {total} records; re-run to send the rest (publishing is idempotent per product_id)")]
    Cancelled { sent: usize, total: usize },
}

impl ShopApiError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ShopApiError::Usage(_) | ShopApiError::Input { .. } => exit::USAGE,
            ShopApiError::Cancelled { .. } => exit::CANCELLED,
            _ => exit::FAILED,
        }
    }
}

/// Where the products come from.
#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    Stdin,
    /// One product built from flags.
    One(serde_json::Value),
}

impl Input {
    pub fn label(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".into(),
            Input::One(_) => "<publish-one>".into(),
        }
    }
}

/// Validated settings of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Pushgateway for the run's outcome ([`vygoda_common::push`]); None: no push.
    pub push_to: Option<String>,
    pub kafka: std::collections::BTreeMap<String, String>,
    pub cluster: String,
    pub principal: String,
    pub topic: String,
    pub registry: RegistryConfig,
    pub input: Input,
    pub all_or_nothing: bool,
    pub report: Option<PathBuf>,
    pub delivery_timeout: Duration,
    pub progress: bool,
}

/// What the SHOP API does on Kafka (checked against kafka/acls.toml by the ACL test).
pub fn declared_access(config: &Config) -> Vec<Access> {
    Access::topic(
        &config.principal,
        &config.cluster,
        &config.topic,
        &[Operation::Write, Operation::Describe],
    )
}

/// One rejected record and everything wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub file: String,
    pub index: usize,
    pub line: usize,
    pub product_id: Option<String>,
    pub errors: Vec<FieldError>,
}

impl Rejection {
    /// Report lines: one JSON object per field error.
    pub fn report_lines(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|e| {
                serde_json::json!({
                    "file": self.file, "index": self.index, "line": self.line,
                    "product_id": self.product_id, "field": e.field, "kind": e.kind, "reason": e.reason,
                })
                .to_string()
            })
            .collect()
    }
}

/// A record ready to send: its key and its Avro datum (schema-validated, not yet framed).
#[derive(Debug, Clone)]
pub struct Valid {
    pub index: usize,
    pub product_id: String,
    pub datum: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Validated {
    pub format: Option<Format>,
    pub valid: Vec<Valid>,
    pub rejected: Vec<Rejection>,
}

/// Business rules, then the Avro schema, for every record of a file's bytes.
pub fn validate(file: &str, data: &[u8]) -> Validated {
    let (format, records) = input::split(data);
    let mut out = Validated {
        format: Some(format),
        ..Validated::default()
    };
    for rec in records {
        let parsed = product::parse_bytes(rec.bytes);
        out.push(file, rec.index, rec.line, rec.bytes, parsed);
    }
    out
}

/// The same for one JSON value (publish-one).
pub fn validate_value(file: &str, value: &serde_json::Value) -> Validated {
    let mut out = Validated::default();
    let text = value.to_string();
    out.push(file, 0, 1, text.as_bytes(), product::parse(value));
    out
}

impl Validated {
    fn push(
        &mut self,
        file: &str,
        index: usize,
        line: usize,
        raw: &[u8],
        parsed: Result<product::Product, Vec<FieldError>>,
    ) {
        let schema = schemas::products();
        let result = parsed.and_then(|p| match apache_avro::to_avro_datum(&schema, p.to_avro()) {
            Ok(datum) => Ok(Valid {
                index,
                product_id: p.product_id,
                datum,
            }),
            Err(e) => Err(vec![FieldError::new(
                "",
                ErrorKind::InvalidFormat,
                format!("does not match the products schema: {e}"),
            )]),
        });
        match result {
            Ok(v) => self.valid.push(v),
            Err(errors) => self.rejected.push(Rejection {
                file: file.to_owned(),
                index,
                line,
                product_id: guess_id(raw),
                errors,
            }),
        }
    }
}

/// The product_id of a rejected record, when it can still be read (helps shops find it).
fn guess_id(raw: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(raw).ok()?;
    v.get("product_id")?.as_str().map(str::to_owned)
}

async fn read_input(input: &Input) -> Result<Vec<u8>, ShopApiError> {
    match input {
        Input::File(path) => tokio::fs::read(path)
            .await
            .map_err(|source| ShopApiError::Input {
                path: path.display().to_string(),
                source,
            }),
        Input::Stdin => tokio::task::spawn_blocking(|| {
            use std::io::Read;
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map(|_| buf)
        })
        .await
        .map_err(|e| ShopApiError::Input {
            path: "<stdin>".into(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(|source| ShopApiError::Input {
            path: "<stdin>".into(),
            source,
        }),
        Input::One(_) => Ok(Vec::new()),
    }
}

/// The SHOP API's spine: read → validate everything → report → connect → send → summary.
pub async fn run(config: Config, stop: CancellationToken) -> Result<Summary, ShopApiError> {
    let started = std::time::Instant::now();
    let label = config.input.label();

    // 1. Validate every record before touching Kafka: a bad file costs nothing downstream.
    let validated = match &config.input {
        Input::One(value) => validate_value(&label, value),
        other => validate(&label, &read_input(other).await?),
    };
    for r in &validated.rejected {
        for e in &r.errors {
            tracing::warn!(file = %r.file, index = r.index, line = r.line, product_id = r.product_id.as_deref().unwrap_or(""),
                field = %e.field, kind = ?e.kind, reason = %e.reason, "record rejected");
        }
    }
    // 2. The report is written before sending, so it exists even if sending fails.
    if let Some(path) = &config.report {
        let text: String = validated
            .rejected
            .iter()
            .flat_map(Rejection::report_lines)
            .map(|l| l + "\n")
            .collect();
        tokio::fs::write(path, text)
            .await
            .map_err(|source| ShopApiError::Report {
                path: path.clone(),
                source,
            })?;
    }
    let rejected = validated.rejected.len();
    if validated.valid.is_empty() || (config.all_or_nothing && rejected > 0) {
        if config.all_or_nothing && rejected > 0 {
            tracing::warn!(rejected, "--all-or-nothing: nothing sent");
        }
        return Ok(Summary {
            sent: 0,
            rejected,
            elapsed: started.elapsed(),
        });
    }
    // 3. Send; the summary carries the counts for the binary's exit code.
    let sent = send::send_all(&config, validated.valid, &stop).await?;
    Ok(Summary {
        sent,
        rejected,
        elapsed: started.elapsed(),
    })
}
