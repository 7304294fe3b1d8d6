//! Run history and run admission in PostgreSQL, shared by every driver process.
//!
//! The database is the single source of truth across processes and hosts: admission (may this
//! run start?) is decided under a per-job transaction-scoped advisory lock, so two drivers can
//! never both see a free slot; liveness is a heartbeat column compared with the database's own
//! clock, so host clocks cannot disagree about a lease.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::Row;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach the run history database: {0}; is PostgreSQL up (`make up`) and --postgres-url right?")]
    Connect(#[source] sqlx::Error),
    #[error("run history query failed ({what}): {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("no run `{0}`; `vygoda-jobs history` lists runs")]
    UnknownRun(String),
}

fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

/// Lifecycle of a run. `queued`/`running` are active; the rest are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    /// The driver that owned it stopped heartbeating; its process group was killed.
    Abandoned,
    /// Not started: another run held the slot, or dependencies were not ready in time.
    Skipped,
}

impl RunState {
    pub const ALL: [RunState; 8] = [
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::Cancelled,
        RunState::TimedOut,
        RunState::Abandoned,
        RunState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::TimedOut => "timed_out",
            RunState::Abandoned => "abandoned",
            RunState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        !matches!(self, RunState::Queued | RunState::Running)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `jobs_runs`.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub run_id: String,
    pub job: String,
    pub state: RunState,
    pub trigger: String,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub log_path: Option<String>,
    pub output_path: Option<String>,
    pub input_watermarks: Option<Value>,
    pub host: String,
    pub driver_pid: i32,
    pub pgid: Option<i32>,
    pub heartbeat_at: DateTime<Utc>,
    pub cancel_requested: bool,
    /// The Spark application of the latest attempt, as the job reported it.
    pub spark_app_id: Option<String>,
    /// Where that application can be looked at after it ended (the history server).
    pub spark_ui: Option<String>,
}

impl RunRow {
    fn from_row(r: &PgRow) -> Result<Self, sqlx::Error> {
        let state: String = r.try_get("state")?;
        Ok(RunRow {
            run_id: r.try_get("run_id")?,
            job: r.try_get("job")?,
            state: RunState::parse(&state).unwrap_or(RunState::Failed),
            trigger: r.try_get("trigger")?,
            scheduled_for: r.try_get("scheduled_for")?,
            queued_at: r.try_get("queued_at")?,
            started_at: r.try_get("started_at")?,
            ended_at: r.try_get("ended_at")?,
            attempts: r.try_get("attempts")?,
            exit_code: r.try_get("exit_code")?,
            error: r.try_get("error")?,
            log_path: r.try_get("log_path")?,
            output_path: r.try_get("output_path")?,
            input_watermarks: r.try_get("input_watermarks")?,
            host: r.try_get("host")?,
            driver_pid: r.try_get("driver_pid")?,
            pgid: r.try_get("pgid")?,
            heartbeat_at: r.try_get("heartbeat_at")?,
            cancel_requested: r.try_get("cancel_requested")?,
            spark_app_id: r.try_get("spark_app_id")?,
            spark_ui: r.try_get("spark_ui")?,
        })
    }
}

/// A run about to be queued.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: String,
    pub job: String,
    pub trigger: String,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub log_path: String,
    pub output_path: Option<String>,
}

/// Outcome of asking for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Started,
    /// All slots are taken by these runs (or older queued runs are ahead).
    Busy {
        running: Vec<String>,
    },
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    Alive {
        cancel_requested: bool,
    },
    /// Someone else finalised the run (declared it abandoned): stop it now.
    Lost,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS jobs_runs (
    run_id           text PRIMARY KEY,
    job              text NOT NULL,
    state            text NOT NULL,
    trigger          text NOT NULL,
    scheduled_for    timestamptz,
    queued_at        timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    ended_at         timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    exit_code        integer,
    error            text,
    log_path         text,
    output_path      text,
    input_watermarks jsonb,
    host             text NOT NULL,
    driver_pid       integer NOT NULL,
    pgid             integer,
    heartbeat_at     timestamptz NOT NULL DEFAULT now(),
    lease_s          double precision NOT NULL DEFAULT 30,
    cancel_requested boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS jobs_runs_job_queued ON jobs_runs (job, queued_at DESC);
CREATE INDEX IF NOT EXISTS jobs_runs_active ON jobs_runs (job) WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_runs_ended ON jobs_runs (ended_at, run_id) WHERE ended_at IS NOT NULL;
-- Added after the first release: tables created before it gain the columns here.
ALTER TABLE jobs_runs ADD COLUMN IF NOT EXISTS spark_app_id text;
ALTER TABLE jobs_runs ADD COLUMN IF NOT EXISTS spark_ui text;
CREATE TABLE IF NOT EXISTS jobs_schedule (
    job       text PRIMARY KEY,
    last_tick timestamptz NOT NULL
);
"#;

/// Namespace of our advisory locks (first key of the two-int form).
const LOCK_NS: i32 = 0x766A_6F62; // "vjob"

#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    pub host: String,
    pub pid: i32,
    /// Lease this process promises for its runs (recorded per run: the owner's, not the
    /// resolver's, lease decides when a run counts as orphaned).
    pub lease: Duration,
}

