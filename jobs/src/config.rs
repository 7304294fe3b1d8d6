//! `jobs.toml`: job definitions, validated into typed structs before anything runs.
//!
//! Paths in the file are relative to the file itself, so the same definitions work from any
//! working directory. Arguments carry `{placeholders}` filled per run; an unknown placeholder is
//! a load-time error, not a surprise at 3 a.m.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read job definitions {path}: {source}; pass --jobs <file>")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("job definitions {path} are not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("job `{job}`: {message}")]
    Job { job: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("unknown job `{0}`; `vygoda-jobs list` shows the defined ones")]
    UnknownJob(String),
}

/// What to do with cron ticks that passed while no scheduler was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// Forget them; wait for the next tick.
    #[default]
    Skip,
    /// Run once now for all of them together (never once per missed tick).
    RunOnce,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    driver: RawDriver,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    jobs: BTreeMap<String, RawJob>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDriver {
    log_dir: Option<String>,
    spark_submit: Option<String>,
    python: Option<String>,
    master: Option<String>,
    heartbeat: Option<String>,
    lease: Option<String>,
    kill_grace: Option<String>,
    shutdown_grace: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    description: Option<String>,
    script: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    py_files: Vec<String>,
    #[serde(default)]
    conf: BTreeMap<String, String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    master: Option<String>,
    output: Option<String>,
    schedule: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    retries: u32,
    retry_backoff: Option<String>,
    retry_backoff_max: Option<String>,
    #[serde(default)]
    no_retry_exit_codes: Option<Vec<i32>>,
    #[serde(default)]
    depends_on: Vec<String>,
    dependency_wait: Option<String>,
    concurrency: Option<u32>,
    #[serde(default)]
    missed: MissedPolicy,
    #[serde(default)]
    post_step: Vec<String>,
    post_step_timeout: Option<String>,
}

/// Driver-wide settings (`[driver]`); spark/python/master fall back to the platform file.
#[derive(Debug, Clone)]
pub struct DriverSettings {
    pub log_dir: PathBuf,
    pub spark_submit: Option<PathBuf>,
    pub python: Option<PathBuf>,
    pub master: Option<String>,
    pub heartbeat: Duration,
    pub lease: Duration,
    pub kill_grace: Duration,
    pub shutdown_grace: Duration,
    /// Environment of every job process (a job's own `env` wins).
    pub env: BTreeMap<String, String>,
}

/// One job, validated.
#[derive(Debug, Clone)]
pub struct JobDef {
    pub name: String,
    pub description: String,
    pub script: PathBuf,
    pub args: Vec<String>,
    pub py_files: Vec<PathBuf>,
    pub conf: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub master: Option<String>,
    pub output: Option<String>,
    pub schedule: Option<cron::Schedule>,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub no_retry_exit_codes: Vec<i32>,
    pub depends_on: Vec<String>,
    pub dependency_wait: Duration,
    pub concurrency: u32,
    pub missed: MissedPolicy,
    pub post_step: Vec<String>,
    pub post_step_timeout: Duration,
}

impl JobDef {
    /// Delay before attempt `next` (2, 3, …): base · 2^(next-2), capped.
    pub fn backoff(&self, next: u32) -> Duration {
        let factor = 2u32.saturating_pow(next.saturating_sub(2));
        self.retry_backoff
            .saturating_mul(factor)
            .min(self.retry_backoff_max)
    }

    pub fn max_attempts(&self) -> u32 {
        self.retries + 1
    }
}

/// The whole file.
#[derive(Debug, Clone)]
pub struct JobsFile {
    pub path: PathBuf,
    pub driver: DriverSettings,
    pub vars: BTreeMap<String, String>,
    pub jobs: BTreeMap<String, JobDef>,
}

/// Placeholders the driver fills for every run, besides `[vars]` and platform values.
pub const RUN_PLACEHOLDERS: &[&str] = &[
    "run_id",
    "job",
    "attempt",
    "scheduled_for",
    "output",
    "bin_dir",
    "jobs_dir",
    "platform",
    "lake_root",
    "hdfs_url",
    "log_path",
];

