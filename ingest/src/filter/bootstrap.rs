//! Start-up: rebuild the whole state before the first product is processed, and repair what a
//! crash may have left half-done.
//!
//! 1. Bans: the bans topic read to its high watermark (never committed, always re-read).
//! 2. Listed products: `products-filtered` (compacted) read to its high watermark.
//! 3. Held products: `products` replayed from its beginning up to the group's committed offsets,
//!    latest version per product — this brings back banned versions, needed to relist on unban.
//! 4. Reconcile with the current bans: tombstone listed products a ban matches (a ban may have
//!    been consumed, its tombstones not yet acknowledged, when the filter died); list products
//!    whose latest version no ban matches but which are not listed (an unban's relisting was
//!    lost). Listed products that no ban matches are left alone, so a restart never rewrites a
//!    newer listed version with an older one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::engine::Engine;
use super::metrics::LagContext;
use super::{Config, FilterError};
use crate::kafka_io::{self, KafkaIoError};
use crate::matcher::Matchable;

pub async fn rebuild(
    engine: &mut Engine,
    config: &Config,
    bans: &Arc<StreamConsumer>,
    group: &Arc<StreamConsumer<LagContext>>,
) -> Result<(), FilterError> {
    let started = Instant::now();
    engine.sync_bans(bans, false).await?;
    tracing::info!(bans = engine.bans.len(), "ban list loaded");

    let listed = kafka_io::latest_by_key(
        config.kafka.clone(),
        config.filtered_topic.clone(),
        config.group.clone(),
        config.bootstrap_timeout,
    )
    .await?;
    // The filtered topic is this service's own output; a keyless record there was not written
    // by it and names no product to list.
    for bad in &listed.keyless {
        tracing::warn!(record = %bad, "filtered topic record ignored at start-up");
    }
    for (pid, latest) in listed.latest {
        engine.store.insert(
            pid,
            super::engine::Entry {
                payload: latest.payload.into(),
                listed: true,
            },
        );
    }
    let listed_before = engine.store.len();

    let replayed = if config.replay_products {
        replay(config, group).await?
    } else {
        HashMap::new()
    };
    let (mut relisted, mut delisted) = (0usize, 0usize);
    for (pid, latest) in replayed {
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
                engine.output.tombstone(&pid).await?;
                engine.store.insert(
                    pid,
                    super::engine::Entry {
                        payload: filtered.into(),
                        listed: false,
                    },
                );
                engine.metrics.delisted.inc();
                delisted += 1;
            }
            (true, false) => {}
            (false, false) => {
                engine.output.put(&pid, &filtered).await?;
                engine.store.insert(
                    pid,
                    super::engine::Entry {
                        payload: filtered.into(),
                        listed: true,
                    },
                );
                engine.metrics.relisted.inc();
                relisted += 1;
            }
            (false, true) => {
                engine.store.insert(
                    pid,
                    super::engine::Entry {
                        payload: filtered.into(),
                        listed: false,
                    },
                );
            }
        }
    }
    delisted += engine.delist_all_matching().await?;
    engine.output.flush().await?;
    engine.update_gauges();
    tracing::info!(
        listed_on_topic = listed_before,
        known = engine.store.len(),
        relisted,
        delisted,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "state rebuilt"
    );
    Ok(())
}

/// Latest value per product id on `products` up to the committed offsets (`None` = deleted).
async fn replay(
    config: &Config,
    group: &Arc<StreamConsumer<LagContext>>,
) -> Result<HashMap<String, Option<Vec<u8>>>, FilterError> {
    let (group, group_id, props, topic, timeout) = (
        group.clone(),
        config.group.clone(),
        config.kafka.clone(),
        config.products_topic.clone(),
        config.bootstrap_timeout,
    );
    let result = tokio::task::spawn_blocking(
        move || -> Result<HashMap<String, Option<Vec<u8>>>, KafkaIoError> {
            let parts = kafka_io::partitions(group.as_ref(), &topic, timeout)?;
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
                    latest.insert(pid.to_owned(), msg.payload().map(<[u8]>::to_vec));
                }
            })?;
            tracing::info!(
                records = count,
                products = latest.len(),
                "products replayed up to committed offsets"
            );
            Ok(latest)
        },
    )
    .await
    .map_err(|e| FilterError::Internal(e.to_string()))?;
    Ok(result?)
}