impl Store {
    /// Connect and create the tables (idempotent; serialised so concurrent first starts agree).
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        use vygoda_common::postgres::{connect_with_schema, SchemaError};
        let pool = connect_with_schema(url, 4, timeout, LOCK_NS, SCHEMA)
            .await
            .map_err(|e| match e {
                SchemaError::Connect(e) => StoreError::Connect(e),
                SchemaError::Apply(e) => q("create tables")(e),
            })?;
        Ok(Store {
            pool,
            host: crate::process::hostname(),
            pid: std::process::id() as i32,
            lease: Duration::from_secs(30),
        })
    }

    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub async fn insert_queued(&self, run: &NewRun) -> Result<RunRow, StoreError> {
        let row = sqlx::query(
            "INSERT INTO jobs_runs (run_id, job, state, trigger, scheduled_for, log_path, output_path, host, driver_pid, lease_s)
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        )
        .bind(&run.run_id)
        .bind(&run.job)
        .bind(&run.trigger)
        .bind(run.scheduled_for)
        .bind(&run.log_path)
        .bind(&run.output_path)
        .bind(&self.host)
        .bind(self.pid)
        .bind(self.lease.as_secs_f64())
        .fetch_one(&self.pool)
        .await
        .map_err(q("insert run"))?;
        RunRow::from_row(&row).map_err(q("decode run"))
    }

    /// Take a slot for a queued run if fewer than `concurrency` runs of its job are running and
    /// no older queued run is waiting for it (first come, first served).
    pub async fn try_start(
        &self,
        run_id: &str,
        job: &str,
        concurrency: u32,
    ) -> Result<Admission, StoreError> {
        let mut tx = self.pool.begin().await.map_err(q("begin admission"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(LOCK_NS)
            .bind(job)
            .execute(&mut *tx)
            .await
            .map_err(q("admission lock"))?;
        let running: Vec<String> = sqlx::query_scalar(
            "SELECT run_id FROM jobs_runs WHERE job = $1 AND state = 'running' ORDER BY started_at",
        )
        .bind(job)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("count running"))?;
        let ahead: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs_runs o, jobs_runs me
             WHERE me.run_id = $1 AND o.job = me.job AND o.state = 'queued'
               AND (o.queued_at, o.run_id) < (me.queued_at, me.run_id)",
        )
        .bind(run_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(q("count queued"))?;
        if running.len() as i64 + ahead >= i64::from(concurrency) {
            tx.rollback().await.map_err(q("admission"))?;
            return Ok(Admission::Busy { running });
        }
        let started = sqlx::query(
            "UPDATE jobs_runs SET state = 'running', started_at = now(), heartbeat_at = now()
             WHERE run_id = $1 AND state = 'queued'",
        )
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(q("start run"))?
        .rows_affected();
        tx.commit().await.map_err(q("admission"))?;
        if started == 1 {
            Ok(Admission::Started)
        } else {
            Err(StoreError::UnknownRun(run_id.to_owned()))
        }
    }

    /// Record the attempt that is about to run and its process group.
    pub async fn set_attempt(
        &self,
        run_id: &str,
        attempt: u32,
        pgid: Option<i32>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs_runs SET attempts = $2, pgid = $3, heartbeat_at = now() WHERE run_id = $1",
        )
        .bind(run_id)
        .bind(attempt as i32)
        .bind(pgid)
        .execute(&self.pool)
        .await
        .map_err(q("record attempt"))?;
        Ok(())
    }

    /// Renew the lease of a run this process owns; learn whether a cancel was asked for.
    pub async fn heartbeat(&self, run_id: &str) -> Result<Beat, StoreError> {
        let row: Option<bool> = sqlx::query_scalar(
            "UPDATE jobs_runs SET heartbeat_at = now()
             WHERE run_id = $1 AND host = $2 AND driver_pid = $3 AND state IN ('queued', 'running')
             RETURNING cancel_requested",
        )
        .bind(run_id)
        .bind(&self.host)
        .bind(self.pid)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("heartbeat"))?;
        Ok(match row {
            Some(cancel_requested) => Beat::Alive { cancel_requested },
            None => Beat::Lost,
        })
    }

    /// Final state of a run this process owns. False if someone else finalised it first.
    pub async fn finish(
        &self,
        run_id: &str,
        state: RunState,
        exit_code: Option<i32>,
        error: Option<&str>,
        watermarks: Option<&Value>,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE jobs_runs SET state = $2, exit_code = $3, error = $4,
                    input_watermarks = COALESCE($5, input_watermarks), ended_at = now(), pgid = NULL
             WHERE run_id = $1 AND host = $6 AND driver_pid = $7 AND state IN ('queued', 'running')",
        )
        .bind(run_id)
        .bind(state.as_str())
        .bind(exit_code)
        .bind(error)
        .bind(watermarks)
        .bind(&self.host)
        .bind(self.pid)
        .execute(&self.pool)
        .await
        .map_err(q("finish run"))?
        .rows_affected();
        Ok(n == 1)
    }

    /// A run that never started (slot busy, dependencies late), kept for the record.
    pub async fn insert_skipped(&self, run: &NewRun, reason: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO jobs_runs (run_id, job, state, trigger, scheduled_for, error, host, driver_pid, ended_at)
             VALUES ($1, $2, 'skipped', $3, $4, $5, $6, $7, now())",
        )
        .bind(&run.run_id)
        .bind(&run.job)
        .bind(&run.trigger)
        .bind(run.scheduled_for)
        .bind(reason)
        .bind(&self.host)
        .bind(self.pid)
        .execute(&self.pool)
        .await
        .map_err(q("insert skipped run"))?;
        Ok(())
    }

    /// Turn a queued run that gave up waiting into a skipped one.
    pub async fn skip_queued(&self, run_id: &str, reason: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs_runs SET state = 'skipped', error = $2, ended_at = now()
             WHERE run_id = $1 AND state = 'queued'",
        )
        .bind(run_id)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(q("skip queued run"))?;
        Ok(())
    }

    pub async fn request_cancel(&self, run_id: &str) -> Result<RunRow, StoreError> {
        let row = sqlx::query(
            "UPDATE jobs_runs SET cancel_requested = true WHERE run_id = $1 RETURNING *",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("request cancel"))?
        .ok_or_else(|| StoreError::UnknownRun(run_id.to_owned()))?;
        RunRow::from_row(&row).map_err(q("decode run"))
    }

    pub async fn get(&self, run_id: &str) -> Result<RunRow, StoreError> {
        let row = sqlx::query("SELECT * FROM jobs_runs WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read run"))?
            .ok_or_else(|| StoreError::UnknownRun(run_id.to_owned()))?;
        RunRow::from_row(&row).map_err(q("decode run"))
    }

    pub async fn history(&self, job: Option<&str>, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM jobs_runs WHERE ($1::text IS NULL OR job = $1) ORDER BY queued_at DESC, run_id DESC LIMIT $2",
        )
        .bind(job)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q("read history"))?;
        rows.iter()
            .map(RunRow::from_row)
            .collect::<Result<_, _>>()
            .map_err(q("decode run"))
    }

    /// Active runs that may be orphaned, each with whether its owner's lease expired (by the
    /// database clock): expired ones, and those of other processes on this host (whose liveness
    /// the caller can check directly).
    pub async fn orphan_candidates(&self) -> Result<Vec<(RunRow, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT *, heartbeat_at < now() - make_interval(secs => lease_s) AS expired FROM jobs_runs
             WHERE state IN ('queued', 'running')
               AND (heartbeat_at < now() - make_interval(secs => lease_s) OR (host = $1 AND driver_pid <> $2))",
        )
        .bind(&self.host)
        .bind(self.pid)
        .fetch_all(&self.pool)
        .await
        .map_err(q("find orphans"))?;
        rows.iter()
            .map(|r| Ok((RunRow::from_row(r)?, r.try_get("expired")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(q("decode run"))
    }

    /// Finalise an orphan, only if its owner did not heartbeat since we looked (compare-and-set).
    pub async fn resolve_orphan(
        &self,
        row: &RunRow,
        state: RunState,
        error: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE jobs_runs SET state = $2, error = $3, ended_at = now(), pgid = NULL
             WHERE run_id = $1 AND state IN ('queued', 'running') AND heartbeat_at = $4",
        )
        .bind(&row.run_id)
        .bind(state.as_str())
        .bind(error)
        .bind(row.heartbeat_at)
        .execute(&self.pool)
        .await
        .map_err(q("resolve orphan"))?
        .rows_affected();
        Ok(n == 1)
    }
}

mod schedule;
mod spark;
