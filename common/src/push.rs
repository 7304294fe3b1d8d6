//! Short-lived commands (SHOP API, ADMIN CLI, publisher, client simulator) end before Prometheus
//! could scrape them, so each run pushes its outcome to the Prometheus Pushgateway on exit:
//! records by outcome, duration, exit code and end time, grouped by `job` = the command's name.
//! A push replaces the previous one of the same command (the Pushgateway's batch-job pattern):
//! Prometheus always holds the latest run, and alerts compare its end time with the clock.
//!
//! A failed push never changes the command's exit code: the run's work is done (or not) either
//! way; the failure is logged with what to check.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::platform::Platform;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("encoding the run's metrics failed: {0}")]
    Encode(#[from] std::fmt::Error),
    #[error("pushing to {url} failed: {source}; check that the Pushgateway runs (`make status`)")]
    Send { url: String, source: reqwest::Error },
    #[error("the Pushgateway at {url} refused the push: HTTP {status}: {body}")]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
}

/// Where a short-lived command reports its run.
#[derive(Debug, Clone, clap::Args)]
pub struct PushArgs {
    /// Prometheus Pushgateway that receives this run's outcome (records by outcome, duration,
    /// exit code). Empty: the platform file's `pushgateway_url`; without either, no push.
    #[arg(long, env = "VYGODA_PUSHGATEWAY_URL", default_value = "")]
    pub pushgateway_url: String,
}

impl PushArgs {
    /// The flag, else the platform's Pushgateway, else none.
    pub fn resolve(&self, platform: Option<&Platform>) -> Option<String> {
        let flag = self.pushgateway_url.trim();
        if !flag.is_empty() {
            return Some(flag.trim_end_matches('/').to_owned());
        }
        platform.and_then(|p| p.pushgateway_url.clone())
    }

    /// [`Self::resolve`] with the platform file named by `platform`, when it exists and reads.
    pub fn resolve_from(&self, platform: &crate::kafka::PlatformArgs) -> Option<String> {
        self.resolve(platform.platform().ok().flatten().as_ref())
    }
}

type Labels = Vec<(String, String)>;

/// One run's outcome, filled while the command works and pushed when it ends.
#[derive(Debug)]
pub struct RunReport {
    command: String,
    url: Option<String>,
    started: Instant,
    registry: Registry,
    records: Family<Labels, Counter>,
    duration: Gauge<f64, AtomicU64>,
    exit_code: Gauge,
    ended: Gauge<f64, AtomicU64>,
}

impl RunReport {
    /// Start the clock for `command`; `url` None keeps the report local (no push).
    pub fn start(command: &str, url: Option<String>) -> Self {
        let mut registry = Registry::with_prefix("vygoda_command");
        let report = RunReport {
            command: command.to_owned(),
            url,
            started: Instant::now(),
            records: Family::default(),
            duration: Gauge::default(),
            exit_code: Gauge::default(),
            ended: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "records",
            "Records the run handled, by outcome",
            report.records.clone(),
        );
        registry.register(
            "duration_seconds",
            "Wall time of the run",
            report.duration.clone(),
        );
        registry.register(
            "exit_code",
            "The run's exit code (0 ok, 3 some records rejected, see vygoda_common::exit)",
            report.exit_code.clone(),
        );
        registry.register(
            "last_run_timestamp_seconds",
            "When the run ended (Unix time)",
            report.ended.clone(),
        );
        RunReport { registry, ..report }
    }

    /// Count `n` records with `outcome` (sent, rejected, published, …).
    pub fn records(&self, outcome: &str, n: u64) {
        self.records
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc_by(n);
    }

    /// The exposition pushed for a run that ended with `exit_code`.
    pub fn body(&self, exit_code: i32) -> Result<String, PushError> {
        self.duration.set(self.started.elapsed().as_secs_f64());
        self.exit_code.set(i64::from(exit_code));
        self.ended.set(crate::metrics::now_ms() as f64 / 1000.0);
        let mut body = String::new();
        encode(&mut body, &self.registry)?;
        Ok(body)
    }

    /// Push the outcome (PUT: this command's previous run is replaced). Logs instead of failing.
    pub async fn finish(self, exit_code: i32) {
        let Some(url) = self.url.clone() else {
            return;
        };
        match self.push(&url, exit_code).await {
            Ok(()) => tracing::debug!(command = %self.command, %url, "run outcome pushed"),
            Err(error) => tracing::warn!(command = %self.command, %error, "run outcome not pushed"),
        }
    }

    async fn push(&self, base: &str, exit_code: i32) -> Result<(), PushError> {
        let url = format!("{base}/metrics/job/{}", self.command);
        let body = self.body(exit_code)?;
        let send = |source| PushError::Send {
            url: url.clone(),
            source,
        };
        let response = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(send)?
            .put(&url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .body(body)
            .send()
            .await
            .map_err(send)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(PushError::Refused {
            url,
            status: status.as_u16(),
            body: response.text().await.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carries_outcomes_duration_and_exit_code() {
        let report = RunReport::start("shop-api", None);
        report.records("sent", 5);
        report.records("rejected", 1);
        let body = report.body(3).unwrap();
        for line in [
            "vygoda_command_records_total{outcome=\"sent\"} 5",
            "vygoda_command_records_total{outcome=\"rejected\"} 1",
            "vygoda_command_exit_code 3",
        ] {
            assert!(body.lines().any(|l| l == line), "{line} missing:\n{body}");
        }
        assert!(body.contains("vygoda_command_duration_seconds "));
        assert!(body.contains("vygoda_command_last_run_timestamp_seconds "));
    }

    #[test]
    fn the_flag_wins_over_the_platform_file() {
        let args = PushArgs {
            pushgateway_url: "http://pg:9091/".into(),
        };
        assert_eq!(args.resolve(None).as_deref(), Some("http://pg:9091"));
        let none = PushArgs {
            pushgateway_url: String::new(),
        };
        assert_eq!(none.resolve(None), None);
    }
}
