//! kafka/acls.toml against what the services really do.
//!
//! The local brokers authenticate but have no authorizer, so this test is where the table is
//! enforced before production: every service's `declared_access()` (built from its own default
//! configuration, parsed from flags exactly as its binary does) must be granted, and its
//! principal must hold nothing it does not use. `admin` (super user) and `operator` (people)
//! are exempt by design.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::Parser;
use vygoda_common::access::Access;
use vygoda_common::acl::{AclTable, CLUSTERS};
use vygoda_common::platform::{Cluster, Hdfs, Platform, Principal, SchemaRegistry, Spark};
use vygoda_tests::repo_root;
use vygoda_tools::acl::AclRender;

/// Principals no service declares, on purpose.
const EXEMPT: [&str; 2] = ["admin", "operator"];

fn table() -> AclTable {
    AclTable::load(&repo_root().join("kafka/acls.toml")).expect("kafka/acls.toml")
}

/// A platform file with every principal of the table and made-up addresses: service configs
/// resolve from it without any platform running.
struct FakePlatform {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl FakePlatform {
    fn new(table: &AclTable) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let clusters = CLUSTERS
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let broker = format!("127.0.0.1:{}", 40000 + i);
                (
                    (*c).to_owned(),
                    Cluster {
                        bootstrap: broker.clone(),
                        brokers: vec![broker],
                    },
                )
            })
            .collect();
        let principals = table
            .principals
            .keys()
            .map(|name| {
                let kafka = BTreeMap::from([
                    ("security.protocol".to_owned(), "SSL".to_owned()),
                    ("ssl.certificate.location".to_owned(), format!("{name}.pem")),
                    ("ssl.key.location".to_owned(), format!("{name}.key")),
                ]);
                let p = Principal {
                    username: name.clone(),
                    cert: "unused.pem".into(),
                    key: "unused.key".into(),
                    kafka,
                };
                (name.clone(), p)
            })
            .collect();
        let ca = dir.path().join("ca.pem");
        let platform = Platform {
            clusters,
            principals,
            ca: ca.clone(),
            schema_registry: SchemaRegistry {
                url: "https://127.0.0.1:1".into(),
                ca,
            },
            hdfs: Hdfs {
                url: "hdfs://127.0.0.1:1".into(),
                webhdfs: "http://127.0.0.1:1".into(),
                namenode_http: "http://127.0.0.1:1".into(),
            },
            lake_root: "hdfs://127.0.0.1:1/lake".into(),
            postgres_url: "postgres://u:p@127.0.0.1:1/db".into(),
            prometheus_url: "http://127.0.0.1:1".into(),
            alertmanager_url: "http://127.0.0.1:1".into(),
            spark: Spark {
                submit: "/nonexistent/spark-submit".into(),
                python: "/nonexistent/python".into(),
                master: "local[1]".into(),
                master_ui: None,
                history_url: None,
            },
            pushgateway_url: None,
            store_url: None,
        };
        let path = dir.path().join("platform.json");
        std::fs::write(&path, serde_json::to_vec(&platform).expect("json")).expect("write");
        FakePlatform { _dir: dir, path }
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }
}

