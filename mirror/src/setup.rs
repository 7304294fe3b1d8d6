//! Start-up: which source partitions exist, and destination topics that match them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use vygoda_common::kafka::client_config;

use crate::{Config, MirrorError};

/// Topic settings carried over to a created destination topic. cleanup.policy is what makes a
/// copy of a compacted topic a compacted topic; retention and message size follow so that the
/// copy keeps what the source keeps and accepts every record the source accepted.
const COPIED_CONFIGS: [&str; 3] = ["cleanup.policy", "retention.ms", "max.message.bytes"];

/// A source topic to copy.
#[derive(Debug, Clone)]
pub(crate) struct SourceTopic {
    pub name: String,
    pub partitions: usize,
    /// Settings to give the destination topic if the mirror creates it.
    pub configs: Vec<(String, String)>,
}

/// A consumer used only for metadata and watermarks: no group.id, so librdkafka never looks
/// up a group coordinator with it.
pub(crate) fn metadata_client(
    props: &BTreeMap<String, String>,
    cluster: &str,
) -> Result<BaseConsumer, MirrorError> {
    client_config(props, &[("enable.auto.commit", "false")])
        .create()
        .map_err(|source| MirrorError::Client {
            cluster: cluster.to_owned(),
            source,
        })
}

/// Partition counts of `topics` on a cluster; `None` for a topic that does not exist.
pub(crate) async fn partition_counts(
    props: &BTreeMap<String, String>,
    cluster: &str,
    topics: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, Option<usize>>, MirrorError> {
    let client = metadata_client(props, cluster)?;
    let topics = topics.to_vec();
    let cluster_name = cluster.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut out = BTreeMap::new();
        for topic in topics {
            let md = client.fetch_metadata(Some(&topic), timeout).map_err(|e| {
                MirrorError::Unavailable {
                    cluster: cluster_name.clone(),
                    what: format!("metadata of {topic}: {e}"),
                    seconds: timeout.as_secs(),
                }
            })?;
            let count = md
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map(|t| t.partitions().len())
                .filter(|&n| n > 0);
            out.insert(topic, count);
        }
        Ok(out)
    })
    .await
    .map_err(|e| MirrorError::Task(e.to_string()))?
}

/// Every configured source topic with its partition count (and settings, when the mirror may
/// create destination topics).
pub(crate) async fn discover_sources(config: &Config) -> Result<Vec<SourceTopic>, MirrorError> {
    let counts = partition_counts(
        &config.source,
        &config.source_cluster,
        &config.topics,
        config.startup_timeout,
    )
    .await?;
    let mut sources = Vec::new();
    for (name, count) in counts {
        let partitions = count.ok_or_else(|| MirrorError::MissingSource {
            cluster: config.source_cluster.clone(),
            topic: name.clone(),
        })?;
        sources.push(SourceTopic {
            name,
            partitions,
            configs: Vec::new(),
        });
    }
    if config.create_topics {
        let admin = admin_client(&config.source, &config.source_cluster)?;
        let opts = AdminOptions::new().request_timeout(Some(config.startup_timeout));
        for s in &mut sources {
            s.configs = describe(&admin, &opts, &s.name).await?;
        }
    }
    Ok(sources)
}

fn admin_client(
    props: &BTreeMap<String, String>,
    cluster: &str,
) -> Result<AdminClient<DefaultClientContext>, MirrorError> {
    client_config(props, &[])
        .create()
        .map_err(|source| MirrorError::Client {
            cluster: cluster.to_owned(),
            source,
        })
}

async fn describe(
    admin: &AdminClient<DefaultClientContext>,
    opts: &AdminOptions,
    topic: &str,
) -> Result<Vec<(String, String)>, MirrorError> {
    let err = |detail: String| MirrorError::Admin {
        what: "describe the settings of source",
        topic: topic.to_owned(),
        detail,
    };
    let results = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], opts)
        .await
        .map_err(|e| err(e.to_string()))?;
    let resource = results
        .into_iter()
        .next()
        .ok_or_else(|| err("empty answer".into()))?
        .map_err(|code| err(code.to_string()))?;
    Ok(resource
        .entries
        .into_iter()
        .filter(|e| COPIED_CONFIGS.contains(&e.name.as_str()))
        // cleanup.policy always (it decides what the copy is); the others only when set.
        .filter(|e| e.name == "cleanup.policy" || !e.is_default)
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect())
}

/// Make sure every destination topic exists with the source's partition count.
pub(crate) async fn ensure_destinations(
    config: &Config,
    sources: &[SourceTopic],
) -> Result<(), MirrorError> {
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let existing = partition_counts(
        &config.destination,
        &config.destination_cluster,
        &names,
        config.startup_timeout,
    )
    .await?;
    let missing: Vec<&SourceTopic> = sources
        .iter()
        .filter(|s| existing.get(&s.name).copied().flatten().is_none())
        .collect();
    if let Some(s) = missing.first().filter(|_| !config.create_topics) {
        return Err(MirrorError::MissingDestination {
            topic: s.name.clone(),
            partitions: s.partitions,
        });
    }
    if !missing.is_empty() {
        create(config, &missing).await?;
    }

    // Check every topic, created ones included, once the cluster's metadata shows them all.
    let deadline = Instant::now() + config.startup_timeout;
    loop {
        let counts = partition_counts(
            &config.destination,
            &config.destination_cluster,
            &names,
            config.startup_timeout,
        )
        .await?;
        let mut pending = None;
        for s in sources {
            match counts.get(&s.name).copied().flatten() {
                Some(n) if n == s.partitions => {}
                Some(n) if n > s.partitions || !missing.iter().any(|m| m.name == s.name) => {
                    return Err(MirrorError::PartitionMismatch {
                        topic: s.name.clone(),
                        source_partitions: s.partitions,
                        destination: n,
                    })
                }
                _ => pending = Some(s.name.clone()),
            }
        }
        let Some(topic) = pending else {
            return Ok(());
        };
        if Instant::now() > deadline {
            return Err(MirrorError::Unavailable {
                cluster: config.destination_cluster.clone(),
                what: format!("created topic {topic} to show all its partitions"),
                seconds: config.startup_timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create(config: &Config, missing: &[&SourceTopic]) -> Result<(), MirrorError> {
    let admin = admin_client(&config.destination, &config.destination_cluster)?;
    let opts = AdminOptions::new()
        .request_timeout(Some(config.startup_timeout))
        .operation_timeout(Some(config.startup_timeout));
    let new: Vec<NewTopic> = missing
        .iter()
        .map(|s| {
            let partitions = i32::try_from(s.partitions).unwrap_or(i32::MAX);
            s.configs.iter().fold(
                NewTopic::new(
                    &s.name,
                    partitions,
                    TopicReplication::Fixed(config.replication_factor),
                ),
                |t, (k, v)| t.set(k, v),
            )
        })
        .collect();
    let results = admin
        .create_topics(&new, &opts)
        .await
        .map_err(|e| MirrorError::Admin {
            what: "create destination",
            topic: missing
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            detail: e.to_string(),
        })?;
    for result in results {
        match result {
            Ok(topic) => {
                let s = missing.iter().find(|s| s.name == topic);
                tracing::info!(
                    topic,
                    partitions = s.map(|s| s.partitions),
                    configs = ?s.map(|s| &s.configs),
                    "created destination topic"
                );
            }
            // Another instance or an operator got there first: the partition check follows.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(MirrorError::Admin {
                    what: "create destination",
                    topic,
                    detail: code.to_string(),
                })
            }
        }
    }
    Ok(())
}
