//! Bad input at the REST edges (in-memory store, over HTTP): every bad request gets a 4xx
//! Confluent-shaped answer `{error_code, message}` whose message says what was wrong, and
//! afterwards a good registration still works.

// Test helpers outside #[test] fns; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use vygoda_common::acl::AclTable;
use vygoda_schema_registry::api::{router, AppState, MAX_BODY_BYTES};
use vygoda_schema_registry::auth::{Caller, Policy};
use vygoda_schema_registry::metrics::Metrics;
use vygoda_schema_registry::registry::Registry;
use vygoda_schema_registry::store::MemoryStore;

const PRINCIPAL_HEADER: &str = "x-test-principal";
const V1_JSON: &str = "application/vnd.schemaregistry.v1+json";

const TABLE: &str = r#"
[principals.admin]
about = "administers"
super_user = true
"#;

const GOOD: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#;

struct Api {
    base: String,
    client: Client,
}

async fn start() -> Api {
    let metrics = Metrics::unregistered();
    let state = Arc::new(AppState {
        registry: Registry::new(MemoryStore::new(), metrics.clone()),
        policy: Policy::new(AclTable::parse(TABLE).unwrap(), false),
        metrics,
    });
    // The TLS acceptor names the caller in production; over plain HTTP a header stands in.
    let app = router(state).layer(axum::middleware::from_fn(
        |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
            let who = request
                .headers()
                .get(PRINCIPAL_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(who) = who {
                request.extensions_mut().insert(Caller::Principal(who));
            }
            next.run(request).await
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Api {
        base: format!("http://{addr}"),
        client: Client::new(),
    }
}

impl Api {
    /// POST raw bytes as the admin; the answer's status and JSON body (checked to be
    /// Confluent-shaped JSON whatever the status).
    async fn post(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(PRINCIPAL_HEADER, "admin")
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let ct = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(ct, V1_JSON, "{path}: answer's content type");
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: answer is not JSON ({e}): {text}"));
        (status, value)
    }

    async fn register(&self, subject: &str, body: Value) -> (StatusCode, Value) {
        self.post(
            &format!("/subjects/{subject}/versions"),
            Some(V1_JSON),
            body.to_string().into_bytes(),
        )
        .await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(PRINCIPAL_HEADER, "admin")
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

/// A 4xx with `{error_code, message}`, the message containing every one of `words`.
#[track_caller]
fn refused(label: &str, (status, body): &(StatusCode, Value), code: i64, words: &[&str]) {
    assert!(status.is_client_error(), "{label}: status {status}, {body}");
    assert_eq!(
        body["error_code"].as_i64(),
        Some(code),
        "{label}: error_code in {body}"
    );
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{label}: no message in {body}"));
    for word in words {
        assert!(
            message.to_lowercase().contains(&word.to_lowercase()),
            "{label}: message should mention {word:?}: {message}"
        );
    }
}

/// After the bad requests: the registry still registers and serves a good schema, and none of
/// the bad ones left a subject behind.
async fn still_works(api: &Api, subject: &str) {
    let (status, body) = api.register(subject, json!({"schema": GOOD})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (status, body) = api.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, subjects) = api.get("/subjects").await;
    assert_eq!(
        subjects,
        json!([subject]),
        "only the good registration left a subject"
    );
}

#[tokio::test]
async fn bodies_that_are_not_the_expected_json() {
    let api = start().await;
    let path = "/subjects/orders-value/versions";
    let post = |body: &str| api.post(path, Some(V1_JSON), body.as_bytes().to_vec());

    refused(
        "invalid JSON body",
        &post(r#"{"schema": "#).await,
        400,
        &["JSON"],
    );
    refused("empty body", &post("").await, 400, &["JSON"]);
    refused(
        "body is an array",
        &post("[1, 2]").await,
        42201,
        &["expected"],
    );
    refused(
        "body without schema",
        &post(r#"{"schemaType": "AVRO"}"#).await,
        42201,
        &["schema"],
    );
    refused(
        "schema is a number",
        &post(r#"{"schema": 42}"#).await,
        42201,
        &["schema"],
    );
    refused(
        "schema string that is not JSON",
        &post(r#"{"schema": "{not json"}"#).await,
        42201,
        &["not valid JSON"],
    );
    refused(
        "unsupported schemaType",
        &api.register(
            "orders-value",
            json!({"schema": GOOD, "schemaType": "PROTOBUF"}),
        )
        .await,
        42201,
        &["PROTOBUF", "AVRO"],
    );
    still_works(&api, "orders-value").await;
}

#[tokio::test]
async fn json_that_is_not_a_valid_avro_schema() {
    let api = start().await;
    let cases: &[(&str, Value, &[&str])] = &[
        ("unknown type", json!({"type": "strnig"}), &["strnig"]),
        (
            "unknown field type",
            json!({"type": "record", "name": "R", "fields": [{"name": "a", "type": "Nope"}]}),
            &["Nope"],
        ),
        (
            "record without fields",
            json!({"type": "record", "name": "R"}),
            &["fields"],
        ),
        (
            "duplicate field names",
            json!({"type": "record", "name": "R", "fields": [
                {"name": "a", "type": "int"}, {"name": "a", "type": "string"}]}),
            &["duplicate field name a"],
        ),
        (
            "record name starting with a digit",
            json!({"type": "record", "name": "1abc", "fields": []}),
            &["1abc"],
        ),
        (
            "field name with a dash",
            json!({"type": "record", "name": "R", "fields": [{"name": "a-b", "type": "int"}]}),
            &["a-b"],
        ),
        (
            "enum with duplicate symbols",
            json!({"type": "enum", "name": "E", "symbols": ["A", "B", "A"]}),
            &["A"],
        ),
        (
            "string default on an int field",
            json!({"type": "record", "name": "R", "fields": [
                {"name": "n", "type": "int", "default": "zero"}]}),
            &["default", "n"],
        ),
        (
            // Java Avro (so Confluent) accepts a default matching any branch; none matches here.
            "union default matching no branch",
            json!({"type": "record", "name": "R", "fields": [
                {"name": "s", "type": ["null", "int"], "default": "x"}]}),
            &["default", "s"],
        ),
        (
            "enum default that is not a symbol",
            json!({"type": "record", "name": "R", "fields": [
                {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"]}, "default": "Z"}]}),
            &["default", "e"],
        ),
    ];
    for (label, schema, words) in cases {
        let answer = api
            .register("orders-value", json!({"schema": schema.to_string()}))
            .await;
        refused(label, &answer, 42201, words);
        assert!(
            answer.1["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid schema"),
            "{label}: {}",
            answer.1
        );
    }
    still_works(&api, "orders-value").await;
}

#[tokio::test]
async fn a_huge_body_is_refused_without_buffering_it() {
    let api = start().await;
    // 20 MB: a schema string far beyond the documented limit.
    let huge = json!({"schema": "x".repeat(20 * 1024 * 1024)}).to_string();
    let answer = api
        .post(
            "/subjects/orders-value/versions",
            Some(V1_JSON),
            huge.into_bytes(),
        )
        .await;
    assert_eq!(answer.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.1);
    refused(
        "20 MB body",
        &answer,
        413,
        &[&MAX_BODY_BYTES.to_string(), "too large"],
    );
    // Just under the limit is read (and refused for what it is, not for its size).
    let padded = format!(
        r#"{{"schema": {}, "x": "{}"}}"#,
        serde_json::to_string(GOOD).unwrap(),
        "y".repeat(MAX_BODY_BYTES - 200)
    );
    assert!(padded.len() < MAX_BODY_BYTES);
    let (status, body) = api
        .post(
            "/subjects/orders-value/versions",
            Some(V1_JSON),
            padded.into_bytes(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "unknown body fields are ignored like Confluent: {body}"
    );
    let (_, subjects) = api.get("/subjects").await;
    assert_eq!(subjects, json!(["orders-value"]));
}

#[tokio::test]
async fn content_types_confluent_accepts_and_the_rest() {
    let api = start().await;
    let body = || json!({"schema": GOOD}).to_string().into_bytes();
    for (n, ct) in [
        Some("application/vnd.schemaregistry.v1+json"),
        Some("application/vnd.schemaregistry+json"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("application/octet-stream"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let (status, answer) = api
            .post(&format!("/subjects/ct{n}-value/versions"), ct, body())
            .await;
        assert_eq!(status, StatusCode::OK, "{ct:?}: {answer}");
    }
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let answer = api
            .post("/subjects/ct-bad-value/versions", Some(ct), body())
            .await;
        assert_eq!(answer.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        refused(
            ct,
            &answer,
            415,
            &[ct, "application/vnd.schemaregistry.v1+json"],
        );
    }
    // Compatibility checks and lookups read bodies the same way.
    let answer = api
        .post("/subjects/ct0-value", Some("text/plain"), body())
        .await;
    refused("lookup as text/plain", &answer, 415, &["text/plain"]);
    let answer = api
        .post(
            "/compatibility/subjects/ct0-value/versions/latest",
            Some("text/plain"),
            body(),
        )
        .await;
    refused("compatibility as text/plain", &answer, 415, &["text/plain"]);
    let (_, subjects) = api.get("/subjects").await;
    assert_eq!(subjects.as_array().unwrap().len(), 6, "{subjects}");
}

#[tokio::test]
async fn subject_names_with_odd_characters() {
    let api = start().await;
    // Control characters (here NUL and a newline, percent-encoded) are refused, naming the subject.
    for (label, encoded) in [("NUL", "bad%00-value"), ("newline", "bad%0A-value")] {
        let answer = api
            .post(
                &format!("/subjects/{encoded}/versions"),
                Some(V1_JSON),
                json!({"schema": GOOD}).to_string().into_bytes(),
            )
            .await;
        refused(label, &answer, 400, &["subject", "control"]);
    }
    // Printable names Confluent accepts are accepted and read back exactly: spaces, Unicode, an
    // encoded slash, dots and colons (context-style names).
    let odd = [
        ("orders%20value", "orders value"),
        ("%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7%D1%8B-value", "заказы-value"),
        ("a%2Fb-value", "a/b-value"),
        (":.ctx:orders-value", ":.ctx:orders-value"),
    ];
    for (encoded, name) in odd {
        let answer = api
            .post(
                &format!("/subjects/{encoded}/versions"),
                Some(V1_JSON),
                json!({"schema": GOOD}).to_string().into_bytes(),
            )
            .await;
        assert_eq!(answer.0, StatusCode::OK, "{name}: {}", answer.1);
        let (status, version) = api
            .get(&format!("/subjects/{encoded}/versions/latest"))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {version}");
        assert_eq!(version["subject"], name);
    }
    let (_, subjects) = api.get("/subjects").await;
    assert_eq!(subjects.as_array().unwrap().len(), odd.len(), "{subjects}");
}
