//! Command lines of a run: placeholder values, spark-submit, the post-step, their environment.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Driver, RunError};
use crate::config::{expand, JobDef};
use crate::process::CommandSpec;

impl Driver {
    /// Placeholder values of one run.
    pub fn values(
        &self,
        job: &JobDef,
        run_id: &str,
        scheduled_for: Option<DateTime<Utc>>,
        log_path: &std::path::Path,
    ) -> Result<BTreeMap<String, String>, RunError> {
        let mut v = self.env.vars.clone();
        v.insert("run_id".into(), run_id.into());
        v.insert("job".into(), job.name.clone());
        v.insert("attempt".into(), "1".into());
        v.insert(
            "scheduled_for".into(),
            scheduled_for
                .unwrap_or_else(Utc::now)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        v.insert("log_path".into(), log_path.display().to_string());
        let output = match &job.output {
            Some(t) => expand(t, &v).map_err(|message| RunError::Template {
                job: job.name.clone(),
                message,
            })?,
            None => String::new(),
        };
        v.insert("output".into(), output);
        Ok(v)
    }

    /// The spark-submit command line of one attempt.
    pub fn spark_command(
        &self,
        job: &JobDef,
        v: &BTreeMap<String, String>,
    ) -> Result<CommandSpec, RunError> {
        let x = |t: &str| {
            expand(t, v).map_err(|message| RunError::Template {
                job: job.name.clone(),
                message,
            })
        };
        let master = job
            .master
            .clone()
            .unwrap_or_else(|| self.env.master.clone());
        let mut args = vec![
            "--master".to_owned(),
            master,
            "--name".to_owned(),
            format!("vygoda-{}-{}", job.name, v["run_id"]),
        ];
        for (k, val) in &job.conf {
            args.push("--conf".into());
            args.push(format!("{k}={}", x(val)?));
        }
        if !job.py_files.is_empty() {
            let files: Vec<String> = job
                .py_files
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            args.push("--py-files".into());
            args.push(files.join(","));
        }
        args.push(job.script.display().to_string());
        for a in &job.args {
            args.push(x(a)?);
        }
        Ok(CommandSpec {
            program: self.env.spark_submit.clone(),
            args,
            env: self.child_env(job, v, &x)?,
            cwd: None,
        })
    }

    /// The post-step command line, if the job has one.
    pub fn post_step_command(
        &self,
        job: &JobDef,
        v: &BTreeMap<String, String>,
    ) -> Result<Option<CommandSpec>, RunError> {
        let x = |t: &str| {
            expand(t, v).map_err(|message| RunError::Template {
                job: job.name.clone(),
                message,
            })
        };
        let Some((program, rest)) = job.post_step.split_first() else {
            return Ok(None);
        };
        Ok(Some(CommandSpec {
            program: x(program)?.into(),
            args: rest.iter().map(|a| x(a)).collect::<Result<_, _>>()?,
            env: self.child_env(job, v, &x)?,
            cwd: None,
        }))
    }

    fn child_env(
        &self,
        job: &JobDef,
        v: &BTreeMap<String, String>,
        x: &dyn Fn(&str) -> Result<String, RunError>,
    ) -> Result<BTreeMap<String, String>, RunError> {
        let mut env = self.env.settings.env.clone();
        if let Some(py) = &self.env.python {
            env.insert("PYSPARK_PYTHON".into(), py.display().to_string());
            env.insert("PYSPARK_DRIVER_PYTHON".into(), py.display().to_string());
        }
        env.insert("VYGODA_RUN_ID".into(), v["run_id"].clone());
        env.insert("VYGODA_JOB".into(), job.name.clone());
        env.insert("VYGODA_ATTEMPT".into(), v["attempt"].clone());
        let app_file = super::spark_app::app_file(std::path::Path::new(&v["log_path"]));
        env.insert(
            super::spark_app::APP_FILE_ENV.into(),
            app_file.display().to_string(),
        );
        for (k, val) in &job.env {
            env.insert(k.clone(), x(val)?);
        }
        Ok(env)
    }
}
