//! What `vygoda-jobs run` shows while a job runs: its log lines, and a status line with the
//! elapsed time, the attempt and Spark's current stage (parsed from the driver's log4j lines).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;

/// Spark progress as far as the log tells.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SparkProgress {
    pub attempt: Option<String>,
    pub stage: Option<u32>,
    pub tasks_done: u32,
    pub tasks_total: u32,
    pub jobs_finished: u32,
}

fn number_after(line: &str, marker: &str) -> Option<u32> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// `(2/8)` at the end of a "Finished task" line.
fn trailing_fraction(line: &str) -> Option<(u32, u32)> {
    let open = line.rfind('(')?;
    let inner = line[open + 1..].trim_end().strip_suffix(')')?;
    let (a, b) = inner.split_once('/')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

impl SparkProgress {
    /// Update from one log line; true if something shown changed.
    pub fn observe(&mut self, line: &str) -> bool {
        let before = self.clone();
        if let Some(pos) = line.find("vygoda-jobs") {
            if let Some(a) = line[pos..]
                .split_whitespace()
                .skip_while(|w| *w != "attempt")
                .nth(1)
            {
                self.attempt = Some(a.to_owned());
                self.stage = None;
                self.jobs_finished = 0;
            }
        } else if line.contains("Submitting") && line.contains("missing tasks from") {
            // "Submitting 4 missing tasks from ResultStage 3 (…)"
            if let (Some(total), Some(stage)) = (
                number_after(line, "Submitting "),
                number_after(line, "Stage "),
            ) {
                self.stage = Some(stage);
                self.tasks_total = total;
                self.tasks_done = 0;
            }
        } else if line.contains("Finished task") && line.contains(" in stage ") {
            // "Finished task 1.0 in stage 3.0 (TID 7) in 52 ms on … (executor driver) (2/4)"
            if let (Some(stage), Some((done, total))) =
                (number_after(line, " in stage "), trailing_fraction(line))
            {
                self.stage = Some(stage);
                self.tasks_done = done;
                self.tasks_total = total;
            }
        } else if line.contains("[Stage ") && line.contains(") / ") {
            // Console progress bar: "[Stage 3:=====>   (2 + 2) / 8]"
            if let Some(stage) = number_after(line, "[Stage ") {
                let done = line
                    .rfind('(')
                    .and_then(|i| line[i + 1..].split('+').next()?.trim().parse().ok());
                let total = number_after(line, ") / ");
                if let (Some(done), Some(total)) = (done, total) {
                    self.stage = Some(stage);
                    self.tasks_done = done;
                    self.tasks_total = total;
                }
            }
        } else if line.contains("DAGScheduler")
            && line.contains("Job ")
            && line.contains(" finished")
        {
            self.jobs_finished += 1;
        }
        *self != before
    }

    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = &self.attempt {
            parts.push(format!("attempt {a}"));
        }
        if let Some(stage) = self.stage {
            parts.push(format!(
                "stage {stage}: {}/{} tasks",
                self.tasks_done, self.tasks_total
            ));
        }
        if self.jobs_finished > 0 {
            parts.push(format!("{} spark jobs done", self.jobs_finished));
        }
        if parts.is_empty() {
            "starting".to_owned()
        } else {
            parts.join(" · ")
        }
    }
}

/// Print lines from `rx` to stdout and keep a status line on stderr until the sender closes.
/// Without a terminal the status goes to stderr as a plain line whenever it changes (at most
/// every 5 s), so CI logs still show progress.
pub async fn show(mut rx: UnboundedReceiver<String>, title: String, quiet: bool) {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {prefix} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(title.clone());
    bar.set_message("starting");
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let mut progress = SparkProgress::default();
    let mut last_plain = Instant::now() - Duration::from_secs(60);
    while let Some(line) = rx.recv().await {
        if !quiet {
            if bar.is_hidden() {
                println!("{line}");
            } else {
                bar.suspend(|| println!("{line}"));
            }
        }
        if progress.observe(&line) {
            let summary = progress.summary();
            if bar.is_hidden() {
                if last_plain.elapsed() >= Duration::from_secs(5) {
                    eprintln!("[{title}] {}s {summary}", started.elapsed().as_secs());
                    last_plain = Instant::now();
                }
            } else {
                bar.set_message(summary);
            }
        }
    }
    bar.finish_and_clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_spark_stages_and_attempts() {
        let mut p = SparkProgress::default();
        assert!(
            p.observe("=== vygoda-jobs 2026-01-01T00:00:00Z attempt 2/3 started: spark-submit …")
        );
        assert_eq!(p.attempt.as_deref(), Some("2/3"));
        assert!(p.observe(
            "26/01/01 10:00:00 INFO DAGScheduler: Submitting 4 missing tasks from ResultStage 3 (MapPartitionsRDD[9])"
        ));
        assert_eq!((p.stage, p.tasks_done, p.tasks_total), (Some(3), 0, 4));
        assert!(p.observe(
            "26/01/01 10:00:01 INFO TaskSetManager: Finished task 1.0 in stage 3.0 (TID 7) in 52 ms on localhost (executor driver) (2/4)"
        ));
        assert_eq!((p.stage, p.tasks_done, p.tasks_total), (Some(3), 2, 4));
        assert!(p.observe("[Stage 5:=====>      (6 + 2) / 8]"));
        assert_eq!((p.stage, p.tasks_done, p.tasks_total), (Some(5), 6, 8));
        assert!(
            p.observe("26/01/01 INFO DAGScheduler: Job 2 finished: count at x.py:10, took 0.1 s")
        );
        assert_eq!(
            p.summary(),
            "attempt 2/3 · stage 5: 6/8 tasks · 1 spark jobs done"
        );
        assert!(!p.observe("some unrelated line"));
    }
}
