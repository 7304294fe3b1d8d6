//! The table rendered as scripts and as bindings.

use super::*;

// The small ACL table both crates' unit tests read.
const TABLE: &str = include_str!("../../../common/src/acl/test_table.toml");

fn table() -> AclTable {
    AclTable::parse(TABLE).unwrap()
}

#[test]
fn renders_kafka_acls_commands_per_cluster() {
    let prod = table().render_script("prod").unwrap();
    assert!(prod.starts_with("#!/usr/bin/env bash\n"));
    let cmd = "\"$KAFKA_ACLS\" --bootstrap-server \"$BOOTSTRAP\" --command-config \"$COMMAND_CONFIG\" --add";
    assert!(prod.contains(&format!(
        "{cmd} --allow-principal User:svc --operation Read --operation Describe --topic in\n"
    )));
    assert!(prod.contains(&format!(
        "{cmd} --allow-principal User:operator --operation Read --group operator --resource-pattern-type prefixed\n"
    )));
    assert!(prod.contains("--topic '*'\n"));
    assert!(!prod.contains("--topic out"));
    assert!(!prod.contains("--allow-principal User:admin"));
    let analytics = table().render_script("analytics").unwrap();
    assert!(analytics.contains(
        "--allow-principal User:svc --operation Write --operation Describe --topic out\n"
    ));
    assert!(table().render_script("staging").is_err());
}

#[test]
fn bindings_follow_the_grants_and_add_local_prefixes() {
    let t = table();
    let prod = t.bindings("prod", false).unwrap();
    let has = |b: &[Binding], p: &str, ty: &str, name: &str, pat: &str, op: &str| {
        b.iter().any(|x| {
            x.principal == p
                && x.resource_type == ty
                && x.name == name
                && x.pattern_type == pat
                && x.operation == op
        })
    };
    assert!(has(&prod, "User:svc", "TOPIC", "in", "LITERAL", "READ"));
    assert!(has(
        &prod,
        "User:operator",
        "TOPIC",
        "*",
        "LITERAL",
        "DESCRIBE"
    ));
    assert!(has(
        &prod,
        "User:operator",
        "GROUP",
        "operator",
        "PREFIXED",
        "READ"
    ));
    assert!(!has(&prod, "User:svc", "TOPIC", "out", "LITERAL", "WRITE"));
    assert!(prod.iter().all(|b| b.principal != "User:admin"));
    assert!(prod.iter().all(|b| b.operation != "ALL"));
    assert_eq!(prod.len(), 2 + 2 + 1 + 2);

    let local = t.bindings("prod", true).unwrap();
    assert!(has(&local, "User:svc", "TOPIC", "test-", "PREFIXED", "ALL"));
    assert!(has(
        &local,
        "User:operator",
        "GROUP",
        "test-",
        "PREFIXED",
        "ALL"
    ));
    assert_eq!(local.len(), prod.len() + 4);
    assert!(t.bindings("staging", false).is_err());
}
