//! The `vygoda-jobs` command line, its validation into a typed config, and the driver's `run()`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use vygoda_common::exit;
use vygoda_common::platform::{Platform, DEFAULT_PATH};

use crate::config::{expand, parse_duration, JobsFile};
use crate::metrics::Metrics;
use crate::runner::{Driver, RunEnv, RunRequest, Trigger};
use crate::store::{RunState, Store};
use crate::{commands, recovery, scheduler, Error};

/// Spark jobs driver: cron scheduler (`serve`) and manual trigger (`run`) with a run history.
#[derive(Debug, Parser)]
#[command(name = "vygoda-jobs", version)]
pub struct Cli {
    /// Job definitions file.
    #[arg(
        long,
        global = true,
        env = "VYGODA_JOBS_FILE",
        default_value = "jobs/jobs.toml"
    )]
    pub jobs: PathBuf,
    /// Platform description (PostgreSQL URL, Spark, lake root); optional when flags say it all.
    #[arg(long, global = true, env = "VYGODA_PLATFORM", default_value = DEFAULT_PATH)]
    pub platform: PathBuf,
    /// PostgreSQL URL of the run history (default: the platform's postgres_url).
    #[arg(long, global = true, env = "VYGODA_POSTGRES_URL", default_value = "")]
    pub postgres_url: String,
    /// spark-submit to run (default: [driver] spark_submit, then the platform's spark.submit).
    #[arg(long, global = true, env = "VYGODA_SPARK_SUBMIT", default_value = "")]
    pub spark_submit: String,
    /// Python for PySpark (default: [driver] python, then the platform's spark.python).
    #[arg(long, global = true, env = "VYGODA_SPARK_PYTHON", default_value = "")]
    pub python: String,
    /// Spark master (default: [driver] master, then the platform's spark.master, then local[2]).
    #[arg(long, global = true, env = "VYGODA_SPARK_MASTER", default_value = "")]
    pub master: String,
    /// Spark history server, for each run's application page (default: the platform's
    /// spark.history_url; none: runs record their application id only).
    #[arg(
        long,
        global = true,
        env = "VYGODA_SPARK_HISTORY_URL",
        default_value = ""
    )]
    pub spark_history_url: String,
    /// Placeholder value `name=value`, overriding the platform and [vars] (repeatable).
    #[arg(
        long = "var",
        global = true,
        env = "VYGODA_JOBS_VARS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub vars: Vec<String>,
    /// How long to wait for PostgreSQL before giving up.
    #[arg(
        long,
        global = true,
        env = "VYGODA_JOBS_DB_TIMEOUT",
        default_value = "10s"
    )]
    pub db_timeout: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a job now, streaming its log; the exit code is the outcome (0 ok, 1 failed,
    /// 130 cancelled/timed out, 69 not started because a run of the job is in progress).
    Run {
        /// Job name from the definitions file.
        job: String,
        /// Wait this long for a running run of the job to finish instead of refusing (e.g. 30m).
        #[arg(long, env = "VYGODA_JOBS_WAIT", default_value = "0s")]
        wait: String,
        /// Show only the progress line and the outcome, not the job's log.
        #[arg(long, env = "VYGODA_JOBS_QUIET", default_value_t = false)]
        quiet: bool,
    },
    /// Job definitions with schedule, next tick and latest run.
    List,
    /// Latest runs, newest first.
    History {
        /// Only this job.
        job: Option<String>,
        /// How many runs.
        #[arg(long, env = "VYGODA_JOBS_HISTORY_LIMIT", default_value_t = 20)]
        limit: i64,
        /// One JSON object per run (all columns, watermarks included).
        #[arg(long, env = "VYGODA_JOBS_HISTORY_JSON", default_value_t = false)]
        json: bool,
    },
    /// Print a run's log.
    Logs {
        /// Run id (see `history`).
        run: String,
        /// Keep printing until the run ends.
        #[arg(long, short, env = "VYGODA_JOBS_FOLLOW", default_value_t = false)]
        follow: bool,
    },
    /// Cancel a run: its whole process tree is terminated (SIGTERM, then SIGKILL after the grace).
    Cancel {
        /// Run id (see `history`).
        run: String,
        /// How long to wait for the run to reach its final state.
        #[arg(long, env = "VYGODA_JOBS_CANCEL_WAIT", default_value = "60s")]
        wait: String,
    },
    /// Find runs whose driver died, kill what they left running and mark them abandoned.
    Recover,
    /// Scheduler daemon: cron ticks, missed-run policy, dependencies, /metrics.
    Serve {
        /// Address of /metrics.
        #[arg(
            long,
            env = "VYGODA_JOBS_METRICS_ADDR",
            default_value = "127.0.0.1:9104"
        )]
        metrics_addr: SocketAddr,
    },
}

