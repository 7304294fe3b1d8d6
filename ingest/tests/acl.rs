//! Each service's `declared_access` (built from its real config, default flags) is granted by
//! kafka/acls.toml, and each grant of our principals is used by some declared access.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use clap::Parser;
use vygoda_common::access::{Access, Operation, Resource};

#[derive(Debug)]
struct Grant {
    principal: String,
    cluster: String,
    resource: Resource,
    ops: Vec<String>,
}

fn grants() -> Vec<Grant> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kafka/acls.toml");
    let table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let mut out = Vec::new();
    for (principal, p) in table["principals"].as_table().unwrap() {
        for g in p
            .get("grants")
            .and_then(|g| g.as_array())
            .into_iter()
            .flatten()
        {
            let resource = match (g.get("topic"), g.get("group")) {
                (Some(t), _) => Resource::Topic(t.as_str().unwrap().to_owned()),
                (_, Some(gr)) => Resource::Group(gr.as_str().unwrap().to_owned()),
                _ => continue,
            };
            out.push(Grant {
                principal: principal.clone(),
                cluster: g["cluster"].as_str().unwrap().to_owned(),
                resource,
                ops: g["ops"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o.as_str().unwrap().to_owned())
                    .collect(),
            });
        }
    }
    out
}

fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn grants_access(g: &Grant, a: &Access) -> bool {
    let resource = match (&g.resource, &a.resource) {
        (Resource::Topic(p), Resource::Topic(n)) | (Resource::Group(p), Resource::Group(n)) => {
            pattern_matches(p, n)
        }
        _ => false,
    };
    g.principal == a.principal
        && (g.cluster == "*" || g.cluster == a.cluster)
        && resource
        && g.ops.iter().any(|o| o == &format!("{:?}", a.operation))
}

/// Flags that make every binary build its config without a platform file.
fn offline(bin: &[&str], rest: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = bin.iter().map(|s| (*s).to_owned()).collect();
    v.extend(
        [
            "--platform",
            "/nonexistent/platform.json",
            "-X",
            "bootstrap.servers=127.0.0.1:1",
            "--registry-url",
            "https://127.0.0.1:1",
        ]
        .map(String::from),
    );
    v.extend(rest.iter().map(|s| (*s).to_owned()));
    v
}

fn declared() -> Vec<Access> {
    let mut all = Vec::new();
    let shop = vygoda_ingest::shop_api::Cli::try_parse_from(offline(
        &["shop-api", "publish"],
        &["--file", "-"],
    ))
    .unwrap();
    all.extend(vygoda_ingest::shop_api::declared_access(
        &shop.into_config().unwrap(),
    ));
    let admin =
        vygoda_ingest::admin::Cli::try_parse_from(offline(&["vygoda-admin", "ban"], &["list"]))
            .unwrap();
    all.extend(vygoda_ingest::admin::declared_access(
        &admin.into_config().unwrap(),
    ));
    let filter =
        vygoda_ingest::filter::Args::try_parse_from(offline(&["ban-filter"], &[])).unwrap();
    all.extend(vygoda_ingest::filter::declared_access(
        &filter.into_config().unwrap(),
    ));
    let sim =
        vygoda_ingest::client_sim::Args::try_parse_from(offline(&["client-sim"], &[])).unwrap();
    all.extend(vygoda_ingest::client_sim::declared_access(
        &sim.into_config().unwrap(),
    ));
    all
}

#[test]
fn every_declared_access_is_granted() {
    let grants = grants();
    for a in declared() {
        assert!(
            grants.iter().any(|g| grants_access(g, &a)),
            "not granted in kafka/acls.toml: {a:?}"
        );
    }
}

#[test]
fn every_grant_of_our_principals_is_used() {
    let declared = declared();
    for g in grants().iter().filter(|g| {
        ["shop-api", "client-api", "ban-admin", "ban-filter"].contains(&g.principal.as_str())
    }) {
        for op in &g.ops {
            let used = declared.iter().any(|a| {
                grants_access(
                    &Grant {
                        ops: vec![op.clone()],
                        ..clone(g)
                    },
                    a,
                )
            });
            assert!(
                used,
                "{} grants {op} on {:?} but no service declares it",
                g.principal, g.resource
            );
        }
    }
}

fn clone(g: &Grant) -> Grant {
    Grant {
        principal: g.principal.clone(),
        cluster: g.cluster.clone(),
        resource: g.resource.clone(),
        ops: g.ops.clone(),
    }
}

#[test]
fn filter_declares_exactly_its_topics_and_group() {
    let filter = vygoda_ingest::filter::Args::try_parse_from(offline(
        &["ban-filter"],
        &["--products-topic", "p", "--group", "g"],
    ))
    .unwrap();
    let acc = vygoda_ingest::filter::declared_access(&filter.into_config().unwrap());
    assert!(acc
        .iter()
        .any(|a| a.resource == Resource::Topic("p".into()) && a.operation == Operation::Read));
    assert!(acc
        .iter()
        .any(|a| a.resource == Resource::Group("g".into()) && a.operation == Operation::Read));
    assert!(!acc
        .iter()
        .any(|a| a.resource == Resource::Topic("products".into())));
}
