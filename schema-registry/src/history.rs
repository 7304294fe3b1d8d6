//! The CI check against breaking schema changes: every `.avsc` file's git history, oldest first,
//! plus the working-tree file, must form a BACKWARD-compatible chain (each version reads data
//! written with its predecessor), by the same code as the server's check.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compat;
use crate::schema;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot list {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run git: {0}; is git installed?")]
    Git(std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    GitFailed { args: String, stderr: String },
}

/// One schema version in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Commit hash, or `working tree`.
    pub label: String,
    pub text: String,
}

/// A link of the chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub subject: String,
    pub from: String,
    pub to: String,
    pub why: String,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subject {}: {} cannot read data written with {}: {}",
            self.subject, self.to, self.from, self.why
        )
    }
}

/// What the check saw.
#[derive(Debug, Default)]
pub struct Report {
    /// (subject, number of distinct versions checked)
    pub checked: Vec<(String, usize)>,
    pub breaks: Vec<Break>,
    /// Historical versions that do not parse (skipped; the chain continues from the last good one).
    pub skipped: Vec<String>,
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, HistoryError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(HistoryError::Git)?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(HistoryError::GitFailed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// The repository root containing `dir`, or None outside a git work tree.
pub fn repo_root(dir: &Path) -> Option<PathBuf> {
    let out = git(dir, &["rev-parse", "--show-toplevel"]).ok()?;
    Some(PathBuf::from(String::from_utf8_lossy(&out).trim()))
}

/// Versions of `file` (inside repository `root`): each commit that touched it, oldest first,
/// then the working tree if it differs from the last commit. A repository without commits has
/// only the working tree.
pub fn revisions(root: &Path, file: &Path) -> Result<Vec<Revision>, HistoryError> {
    let relative = file
        .strip_prefix(root)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned();
    let has_commits = git(root, &["rev-parse", "--verify", "-q", "HEAD"]).is_ok();
    let mut revisions = Vec::new();
    if has_commits {
        let log = git(root, &["log", "--reverse", "--format=%H", "--", &relative])?;
        for commit in String::from_utf8_lossy(&log)
            .lines()
            .filter(|l| !l.is_empty())
        {
            // A commit that deleted the file has no blob; the chain resumes at the next one.
            if let Ok(blob) = git(root, &["show", &format!("{commit}:{relative}")]) {
                revisions.push(Revision {
                    label: format!("commit {}", &commit[..commit.len().min(12)]),
                    text: String::from_utf8_lossy(&blob).into_owned(),
                });
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string(root.join(&relative)) {
        if revisions.last().is_none_or(|last| last.text != text) {
            revisions.push(Revision {
                label: "working tree".into(),
                text,
            });
        }
    }
    Ok(revisions)
}

/// Check one subject's chain; unparsable versions in history are skipped, an unparsable
/// working-tree file is a break.
pub fn check_chain(subject: &str, revisions: &[Revision], report: &mut Report) {
    let mut previous: Option<(&Revision, apache_avro::Schema)> = None;
    let mut distinct = 0;
    for revision in revisions {
        let parsed = match schema::candidate(&revision.text, None) {
            Ok(candidate) => candidate.avro,
            Err(error) if revision.label != "working tree" => {
                report
                    .skipped
                    .push(format!("{subject} at {}: {error}", revision.label));
                continue;
            }
            Err(error) => {
                report.breaks.push(Break {
                    subject: subject.to_owned(),
                    from: previous
                        .as_ref()
                        .map_or("nothing".into(), |(r, _)| r.label.clone()),
                    to: revision.label.clone(),
                    why: error.to_string(),
                });
                continue;
            }
        };
        distinct += 1;
        if let Some((before, writer)) = &previous {
            if let Err(incompatibility) = compat::can_read(writer, &parsed) {
                report.breaks.push(Break {
                    subject: subject.to_owned(),
                    from: before.label.clone(),
                    to: revision.label.clone(),
                    why: incompatibility.to_string(),
                });
            }
        }
        previous = Some((revision, parsed));
    }
    report.checked.push((subject.to_owned(), distinct));
}

/// Check every `<subject>.avsc` of `dir`. None when `dir` is not inside a git work tree.
pub fn check_dir(dir: &Path) -> Result<Option<Report>, HistoryError> {
    let Some(root) = repo_root(dir) else {
        return Ok(None);
    };
    let dir = dir.canonicalize().map_err(|source| HistoryError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|source| HistoryError::Dir {
            path: dir.clone(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "avsc"))
        .collect();
    files.sort();
    let root = root.canonicalize().unwrap_or(root);
    let mut report = Report::default();
    for file in files {
        let subject = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let revisions = revisions(&root, &file)?;
        check_chain(&subject, &revisions, &mut report);
    }
    Ok(Some(report))
}
