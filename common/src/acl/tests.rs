//! Unit tests of the ACL table: parsing and matching (rendering is vygoda-tools').

use super::*;

// The small ACL table both crates' unit tests read (tools/src/acl/tests.rs too).
const TABLE: &str = include_str!("test_table.toml");

fn table() -> AclTable {
    AclTable::parse(TABLE).unwrap()
}

fn topic(p: &str, c: &str, t: &str, op: Operation) -> Access {
    Access {
        principal: p.into(),
        cluster: c.into(),
        resource: Resource::Topic(t.into()),
        operation: op,
    }
}

fn svc_needs() -> Vec<Access> {
    let mut v = Access::topic("svc", "prod", "in", &[Operation::Read, Operation::Describe]);
    v.extend(Access::topic(
        "svc",
        "analytics",
        "out",
        &[Operation::Write, Operation::Describe],
    ));
    v.extend(Access::group("svc", "prod", "svc"));
    v
}

#[test]
fn patterns_follow_kafka_rules() {
    assert_eq!(Pattern::parse("*").unwrap(), Pattern::Any);
    assert_eq!(
        Pattern::parse("operator*").unwrap(),
        Pattern::Prefixed("operator".into())
    );
    assert_eq!(
        Pattern::parse("a.b").unwrap(),
        Pattern::Literal("a.b".into())
    );
    assert!(Pattern::parse("a*b").is_err());
    assert!(Pattern::parse("").is_err());
    assert!(Pattern::Prefixed("operator".into()).matches("operator-jane"));
    assert!(!Pattern::Prefixed("operator".into()).matches("opera"));
}

#[test]
fn wildcards_and_clusters_expand() {
    let t = table();
    assert!(t.allows(&topic("operator", "analytics", "anything", Operation::Read)));
    assert!(!t.allows(&topic("operator", "prod", "x", Operation::Write)));
    assert!(t.allows(&topic("svc", "prod", "in", Operation::Read)));
    assert!(!t.allows(&topic("svc", "analytics", "in", Operation::Read)));
    assert!(!t.allows(&topic("svc", "prod", "input", Operation::Read)));
    assert!(t.allows(&topic("admin", "prod", "x", Operation::Create)));
    assert!(!t.allows(&topic("nobody", "prod", "in", Operation::Read)));
}

#[test]
fn exact_match_passes_and_differences_are_named() {
    let t = table();
    t.check_exact("svc", &svc_needs()).unwrap();

    let mut fewer = svc_needs();
    fewer.retain(|a| a.operation != Operation::Write);
    let m = t.check_exact("svc", &fewer).unwrap_err();
    assert!(m.missing.is_empty());
    assert_eq!(m.excess.len(), 1, "{m}");
    assert!(m.excess[0].contains("Write"));

    let mut more = svc_needs();
    more.push(topic("svc", "prod", "other", Operation::Write));
    let m = t.check_exact("svc", &more).unwrap_err();
    assert_eq!(
        m.missing,
        vec![topic("svc", "prod", "other", Operation::Write)]
    );
}

#[test]
fn table_errors_name_the_grant() {
    let bad = r#"[principals.x]
about = "x"
grants = [{ cluster = "prod", topic = "a", group = "b", ops = ["Read"] }]"#;
    let err = AclTable::parse(bad).unwrap_err().to_string();
    assert!(err.contains("`x`") && err.contains("#0"), "{err}");
    let typo = r#"[principals.x]
about = "x"
grants = [{ cluster = "prod", topics = "a", ops = ["Read"] }]"#;
    assert!(AclTable::parse(typo).is_err());
    let cluster = r#"[principals.x]
about = "x"
grants = [{ cluster = "staging", topic = "a", ops = ["Read"] }]"#;
    assert!(AclTable::parse(cluster)
        .unwrap_err()
        .to_string()
        .contains("staging"));
    let op = r#"[principals.x]
about = "x"
grants = [{ cluster = "prod", topic = "a", ops = ["Reed"] }]"#;
    assert!(AclTable::parse(op).is_err());
}

#[test]
fn the_repository_table_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kafka/acls.toml");
    let t = AclTable::load(&path).unwrap();
    assert!(t.principals["admin"].super_user);
    assert!(t.principals.contains_key("mirror"));
}

#[test]
fn a_local_prefix_must_be_a_plain_name() {
    let bad = TABLE.replace(
        r#"test_prefixes = ["test-"]"#,
        r#"test_prefixes = ["test-*"]"#,
    );
    assert!(AclTable::parse(&bad)
        .unwrap_err()
        .to_string()
        .contains("test-*"));
}
