//! The filter's state and its reactions: a product arrives, a ban arrives or goes.
//!
//! State = the ban list + the latest version of every product seen (already framed for the
//! filtered topic) and whether it is listed there. Keeping banned versions too lets an unban
//! relist a product without waiting for the shop to publish it again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use apache_avro::types::Value;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use tokio_util::sync::CancellationToken;
use vygoda_common::kafka::retrying;

use super::metrics::Metrics;
use super::output::{Output, Source};
use super::FilterError;
use crate::ban::Ban;
use crate::kafka_io;
use crate::matcher::{BanSet, Change, Matchable};
use crate::product::Product;
use vygoda_avro::wire::{self, Decoder, Encoder, WireError};

/// Latest known version of one product.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Confluent-framed `products-filtered-value` payload, ready to (re)write.
    pub payload: Arc<[u8]>,
    pub listed: bool,
    /// The products (and filtered) partition it belongs to: the instance owning that
    /// partition keeps it, and writes its listing and delisting there.
    pub partition: i32,
}

pub struct Engine {
    pub bans: BanSet,
    pub store: HashMap<String, Entry>,
    pub output: Output,
    pub metrics: Metrics,
    products: Decoder,
    bans_decoder: Decoder,
    stored: Decoder,
    filtered: Encoder,
    stop: CancellationToken,
    bans_topic: String,
    ban_partitions: Vec<i32>,
    /// Asks for the bans topic's high watermarks; see [`EngineParts::watermarks`].
    watermarks: Arc<BaseConsumer>,
    /// Next offset to read per bans partition.
    ban_positions: BTreeMap<i32, i64>,
    timeout: Duration,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("bans", &self.bans.len())
            .field("products", &self.store.len())
            .finish()
    }
}

/// Bad record: it goes to the dead-letter topic with this reason.
type Verdict<T> = Result<T, String>;

pub struct EngineParts {
    pub output: Output,
    pub metrics: Metrics,
    pub products: Decoder,
    pub bans_decoder: Decoder,
    pub stored: Decoder,
    pub filtered: Encoder,
    pub stop: CancellationToken,
    pub bans_topic: String,
    pub ban_partitions: Vec<i32>,
    /// A client of its own that never fetches. Asked on the bans consumer, a watermark request
    /// queues behind that consumer's long-poll fetch on the same broker connection and waits
    /// for it (up to `fetch.wait.max.ms`, 500 ms), which cost every batch up to half a second.
    pub watermarks: Arc<BaseConsumer>,
    pub timeout: Duration,
}

impl Engine {
    pub fn new(p: EngineParts) -> Engine {
        Engine {
            bans: BanSet::new(),
            store: HashMap::new(),
            output: p.output,
            metrics: p.metrics,
            products: p.products,
            bans_decoder: p.bans_decoder,
            stored: p.stored,
            filtered: p.filtered,
            stop: p.stop,
            bans_topic: p.bans_topic,
            ban_positions: p.ban_partitions.iter().map(|&p| (p, 0)).collect(),
            ban_partitions: p.ban_partitions,
            watermarks: p.watermarks,
            timeout: p.timeout,
        }
    }

    /// Decode, retrying while the registry is unreachable (a registry outage must stall the
    /// filter, not send good records to the dead-letter topic). Outer error = cancelled.
    async fn decode(
        &self,
        decoder: &Decoder,
        payload: &[u8],
    ) -> Result<Result<(u32, Value), WireError>, FilterError> {
        let mut delay = Duration::from_millis(200);
        loop {
            match decoder.decode(payload).await {
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "schema registry unavailable; retrying");
                    tokio::select! {
                        _ = self.stop.cancelled() => return Err(FilterError::Cancelled),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                other => return Ok(other),
            }
        }
    }

