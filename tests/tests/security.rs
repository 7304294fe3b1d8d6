//! The brokers accept only TLS + SCRAM clients with the right password. Each refusal test first
//! shows that a correct client gets through the same broker, so none passes with a broker down.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use vygoda_common::kafka::client_config;
use vygoda_tests::{consume_all, produce, unique_name, TestPlatform};

fn metadata(props: &BTreeMap<String, String>) -> Result<usize, String> {
    let consumer: BaseConsumer = client_config(props, &[("group.id", "vygoda-security-test")])
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

#[tokio::test]
async fn service_principal_produces_and_consumes_over_sasl_ssl() {
    let tp = TestPlatform::get();
    let topic = unique_name("smoke");
    let _guard = tp.create_topic("prod", &topic, 3, false).await;
    let writer = tp.kafka_props("prod", "shop-api");
    assert_eq!(writer["security.protocol"], "SASL_SSL");
    assert_eq!(writer["sasl.mechanism"], "SCRAM-SHA-512");
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
fn anonymous_tls_client_is_refused() {
    let good = working_client(TestPlatform::get(), "prod", "operator");
    let mut anonymous = good.clone();
    anonymous.retain(|k, _| !k.starts_with("sasl."));
    anonymous.insert("security.protocol".into(), "SSL".into());
    assert!(
        metadata(&anonymous).is_err(),
        "TLS client without SASL got metadata"
    );
}

#[test]
fn wrong_password_is_refused() {
    let good = working_client(TestPlatform::get(), "analytics", "lake-writer");
    let mut wrong = good.clone();
    wrong.insert("sasl.password".into(), "not-the-password".into());
    assert!(metadata(&wrong).is_err(), "wrong password got metadata");
}

#[test]
fn client_that_does_not_trust_the_ca_is_refused() {
    let good = working_client(TestPlatform::get(), "prod", "operator");
    let mut untrusting = good.clone();
    // The system trust store does not contain the platform CA.
    untrusting.remove("ssl.ca.location");
    untrusting.insert("ssl.ca.location".into(), "probe".into());
    assert!(
        metadata(&untrusting).is_err(),
        "client without the CA connected"
    );
}
