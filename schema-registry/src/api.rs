//! The Confluent Schema Registry REST API over [`Registry`]: routes, query flags, bodies and
//! Confluent-shaped answers (`application/vnd.schemaregistry.v1+json`, `{"error_code", "message"}`).
//!
//! Request bodies are read only when their `Content-Type` is one Confluent accepts (or absent)
//! and only up to [`MAX_BODY_BYTES`]; anything else gets a Confluent-shaped 415 or 413 before the
//! body is buffered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Path, Query, Request, State,
};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::{Caller, Policy};
use crate::metrics::{Metrics, RequestLabels, RouteLabels};
use crate::registry::{Registry, RegistryError, SchemaRequest, VersionSpec};
use crate::schema::AVRO;
use crate::store::{Store, Version};

pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The largest request body read: 1 MiB. A schema with thousands of fields is a few hundred KiB;
/// the platform's largest (`products-value`) is 5 KiB. A bigger body is answered 413 after at
/// most this many bytes are read.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Request body types Confluent's REST API consumes (`application/octet-stream` is its generic
/// request type; a body without a `Content-Type` is read as that). The body is JSON whichever.
pub const ACCEPTED_CONTENT_TYPES: [&str; 4] = [
    CONTENT_TYPE,
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
];

/// Everything a handler needs.
#[derive(Debug)]
pub struct AppState<S> {
    pub registry: Registry<S>,
    pub policy: Policy,
    pub metrics: Metrics,
}

type App<S> = State<Arc<AppState<S>>>;

/// The whole API. Every route needs an identified caller (the TLS layer puts the [`Caller`]
/// in the request's extensions); handlers that change state say who may ([`Principal`],
/// [`Admin`]).
pub fn router<S: Store>(state: Arc<AppState<S>>) -> Router {
    Router::new()
        .route("/", get(|| async { reply(json!({})) }))
        .route("/schemas/types", get(|| async { reply(json!([AVRO])) }))
        .route("/schemas/ids/{id}", get(schema_by_id::<S>))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id::<S>))
        .route("/schemas/ids/{id}/versions", get(schema_versions::<S>))
        .route("/schemas/ids/{id}/subjects", get(schema_subjects::<S>))
        .route("/subjects", get(subjects::<S>))
        .route(
            "/subjects/{subject}",
            post(lookup::<S>).delete(delete_subject::<S>),
        )
        .route(
            "/subjects/{subject}/versions",
            get(versions::<S>).post(register::<S>),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(version::<S>).delete(delete_version::<S>),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(version_schema::<S>),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(check_all::<S>),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_version::<S>),
        )
        .route(
            "/config",
            get(global_level::<S>)
                .put(set_global_level::<S>)
                .delete(clear_global_level::<S>),
        )
        .route(
            "/config/{subject}",
            get(subject_level::<S>)
                .put(set_subject_level::<S>)
                .delete(clear_subject_level::<S>),
        )
        .route(
            "/mode",
            get(|| async { reply(json!({"mode": "READWRITE"})) }),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), observe::<S>))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .fallback(|| async { ApiError::not_found_route() })
        .with_state(state)
}

/// Refuse unidentified callers on every route, mark super users, and count the request by
/// route template and status.
async fn observe<S: Store>(State(app): App<S>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let caller = request.extensions().get::<Caller>().cloned();
    let response = match caller {
        Some(Caller::Principal(name)) => {
            let admin = app.policy.is_admin(&name);
            request.extensions_mut().insert(Identified { name, admin });
            next.run(request).await
        }
        _ => {
            app.metrics.auth_failures.inc();
            ApiError(RegistryError::Unauthorized(
                "no client certificate identifies the caller; present the principal's \
                 certificate from the platform CA"
                    .into(),
            ))
            .into_response()
        }
    };
    if response.status() == StatusCode::FORBIDDEN {
        app.metrics.auth_failures.inc();
    }
    let status = response.status().as_u16();
    app.metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method,
            status,
        })
        .inc();
    app.metrics
        .request_seconds
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The caller, once identified by [`observe`].
#[derive(Debug, Clone)]
struct Identified {
    name: String,
    admin: bool,
}

fn identified(parts: &Parts) -> Result<&Identified, ApiError> {
    parts.extensions.get::<Identified>().ok_or_else(|| {
        ApiError(RegistryError::Unauthorized(
            "the caller is not identified".into(),
        ))
    })
}

