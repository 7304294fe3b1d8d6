//! A thin client of the Confluent Schema Registry REST API: register a schema under a subject,
//! fetch a writer schema by id (cached forever: ids are immutable).
//!
//! Why not `schema_registry_converter`: version 6 is built on apache-avro 0.22 and reqwest 0.13
//! while the workspace pins 0.21 and 0.12. Its `Value`/`Schema` types would not be ours (we
//! validate and decode with 0.21), and giving it the platform CA means a second HTTP/TLS stack
//! (its `build_with` takes a reqwest 0.13 builder). Two endpoints and the 5-byte wire header are
//! less code than that glue; see `wire` for the framing.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apache_avro::Schema;
use serde::Deserialize;
use vygoda_common::https::Identity;
use vygoda_common::platform::Platform;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry at {url} unreachable: {source}; is it running (`make status`)?")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("schema registry refused `{principal}` ({status}): {message}; check --registry-cert/--registry-key, and the principal's grants in kafka/acls.toml")]
    Unauthorized {
        principal: String,
        status: u16,
        message: String,
    },
    #[error("schema id {0} is not in the registry; the record was written against another registry or the id is corrupt")]
    UnknownId(u32),
    #[error("schema registry rejected the schema for subject `{subject}` ({status}): {message}; the change is not compatible with the registered versions")]
    Rejected {
        subject: String,
        status: u16,
        message: String,
    },
    #[error("schema registry error {status} on {what}: {message}; retry later")]
    Server {
        what: String,
        status: u16,
        message: String,
    },
    #[error("schema {id} from the registry is not valid Avro: {source}")]
    BadSchema {
        id: u32,
        source: Box<apache_avro::Error>,
    },
    #[error(transparent)]
    Tls(#[from] vygoda_common::https::HttpsError),
    #[error("invalid registry settings: {0}")]
    Config(String),
}

impl RegistryError {
    /// Worth retrying (the registry is down or overloaded), as opposed to a definite answer.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RegistryError::Unreachable { .. } | RegistryError::Server { .. }
        )
    }
}

/// Registry connection flags, flattened into every binary that talks to the registry. The
/// default (every flag empty) takes everything from the platform file.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Schema Registry base URL; empty = schema_registry.url of the platform file.
    #[arg(long, env = "VYGODA_REGISTRY_URL", default_value = "")]
    pub registry_url: String,
    /// PEM CA bundle to trust for the registry's TLS certificate; empty = the platform CA.
    #[arg(long, env = "VYGODA_REGISTRY_CA", default_value = "")]
    pub registry_ca: String,
    /// PEM client certificate presented to the registry (it identifies the principal);
    /// empty = the service principal's certificate from the platform file.
    #[arg(long, env = "VYGODA_REGISTRY_CERT", default_value = "")]
    pub registry_cert: String,
    /// PEM private key of --registry-cert; empty = the principal's key from the platform file.
    #[arg(long, env = "VYGODA_REGISTRY_KEY", default_value = "")]
    pub registry_key: String,
    /// Timeout of one registry request, in seconds.
    #[arg(long, env = "VYGODA_REGISTRY_TIMEOUT_SECS", default_value_t = 10)]
    pub registry_timeout_secs: u64,
}

impl Default for RegistryArgs {
    fn default() -> Self {
        RegistryArgs {
            registry_url: String::new(),
            registry_ca: String::new(),
            registry_cert: String::new(),
            registry_key: String::new(),
            registry_timeout_secs: 10,
        }
    }
}

/// Resolved registry settings.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub url: String,
    pub ca: Option<PathBuf>,
    /// Who the registry sees: the principal's name (for messages) and its certificate.
    pub principal: String,
    pub identity: Option<Identity>,
    pub timeout: Duration,
}

impl RegistryArgs {
    /// What a command talking to Kafka and the registry as `principal` needs: its librdkafka
    /// properties on `cluster` and the registry settings. The error text names what to fix; each
    /// command wraps it in its own usage error.
    pub fn connect_as(
        &self,
        platform: &vygoda_common::kafka::PlatformArgs,
        cluster: &str,
        principal: &str,
    ) -> Result<(BTreeMap<String, String>, RegistryConfig), String> {
        let file = platform.platform().map_err(|e| e.to_string())?;
        let kafka = platform
            .kafka_props_in(file.as_ref(), cluster, principal)
            .map_err(|e| e.to_string())?;
        let registry = self
            .resolve(file.as_ref(), principal)
            .map_err(|e| e.to_string())?;
        Ok((kafka, registry))
    }

