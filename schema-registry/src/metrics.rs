//! Prometheus metrics of the registry, served on `--metrics-addr` by `vygoda_common::metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template (`/subjects/{subject}/versions`), never the raw path: subjects would
    /// explode the label space.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `new_version`, `existing` or `incompatible` for registrations; `register` or `check`
    /// for compatibility failures.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// Handles to every metric; cheap to clone (each family is an `Arc` inside).
#[derive(Debug, Clone)]
pub struct Metrics {
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram>,
    pub registrations: Family<OutcomeLabels, Counter>,
    pub compatibility_failures: Family<OutcomeLabels, Counter>,
    pub auth_failures: Counter,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~4 s: a registration is one PostgreSQL transaction.
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

impl Metrics {
    /// Create the metrics and register them in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Metrics {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            registrations: Family::default(),
            compatibility_failures: Family::default(),
            auth_failures: Counter::default(),
        };
        registry.register(
            "vygoda_registry_requests",
            "HTTP requests by route template, method and status",
            metrics.requests.clone(),
        );
        registry.register(
            "vygoda_registry_request_seconds",
            "HTTP request latency by route template",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "vygoda_registry_registrations",
            "Schema registrations by outcome (new_version, existing, incompatible)",
            metrics.registrations.clone(),
        );
        registry.register(
            "vygoda_registry_compatibility_failures",
            "Schemas found incompatible, by operation (register, check)",
            metrics.compatibility_failures.clone(),
        );
        registry.register(
            "vygoda_registry_auth_failures",
            "Requests refused for missing or wrong credentials",
            metrics.auth_failures.clone(),
        );
        metrics
    }

    /// Metrics registered nowhere, for tests and embedded use.
    pub fn unregistered() -> Self {
        Self::new(&mut Registry::default())
    }

    pub fn registration(&self, outcome: &'static str) {
        self.registrations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn incompatible(&self, operation: &'static str) {
        self.compatibility_failures
            .get_or_create(&OutcomeLabels { outcome: operation })
            .inc();
    }
}
