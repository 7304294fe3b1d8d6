//! Throughput of the mirror on the local platform: fill a fresh prod topic, then time how fast
//! the mirror copies it to analytics. Run through `mirror/benches/mirror_bench.sh`.

use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use vygoda_common::kafka::client_config;
use vygoda_mirror::config::Args as MirrorArgs;
use vygoda_tests::{unique_name, TestPlatform};

#[derive(Debug, Parser)]
struct Args {
    /// Records to copy.
    #[arg(long, default_value_t = 200_000)]
    records: u32,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
}

fn total(props: &std::collections::BTreeMap<String, String>, topic: &str, partitions: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = client_config(props, &[]).create().expect("client");
    (0..partitions)
        .map(|p| {
            c.fetch_watermarks(topic, p, Duration::from_secs(10))
                .map_or(0, |w| w.1)
        })
        .sum()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let tp = TestPlatform::get();
    let topic = unique_name("mirror-bench");
    let _src = tp
        .create_topic("prod", &topic, args.partitions, false)
        .await;
    let _dst = tp
        .create_topic("analytics", &topic, args.partitions, false)
        .await;
    let prod = tp.kafka_props("prod", "admin");
    let analytics = tp.kafka_props("analytics", "admin");

    let producer: FutureProducer = client_config(
        &prod,
        &[
            ("enable.idempotence", "true"),
            ("linger.ms", "20"),
            ("queue.buffering.max.messages", "500000"),
        ],
    )
    .create()
    .expect("producer");
    let value = vec![b'x'; args.value_bytes];
    let started = Instant::now();
    let mut pending = Vec::with_capacity(10_000);
    for i in 0..args.records {
        let key = format!("key-{i}");
        let r = FutureRecord::to(&topic).key(&key).payload(&value);
        pending.push(producer.send_result(r).expect("queue"));
        if pending.len() == 10_000 {
            for f in pending.drain(..) {
                f.await.expect("delivery").expect("produce");
            }
        }
    }
    for f in pending {
        f.await.expect("delivery").expect("produce");
    }
    let n = i64::from(args.records);
    eprintln!(
        "filled {topic}: {n} records in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let platform = tp.platform_file();
    let config = MirrorArgs::try_parse_from([
        "mirror",
        "--platform",
        platform.to_str().expect("path"),
        "--topics",
        &topic,
        "--metrics-addr",
        "127.0.0.1:0",
        "--resume-settle",
        "0",
    ])
    .expect("flags")
    .into_config()
    .expect("config");
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mirror = tokio::spawn(vygoda_mirror::run(config, stop.clone()));
    let mut first: Option<(Instant, i64)> = None;
    loop {
        let copied = total(&analytics, &topic, args.partitions);
        if copied > 0 && first.is_none() {
            first = Some((Instant::now(), copied));
        }
        if copied >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "mirror too slow or stuck"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    stop.cancel();
    mirror.await.expect("join").expect("mirror");
    let (t0, c0) = first.expect("copied something");
    let steady = (n - c0) as f64 / t0.elapsed().as_secs_f64().max(1e-3);
    println!(
        "mirror: {n} records x {} B, {} partitions: {:.0} records/s end to end ({wall:.1}s incl. start-up), {steady:.0} records/s steady",
        args.value_bytes,
        args.partitions,
        n as f64 / wall
    );
}
