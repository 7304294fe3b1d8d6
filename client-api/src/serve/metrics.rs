//! Prometheus metrics of `client-api serve`, on its `--metrics-addr`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::record::Kind;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `search`, `product`, `recommend`.
    pub endpoint: &'static str,
    /// `ok`, `not_found`, `fallback` (no personal list), `invalid` (400), `unavailable` (the
    /// store is down, 503), `error` (500).
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `sent` or `failed`.
    pub outcome: &'static str,
}

/// Handles to every metric; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<EndpointLabels, Histogram>,
    pub record_failures: Counter,
    pub relayed: Family<OutcomeLabels, Counter>,
    pub outbox_pending: Gauge,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~4 s: an answer is one or two indexed PostgreSQL queries plus the record.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Metrics {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            record_failures: Counter::default(),
            relayed: Family::default(),
            outbox_pending: Gauge::default(),
        };
        registry.register(
            "vygoda_client_api_requests",
            "CLIENT API requests by endpoint and outcome",
            m.requests.clone(),
        );
        registry.register(
            "vygoda_client_api_request_seconds",
            "CLIENT API request latency by endpoint, from the request to the recorded answer",
            m.request_seconds.clone(),
        );
        registry.register(
            "vygoda_client_api_record_failures",
            "Answered requests the store could not record (the answer was still sent)",
            m.record_failures.clone(),
        );
        registry.register(
            "vygoda_client_api_events_relayed",
            "Recorded request events sent to Kafka, by outcome",
            m.relayed.clone(),
        );
        registry.register(
            "vygoda_client_api_outbox_pending",
            "Recorded request events not yet acknowledged by the brokers",
            m.outbox_pending.clone(),
        );
        // Every series exists from the start, so rates over a fresh Prometheus are not empty.
        for kind in [Kind::Search, Kind::Product, Kind::Recommend] {
            let endpoint = kind.as_str();
            let _ = m
                .request_seconds
                .get_or_create(&EndpointLabels { endpoint });
            let _ = m.requests.get_or_create(&RequestLabels {
                endpoint,
                outcome: "ok",
            });
        }
        for outcome in ["sent", "failed"] {
            let _ = m.relayed.get_or_create(&OutcomeLabels { outcome });
        }
        m
    }

    /// One answered (or refused) request.
    pub fn observe(&self, kind: Kind, outcome: &'static str, seconds: f64) {
        let endpoint = kind.as_str();
        self.requests
            .get_or_create(&RequestLabels { endpoint, outcome })
            .inc();
        self.request_seconds
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
    }
}
