//! `kafka/acls.toml` rendered for the brokers: the production `kafka-acls.sh` scripts
//! (`make acls` writes them to kafka/generated/) and the bindings `make up` makes each local
//! cluster's ACLs equal to. The table itself, which the registry also reads at run time, is
//! `vygoda_common::acl`.

use std::fmt::Write as _;

use vygoda_common::acl::{AclError, AclTable, Kind, CLUSTERS};

mod bindings;

pub use bindings::Binding;

/// What the tooling makes of the table. A trait so that callers keep writing
/// `table.render_script(cluster)` while the rendering lives outside the run-time crate.
pub trait AclRender {
    /// The `kafka-acls.sh --add` commands that create this table's grants on `cluster`.
    ///
    /// Output is deterministic (principals and grants in table order) so the committed scripts in
    /// kafka/generated/ can be compared byte for byte with a fresh rendering.
    fn render_script(&self, cluster: &str) -> Result<String, AclError>;

    /// Every binding of `cluster`, sorted. Super users get none (they are `super.users`).
    /// With `local`, each other principal also gets `ALL` on topics and groups under each of
    /// `[local] test_prefixes`.
    fn bindings(&self, cluster: &str, local: bool) -> Result<Vec<Binding>, AclError>;
}

impl AclRender for AclTable {
    fn render_script(&self, cluster: &str) -> Result<String, AclError> {
        if !CLUSTERS.contains(&cluster) {
            return Err(AclError::UnknownCluster(cluster.to_owned()));
        }
        let mut out = String::new();
        let _ = write!(
            out,
            "#!/usr/bin/env bash\n\
# GENERATED from kafka/acls.toml by `make acls` (vygoda-acls render --cluster {cluster}).\n\
# Do not edit: change the table and regenerate; a test fails while this file is stale.\n\
#\n\
# ACLs of the {cluster} cluster (Apache Kafka, StandardAuthorizer, allow.everyone.if.no.acl.found=false:\n\
# whatever is not granted here is refused). Run as the admin super user:\n\
#   BOOTSTRAP=<{cluster} TLS listeners> COMMAND_CONFIG=kafka/prod/admin-client.properties \\\n\
#     bash kafka/generated/acls-{cluster}.sh\n\
# `--add` of an existing ACL is a no-op, so rerunning is safe. Grants removed from the table are NOT\n\
# removed here: compare with `kafka-acls.sh --list` and `--remove` them by hand.\n\
# Idempotent producers need no IdempotentWrite on the cluster since Kafka 2.8 (KIP-679): Write on\n\
# the topic is enough.\n\
set -euo pipefail\n\
: \"${{BOOTSTRAP:?set BOOTSTRAP to the {cluster} cluster's TLS listeners}}\"\n\
: \"${{COMMAND_CONFIG:?set COMMAND_CONFIG to an admin client properties file (mutual TLS, certificate CN=admin)}}\"\n\
KAFKA_ACLS=\"${{KAFKA_ACLS:-kafka-acls.sh}}\"\n"
        );
        for p in self.principals.values() {
            let _ = write!(out, "\n# {}: {}\n", p.name, p.about);
            if p.super_user {
                out.push_str(
                    "# super user (super.users in server-<n>.properties): no ACL needed.\n",
                );
                continue;
            }
            let mut any = false;
            for g in p.grants.iter().filter(|g| g.on_cluster(cluster)) {
                any = true;
                let _ = write!(
                    out,
                    "\"$KAFKA_ACLS\" --bootstrap-server \"$BOOTSTRAP\" --command-config \"$COMMAND_CONFIG\" \
                     --add --allow-principal User:{}",
                    p.name
                );
                for op in &g.ops {
                    let _ = write!(out, " --operation {op:?}");
                }
                let (name, prefixed) = g.pattern.cli();
                let flag = match g.kind {
                    Kind::Topic => "--topic",
                    Kind::Group => "--group",
                };
                let name = if name == "*" { "'*'" } else { name };
                let _ = write!(out, " {flag} {name}");
                if prefixed {
                    out.push_str(" --resource-pattern-type prefixed");
                }
                out.push('\n');
            }
            if !any {
                out.push_str("# nothing on this cluster.\n");
            }
        }
        Ok(out)
    }

    fn bindings(&self, cluster: &str, local: bool) -> Result<Vec<Binding>, AclError> {
        bindings::of(self, cluster, local)
    }
}

#[cfg(test)]
mod tests;