    /// A `products` payload → the product and its payload for the filtered topic.
    pub async fn decode_product(
        &self,
        payload: &[u8],
    ) -> Result<Verdict<(Product, Vec<u8>)>, FilterError> {
        let (id, value) = match self.decode(&self.products, payload).await? {
            Ok(v) => v,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let product = match Product::from_avro(value) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e.to_string())),
        };
        // Same record schema on both subjects: forward the datum as is under our id.
        let writer = self.products.writer(id).await.ok();
        let out = match writer {
            Some(w) if self.stored.is_identical(id, &w) => wire::reframe(payload, self.filtered.id),
            _ => self.filtered.encode(product.to_avro()),
        };
        Ok(out.map(|bytes| (product, bytes)).map_err(|e| e.to_string()))
    }

    /// A payload we stored (filtered framing) → the product, for re-matching after ban changes.
    async fn stored_product(
        &self,
        product_id: &str,
        payload: &[u8],
    ) -> Result<Option<Product>, FilterError> {
        match self.decode(&self.stored, payload).await? {
            Ok((_, value)) => match Product::from_avro(value) {
                Ok(p) => Ok(Some(p)),
                Err(e) => {
                    tracing::warn!(product_id, error = %e, "stored product unreadable; skipped");
                    Ok(None)
                }
            },
            Err(e) => {
                tracing::warn!(product_id, error = %e, "stored product undecodable; skipped");
                Ok(None)
            }
        }
    }

    fn set(&mut self, product_id: &str, payload: Arc<[u8]>, listed: bool, partition: i32) {
        let entry = Entry {
            payload,
            listed,
            partition,
        };
        self.store.insert(product_id.to_owned(), entry);
    }

    /// Forget the products of partitions this instance no longer owns: their new owner
    /// rebuilt them from the topics, and a ban must not make this instance write there.
    pub fn release(&mut self, partitions: &BTreeSet<i32>) -> usize {
        let before = self.store.len();
        self.store.retain(|_, e| !partitions.contains(&e.partition));
        before - self.store.len()
    }

    pub fn update_gauges(&self) {
        self.metrics.products_known.set(self.store.len() as i64);
        self.metrics
            .products_listed
            .set(self.store.values().filter(|e| e.listed).count() as i64);
        for kind in crate::ban::BanKind::ALL {
            self.metrics
                .bans
                .get_or_create(&vec![("kind".to_owned(), kind.to_string())])
                .set(self.bans.count(kind) as i64);
        }
    }

    /// One record of the products topic. Outputs are queued on `self.output`; the caller
    /// flushes them before committing the offset.
    pub async fn handle_product(&mut self, msg: &OwnedMessage) -> Result<(), FilterError> {
        self.metrics.consumed.inc();
        let source = Source {
            topic: msg.topic(),
            partition: msg.partition(),
            offset: msg.offset(),
        };
        let key = msg.key().and_then(|k| std::str::from_utf8(k).ok());
        let Some(payload) = msg.payload() else {
            // A tombstone on products = the shop deleted the product: delete it downstream.
            let Some(product_id) = key else {
                return self
                    .dead_letter(msg, "tombstone without a UTF-8 key", source)
                    .await;
            };
            self.store.remove(product_id);
            self.output.tombstone(product_id, source.partition).await?;
            self.metrics.deleted.inc();
            return Ok(());
        };
        let (product, filtered) = match self.decode_product(payload).await? {
            Ok(v) => v,
            Err(reason) => return self.dead_letter(msg, &reason, source).await,
        };
        if key != Some(product.product_id.as_str()) {
            let reason = format!(
                "record key {:?} does not match product_id `{}`",
                key, product.product_id
            );
            return self.dead_letter(msg, &reason, source).await;
        }
        let pid = product.product_id.as_str();
        let filtered: Arc<[u8]> = filtered.into();
        if let Some(ban) = self.bans.matches(Matchable::from(&product)) {
            let ban_key = ban.key();
            self.metrics.banned_kind(ban.kind.symbol());
            tracing::info!(product_id = pid, ban = %ban_key, partition = source.partition, offset = source.offset, "product banned");
            if self.store.get(pid).is_some_and(|e| e.listed) {
                self.output.tombstone(pid, source.partition).await?;
                self.metrics.delisted.inc();
                tracing::info!(product_id = pid, ban = %ban_key, "new version banned; delisted");
            }
            self.set(pid, filtered, false, source.partition);
        } else {
            self.output.put(pid, source.partition, &filtered).await?;
            self.metrics.passed.inc();
            self.set(pid, filtered, true, source.partition);
        }
        Ok(())
    }

    async fn dead_letter(
        &mut self,
        msg: &OwnedMessage,
        reason: &str,
        source: Source<'_>,
    ) -> Result<(), FilterError> {
        tracing::warn!(
            topic = source.topic,
            partition = source.partition,
            offset = source.offset,
            reason,
            "undecodable record dead-lettered"
        );
        self.metrics.dead_letter(source.topic);
        self.output
            .dead_letter(msg.key(), msg.payload(), reason, source)
            .await
    }

    /// One record of the bans topic; `live` = after start-up (its effects are then applied
    /// to already-passed products, and unreadable records are dead-lettered).
    pub async fn handle_ban(&mut self, msg: &OwnedMessage, live: bool) -> Result<(), FilterError> {
        self.ban_positions.insert(msg.partition(), msg.offset() + 1);
        let source = Source {
            topic: msg.topic(),
            partition: msg.partition(),
            offset: msg.offset(),
        };
        let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else {
            tracing::warn!(
                partition = source.partition,
                offset = source.offset,
                "ban record without a UTF-8 key; ignored"
            );
            return Ok(());
        };
        let ban = match msg.payload() {
            None => None,
            Some(payload) => {
                let decoded = self.decode(&self.bans_decoder, payload).await?;
                match decoded
                    .map_err(|e| e.to_string())
                    .and_then(|(_, v)| Ban::from_avro(v).map_err(|e| e.to_string()))
                {
                    Ok(ban) => Some(ban),
                    Err(reason) => {
                        tracing::error!(
                            key,
                            partition = source.partition,
                            offset = source.offset,
                            reason,
                            "unreadable ban record; ignored"
                        );
                        if live {
                            self.metrics.dead_letter(source.topic);
                            self.output
                                .dead_letter(msg.key(), msg.payload(), &reason, source)
                                .await?;
                        }
                        return Ok(());
                    }
                }
            }
        };
        match self.bans.apply(key, ban) {
            Change::Added(ban) => {
                tracing::info!(ban = %ban.key(), reason = %ban.reason, by = %ban.added_by, "ban added");
                self.delist_matching(&ban).await?;
            }
            Change::Removed(ban) => {
                tracing::info!(ban = %ban.key(), "ban lifted");
                self.relist_unbanned().await?;
            }
            Change::Updated(_) | Change::Nothing => {}
        }
        Ok(())
    }

    /// Retroactive delisting: tombstone every listed product the new ban matches.
    async fn delist_matching(&mut self, ban: &Ban) -> Result<(), FilterError> {
        let single = BanSet::single(ban.clone());
        let mut hits = Vec::new();
        for (pid, entry) in self.store.iter().filter(|(_, e)| e.listed) {
            if let Some(p) = self.stored_product(pid, &entry.payload).await? {
                if single.matches(Matchable::from(&p)).is_some() {
                    hits.push((pid.clone(), entry.partition));
                }
            }
        }
        for (pid, partition) in hits {
            self.output.tombstone(&pid, partition).await?;
            if let Some(e) = self.store.get_mut(&pid) {
                e.listed = false;
            }
            self.metrics.delisted.inc();
            tracing::info!(product_id = %pid, ban = %ban.key(), "delisted by new ban");
        }
        Ok(())
    }

    /// After an unban: list again the latest version of every held product no ban matches.
    pub async fn relist_unbanned(&mut self) -> Result<(), FilterError> {
        let mut hits = Vec::new();
        for (pid, entry) in self.store.iter().filter(|(_, e)| !e.listed) {
            if let Some(p) = self.stored_product(pid, &entry.payload).await? {
                if self.bans.matches(Matchable::from(&p)).is_none() {
                    hits.push((pid.clone(), entry.payload.clone(), entry.partition));
                }
            }
        }
        for (pid, payload, partition) in hits {
            self.output.put(&pid, partition, &payload).await?;
            if let Some(e) = self.store.get_mut(&pid) {
                e.listed = true;
            }
            self.metrics.relisted.inc();
            tracing::info!(product_id = %pid, "relisted after unban");
        }
        Ok(())
    }

    /// Delist listed products of `partitions` that the current bans match (reconciliation
    /// when partitions are taken over).
    pub async fn delist_all_matching(
        &mut self,
        partitions: &BTreeSet<i32>,
    ) -> Result<usize, FilterError> {
        let mut hits = Vec::new();
        let owned = self
            .store
            .iter()
            .filter(|(_, e)| e.listed && partitions.contains(&e.partition));
        for (pid, entry) in owned {
            if let Some(p) = self.stored_product(pid, &entry.payload).await? {
                if let Some(ban) = self.bans.matches(Matchable::from(&p)) {
                    hits.push((pid.clone(), ban.key(), entry.partition));
                }
            }
        }
        let n = hits.len();
        for (pid, ban, partition) in hits {
            self.output.tombstone(&pid, partition).await?;
            if let Some(e) = self.store.get_mut(&pid) {
                e.listed = false;
            }
            self.metrics.delisted.inc();
            tracing::info!(product_id = %pid, ban = %ban, "delisted at start-up (ban applied while the filter was down)");
        }
        Ok(n)
    }

    /// Apply every ban written up to now: read the bans topic to its current high watermarks.
    /// Called before each batch of products, so a ban acknowledged before a product was
    /// published is always applied to that product.
    pub async fn sync_bans(
        &mut self,
        consumer: &Arc<StreamConsumer>,
        live: bool,
    ) -> Result<(), FilterError> {
        let (c, topic, parts, timeout) = (
            self.watermarks.clone(),
            self.bans_topic.clone(),
            self.ban_partitions.clone(),
            self.timeout,
        );
        let highs: BTreeMap<i32, i64> = tokio::task::spawn_blocking(move || {
            parts
                .into_iter()
                .map(|p| {
                    // Leadership moves after a broker restart: ask again, not die.
                    retrying(timeout, |t| c.fetch_watermarks(&topic, p, t))
                        .map(|(_, high)| (p, high))
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
        })
        .await
        .map_err(|e| FilterError::Internal(e.to_string()))?
        .map_err(|source| kafka_io::KafkaIoError::Unreachable {
            topic: self.bans_topic.clone(),
            source,
        })?;
        let mut remaining: BTreeMap<i32, i64> = highs
            .into_iter()
            .filter(|(p, high)| self.ban_positions.get(p).copied().unwrap_or(0) < *high)
            .collect();
        let deadline = std::time::Instant::now() + self.timeout;
        while !remaining.is_empty() {
            let next = tokio::select! {
                _ = self.stop.cancelled() => return Err(FilterError::Cancelled),
                r = tokio::time::timeout(Duration::from_millis(500), consumer.recv()) => r,
            };
            match next {
                Ok(Ok(msg)) => {
                    let msg = msg.detach();
                    self.handle_ban(&msg, live).await?;
                    if remaining
                        .get(&msg.partition())
                        .is_some_and(|&high| msg.offset() + 1 >= high)
                    {
                        remaining.remove(&msg.partition());
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, topic = %self.bans_topic, "reading bans"),
                Err(_) => {
                    kafka_io::drop_reached(consumer.as_ref(), &self.bans_topic, &mut remaining);
                    if let Some((&partition, &target)) = remaining.iter().next() {
                        if std::time::Instant::now() > deadline {
                            return Err(kafka_io::KafkaIoError::Timeout {
                                topic: self.bans_topic.clone(),
                                partition,
                                target,
                                timeout: self.timeout,
                            }
                            .into());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
