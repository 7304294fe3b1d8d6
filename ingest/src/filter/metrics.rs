//! The ban filter's Prometheus metrics (per-partition lag is fed from librdkafka's statistics
//! by the consumer's context, `assignment::GroupContext`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

#[derive(Debug, Clone)]
pub struct Metrics {
    pub consumed: Counter,
    pub passed: Counter,
    pub banned: Family<Labels, Counter>,
    pub delisted: Counter,
    pub relisted: Counter,
    pub deleted: Counter,
    pub dead_lettered: Family<Labels, Counter>,
    pub consumer_lag: Family<Labels, Gauge>,
    pub bans: Family<Labels, Gauge>,
    pub products_known: Gauge,
    pub products_listed: Gauge,
    /// Products partitions this instance owns (instances of one group share them).
    pub partitions_owned: Gauge,
    /// Partitions whose state was rebuilt because this instance was assigned them.
    pub partitions_taken_over: Counter,
    /// From a product record's timestamp (set by its producer) to its outcome being durable.
    pub end_to_end: Histogram,
    /// One batch of products: decode, match, produce, await acks.
    pub batch_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            consumed: Counter::default(),
            passed: Counter::default(),
            banned: Family::default(),
            delisted: Counter::default(),
            relisted: Counter::default(),
            deleted: Counter::default(),
            dead_lettered: Family::default(),
            consumer_lag: Family::default(),
            bans: Family::default(),
            products_known: Gauge::default(),
            products_listed: Gauge::default(),
            partitions_owned: Gauge::default(),
            partitions_taken_over: Counter::default(),
            end_to_end: vygoda_common::metrics::delay_histogram(),
            // 1 ms … ~16 s.
            batch_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
        }
    }
}

impl Metrics {
    pub fn register(&self, registry: &mut Registry) {
        let p = "vygoda_ban_filter_";
        registry.register(
            format!("{p}consumed"),
            "Product records consumed",
            self.consumed.clone(),
        );
        registry.register(
            format!("{p}passed"),
            "Products written to the filtered topic",
            self.passed.clone(),
        );
        registry.register(
            format!("{p}banned"),
            "Product records held back by a ban, by ban kind",
            self.banned.clone(),
        );
        registry.register(
            format!("{p}delisted"),
            "Tombstones written for already-passed products that a new ban matches",
            self.delisted.clone(),
        );
        registry.register(
            format!("{p}relisted"),
            "Products written again because the ban holding them was lifted",
            self.relisted.clone(),
        );
        registry.register(
            format!("{p}deleted"),
            "Product deletions (tombstones on the products topic) forwarded",
            self.deleted.clone(),
        );
        registry.register(
            format!("{p}dead_lettered"),
            "Undecodable records sent to the dead-letter topic, by source topic",
            self.dead_lettered.clone(),
        );
        registry.register(
            format!("{p}consumer_lag"),
            "Records behind the high watermark, per topic and partition",
            self.consumer_lag.clone(),
        );
        registry.register(
            format!("{p}bans"),
            "Active bans, by kind",
            self.bans.clone(),
        );
        registry.register(
            format!("{p}products_known"),
            "Products whose latest version the filter keeps",
            self.products_known.clone(),
        );
        registry.register(
            format!("{p}products_listed"),
            "Products currently listed on the filtered topic",
            self.products_listed.clone(),
        );
        registry.register(
            format!("{p}partitions_owned"),
            "Products partitions this instance owns; the instances of one group share them",
            self.partitions_owned.clone(),
        );
        registry.register(
            format!("{p}partitions_taken_over"),
            "Partitions whose product state this instance rebuilt on being assigned them",
            self.partitions_taken_over.clone(),
        );
        registry.register(
            format!("{p}end_to_end_seconds"),
            "Product record timestamp to its outcome acknowledged (filtered, tombstoned or held back)",
            self.end_to_end.clone(),
        );
        registry.register(
            format!("{p}batch_seconds"),
            "Time to process one batch of product records, acks included",
            self.batch_seconds.clone(),
        );
    }

    /// A batch is durable (its writes acknowledged): observe each record's delay and the batch's.
    pub fn batch_done(
        &self,
        timestamps_ms: impl IntoIterator<Item = Option<i64>>,
        started: std::time::Instant,
    ) {
        let now = vygoda_common::metrics::now_ms();
        for ts in timestamps_ms.into_iter().flatten() {
            self.end_to_end
                .observe(vygoda_common::metrics::delay_seconds(ts, now));
        }
        self.batch_seconds.observe(started.elapsed().as_secs_f64());
    }

    /// Create the labelled series known at start at 0: dashboards and `increase()` then see a
    /// series before the first banned or dead-lettered record instead of no data.
    pub fn preset(&self, topics: &[&str]) {
        for kind in ["product_id", "brand", "word"] {
            let _ = self
                .banned
                .get_or_create(&vec![("kind".to_owned(), kind.to_owned())]);
        }
        for topic in topics {
            let _ = self
                .dead_lettered
                .get_or_create(&vec![("topic".to_owned(), (*topic).to_owned())]);
        }
    }

    pub fn took_over(&self, partitions: usize) {
        self.partitions_taken_over.inc_by(partitions as u64);
    }

    pub fn banned_kind(&self, kind: &str) {
        self.banned
            .get_or_create(&vec![("kind".to_owned(), kind.to_owned())])
            .inc();
    }

    pub fn dead_letter(&self, topic: &str) {
        self.dead_lettered
            .get_or_create(&vec![("topic".to_owned(), topic.to_owned())])
            .inc();
    }
}