/// Placeholder values known before any run: platform values, `[vars]`, then `--var`.
pub fn base_vars(
    jobs: &JobsFile,
    platform: Option<&Platform>,
    platform_path: &Path,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Error> {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_owned())
            .display()
            .to_string()
    };
    let mut v = BTreeMap::new();
    v.insert(
        "lake_root".into(),
        platform.map(|p| p.lake_root.clone()).unwrap_or_default(),
    );
    v.insert(
        "hdfs_url".into(),
        platform.map(|p| p.hdfs.url.clone()).unwrap_or_default(),
    );
    v.insert("platform".into(), abs(platform_path));
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    v.insert("bin_dir".into(), bin_dir.display().to_string());
    v.insert(
        "jobs_dir".into(),
        abs(jobs.path.parent().unwrap_or(Path::new("."))),
    );
    for (k, val) in overrides {
        v.insert(k.clone(), val.clone());
    }
    // [vars] may refer to builtins and to each other: expand until nothing changes.
    let mut pending: Vec<(&String, &String)> = jobs
        .vars
        .iter()
        .filter(|(k, _)| !overrides.contains_key(*k))
        .collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|(k, t)| match expand(t, &v) {
            Ok(value) => {
                v.insert(k.to_string(), value);
                false
            }
            Err(_) => true,
        });
        if pending.len() == before {
            let names: Vec<&str> = pending.iter().map(|(k, _)| k.as_str()).collect();
            return Err(Error::Usage(format!(
                "[vars] {names:?} refer to each other or to unknown values"
            )));
        }
    }
    Ok(v)
}

