//! Child processes as process groups: spawn, stream output to a log, kill the whole tree.
//!
//! spark-submit is a shell script that starts a JVM that starts Python workers; killing only the
//! direct child would leave the JVM running. Each attempt therefore starts in a new process group
//! (`process_group(0)`: its pgid is its pid) and every kill goes to the group.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedSender;

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// (state, pgrp) of a process from /proc, None if it does not exist.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so cut at the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

fn has_proc() -> bool {
    Path::new("/proc/self/stat").exists()
}

/// A zombie has finished: it only waits to be reaped, so it counts as gone.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    if has_proc() {
        return matches!(proc_stat(pid), Some((s, _)) if s != 'Z' && s != 'X');
    }
    nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
}

/// Live (non-zombie) members of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    if pgid <= 1 {
        return Vec::new();
    }
    if !has_proc() {
        return if killpg(Pid::from_raw(pgid), None).is_ok() {
            vec![pgid]
        } else {
            Vec::new()
        };
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches!(proc_stat(pid), Some((s, g)) if g == pgid && s != 'Z' && s != 'X'))
        .collect()
}

pub fn group_alive(pgid: i32) -> bool {
    !group_members(pgid).is_empty()
}

/// How a group kill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Killed {
    AlreadyGone,
    /// Exited within the grace period after SIGTERM.
    Terminated,
    /// Needed SIGKILL.
    Killed,
    /// Still there after SIGKILL (uninterruptible sleep?); the caller should report it.
    Stuck,
}

/// SIGTERM the group, wait up to `grace` for it to exit, then SIGKILL and wait a little more.
/// Waiting is polling with a deadline: the group's members are not all our children.
pub async fn kill_group(pgid: i32, grace: Duration) -> Killed {
    if !group_alive(pgid) {
        return Killed::AlreadyGone;
    }
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
    if wait_group_gone(pgid, grace).await {
        return Killed::Terminated;
    }
    tracing::warn!(
        pgid,
        grace_s = grace.as_secs(),
        "process group ignored SIGTERM; sending SIGKILL"
    );
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    if wait_group_gone(pgid, Duration::from_secs(5)).await {
        Killed::Killed
    } else {
        Killed::Stuck
    }
}

async fn wait_group_gone(pgid: i32, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A command to run, fully expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
}

impl CommandSpec {
    /// Shell-like rendering for logs (arguments with spaces quoted).
    pub fn display(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .map(|a| {
                if a.contains(' ') || a.is_empty() {
                    format!("'{a}'")
                } else {
                    a
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Where a run's output goes: its log file, and optionally a live viewer (the `run` terminal).
#[derive(Debug, Clone)]
pub struct LogSink {
    file: Arc<Mutex<std::fs::File>>,
    viewer: Option<UnboundedSender<String>>,
}

impl LogSink {
    pub fn open(path: &Path, viewer: Option<UnboundedSender<String>>) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(LogSink {
            file: Arc::new(Mutex::new(file)),
            viewer,
        })
    }

    /// One line; the log file gets it even if the viewer went away.
    pub fn line(&self, line: &str) {
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{line}");
        }
        if let Some(v) = &self.viewer {
            let _ = v.send(line.to_owned());
        }
    }

    /// A driver note, marked so it stands out from the job's own output.
    pub fn note(&self, text: &str) {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        self.line(&format!("=== vygoda-jobs {now} {text}"));
    }
}

/// Start `spec` in its own process group with stdout and stderr streamed to `sink`.
/// Returns the child, its pgid and the task that finishes once both pipes are drained.
pub fn spawn(
    spec: &CommandSpec,
    sink: &LogSink,
) -> std::io::Result<(Child, i32, tokio::task::JoinHandle<()>)> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(&spec.env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn()?;
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    let out = child
        .stdout
        .take()
        .map(|s| tokio::spawn(pump(s, sink.clone())));
    let err = child
        .stderr
        .take()
        .map(|s| tokio::spawn(pump(s, sink.clone())));
    let pumps = tokio::spawn(async move {
        for handle in [out, err].into_iter().flatten() {
            let _ = handle.await;
        }
    });
    Ok((child, pgid, pumps))
}

/// Copy a pipe to the sink line by line; `\r` also ends a line (progress bars redraw with it).
async fn pump<R: AsyncRead + Unpin>(mut reader: R, sink: LogSink) {
    let mut buf = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\n' || b == b'\r' {
                if !pending.is_empty() {
                    sink.line(&String::from_utf8_lossy(&pending));
                    pending.clear();
                }
            } else {
                pending.push(b);
            }
        }
    }
    if !pending.is_empty() {
        sink.line(&String::from_utf8_lossy(&pending));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn kills_the_whole_group_including_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let script = format!(
            "trap '' TERM; sleep 300 & echo $! > {p}.tmp; echo $$ >> {p}.tmp; mv {p}.tmp {p}; while :; do sleep 0.1; done",
            p = pids.display()
        );
        let spec = CommandSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script],
            env: BTreeMap::new(),
            cwd: None,
        };
        let sink = LogSink::open(&dir.path().join("log"), None).unwrap();
        let (mut child, pgid, _pumps) = spawn(&spec, &sink).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !pids.exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "child never wrote its pids"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let listed: Vec<i32> = std::fs::read_to_string(&pids)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|&p| pid_alive(p)));
        assert!(group_members(pgid).len() >= 2);
        // Both ignore SIGTERM (inherited), so only SIGKILL after the grace period ends them.
        let reaper = tokio::spawn(async move { child.wait().await });
        assert_eq!(
            kill_group(pgid, Duration::from_millis(300)).await,
            Killed::Killed
        );
        reaper.await.unwrap().unwrap();
        assert!(
            listed.iter().all(|&p| !pid_alive(p)),
            "{listed:?} still alive"
        );
        assert_eq!(
            kill_group(pgid, Duration::from_millis(10)).await,
            Killed::AlreadyGone
        );
    }

    #[tokio::test]
    async fn streams_lines_split_on_cr_and_lf() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let sink = LogSink::open(&dir.path().join("log"), Some(tx)).unwrap();
        let spec = CommandSpec {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "printf 'a\\rb\\nc' ; printf 'err\\n' >&2".into(),
            ],
            env: BTreeMap::new(),
            cwd: None,
        };
        let (mut child, _, pumps) = spawn(&spec, &sink).unwrap();
        child.wait().await.unwrap();
        pumps.await.unwrap();
        let mut got = Vec::new();
        while let Ok(l) = rx.try_recv() {
            got.push(l);
        }
        got.sort();
        assert_eq!(got, ["a", "b", "c", "err"]);
        let file = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert_eq!(file.lines().count(), 4);
    }

    #[test]
    fn renders_commands_for_logs() {
        let spec = CommandSpec {
            program: "/bin/x".into(),
            args: vec!["a b".into(), "c".into()],
            env: BTreeMap::new(),
            cwd: None,
        };
        assert_eq!(spec.display(), "/bin/x 'a b' c");
        assert!(!pid_alive(-1));
        assert!(pid_alive(std::process::id() as i32));
    }
}
