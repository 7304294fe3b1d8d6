//! HDFS restarted under a running lake writer: the NameNode and the DataNode are killed (SIGKILL)
//! mid-stream and started again by the platform controller. The writer's storage calls retry
//! through the outage, it never exits, and the lake ends with every offset exactly once.
//! Alone in its test binary so that no other test sees HDFS go away.

mod live;

use std::time::Duration;

use live::{hdfs, kafka_offsets, records, register, spawn_writer, writer_args};
use vygoda_lake_writer::testkit::lake_offsets;
use vygoda_tests::{eventually, produce, unique_name, TestPlatform};

/// Sum of the writer's `vygoda_lake_writer_storage_retries_total` series (None: no answer).
async fn storage_retries(metrics: &str) -> Option<f64> {
    let body = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(
        body.lines()
            .filter(|l| l.starts_with("vygoda_lake_writer_storage_retries_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

fn kill_hdfs(tp: &TestPlatform) {
    for name in ["hdfs-namenode", "hdfs-datanode"] {
        let pid: i32 = std::fs::read_to_string(tp.pid_file(name))
            .unwrap_or_else(|e| panic!("pid file of {name}: {e}"))
            .trim()
            .parse()
            .expect("pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap_or_else(|e| panic!("kill {name}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdfs_restart_while_writing_is_ridden_out_with_retries() {
    const N: usize = 20_000;
    let tp = TestPlatform::get();
    let topic = unique_name("lake-hdfs-restart");
    let _guard = tp.create_topic("analytics", &topic, 3, false).await;
    let id = register(tp, &topic).await;
    let all = records(id, N);
    let admin = tp.kafka_props("analytics", "admin");
    produce(&admin, &topic, &all[..N / 2]).await;

    let dir = tp.hdfs_dir("lake-hdfs-restart");
    let lake = hdfs(&dir.url);
    let metrics = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").to_string()
    };
    let mut args = writer_args(
        tp,
        &topic,
        &dir.url,
        &["--max-file-records", "1000", "--max-file-age", "1s"],
    );
    let at = args
        .iter()
        .position(|a| a == "--metrics-addr")
        .expect("flag");
    args[at + 1] = metrics.clone();
    let mut writer = spawn_writer(&args);

    eventually(
        "files committed before the outage",
        Duration::from_secs(120),
        || {
            let (lake, topic) = (&lake, &topic);
            async move {
                lake_offsets(lake, topic)
                    .await
                    .ok()
                    .filter(|o| !o.is_empty())
            }
        },
    )
    .await;

    kill_hdfs(tp);
    produce(&admin, &topic, &all[N / 2..]).await;
    // The writer has met the outage: at least one storage call failed and is being retried.
    let outcome = tokio::time::timeout(
        Duration::from_secs(120),
        eventually("a retried storage call", Duration::from_secs(120), || {
            let metrics = &metrics;
            async move { storage_retries(metrics).await.filter(|n| *n > 0.0) }
        }),
    )
    .await;
    tp.heal();
    outcome.expect("the writer never retried a storage call while HDFS was down");
    assert!(
        writer.is_running(),
        "the writer exited during the outage; log {}",
        writer.log_path().display()
    );

    let expected = kafka_offsets(tp, &topic);
    assert_eq!(expected.len(), N);
    let got = eventually(
        "the lake to hold every offset",
        Duration::from_secs(300),
        || {
            let (lake, topic, n) = (&lake, &topic, expected.len());
            async move {
                lake_offsets(lake, topic)
                    .await
                    .ok()
                    .filter(|o| o.len() >= n)
            }
        },
    )
    .await;
    assert_eq!(got, expected, "every offset exactly once after the restart");
    let status = writer.terminate(Duration::from_secs(60));
    assert!(
        status.success(),
        "SIGTERM after the outage: {status:?}; log {}",
        writer.log_path().display()
    );
}
