//! One run of one job, from admission to its final state: attempts with exponential backoff,
//! per-attempt timeout, cancellation, heartbeats, the post-step and the recorded watermarks.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, DriverSettings, JobDef, JobsFile};
use crate::process::{self, CommandSpec, LogSink};
use crate::recovery;
use crate::store::{Admission, Beat, NewRun, RunState, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("job `{job}`: {message}")]
    Template { job: String, message: String },
    #[error("cannot open the run log {path}: {source}; check [driver] log_dir")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where Spark lives and the values every run's placeholders start from.
#[derive(Debug, Clone)]
pub struct RunEnv {
    pub spark_submit: PathBuf,
    pub python: Option<PathBuf>,
    pub master: String,
    /// The Spark history server's web address, for each run's application page.
    pub history_url: Option<String>,
    /// Builtins (lake_root, hdfs_url, platform, bin_dir, jobs_dir), `[vars]` and `--var`, expanded.
    pub vars: BTreeMap<String, String>,
    pub settings: DriverSettings,
}

/// The driver: job definitions, Spark environment and the run history.
#[derive(Debug, Clone)]
pub struct Driver {
    pub store: Store,
    pub jobs: Arc<JobsFile>,
    pub env: Arc<RunEnv>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Schedule,
    /// run_once catch-up after the scheduler was down.
    CatchUp,
    Dependency,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch_up",
            Trigger::Dependency => "dependency",
        }
    }
}

#[derive(Debug)]
pub struct RunRequest {
    pub job: String,
    pub trigger: Trigger,
    pub scheduled_for: Option<DateTime<Utc>>,
    /// How long to wait for a free slot; None refuses at once when the job is running.
    pub queue_for: Option<Duration>,
    /// Live copy of the log (the `run` terminal).
    pub viewer: Option<UnboundedSender<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run_id: String,
    pub state: RunState,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub attempts: u32,
    pub output: Option<String>,
    pub log_path: PathBuf,
}

/// Why a run was stopped from outside its process.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StopReason {
    Cancelled(String),
    /// Another driver declared this run abandoned: it no longer belongs to us.
    Lost,
}

mod launch;
pub mod spark_app;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttemptEnd {
    Exited(i32),
    TimedOut,
    Stopped,
}

