//! Writes records in the Confluent wire format with a third-party Rust client
//! (`schema_registry_converter`), registering the schema on the way, and reads them back.
//! The Python integration test decodes its output with confluent-kafka's AvroDeserializer, so the
//! registry is proven with two independent clients that must agree byte for byte.
//!
//! ```text
//! cargo run -q --release -p vygoda-schema-registry --example encode_sample -- \
//!     encode --url https://127.0.0.1:18081 --ca .vygoda/tls/ca.pem \
//!     --cert .vygoda/tls/admin.pem --key .vygoda/tls/admin.key --subject my-topic-value --out sample.bin
//! ```
//! `encode` prints the JSON of the record it wrote; `decode --input F` prints the JSON it read.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use serde::Serialize;

/// The sample record; the Python test knows its schema and values.
pub const SCHEMA: &str = r#"{
  "type": "record", "name": "Sample", "namespace": "vygoda.test",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "name", "type": "string"},
    {"name": "price_cents", "type": "long"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "note", "type": ["null", "string"], "default": null}
  ]
}"#;

#[derive(Debug, Serialize)]
struct Sample {
    id: i64,
    name: String,
    price_cents: i64,
    tags: Vec<String>,
    note: Option<String>,
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Register the sample schema under --subject and write one record to --out.
    Encode {
        #[command(flatten)]
        registry: Registry,
        /// Subject to register under (TopicNameStrategy: `<topic>-value`).
        #[arg(long)]
        subject: String,
        /// File to write the wire-format bytes to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Decode wire-format bytes from --input (fetching the writer schema by id).
    Decode {
        #[command(flatten)]
        registry: Registry,
        /// File holding wire-format bytes.
        #[arg(long)]
        input: PathBuf,
    },
}

#[derive(Debug, Args)]
struct Registry {
    /// Registry base URL.
    #[arg(long, default_value = "https://127.0.0.1:18081")]
    url: String,
    /// PEM CA to trust for the registry's certificate.
    #[arg(long)]
    ca: PathBuf,
    /// PEM client certificate: its CN is the principal the registry sees.
    #[arg(long)]
    cert: PathBuf,
    /// PEM private key of --cert.
    #[arg(long)]
    key: PathBuf,
}

impl Registry {
    /// Settings trusting the given CA and presenting the principal's certificate: the
    /// converter accepts our own reqwest ClientBuilder.
    fn settings(&self) -> anyhow::Result<SrSettings> {
        let pem = std::fs::read(&self.ca)?;
        let mut identity = std::fs::read(&self.key)?;
        identity.push(b'\n');
        identity.extend(std::fs::read(&self.cert)?);
        let builder = reqwest013::Client::builder()
            .add_root_certificate(reqwest013::Certificate::from_pem(&pem)?)
            .identity(reqwest013::Identity::from_pem(&identity)?);
        Ok(SrSettings::new_builder(self.url.clone()).build_with(builder)?)
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Mode::Encode {
                registry,
                subject,
                out,
            } => {
                let encoder = AvroEncoder::new(registry.settings()?);
                let topic = subject
                    .strip_suffix("-value")
                    .ok_or_else(|| anyhow::anyhow!("--subject must end in -value"))?;
                let strategy = SubjectNameStrategy::TopicNameStrategyWithSchema(
                    topic.to_owned(),
                    false,
                    SuppliedSchema::new(None, SchemaType::Avro, SCHEMA.to_owned()),
                );
                let record = Sample {
                    id: 42,
                    name: "Чайник «Выгодный»".to_owned(),
                    price_cents: 199_900,
                    tags: vec!["kitchen".to_owned(), "sale".to_owned()],
                    note: Some("written by schema_registry_converter".to_owned()),
                };
                let bytes = encoder.encode_struct(&record, &strategy).await?;
                std::fs::write(&out, &bytes)?;
                println!("{}", serde_json::to_string(&record)?);
            }
            Mode::Decode { registry, input } => {
                let decoder = AvroDecoder::new(registry.settings()?);
                let bytes = std::fs::read(&input)?;
                let decoded = decoder.decode(Some(&bytes)).await?;
                // apache-avro converts its values to serde_json ones.
                let json = serde_json::Value::try_from(decoded.value)
                    .map_err(|e| anyhow::anyhow!("decoded value has no JSON form: {e}"))?;
                println!("{json}");
            }
        }
        Ok(())
    })
}
