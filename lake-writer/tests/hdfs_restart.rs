//! HDFS restarted under a running lake writer: the NameNode and the DataNode are killed (SIGKILL)
//! mid-stream and started again by the platform controller. The storage calls in flight are
//! retried through the outage (by the HDFS client's reconnects and the writer's retry layer), the
//! writer never exits, and the lake ends with every offset exactly once.
//! Alone in its test binary so that no other test sees HDFS go away.

mod live;

use std::time::Duration;

use live::{hdfs, kafka_offsets, records, register, spawn_writer, writer_args};
use vygoda_lake_writer::testkit::lake_offsets;
use vygoda_tests::{eventually, produce, unique_name, Outage, TestPlatform};

fn kill_hdfs(tp: &TestPlatform) -> Outage<'_> {
    let mut outage = tp.kill("hdfs-namenode");
    outage.kill("hdfs-datanode");
    outage
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdfs_restart_while_writing_is_ridden_out_with_retries() {
    const N: usize = 20_000;
    let tp = TestPlatform::get();
    let topic = unique_name("lake-hdfs-restart");
    let _guard = tp.create_topic("analytics", &topic, 3, false).await;
    let id = register(tp, &topic).await;
    produce(
        &tp.kafka_props("analytics", "admin"),
        &topic,
        &records(id, N),
    )
    .await;

    let dir = tp.hdfs_dir("lake-hdfs-restart");
    let lake = hdfs(&dir.url);
    let args = writer_args(
        tp,
        &topic,
        &dir.url,
        &["--max-file-records", "1000", "--max-file-age", "1s"],
    );
    let mut writer = spawn_writer(&args);
    let before = eventually(
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
    // ~20 files of 1,000 records at ~0.5 s each: HDFS goes away in the middle of the writing,
    // and stays away while the controller starts it again (several seconds).
    let outage = kill_hdfs(tp);
    assert!(before.len() < N, "the writer finished before the outage");
    outage.heal();
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
