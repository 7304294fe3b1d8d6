//! Shared by the platform tests: unique topics, running the CLIs in-process through their real
//! flag parsing, the ban filter as a real process, and reading the filtered topic back.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use vygoda_avro::registry::{Registry, RegistryArgs};
use vygoda_avro::schemas;
use vygoda_avro::wire::{split, Decoder, Encoder};
use vygoda_ingest::ban::{Ban, BanKind};
use vygoda_ingest::product::Product;
use vygoda_tests::{Record, ServiceProcess, TestPlatform, TopicGuard};

pub fn tp() -> &'static TestPlatform {
    TestPlatform::get()
}

pub fn data(path: &str) -> String {
    format!("{}/../data/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// One test's own topics on prod.
pub struct Topics {
    pub products: TopicGuard,
    pub bans: TopicGuard,
    pub filtered: TopicGuard,
    pub dlq: TopicGuard,
    pub group: String,
}

impl Topics {
    pub async fn create(prefix: &str, product_partitions: i32) -> Topics {
        let tp = tp();
        let name = |t: &str| vygoda_tests::unique_name(&format!("{prefix}-{t}"));
        Topics {
            products: tp
                .create_topic("prod", &name("products"), product_partitions, false)
                .await,
            bans: tp.create_topic("prod", &name("bans"), 1, true).await,
            filtered: tp
                .create_topic("prod", &name("filtered"), product_partitions, true)
                .await,
            dlq: tp.create_topic("prod", &name("dlq"), 1, false).await,
            group: vygoda_tests::unique_name(&format!("{prefix}-group")),
        }
    }

    pub fn filter_args(&self) -> Vec<String> {
        let platform = tp().platform_file().display().to_string();
        [
            "--platform",
            &platform,
            "--products-topic",
            &self.products.name,
            "--bans-topic",
            &self.bans.name,
            "--filtered-topic",
            &self.filtered.name,
            "--dlq-topic",
            &self.dlq.name,
            "--group",
            &self.group,
            "--metrics-addr",
            "127.0.0.1:0",
            "--stats-interval-ms",
            "1000",
        ]
        .map(String::from)
        .to_vec()
    }

    pub fn spawn_filter(&self, extra: &[&str]) -> ServiceProcess {
        let mut args = self.filter_args();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ServiceProcess::spawn(
            env!("CARGO_BIN_EXE_ban-filter"),
            &refs,
            &[("RUST_LOG", "info")],
        )
    }

    /// `shop-api publish --file <file>` in-process; returns (sent, rejected) or the error.
    pub async fn publish(
        &self,
        file: &str,
        extra: &[&str],
    ) -> Result<vygoda_ingest::shop_api::Summary, vygoda_ingest::shop_api::ShopApiError> {
        publish_to(&self.products.name, file, extra).await
    }

    /// Write products as an NDJSON temp file and publish it.
    pub async fn publish_json(
        &self,
        products: &[serde_json::Value],
    ) -> vygoda_ingest::shop_api::Summary {
        publish_json_to(&self.products.name, products).await
    }

    /// `vygoda-admin ban <args…>` in-process.
    pub async fn admin(&self, args: &[&str]) -> vygoda_ingest::admin::Outcome {
        let platform = tp().platform_file().display().to_string();
        let mut all = vec![
            "vygoda-admin",
            "ban",
            "--platform",
            &platform,
            "--topic",
            &self.bans.name,
        ];
        all.extend_from_slice(args);
        let config = vygoda_ingest::admin::Cli::try_parse_from(all)
            .expect("admin flags")
            .into_config()
            .expect("admin config");
        vygoda_ingest::admin::run(config).await.expect("admin run")
    }

    /// Every record of the filtered topic, read as the read-only operator.
    pub async fn filtered_records(&self) -> Vec<Record> {
        read_all(self.filtered.name.clone()).await
    }

    /// Latest state of the filtered topic: id → product (None = tombstone), with every
    /// non-tombstone record decoded and its key checked against its product_id.
    pub async fn filtered_state(
        &self,
    ) -> (
        Vec<(Record, Option<Product>)>,
        BTreeMap<String, Option<Product>>,
    ) {
        let records = self.filtered_records().await;
        let decoder = decoder();
        let mut all = Vec::new();
        let mut latest = BTreeMap::new();
        for r in records {
            let key = String::from_utf8(r.key.clone().expect("filtered records have keys"))
                .expect("UTF-8 key");
            let product = match &r.value {
                None => None,
                Some(v) => {
                    let (_, value) = decoder.decode(v).await.expect("filtered record decodes");
                    let p = Product::from_avro(value).expect("filtered record is a Product");
                    assert_eq!(p.product_id, key, "key = product_id");
                    Some(p)
                }
            };
            latest.insert(key, product.clone());
            all.push((r, product));
        }
        (all, latest)
    }
}

/// `shop-api publish --file <file> --topic <topic>` in-process.
pub async fn publish_to(
    topic: &str,
    file: &str,
    extra: &[&str],
) -> Result<vygoda_ingest::shop_api::Summary, vygoda_ingest::shop_api::ShopApiError> {
    let platform = tp().platform_file().display().to_string();
    let mut args = vec![
        "shop-api",
        "publish",
        "--file",
        file,
        "--platform",
        &platform,
        "--topic",
        topic,
        "--progress",
        "never",
    ];
    args.extend_from_slice(extra);
    let cli = vygoda_ingest::shop_api::Cli::try_parse_from(args).expect("shop-api flags");
    let config = cli.into_config()?;
    vygoda_ingest::shop_api::run(config, tokio_util::sync::CancellationToken::new()).await
}

/// Products as an NDJSON temp file, published to `topic`.
pub async fn publish_json_to(
    topic: &str,
    products: &[serde_json::Value],
) -> vygoda_ingest::shop_api::Summary {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let text: String = products.iter().map(|p| p.to_string() + "\n").collect();
    std::fs::write(file.path(), text).expect("write temp file");
    publish_to(topic, &file.path().display().to_string(), &[])
        .await
        .expect("publish")
}

pub async fn read_all(topic: String) -> Vec<Record> {
    let props = tp().kafka_props("prod", "operator");
    tokio::task::spawn_blocking(move || vygoda_tests::consume_all(&props, &topic))
        .await
        .expect("consume_all")
}

pub fn decoder() -> Decoder {
    let config = RegistryArgs::default()
        .resolve(Some(&tp().platform), "operator")
        .expect("registry config");
    Decoder::new(
        Arc::new(Registry::new(config).expect("registry client")),
        vygoda_avro::schemas::products_filtered(),
    )
}

/// Products of the committed catalogue, by id.
pub fn catalogue() -> BTreeMap<String, serde_json::Value> {
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(data("catalogue.json")).unwrap()).unwrap();
    items
        .into_iter()
        .map(|p| (p["product_id"].as_str().unwrap().to_owned(), p))
        .collect()
}

pub fn brand_of(p: &serde_json::Value) -> String {
    vygoda_ingest::text::normalise_brand(p["brand"].as_str().unwrap_or(""))
}

pub const WAIT: Duration = Duration::from_secs(90);

/// The schema id and one valid datum (unframed) of a schema registered for a test's topic:
/// the "real" and "foreign" halves of the shared poison table (`vygoda_tests::poison`).
pub struct Sample {
    pub id: u32,
    pub datum: Vec<u8>,
}

impl Sample {
    pub fn pair(&self) -> (u32, &[u8]) {
        (self.id, &self.datum)
    }
}

/// A product and a ban, each registered under its topic's subject and encoded once.
pub async fn registered_samples(t: &Topics) -> (Sample, Sample) {
    let config = RegistryArgs::default()
        .resolve(Some(&tp().platform), "admin")
        .expect("registry config");
    let registry = Registry::new(config).expect("registry client");
    let sample = |topic: &str, text: &'static str, schema, value| {
        let registry = &registry;
        let subject = schemas::value_subject(topic);
        async move {
            let encoder = Encoder::register(registry, &subject, text, schema)
                .await
                .expect("register the sample's schema");
            let framed = encoder.encode(value).expect("encode the sample");
            let (id, datum) = split(&framed).expect("a framed sample");
            Sample {
                id,
                datum: datum.to_vec(),
            }
        }
    };
    let mut p = catalogue()["100000"].clone();
    p["product_id"] = serde_json::json!("poison-sample");
    let parsed = vygoda_ingest::product::parse(&p).expect("the catalogue's product parses");
    let product = sample(
        &t.products.name,
        schemas::PRODUCTS,
        schemas::products(),
        parsed.to_avro(),
    )
    .await;
    let ban = Ban {
        kind: BanKind::Word,
        value: "poison".into(),
        reason: "sample".into(),
        added_by: "test".into(),
        added_at: 0,
    };
    let ban = sample(
        &t.bans.name,
        schemas::PRODUCT_BANS,
        schemas::product_bans(),
        ban.to_avro(),
    )
    .await;
    (product, ban)
}
