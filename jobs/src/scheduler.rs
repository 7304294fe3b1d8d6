//! `vygoda-jobs serve`: cron ticks, missed-run policy, dependencies, graceful shutdown.
//!
//! Ticks are claimed in the database (`jobs_schedule.last_tick`, advanced with a conditional
//! UPDATE), so a tick starts at most one run however many schedulers run, and a restarted
//! scheduler knows exactly which ticks it missed.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{JobDef, MissedPolicy};
use crate::metrics::Metrics;
use crate::recovery;
use crate::runner::{new_run_id, Driver, RunError, RunRequest, Trigger};
use crate::store::{NewRun, RunState};

/// A tick older than this when first seen was missed (the scheduler was down or stalled).
const MISFIRE_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
const LOOP_EVERY: Duration = Duration::from_millis(500);

/// A scheduled dependent waiting for its dependencies' fresh success.
#[derive(Debug, Clone)]
struct Armed {
    tick: DateTime<Utc>,
    trigger: Trigger,
    until: DateTime<Utc>,
}

/// What a due tick asks for, given the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickAction {
    /// Run for this tick.
    Run(DateTime<Utc>, Trigger),
    /// Only missed ticks, and the policy is `skip`: advance past them.
    SkipMissed(DateTime<Utc>, usize),
    Nothing,
}

/// Decide what to do with the ticks of `schedule` in (`last`, `now`].
pub fn due_action(
    schedule: &cron::Schedule,
    policy: MissedPolicy,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
) -> TickAction {
    // Bounded: a schedule of every second after a week down must not loop a million times here.
    let due: Vec<DateTime<Utc>> = schedule
        .after(&last)
        .take_while(|t| *t <= now)
        .take(100_000)
        .collect();
    let Some(&latest) = due.last() else {
        return TickAction::Nothing;
    };
    if now - latest <= MISFIRE_GRACE {
        return TickAction::Run(latest, Trigger::Schedule);
    }
    match policy {
        MissedPolicy::Skip => TickAction::SkipMissed(latest, due.len()),
        MissedPolicy::RunOnce => TickAction::Run(latest, Trigger::CatchUp),
    }
}

/// The scheduler's spine: recover, then tick until `stop`, then drain.
pub async fn serve(
    driver: Driver,
    metrics: Metrics,
    stop: CancellationToken,
) -> Result<(), RunError> {
    let settings = driver.env.settings.clone();
    // 1. Runs a crashed driver left behind: kill their process groups, mark them abandoned.
    for (run_id, state) in recovery::resolve_orphans(&driver.store, &settings).await? {
        tracing::warn!(run_id, %state, "recovered orphaned run at start-up");
    }
    let jobs: Vec<JobDef> = driver.jobs.jobs.values().cloned().collect();
    let mut last_tick: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.schedule.is_some()) {
        last_tick.insert(
            job.name.clone(),
            driver.store.last_tick(&job.name, Utc::now()).await?,
        );
    }
    tracing::info!(
        jobs = jobs.len(),
        scheduled = last_tick.len(),
        "scheduler started"
    );

    // Runs get their own token: shutdown first waits for them, and only then cancels.
    let runs_stop = CancellationToken::new();
    let mut runs: JoinSet<(String, Result<RunState, RunError>)> = JoinSet::new();
    let mut in_flight: HashMap<String, usize> = HashMap::new();
    let mut armed: HashMap<String, Armed> = HashMap::new();

    // 2. Tick loop: due cron ticks, armed dependents, dependency-triggered jobs, finished runs.
    while !stop.is_cancelled() {
        let now = Utc::now();
        for job in &jobs {
            let Some(schedule) = &job.schedule else {
                continue;
            };
            let last = last_tick[&job.name];
            let (tick, trigger) = match due_action(schedule, job.missed, last, now) {
                TickAction::Nothing => continue,
                TickAction::SkipMissed(latest, n) => {
                    if driver.store.claim_tick(&job.name, latest).await? {
                        tracing::info!(
                            job = job.name,
                            missed = n,
                            "missed ticks skipped (policy skip)"
                        );
                        metrics.tick_skipped(&job.name, "missed");
                    }
                    last_tick.insert(job.name.clone(), latest);
                    continue;
                }
                TickAction::Run(tick, trigger) => (tick, trigger),
            };
            last_tick.insert(job.name.clone(), tick);
            if !driver.store.claim_tick(&job.name, tick).await? {
                continue; // another scheduler took this tick
            }
            if job.depends_on.is_empty() {
                start(
                    &driver,
                    &mut runs,
                    &mut in_flight,
                    &runs_stop,
                    job,
                    trigger,
                    Some(tick),
                );
            } else {
                let until = now
                    + chrono::TimeDelta::from_std(job.dependency_wait)
                        .unwrap_or(chrono::TimeDelta::hours(1));
                armed.insert(
                    job.name.clone(),
                    Armed {
                        tick,
                        trigger,
                        until,
                    },
                );
            }
        }
        for job in jobs.iter().filter(|j| !j.depends_on.is_empty()) {
            if in_flight.get(&job.name).copied().unwrap_or(0) > 0 {
                continue;
            }
            let fresh = dependencies_fresh(&driver, job).await?;
            match armed.get(&job.name).cloned() {
                Some(a) if fresh => {
                    armed.remove(&job.name);
                    start(
                        &driver,
                        &mut runs,
                        &mut in_flight,
                        &runs_stop,
                        job,
                        a.trigger,
                        Some(a.tick),
                    );
                }
                Some(a) if now > a.until => {
                    armed.remove(&job.name);
                    let reason = format!("dependencies {:?} had no success newer than this job's last run within {:?}", job.depends_on, job.dependency_wait);
                    record_skip(&driver, job, a.trigger, Some(a.tick), &reason).await?;
                    metrics.tick_skipped(&job.name, "dependencies");
                }
                Some(_) => {}
                None if job.schedule.is_none() && fresh => {
                    start(
                        &driver,
                        &mut runs,
                        &mut in_flight,
                        &runs_stop,
                        job,
                        Trigger::Dependency,
                        None,
                    );
                }
                None => {}
            }
        }
        while let Some(done) = runs.try_join_next() {
            finished(done, &mut in_flight, &metrics);
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOP_EVERY) => {}
            _ = stop.cancelled() => {}
        }
    }

    // 3. Shutdown: no new runs; let running ones finish within the grace period, then cancel
    //    them (process groups killed, state `cancelled` recorded by each run).
    tracing::info!(
        running = runs.len(),
        grace_s = settings.shutdown_grace.as_secs(),
        "scheduler stopping"
    );
    let drain = async {
        while let Some(done) = runs.join_next().await {
            finished(done, &mut in_flight, &metrics);
        }
    };
    if tokio::time::timeout(settings.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(running = runs.len(), "grace period over; cancelling runs");
        runs_stop.cancel();
        while let Some(done) = runs.join_next().await {
            finished(done, &mut in_flight, &metrics);
        }
    }
    tracing::info!("scheduler stopped");
    Ok(())
}

