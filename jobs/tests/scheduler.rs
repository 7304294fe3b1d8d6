//! `serve` against the real run-history database: missed-run policy after downtime and
//! dependencies. Jobs are the fast Python stand-in; the scheduler runs in-process.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{env, fixtures, unique_job};
use tokio_util::sync::CancellationToken;
use vygoda_jobs::store::RunState;
use vygoda_tests::{eventually, TestPlatform};

async fn pool() -> sqlx::PgPool {
    sqlx::PgPool::connect(&TestPlatform::get().platform.postgres_url)
        .await
        .expect("postgres")
}

fn start_serve(
    driver: &vygoda_jobs::runner::Driver,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), vygoda_jobs::runner::RunError>>,
) {
    let stop = CancellationToken::new();
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = vygoda_jobs::metrics::Metrics::new(&mut registry);
    let handle = tokio::spawn(vygoda_jobs::scheduler::serve(
        driver.clone(),
        metrics,
        stop.clone(),
    ));
    (stop, handle)
}

#[tokio::test]
async fn missed_ticks_run_once_or_are_skipped_per_policy() {
    let (once, skip) = (unique_job("catchup"), unique_job("skipper"));
    // Yearly: the only ticks in the test's lifetime are the missed ones we plant.
    let jobs = format!(
        r#"[jobs.{once}]
script = "{s}"
schedule = "0 0 0 1 1 *"
missed = "run_once"
[jobs.{skip}]
script = "{s}"
schedule = "0 0 0 1 1 *"
missed = "skip"
"#,
        s = fixtures().join("fake_job.py").display()
    );
    let e = env(&jobs, true);
    let driver = e.driver().await;
    // The scheduler was last here three years ago: three New Year ticks were missed.
    let long_ago = Utc::now() - chrono::TimeDelta::days(3 * 366);
    let db = pool().await;
    for job in [&once, &skip] {
        sqlx::query("INSERT INTO jobs_schedule (job, last_tick) VALUES ($1, $2)")
            .bind(job)
            .bind(long_ago)
            .execute(&db)
            .await
            .unwrap();
    }
    let (stop, serve) = start_serve(&driver);
    let catch_up = eventually(
        "the catch-up run to succeed",
        Duration::from_secs(30),
        || async {
            let runs = driver.store.history(Some(&once), 10).await.ok()?;
            runs.iter()
                .any(|r| r.state == RunState::Succeeded)
                .then_some(runs)
        },
    )
    .await;
    let skipped_tick: chrono::DateTime<Utc> = eventually(
        "the skip job's missed ticks to be passed over",
        Duration::from_secs(30),
        || async {
            let t: chrono::DateTime<Utc> =
                sqlx::query_scalar("SELECT last_tick FROM jobs_schedule WHERE job = $1")
                    .bind(&skip)
                    .fetch_one(&db)
                    .await
                    .ok()?;
            (t > long_ago).then_some(t)
        },
    )
    .await;
    stop.cancel();
    serve.await.unwrap().unwrap();
    assert_eq!(
        catch_up.len(),
        1,
        "one run for all missed ticks: {catch_up:?}"
    );
    assert_eq!(catch_up[0].trigger, "catch_up");
    let new_year = catch_up[0].scheduled_for.unwrap();
    assert_eq!(
        new_year.format("%m-%d %H:%M:%S").to_string(),
        "01-01 00:00:00"
    );
    assert_eq!(
        skipped_tick, new_year,
        "skip advances to the latest missed tick"
    );
    assert!(
        driver
            .store
            .history(Some(&skip), 10)
            .await
            .unwrap()
            .is_empty(),
        "skip starts nothing"
    );
}

#[tokio::test]
async fn a_dependent_runs_after_its_dependency_succeeds() {
    let (up, down) = (unique_job("upstream"), unique_job("downstream"));
    let jobs = format!(
        r#"[jobs.{up}]
script = "{s}"
args = ["--sleep", "1"]
schedule = "* * * * * *"
[jobs.{down}]
script = "{s}"
depends_on = ["{up}"]
"#,
        s = fixtures().join("fake_job.py").display()
    );
    let e = env(&jobs, true);
    let driver = e.driver().await;
    let started = Utc::now();
    let (stop, serve) = start_serve(&driver);
    let down_run = eventually(
        "the dependent to succeed",
        Duration::from_secs(60),
        || async {
            let runs = driver.store.history(Some(&down), 10).await.ok()?;
            runs.into_iter().find(|r| r.state == RunState::Succeeded)
        },
    )
    .await;
    stop.cancel();
    serve.await.unwrap().unwrap();
    let first_up_success = driver
        .store
        .history(Some(&up), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.state == RunState::Succeeded)
        .filter_map(|r| r.ended_at)
        .min()
        .expect("upstream succeeded");
    assert_eq!(down_run.trigger, "dependency");
    assert!(
        down_run.queued_at >= first_up_success,
        "{down_run:?} vs {first_up_success}"
    );

    // /metrics is fed from the run history: both jobs' successes are there.
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = vygoda_jobs::metrics::Metrics::new(&mut registry);
    let mut cursor = (started - chrono::TimeDelta::seconds(1), String::new());
    metrics.refresh(&driver.store, &mut cursor).await.unwrap();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for job in [&up, &down] {
        let line = format!("vygoda_jobs_runs_total{{job=\"{job}\",outcome=\"succeeded\"}}");
        assert!(text.contains(&line), "{line} missing in\n{text}");
        let last = format!("vygoda_jobs_last_success_timestamp_seconds{{job=\"{job}\"}}");
        assert!(text.contains(&last), "{last} missing in\n{text}");
    }
    let count = format!("vygoda_jobs_run_duration_seconds_count{{job=\"{down}\"}} 1");
    assert!(text.contains(&count), "{count} missing in\n{text}");
}
