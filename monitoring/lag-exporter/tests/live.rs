//! The exporter against the live brokers: a group's lag is the records it has not committed,
//! and an unreachable cluster shows as down instead of as stale lag.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use vygoda_common::kafka::client_config;
use vygoda_lag_exporter::config::Args;
use vygoda_tests::{eventually, produce, unique_name, TestPlatform};

/// A running exporter, stopped (and awaited) on drop of the token's owner.
struct Exporter {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), vygoda_lag_exporter::LagError>>,
}

impl Exporter {
    async fn start(args: &[&str]) -> Exporter {
        let mut argv = vec![
            "lag-exporter",
            "--metrics-addr",
            "127.0.0.1:0",
            "--interval",
            "0.5",
        ];
        argv.extend_from_slice(args);
        let config = Args::try_parse_from(argv)
            .expect("flags")
            .into_config()
            .expect("config");
        let stop = CancellationToken::new();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(vygoda_lag_exporter::run(config, stop.clone(), Some(tx)));
        let addr = rx.await.expect("exporter did not start");
        Exporter { addr, stop, task }
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.addr))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("body")
    }

    /// The value of the one series whose name and labels are `series`, if shown.
    async fn value(&self, series: &str) -> Option<i64> {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task
            .await
            .expect("exporter task")
            .expect("exporter stops cleanly");
    }
}

fn commit(
    props: &std::collections::BTreeMap<String, String>,
    group: &str,
    offsets: &[(&str, i32, i64)],
) {
    let consumer: BaseConsumer = client_config(props, &[("group.id", group)])
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, offset) in offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
    }
    consumer.commit(&tpl, CommitMode::Sync).expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_lag_is_what_it_has_not_committed_and_follows_its_commits() {
    let platform = TestPlatform::get();
    let topic = unique_name("lag");
    let group = unique_name("lag-group");
    let _topic = platform.create_topic("prod", &topic, 2, false).await;
    // Any service principal may use the test namespace; the exporter reads as `monitoring`.
    let props = platform.kafka_props("prod", "shop-api");
    let records: Vec<_> = (0..10)
        .map(|i| (Some(format!("k{i}").into_bytes()), Some(b"v".to_vec())))
        .collect();
    produce(&props, &topic, &records).await;
    let probe: BaseConsumer = client_config(&props, &[]).create().expect("consumer");
    let high: Vec<i64> = (0..2)
        .map(|p| {
            probe
                .fetch_watermarks(&topic, p, Duration::from_secs(10))
                .expect("watermarks")
                .1
        })
        .collect();
    assert_eq!(high.iter().sum::<i64>(), 10);

    // Half of each partition committed: lag is the other half.
    commit(
        &props,
        &group,
        &[(&topic, 0, high[0] / 2), (&topic, 1, high[1] / 2)],
    );
    let expected: i64 = high.iter().map(|h| h - h / 2).sum();

    let platform_file = platform.platform_file();
    let exporter = Exporter::start(&[
        "--platform",
        platform_file.to_str().expect("utf-8 path"),
        "--clusters",
        "prod",
    ])
    .await;
    let sum = format!(
        r#"kafka_consumergroup_lag_sum{{cluster="prod",consumergroup="{group}",topic="{topic}"}}"#
    );
    let seen = eventually(
        "the group's lag on /metrics",
        Duration::from_secs(60),
        || async { exporter.value(&sum).await },
    )
    .await;
    assert_eq!(seen, expected);
    let partition0 = format!(
        r#"kafka_consumergroup_lag{{cluster="prod",consumergroup="{group}",topic="{topic}",partition="0"}}"#
    );
    assert_eq!(
        exporter.value(&partition0).await,
        Some(high[0] - high[0] / 2)
    );

    // Everything committed: the next look shows no lag.
    commit(
        &props,
        &group,
        &[(&topic, 0, high[0]), (&topic, 1, high[1])],
    );
    eventually("the lag to drop to 0", Duration::from_secs(60), || async {
        (exporter.value(&sum).await == Some(0)).then_some(())
    })
    .await;
    assert_eq!(
        exporter
            .value(r#"vygoda_lag_exporter_cluster_up{cluster="prod"}"#)
            .await,
        Some(1)
    );
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_reads_as_down_not_as_stale_lag() {
    // Nothing listens on port 1: every look fails within the timeout.
    let exporter = Exporter::start(&[
        "--platform",
        "/nonexistent/platform.json",
        "-X",
        "bootstrap.servers=127.0.0.1:1",
        "--clusters",
        "prod",
        "--timeout",
        "1",
    ])
    .await;
    let up = r#"vygoda_lag_exporter_cluster_up{cluster="prod"}"#;
    let value = eventually(
        "cluster_up after the first look",
        Duration::from_secs(30),
        || async { exporter.value(up).await },
    )
    .await;
    assert_eq!(value, 0);
    assert!(!exporter
        .metrics()
        .await
        .contains("kafka_consumergroup_lag{"));
    exporter.stop().await;
}
