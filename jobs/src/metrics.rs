//! `/metrics` of the scheduler: runs by job and outcome, durations, last success, running now.
//!
//! Values come from the run history, not from this process's memory, so runs started by hand in
//! another process (`vygoda-jobs run`) are counted as well. Counters count runs that ended since
//! this process started (the usual Prometheus counter reset on restart).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::store::{RunState, Store};

type Labels = Vec<(String, String)>;

#[derive(Debug, Clone)]
pub struct Metrics {
    runs: Family<Labels, Counter>,
    duration: Family<Labels, Histogram, fn() -> Histogram>,
    last_success: Family<Labels, Gauge<f64, AtomicU64>>,
    running: Family<Labels, Gauge>,
    ticks_skipped: Family<Labels, Counter>,
}

fn duration_histogram() -> Histogram {
    // 10 s … ~2.8 h: Spark jobs here take tens of seconds to tens of minutes.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        10.0, 2.0, 11,
    ))
}

fn job(job: &str) -> Labels {
    vec![("job".to_owned(), job.to_owned())]
}

impl Metrics {
    pub fn new(registry: &mut Registry) -> Self {
        let m = Metrics {
            runs: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            last_success: Family::default(),
            running: Family::default(),
            ticks_skipped: Family::default(),
        };
        registry.register(
            "vygoda_jobs_runs",
            "Runs that ended, by job and outcome",
            m.runs.clone(),
        );
        registry.register(
            "vygoda_jobs_run_duration_seconds",
            "Run duration from start to final state, by job",
            m.duration.clone(),
        );
        registry.register(
            "vygoda_jobs_last_success_timestamp_seconds",
            "End of the latest successful run, by job (Unix time)",
            m.last_success.clone(),
        );
        registry.register(
            "vygoda_jobs_running",
            "Runs running now, by job",
            m.running.clone(),
        );
        registry.register(
            "vygoda_jobs_ticks_skipped",
            "Schedule ticks that started no run, by job and reason",
            m.ticks_skipped.clone(),
        );
        m
    }

    /// Export every configured job's series at zero from the start. A series born at its first
    /// run would carry that run in its first sample, where `rate()` and `increase()` cannot see it:
    /// the first run after a restart would be missing from the dashboards and alerts.
    pub fn zero_jobs<'a>(&self, jobs: impl IntoIterator<Item = &'a str>) {
        for name in jobs {
            let _ = self.duration.get_or_create(&job(name));
            let _ = self.running.get_or_create(&job(name));
            for state in RunState::ALL.into_iter().filter(|s| s.is_final()) {
                let mut labels = job(name);
                labels.push(("outcome".to_owned(), state.as_str().to_owned()));
                let _ = self.runs.get_or_create(&labels);
            }
        }
    }

    pub fn tick_skipped(&self, job_name: &str, reason: &str) {
        let mut labels = job(job_name);
        labels.push(("reason".to_owned(), reason.to_owned()));
        self.ticks_skipped.get_or_create(&labels).inc();
    }

    /// Fold runs ended since `cursor` into the counters, and refresh the gauges.
    pub async fn refresh(
        &self,
        store: &Store,
        cursor: &mut (DateTime<Utc>, String),
    ) -> Result<(), crate::store::StoreError> {
        for run in store.ended_after(cursor.clone()).await? {
            let mut labels = job(&run.job);
            labels.push(("outcome".to_owned(), run.state.as_str().to_owned()));
            self.runs.get_or_create(&labels).inc();
            if let (Some(start), Some(end)) = (run.started_at, run.ended_at) {
                let secs = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
                self.duration.get_or_create(&job(&run.job)).observe(secs);
            }
            if let Some(end) = run.ended_at {
                *cursor = (end, run.run_id.clone());
            }
        }
        for (name, last_success, running) in store.job_gauges().await? {
            if let Some(t) = last_success {
                self.last_success
                    .get_or_create(&job(&name))
                    .set(t.timestamp_millis() as f64 / 1000.0);
            }
            self.running.get_or_create(&job(&name)).set(running);
        }
        Ok(())
    }

    /// Refresh every `every` until `stop`.
    pub async fn keep_fresh(self, store: Store, every: Duration, stop: CancellationToken) {
        let mut cursor = (Utc::now(), String::new());
        loop {
            if let Err(error) = self.refresh(&store, &mut cursor).await {
                tracing::warn!(%error, "metrics refresh failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn configured_jobs_are_exported_at_zero_before_their_first_run() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        assert!(!exposition(&registry).contains("job=\"recs\""));
        metrics.zero_jobs(["recs"]);
        let text = exposition(&registry);
        for line in [
            "vygoda_jobs_run_duration_seconds_count{job=\"recs\"} 0",
            "vygoda_jobs_runs_total{job=\"recs\",outcome=\"succeeded\"} 0",
            "vygoda_jobs_runs_total{job=\"recs\",outcome=\"failed\"} 0",
            "vygoda_jobs_running{job=\"recs\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
        assert!(
            !text.contains("outcome=\"running\""),
            "only final states are outcomes"
        );
    }
}
