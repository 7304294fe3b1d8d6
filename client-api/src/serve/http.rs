//! The HTTP JSON API of `client-api serve`: the command line's three questions, one JSON shape
//! for both (`Body::to_json`).
//!
//! - `GET /v1/search?q=…[&category=…&brand=…&min_price=…&max_price=…&in_stock=true&limit=N]`
//! - `GET /v1/products/{product_id}` (404 when not listed)
//! - `GET /v1/users/{user}/recommendations[?limit=N]`
//! - `GET /health`
//!
//! Every question also takes `user` and `session` (recorded with the request). Errors are
//! `{"error": "…"}`: 400 names the parameter (the text starts with it), 503 means the store is
//! down. The search text `q` is at most 500 characters ([`answer::MAX_QUERY_CHARS`]) and is plain
//! text whatever it holds; no parameter may hold control characters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::Notify;

use super::metrics::Metrics;
use crate::answer::{self, Ask, Invalid, SearchParams};
use crate::record::{self, Kind};
use crate::store::Store;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub metrics: Metrics,
    /// Wakes the relay after a request is recorded, so its event leaves without waiting a tick.
    pub relay_wake: Arc<Notify>,
}

type App = State<Arc<AppState>>;
type Params = Query<HashMap<String, String>>;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/search", get(search))
        .route("/v1/products/{product_id}", get(product))
        .route("/v1/users/{user}/recommendations", get(recommend))
        .route("/health", get(health))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such endpoint: /v1/search, /v1/products/{id}, /v1/users/{user}/recommendations, /health",
            )
        })
        .with_state(state)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn text(params: &HashMap<String, String>, name: &str) -> String {
    params.get(name).cloned().unwrap_or_default()
}

fn limit(params: &HashMap<String, String>) -> Result<i64, Invalid> {
    match params.get("limit").map(|l| l.trim()) {
        None | Some("") => Ok(10),
        Some(l) => l
            .parse()
            .map_err(|_| Invalid(format!("limit {l}: not a whole number"))),
    }
}

fn flag(params: &HashMap<String, String>, name: &str) -> Result<bool, Invalid> {
    match params.get(name).map(|v| v.trim()) {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(v) => Err(Invalid(format!("{name} {v}: say true or false"))),
    }
}

async fn search(State(app): App, Query(p): Params) -> Response {
    let ask = limit(&p).and_then(|limit| {
        Ask::search(SearchParams {
            text: text(&p, "q"),
            category: text(&p, "category"),
            brand: text(&p, "brand"),
            min_price: text(&p, "min_price"),
            max_price: text(&p, "max_price"),
            in_stock: flag(&p, "in_stock")?,
            limit,
            user: text(&p, "user"),
        })
    });
    respond(&app, Kind::Search, ask, &p).await
}

/// A path segment, or an [`Invalid`] naming it (e.g. `%FF`, not UTF-8 once decoded).
fn segment(name: &str, path: Result<Path<String>, PathRejection>) -> Result<String, Invalid> {
    path.map(|Path(value)| value).map_err(|rejection| {
        Invalid(format!(
            "{name}: {}; send it as percent-encoded UTF-8",
            rejection.body_text()
        ))
    })
}

async fn product(
    State(app): App,
    id: Result<Path<String>, PathRejection>,
    Query(p): Params,
) -> Response {
    let ask = segment("product_id", id).and_then(|id| Ask::product(&id, &text(&p, "user")));
    respond(&app, Kind::Product, ask, &p).await
}

async fn recommend(
    State(app): App,
    user: Result<Path<String>, PathRejection>,
    Query(p): Params,
) -> Response {
    let ask = segment("user", user)
        .and_then(|user| limit(&p).and_then(|limit| Ask::recommend(&user, limit)));
    respond(&app, Kind::Recommend, ask, &p).await
}

/// Answer, record (row and outbox event in one transaction), wake the relay, count. A request
/// that cannot be recorded still gets its answer; the failure is counted and logged.
async fn respond(
    app: &AppState,
    kind: Kind,
    ask: Result<Ask, Invalid>,
    params: &HashMap<String, String>,
) -> Response {
    let started = Instant::now();
    let ask = ask.and_then(|ask| {
        answer::plain("session", params.get("session").map_or("", String::as_str))?;
        Ok(ask)
    });
    let ask = match ask {
        Ok(ask) => ask,
        Err(Invalid(why)) => {
            app.metrics
                .observe(kind, "invalid", started.elapsed().as_secs_f64());
            return error(StatusCode::BAD_REQUEST, &why);
        }
    };
    let session = match params.get("session").map(|s| s.trim()) {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let answer = match answer::answer(&app.store, ask, &session).await {
        Ok(answer) => answer,
        Err(e) => {
            let (status, outcome) = if e.is_unavailable() {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "error")
            };
            tracing::warn!(endpoint = kind.as_str(), error = %e, "request not answered");
            app.metrics
                .observe(kind, outcome, started.elapsed().as_secs_f64());
            return error(status, &e.to_string());
        }
    };
    match record::record(&app.store, &answer.request).await {
        Ok(_) => app.relay_wake.notify_one(),
        Err(e) => {
            app.metrics.record_failures.inc();
            tracing::warn!(endpoint = kind.as_str(), error = %e, "answered request not recorded");
        }
    }
    let status = if answer.body.found() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    app.metrics.observe(
        kind,
        answer.request.outcome,
        started.elapsed().as_secs_f64(),
    );
    (status, Json(answer.body.to_json())).into_response()
}

/// Up when the store answers; says how many request events wait for Kafka.
async fn health(State(app): App) -> Response {
    match record::pending(&app.store).await {
        Ok(pending) => Json(json!({ "status": "ok", "outbox_pending": pending })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}
