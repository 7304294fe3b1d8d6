//! Taking partitions over: the state of the products partitions this instance is assigned is
//! rebuilt before the first product of them is processed, and what a crash (or the previous
//! owner's crash) left half-done is repaired. The ban list is global: every instance reads the
//! whole bans topic at start and follows it.
//!
//! For the partitions taken over:
//! 1. Listed products: the same partitions of `products-filtered` (the filter writes each
//!    product to the partition of its products record) read to their high watermarks.
//! 2. Held products: `products` replayed from its beginning up to the group's committed offsets,
//!    latest version per product — this brings back banned versions, needed to relist on unban.
//! 3. Reconcile with the current bans: tombstone listed products a ban matches (a ban may have
//!    been consumed, its tombstones not yet acknowledged, when the owner died); list products
//!    whose latest version no ban matches but which are not listed (an unban's relisting was
//!    lost). Listed products that no ban matches are left alone, so a take-over never rewrites
//!    a newer listed version with an older one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::assignment::GroupContext;
use super::engine::{Engine, Entry};
use super::{Config, FilterError};
use crate::kafka_io::{self, KafkaIoError};
use crate::matcher::Matchable;

/// The whole ban list, read to the bans topic's high watermarks before any product.
pub async fn load_bans(engine: &mut Engine, bans: &Arc<StreamConsumer>) -> Result<(), FilterError> {
    engine.sync_bans(bans, false).await?;
    tracing::info!(bans = engine.bans.len(), "ban list loaded");
    Ok(())
}

/// Rebuild and reconcile the state of `partitions`, newly assigned to this instance.
pub async fn take_over(
    engine: &mut Engine,
    config: &Config,
    group: &Arc<StreamConsumer<GroupContext>>,
    partitions: &BTreeSet<i32>,
) -> Result<(), FilterError> {
    let started = Instant::now();
    // Whatever was known of them is stale: another instance may have owned them since.
    engine.release(partitions);
    let listed = kafka_io::latest_by_key_in(
        config.kafka.clone(),
        config.filtered_topic.clone(),
        config.group.clone(),
        Some(partitions.clone()),
        config.bootstrap_timeout,
    )
    .await?;
    // The filtered topic is this service's own output; a keyless record there was not written
    // by it and names no product to list.
    for bad in &listed.keyless {
        tracing::warn!(record = %bad, "filtered topic record ignored at take-over");
    }
    let listed_before = listed.latest.len();
    for (pid, latest) in listed.latest {
        let entry = Entry {
            payload: latest.payload.into(),
            listed: true,
            partition: latest.partition,
        };
        engine.store.insert(pid, entry);
    }

    let replayed = if config.replay_products {
        replay(config, group, partitions).await?
    } else {
        HashMap::new()
    };
    let (mut relisted, mut delisted) = (0usize, 0usize);
    for (pid, (partition, latest)) in replayed {
        // A deletion (or a record that was dead-lettered when first seen) changes nothing here.
        let Some(payload) = latest else { continue };
        let (product, filtered) = match engine.decode_product(&payload).await? {
            Ok(v) if v.0.product_id == pid => v,
            _ => continue,
        };
        let banned = engine.bans.matches(Matchable::from(&product)).is_some();
        let listed = engine.store.get(&pid).is_some_and(|e| e.listed);
        match (listed, banned) {
            (true, true) => {
                engine.output.tombstone(&pid, partition).await?;
                engine.metrics.delisted.inc();
                delisted += 1;
            }
            (true, false) => continue,
            (false, false) => {
                engine.output.put(&pid, partition, &filtered).await?;
                engine.metrics.relisted.inc();
                relisted += 1;
            }
            (false, true) => {}
        }
        let entry = Entry {
            payload: filtered.into(),
            listed: !banned,
            partition,
        };
        engine.store.insert(pid, entry);
    }
    delisted += engine.delist_all_matching(partitions).await?;
    engine.output.flush().await?;
    engine.metrics.took_over(partitions.len());
    engine.update_gauges();
    tracing::info!(
        partitions = ?partitions,
        listed_on_topic = listed_before,
        known = engine.store.len(),
        relisted,
        delisted,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "partitions taken over"
    );
    Ok(())
}

/// Latest value per product id on `products` up to the committed offsets of `partitions`,
/// with its partition (`None` = deleted).
async fn replay(
    config: &Config,
    group: &Arc<StreamConsumer<GroupContext>>,
    partitions: &BTreeSet<i32>,
) -> Result<HashMap<String, (i32, Option<Vec<u8>>)>, FilterError> {
    let (group, group_id, props, topic, timeout, parts) = (
        group.clone(),
        config.group.clone(),
        config.kafka.clone(),
        config.products_topic.clone(),
        config.bootstrap_timeout,
        partitions.clone(),
    );
    type Latest = HashMap<String, (i32, Option<Vec<u8>>)>;
    let result = tokio::task::spawn_blocking(move || -> Result<Latest, KafkaIoError> {
        let mut tpl = TopicPartitionList::new();
        for p in &parts {
            tpl.add_partition(&topic, *p);
        }
        let committed =
            group
                .committed_offsets(tpl, timeout)
                .map_err(|source| KafkaIoError::Read {
                    topic: topic.clone(),
                    source,
                })?;
        let ends: BTreeMap<i32, i64> = committed
            .elements_for_topic(&topic)
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) if o > 0 => Some((e.partition(), o)),
                _ => None,
            })
            .collect();
        let mut latest = HashMap::new();
        if ends.is_empty() {
            return Ok(latest);
        }
        let reader = kafka_io::reader(&props, &group_id)?;
        let mut count = 0u64;
        kafka_io::read_until(&reader, &topic, &ends, timeout, |msg| {
            count += 1;
            if let Some(pid) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) {
                let value = msg.payload().map(<[u8]>::to_vec);
                latest.insert(pid.to_owned(), (msg.partition(), value));
            }
        })?;
        tracing::info!(
            records = count,
            products = latest.len(),
            "products replayed up to committed offsets"
        );
        Ok(latest)
    })
    .await
    .map_err(|e| FilterError::Internal(e.to_string()))?;
    Ok(result?)
}
