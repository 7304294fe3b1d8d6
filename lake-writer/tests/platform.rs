//! Tests on the real local platform (started by the fixture if needed): the exactly-once
//! scenario on HDFS, Kafka → lake end to end, and kill -9 of the real binary.

mod common;
mod live;

use std::collections::BTreeMap;
use std::time::Duration;

use live::{hdfs, kafka_offsets, records, register, spawn_writer, writer_args};
use rand::Rng;
use vygoda_lake_writer::testkit::lake_offsets;
use vygoda_storage::Storage;
use vygoda_tests::{eventually, produce, unique_name, TestPlatform};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdfs_exactly_once_survives_crashes_at_storage_calls() {
    let tp = TestPlatform::get();
    let dir = tp.hdfs_dir("lake-scenario");
    let base = dir.url.clone();
    // HDFS completes each file in ~0.5 s, so a few crash points: inside the first commit
    // group (upload, ready rename, commit point, other renames) and two later ones. The file
    // backend test crashes at every call.
    let points = |total: usize| vec![1, 2, 4, 6, total / 2, total - 1];
    common::crash_everywhere(|name| hdfs(&format!("{base}/{name}")), points).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_to_hdfs_lake_end_to_end() {
    let tp = TestPlatform::get();
    let topic = unique_name("lake-e2e");
    let _guard = tp.create_topic("analytics", &topic, 3, false).await;
    let id = register(tp, &topic).await;
    produce(
        &tp.kafka_props("analytics", "admin"),
        &topic,
        &records(id, 3000),
    )
    .await;
    let dir = tp.hdfs_dir("lake-e2e");
    let args = writer_args(
        tp,
        &topic,
        &dir.url,
        &["--until-caught-up", "--max-file-records", "700"],
    );
    let mut writer = spawn_writer(&args);
    let status = writer
        .wait_timeout(Duration::from_secs(120))
        .unwrap_or_else(|| panic!("writer did not finish; log {}", writer.log_path().display()));
    assert!(
        status.success(),
        "exit {status:?}; log {}",
        writer.log_path().display()
    );

    let lake = hdfs(&dir.url);
    let expected = kafka_offsets(tp, &topic);
    assert_eq!(expected.len(), 3000);
    assert_eq!(
        lake_offsets(&lake, &topic).await.expect("lake readable"),
        expected
    );
    let dead = vygoda_lake_writer::testkit::read_dead_letters(&lake, &topic)
        .await
        .expect("dead letters");
    assert_eq!(
        dead.len(),
        (0..3000).filter(|i| i % 501 == 3 && i % 13 != 7).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    const N: usize = 200_000;
    let tp = TestPlatform::get();
    let topic = unique_name("lake-crash");
    let _guard = tp.create_topic("analytics", &topic, 4, false).await;
    let id = register(tp, &topic).await;
    for chunk in records(id, N).chunks(50_000) {
        produce(&tp.kafka_props("analytics", "admin"), &topic, chunk).await;
    }
    let dir = tp.hdfs_dir("lake-crash");
    let lake = hdfs(&dir.url);
    // Small files so that many commits (and so many crash windows) happen.
    let small = [
        "--max-file-records",
        "3000",
        "--max-file-age",
        "1s",
        "--target-file-bytes",
        "256KiB",
    ];
    let args = writer_args(tp, &topic, &dir.url, &small);
    let mut rng = rand::rng();
    let mut kills = 0;
    let mut seen = BTreeMap::new();
    while kills < 12 {
        let mut writer = spawn_writer(&args);
        let delay = Duration::from_millis(rng.random_range(300..2500));
        tokio::time::sleep(delay).await;
        assert!(
            writer.is_running(),
            "writer died by itself; log {}",
            writer.log_path().display()
        );
        writer.kill9();
        kills += 1;
        let n = lake_offsets(&lake, &topic)
            .await
            .expect("lake readable mid-way")
            .len();
        seen.insert(kills, n);
    }
    let mut done = args.clone();
    done.push("--until-caught-up".into());
    let mut writer = spawn_writer(&done);
    let status = eventually("final writer run", Duration::from_secs(300), || {
        let s = writer.wait_timeout(Duration::from_millis(10));
        async move { s }
    })
    .await;
    assert!(
        status.success(),
        "exit {status:?}; log {}",
        writer.log_path().display()
    );

    let expected = kafka_offsets(tp, &topic);
    assert_eq!(expected.len(), N);
    let got = lake_offsets(&lake, &topic).await.expect("lake readable");
    assert_eq!(
        got.len(),
        N,
        "rows in the lake after {kills} kills ({seen:?})"
    );
    assert_eq!(got, expected, "every offset exactly once");
    assert!(
        seen.values().any(|n| *n > 0 && *n < N),
        "some kills happened mid-way: {seen:?}"
    );
    let hidden: Vec<_> = lake
        .list(&topic)
        .await
        .expect("list")
        .into_iter()
        .filter(|f| f.name().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "temporaries left: {hidden:?}");
}
