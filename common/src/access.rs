//! What a service declares it does on Kafka, checked against `kafka/acls.toml`.
//!
//! Each service exposes `declared_access(&config) -> Vec<Access>` built from its typed config, so
//! the test that compares grants with needs sees the topics and groups the service really uses,
//! not a second hand-kept list.

use serde::{Deserialize, Serialize};

/// Kafka ACL operations vygoda uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operation {
    Read,
    Write,
    Describe,
    Create,
    DescribeConfigs,
}

/// A Kafka resource: a topic or a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Resource {
    Topic(String),
    Group(String),
}

/// One permission a service needs: `operation` on `resource` in `cluster` as `principal`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Access {
    pub principal: String,
    pub cluster: String,
    pub resource: Resource,
    pub operation: Operation,
}

impl Access {
    /// All `ops` on one topic.
    pub fn topic(principal: &str, cluster: &str, topic: &str, ops: &[Operation]) -> Vec<Access> {
        ops.iter()
            .map(|&operation| Access {
                principal: principal.to_owned(),
                cluster: cluster.to_owned(),
                resource: Resource::Topic(topic.to_owned()),
                operation,
            })
            .collect()
    }

    /// Read + Describe on a consumer group.
    pub fn group(principal: &str, cluster: &str, group: &str) -> Vec<Access> {
        [Operation::Read, Operation::Describe]
            .into_iter()
            .map(|operation| Access {
                principal: principal.to_owned(),
                cluster: cluster.to_owned(),
                resource: Resource::Group(group.to_owned()),
                operation,
            })
            .collect()
    }
}
