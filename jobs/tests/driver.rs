//! The jobs driver against the real run-history database and (for some tests) the real
//! spark-submit. Process-tree mechanics use a Python stand-in for spark-submit to stay fast.

mod common;

use std::time::Duration;

use common::{assert_gone, env, fixtures, py_list, request, run, unique_job, wait_pids};
use tokio_util::sync::CancellationToken;
use vygoda_jobs::recovery;
use vygoda_jobs::store::RunState;
use vygoda_tests::{eventually, ServiceProcess};

#[tokio::test]
async fn real_spark_submit_success_records_watermarks_and_runs_the_post_step() {
    let job = unique_job("spark-ok");
    let out_root = tempfile::tempdir().unwrap();
    let jobs = format!(
        r#"[jobs.{job}]
script = "{script}"
py_files = ["{common}"]
args = ["--output", "{{output}}", "--run-id", "{{run_id}}"]
output = "file://{out}/{{run_id}}"
conf = {{ "spark.ui.enabled" = "false" }}
timeout = "5m"
post_step = ["/bin/sh", "-c", "echo {{run_id}} > {out}/{{run_id}}/published"]
"#,
        script = fixtures().join("spark_ok.py").display(),
        common = common::spark_common().display(),
        out = out_root.path().display(),
    );
    let e = env(&jobs, false);
    let driver = e.driver().await;
    let outcome = run(&driver, request(&job)).await;
    let log = std::fs::read_to_string(&outcome.log_path).unwrap_or_default();
    assert_eq!(outcome.state, RunState::Succeeded, "{outcome:?}\n{log}");
    assert_eq!((outcome.attempts, outcome.exit_code), (1, Some(0)));
    let row = driver.store.get(&outcome.run_id).await.unwrap();
    assert_eq!(
        row.input_watermarks.as_ref().unwrap()["run_id"],
        outcome.run_id.as_str()
    );
    assert_eq!(row.output_path.as_deref(), outcome.output.as_deref());
    let published = out_root.path().join(&outcome.run_id).join("published");
    assert_eq!(
        std::fs::read_to_string(published).unwrap().trim(),
        outcome.run_id
    );
    assert!(
        log.contains("SparkContext"),
        "the log holds Spark's own output"
    );
    // The job reported its application (local mode here); the run points at its history page.
    let app = row.spark_app_id.as_deref().expect("a spark application id");
    assert!(app.starts_with("local-"), "{app}");
    let history = vygoda_tests::TestPlatform::get()
        .platform
        .spark
        .history_url
        .clone();
    assert_eq!(
        row.spark_ui,
        history.map(|h| vygoda_jobs::runner::spark_app::history_page(&h, app))
    );
}

#[tokio::test]
async fn real_spark_submit_failure_is_retried_then_fails_with_its_exit_code() {
    let job = unique_job("spark-fail");
    let jobs = format!(
        "[jobs.{job}]\nscript = \"{}\"\nretries = 1\nretry_backoff = \"1s\"\n",
        fixtures().join("spark_fail.py").display()
    );
    let e = env(&jobs, false);
    let driver = e.driver().await;
    let outcome = run(&driver, request(&job)).await;
    assert_eq!(outcome.state, RunState::Failed, "{outcome:?}");
    assert_eq!((outcome.attempts, outcome.exit_code), (2, Some(3)));
    let log = std::fs::read_to_string(&outcome.log_path).unwrap();
    assert_eq!(log.matches("giving up on purpose").count(), 2);
}

#[tokio::test]
async fn transient_failures_are_retried_and_usage_errors_are_not() {
    let (flaky, fatal) = (unique_job("flaky"), unique_job("fatal"));
    let script = fixtures().join("fake_job.py");
    let state = tempfile::tempdir().unwrap();
    let jobs = format!(
        r#"[jobs.{flaky}]
script = "{script}"
args = {flaky_args}
retries = 3
retry_backoff = "200ms"
[jobs.{fatal}]
script = "{script}"
args = ["--fail-times", "9", "--exit-code", "2", "--state", "{fatal_state}"]
retries = 3
retry_backoff = "200ms"
"#,
        script = script.display(),
        flaky_args = py_list(&[
            "--fail-times",
            "2",
            "--state",
            &state.path().join("flaky").display().to_string()
        ]),
        fatal_state = state.path().join("fatal").display(),
    );
    let e = env(&jobs, true);
    let driver = e.driver().await;
    let ok = run(&driver, request(&flaky)).await;
    assert_eq!((ok.state, ok.attempts), (RunState::Succeeded, 3), "{ok:?}");
    let bad = run(&driver, request(&fatal)).await;
    assert_eq!(
        (bad.state, bad.attempts, bad.exit_code),
        (RunState::Failed, 1, Some(2)),
        "{bad:?}"
    );
}

