//! Which products partitions this instance owns. Instances of one consumer group share the
//! partitions (cooperative rebalancing: a rebalance moves only the partitions it must); the
//! consumer's context records what each rebalance assigned and revoked, and the spine applies
//! it between batches, where no product is half-processed: forgetting revoked partitions'
//! products, rebuilding assigned ones' (`bootstrap::take_over`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::TopicPartitionList;

use super::metrics::Metrics;

/// Rebalances not yet applied by the spine.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub assigned: BTreeSet<i32>,
    pub revoked: BTreeSet<i32>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.assigned.is_empty() && self.revoked.is_empty()
    }

    /// A partition revoked after being assigned (and not yet taken over) needs no take-over;
    /// one assigned after being revoked is both released and taken over, since another
    /// instance may have owned it in between.
    fn assign(&mut self, partitions: impl IntoIterator<Item = i32>) {
        self.assigned.extend(partitions);
    }

    fn revoke(&mut self, partitions: impl IntoIterator<Item = i32>) {
        for p in partitions {
            self.assigned.remove(&p);
            self.revoked.insert(p);
        }
    }
}

/// Consumer context of the products group: lag from statistics (no extra broker requests),
/// rebalances into [`Changes`].
#[derive(Debug, Clone)]
pub struct GroupContext {
    pub metrics: Metrics,
    changes: Arc<Mutex<Changes>>,
}

impl GroupContext {
    pub fn new(metrics: Metrics) -> GroupContext {
        GroupContext {
            metrics,
            changes: Arc::default(),
        }
    }

    /// What rebalances did since the last call.
    pub fn take(&self) -> Changes {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn record(&self, f: impl FnOnce(&mut Changes)) {
        f(&mut self.changes.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                // Partition -1 is librdkafka's internal "unassigned" queue; lag -1 = unknown yet.
                if *partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                self.metrics
                    .consumer_lag
                    .get_or_create(&vec![
                        ("topic".to_owned(), topic.clone()),
                        ("partition".to_owned(), partition.to_string()),
                    ])
                    .set(p.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    /// Before partitions go: commit how far they were processed, so their next owner starts
    /// exactly there. Rebalances run inside a poll, and the spine polls only between batches,
    /// whose outputs are acknowledged by then: the position is processed and durable.
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let Ok(positions) = consumer.position() else {
            return;
        };
        let mut commit = TopicPartitionList::new();
        for e in positions.elements() {
            let gone = revoked.find_partition(e.topic(), e.partition()).is_some();
            if gone && e.offset().to_raw().is_some_and(|o| o >= 0) {
                let _ = commit.add_partition_offset(e.topic(), e.partition(), e.offset());
            }
        }
        if commit.count() > 0 {
            // A failed commit means the next owner replays a little: at-least-once, idempotent.
            if let Err(e) = consumer.commit(&commit, CommitMode::Sync) {
                tracing::warn!(error = %e, "commit before giving partitions up failed");
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts = partitions(tpl);
                tracing::info!(partitions = ?parts, "partitions assigned");
                self.record(|c| c.assign(parts));
            }
            Rebalance::Revoke(tpl) => {
                let parts = partitions(tpl);
                tracing::info!(partitions = ?parts, "partitions revoked");
                self.record(|c| c.revoke(parts));
            }
            Rebalance::Error(e) => tracing::error!(error = %e, "rebalance failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_before_taken_over_needs_no_take_over() {
        let mut c = Changes::default();
        c.assign([0, 1, 2]);
        c.revoke([1]);
        assert_eq!(c.assigned, BTreeSet::from([0, 2]));
        assert_eq!(c.revoked, BTreeSet::from([1]));
    }

    #[test]
    fn revoked_then_assigned_again_is_rebuilt() {
        let mut c = Changes::default();
        c.revoke([3]);
        c.assign([3]);
        assert_eq!(c.assigned, BTreeSet::from([3]));
        assert_eq!(c.revoked, BTreeSet::from([3]));
        assert!(!c.is_empty());
    }
}
