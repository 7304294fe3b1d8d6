//! Command line (clap) and its validation into typed configs, before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sqlx::postgres::PgConnectOptions;

use vygoda_common::https::Identity;

use crate::auth::{AuthError, Policy};

/// A Confluent-compatible Schema Registry (AVRO) over PostgreSQL, served over HTTPS.
#[derive(Debug, Parser)]
#[command(
    name = "vygoda-schema-registry",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand the registry serves (same flags as `serve`).
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API over HTTPS (the default).
    Serve(ServeArgs),
    /// Register every `<subject>.avsc` of a directory under subject = file stem.
    Register(RegisterArgs),
    /// Check that each `.avsc` file's git history (and working tree) is BACKWARD compatible.
    CheckHistory(HistoryArgs),
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Directory of `<subject>.avsc` files inside a git work tree.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_SCHEMAS_DIR",
        default_value = "kafka/schemas"
    )]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address of the HTTPS API.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_LISTEN",
        default_value = "127.0.0.1:18081"
    )]
    pub listen: String,
    /// PEM certificate chain of the server (leaf first).
    #[arg(
        long,
        env = "VYGODA_REGISTRY_TLS_CERT",
        default_value = ".vygoda/tls/registry.pem"
    )]
    pub tls_cert: PathBuf,
    /// PEM private key of the server certificate.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_TLS_KEY",
        default_value = ".vygoda/tls/registry.key"
    )]
    pub tls_key: PathBuf,
    /// PEM CA whose certificates identify principals; clients must present one (mutual TLS)
    /// and its CN is the principal, as on the brokers.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_CLIENT_CA",
        default_value = ".vygoda/tls/ca.pem"
    )]
    pub client_ca: PathBuf,
    /// Permission table shared with the brokers: who may register under which topic's
    /// subjects, and who administers (super users).
    #[arg(long, env = "VYGODA_REGISTRY_ACLS", default_value = "kafka/acls.toml")]
    pub acls: PathBuf,
    /// Local platform: also let every principal register under the table's `[local]` test
    /// prefixes (never in production).
    #[arg(long, env = "VYGODA_REGISTRY_LOCAL", default_value_t = false)]
    pub local: bool,
    /// PostgreSQL URL (postgres://user:pw@host:port/db); `memory:` keeps everything in memory
    /// and forgets it on exit (experiments only).
    #[arg(
        long,
        env = "VYGODA_REGISTRY_DATABASE_URL",
        default_value = "",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Size of the PostgreSQL connection pool.
    #[arg(long, env = "VYGODA_REGISTRY_DB_CONNECTIONS", default_value_t = 8)]
    pub db_connections: u32,
    /// Address of the plain-HTTP Prometheus /metrics endpoint.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_METRICS_ADDR",
        default_value = "127.0.0.1:9105"
    )]
    pub metrics_addr: String,
    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_SHUTDOWN_GRACE_SECS",
        default_value_t = 10
    )]
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    /// Directory of `<subject>.avsc` files.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_SCHEMAS_DIR",
        default_value = "kafka/schemas"
    )]
    pub dir: PathBuf,
    /// Base URL of the registry.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_URL",
        default_value = "https://127.0.0.1:18081"
    )]
    pub url: String,
    /// PEM CA certificate to trust for the registry's TLS certificate (empty = system roots).
    #[arg(long, env = "VYGODA_REGISTRY_CA", default_value = ".vygoda/tls/ca.pem")]
    pub ca: PathBuf,
    /// PEM client certificate to present: its CN is the principal registering (admin may
    /// register every subject).
    #[arg(
        long,
        env = "VYGODA_REGISTRY_CERT",
        default_value = ".vygoda/tls/admin.pem"
    )]
    pub cert: PathBuf,
    /// PEM private key of --cert.
    #[arg(
        long,
        env = "VYGODA_REGISTRY_KEY",
        default_value = ".vygoda/tls/admin.key"
    )]
    pub key: PathBuf,
    /// Only test compatibility; register nothing.
    #[arg(long, env = "VYGODA_REGISTRY_CHECK_ONLY", default_value_t = false)]
    pub check_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--{flag} {value:?} is not a socket address like 127.0.0.1:18081")]
    Address { flag: &'static str, value: String },
    #[error("--database-url is empty; set it (or VYGODA_REGISTRY_DATABASE_URL) to a postgres:// URL, or `memory:` for a throw-away instance")]
    NoDatabase,
    #[error("--database-url is not a PostgreSQL URL: {0}")]
    DatabaseUrl(String),
    #[error("--db-connections must be at least 1")]
    Pool,
    #[error("{0} does not exist; check the path")]
    Missing(PathBuf),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("--url {0:?} must start with https:// (or http:// for a local test instance)")]
    Url(String),
}