/// `<job>-<UTC timestamp>-<4 hex>`: sortable, readable, unique even for runs in the same second.
pub fn new_run_id(job: &str) -> String {
    format!(
        "{job}-{}-{:04x}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

impl Driver {
    /// Run `req` to its final state. `stop` cancels the run (Ctrl-C, driver shutdown).
    pub async fn execute(
        &self,
        req: RunRequest,
        stop: CancellationToken,
    ) -> Result<RunOutcome, RunError> {
        let job = self.jobs.job(&req.job)?.clone();
        let settings = &self.env.settings;
        // Slots held by drivers that died are freed before we ask for one.
        recovery::resolve_orphans(&self.store, settings).await?;
        let run_id = new_run_id(&job.name);
        let log_path = settings
            .log_dir
            .join(&job.name)
            .join(format!("{run_id}.log"));
        let values = self.values(&job, &run_id, req.scheduled_for, &log_path)?;
        let output = Some(values["output"].clone()).filter(|o| !o.is_empty());
        let sink =
            LogSink::open(&log_path, req.viewer.clone()).map_err(|source| RunError::Log {
                path: log_path.clone(),
                source,
            })?;
        self.store
            .insert_queued(&NewRun {
                run_id: run_id.clone(),
                job: job.name.clone(),
                trigger: req.trigger.as_str().into(),
                scheduled_for: req.scheduled_for,
                log_path: log_path.display().to_string(),
                output_path: output.clone(),
            })
            .await?;
        let mut outcome = RunOutcome {
            run_id: run_id.clone(),
            state: RunState::Failed,
            exit_code: None,
            error: None,
            attempts: 0,
            output,
            log_path,
        };
        let run_stop = stop.child_token();
        let reason = Arc::new(Mutex::new(None));
        let beat = tokio::spawn(heartbeat(
            self.store.clone(),
            run_id.clone(),
            settings.heartbeat,
            settings.lease,
            run_stop.clone(),
            reason.clone(),
        ));
        let result = self
            .admit_then_run(&job, values, &sink, &req, &run_stop, &reason, &mut outcome)
            .await;
        beat.abort();
        let watermarks = match &result {
            Ok(w) => w.clone(),
            Err(e) => {
                outcome.state = RunState::Failed;
                outcome.error = Some(e.to_string());
                None
            }
        };
        sink.note(&format!(
            "run {} {}",
            outcome.state,
            outcome.error.as_deref().unwrap_or("")
        ));
        if outcome.state != RunState::Skipped {
            let owned = self
                .store
                .finish(
                    &run_id,
                    outcome.state,
                    outcome.exit_code,
                    outcome.error.as_deref(),
                    watermarks.as_ref(),
                )
                .await?;
            if !owned {
                // Someone declared the run abandoned (lease lost) and killed it; their verdict stands.
                let row = self.store.get(&run_id).await?;
                outcome.state = row.state;
                outcome.error = row.error;
            }
        }
        tracing::info!(job = job.name, run_id, state = %outcome.state, attempts = outcome.attempts, "run finished");
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    async fn admit_then_run(
        &self,
        job: &JobDef,
        mut values: BTreeMap<String, String>,
        sink: &LogSink,
        req: &RunRequest,
        run_stop: &CancellationToken,
        reason: &Arc<Mutex<Option<StopReason>>>,
        outcome: &mut RunOutcome,
    ) -> Result<Option<Value>, RunError> {
        let run_id = outcome.run_id.clone();
        // --- admission: a free slot, first come first served, or give up -------------------
        let deadline = req.queue_for.map(|d| tokio::time::Instant::now() + d);
        loop {
            match self
                .store
                .try_start(&run_id, &job.name, job.concurrency)
                .await?
            {
                Admission::Started => break,
                Admission::Busy { running } => {
                    let out_of_time = deadline.is_none_or(|d| tokio::time::Instant::now() >= d);
                    if run_stop.is_cancelled() {
                        outcome.state = RunState::Cancelled;
                        outcome.error = Some(stop_text(reason));
                        return Ok(None);
                    }
                    if out_of_time {
                        let why = format!(
                            "not started: {} already running ({}), concurrency {}; retry later or use --wait",
                            job.name,
                            running.join(", "),
                            job.concurrency
                        );
                        sink.note(&why);
                        self.store.skip_queued(&run_id, &why).await?;
                        outcome.state = RunState::Skipped;
                        outcome.error = Some(why);
                        return Ok(None);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = run_stop.cancelled() => {}
                    }
                    recovery::resolve_orphans(&self.store, &self.env.settings).await?;
                }
            }
        }
        // --- attempts ----------------------------------------------------------------------
        let max = job.max_attempts();
        for attempt in 1..=max {
            outcome.attempts = attempt;
            values.insert("attempt".into(), attempt.to_string());
            let spec = self.spark_command(job, &values)?;
            let app_file = spark_app::app_file(Path::new(&values["log_path"]));
            // A retry must not inherit the failed attempt's report.
            let _ = std::fs::remove_file(&app_file);
            sink.note(&format!(
                "attempt {attempt}/{max} started: {}",
                spec.display()
            ));
            let end = self
                .run_process(&spec, &run_id, attempt, job.timeout, sink, run_stop)
                .await?;
            self.record_spark_app(&run_id, &app_file, sink).await?;
            sink.note(&format!("attempt {attempt}/{max} ended: {end:?}"));
            match end {
                AttemptEnd::Exited(0) => {
                    let watermarks = read_watermarks(outcome.output.as_deref()).await;
                    self.post_step(
                        job, &values, &run_id, attempt, sink, run_stop, reason, outcome,
                    )
                    .await?;
                    return Ok(watermarks);
                }
                AttemptEnd::Stopped => {
                    outcome.state = RunState::Cancelled;
                    outcome.error = Some(stop_text(reason));
                    return Ok(None);
                }
                AttemptEnd::TimedOut => {
                    outcome.state = RunState::TimedOut;
                    outcome.exit_code = None;
                    outcome.error = Some(format!(
                        "attempt {attempt} timed out after {:?}; process group killed",
                        job.timeout
                    ));
                }
                AttemptEnd::Exited(code) => {
                    outcome.state = RunState::Failed;
                    outcome.exit_code = Some(code);
                    outcome.error = Some(format!("spark-submit exited with {code}; see the log"));
                    if job.no_retry_exit_codes.contains(&code) {
                        sink.note(&format!(
                            "exit code {code} is not retried (no_retry_exit_codes)"
                        ));
                        return Ok(None);
                    }
                }
            }
            // A `cancel` from another process may have killed the group before our heartbeat saw it.
            if let Ok(Beat::Alive {
                cancel_requested: true,
            }) = self.store.heartbeat(&run_id).await
            {
                outcome.state = RunState::Cancelled;
                outcome.error = Some("cancelled by request".into());
                return Ok(None);
            }
            if attempt < max && !self.backoff(job, attempt + 1, sink, run_stop).await {
                outcome.state = RunState::Cancelled;
                outcome.error = Some(stop_text(reason));
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Run the post-step (the publisher) with the job's retries; sets the run's final state.
    #[allow(clippy::too_many_arguments)]
    async fn post_step(
        &self,
        job: &JobDef,
        values: &BTreeMap<String, String>,
        run_id: &str,
        attempt: u32,
        sink: &LogSink,
        run_stop: &CancellationToken,
        reason: &Arc<Mutex<Option<StopReason>>>,
        outcome: &mut RunOutcome,
    ) -> Result<(), RunError> {
        outcome.state = RunState::Succeeded;
        outcome.exit_code = Some(0);
        outcome.error = None;
        let Some(spec) = self.post_step_command(job, values)? else {
            return Ok(());
        };
        let max = job.max_attempts();
        for n in 1..=max {
            sink.note(&format!("post-step {n}/{max} started: {}", spec.display()));
            let end = self
                .run_process(
                    &spec,
                    run_id,
                    attempt,
                    job.post_step_timeout,
                    sink,
                    run_stop,
                )
                .await?;
            sink.note(&format!("post-step {n}/{max} ended: {end:?}"));
            let error = match end {
                AttemptEnd::Exited(0) => return Ok(()),
                AttemptEnd::Stopped => {
                    outcome.state = RunState::Cancelled;
                    outcome.error = Some(format!("post-step: {}", stop_text(reason)));
                    return Ok(());
                }
                AttemptEnd::TimedOut => {
                    format!("post-step timed out after {:?}", job.post_step_timeout)
                }
                AttemptEnd::Exited(code) => format!("post-step exited with {code}"),
            };
            outcome.state = RunState::Failed;
            outcome.exit_code = Some(match end {
                AttemptEnd::Exited(c) => c,
                _ => crate::exit_code::TIMEOUT,
            });
            outcome.error = Some(format!(
                "{error}; the Spark output is complete, rerun the post-step by hand"
            ));
            if n < max && !self.backoff(job, n + 1, sink, run_stop).await {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Sleep before attempt `next`; false if the run was stopped meanwhile.
    async fn backoff(
        &self,
        job: &JobDef,
        next: u32,
        sink: &LogSink,
        run_stop: &CancellationToken,
    ) -> bool {
        let delay = job.backoff(next);
        sink.note(&format!("retrying in {delay:?}"));
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = run_stop.cancelled() => false,
        }
    }

    /// One process: spawned in its own group, killed as a group on timeout or stop, and any
    /// member left behind after a normal exit (a stray Python worker) is killed too.
    async fn run_process(
        &self,
        spec: &CommandSpec,
        run_id: &str,
        attempt: u32,
        timeout: Duration,
        sink: &LogSink,
        run_stop: &CancellationToken,
    ) -> Result<AttemptEnd, RunError> {
        let (mut child, pgid, pumps) = match process::spawn(spec, sink) {
            Ok(x) => x,
            Err(e) => {
                sink.note(&format!("cannot start {}: {e}", spec.program.display()));
                return Ok(AttemptEnd::Exited(crate::exit_code::NOT_STARTED));
            }
        };
        self.store.set_attempt(run_id, attempt, Some(pgid)).await?;
        let grace = self.env.settings.kill_grace;
        let end = tokio::select! {
            status = child.wait() => match status {
                Ok(s) => AttemptEnd::Exited(s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))),
                Err(_) => AttemptEnd::Exited(crate::exit_code::NOT_STARTED),
            },
            _ = tokio::time::sleep(timeout) => AttemptEnd::TimedOut,
            _ = run_stop.cancelled() => AttemptEnd::Stopped,
        };
        if process::group_alive(pgid) {
            let killed = process::kill_group(pgid, grace).await;
            sink.note(&format!("process group {pgid}: {killed:?}"));
        }
        let _ = child.wait().await;
        // Pipes close once the group is gone; don't hang on a member we could not kill.
        let _ = tokio::time::timeout(Duration::from_secs(5), pumps).await;
        Ok(end)
    }
}

fn stop_text(reason: &Arc<Mutex<Option<StopReason>>>) -> String {
    match reason.lock().ok().and_then(|r| r.clone()) {
        Some(StopReason::Cancelled(why)) => why,
        Some(StopReason::Lost) => "lease lost: another driver declared this run abandoned".into(),
        None => "cancelled: the driver is stopping".into(),
    }
}

/// Renew the lease every `interval`; stop the run when a cancel is requested, when another
/// driver took it over, or when the database was unreachable for a whole lease (then another
/// driver may already have declared it abandoned, and two copies must not run).
async fn heartbeat(
    store: Store,
    run_id: String,
    interval: Duration,
    lease: Duration,
    run_stop: CancellationToken,
    reason: Arc<Mutex<Option<StopReason>>>,
) {
    let mut last_ok = tokio::time::Instant::now();
    let set = |r: StopReason| {
        if let Ok(mut g) = reason.lock() {
            g.get_or_insert(r);
        }
    };
    loop {
        match store.heartbeat(&run_id).await {
            Ok(Beat::Alive { cancel_requested }) => {
                last_ok = tokio::time::Instant::now();
                if cancel_requested {
                    set(StopReason::Cancelled("cancelled by request".into()));
                    run_stop.cancel();
                }
            }
            Ok(Beat::Lost) => {
                set(StopReason::Lost);
                run_stop.cancel();
                return;
            }
            Err(error) => {
                tracing::warn!(run_id, %error, "heartbeat failed");
                if last_ok.elapsed() > lease - interval {
                    set(StopReason::Cancelled(
                        "run history database unreachable for a whole lease".into(),
                    ));
                    run_stop.cancel();
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// The input watermarks a job recorded next to its output (`inputs.json` or `_inputs.json`).
async fn read_watermarks(output: Option<&str>) -> Option<Value> {
    let output = output?.trim_end_matches('/');
    for name in ["inputs.json", "_inputs.json"] {
        if let Ok(bytes) = vygoda_storage::url::read(&format!("{output}/{name}")).await {
            return serde_json::from_slice(&bytes).ok();
        }
    }
    None
}
