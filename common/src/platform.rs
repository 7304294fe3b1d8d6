//! The platform description written by `make up` (`.vygoda/platform.json`).
//!
//! It is the only place that knows addresses and credentials of the local platform; services read
//! it instead of growing their own copies of hosts and passwords. In production an equivalent file
//! (or the explicit flags each service offers) plays the same role.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default location, relative to the repository root.
pub const DEFAULT_PATH: &str = ".vygoda/platform.json";

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("cannot read platform file {path}: {source}; run `make up` first or pass --platform")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("platform file {path} is not valid: {source}; `make up` rewrites it")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cluster `{0}` is not in the platform file (known: prod, analytics)")]
    UnknownCluster(String),
    #[error("principal `{0}` is not in the platform file; add it to kafka/acls.toml and rerun `make up`")]
    UnknownPrincipal(String),
}

/// A Kafka-protocol cluster: its bootstrap list and the broker addresses behind it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cluster {
    pub bootstrap: String,
    pub brokers: Vec<String>,
}

/// One principal: its name, its certificate identity (CN = the name, from the platform CA), and
/// the complete librdkafka properties to authenticate as it (everything but
/// `bootstrap.servers`, which depends on the cluster). The same certificate identifies it to
/// the brokers and to the schema registry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Principal {
    pub username: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub kafka: BTreeMap<String, String>,
}

impl Principal {
    /// The certificate and key, for HTTPS clients (the schema registry).
    pub fn identity(&self) -> crate::https::Identity {
        crate::https::Identity {
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SchemaRegistry {
    pub url: String,
    pub ca: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hdfs {
    pub url: String,
    pub webhdfs: String,
    pub namenode_http: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Spark {
    pub submit: PathBuf,
    pub python: PathBuf,
    pub master: String,
    /// The standalone master's web UI (absent when jobs run in `local[N]` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_ui: Option<String>,
    /// The history server, which shows every finished application from its event log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_url: Option<String>,
}

/// Everything `make up` started, with addresses and credentials.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub clusters: BTreeMap<String, Cluster>,
    pub principals: BTreeMap<String, Principal>,
    pub ca: PathBuf,
    pub schema_registry: SchemaRegistry,
    pub hdfs: Hdfs,
    pub lake_root: String,
    pub postgres_url: String,
    pub prometheus_url: String,
    pub alertmanager_url: String,
    pub spark: Spark,
    /// Where short-lived commands push their run outcome ([`crate::push`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushgateway_url: Option<String>,
    /// The CLIENT API's store (PostgreSQL database `store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_url: Option<String>,
}

impl Platform {
    pub fn load(path: &Path) -> Result<Self, PlatformError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlatformError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| PlatformError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    pub fn cluster(&self, name: &str) -> Result<&Cluster, PlatformError> {
        self.clusters
            .get(name)
            .ok_or_else(|| PlatformError::UnknownCluster(name.to_owned()))
    }

    pub fn principal(&self, name: &str) -> Result<&Principal, PlatformError> {
        self.principals
            .get(name)
            .ok_or_else(|| PlatformError::UnknownPrincipal(name.to_owned()))
    }

    /// librdkafka properties for `principal` on `cluster`, bootstrap list included.
    pub fn kafka_props(
        &self,
        cluster: &str,
        principal: &str,
    ) -> Result<BTreeMap<String, String>, PlatformError> {
        let mut props = self.principal(principal)?.kafka.clone();
        props.insert(
            "bootstrap.servers".into(),
            self.cluster(cluster)?.bootstrap.clone(),
        );
        Ok(props)
    }
}
