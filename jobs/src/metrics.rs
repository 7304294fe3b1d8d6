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

use crate::store::Store;

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
