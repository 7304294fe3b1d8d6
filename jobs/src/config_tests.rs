use super::*;

fn parse(text: &str) -> Result<JobsFile, ConfigError> {
    JobsFile::parse(text, Path::new("/etc/vygoda/jobs.toml"))
}

const MINIMAL: &str = r#"
[vars]
output_root = "{hdfs_url}/out"

[jobs.a]
script = "a.py"
args = ["--run-id", "{run_id}", "--out", "{output_root}"]
schedule = "*/5 * * * *"
retries = 3
retry_backoff = "1s"
retry_backoff_max = "3s"

[jobs.b]
script = "/abs/b.py"
depends_on = ["a"]
missed = "run_once"
concurrency = 2
"#;

#[test]
fn parses_jobs_with_defaults_and_relative_paths() {
    let f = parse(MINIMAL).unwrap();
    let a = f.job("a").unwrap();
    assert_eq!(a.script, Path::new("/etc/vygoda/a.py"));
    assert_eq!(a.max_attempts(), 4);
    assert_eq!(a.timeout, Duration::from_secs(3600));
    assert_eq!(a.no_retry_exit_codes, vec![2]);
    assert_eq!(a.concurrency, 1);
    assert_eq!(a.missed, MissedPolicy::Skip);
    let b = f.job("b").unwrap();
    assert_eq!(b.script, Path::new("/abs/b.py"));
    assert_eq!((b.concurrency, b.missed), (2, MissedPolicy::RunOnce));
    assert_eq!(f.driver.log_dir, Path::new("/etc/vygoda/logs"));
    assert!(matches!(f.job("zzz"), Err(ConfigError::UnknownJob(_))));
}

#[test]
fn backoff_doubles_and_is_capped() {
    let f = parse(MINIMAL).unwrap();
    let a = f.job("a").unwrap();
    let secs: Vec<u64> = (2..=5).map(|n| a.backoff(n).as_secs()).collect();
    assert_eq!(secs, vec![1, 2, 3, 3]);
}

#[test]
fn five_field_cron_gets_seconds() {
    let s = parse_schedule("*/5 * * * *").unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:01:30Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let next: Vec<_> = s.after(&start).take(2).map(|t| t.to_rfc3339()).collect();
    assert_eq!(
        next,
        ["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"]
    );
    assert!(parse_schedule("not cron").is_err());
}

#[test]
fn rejects_unknown_placeholders_missing_deps_and_cycles() {
    let e = parse("[jobs.a]\nscript='a.py'\nargs=['{nope}']").unwrap_err();
    assert!(
        e.to_string().contains("unknown placeholder `{nope}`"),
        "{e}"
    );
    let e = parse("[jobs.a]\nscript='a.py'\ndepends_on=['x']").unwrap_err();
    assert!(e.to_string().contains("depends_on `x`"), "{e}");
    let e = parse(
        "[jobs.a]\nscript='a.py'\ndepends_on=['b']\n[jobs.b]\nscript='b.py'\ndepends_on=['a']",
    )
    .unwrap_err();
    assert!(e.to_string().contains("dependency cycle"), "{e}");
    let e = parse("[jobs.a]\nscript='a.py'\nschedul='x'").unwrap_err();
    assert!(e.to_string().contains("schedul"), "{e}");
    let e = parse("[jobs.a]\nscript='a.py'\nconcurrency=0").unwrap_err();
    assert!(e.to_string().contains("concurrency"), "{e}");
    let e = parse("[driver]\nheartbeat='10s'\nlease='20s'").unwrap_err();
    assert!(e.to_string().contains("lease"), "{e}");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
    assert!(parse_duration("2 weeks").is_err());
    assert!(parse_duration("").is_err());
}

#[test]
fn expands_placeholders_and_literal_braces() {
    let values: BTreeMap<String, String> = [("run_id".to_owned(), "r1".to_owned())]
        .into_iter()
        .collect();
    assert_eq!(expand("x={run_id} {{y}}", &values).unwrap(), "x=r1 {y}");
    assert!(expand("{missing}", &values)
        .unwrap_err()
        .contains("missing"));
    assert_eq!(placeholders("{a}-{{b}}-{c}").unwrap(), vec!["a", "c"]);
    assert!(placeholders("a}").is_err());
}

#[test]
fn the_repository_jobs_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs.toml");
    let f = JobsFile::load(&path).unwrap();
    let recs = f.job("recommendations").unwrap();
    assert!(recs.script.exists(), "{}", recs.script.display());
    assert!(!recs.post_step.is_empty());
    for p in &recs.py_files {
        assert!(p.exists(), "{}", p.display());
    }
}