    /// Fill empty flags from the platform file, authenticating as `principal`.
    pub fn resolve(
        &self,
        platform: Option<&Platform>,
        principal: &str,
    ) -> Result<RegistryConfig, RegistryError> {
        let pick = |flag: &str, from_platform: Option<String>| {
            if flag.is_empty() {
                from_platform
            } else {
                Some(flag.to_owned())
            }
        };
        let url = pick(
            &self.registry_url,
            platform.map(|p| p.schema_registry.url.clone()),
        )
        .ok_or_else(|| {
            RegistryError::Config("no --registry-url and no platform file; pass one of them".into())
        })?;
        let ca = pick(
            &self.registry_ca,
            platform.map(|p| p.schema_registry.ca.display().to_string()),
        )
        .map(PathBuf::from);
        let principal_entry = platform.and_then(|p| p.principals.get(principal));
        let cert = pick(
            &self.registry_cert,
            principal_entry.map(|p| p.cert.display().to_string()),
        );
        let key = pick(
            &self.registry_key,
            principal_entry.map(|p| p.key.display().to_string()),
        );
        let identity = match (cert, key) {
            (Some(cert), Some(key)) => Some(Identity {
                cert: cert.into(),
                key: key.into(),
            }),
            (None, None) => None,
            _ => {
                return Err(RegistryError::Config(
                    "--registry-cert and --registry-key go together; pass both".into(),
                ))
            }
        };
        Ok(RegistryConfig {
            url: url.trim_end_matches('/').to_owned(),
            ca,
            principal: principal.to_owned(),
            identity,
            timeout: Duration::from_secs(self.registry_timeout_secs.max(1)),
        })
    }
}

impl ErrorBody {
    /// The registry's message with its Confluent error code (what runbooks and tests key on),
    /// or the raw body when it was not the usual JSON.
    fn describe(&self, raw: &str) -> String {
        if self.message.is_empty() {
            raw.to_owned()
        } else {
            format!("{} (error_code {})", self.message, self.error_code)
        }
    }
}

#[derive(Deserialize)]
struct CompatibilityResponse {
    is_compatible: bool,
    #[serde(default)]
    messages: Vec<String>,
}

