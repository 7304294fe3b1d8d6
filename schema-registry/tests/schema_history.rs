//! CI guard against breaking schema changes: every `kafka/schemas/*.avsc`, walked through its git
//! history (oldest first) plus the working tree, must be BACKWARD compatible link by link — the
//! same check the registry runs on registration. Also proves the checker catches a break, on a
//! throw-away repository.

// Test helpers outside #[test] fns; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use vygoda_schema_registry::history::{self, check_chain, Report, Revision};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kafka/schemas")
}

#[test]
fn committed_schema_history_is_backward_compatible() {
    let dir = schemas_dir();
    if !dir.exists() {
        eprintln!("skipping: {} does not exist", dir.display());
        return;
    }
    let Some(report) = history::check_dir(&dir).expect("git history readable") else {
        eprintln!("skipping: {} is not in a git work tree", dir.display());
        return;
    };
    for (subject, versions) in &report.checked {
        eprintln!("{subject}: {versions} version(s) checked");
    }
    for skipped in &report.skipped {
        eprintln!("skipped (not valid Avro): {skipped}");
    }
    let breaks: Vec<String> = report.breaks.iter().map(ToString::to_string).collect();
    assert!(
        breaks.is_empty(),
        "breaking schema changes (give new fields a default, never remove or retype a field \
         without one):\n{}",
        breaks.join("\n")
    );
}

fn rev(label: &str, text: &str) -> Revision {
    Revision {
        label: label.into(),
        text: text.into(),
    }
}

const V1: &str =
    r#"{"type":"record","name":"Product","fields":[{"name":"product_id","type":"string"}]}"#;
const V2_OK: &str = r#"{"type":"record","name":"Product","fields":[{"name":"product_id","type":"string"},{"name":"brand","type":["null","string"],"default":null}]}"#;
const V3_BREAKS: &str = r#"{"type":"record","name":"Product","fields":[{"name":"product_id","type":"string"},{"name":"brand","type":["null","string"],"default":null},{"name":"shop_id","type":"string"}]}"#;

#[test]
fn checker_rejects_a_new_required_field_and_names_it() {
    let mut report = Report::default();
    check_chain(
        "products-value",
        &[rev("c1", V1), rev("c2", V2_OK), rev("c3", V3_BREAKS)],
        &mut report,
    );
    assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
    let text = report.breaks[0].to_string();
    assert!(
        text.contains("products-value") && text.contains("`shop_id`") && text.contains("c3"),
        "{text}"
    );

    // One version, or a compatible chain: nothing to report.
    let mut report = Report::default();
    check_chain("a", &[rev("only", V1)], &mut report);
    check_chain("b", &[rev("c1", V1), rev("c2", V2_OK)], &mut report);
    assert!(report.breaks.is_empty());
    assert_eq!(report.checked, vec![("a".into(), 1), ("b".into(), 2)]);

    // A broken historical version is skipped, a broken working-tree file is a break.
    let mut report = Report::default();
    check_chain(
        "c",
        &[
            rev("c1", V1),
            rev("c2", "{oops"),
            rev("working tree", "{oops"),
        ],
        &mut report,
    );
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.breaks.len(), 1);
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn checker_walks_git_history_and_the_working_tree() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    git(root, &["init", "-q"]);
    let schemas = root.join("kafka/schemas");
    std::fs::create_dir_all(&schemas).unwrap();
    let file = schemas.join("products-value.avsc");

    // No commits yet: only the working tree, nothing to compare.
    std::fs::write(&file, V1).unwrap();
    let report = history::check_dir(&schemas)
        .unwrap()
        .expect("in a git repo");
    assert_eq!(
        (report.checked.clone(), report.breaks.len()),
        (vec![("products-value".into(), 1)], 0)
    );

    for (text, message) in [(V1, "v1"), (V2_OK, "v2")] {
        std::fs::write(&file, text).unwrap();
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", message]);
    }
    let revisions =
        history::revisions(&root.canonicalize().unwrap(), &file.canonicalize().unwrap()).unwrap();
    assert_eq!(
        revisions
            .iter()
            .map(|r| r.text.as_str())
            .collect::<Vec<_>>(),
        [V1, V2_OK],
        "oldest first"
    );
    assert!(history::check_dir(&schemas)
        .unwrap()
        .unwrap()
        .breaks
        .is_empty());

    // An uncommitted breaking edit is caught and named.
    std::fs::write(&file, V3_BREAKS).unwrap();
    let report = history::check_dir(&schemas).unwrap().unwrap();
    assert_eq!(report.breaks.len(), 1);
    assert_eq!(report.breaks[0].to, "working tree");
    assert!(report.breaks[0].why.contains("shop_id"));

    // Committed, it stays caught.
    git(root, &["commit", "-q", "-am", "v3"]);
    let report = history::check_dir(&schemas).unwrap().unwrap();
    assert_eq!(report.breaks.len(), 1);
    assert!(
        report.breaks[0].to.starts_with("commit "),
        "{}",
        report.breaks[0]
    );
}

#[test]
fn outside_a_git_repository_the_check_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x-value.avsc"), V1).unwrap();
    // GIT_CEILING_DIRECTORIES is not needed: a temp dir is not inside a repository.
    assert!(history::check_dir(dir.path()).unwrap().is_none());
}
