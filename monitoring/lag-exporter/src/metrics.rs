//! What /metrics shows. Group offsets are rendered from the latest look at each cluster on every
//! scrape (a collector), so a scrape never sees half of a look, and a group that disappeared
//! disappears from the output with the next look.
//!
//! Names follow the widely used kafka_exporter, so its dashboards and alerts apply as they are:
//! - `kafka_consumergroup_current_offset{cluster,consumergroup,topic,partition}`
//! - `kafka_consumergroup_lag{cluster,consumergroup,topic,partition}`: high watermark −
//!   committed offset, never negative
//! - `kafka_consumergroup_lag_sum{cluster,consumergroup,topic}`
//! - `kafka_consumergroup_members{cluster,consumergroup,state}`
//! - `kafka_topic_partition_current_offset{cluster,topic,partition}` (partitions some group
//!   committed on)
//!
//! And the exporter's own: `vygoda_lag_exporter_cluster_up{cluster}` (1 when the last look
//! succeeded), `vygoda_lag_exporter_looks_total{cluster,outcome}`,
//! `vygoda_lag_exporter_look_seconds{cluster}` (histogram),
//! `vygoda_lag_exporter_group_errors_total{cluster}` (groups whose offsets could not be read).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::probe::View;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabels {
    cluster: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    cluster: String,
    outcome: &'static str,
}

/// The latest view of each cluster; `None` after a failed look.
#[derive(Debug, Default)]
struct Views(Mutex<BTreeMap<String, Option<View>>>);

type Labels = Vec<(&'static str, String)>;

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: Vec<(Labels, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Views {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let views = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (mut current, mut lag, mut sum, mut members, mut high) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (cluster, view) in views.iter() {
            let Some(view) = view else { continue };
            for c in &view.committed {
                let labels: Labels = vec![
                    ("cluster", cluster.clone()),
                    ("consumergroup", c.group.clone()),
                    ("topic", c.topic.clone()),
                    ("partition", c.partition.to_string()),
                ];
                if let Some(l) = view.lag(c) {
                    lag.push((labels.clone(), l));
                }
                current.push((labels, c.offset));
            }
            for ((group, topic), total) in view.lag_by_topic() {
                let labels = vec![
                    ("cluster", cluster.clone()),
                    ("consumergroup", group),
                    ("topic", topic),
                ];
                sum.push((labels, total));
            }
            for g in &view.groups {
                let labels = vec![
                    ("cluster", cluster.clone()),
                    ("consumergroup", g.name.clone()),
                    ("state", g.state.clone()),
                ];
                members.push((labels, i64::try_from(g.members).unwrap_or(i64::MAX)));
            }
            for ((topic, partition), h) in &view.high {
                let labels = vec![
                    ("cluster", cluster.clone()),
                    ("topic", topic.clone()),
                    ("partition", partition.to_string()),
                ];
                high.push((labels, *h));
            }
        }
        let e = &mut encoder;
        gauge(
            e,
            "kafka_consumergroup_current_offset",
            "Committed offset of a group on a partition",
            current,
        )?;
        gauge(
            e,
            "kafka_consumergroup_lag",
            "Records between a group's committed offset and the partition's high watermark",
            lag,
        )?;
        gauge(
            e,
            "kafka_consumergroup_lag_sum",
            "A group's lag summed over a topic's partitions",
            sum,
        )?;
        gauge(
            e,
            "kafka_consumergroup_members",
            "Members of a group, by group state",
            members,
        )?;
        gauge(
            e,
            "kafka_topic_partition_current_offset",
            "High watermark of a partition some group committed on",
            high,
        )?;
        Ok(())
    }
}

/// Handles the spine updates.
#[derive(Debug, Clone)]
pub struct Metrics {
    views: Arc<Views>,
    up: Family<ClusterLabels, Gauge>,
    looks: Family<OutcomeLabels, Counter>,
    look_seconds: Family<ClusterLabels, Histogram>,
    group_errors: Family<ClusterLabels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Metrics {
        let views = Arc::new(Views::default());
        registry.register_collector(Box::new(Arc::clone(&views)));
        let metrics = Metrics {
            views,
            up: Family::default(),
            looks: Family::default(),
            look_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.01, 2.0, 12))
            }),
            group_errors: Family::default(),
        };
        registry.register(
            "vygoda_lag_exporter_cluster_up",
            "1 when the last look at the cluster succeeded",
            metrics.up.clone(),
        );
        registry.register(
            "vygoda_lag_exporter_looks",
            "Looks at a cluster, by outcome (ok, failed)",
            metrics.looks.clone(),
        );
        registry.register(
            "vygoda_lag_exporter_look_seconds",
            "Time one look at a cluster took",
            metrics.look_seconds.clone(),
        );
        registry.register(
            "vygoda_lag_exporter_group_errors",
            "Groups whose committed offsets could not be read in a look",
            metrics.group_errors.clone(),
        );
        metrics
    }

    /// Record one look's outcome; a failed look removes the cluster's group series (stale
    /// offsets would read as a lag that does not move) and sets `cluster_up` to 0.
    pub fn looked(&self, cluster: &str, seconds: f64, view: Option<View>) {
        let labels = ClusterLabels {
            cluster: cluster.to_owned(),
        };
        self.look_seconds.get_or_create(&labels).observe(seconds);
        self.up
            .get_or_create(&labels)
            .set(i64::from(view.is_some()));
        let outcome = if view.is_some() { "ok" } else { "failed" };
        self.looks
            .get_or_create(&OutcomeLabels {
                cluster: cluster.to_owned(),
                outcome,
            })
            .inc();
        if let Some(v) = &view {
            self.group_errors
                .get_or_create(&labels)
                .inc_by(v.failed_groups.len() as u64);
        }
        self.views
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(cluster.to_owned(), view);
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;
    use crate::probe::{Committed, Group};

    #[test]
    fn a_look_renders_offsets_lag_and_members_and_a_failed_look_removes_them() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let view = View {
            groups: vec![Group {
                name: "ban-filter".into(),
                state: "Stable".into(),
                members: 1,
            }],
            committed: vec![Committed {
                group: "ban-filter".into(),
                topic: "products".into(),
                partition: 2,
                offset: 40,
            }],
            high: [(("products".into(), 2), 45)].into(),
            failed_groups: Vec::new(),
        };
        metrics.looked("prod", 0.02, Some(view));
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let row = r#"cluster="prod",consumergroup="ban-filter",topic="products",partition="2""#;
        assert!(
            text.contains(&format!("kafka_consumergroup_lag{{{row}}} 5")),
            "{text}"
        );
        assert!(
            text.contains(&format!("kafka_consumergroup_current_offset{{{row}}} 40")),
            "{text}"
        );
        assert!(text.contains(r#"kafka_consumergroup_lag_sum{cluster="prod",consumergroup="ban-filter",topic="products"} 5"#), "{text}");
        assert!(text.contains(r#"kafka_consumergroup_members{cluster="prod",consumergroup="ban-filter",state="Stable"} 1"#), "{text}");
        assert!(
            text.contains(r#"vygoda_lag_exporter_cluster_up{cluster="prod"} 1"#),
            "{text}"
        );

        metrics.looked("prod", 0.02, None);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(!text.contains("kafka_consumergroup_lag{"), "{text}");
        assert!(
            text.contains(r#"vygoda_lag_exporter_cluster_up{cluster="prod"} 0"#),
            "{text}"
        );
    }
}
