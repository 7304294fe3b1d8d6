//! `kafka/topics.toml`: the topics of both clusters and their settings.
//!
//! Values are `[defaults]` overridden per topic, the same in production and on the local
//! platform (three nodes per cluster there too, so replication factor 3 is real). This
//! module renders the production `kafka-topics.sh --create` commands (`make acls` writes them to
//! kafka/generated/topics-<cluster>.sh) and lets tests compare the production description with
//! the table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use vygoda_common::acl::CLUSTERS;

#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    #[error("cannot read topic table {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("topic table is not valid TOML for its schema: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("topic `{topic}`: {problem}; fix kafka/topics.toml")]
    Bad { topic: String, problem: String },
    #[error("cluster `{0}` is unknown (known: prod, analytics)")]
    UnknownCluster(String),
}

/// Settings a topic may override; every field optional so a topic sets only what differs.
#[derive(Debug, Clone, Default, Deserialize)]
struct Settings {
    replication_factor: Option<i32>,
    min_insync_replicas: Option<i32>,
    cleanup_policy: Option<String>,
    retention_ms: Option<i64>,
}

impl Settings {
    fn over(&self, base: &Settings) -> Settings {
        Settings {
            replication_factor: self.replication_factor.or(base.replication_factor),
            min_insync_replicas: self.min_insync_replicas.or(base.min_insync_replicas),
            cleanup_policy: self.cleanup_policy.clone().or(base.cleanup_policy.clone()),
            retention_ms: self.retention_ms.or(base.retention_ms),
        }
    }
}

// Lenient about extra keys (documentation fields such as `key` and `value_subject`), which
// other tools read.
#[derive(Debug, Deserialize)]
struct RawTopic {
    clusters: Vec<String>,
    partitions: i32,
    #[serde(flatten)]
    settings: Settings,
}

#[derive(Debug, Deserialize)]
struct RawTable {
    defaults: Settings,
    topics: BTreeMap<String, RawTopic>,
}

/// One topic on one cluster, every setting resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub min_insync_replicas: i32,
    pub cleanup_policy: String,
    pub retention_ms: i64,
}

/// The parsed `kafka/topics.toml`.
#[derive(Debug)]
pub struct TopicTable {
    raw: RawTable,
}

