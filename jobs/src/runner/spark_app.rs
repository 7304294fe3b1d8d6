//! The Spark application an attempt ran as. Only the Spark driver program knows its id (the
//! standalone master assigns `app-…`, local mode makes up `local-…`), so the job reports it: the
//! shared session helper (spark/jobs/common.py) writes `{"app_id": …}` to the file named by
//! `VYGODA_SPARK_APP_FILE` as soon as its session exists. A job that does not report leaves the
//! run without an application id; nothing else depends on it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Driver, RunError};
use crate::process::LogSink;

/// Environment variable naming the file the job writes its application id to.
pub const APP_FILE_ENV: &str = "VYGODA_SPARK_APP_FILE";

/// `<run>.spark-app.json` next to the run's log.
pub fn app_file(log_path: &Path) -> PathBuf {
    log_path.with_extension("spark-app.json")
}

/// The history server's page of an application.
pub fn history_page(history_url: &str, app_id: &str) -> String {
    format!(
        "{}/history/{app_id}/jobs/",
        history_url.trim_end_matches('/')
    )
}

#[derive(Debug, Deserialize)]
struct Reported {
    app_id: String,
}

/// The id in a report, if it is one: `app-…`/`local-…` style, nothing that could break a URL.
fn parse(bytes: &[u8]) -> Option<String> {
    let r: Reported = serde_json::from_slice(bytes).ok()?;
    let ok = !r.app_id.is_empty()
        && r.app_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(r.app_id)
}

impl Driver {
    /// Store the application the attempt reported, with its history-server page, and say so in
    /// the run's log.
    pub(super) async fn record_spark_app(
        &self,
        run_id: &str,
        file: &Path,
        sink: &LogSink,
    ) -> Result<(), RunError> {
        let Some(app_id) = std::fs::read(file).ok().as_deref().and_then(parse) else {
            sink.note("no Spark application reported by the job (spark/jobs/common.py reports it)");
            return Ok(());
        };
        let ui = self
            .env
            .history_url
            .as_deref()
            .map(|h| history_page(h, &app_id));
        self.store
            .set_spark_app(run_id, &app_id, ui.as_deref())
            .await?;
        sink.note(&format!(
            "spark application {app_id}{}",
            ui.map(|u| format!(": {u}")).unwrap_or_default()
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_file_sits_next_to_the_log() {
        assert_eq!(
            app_file(Path::new("/l/recs/recs-1.log")),
            Path::new("/l/recs/recs-1.spark-app.json")
        );
    }

    #[test]
    fn history_page_of_an_application() {
        assert_eq!(
            history_page("http://127.0.0.1:18080/", "app-20261130175301-0000"),
            "http://127.0.0.1:18080/history/app-20261130175301-0000/jobs/"
        );
    }

    #[test]
    fn reports_are_checked() {
        assert_eq!(
            parse(br#"{"app_id": "local-1796061176921", "master": "local[2]"}"#).as_deref(),
            Some("local-1796061176921")
        );
        for bad in [
            &br#"{"app_id": ""}"#[..],
            br#"{"app_id": "../x?y"}"#,
            br#"{"id": "app-1"}"#,
            b"not json",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
