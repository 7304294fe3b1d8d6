//! `kafka/acls.toml`: who may do what on which cluster, as data.
//!
//! One table feeds several consumers, so they cannot drift apart:
//! - the production `kafka-acls.sh` commands and the local brokers' bindings (`vygoda-tools`),
//! - the schema registry's authorization (who may register under a subject),
//! - the test that each service's `declared_access()` is granted and nothing more is
//!   ([`AclTable::check_exact`]); the local brokers have no authorizer, so that test is where the
//!   table is enforced before production,
//! - the certificates `make up` issues, one per principal (the platform reads the same file).
//!
//! Resource names follow Kafka's ACL model: `"*"` alone is the literal wildcard (every resource),
//! a name ending in `*` is a PREFIXED pattern, anything else is a literal name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::access::{Access, Operation, Resource};

/// Clusters a grant may name; `cluster = "*"` means all of them.
pub const CLUSTERS: [&str; 2] = ["prod", "analytics"];

#[derive(Debug, thiserror::Error)]
pub enum AclError {
    #[error("cannot read ACL table {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("ACL table is not valid TOML for its schema: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("principal `{principal}`, grant #{index}: {problem}; fix kafka/acls.toml")]
    BadGrant {
        principal: String,
        index: usize,
        problem: String,
    },
    #[error("cluster `{0}` is unknown (known: prod, analytics)")]
    UnknownCluster(String),
    #[error("[local] test prefix `{0}` must be a non-empty name without `*`; fix kafka/acls.toml")]
    BadLocalPrefix(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    principals: BTreeMap<String, RawPrincipal>,
    #[serde(default)]
    local: RawLocal,
}

/// `[local]`: what only the local platform grants on top of the table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    #[serde(default)]
    test_prefixes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    about: String,
    #[serde(default)]
    super_user: bool,
    #[serde(default)]
    grants: Vec<RawGrant>,
}

// Strict on purpose: a misspelt key in a security table must fail, not silently grant nothing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    cluster: String,
    topic: Option<String>,
    group: Option<String>,
    ops: Vec<Operation>,
}

/// How a grant names its resources (Kafka's resource pattern types).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    /// One resource by name.
    Literal(String),
    /// Every resource whose name starts with this prefix.
    Prefixed(String),
    /// Kafka's literal `*`: every resource of the kind.
    Any,
}

impl Pattern {
    fn parse(raw: &str) -> Result<Self, String> {
        if raw == "*" {
            return Ok(Pattern::Any);
        }
        let (body, prefixed) = match raw.strip_suffix('*') {
            Some(body) => (body, true),
            None => (raw, false),
        };
        if body.is_empty() {
            return Err("empty resource name".into());
        }
        if body.contains('*') {
            return Err(format!("`{raw}`: `*` may only end a prefix or stand alone"));
        }
        Ok(if prefixed {
            Pattern::Prefixed(body.to_owned())
        } else {
            Pattern::Literal(body.to_owned())
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Literal(n) => n == name,
            Pattern::Prefixed(p) => name.starts_with(p.as_str()),
            Pattern::Any => true,
        }
    }

    /// `(name, is_prefixed)` as kafka-acls.sh wants them.
    pub fn cli(&self) -> (&str, bool) {
        match self {
            Pattern::Literal(n) => (n, false),
            Pattern::Prefixed(p) => (p, true),
            Pattern::Any => ("*", false),
        }
    }
}

/// Topic or consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Topic,
    Group,
}

/// One line of the table: `ops` on resources matching `pattern`, on `cluster` (`None` = all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub cluster: Option<String>,
    pub kind: Kind,
    pub pattern: Pattern,
    pub ops: Vec<Operation>,
}

impl Grant {
    pub fn on_cluster(&self, cluster: &str) -> bool {
        self.cluster.as_deref().is_none_or(|c| c == cluster)
    }

    fn allows(&self, access: &Access) -> bool {
        let (kind, name) = match &access.resource {
            Resource::Topic(t) => (Kind::Topic, t),
            Resource::Group(g) => (Kind::Group, g),
        };
        self.on_cluster(&access.cluster)
            && self.kind == kind
            && self.pattern.matches(name)
            && self.ops.contains(&access.operation)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalAcl {
    pub name: String,
    pub about: String,
    /// In `super.users`: every operation is allowed, no ACL is written for it.
    pub super_user: bool,
    pub grants: Vec<Grant>,
}

/// Declared needs and grants that differ, for one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mismatch {
    /// Declared by the service but not granted: it would fail in production.
    pub missing: Vec<Access>,
    /// Granted but never declared: more than the service needs.
    pub excess: Vec<String>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for a in &self.missing {
            writeln!(f, "  not granted: {a:?}")?;
        }
        for e in &self.excess {
            writeln!(f, "  granted but not declared: {e}")?;
        }
        Ok(())
    }
}