/// Every service's default declared access, by principal.
fn declared(p: &FakePlatform) -> BTreeMap<String, Vec<Access>> {
    let mut all: Vec<Access> = Vec::new();

    let mirror = vygoda_mirror::config::Args::try_parse_from(["mirror", "--platform", p.arg()])
        .expect("mirror flags")
        .into_config()
        .expect("mirror config");
    all.extend(vygoda_mirror::declared_access(&mirror));

    let shop = vygoda_ingest::shop_api::Cli::try_parse_from([
        "shop-api",
        "publish",
        "--platform",
        p.arg(),
    ])
    .expect("shop-api flags")
    .into_config()
    .expect("shop-api config");
    all.extend(vygoda_ingest::shop_api::declared_access(&shop));

    let admin = vygoda_ingest::admin::Cli::try_parse_from([
        "vygoda-admin",
        "ban",
        "--platform",
        p.arg(),
        "list",
    ])
    .expect("admin flags")
    .into_config()
    .expect("admin config");
    all.extend(vygoda_ingest::admin::declared_access(&admin));

    let filter = vygoda_ingest::filter::Args::try_parse_from(["ban-filter", "--platform", p.arg()])
        .expect("ban-filter flags")
        .into_config()
        .expect("ban-filter config");
    all.extend(vygoda_ingest::filter::declared_access(&filter));

    let sim =
        vygoda_ingest::client_sim::Args::try_parse_from(["client-sim", "--platform", p.arg()])
            .expect("client-sim flags")
            .into_config()
            .expect("client-sim config");
    all.extend(vygoda_ingest::client_sim::declared_access(&sim));

    let publisher = vygoda_jobs::publisher::Args::try_parse_from([
        "publisher",
        "--platform",
        p.arg(),
        "--run-dir",
        "file:///nonexistent/run",
    ])
    .expect("publisher flags");
    let publisher =
        vygoda_jobs::publisher::Config::from_args(&publisher).expect("publisher config");
    all.extend(vygoda_jobs::publisher::declared_access(&publisher));

    let lag =
        vygoda_lag_exporter::config::Args::try_parse_from(["lag-exporter", "--platform", p.arg()])
            .expect("lag-exporter flags")
            .into_config()
            .expect("lag-exporter config");
    all.extend(vygoda_lag_exporter::declared_access(&lag));

    let sink = vygoda_client_api::sink::Args::try_parse_from([
        "store-sink",
        "--platform",
        p.arg(),
        "--store-url",
        "postgres://unused@127.0.0.1:1/store",
    ])
    .expect("store-sink flags")
    .into_config()
    .expect("store-sink config");
    all.extend(vygoda_client_api::sink::declared_access(&sink));

    let api = vygoda_client_api::cli::Cli::try_parse_from([
        "client-api",
        "--platform",
        p.arg(),
        "--store-url",
        "postgres://unused@127.0.0.1:1/store",
        "relay",
    ])
    .expect("client-api flags")
    .into_config()
    .expect("client-api config");
    all.extend(vygoda_client_api::record::declared_access(&api.relay));

    let mut by_principal: BTreeMap<String, Vec<Access>> = BTreeMap::new();
    for a in all {
        by_principal.entry(a.principal.clone()).or_default().push(a);
    }
    by_principal
}

#[test]
fn every_service_is_granted_what_it_declares_and_nothing_more() {
    let table = table();
    let fake = FakePlatform::new(&table);
    let declared = declared(&fake);
    let mut failures = String::new();
    for (principal, accesses) in &declared {
        if EXEMPT.contains(&principal.as_str()) {
            // Services may borrow a broad principal (client-sim reads the catalogue as
            // operator): what they do must be granted, the rest of its grants is for people.
            for a in accesses.iter().filter(|a| !table.allows(a)) {
                failures.push_str(&format!("principal {principal}:\n  not granted: {a:?}\n"));
            }
        } else if let Err(m) = table.check_exact(principal, accesses) {
            failures.push_str(&format!("principal {principal}:\n{m}"));
        }
    }
    assert!(
        failures.is_empty(),
        "kafka/acls.toml and the services disagree:\n{failures}"
    );
}

#[test]
fn every_principal_of_the_table_is_checked_or_exempt() {
    let table = table();
    let fake = FakePlatform::new(&table);
    let declared = declared(&fake);
    let covered: BTreeSet<&str> = declared.keys().map(String::as_str).chain(EXEMPT).collect();
    let unchecked: Vec<&String> = table
        .principals
        .keys()
        .filter(|p| !covered.contains(p.as_str()))
        .collect();
    // Services whose declared_access() is not wired in yet (add them to `declared` above).
    let pending: BTreeSet<&str> = ["lake-writer"].into();
    let surprise: Vec<&&String> = unchecked
        .iter()
        .filter(|p| !pending.contains(p.as_str()))
        .collect();
    assert!(
        surprise.is_empty(),
        "principals granted but declared by no service: {surprise:?}"
    );
    for p in &declared {
        assert!(
            table.principals.contains_key(p.0),
            "service principal {} is not in the table",
            p.0
        );
    }
}

#[test]
fn exempt_principals_are_what_the_table_says() {
    let table = table();
    assert!(table.principals["admin"].super_user);
    assert!(table.principals["admin"].grants.is_empty());
    assert!(!table.principals["operator"].super_user);
    // The operator reads and describes; it never writes or creates.
    for g in &table.principals["operator"].grants {
        for op in &g.ops {
            assert!(
                matches!(
                    op,
                    vygoda_common::access::Operation::Read
                        | vygoda_common::access::Operation::Describe
                        | vygoda_common::access::Operation::DescribeConfigs
                ),
                "operator holds {op:?}"
            );
        }
    }
    for (name, p) in &table.principals {
        assert!(
            p.super_user == (name == "admin"),
            "only admin is a super user, not {name}"
        );
    }
}

#[test]
fn generated_acl_scripts_are_current() {
    let table = table();
    for cluster in CLUSTERS {
        let path = repo_root().join(format!("kafka/generated/acls-{cluster}.sh"));
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        let want = table.render_script(cluster).expect("render");
        assert!(
            have == want,
            "{} is stale or missing: run `make acls`",
            path.display()
        );
    }
}
