//! Read-side commands: `list`, `history`, `logs`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::MissedPolicy;
use crate::runner::Driver;
use crate::store::{RunRow, RunState, StoreError};

fn ts(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

fn duration(run: &RunRow) -> String {
    match (
        run.started_at,
        run.ended_at.or(if run.state == RunState::Running {
            Some(Utc::now())
        } else {
            None
        }),
    ) {
        (Some(s), Some(e)) => {
            let secs = (e - s).num_seconds().max(0);
            format!("{}m{:02}s", secs / 60, secs % 60)
        }
        _ => "-".into(),
    }
}

/// Job definitions with schedule, next tick, and latest run.
pub async fn list(driver: &Driver, out: &mut dyn Write) -> Result<(), StoreError> {
    let _ = writeln!(
        out,
        "{:<20} {:<16} {:<20} {:<6} {:<10} {:<22} {:<20} DEPENDS_ON",
        "JOB", "SCHEDULE", "NEXT (UTC)", "CONC", "MISSED", "LAST RUN", "LAST SUCCESS"
    );
    for job in driver.jobs.jobs.values() {
        let next = job
            .schedule
            .as_ref()
            .and_then(|s| s.upcoming(Utc).next())
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".into());
        let last = driver.store.history(Some(&job.name), 1).await?;
        let last = last
            .first()
            .map(|r| format!("{} {}", r.state, ts(r.ended_at.or(r.started_at))))
            .unwrap_or_else(|| "never".into());
        let _ = writeln!(
            out,
            "{:<20} {:<16} {:<20} {:<6} {:<10} {:<22} {:<20} {}",
            job.name,
            job.schedule
                .as_ref()
                .map(|s| s.source().to_owned())
                .unwrap_or_else(|| "-".into()),
            next,
            job.concurrency,
            match job.missed {
                MissedPolicy::Skip => "skip",
                MissedPolicy::RunOnce => "run_once",
            },
            last,
            ts(driver.store.last_success(&job.name).await?),
            job.depends_on.join(",")
        );
    }
    Ok(())
}

/// Latest runs, newest first; `--json` prints one JSON object per line.
pub async fn history(
    driver: &Driver,
    job: Option<&str>,
    limit: i64,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), StoreError> {
    let runs = driver.store.history(job, limit).await?;
    if json {
        for r in runs {
            let v = serde_json::json!({
                "run_id": r.run_id, "job": r.job, "state": r.state.as_str(), "trigger": r.trigger,
                "scheduled_for": r.scheduled_for, "queued_at": r.queued_at, "started_at": r.started_at,
                "ended_at": r.ended_at, "attempts": r.attempts, "exit_code": r.exit_code, "error": r.error,
                "log_path": r.log_path, "output_path": r.output_path, "input_watermarks": r.input_watermarks,
                "host": r.host, "driver_pid": r.driver_pid,
                "spark_app_id": r.spark_app_id, "spark_ui": r.spark_ui,
            });
            let _ = writeln!(out, "{v}");
        }
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{:<44} {:<10} {:<10} {:<20} {:>8} {:>3} {:>4}  {:<24}  OUTPUT / ERROR",
        "RUN", "STATE", "TRIGGER", "STARTED (UTC)", "TOOK", "ATT", "EXIT", "SPARK APP"
    );
    for r in runs {
        let detail = r
            .error
            .clone()
            .or(r.output_path.clone())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<44} {:<10} {:<10} {:<20} {:>8} {:>3} {:>4}  {:<24}  {}",
            r.run_id,
            r.state.as_str(),
            r.trigger,
            ts(r.started_at.or(Some(r.queued_at))),
            duration(&r),
            r.attempts,
            r.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            r.spark_app_id.as_deref().unwrap_or("-"),
            detail
        );
    }
    Ok(())
}

/// Print a run's log; with `follow`, keep printing until the run reaches a final state.
/// Returns the run's final (or current) state.
pub async fn logs(
    driver: &Driver,
    run_id: &str,
    follow: bool,
    out: &mut dyn Write,
) -> Result<RunState, StoreError> {
    let run = driver.store.get(run_id).await?;
    let Some(path) = run.log_path.filter(|p| !p.is_empty()) else {
        let _ = writeln!(
            out,
            "run {run_id} has no log ({}: {})",
            run.state,
            run.error.unwrap_or_default()
        );
        return Ok(run.state);
    };
    // Where to look at the run in Spark's own terms, before its log.
    if let Some(app) = &run.spark_app_id {
        let _ = writeln!(
            out,
            "# run {run_id}: spark application {app}{}",
            run.spark_ui
                .as_deref()
                .map(|u| format!(", history {u}"))
                .unwrap_or_default()
        );
    }
    let mut pos = 0u64;
    loop {
        // Read state before the file, so the last bytes written before the end are not missed.
        let state = driver.store.get(run_id).await?.state;
        if let Ok(mut f) = std::fs::File::open(&path) {
            if f.seek(SeekFrom::Start(pos)).is_ok() {
                let mut buf = Vec::new();
                if f.read_to_end(&mut buf).is_ok() {
                    pos += buf.len() as u64;
                    let _ = out.write_all(&buf);
                    let _ = out.flush();
                }
            }
        }
        if !follow || state.is_final() {
            return Ok(state);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