impl TopicTable {
    pub fn load(path: &Path) -> Result<Self, TopicsError> {
        let text = std::fs::read_to_string(path).map_err(|source| TopicsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TopicsError> {
        let table = TopicTable {
            raw: toml::from_str(text)?,
        };
        // Resolve everything once so a hole in the table fails at load, naming the topic.
        for cluster in CLUSTERS {
            table.production(cluster)?;
        }
        Ok(table)
    }

    /// Settings of the topics that exist on `cluster`, by name (production and local alike).
    pub fn production(&self, cluster: &str) -> Result<Vec<TopicSpec>, TopicsError> {
        if !CLUSTERS.contains(&cluster) {
            return Err(TopicsError::UnknownCluster(cluster.to_owned()));
        }
        let mut out = Vec::new();
        for (name, t) in &self.raw.topics {
            let bad = |problem: &str| TopicsError::Bad {
                topic: name.clone(),
                problem: problem.to_owned(),
            };
            if let Some(c) = t.clusters.iter().find(|c| !CLUSTERS.contains(&c.as_str())) {
                return Err(bad(&format!("unknown cluster `{c}`")));
            }
            if !t.clusters.iter().any(|c| c == cluster) {
                continue;
            }
            let s = t.settings.over(&self.raw.defaults);
            let spec = TopicSpec {
                name: name.clone(),
                partitions: t.partitions,
                replication_factor: s
                    .replication_factor
                    .ok_or_else(|| bad("no replication_factor"))?,
                min_insync_replicas: s
                    .min_insync_replicas
                    .ok_or_else(|| bad("no min_insync_replicas"))?,
                cleanup_policy: s.cleanup_policy.ok_or_else(|| bad("no cleanup_policy"))?,
                retention_ms: s.retention_ms.ok_or_else(|| bad("no retention_ms"))?,
            };
            if spec.partitions < 1 {
                return Err(bad("partitions must be at least 1"));
            }
            if spec.min_insync_replicas < 1 || spec.min_insync_replicas > spec.replication_factor {
                return Err(bad("min_insync_replicas must be in 1..=replication_factor"));
            }
            if !matches!(
                spec.cleanup_policy.as_str(),
                "delete" | "compact" | "compact,delete"
            ) {
                return Err(bad(
                    "cleanup_policy must be delete, compact or compact,delete",
                ));
            }
            out.push(spec);
        }
        Ok(out)
    }

    /// The `kafka-topics.sh --create` commands for `cluster`, production values.
    pub fn render_script(&self, cluster: &str) -> Result<String, TopicsError> {
        let specs = self.production(cluster)?;
        let mut out = String::new();
        let _ = write!(
            out,
            "#!/usr/bin/env bash\n\
# GENERATED from kafka/topics.toml by `make acls` (vygoda-acls topics --cluster {cluster}).\n\
# Do not edit: change the table and regenerate; a test fails while this file is stale.\n\
#\n\
# Topics of the {cluster} cluster with production settings. Run as the admin super user:\n\
#   BOOTSTRAP=<{cluster} TLS listeners> COMMAND_CONFIG=kafka/prod/admin-client.properties \\\n\
#     bash kafka/generated/topics-{cluster}.sh\n\
# --if-not-exists leaves existing topics alone: changing a setting later is `kafka-configs --alter`.\n\
set -euo pipefail\n\
: \"${{BOOTSTRAP:?set BOOTSTRAP to the {cluster} cluster's TLS listeners}}\"\n\
: \"${{COMMAND_CONFIG:?set COMMAND_CONFIG to an admin client properties file (mutual TLS, certificate CN=admin)}}\"\n\
KAFKA_TOPICS=\"${{KAFKA_TOPICS:-kafka-topics.sh}}\"\n"
        );
        for s in specs {
            let _ = writeln!(
                out,
                "\n\"$KAFKA_TOPICS\" --bootstrap-server \"$BOOTSTRAP\" --command-config \"$COMMAND_CONFIG\" \
                 --create --if-not-exists --topic {} --partitions {} --replication-factor {} \
                 --config min.insync.replicas={} --config cleanup.policy={} --config retention.ms={}",
                s.name,
                s.partitions,
                s.replication_factor,
                s.min_insync_replicas,
                s.cleanup_policy,
                s.retention_ms
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"
[defaults]
replication_factor = 3
min_insync_replicas = 2
cleanup_policy = "delete"
retention_ms = 100

[topics.a]
clusters = ["prod"]
partitions = 6
key = "documentation is ignored"

[topics.b]
clusters = ["prod", "analytics"]
partitions = 1
cleanup_policy = "compact"
retention_ms = -1
replication_factor = 5
"#;

    #[test]
    fn settings_resolve_per_topic_over_defaults() {
        let t = TopicTable::parse(TABLE).unwrap();
        let prod = t.production("prod").unwrap();
        assert_eq!(prod.len(), 2);
        assert_eq!(prod[0].replication_factor, 3);
        assert_eq!(prod[1].replication_factor, 5);
        assert_eq!(prod[1].cleanup_policy, "compact");
        assert_eq!(prod[1].retention_ms, -1);
        assert_eq!(t.production("analytics").unwrap().len(), 1);
        assert!(prod.iter().all(|s| s.min_insync_replicas == 2));
    }

    #[test]
    fn renders_create_commands() {
        let script = TopicTable::parse(TABLE)
            .unwrap()
            .render_script("analytics")
            .unwrap();
        assert!(script.contains(
            "--create --if-not-exists --topic b --partitions 1 --replication-factor 5 \
             --config min.insync.replicas=2 --config cleanup.policy=compact --config retention.ms=-1\n"
        ));
        assert!(!script.contains("--topic a "));
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let bad = TABLE.replace("replication_factor = 5", "replication_factor = 1");
        let err = TopicTable::parse(&bad).unwrap_err().to_string();
        assert!(
            err.contains("`b`") && err.contains("min_insync_replicas"),
            "{err}"
        );
    }

    #[test]
    fn the_repository_table_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kafka/topics.toml");
        let t = TopicTable::load(&path).unwrap();
        assert!(t
            .production("prod")
            .unwrap()
            .iter()
            .any(|s| s.name == "products"));
    }
}
