//! One look at one cluster: its consumer groups, their committed offsets, and the high
//! watermarks of the partitions they committed on.
//!
//! librdkafka (as exposed by rdkafka) reads a group's committed offsets only through a consumer
//! configured with that `group.id`, so the probe keeps one idle consumer per group: it never
//! subscribes (never joins the group) and never commits ([`FORCED`]). Consumers of groups
//! that disappear are dropped at the next look.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use vygoda_common::kafka::{client_config, enforce};

use crate::LagError;

/// A group as listed by the brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, ...
    pub state: String,
    pub members: usize,
}

/// One committed offset of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// What one look saw on a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub groups: Vec<Group>,
    pub committed: Vec<Committed>,
    /// High watermark of every partition that some group committed on.
    pub high: BTreeMap<(String, i32), i64>,
    /// Groups whose offsets could not be read this time (name, reason); the rest still count.
    pub failed_groups: Vec<(String, String)>,
}

impl View {
    /// Records behind the high watermark, for one committed offset. Never negative: a
    /// committed offset past the watermark (a topic deleted and re-created under the group)
    /// reads as caught up rather than as negative lag.
    pub fn lag(&self, c: &Committed) -> Option<i64> {
        self.high
            .get(&(c.topic.clone(), c.partition))
            .map(|high| (high - c.offset).max(0))
    }

    /// Lag summed over partitions, per (group, topic).
    pub fn lag_by_topic(&self) -> BTreeMap<(String, String), i64> {
        let mut out = BTreeMap::new();
        for c in &self.committed {
            if let Some(lag) = self.lag(c) {
                *out.entry((c.group.clone(), c.topic.clone())).or_insert(0) += lag;
            }
        }
        out
    }
}

/// The clients of one cluster, kept between looks.
pub struct Probe {
    cluster: String,
    props: BTreeMap<String, String>,
    timeout: Duration,
    exclude: Vec<String>,
    admin: BaseConsumer,
    by_group: HashMap<String, BaseConsumer>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("cluster", &self.cluster)
            .field("groups", &self.by_group.len())
            .finish_non_exhaustive()
    }
}

impl Probe {
    pub fn new(
        cluster: &str,
        props: &BTreeMap<String, String>,
        timeout: Duration,
        exclude: &[String],
    ) -> Result<Probe, LagError> {
        Ok(Probe {
            cluster: cluster.to_owned(),
            props: props.clone(),
            timeout,
            exclude: exclude.to_vec(),
            admin: consumer(cluster, props, None)?,
            by_group: HashMap::new(),
        })
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Groups, committed offsets and watermarks, now. Blocking (librdkafka requests).
    pub fn look(&mut self) -> Result<View, LagError> {
        let name = self.cluster.clone();
        let unavailable = |what: &'static str| {
            let cluster = name.clone();
            move |source| LagError::Unavailable {
                cluster,
                what,
                source,
            }
        };
        // Every partition of every topic a group may have committed on. Internal topics
        // (`__consumer_offsets`, `__transaction_state`) are nobody's input.
        let metadata = self
            .admin
            .fetch_metadata(None, self.timeout)
            .map_err(unavailable("metadata"))?;
        let mut all = TopicPartitionList::new();
        for topic in metadata.topics() {
            if topic.name().starts_with("__") || topic.error().is_some() {
                continue;
            }
            for p in topic.partitions() {
                all.add_partition_offset(topic.name(), p.id(), Offset::Invalid)
                    .map_err(unavailable("partition list"))?;
            }
        }

        let listed = self
            .admin
            .fetch_group_list(None, self.timeout)
            .map_err(unavailable("group list"))?;
        let mut view = View::default();
        for g in listed.groups() {
            if self
                .exclude
                .iter()
                .any(|p| g.name().starts_with(p.as_str()))
            {
                continue;
            }
            view.groups.push(Group {
                name: g.name().to_owned(),
                state: g.state().to_owned(),
                members: g.members().len(),
            });
        }
        view.groups.sort_by(|a, b| a.name.cmp(&b.name));
        let names: BTreeSet<&str> = view.groups.iter().map(|g| g.name.as_str()).collect();
        self.by_group
            .retain(|name, _| names.contains(name.as_str()));

        for group in &names {
            match self.committed(group, &all) {
                Ok(found) => view.committed.extend(found),
                Err(reason) => {
                    tracing::warn!(cluster = %self.cluster, group, %reason,
                        "cannot read the group's committed offsets; skipped this time");
                    view.failed_groups.push(((*group).to_owned(), reason));
                }
            }
        }

        let wanted: BTreeSet<(String, i32)> = view
            .committed
            .iter()
            .map(|c| (c.topic.clone(), c.partition))
            .collect();
        for (topic, partition) in wanted {
            let (_, high) = self
                .admin
                .fetch_watermarks(&topic, partition, self.timeout)
                .map_err(unavailable("watermarks"))?;
            view.high.insert((topic, partition), high);
        }
        Ok(view)
    }

