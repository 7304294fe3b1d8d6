//! Who is calling, and what they may do.
//!
//! Identity is the client certificate: the server requires one signed by the platform CA
//! (`--client-ca`), as the brokers do, and the certificate's CN is the principal — the same
//! identity, from the same file, that the principal uses on Kafka. No passwords.
//!
//! Permissions come from the same table as the brokers' ACLs (`kafka/acls.toml`):
//! - reads, lookups and compatibility checks: any principal;
//! - registering under `<topic>-value` / `<topic>-key` (TopicNameStrategy): a principal the
//!   table grants Write on that topic (on any cluster), as producing records under a schema is
//!   what registering one is for; on the local platform also the `[local]` test prefixes;
//! - deleting and changing compatibility levels: super users (`admin`) only.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use vygoda_common::access::{Access, Operation, Resource};
use vygoda_common::acl::{AclError, AclTable, CLUSTERS};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot load the permission table: {0}; pass --acls kafka/acls.toml")]
    Table(#[from] AclError),
}

/// Who is asking: the CN of the verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Principal(String),
}

/// The caller of a connection from the chain the TLS handshake verified (leaf first). A
/// certificate without a CN identifies nobody.
pub fn caller_of(chain: Option<&[CertificateDer<'_>]>) -> Caller {
    let Some(leaf) = chain.and_then(<[_]>::first) else {
        return Caller::Anonymous;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        return Caller::Anonymous;
    };
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok());
    match cn {
        Some(name) if !name.is_empty() => Caller::Principal(name.to_owned()),
        _ => Caller::Anonymous,
    }
}

/// What each principal may do.
#[derive(Debug, Clone)]
pub struct Policy {
    table: AclTable,
    /// Apply `[local] test_prefixes` (the local platform, never production).
    local: bool,
}

/// The topic a subject names under TopicNameStrategy, if it follows it.
fn topic_of(subject: &str) -> Option<&str> {
    subject
        .strip_suffix("-value")
        .or_else(|| subject.strip_suffix("-key"))
        .filter(|t| !t.is_empty())
}

impl Policy {
    pub fn new(table: AclTable, local: bool) -> Policy {
        Policy { table, local }
    }

    pub fn load(path: &Path, local: bool) -> Result<Policy, AuthError> {
        Ok(Policy::new(AclTable::load(path)?, local))
    }

    /// Super users: may delete and change compatibility levels.
    pub fn is_admin(&self, principal: &str) -> bool {
        self.table
            .principals
            .get(principal)
            .is_some_and(|p| p.super_user)
    }

    /// May `principal` register a schema under `subject`?
    pub fn may_register(&self, principal: &str, subject: &str) -> bool {
        if self.is_admin(principal) {
            return true;
        }
        let Some(topic) = topic_of(subject) else {
            return false;
        };
        if self.local
            && self.table.principals.contains_key(principal)
            && self
                .table
                .test_prefixes
                .iter()
                .any(|p| topic.starts_with(p.as_str()))
        {
            return true;
        }
        CLUSTERS.iter().any(|cluster| {
            self.table.allows(&Access {
                principal: principal.to_owned(),
                cluster: (*cluster).to_owned(),
                resource: Resource::Topic(topic.to_owned()),
                operation: Operation::Write,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(local: bool) -> Policy {
        let table = AclTable::parse(
            r#"
            [local]
            test_prefixes = ["test-"]
            [principals.admin]
            about = "a"
            super_user = true
            [principals.shop-api]
            about = "s"
            grants = [{ cluster = "prod", topic = "products", ops = ["Write", "Describe"] }]
            [principals.operator]
            about = "o"
            grants = [{ cluster = "*", topic = "*", ops = ["Read", "Describe"] }]
            "#,
        )
        .unwrap();
        Policy::new(table, local)
    }

    #[test]
    fn a_principal_registers_under_the_topics_it_may_write() {
        let p = policy(false);
        assert!(p.may_register("shop-api", "products-value"));
        assert!(p.may_register("shop-api", "products-key"));
        assert!(!p.may_register("shop-api", "client-events-value"));
        assert!(!p.may_register("shop-api", "products"));
        assert!(!p.may_register("operator", "products-value"));
        assert!(!p.may_register("eve", "products-value"));
        assert!(p.may_register("admin", "anything"));
    }

    #[test]
    fn test_prefixes_only_on_the_local_platform_and_only_for_known_principals() {
        assert!(!policy(false).may_register("operator", "test-x-value"));
        assert!(policy(true).may_register("operator", "test-x-value"));
        assert!(!policy(true).may_register("eve", "test-x-value"));
    }

    #[test]
    fn only_super_users_administer() {
        let p = policy(true);
        assert!(p.is_admin("admin"));
        assert!(!p.is_admin("shop-api"));
        assert!(!p.is_admin("eve"));
    }

    #[test]
    fn no_certificate_is_nobody() {
        assert_eq!(caller_of(None), Caller::Anonymous);
        assert_eq!(caller_of(Some(&[])), Caller::Anonymous);
        let junk = CertificateDer::from(vec![1u8, 2, 3]);
        assert_eq!(caller_of(Some(&[junk])), Caller::Anonymous);
    }
}