#[tokio::test]
async fn timeout_kills_the_whole_process_tree() {
    let job = unique_job("timeout");
    let e0 = tempfile::tempdir().unwrap();
    let pids = e0.path().join("pids");
    let jobs = format!(
        "[jobs.{job}]\nscript = \"{}\"\nargs = {}\ntimeout = \"3s\"\n",
        fixtures().join("fake_job.py").display(),
        py_list(&[
            "--pids",
            &pids.display().to_string(),
            "--sleep",
            "600",
            "--ignore-term"
        ])
    );
    let e = env(&jobs, true);
    let driver = e.driver().await;
    let handle = tokio::spawn({
        let driver = driver.clone();
        let job = job.clone();
        async move { run(&driver, request(&job)).await }
    });
    let tree = wait_pids(&pids).await;
    let outcome = handle.await.unwrap();
    assert_eq!(outcome.state, RunState::TimedOut, "{outcome:?}");
    assert_gone(&tree).await;
}

#[tokio::test]
async fn cancel_from_elsewhere_kills_the_tree_and_is_not_retried() {
    let job = unique_job("cancel");
    let e0 = tempfile::tempdir().unwrap();
    let pids = e0.path().join("pids");
    let jobs = format!(
        "[jobs.{job}]\nscript = \"{}\"\nargs = {}\nretries = 3\nretry_backoff = \"100ms\"\n",
        fixtures().join("fake_job.py").display(),
        py_list(&["--pids", &pids.display().to_string(), "--sleep", "600"])
    );
    let e = env(&jobs, true);
    let driver = e.driver().await;
    let handle = tokio::spawn({
        let (driver, job) = (driver.clone(), job.clone());
        async move { run(&driver, request(&job)).await }
    });
    let tree = wait_pids(&pids).await;
    let run_id = driver.store.history(Some(&job), 1).await.unwrap()[0]
        .run_id
        .clone();
    // `vygoda-jobs cancel` in another process, as an operator would.
    let mut args = e.cli_args();
    args.extend([
        "cancel".into(),
        run_id.clone(),
        "--wait".into(),
        "30s".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cancel = ServiceProcess::spawn(env!("CARGO_BIN_EXE_vygoda-jobs"), &args, &[]);
    let status = cancel
        .wait_timeout(Duration::from_secs(40))
        .expect("cancel returns");
    assert!(
        status.success(),
        "cancel failed; log {}",
        cancel.log_path().display()
    );
    let outcome = handle.await.unwrap();
    assert_eq!(
        (outcome.state, outcome.attempts),
        (RunState::Cancelled, 1),
        "{outcome:?}"
    );
    assert_gone(&tree).await;
}

#[tokio::test]
async fn runs_never_overlap_a_second_is_refused_or_queued() {
    let job = unique_job("overlap");
    let e0 = tempfile::tempdir().unwrap();
    let pids = e0.path().join("pids");
    let jobs = format!(
        "[jobs.{job}]\nscript = \"{}\"\nargs = {}\n",
        fixtures().join("fake_job.py").display(),
        py_list(&["--pids", &pids.display().to_string(), "--sleep", "4"])
    );
    let e = env(&jobs, true);
    let driver = e.driver().await;
    let first = tokio::spawn({
        let (driver, job) = (driver.clone(), job.clone());
        async move { run(&driver, request(&job)).await }
    });
    wait_pids(&pids).await;
    // Another process is refused with exit code 69 while the first runs.
    let mut args = e.cli_args();
    args.extend(["run".into(), job.clone(), "--quiet".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut second = ServiceProcess::spawn(env!("CARGO_BIN_EXE_vygoda-jobs"), &args, &[]);
    let status = second
        .wait_timeout(Duration::from_secs(30))
        .expect("second run returns");
    assert_eq!(
        status.code(),
        Some(69),
        "log {}",
        second.log_path().display()
    );
    // One that may wait is queued and starts only after the first ended.
    let mut queued = request(&job);
    queued.queue_for = Some(Duration::from_secs(60));
    let third = run(&driver, queued).await;
    let first = first.await.unwrap();
    assert_eq!(
        (first.state, third.state),
        (RunState::Succeeded, RunState::Succeeded)
    );
    let (a, c) = (
        driver.store.get(&first.run_id).await.unwrap(),
        driver.store.get(&third.run_id).await.unwrap(),
    );
    assert!(c.started_at.unwrap() >= a.ended_at.unwrap(), "{a:?}\n{c:?}");
    let states: Vec<RunState> = driver
        .store
        .history(Some(&job), 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == RunState::Skipped).count(),
        1,
        "{states:?}"
    );
}

#[tokio::test]
async fn a_crashed_drivers_run_is_found_killed_and_marked_abandoned() {
    let job = unique_job("orphan");
    let e0 = tempfile::tempdir().unwrap();
    let pids = e0.path().join("pids");
    let jobs = format!(
        "[jobs.{job}]\nscript = \"{}\"\nargs = {}\n",
        fixtures().join("fake_job.py").display(),
        py_list(&["--pids", &pids.display().to_string(), "--sleep", "600"])
    );
    let e = env(&jobs, true);
    let mut args = e.cli_args();
    args.extend(["run".into(), job.clone(), "--quiet".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut owner = ServiceProcess::spawn(env!("CARGO_BIN_EXE_vygoda-jobs"), &args, &[]);
    let tree = wait_pids(&pids).await;
    owner.kill9();
    // The job has its own process group: it outlives its driver.
    assert!(tree.iter().all(|&p| vygoda_jobs::process::pid_alive(p)));
    let driver = e.driver().await;
    let resolved = recovery::resolve_orphans(&driver.store, &driver.env.settings)
        .await
        .unwrap();
    let row = driver.store.history(Some(&job), 1).await.unwrap().remove(0);
    // Every driver resolves every orphan it sees when it starts, so a driver of a test running
    // alongside may have got there first; either way the run is resolved once, as abandoned.
    let by_us = resolved.contains(&(row.run_id.clone(), RunState::Abandoned));
    let by_other = row
        .error
        .as_deref()
        .is_some_and(|e| e.contains("process gone"));
    assert!(by_us || by_other, "{resolved:?} {row:?}");
    assert_eq!(row.state, RunState::Abandoned, "{row:?}");
    assert_gone(&tree).await;
}

#[tokio::test]
async fn shutdown_of_serve_cancels_runs_after_the_grace_period() {
    let job = unique_job("drain");
    let e0 = tempfile::tempdir().unwrap();
    let pids = e0.path().join("pids");
    let jobs = format!(
        "[jobs.{job}]\nscript = \"{}\"\nargs = {}\nschedule = \"* * * * * *\"\n",
        fixtures().join("fake_job.py").display(),
        py_list(&["--pids", &pids.display().to_string(), "--sleep", "600"])
    );
    let e = env(&jobs, true);
    let driver = e.driver().await;
    let stop = CancellationToken::new();
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = vygoda_jobs::metrics::Metrics::new(&mut registry);
    let serve = tokio::spawn(vygoda_jobs::scheduler::serve(
        driver.clone(),
        metrics,
        stop.clone(),
    ));
    let tree = wait_pids(&pids).await;
    stop.cancel();
    // shutdown_grace is 3 s: the run is cancelled, its tree killed, serve returns.
    tokio::time::timeout(Duration::from_secs(30), serve)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_gone(&tree).await;
    let runs = driver.store.history(Some(&job), 20).await.unwrap();
    let cancelled = runs
        .iter()
        .filter(|r| r.state == RunState::Cancelled)
        .count();
    assert_eq!(cancelled, 1, "{runs:?}");
    assert!(runs.iter().all(|r| r.state.is_final()), "{runs:?}");
}

#[tokio::test]
async fn logs_follow_ends_with_the_runs_exit_code() {
    let job = unique_job("logs");
    let jobs = format!(
        "[jobs.{job}]\nscript = \"{}\"\nargs = [\"--sleep\", \"1\"]\n",
        fixtures().join("fake_job.py").display()
    );
    let e = env(&jobs, true);
    let driver = e.driver().await;
    let outcome = run(&driver, request(&job)).await;
    let mut out = Vec::new();
    let state = vygoda_jobs::commands::logs(&driver, &outcome.run_id, true, &mut out)
        .await
        .unwrap();
    assert_eq!(state, RunState::Succeeded);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("fake job done"), "{text}");
    let found = eventually(
        "history to list the run",
        Duration::from_secs(5),
        || async {
            let mut h = Vec::new();
            vygoda_jobs::commands::history(&driver, Some(&job), 5, false, &mut h)
                .await
                .ok()?;
            String::from_utf8(h)
                .ok()
                .filter(|t| t.contains(&outcome.run_id))
        },
    )
    .await;
    assert!(found.contains("succeeded"));
}