impl JobsFile {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        // Absolute, so job processes find their scripts whatever their working directory.
        let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_owned();
        let rel = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_owned()
            } else {
                base.join(p)
            }
        };
        let d = raw.driver;
        let driver = DriverSettings {
            log_dir: rel(d.log_dir.as_deref().unwrap_or("logs")),
            spark_submit: d.spark_submit.as_deref().map(rel),
            python: d.python.as_deref().map(rel),
            master: d.master,
            heartbeat: dur("driver.heartbeat", d.heartbeat.as_deref(), "2s")?,
            lease: dur("driver.lease", d.lease.as_deref(), "30s")?,
            kill_grace: dur("driver.kill_grace", d.kill_grace.as_deref(), "10s")?,
            shutdown_grace: dur("driver.shutdown_grace", d.shutdown_grace.as_deref(), "60s")?,
            env: d.env,
        };
        if driver.lease < driver.heartbeat * 3 {
            return Err(ConfigError::Invalid(
                "driver.lease must be at least 3 heartbeats, or live runs get declared orphaned"
                    .into(),
            ));
        }
        let mut known: BTreeSet<String> = RUN_PLACEHOLDERS.iter().map(|s| s.to_string()).collect();
        known.extend(raw.vars.keys().cloned());
        for (name, value) in &raw.vars {
            check_placeholders(value, &known)
                .map_err(|m| ConfigError::Invalid(format!("vars.{name}: {m}")))?;
        }
        let mut jobs = BTreeMap::new();
        for (name, job) in raw.jobs {
            let def = job_def(&name, job, &rel, &known)?;
            jobs.insert(name, def);
        }
        let file = JobsFile {
            path: path.to_owned(),
            driver,
            vars: raw.vars,
            jobs,
        };
        file.check_dependencies()?;
        Ok(file)
    }

    pub fn job(&self, name: &str) -> Result<&JobDef, ConfigError> {
        self.jobs
            .get(name)
            .ok_or_else(|| ConfigError::UnknownJob(name.to_owned()))
    }

    /// Every dependency exists and there is no cycle (a cycle would never run).
    fn check_dependencies(&self) -> Result<(), ConfigError> {
        for job in self.jobs.values() {
            for dep in &job.depends_on {
                if !self.jobs.contains_key(dep) {
                    return Err(ConfigError::Job {
                        job: job.name.clone(),
                        message: format!("depends_on `{dep}`, which is not defined"),
                    });
                }
            }
        }
        // Depth-first search with colours: 1 = on the stack, 2 = done.
        let mut colour: BTreeMap<&str, u8> = BTreeMap::new();
        fn visit<'a>(
            f: &'a JobsFile,
            n: &'a str,
            colour: &mut BTreeMap<&'a str, u8>,
            path: &mut Vec<&'a str>,
        ) -> Result<(), ConfigError> {
            match colour.get(n) {
                Some(2) => return Ok(()),
                Some(1) => {
                    path.push(n);
                    return Err(ConfigError::Invalid(format!(
                        "dependency cycle: {}",
                        path.join(" -> ")
                    )));
                }
                _ => {}
            }
            colour.insert(n, 1);
            path.push(n);
            for dep in &f.jobs[n].depends_on {
                visit(f, dep, colour, path)?;
            }
            path.pop();
            colour.insert(n, 2);
            Ok(())
        }
        for name in self.jobs.keys() {
            visit(self, name, &mut colour, &mut Vec::new())?;
        }
        Ok(())
    }
}

fn job_def(
    name: &str,
    job: RawJob,
    rel: &dyn Fn(&str) -> PathBuf,
    known: &BTreeSet<String>,
) -> Result<JobDef, ConfigError> {
    let err = |message: String| ConfigError::Job {
        job: name.to_owned(),
        message,
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(err("job names use letters, digits, `-` and `_` only".into()));
    }
    let schedule = job
        .schedule
        .as_deref()
        .map(parse_schedule)
        .transpose()
        .map_err(err)?;
    let concurrency = job.concurrency.unwrap_or(1);
    if concurrency == 0 {
        return Err(err("concurrency must be at least 1".into()));
    }
    let templates = job
        .args
        .iter()
        .chain(job.conf.values())
        .chain(job.env.values())
        .chain(job.output.iter())
        .chain(job.post_step.iter());
    for t in templates {
        check_placeholders(t, known).map_err(err)?;
    }
    let d =
        |field: &str, v: Option<&str>, default: &str| dur(&format!("{name}.{field}"), v, default);
    Ok(JobDef {
        name: name.to_owned(),
        description: job.description.unwrap_or_default(),
        script: rel(&job.script),
        args: job.args,
        py_files: job.py_files.iter().map(|p| rel(p)).collect(),
        conf: job.conf,
        env: job.env,
        master: job.master,
        output: job.output,
        schedule,
        timeout: d("timeout", job.timeout.as_deref(), "1h")?,
        retries: job.retries,
        retry_backoff: d("retry_backoff", job.retry_backoff.as_deref(), "30s")?,
        retry_backoff_max: d("retry_backoff_max", job.retry_backoff_max.as_deref(), "10m")?,
        // 2: spark-submit's "no such script" and our jobs' "bad input": retrying cannot help.
        no_retry_exit_codes: job.no_retry_exit_codes.unwrap_or_else(|| vec![2]),
        depends_on: job.depends_on,
        dependency_wait: d("dependency_wait", job.dependency_wait.as_deref(), "1h")?,
        concurrency,
        missed: job.missed,
        post_step: job.post_step,
        post_step_timeout: d("post_step_timeout", job.post_step_timeout.as_deref(), "10m")?,
    })
}

/// Cron with seconds (`sec min hour dom mon dow [year]`); classic 5-field lines get `0` seconds.
pub fn parse_schedule(text: &str) -> Result<cron::Schedule, String> {
    let fields = text.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {text}")
    } else {
        text.to_owned()
    };
    cron::Schedule::from_str(&full).map_err(|e| format!("schedule `{text}` is not valid cron: {e}"))
}

fn dur(field: &str, value: Option<&str>, default: &str) -> Result<Duration, ConfigError> {
    parse_duration(value.unwrap_or(default))
        .map_err(|m| ConfigError::Invalid(format!("{field}: {m}")))
}

/// `250ms`, `30s`, `10m`, `2h`, `1d`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s, 10m, 2h"))?;
    let secs = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        other => return Err(format!("unknown duration unit `{other}` in `{text}`")),
    };
    Ok(Duration::from_secs(secs))
}

/// Names of `{placeholders}` in a template (`{{` and `}}` are literal braces).
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("bad placeholder `{{{name}` in `{template}`"));
                }
                names.push(name);
            }
            '}' => return Err(format!("unmatched `}}` in `{template}` (write `}}}}`)")),
            _ => {}
        }
    }
    Ok(names)
}

fn check_placeholders(template: &str, known: &BTreeSet<String>) -> Result<(), String> {
    for name in placeholders(template)? {
        if !known.contains(&name) {
            return Err(format!(
                "unknown placeholder `{{{name}}}` in `{template}` (known: {})",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(())
}

/// Fill `{name}` from `values`; an absent value is an error naming it.
pub fn expand(template: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let value = values
                    .get(&name)
                    .ok_or_else(|| format!("no value for `{{{name}}}` in `{template}`"))?;
                out.push_str(value);
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
