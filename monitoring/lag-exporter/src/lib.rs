//! vygoda-lag-exporter: every consumer group's lag on each cluster, as the brokers see it.
//!
//! Each look lists the groups (ListGroups), reads each group's committed offsets (OffsetFetch)
//! and the high watermarks of the partitions they name (ListOffsets), and replaces what
//! /metrics shows for that cluster. It connects with its own certificate identity and reads
//! only: Describe on topics and groups is all it is granted (`kafka/acls.toml`). Lag is counted
//! in offsets, so on a compacted topic it reads a little high.
//!
//! Written here rather than taken off the shelf: the usual Go exporters are not served by the
//! module proxy these machines reach, and this one shares the platform's identity and config.

pub mod config;
mod metrics;
pub(crate) mod probe;

use std::net::SocketAddr;
use std::time::Instant;

use prometheus_client::registry::Registry;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use vygoda_common::access::{Access, Operation, Resource};

pub use config::Config;
use probe::Probe;

#[derive(Debug, thiserror::Error)]
pub enum LagError {
    #[error("kafka client for {cluster}: {source}; check --platform / -X properties")]
    Client {
        cluster: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("{cluster} cluster did not answer ({what}): {source}; is it up? (`make status`)")]
    Unavailable {
        cluster: String,
        what: &'static str,
        source: rdkafka::error::KafkaError,
    },
    #[error(transparent)]
    Metrics(#[from] vygoda_common::metrics::MetricsError),
    #[error("internal task failed: {0}")]
    Task(String),
}

impl LagError {
    pub fn exit_code(&self) -> i32 {
        use vygoda_common::exit;
        match self {
            LagError::Client { .. } | LagError::Metrics(_) => exit::USAGE,
            LagError::Unavailable { .. } => exit::UNAVAILABLE,
            LagError::Task(_) => exit::FAILED,
        }
    }
}

/// Everything the exporter does on Kafka, for the ACL check: Describe on every topic
/// (metadata, watermarks, a group's committed offsets) and on every group (list, offsets).
pub fn declared_access(config: &Config) -> Vec<Access> {
    let mut out = Vec::new();
    for (cluster, _) in &config.clusters {
        for resource in [Resource::Topic("*".into()), Resource::Group("*".into())] {
            out.push(Access {
                principal: config.principal.clone(),
                cluster: cluster.clone(),
                resource,
                operation: Operation::Describe,
            });
        }
    }
    out
}

/// The exporter from start to graceful shutdown.
/// `ready`, when given, receives the bound /metrics address once it serves (tests use port 0).
pub async fn run(
    config: Config,
    stop: CancellationToken,
    ready: Option<oneshot::Sender<SocketAddr>>,
) -> Result<(), LagError> {
    // 1. One probe per cluster. Creating clients does not connect yet: a cluster that is down
    //    at start shows as `cluster_up 0` instead of keeping the exporter from starting.
    let mut probes = Vec::new();
    for (cluster, props) in &config.clusters {
        probes.push(Probe::new(
            cluster,
            props,
            config.timeout,
            &config.exclude_groups,
        )?);
    }

    // 2. The /metrics endpoint, stopped by the same token.
    let mut registry = Registry::default();
    let metrics = metrics::Metrics::register(&mut registry);
    let bound = vygoda_common::metrics::serve(config.metrics_addr, registry, stop.clone()).await?;
    if let Some(ready) = ready {
        let _ = ready.send(bound);
    }

    // 3. Look at every cluster, then wait for the next round or for the signal. Looks are
    //    blocking librdkafka requests and run on the blocking pool, one cluster at a time.
    loop {
        let (back, looks) = tokio::task::spawn_blocking(move || {
            let looks: Vec<_> = probes
                .iter_mut()
                .map(|probe| {
                    let started = Instant::now();
                    let result = probe.look();
                    (
                        probe.cluster().to_owned(),
                        started.elapsed().as_secs_f64(),
                        result,
                    )
                })
                .collect();
            (probes, looks)
        })
        .await
        .map_err(|e| LagError::Task(e.to_string()))?;
        probes = back;
        for (cluster, seconds, result) in looks {
            match result {
                Ok(view) => {
                    tracing::debug!(%cluster, groups = view.groups.len(), seconds, "looked");
                    metrics.looked(&cluster, seconds, Some(view));
                }
                Err(error) => {
                    tracing::warn!(%cluster, %error, "look failed; trying again next round");
                    metrics.looked(&cluster, seconds, None);
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(config.interval) => {}
        }
    }

    // 4. Nothing to flush or commit: the exporter only reads.
    Ok(())
}