#[derive(Deserialize)]
struct IdResponse {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaResponse {
    schema: String,
}

#[derive(Deserialize)]
struct VersionResponse {
    id: u32,
    schema: String,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error_code: i64,
    #[serde(default)]
    message: String,
}

/// Registry client with a cache of writer schemas by id.
#[derive(Debug)]
pub struct Registry {
    http: reqwest::Client,
    config: RegistryConfig,
    by_id: Mutex<HashMap<u32, Arc<Schema>>>,
}

impl Registry {
    pub fn new(config: RegistryConfig) -> Result<Registry, RegistryError> {
        let http = vygoda_common::https::client(
            config.ca.as_deref(),
            config.identity.as_ref(),
            config.timeout,
        )?;
        Ok(Registry {
            http,
            config,
            by_id: Mutex::new(HashMap::new()),
        })
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &[&str],
    ) -> Result<reqwest::RequestBuilder, RegistryError> {
        let mut url = url::Url::parse(&self.config.url)
            .map_err(|e| RegistryError::Config(format!("registry URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| RegistryError::Config("registry URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(path);
        Ok(self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, CONTENT_TYPE))
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(u16, String), RegistryError> {
        let unreachable = |source| RegistryError::Unreachable {
            url: self.config.url.clone(),
            source,
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(unreachable)?;
        if status == 401 || status == 403 {
            let err: ErrorBody = serde_json::from_str(&body).unwrap_or_default();
            return Err(RegistryError::Unauthorized {
                principal: self.config.principal.clone(),
                status,
                message: err.describe(&body),
            });
        }
        if status >= 500 {
            let err: ErrorBody = serde_json::from_str(&body).unwrap_or_default();
            return Err(RegistryError::Server {
                what: what.to_owned(),
                status,
                message: err.message,
            });
        }
        Ok((status, body))
    }

    /// Register `schema` under `subject` (idempotent: an identical schema gets its existing id).
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let body = serde_json::json!({ "schema": schema, "schemaType": "AVRO" });
        let req = self
            .request(reqwest::Method::POST, &["subjects", subject, "versions"])?
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body.to_string());
        let (status, text) = self.send(req, &format!("register {subject}")).await?;
        if (200..300).contains(&status) {
            let id: IdResponse =
                serde_json::from_str(&text).map_err(|e| RegistryError::Server {
                    what: format!("register {subject}"),
                    status,
                    message: format!("unreadable answer: {e}"),
                })?;
            return Ok(id.id);
        }
        let err: ErrorBody = serde_json::from_str(&text).unwrap_or_default();
        Err(RegistryError::Rejected {
            subject: subject.to_owned(),
            status,
            message: err.describe(&text),
        })
    }

    /// Would `schema` be accepted as the next version of `subject`? Asks the registry's
    /// compatibility endpoint against the latest version, registering nothing. `Ok(messages)`
    /// lists why not (empty when compatible); a subject the registry refuses to check (unknown
    /// subject, bad schema) is `Rejected`.
    pub async fn incompatibilities(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let what = format!("compatibility of {subject}");
        let body = serde_json::json!({ "schema": schema, "schemaType": "AVRO" });
        let req = self
            .request(
                reqwest::Method::POST,
                &["compatibility", "subjects", subject, "versions", "latest"],
            )?
            .query(&[("verbose", "true")])
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body.to_string());
        let (status, text) = self.send(req, &what).await?;
        if !(200..300).contains(&status) {
            let err: ErrorBody = serde_json::from_str(&text).unwrap_or_default();
            return Err(RegistryError::Rejected {
                subject: subject.to_owned(),
                status,
                message: err.describe(&text),
            });
        }
        let answer: CompatibilityResponse =
            serde_json::from_str(&text).map_err(|e| RegistryError::Server {
                what,
                status,
                message: format!("unreadable answer: {e}"),
            })?;
        Ok(match answer.is_compatible {
            true => Vec::new(),
            false if answer.messages.is_empty() => vec!["incompatible (no reason given)".into()],
            false => answer.messages,
        })
    }

    /// Register with retries while the registry is unreachable (start-up ordering).
    pub async fn register_with_retry(
        &self,
        subject: &str,
        schema: &str,
        attempts: u32,
    ) -> Result<u32, RegistryError> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.register(subject, schema).await {
                Err(e) if e.is_transient() && attempt < attempts => {
                    tracing::warn!(subject, attempt, error = %e, "registering schema failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The writer schema with `id`, from the cache or the registry.
    pub async fn schema(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        if let Some(s) = self.cached(id) {
            return Ok(s);
        }
        let req = self.request(reqwest::Method::GET, &["schemas", "ids", &id.to_string()])?;
        let (status, text) = self.send(req, &format!("schema {id}")).await?;
        if status == 404 {
            return Err(RegistryError::UnknownId(id));
        }
        if !(200..300).contains(&status) {
            return Err(RegistryError::Server {
                what: format!("schema {id}"),
                status,
                message: text,
            });
        }
        let body: SchemaResponse =
            serde_json::from_str(&text).map_err(|e| RegistryError::Server {
                what: format!("schema {id}"),
                status,
                message: format!("unreadable answer: {e}"),
            })?;
        let schema =
            Schema::parse_str(&body.schema).map_err(|source| RegistryError::BadSchema {
                id,
                source: Box::new(source),
            })?;
        let schema = Arc::new(schema);
        if let Ok(mut cache) = self.by_id.lock() {
            cache.insert(id, schema.clone());
        }
        Ok(schema)
    }

    /// Seed the cache with a schema we registered ourselves (saves a round trip).
    pub fn remember(&self, id: u32, schema: Arc<Schema>) {
        if let Ok(mut cache) = self.by_id.lock() {
            cache.insert(id, schema);
        }
    }

    pub fn cached(&self, id: u32) -> Option<Arc<Schema>> {
        self.by_id.lock().ok().and_then(|c| c.get(&id).cloned())
    }

    /// The latest version of `subject`: its schema id and schema (cached by id), or `None` when
    /// the subject does not exist.
    pub async fn latest(&self, subject: &str) -> Result<Option<(u32, Arc<Schema>)>, RegistryError> {
        let what = format!("latest version of {subject}");
        let req = self.request(
            reqwest::Method::GET,
            &["subjects", subject, "versions", "latest"],
        )?;
        let (status, text) = self.send(req, &what).await?;
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(RegistryError::Server {
                what,
                status,
                message: text,
            });
        }
        let body: VersionResponse =
            serde_json::from_str(&text).map_err(|e| RegistryError::Server {
                what: what.clone(),
                status,
                message: format!("unreadable answer: {e}"),
            })?;
        if let Some(schema) = self.cached(body.id) {
            return Ok(Some((body.id, schema)));
        }
        let schema =
            Schema::parse_str(&body.schema).map_err(|source| RegistryError::BadSchema {
                id: body.id,
                source: Box::new(source),
            })?;
        let schema = Arc::new(schema);
        self.remember(body.id, schema.clone());
        Ok(Some((body.id, schema)))
    }
}