/// Extractor: the identified principal (handlers that decide per subject).
#[derive(Debug)]
pub struct Principal(pub String);

impl<T: Send + Sync> FromRequestParts<T> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &T) -> Result<Self, Self::Rejection> {
        identified(parts).map(|who| Principal(who.name.clone()))
    }
}

/// Extractor for deletes and compatibility-level changes: super users only.
#[derive(Debug)]
pub struct Admin(pub String);

impl<T: Send + Sync> FromRequestParts<T> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &T) -> Result<Self, Self::Rejection> {
        let who = identified(parts)?;
        if who.admin {
            Ok(Admin(who.name.clone()))
        } else {
            Err(ApiError(RegistryError::Forbidden(format!(
                "`{}` may not delete subjects or change compatibility levels; only super users \
                 (kafka/acls.toml) may",
                who.name
            ))))
        }
    }
}

/// A [`RegistryError`] as a Confluent error response.
#[derive(Debug)]
pub struct ApiError(pub RegistryError);

impl ApiError {
    fn not_found_route() -> Self {
        ApiError(RegistryError::NoSuchEndpoint)
    }
}

impl<E: Into<RegistryError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.0.status_and_code();
        if let RegistryError::Store(error) = &self.0 {
            tracing::error!(%error, "store failure");
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        error_response(status, code, self.0.to_string())
    }
}

/// `{"error_code", "message"}` with the registry's content type.
fn error_response(status: StatusCode, code: u32, message: String) -> Response {
    let body = json!({"error_code": code, "message": message});
    let mut response = (status, body_of(&body)).into_response();
    set_content_type(&mut response);
    response
}

/// Extractor: the request body, if its content type is accepted and it fits the limit.
#[derive(Debug)]
struct Body(Bytes);

impl<T: Send + Sync> FromRequest<T> for Body {
    type Rejection = Response;

    async fn from_request(request: Request, state: &T) -> Result<Self, Self::Rejection> {
        if let Some(value) = request.headers().get(header::CONTENT_TYPE) {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let essence = text
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !ACCEPTED_CONTENT_TYPES.contains(&essence.as_str()) {
                return Err(error_response(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    415,
                    format!(
                        "Unsupported Content-Type `{text}`: send the JSON body as {}",
                        ACCEPTED_CONTENT_TYPES.join(", ")
                    ),
                ));
            }
        }
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    error_response(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        413,
                        format!(
                            "Request body too large: the limit is {MAX_BODY_BYTES} bytes (1 MiB); \
                             a schema that big is almost certainly not one: check what is sent"
                        ),
                    )
                } else {
                    error_response(
                        StatusCode::BAD_REQUEST,
                        400,
                        format!("Invalid request: cannot read the request body: {rejection}"),
                    )
                }
            })
    }
}

type Answer = Result<Response, ApiError>;

fn body_of(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn set_content_type(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
}

fn reply(value: impl Serialize) -> Response {
    let mut response = body_of(&value).into_response();
    set_content_type(&mut response);
    response
}

/// Query flags, lenient like Confluent's Jersey (`true`, `True`).
#[derive(Debug, Default)]
struct Flags(HashMap<String, String>);

impl Flags {
    fn on(&self, name: &str) -> bool {
        self.0
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn number(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.0
            .get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError(RegistryError::BadRequest(format!(
                        "query parameter {name}={v} is not a number"
                    )))
                })
            })
            .transpose()
    }

    /// Confluent's `offset` / `limit` (-1 = no limit) paging.
    fn page<T>(&self, items: Vec<T>) -> Result<Vec<T>, ApiError> {
        let offset = self.number("offset")?.unwrap_or(0).max(0) as usize;
        let limit = self.number("limit")?.unwrap_or(-1);
        let rest = items.into_iter().skip(offset);
        Ok(if limit < 0 {
            rest.collect()
        } else {
            rest.take(limit as usize).collect()
        })
    }
}

/// The body as `T`; `shape` says what the body should look like, for the error message.
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes, shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let message = format!("request body is not the expected JSON ({e}); send {shape}");
        if e.is_data() {
            ApiError(RegistryError::InvalidSchema(message))
        } else {
            ApiError(RegistryError::BadRequest(message))
        }
    })
}