/// Where the registry keeps its data.
#[derive(Debug, Clone)]
pub enum Database {
    Postgres(Box<PgConnectOptions>),
    Memory,
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub client_ca: PathBuf,
    pub policy: Policy,
    pub database: Database,
    pub db_connections: u32,
    pub metrics_addr: SocketAddr,
    pub shutdown_grace: Duration,
}

fn address(flag: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| ConfigError::Address {
        flag,
        value: value.to_owned(),
    })
}

fn existing(path: &Path) -> Result<PathBuf, ConfigError> {
    if path.exists() {
        Ok(path.to_owned())
    } else {
        Err(ConfigError::Missing(path.to_owned()))
    }
}

impl ServeArgs {
    pub fn validate(&self) -> Result<ServeConfig, ConfigError> {
        let database = match self.database_url.trim() {
            "" => return Err(ConfigError::NoDatabase),
            "memory:" | "memory://" => Database::Memory,
            url => Database::Postgres(Box::new(
                PgConnectOptions::from_str(url)
                    // sqlx's message may quote the URL; never echo the password.
                    .map_err(|e| ConfigError::DatabaseUrl(redact(&e.to_string(), url)))?
                    .application_name("vygoda-schema-registry"),
            )),
        };
        if self.db_connections == 0 {
            return Err(ConfigError::Pool);
        }
        Ok(ServeConfig {
            listen: address("listen", &self.listen)?,
            tls_cert: existing(&self.tls_cert)?,
            tls_key: existing(&self.tls_key)?,
            client_ca: existing(&self.client_ca)?,
            policy: Policy::load(&self.acls, self.local)?,
            database,
            db_connections: self.db_connections,
            metrics_addr: address("metrics-addr", &self.metrics_addr)?,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        })
    }
}

fn redact(message: &str, url: &str) -> String {
    message.replace(url, "<database url>")
}

#[derive(Debug, Clone)]
pub struct RegisterConfig {
    pub dir: PathBuf,
    pub url: String,
    pub ca: Option<PathBuf>,
    pub identity: Identity,
    pub check_only: bool,
}

impl RegisterArgs {
    pub fn validate(&self) -> Result<RegisterConfig, ConfigError> {
        let url = self.url.trim_end_matches('/').to_owned();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::Url(self.url.clone()));
        }
        let ca = if self.ca.as_os_str().is_empty() {
            None
        } else {
            Some(existing(&self.ca)?)
        };
        Ok(RegisterConfig {
            dir: existing(&self.dir)?,
            url,
            ca,
            identity: Identity {
                cert: existing(&self.cert)?,
                key: existing(&self.key)?,
            },
            check_only: self.check_only,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leads_command_lines_parse() {
        let cli = Cli::try_parse_from([
            "vygoda-schema-registry",
            "serve",
            "--listen",
            "127.0.0.1:18081",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
            "--client-ca",
            "ca",
            "--acls",
            "kafka/acls.toml",
            "--database-url",
            "postgres://a:b@h/db",
            "--metrics-addr",
            "127.0.0.1:9105",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(ref a)) if a.tls_key == Path::new("k")));
        let cli = Cli::try_parse_from([
            "vygoda-schema-registry",
            "register",
            "--dir",
            "kafka/schemas",
            "--url",
            "https://127.0.0.1:18081",
            "--ca",
            "F",
            "--cert",
            "admin.pem",
            "--key",
            "admin.key",
        ])
        .unwrap();
        assert!(
            matches!(cli.command, Some(Command::Register(ref a)) if a.key == Path::new("admin.key"))
        );
        // No subcommand: serve.
        let cli =
            Cli::try_parse_from(["vygoda-schema-registry", "--listen", "127.0.0.1:1"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen, "127.0.0.1:1");
    }

    #[test]
    fn validation_names_the_bad_flag() {
        let cli = Cli::try_parse_from(["x", "serve", "--database-url", ""]).unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!()
        };
        assert!(matches!(args.validate(), Err(ConfigError::NoDatabase)));
        let args = ServeArgs {
            database_url: "memory:".into(),
            listen: "nope".into(),
            ..args
        };
        assert!(matches!(
            args.validate(),
            Err(ConfigError::Address { flag: "listen", .. })
        ));
        let args = ServeArgs {
            listen: "127.0.0.1:0".into(),
            tls_cert: "/no/such".into(),
            ..args
        };
        assert!(matches!(args.validate(), Err(ConfigError::Missing(_))));
    }
}