    fn committed(
        &mut self,
        group: &str,
        all: &TopicPartitionList,
    ) -> Result<Vec<Committed>, String> {
        if !self.by_group.contains_key(group) {
            let c = consumer(&self.cluster, &self.props, Some(group)).map_err(|e| e.to_string())?;
            self.by_group.insert(group.to_owned(), c);
        }
        let consumer = &self.by_group[group];
        let tpl = consumer
            .committed_offsets(all.clone(), self.timeout)
            .map_err(|e| e.to_string())?;
        Ok(tpl
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some(Committed {
                    group: group.to_owned(),
                    topic: e.topic().to_owned(),
                    partition: e.partition(),
                    offset,
                }),
                _ => None,
            })
            .collect())
    }
}

/// What keeps the exporter a pure observer, applied after the `-X` pass-through: it must never
/// commit into another service's group.
const FORCED: [(&str, &str); 2] = [
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
];

fn consumer_config(props: &BTreeMap<String, String>, group: Option<&str>) -> ClientConfig {
    let mut cfg = enforce(
        client_config(props, &[]),
        props,
        &FORCED,
        "the exporter never commits offsets",
    );
    if let Some(group) = group {
        cfg.set("group.id", group);
    }
    cfg
}

fn consumer(
    cluster: &str,
    props: &BTreeMap<String, String>,
    group: Option<&str>,
) -> Result<BaseConsumer, LagError> {
    consumer_config(props, group)
        .create()
        .map_err(|source| LagError::Client {
            cluster: cluster.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn committed(group: &str, topic: &str, partition: i32, offset: i64) -> Committed {
        Committed {
            group: group.into(),
            topic: topic.into(),
            partition,
            offset,
        }
    }

    #[test]
    fn lag_is_high_watermark_minus_committed_summed_per_topic() {
        let view = View {
            committed: vec![
                committed("g", "t", 0, 10),
                committed("g", "t", 1, 5),
                committed("g", "u", 0, 7),
                committed("h", "t", 0, 12),
            ],
            high: [
                (("t".into(), 0), 12),
                (("t".into(), 1), 9),
                (("u".into(), 0), 7),
            ]
            .into(),
            ..View::default()
        };
        let sums = view.lag_by_topic();
        assert_eq!(sums[&("g".into(), "t".into())], 2 + 4);
        assert_eq!(sums[&("g".into(), "u".into())], 0);
        assert_eq!(sums[&("h".into(), "t".into())], 0);
    }

    #[test]
    fn a_pass_through_map_cannot_make_it_commit() {
        let props = vygoda_common::kafka::parse_props(&[
            "enable.auto.commit=true".to_owned(),
            "enable.auto.offset.store=true".to_owned(),
        ])
        .unwrap();
        let cfg = consumer_config(&props, Some("g"));
        assert_eq!(cfg.get("enable.auto.commit"), Some("false"));
        assert_eq!(cfg.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(cfg.get("group.id"), Some("g"));
    }

    #[test]
    fn a_partition_without_watermark_has_no_lag() {
        let view = View {
            committed: vec![committed("g", "t", 3, 1)],
            ..View::default()
        };
        assert_eq!(view.lag(&view.committed[0]), None);
        assert!(view.lag_by_topic().is_empty());
    }

    proptest! {
        #[test]
        fn lag_is_never_negative(offset in 0i64..1_000_000, high in 0i64..1_000_000) {
            let view = View {
                committed: vec![committed("g", "t", 0, offset)],
                high: [(("t".into(), 0), high)].into(),
                ..View::default()
            };
            let lag = view.lag(&view.committed[0]).unwrap();
            prop_assert!(lag >= 0);
            prop_assert_eq!(lag, (high - offset).max(0));
        }
    }
}