const SCHEMA_BODY: &str =
    r#"{"schema": "<the Avro schema as a JSON string>"} (optionally with "schemaType": "AVRO")"#;

fn version_json(v: &Version) -> Value {
    json!({"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema})
}

fn id_param(text: &str) -> Result<i32, ApiError> {
    text.parse::<i32>()
        .map_err(|_| ApiError(RegistryError::SchemaNotFound(format!("id {text:?}"))))
}

async fn schema_by_id<S: Store>(State(app): App<S>, Path(id): Path<String>) -> Answer {
    let found = app.registry.schema_by_id(id_param(&id)?).await?;
    Ok(reply(json!({"schema": found.schema})))
}

async fn raw_schema_by_id<S: Store>(State(app): App<S>, Path(id): Path<String>) -> Answer {
    let found = app.registry.schema_by_id(id_param(&id)?).await?;
    Ok(raw(found.schema))
}

fn raw(schema: String) -> Response {
    let mut response = schema.into_response();
    set_content_type(&mut response);
    response
}

async fn schema_versions<S: Store>(
    State(app): App<S>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let flags = Flags(q);
    let listed: Vec<Value> = usages_of(&app, &id, &flags)
        .await?
        .iter()
        .map(|(s, v)| json!({"subject": s, "version": v}))
        .collect();
    Ok(reply(flags.page(listed)?))
}

async fn schema_subjects<S: Store>(
    State(app): App<S>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let flags = Flags(q);
    let mut subjects: Vec<String> = usages_of(&app, &id, &flags)
        .await?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    subjects.dedup();
    Ok(reply(flags.page(subjects)?))
}

/// The (subject, version) pairs using schema `id`, with the `deleted` and `subject` query flags.
async fn usages_of<S: Store>(
    app: &AppState<S>,
    id: &str,
    flags: &Flags,
) -> Result<Vec<(String, i32)>, ApiError> {
    let usages = app
        .registry
        .usages(id_param(id)?, flags.on("deleted"))
        .await?;
    Ok(match flags.0.get("subject") {
        Some(only) => usages.into_iter().filter(|(s, _)| s == only).collect(),
        None => usages,
    })
}

async fn subjects<S: Store>(
    State(app): App<S>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let flags = Flags(q);
    let deleted_only = flags.on("deleted_only");
    let mut subjects = app
        .registry
        .subjects(flags.on("deleted") || deleted_only)
        .await?;
    if deleted_only {
        let live = app.registry.subjects(false).await?;
        subjects.retain(|s| !live.contains(s));
    }
    if let Some(prefix) = flags.0.get("subjectPrefix") {
        subjects.retain(|s| s.starts_with(prefix.as_str()));
    }
    Ok(reply(flags.page(subjects)?))
}

async fn lookup<S: Store>(
    State(app): App<S>,
    Path(subject): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Body(body): Body,
) -> Answer {
    let request: SchemaRequest = parse_body(&body, SCHEMA_BODY)?;
    let found = app
        .registry
        .lookup(&subject, &request, Flags(q).on("deleted"))
        .await?;
    Ok(reply(version_json(&found)))
}

async fn register<S: Store>(
    State(app): App<S>,
    Principal(who): Principal,
    Path(subject): Path<String>,
    Body(body): Body,
) -> Answer {
    if !app.policy.may_register(&who, &subject) {
        return Err(ApiError(RegistryError::Forbidden(format!(
            "`{who}` may not register under `{subject}`: registering needs Write on the \
             subject's topic (`<topic>-value`/`-key`) in kafka/acls.toml"
        ))));
    }
    let request: SchemaRequest = parse_body(&body, SCHEMA_BODY)?;
    let registered = app.registry.register(&subject, &request).await?;
    tracing::debug!(
        principal = who,
        subject,
        id = registered.id,
        "register call"
    );
    Ok(reply(
        json!({"id": registered.id, "version": registered.version}),
    ))
}

async fn delete_subject<S: Store>(
    State(app): App<S>,
    Admin(who): Admin,
    Path(subject): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let permanent = Flags(q).on("permanent");
    let deleted = app.registry.delete_subject(&subject, permanent).await?;
    tracing::info!(principal = who, subject, permanent, "delete subject call");
    Ok(reply(deleted))
}

async fn versions<S: Store>(
    State(app): App<S>,
    Path(subject): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let flags = Flags(q);
    let deleted_only = flags.on("deleted_only");
    let versions = app
        .registry
        .versions(&subject, flags.on("deleted") || deleted_only)
        .await?;
    let numbers: Vec<i32> = versions
        .iter()
        .filter(|v| !deleted_only || v.deleted)
        .map(|v| v.version)
        .collect();
    Ok(reply(flags.page(numbers)?))
}

async fn version<S: Store>(
    State(app): App<S>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let found = app
        .registry
        .version(&subject, spec, Flags(q).on("deleted"))
        .await?;
    Ok(reply(version_json(&found)))
}

async fn version_schema<S: Store>(
    State(app): App<S>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let found = app
        .registry
        .version(&subject, spec, Flags(q).on("deleted"))
        .await?;
    Ok(raw(found.schema))
}

async fn delete_version<S: Store>(
    State(app): App<S>,
    Admin(who): Admin,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let permanent = Flags(q).on("permanent");
    let deleted = app
        .registry
        .delete_version(&subject, spec, permanent)
        .await?;
    tracing::info!(
        principal = who,
        subject,
        version = deleted,
        permanent,
        "delete version call"
    );
    Ok(reply(deleted))
}

async fn check_all<S: Store>(
    State(app): App<S>,
    Path(subject): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Body(body): Body,
) -> Answer {
    compatibility(&app, &subject, None, &Flags(q), &body).await
}

async fn check_version<S: Store>(
    State(app): App<S>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Body(body): Body,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    compatibility(&app, &subject, Some(spec), &Flags(q), &body).await
}

async fn compatibility<S: Store>(
    app: &AppState<S>,
    subject: &str,
    spec: Option<VersionSpec>,
    flags: &Flags,
    body: &Bytes,
) -> Answer {
    let request: SchemaRequest = parse_body(body, SCHEMA_BODY)?;
    let messages = app.registry.check(subject, spec, &request).await?;
    let mut answer = json!({"is_compatible": messages.is_empty()});
    if flags.on("verbose") {
        answer["messages"] = json!(messages);
    }
    Ok(reply(answer))
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LevelRequest {
    compatibility: Option<String>,
    compatibility_level: Option<String>,
}

async fn set_level<S: Store>(app: &AppState<S>, subject: Option<&str>, body: &Bytes) -> Answer {
    let request: LevelRequest = parse_body(body, r#"{"compatibility": "BACKWARD"}"#)?;
    let text = request
        .compatibility
        .or(request.compatibility_level)
        .ok_or_else(|| {
            ApiError(RegistryError::InvalidLevel(
                "(missing: send {\"compatibility\": \"BACKWARD\"})".into(),
            ))
        })?;
    let level = app.registry.set_level(subject, &text).await?;
    Ok(reply(json!({"compatibility": level})))
}

async fn global_level<S: Store>(State(app): App<S>) -> Answer {
    let level = app.registry.level(None, true).await?;
    Ok(reply(json!({"compatibilityLevel": level})))
}

async fn set_global_level<S: Store>(
    State(app): App<S>,
    Admin(_): Admin,
    Body(body): Body,
) -> Answer {
    set_level(&app, None, &body).await
}

async fn clear_global_level<S: Store>(State(app): App<S>, Admin(_): Admin) -> Answer {
    let previous = app.registry.clear_level(None).await?;
    Ok(reply(json!({"compatibilityLevel": previous})))
}

async fn subject_level<S: Store>(
    State(app): App<S>,
    Path(subject): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let level = app
        .registry
        .level(Some(&subject), Flags(q).on("defaultToGlobal"))
        .await?;
    Ok(reply(json!({"compatibilityLevel": level})))
}

async fn set_subject_level<S: Store>(
    State(app): App<S>,
    Admin(_): Admin,
    Path(subject): Path<String>,
    Body(body): Body,
) -> Answer {
    set_level(&app, Some(&subject), &body).await
}

async fn clear_subject_level<S: Store>(
    State(app): App<S>,
    Admin(_): Admin,
    Path(subject): Path<String>,
) -> Answer {
    let previous = app.registry.clear_level(Some(&subject)).await?;
    Ok(reply(json!({"compatibilityLevel": previous})))
}
