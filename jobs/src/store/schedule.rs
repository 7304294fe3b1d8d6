//! Queries of the scheduler and the metrics: ticks, dependency freshness, ended runs.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{q, RunRow, Store, StoreError};

impl Store {
    /// End of the latest successful run of `job`.
    pub async fn last_success(&self, job: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        sqlx::query_scalar(
            "SELECT max(ended_at) FROM jobs_runs WHERE job = $1 AND state = 'succeeded'",
        )
        .bind(job)
        .fetch_one(&self.pool)
        .await
        .map_err(q("last success"))
    }

    /// When the latest real (not skipped) run of `job` was queued.
    pub async fn last_run_queued(&self, job: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        sqlx::query_scalar(
            "SELECT max(queued_at) FROM jobs_runs WHERE job = $1 AND state <> 'skipped'",
        )
        .bind(job)
        .fetch_one(&self.pool)
        .await
        .map_err(q("last run"))
    }

    /// The last cron tick handled for `job`, recording `now` if there is none yet.
    pub async fn last_tick(
        &self,
        job: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        sqlx::query("INSERT INTO jobs_schedule (job, last_tick) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING")
            .bind(job)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(q("init schedule"))?;
        sqlx::query_scalar("SELECT last_tick FROM jobs_schedule WHERE job = $1")
            .bind(job)
            .fetch_one(&self.pool)
            .await
            .map_err(q("read schedule"))
    }

    /// Claim `tick` for `job`: true for exactly one scheduler, however many run.
    pub async fn claim_tick(&self, job: &str, tick: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE jobs_schedule SET last_tick = $2 WHERE job = $1 AND last_tick < $2",
        )
        .bind(job)
        .bind(tick)
        .execute(&self.pool)
        .await
        .map_err(q("claim tick"))?
        .rows_affected();
        Ok(n == 1)
    }

    /// Runs that ended after the cursor, oldest first (feeds the metrics of every process's runs).
    pub async fn ended_after(
        &self,
        after: (DateTime<Utc>, String),
    ) -> Result<Vec<RunRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM jobs_runs WHERE ended_at IS NOT NULL AND (ended_at, run_id) > ($1, $2)
             ORDER BY ended_at, run_id LIMIT 5000",
        )
        .bind(after.0)
        .bind(after.1)
        .fetch_all(&self.pool)
        .await
        .map_err(q("read ended runs"))?;
        rows.iter()
            .map(RunRow::from_row)
            .collect::<Result<_, _>>()
            .map_err(q("decode run"))
    }

    /// Per job: (latest success end, running now).
    pub async fn job_gauges(
        &self,
    ) -> Result<Vec<(String, Option<DateTime<Utc>>, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT job, max(ended_at) FILTER (WHERE state = 'succeeded') AS last_success,
                    count(*) FILTER (WHERE state = 'running') AS running
             FROM jobs_runs GROUP BY job",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("job gauges"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("job")?,
                    r.try_get("last_success")?,
                    r.try_get("running")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(q("decode gauges"))
    }
}
