//! Helpers shared by the mirror's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use vygoda_common::kafka::client_config;
use vygoda_mirror::config::Args;
use vygoda_mirror::Config;
use vygoda_tests::TestPlatform;

/// Mirror configuration for one test topic, as the binary would build it from flags.
pub fn config(tp: &TestPlatform, topic: &str, extra: &[&str]) -> Config {
    let platform = tp.platform_file();
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut argv = vec![
        "mirror",
        "--platform",
        platform.to_str().expect("utf-8 path"),
        "--topics",
        topic,
        "--metrics-addr",
        &metrics,
        "--resume-settle",
        "0.3",
        "--lag-interval",
        "0.2",
    ];
    argv.extend_from_slice(extra);
    Args::try_parse_from(argv)
        .expect("flags")
        .into_config()
        .expect("config")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// High watermark of every partition of `topic` (empty if the topic does not exist yet).
pub fn high_watermarks(props: &BTreeMap<String, String>, topic: &str) -> Vec<i64> {
    let consumer: BaseConsumer = client_config(props, &[]).create().expect("client");
    let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) else {
        return Vec::new();
    };
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut out = vec![0; partitions.len()];
    for p in partitions {
        if let Ok((_, high)) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)) {
            out[p as usize] = high;
        }
    }
    out
}

pub fn total(props: &BTreeMap<String, String>, topic: &str) -> i64 {
    high_watermarks(props, topic).iter().sum()
}

/// GET /metrics as text.
pub fn scrape(addr: std::net::SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Value of the sample `name{labels}` (labels as printed, e.g. `topic="t",partition="0"`).
pub fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}