fn nonempty(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Validate the command line into a driver (connects to PostgreSQL).
pub async fn driver(cli: &Cli) -> Result<Driver, Error> {
    let jobs = JobsFile::load(&cli.jobs)?;
    let platform = if cli.platform.exists() {
        Some(Platform::load(&cli.platform)?)
    } else {
        None
    };
    let overrides =
        vygoda_common::kafka::parse_props(&cli.vars).map_err(|e| Error::Usage(e.to_string()))?;
    let vars = base_vars(&jobs, platform.as_ref(), &cli.platform, &overrides)?;
    let settings = jobs.driver.clone();
    let spark_submit = nonempty(&cli.spark_submit)
        .map(PathBuf::from)
        .or(settings.spark_submit.clone())
        .or(platform.as_ref().map(|p| p.spark.submit.clone()))
        .ok_or_else(|| {
            Error::Usage(
                "no spark-submit: pass --spark-submit or run `make up` for the platform file"
                    .into(),
            )
        })?;
    let python = nonempty(&cli.python)
        .map(PathBuf::from)
        .or(settings.python.clone())
        .or(platform.as_ref().map(|p| p.spark.python.clone()));
    let master = nonempty(&cli.master)
        .or(settings.master.clone())
        .or(platform.as_ref().map(|p| p.spark.master.clone()))
        .unwrap_or_else(|| "local[2]".into());
    let history_url = nonempty(&cli.spark_history_url)
        .or(platform.as_ref().and_then(|p| p.spark.history_url.clone()));
    let url = nonempty(&cli.postgres_url)
        .or(platform.as_ref().map(|p| p.postgres_url.clone()))
        .ok_or_else(|| {
            Error::Usage("no run history database: pass --postgres-url or run `make up`".into())
        })?;
    let db_timeout = parse_duration(&cli.db_timeout).map_err(Error::Usage)?;
    let store = Store::connect(&url, db_timeout)
        .await?
        .with_lease(settings.lease);
    Ok(Driver {
        store,
        jobs: Arc::new(jobs),
        env: Arc::new(RunEnv {
            spark_submit,
            python,
            master,
            history_url,
            vars,
            settings,
        }),
    })
}

/// Exit code of a finished run.
pub fn exit_code(state: RunState) -> i32 {
    match state {
        RunState::Succeeded => exit::OK,
        RunState::Cancelled | RunState::TimedOut => exit::CANCELLED,
        RunState::Skipped => exit::UNAVAILABLE,
        _ => exit::FAILED,
    }
}

/// The driver's spine: validate, connect, do the one command, return the exit code.
pub async fn run(cli: Cli, shutdown: CancellationToken) -> Result<i32, Error> {
    let driver = driver(&cli).await?;
    let mut stdout = std::io::stdout();
    match cli.command {
        Command::Run { job, wait, quiet } => {
            driver.jobs.job(&job)?;
            let wait = parse_duration(&wait).map_err(Error::Usage)?;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let view = tokio::spawn(crate::progress::show(rx, job.clone(), quiet));
            let req = RunRequest {
                job,
                trigger: Trigger::Manual,
                scheduled_for: None,
                queue_for: Some(wait).filter(|w| !w.is_zero()),
                viewer: Some(tx),
            };
            // Ctrl-C / SIGTERM cancel the run: its process group is killed, state `cancelled`.
            let outcome = driver.execute(req, shutdown).await?;
            let _ = view.await;
            eprintln!(
                "run {} {} after {} attempt(s){}; log: {}{}",
                outcome.run_id,
                outcome.state,
                outcome.attempts,
                outcome
                    .exit_code
                    .map(|c| format!(", exit code {c}"))
                    .unwrap_or_default(),
                outcome.log_path.display(),
                outcome
                    .error
                    .map(|e| format!("\n  {e}"))
                    .unwrap_or_default()
            );
            Ok(exit_code(outcome.state))
        }
        Command::List => {
            commands::list(&driver, &mut stdout).await?;
            Ok(exit::OK)
        }
        Command::History { job, limit, json } => {
            commands::history(&driver, job.as_deref(), limit, json, &mut stdout).await?;
            Ok(exit::OK)
        }
        Command::Logs { run, follow } => {
            let state = commands::logs(&driver, &run, follow, &mut stdout).await?;
            Ok(if follow { exit_code(state) } else { exit::OK })
        }
        Command::Cancel { run, wait } => {
            let wait = parse_duration(&wait).map_err(Error::Usage)?;
            let row = recovery::cancel(&driver.store, &driver.env.settings, &run, wait).await?;
            eprintln!(
                "run {} is {}{}",
                row.run_id,
                row.state,
                row.error.map(|e| format!(": {e}")).unwrap_or_default()
            );
            Ok(if row.state.is_final() {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        Command::Recover => {
            for (run_id, state) in
                recovery::resolve_orphans(&driver.store, &driver.env.settings).await?
            {
                println!("{run_id} -> {state}");
            }
            Ok(exit::OK)
        }
        Command::Serve { metrics_addr } => {
            let mut registry = prometheus_client::registry::Registry::default();
            let metrics = Metrics::new(&mut registry);
            metrics.zero_jobs(driver.jobs.jobs.keys().map(String::as_str));
            vygoda_common::metrics::serve(metrics_addr, registry, shutdown.clone()).await?;
            tokio::spawn(metrics.clone().keep_fresh(
                driver.store.clone(),
                Duration::from_secs(5),
                shutdown.clone(),
            ));
            scheduler::serve(driver, metrics, shutdown).await?;
            Ok(exit::OK)
        }
    }
}
