//! The real server spine (`serve::run`): mutual TLS with certificates from the platform's own
//! script, permissions from kafka/acls.toml, the metrics port,
//! the `register` subcommand's logic, and graceful shutdown.

// Test helpers outside #[test] fns; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use vygoda_common::https::{self, Identity};
use vygoda_schema_registry::auth::Policy;
use vygoda_schema_registry::config::{Database, RegisterConfig, ServeConfig};
use vygoda_schema_registry::register_dir::{self, RegisterError};
use vygoda_schema_registry::serve::{self, Bound};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The platform's own script: a CA and a certificate per name (CN = name) for 127.0.0.1 /
/// localhost, usable as server and client.
fn make_certs(dir: &Path, names: &[&str]) {
    let output = Command::new("bash")
        .arg(repo().join("kafka/make-certs.sh"))
        .arg(dir)
        .args(names)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "make-certs.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn identity(dir: &Path, name: &str) -> Identity {
    Identity {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    }
}

fn client(dir: &Path, who: Option<&Identity>) -> reqwest::Client {
    https::client(Some(&dir.join("ca.pem")), who, Duration::from_secs(10)).unwrap()
}

struct Running {
    bound: Bound,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), serve::ServeError>>,
}

async fn start(dir: &Path) -> Running {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls_cert: dir.join("registry.pem"),
        tls_key: dir.join("registry.key"),
        client_ca: dir.join("ca.pem"),
        policy: Policy::load(&repo().join("kafka/acls.toml"), false).unwrap(),
        database: Database::Memory,
        db_connections: 1,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        shutdown_grace: Duration::from_secs(2),
    };
    let stop = CancellationToken::new();
    let (ready, bound) = oneshot::channel();
    let task = tokio::spawn(serve::run(config, stop.clone(), Some(ready)));
    let bound = tokio::time::timeout(Duration::from_secs(20), bound)
        .await
        .expect("server starts")
        .unwrap();
    Running { bound, stop, task }
}

fn register_config(dir: &Path, url: String, schemas: &Path) -> RegisterConfig {
    RegisterConfig {
        dir: schemas.to_owned(),
        url,
        ca: Some(dir.join("ca.pem")),
        identity: identity(dir, "admin"),
        check_only: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_registry_serves_registers_counts_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path(), &["registry", "admin", "shop-api"]);
    let server = start(dir.path()).await;
    let url = format!("https://localhost:{}", server.bound.api.port());

    // A principal's certificate works, on the name and on the IP of the server certificate.
    let client = client(dir.path(), Some(&identity(dir.path(), "admin")));
    let subjects: Value = client
        .get(format!("{url}/subjects"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(subjects, serde_json::json!([]));
    let by_ip = format!(
        "https://127.0.0.1:{}/schemas/types",
        server.bound.api.port()
    );
    assert!(client
        .get(by_ip)
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    // A client that does not trust the CA, and plain HTTP, are refused.
    let stranger = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(stranger
        .get(format!("{url}/subjects"))
        .send()
        .await
        .is_err());
    // No certificate, or one from another CA: the handshake fails, nothing is answered.
    let anonymous = self::client(dir.path(), None);
    assert!(anonymous
        .get(format!("{url}/subjects"))
        .send()
        .await
        .is_err());
    let foreign = tempfile::tempdir().unwrap();
    make_certs(foreign.path(), &["admin"]);
    let impostor = https::client(
        Some(&dir.path().join("ca.pem")),
        Some(&identity(foreign.path(), "admin")),
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(impostor
        .get(format!("{url}/subjects"))
        .send()
        .await
        .is_err());
    let plain = format!("http://127.0.0.1:{}/subjects", server.bound.api.port());
    let plain_ok = reqwest::get(plain)
        .await
        .is_ok_and(|r| r.status().is_success());
    assert!(!plain_ok, "plain HTTP must not be served");

    // The register subcommand: every file, subject = stem.
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    let v1 = r#"{"type":"record","name":"P","fields":[{"name":"id","type":"string"}]}"#;
    std::fs::write(schemas.join("products-value.avsc"), v1).unwrap();
    std::fs::write(
        schemas.join("bans-value.avsc"),
        r#"{"type":"enum","name":"K","symbols":["A"]}"#,
    )
    .unwrap();
    let config = register_config(dir.path(), url.clone(), &schemas);
    let outcomes = register_dir::run(&config).await.unwrap();
    let subjects: Vec<&str> = outcomes.iter().map(|o| o.subject.as_str()).collect();
    assert_eq!(subjects, ["bans-value", "products-value"]);
    // Run again: idempotent, same ids.
    let again = register_dir::run(&config).await.unwrap();
    assert_eq!(again, outcomes);

    // A breaking change is refused, naming subject and field; the other file still goes through.
    std::fs::write(
        schemas.join("products-value.avsc"),
        r#"{"type":"record","name":"P","fields":[{"name":"id","type":"string"},{"name":"shop","type":"string"}]}"#,
    )
    .unwrap();
    let check_only = RegisterConfig {
        check_only: true,
        ..config.clone()
    };
    let error = register_dir::run(&check_only).await.unwrap_err();
    assert!(
        error.to_string().contains("products-value") && error.to_string().contains("shop"),
        "{error}"
    );
    let error = register_dir::run(&config).await.unwrap_err();
    match &error {
        RegisterError::Refused { total, failures } => {
            assert_eq!((*total, failures.len()), (2, 1));
            assert!(
                failures[0].contains("products-value") && failures[0].contains("`shop`"),
                "{failures:?}"
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(error.exit_code(), vygoda_common::exit::FAILED);
    // A principal without Write on the subject's topic: refused, not registered.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(
        other.join("bans-value.avsc"),
        r#"{"type":"enum","name":"K","symbols":["A","B"]}"#,
    )
    .unwrap();
    let shop = RegisterConfig {
        dir: other,
        identity: identity(dir.path(), "shop-api"),
        check_only: false,
        ..config.clone()
    };
    let error = register_dir::run(&shop).await.unwrap_err().to_string();
    assert!(
        error.contains("40301") && error.contains("bans-value"),
        "{error}"
    );

    // Metrics: requests by route template and status, registrations, compatibility failures.
    let metrics = reqwest::get(format!("http://{}/metrics", server.bound.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        r#"vygoda_registry_requests_total{route="/subjects/{subject}/versions",method="POST",status="200"}"#,
        r#"vygoda_registry_requests_total{route="/subjects/{subject}/versions",method="POST",status="409"}"#,
        r#"vygoda_registry_registrations_total{outcome="new_version"} 2"#,
        r#"vygoda_registry_registrations_total{outcome="existing"} 3"#,
        r#"vygoda_registry_compatibility_failures_total{outcome="register"} 1"#,
        r#"vygoda_registry_compatibility_failures_total{outcome="check"} 1"#,
        "vygoda_registry_auth_failures_total 1",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }

    // Graceful stop: run() returns Ok and the port closes.
    server.stop.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), server.task)
        .await
        .expect("stops in time");
    result.unwrap().unwrap();
    assert!(client.get(format!("{url}/subjects")).send().await.is_err());
}

#[tokio::test]
async fn unreachable_registry_is_reported_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path(), &["admin"]);
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    std::fs::write(schemas.join("x-value.avsc"), r#""string""#).unwrap();
    // A port nothing listens on: bind and drop.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = register_config(dir.path(), format!("https://127.0.0.1:{port}"), &schemas);
    let error = register_dir::run(&config).await.unwrap_err();
    assert_eq!(
        error.exit_code(),
        vygoda_common::exit::UNAVAILABLE,
        "{error}"
    );
}
