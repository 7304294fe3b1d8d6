//! The brokers accept only TLS clients that present a certificate from the platform CA, valid
//! now; the certificate's CN is the principal. Each refusal test first shows that a correct
//! client gets through the same broker, so none passes with a broker down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use vygoda_common::kafka::client_config;
use vygoda_tests::{consume_all, produce, unique_name, TestPlatform};

fn metadata(props: &BTreeMap<String, String>) -> Result<usize, String> {
    let consumer: BaseConsumer = client_config(props, &[("group.id", "test-security")])
        .create()
        .map_err(|e| e.to_string())?;
    consumer
        .fetch_metadata(None, Duration::from_secs(8))
        .map(|m| m.brokers().len())
        .map_err(|e| e.to_string())
}

/// The properties of `principal` pinned to the cluster's first broker, after showing that they
/// connect: each refusal below then changes one thing on a broker known to be up.
fn working_client(tp: &TestPlatform, cluster: &str, principal: &str) -> BTreeMap<String, String> {
    let mut good = tp.kafka_props(cluster, principal);
    let broker = tp.platform.clusters[cluster].brokers[0].clone();
    good.insert("bootstrap.servers".into(), broker);
    assert!(
        metadata(&good).is_ok(),
        "control: a correct client must connect"
    );
    good
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key and a certificate request for `cn` in `dir`; returns (key, csr).
fn key_and_request(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    let (key, csr) = (dir.join(format!("{cn}.key")), dir.join(format!("{cn}.csr")));
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN={cn}"),
        "-keyout",
        key.to_str().expect("utf-8 path"),
        "-out",
        csr.to_str().expect("utf-8 path"),
    ]);
    (key, csr)
}

/// `good` with its certificate and key replaced.
fn with_identity(
    good: &BTreeMap<String, String>,
    cert: &Path,
    key: &Path,
) -> BTreeMap<String, String> {
    let mut props = good.clone();
    props.insert(
        "ssl.certificate.location".into(),
        cert.display().to_string(),
    );
    props.insert("ssl.key.location".into(), key.display().to_string());
    props
}

#[tokio::test]
async fn service_principal_produces_and_consumes_over_mutual_tls() {
    let tp = TestPlatform::get();
    let topic = unique_name("smoke");
    let _guard = tp.create_topic("prod", &topic, 3, false).await;
    let writer = tp.kafka_props("prod", "shop-api");
    assert_eq!(writer["security.protocol"], "SSL");
    assert!(writer["ssl.certificate.location"].ends_with("shop-api.pem"));
    let records: Vec<_> = (0..100)
        .map(|i| {
            (
                Some(format!("k{i}").into_bytes()),
                Some(format!("v{i}").into_bytes()),
            )
        })
        .collect();
    produce(&writer, &topic, &records).await;
    let read = consume_all(&tp.kafka_props("prod", "operator"), &topic);
    let mut values: Vec<_> = read.into_iter().filter_map(|r| r.value).collect();
    values.sort();
    let mut expected: Vec<_> = records.into_iter().filter_map(|(_, v)| v).collect();
    expected.sort();
    assert_eq!(values, expected);
}

#[test]
fn plaintext_client_is_refused() {
    let good = working_client(TestPlatform::get(), "prod", "operator");
    let bad: BTreeMap<String, String> = [
        ("bootstrap.servers", good["bootstrap.servers"].as_str()),
        ("security.protocol", "PLAINTEXT"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert!(metadata(&bad).is_err(), "plaintext client got metadata");
}

#[test]
fn tls_client_without_a_certificate_is_refused() {
    let good = working_client(TestPlatform::get(), "prod", "operator");
    let mut anonymous = good.clone();
    anonymous.remove("ssl.certificate.location");
    anonymous.remove("ssl.key.location");
    assert!(
        metadata(&anonymous).is_err(),
        "TLS client without a certificate got metadata"
    );
}

#[test]
fn certificate_from_a_foreign_ca_is_refused() {
    let good = working_client(TestPlatform::get(), "analytics", "lake-writer");
    let dir = tempfile::tempdir().expect("temp dir");
    // A CA of its own issues a certificate with the right name: the name alone must not do.
    let (ca_key, ca) = (dir.path().join("ca.key"), dir.path().join("ca.pem"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=foreign CA",
        "-keyout",
        ca_key.to_str().expect("utf-8 path"),
        "-out",
        ca.to_str().expect("utf-8 path"),
    ]);
    let (key, csr) = key_and_request(dir.path(), "lake-writer");
    let cert = dir.path().join("lake-writer.pem");
    openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().expect("utf-8 path"),
        "-CA",
        ca.to_str().expect("utf-8 path"),
        "-CAkey",
        ca_key.to_str().expect("utf-8 path"),
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        cert.to_str().expect("utf-8 path"),
    ]);
    let foreign = with_identity(&good, &cert, &key);
    assert!(
        metadata(&foreign).is_err(),
        "certificate from a foreign CA got metadata"
    );
}

#[test]
fn expired_certificate_from_the_platform_ca_is_refused() {
    let tp = TestPlatform::get();
    let good = working_client(tp, "prod", "operator");
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, csr) = key_and_request(dir.path(), "operator");
    let cert = dir.path().join("operator.pem");
    // `openssl ca` is the tool that takes explicit validity dates: a month in 2020.
    let tls = tp.root.join(".vygoda/tls");
    let d = dir.path().display();
    std::fs::write(dir.path().join("index.txt"), "").expect("index");
    std::fs::write(dir.path().join("serial"), "1000\n").expect("serial");
    std::fs::write(
        dir.path().join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = platform\n[platform]\ndatabase = {d}/index.txt\n\
             new_certs_dir = {d}\nserial = {d}/serial\ndefault_md = sha256\n\
             policy = any\ncertificate = {ca}\nprivate_key = {ca_key}\n[any]\ncommonName = supplied\n",
            ca = tls.join("ca.pem").display(),
            ca_key = tls.join("ca.key").display(),
        ),
    )
    .expect("ca config");
    openssl(&[
        "ca",
        "-batch",
        "-notext",
        "-config",
        &format!("{d}/ca.cnf"),
        "-startdate",
        "20200101000000Z",
        "-enddate",
        "20200201000000Z",
        "-in",
        csr.to_str().expect("utf-8 path"),
        "-out",
        cert.to_str().expect("utf-8 path"),
    ]);
    let expired = with_identity(&good, &cert, &key);
    assert!(
        metadata(&expired).is_err(),
        "expired certificate got metadata"
    );
}

#[test]
fn client_that_does_not_trust_the_ca_is_refused() {
    let good = working_client(TestPlatform::get(), "prod", "operator");
    let mut untrusting = good.clone();
    // The system trust store does not contain the platform CA.
    untrusting.insert("ssl.ca.location".into(), "probe".into());
    assert!(
        metadata(&untrusting).is_err(),
        "client without the CA connected"
    );
}