fn start(
    driver: &Driver,
    runs: &mut JoinSet<(String, Result<RunState, RunError>)>,
    in_flight: &mut HashMap<String, usize>,
    runs_stop: &CancellationToken,
    job: &JobDef,
    trigger: Trigger,
    tick: Option<DateTime<Utc>>,
) {
    tracing::info!(
        job = job.name,
        trigger = trigger.as_str(),
        ?tick,
        "starting run"
    );
    *in_flight.entry(job.name.clone()).or_default() += 1;
    let (driver, name, stop) = (driver.clone(), job.name.clone(), runs_stop.clone());
    runs.spawn(async move {
        let req = RunRequest {
            job: name.clone(),
            trigger,
            scheduled_for: tick,
            queue_for: None,
            viewer: None,
        };
        let result = driver.execute(req, stop).await.map(|o| o.state);
        (name, result)
    });
}

fn finished(
    done: Result<(String, Result<RunState, RunError>), tokio::task::JoinError>,
    in_flight: &mut HashMap<String, usize>,
    metrics: &Metrics,
) {
    match done {
        Ok((job, result)) => {
            if let Some(n) = in_flight.get_mut(&job) {
                *n = n.saturating_sub(1);
            }
            match result {
                Ok(RunState::Skipped) => metrics.tick_skipped(&job, "overlap"),
                Ok(state) => tracing::info!(job, %state, "run ended"),
                Err(error) => tracing::error!(job, %error, "run could not be executed"),
            }
        }
        Err(error) => tracing::error!(%error, "run task panicked"),
    }
}

/// Every dependency has a success newer than this job's latest run.
async fn dependencies_fresh(driver: &Driver, job: &JobDef) -> Result<bool, RunError> {
    let own_last = driver.store.last_run_queued(&job.name).await?;
    for dep in &job.depends_on {
        match driver.store.last_success(dep).await? {
            Some(t) if own_last.is_none_or(|own| t > own) => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

async fn record_skip(
    driver: &Driver,
    job: &JobDef,
    trigger: Trigger,
    tick: Option<DateTime<Utc>>,
    reason: &str,
) -> Result<(), RunError> {
    tracing::warn!(job = job.name, reason, "tick skipped");
    let run = NewRun {
        run_id: new_run_id(&job.name),
        job: job.name.clone(),
        trigger: trigger.as_str().into(),
        scheduled_for: tick,
        log_path: String::new(),
        output_path: None,
    };
    driver.store.insert_skipped(&run, reason).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_schedule;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_tick_due_now_runs() {
        let s = parse_schedule("*/5 * * * *").unwrap();
        let a = due_action(
            &s,
            MissedPolicy::Skip,
            t("2026-01-01T00:04:00Z"),
            t("2026-01-01T00:05:01Z"),
        );
        assert_eq!(
            a,
            TickAction::Run(t("2026-01-01T00:05:00Z"), Trigger::Schedule)
        );
        let a = due_action(
            &s,
            MissedPolicy::Skip,
            t("2026-01-01T00:05:00Z"),
            t("2026-01-01T00:09:59Z"),
        );
        assert_eq!(a, TickAction::Nothing);
    }

    #[test]
    fn missed_ticks_follow_the_policy() {
        let s = parse_schedule("*/5 * * * *").unwrap();
        let (last, now) = (t("2026-01-01T00:00:00Z"), t("2026-01-01T01:02:00Z"));
        assert_eq!(
            due_action(&s, MissedPolicy::Skip, last, now),
            TickAction::SkipMissed(t("2026-01-01T01:00:00Z"), 12)
        );
        assert_eq!(
            due_action(&s, MissedPolicy::RunOnce, last, now),
            TickAction::Run(t("2026-01-01T01:00:00Z"), Trigger::CatchUp)
        );
    }

    #[test]
    fn a_recent_tick_runs_even_after_missed_ones() {
        let s = parse_schedule("*/5 * * * *").unwrap();
        let a = due_action(
            &s,
            MissedPolicy::Skip,
            t("2026-01-01T00:00:00Z"),
            t("2026-01-01T01:00:30Z"),
        );
        assert_eq!(
            a,
            TickAction::Run(t("2026-01-01T01:00:00Z"), Trigger::Schedule)
        );
    }
}
