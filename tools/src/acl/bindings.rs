//! The table as ACL bindings, the form brokers store (CreateAcls / DescribeAcls): what `make up`
//! makes each local cluster's ACLs equal to, from the same grants that render the production
//! `kafka-acls.sh` scripts.

use serde::Serialize;

use vygoda_common::access::Operation;
use vygoda_common::acl::{AclError, AclTable, Kind, CLUSTERS};

/// One allow rule. Names follow Kafka's enums (`ResourceType`, `PatternType`, `AclOperation`),
/// so an admin client can build the binding from the strings alone; the host is always `*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Binding {
    /// `User:<certificate CN>`.
    pub principal: String,
    /// `TOPIC` or `GROUP`.
    pub resource_type: &'static str,
    /// The resource name; `*` for Kafka's literal wildcard.
    pub name: String,
    /// `LITERAL` or `PREFIXED`.
    pub pattern_type: &'static str,
    /// `READ`, `WRITE`, `DESCRIBE`, `CREATE`, `DESCRIBE_CONFIGS` or `ALL`.
    pub operation: &'static str,
}

fn operation(op: Operation) -> &'static str {
    match op {
        Operation::Read => "READ",
        Operation::Write => "WRITE",
        Operation::Describe => "DESCRIBE",
        Operation::Create => "CREATE",
        Operation::DescribeConfigs => "DESCRIBE_CONFIGS",
    }
}

fn resource_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Topic => "TOPIC",
        Kind::Group => "GROUP",
    }
}

/// See [`super::AclRender::bindings`].
pub(super) fn of(table: &AclTable, cluster: &str, local: bool) -> Result<Vec<Binding>, AclError> {
    if !CLUSTERS.contains(&cluster) {
        return Err(AclError::UnknownCluster(cluster.to_owned()));
    }
    let mut out = Vec::new();
    for p in table.principals.values().filter(|p| !p.super_user) {
        let principal = format!("User:{}", p.name);
        for g in p.grants.iter().filter(|g| g.on_cluster(cluster)) {
            let (name, prefixed) = g.pattern.cli();
            for op in &g.ops {
                out.push(Binding {
                    principal: principal.clone(),
                    resource_type: resource_type(g.kind),
                    name: name.to_owned(),
                    pattern_type: if prefixed { "PREFIXED" } else { "LITERAL" },
                    operation: operation(*op),
                });
            }
        }
        if local {
            for prefix in &table.test_prefixes {
                for kind in [Kind::Topic, Kind::Group] {
                    out.push(Binding {
                        principal: principal.clone(),
                        resource_type: resource_type(kind),
                        name: prefix.clone(),
                        pattern_type: "PREFIXED",
                        operation: "ALL",
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