/// The parsed `kafka/acls.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclTable {
    pub principals: BTreeMap<String, PrincipalAcl>,
    /// Local platform only: topic and group name prefixes on which every principal may do
    /// anything, so tests and benchmarks can run each service under its own identity on topics
    /// of their own. Production has no such names and its scripts leave them out.
    pub test_prefixes: Vec<String>,
}

impl AclTable {
    pub fn load(path: &Path) -> Result<Self, AclError> {
        let text = std::fs::read_to_string(path).map_err(|source| AclError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, AclError> {
        let raw: RawTable = toml::from_str(text)?;
        let mut principals = BTreeMap::new();
        for (name, p) in raw.principals {
            let mut grants = Vec::with_capacity(p.grants.len());
            for (index, g) in p.grants.into_iter().enumerate() {
                let bad = |problem: String| AclError::BadGrant {
                    principal: name.clone(),
                    index,
                    problem,
                };
                let cluster = match g.cluster.as_str() {
                    "*" => None,
                    c if CLUSTERS.contains(&c) => Some(c.to_owned()),
                    c => return Err(bad(format!("unknown cluster `{c}`"))),
                };
                let (kind, raw_name) = match (g.topic, g.group) {
                    (Some(t), None) => (Kind::Topic, t),
                    (None, Some(g)) => (Kind::Group, g),
                    _ => return Err(bad("give exactly one of `topic` or `group`".into())),
                };
                if g.ops.is_empty() {
                    return Err(bad("`ops` is empty".into()));
                }
                let pattern = Pattern::parse(&raw_name).map_err(bad)?;
                let mut ops = g.ops;
                ops.sort();
                ops.dedup();
                grants.push(Grant {
                    cluster,
                    kind,
                    pattern,
                    ops,
                });
            }
            principals.insert(
                name.clone(),
                PrincipalAcl {
                    name,
                    about: p.about,
                    super_user: p.super_user,
                    grants,
                },
            );
        }
        if let Some(p) = raw
            .local
            .test_prefixes
            .iter()
            .find(|p| p.is_empty() || p.contains('*'))
        {
            return Err(AclError::BadLocalPrefix(p.clone()));
        }
        Ok(AclTable {
            principals,
            test_prefixes: raw.local.test_prefixes,
        })
    }

    /// Would production's authorizer allow `access`? Super users are allowed everything.
    pub fn allows(&self, access: &Access) -> bool {
        self.principals
            .get(&access.principal)
            .is_some_and(|p| p.super_user || p.grants.iter().any(|g| g.allows(access)))
    }

    /// Compare a service's declared needs with its principal's grants, both ways.
    ///
    /// Every declared access must be allowed, and every (cluster, resource, operation) the table
    /// grants must be declared by at least one of `declared`. A prefixed or wildcard grant counts
    /// as used when some declared access falls under it with that operation on that cluster.
    /// `declared` may gather several services sharing one principal.
    pub fn check_exact(&self, principal: &str, declared: &[Access]) -> Result<(), Mismatch> {
        let mut mismatch = Mismatch::default();
        let Some(p) = self.principals.get(principal) else {
            mismatch.missing = declared.to_vec();
            return Err(mismatch);
        };
        let mut missing: BTreeSet<Access> = BTreeSet::new();
        for a in declared {
            if a.principal != principal {
                mismatch
                    .excess
                    .push(format!("{a:?} is declared for another principal"));
            } else if !self.allows(a) {
                missing.insert(a.clone());
            }
        }
        mismatch.missing = missing.into_iter().collect();
        if !p.super_user {
            for g in &p.grants {
                let clusters: Vec<&str> = match &g.cluster {
                    Some(c) => vec![c.as_str()],
                    None => CLUSTERS.to_vec(),
                };
                for cluster in clusters {
                    for op in &g.ops {
                        let used = declared.iter().any(|a| {
                            a.principal == principal
                                && a.cluster == cluster
                                && a.operation == *op
                                && g.allows(a)
                        });
                        if !used {
                            mismatch.excess.push(format!(
                                "{op:?} on {:?} {:?} in {cluster}",
                                g.kind, g.pattern
                            ));
                        }
                    }
                }
            }
        }
        if mismatch.missing.is_empty() && mismatch.excess.is_empty() {
            Ok(())
        } else {
            Err(mismatch)
        }
    }
}

#[cfg(test)]
mod tests;
