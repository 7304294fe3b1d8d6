//! A service binary run by a test, killed when the test ends (also when it panics).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    log: PathBuf,
}

impl ServiceProcess {
    /// Start `bin` with `args` and extra `envs`; stdout and stderr go to a log file whose path
    /// [`ServiceProcess::log_path`] gives (printed by failing tests, never asserted on).
    pub fn spawn(bin: impl AsRef<Path>, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let bin = bin.as_ref();
        let dir = std::env::temp_dir().join("vygoda-test-logs");
        std::fs::create_dir_all(&dir).expect("log dir");
        let name = bin
            .file_name()
            .map_or("service".into(), |n| n.to_string_lossy());
        let log = dir.join(format!("{}.log", crate::unique_name(&name)));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file clone");
        let child = Command::new(bin)
            .args(args)
            .envs(envs.iter().copied())
            .current_dir(crate::repo_root())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        ServiceProcess { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, as a crash would: no flush, no commit.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the exit status (SIGKILL after `grace`).
    pub fn terminate(&mut self, grace: Duration) -> ExitStatus {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        self.wait_timeout(grace).unwrap_or_else(|| {
            self.kill9();
            panic!(
                "process did not stop within {grace:?} after SIGTERM; log: {}",
                self.log.display()
            )
        })
    }

    /// Wait for the process to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill9();
        }
    }
}
