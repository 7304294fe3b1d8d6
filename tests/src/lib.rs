//! Fixture for integration tests: the real local platform (started with `make up` if it is not
//! running), unique topics and lake paths per test, and service processes stopped on `Drop`.
//!
//! Tests never share a topic or a path, never set global environment variables, and clean up
//! after themselves, so they run in parallel threads without `#[serial]`.

mod kafka;
pub mod metrics;
pub mod poison;
mod postgres;
mod process;
mod storage;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use kafka::{consume_all, headers, produce, KeyValue, Record, TopicGuard};
pub use postgres::TempDb;
pub use process::ServiceProcess;
pub use storage::{HdfsDir, LakeDir};
pub use vygoda_common::platform::Platform;

/// The running local platform.
#[derive(Debug)]
pub struct TestPlatform {
    pub platform: Platform,
    pub root: PathBuf,
}

static PLATFORM: OnceLock<TestPlatform> = OnceLock::new();

impl TestPlatform {
    /// The platform, started with `platform/ctl.py up --no-build` first if any part does not
    /// answer (`cargo test` holds the build lock, so the fixture must not run `cargo build`).
    ///
    /// Panics (failing the test) if it cannot be brought up: an integration test must never pass
    /// because the service under test is down.
    pub fn get() -> &'static TestPlatform {
        PLATFORM.get_or_init(|| {
            let root = repo_root();
            let file = root.join(vygoda_common::platform::DEFAULT_PATH);
            let ready = Platform::load(&file).is_ok_and(|p| ports_open(&p));
            if !ready {
                let status = std::process::Command::new("python3")
                    .arg(root.join("platform/ctl.py"))
                    .args(["up", "--no-build"])
                    .current_dir(&root)
                    .status()
                    .expect("cannot run python3 platform/ctl.py up");
                assert!(status.success(), "`make up` failed; see .vygoda/logs/");
            }
            let platform = Platform::load(&file).expect("platform.json after make up");
            TestPlatform { platform, root }
        })
    }

    pub fn platform_file(&self) -> PathBuf {
        self.root.join(vygoda_common::platform::DEFAULT_PATH)
    }

    /// librdkafka properties for `principal` on `cluster`, bootstrap included.
    pub fn kafka_props(&self, cluster: &str, principal: &str) -> BTreeMap<String, String> {
        self.platform
            .kafka_props(cluster, principal)
            .expect("cluster and principal in platform.json")
    }

    /// Create a topic as `admin`; it is deleted when the guard drops.
    pub async fn create_topic(
        &self,
        cluster: &str,
        name: &str,
        partitions: i32,
        compact: bool,
    ) -> TopicGuard {
        kafka::create_topic(
            self.kafka_props(cluster, "admin"),
            name,
            partitions,
            compact,
        )
        .await
    }

    /// Delete `name` when the guard drops: for a topic a service under test creates itself.
    pub fn guard_topic(&self, cluster: &str, name: &str) -> TopicGuard {
        TopicGuard::adopt(self.kafka_props(cluster, "admin"), name)
    }

    /// A unique `file://` lake directory, removed on drop.
    pub fn lake_dir(&self, prefix: &str) -> LakeDir {
        LakeDir::new(prefix)
    }

    /// A unique `hdfs://…/test/<name>` directory, removed on drop.
    pub fn hdfs_dir(&self, prefix: &str) -> HdfsDir {
        HdfsDir::new(&self.platform.hdfs.url, prefix)
    }

    /// Path of a pid file written by `make up` (e.g. `kafka-prod-2`).
    pub fn pid_file(&self, name: &str) -> PathBuf {
        self.root.join(".vygoda/run").join(format!("{name}.pid"))
    }

    /// SIGKILL a part of the platform by its pid file, as a crash would. The returned guard
    /// brings everything back when dropped, also when an assertion fails first, so the tests that
    /// run after this one never find a broken platform.
    pub fn kill(&self, name: &str) -> Outage<'_> {
        let mut outage = Outage {
            tp: self,
            killed: Vec::new(),
        };
        outage.kill(name);
        outage
    }

    /// `platform/ctl.py up`: starts whatever is not running; a no-op on a whole platform.
    fn heal(&self) -> Result<(), String> {
        let status = std::process::Command::new("python3")
            .arg(self.root.join("platform/ctl.py"))
            .args(["up", "--no-build"])
            .current_dir(&self.root)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("cannot run platform/ctl.py up: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("platform/ctl.py up: {status}; see .vygoda/logs/"))
        }
    }
}

/// Parts of the platform a test killed on purpose; see [`TestPlatform::kill`].
#[must_use = "the killed parts come back when this is dropped: bind it to a variable"]
pub struct Outage<'a> {
    tp: &'a TestPlatform,
    killed: Vec<String>,
}

impl Outage<'_> {
    /// Kill one more part within the same outage.
    pub fn kill(&mut self, name: &str) {
        let pid_file = self.tp.pid_file(name);
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("pid file of {name}: {e}"))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("pid file of {name}: {e}"));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap_or_else(|e| panic!("kill {name}: {e}"));
        self.killed.push(name.to_owned());
    }

    /// End the outage now (the scenario goes on with the whole platform), failing the test if
    /// the platform does not come back.
    pub fn heal(mut self) {
        let killed = std::mem::take(&mut self.killed);
        if let Err(e) = self.tp.heal() {
            panic!("{killed:?} did not come back: {e}");
        }
    }
}

impl Drop for Outage<'_> {
    fn drop(&mut self) {
        if self.killed.is_empty() {
            return;
        }
        // Not a panic: this may run while a failed assertion unwinds, where a second panic
        // would abort the test binary and hide the first failure.
        if let Err(e) = self.tp.heal() {
            eprintln!("restoring {:?} after the test failed: {e}", self.killed);
        }
    }
}

/// A name no other test (in this or another process) uses: `test-prefix-<pid>-<time>-<n>`.
///
/// The `test-` prefix is the local platform's test namespace (`[local]` of kafka/acls.toml): there
/// every principal may use the topics and groups a test makes, so each service runs under its
/// own identity without grants on the real topics.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000_000)
        .unwrap_or(0);
    format!(
        "test-{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Poll `check` until it returns `Some`, or panic after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Run a clean-up future to completion from `Drop`, which cannot await and may itself run inside
/// a runtime: on a thread of its own with a runtime of its own. Clean-up is best effort.
pub(crate) fn cleanup_on_own_thread<F>(work: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(work);
        }
    })
    .join();
}

/// The repository root (this crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent")
        .to_path_buf()
}

/// Cheap readiness test: every broker, HDFS and the registry accept TCP connections.
fn ports_open(p: &Platform) -> bool {
    let mut addrs: Vec<String> = p
        .clusters
        .values()
        .flat_map(|c| c.brokers.clone())
        .collect();
    addrs.push(strip_scheme(&p.hdfs.url));
    addrs.push(strip_scheme(&p.schema_registry.url));
    addrs.iter().all(|a| {
        a.parse::<SocketAddr>()
            .is_ok_and(|sa| TcpStream::connect_timeout(&sa, Duration::from_secs(1)).is_ok())
    })
}

fn strip_scheme(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}
