//! Shared set-up of the driver's integration tests: a jobs file per test, a driver on the real
//! run-history database, helpers for process-tree assertions.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use vygoda_jobs::runner::{Driver, RunOutcome, RunRequest, Trigger};
use vygoda_tests::TestPlatform;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The real jobs' shared module (session, application report), for fixtures that use it.
pub fn spark_common() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spark/jobs/common.py")
}

/// A test's own jobs file and directory; job names are unique per test.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub jobs_file: PathBuf,
    pub spark_submit: PathBuf,
}

/// `fake = true`: spark-submit is a tiny Python stand-in (process-tree mechanics, fast);
/// otherwise the platform's real spark-submit.
pub fn env(jobs: &str, fake: bool) -> Env {
    let tp = TestPlatform::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let spark_submit = if fake {
        fixtures().join("fake_spark_submit.py")
    } else {
        tp.platform.spark.submit.clone()
    };
    let text = format!(
        "[driver]\nlog_dir = \"{}\"\nheartbeat = \"500ms\"\nlease = \"3s\"\nkill_grace = \"2s\"\nshutdown_grace = \"3s\"\nenv = {{ SPARK_LOCAL_IP = \"127.0.0.1\" }}\n\n{jobs}",
        dir.path().join("logs").display()
    );
    let jobs_file = dir.path().join("jobs.toml");
    std::fs::write(&jobs_file, text).expect("write jobs.toml");
    Env {
        dir,
        jobs_file,
        spark_submit,
    }
}

impl Env {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Arguments every `vygoda-jobs` invocation of this test needs.
    pub fn cli_args(&self) -> Vec<String> {
        let tp = TestPlatform::get();
        vec![
            "--jobs".into(),
            self.jobs_file.display().to_string(),
            "--platform".into(),
            tp.platform_file().display().to_string(),
            "--spark-submit".into(),
            self.spark_submit.display().to_string(),
            "--master".into(),
            "local[1]".into(),
        ]
    }

    pub async fn driver(&self) -> Driver {
        let mut args = vec!["vygoda-jobs".to_owned()];
        args.extend(self.cli_args());
        args.push("list".into());
        let cli = vygoda_jobs::Cli::try_parse_from(args).expect("cli");
        vygoda_jobs::cli::driver(&cli).await.expect("driver")
    }
}

pub fn request(job: &str) -> RunRequest {
    RunRequest {
        job: job.to_owned(),
        trigger: Trigger::Manual,
        scheduled_for: None,
        queue_for: None,
        viewer: None,
    }
}

pub async fn run(driver: &Driver, req: RunRequest) -> RunOutcome {
    driver
        .execute(req, CancellationToken::new())
        .await
        .expect("execute")
}

/// Pids a fake job wrote (`--pids`): the job itself and its grandchild.
pub async fn wait_pids(path: &Path) -> Vec<i32> {
    vygoda_tests::eventually(
        "the job to write its pids",
        Duration::from_secs(30),
        || async {
            let text = std::fs::read_to_string(path).ok()?;
            let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            (pids.len() == 2).then_some(pids)
        },
    )
    .await
}

pub async fn assert_gone(pids: &[i32]) {
    vygoda_tests::eventually(
        "the process tree to be gone",
        Duration::from_secs(10),
        || async {
            pids.iter()
                .all(|&p| !vygoda_jobs::process::pid_alive(p))
                .then_some(())
        },
    )
    .await;
}

pub fn unique_job(prefix: &str) -> String {
    vygoda_tests::unique_name(prefix).replace('.', "-")
}

pub fn py_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}
