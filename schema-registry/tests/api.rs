//! The REST API end to end over HTTP (in-memory store): Confluent shapes, codes and semantics.

// Test helpers outside #[test] fns; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use vygoda_common::acl::AclTable;
use vygoda_schema_registry::api::{router, AppState};
use vygoda_schema_registry::auth::{Caller, Policy};
use vygoda_schema_registry::metrics::Metrics;
use vygoda_schema_registry::registry::Registry;
use vygoda_schema_registry::store::MemoryStore;

const PRINCIPAL_HEADER: &str = "x-test-principal";

/// Who may do what in these tests: the shape of kafka/acls.toml.
const TABLE: &str = r#"
[principals.admin]
about = "administers"
super_user = true
[principals.shop-api]
about = "writes products"
grants = [{ cluster = "prod", topic = "products", ops = ["Write", "Describe"] }]
[principals.operator]
about = "reads"
grants = [{ cluster = "*", topic = "*", ops = ["Read", "Describe"] }]
"#;

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
    // In production the TLS acceptor names the caller from its client certificate; over plain
    // HTTP this test stands in for it with a header.
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
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        who: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(who) = who {
            request = request.header(PRINCIPAL_HEADER, who);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/vnd.schemaregistry.v1+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            content_type, "application/vnd.schemaregistry.v1+json",
            "{path}"
        );
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, Some("operator")).await
    }

    async fn write(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, body, Some("admin")).await
    }

    async fn register(&self, subject: &str, schema: &str) -> (StatusCode, Value) {
        self.write(
            Method::POST,
            &format!("/subjects/{subject}/versions"),
            Some(json!({"schema": schema})),
        )
        .await
    }
}

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#;
const V2: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}"#;
const BREAKING: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"shop","type":"string"}]}"#;

fn error_code(body: &Value) -> i64 {
    body["error_code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error_code in {body}"))
}

#[tokio::test]
async fn register_is_idempotent_and_ids_are_global() {
    let api = start().await;
    let (status, first) = api.register("orders-value", V1).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let id = first["id"].as_i64().unwrap();
    // Same schema, other formatting: same id, no new version.
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(V1).unwrap()).unwrap();
    assert_eq!(api.register("orders-value", &pretty).await.1["id"], id);
    assert_eq!(
        api.get("/subjects/orders-value/versions").await.1,
        json!([1])
    );
    // Same schema under another subject: same id, like Confluent.
    assert_eq!(api.register("orders-copy-value", V1).await.1["id"], id);
    let (_, v2) = api.register("orders-value", V2).await;
    assert_ne!(v2["id"], id);
    assert_eq!(v2["version"], 2);

    assert_eq!(
        api.get(&format!("/schemas/ids/{id}")).await.1,
        json!({"schema": V1})
    );
    assert_eq!(
        api.get(&format!("/schemas/ids/{id}/schema")).await.1,
        serde_json::from_str::<Value>(V1).unwrap()
    );
    let (_, usages) = api.get(&format!("/schemas/ids/{id}/versions")).await;
    assert_eq!(
        usages,
        json!([{"subject": "orders-copy-value", "version": 1}, {"subject": "orders-value", "version": 1}])
    );
    assert_eq!(
        api.get(&format!("/schemas/ids/{id}/subjects")).await.1,
        json!(["orders-copy-value", "orders-value"])
    );
    assert_eq!(api.get("/schemas/types").await.1, json!(["AVRO"]));
    assert_eq!(
        api.get("/subjects").await.1,
        json!(["orders-copy-value", "orders-value"])
    );
    assert_eq!(
        api.get("/subjects?subjectPrefix=orders-c").await.1,
        json!(["orders-copy-value"])
    );

    let (_, latest) = api.get("/subjects/orders-value/versions/latest").await;
    assert_eq!(
        latest,
        json!({"subject": "orders-value", "version": 2, "id": v2["id"], "schema": V2})
    );
    assert_eq!(
        api.get("/subjects/orders-value/versions/1").await.1["id"],
        id
    );
    let (_, raw) = api
        .get("/subjects/orders-value/versions/latest/schema")
        .await;
    assert_eq!(raw["fields"][1]["name"], "note");

    // Lookup finds the version of a schema, whatever its formatting.
    let (status, found) = api
        .call(
            Method::POST,
            "/subjects/orders-value",
            Some(json!({"schema": pretty})),
            Some("operator"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (found["version"].as_i64(), found["id"].as_i64()),
        (Some(1), Some(id))
    );
    let (status, missing) = api
        .call(
            Method::POST,
            "/subjects/orders-value",
            Some(json!({"schema": BREAKING})),
            Some("operator"),
        )
        .await;
    assert_eq!(
        (status, error_code(&missing)),
        (StatusCode::NOT_FOUND, 40403)
    );
}

#[tokio::test]
async fn incompatible_schemas_are_refused_with_the_field_named() {
    let api = start().await;
    api.register("s-value", V1).await;
    let (status, body) = api.register("s-value", BREAKING).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, 409));
    assert!(
        body["message"].as_str().unwrap().contains("`shop`"),
        "{body}"
    );
    assert_eq!(
        api.get("/subjects/s-value/versions").await.1,
        json!([1]),
        "nothing registered"
    );

    let check = |path: &'static str, schema: &'static str| {
        let api = &api;
        async move {
            api.call(
                Method::POST,
                path,
                Some(json!({"schema": schema})),
                Some("operator"),
            )
            .await
            .1
        }
    };
    assert_eq!(
        check("/compatibility/subjects/s-value/versions/latest", V2).await,
        json!({"is_compatible": true})
    );
    let verbose = check(
        "/compatibility/subjects/s-value/versions/latest?verbose=true",
        BREAKING,
    )
    .await;
    assert_eq!(verbose["is_compatible"], false);
    assert!(
        verbose["messages"][0].as_str().unwrap().contains("shop"),
        "{verbose}"
    );
    assert_eq!(
        check("/compatibility/subjects/s-value/versions/1", BREAKING).await["is_compatible"],
        false
    );
    assert_eq!(
        check("/compatibility/subjects/s-value/versions", V2).await["is_compatible"],
        true
    );
    // A subject that does not exist yet accepts anything.
    assert_eq!(
        check(
            "/compatibility/subjects/new-value/versions/latest",
            BREAKING
        )
        .await["is_compatible"],
        true
    );

    // With NONE the same schema goes in.
    let (status, _) = api
        .write(
            Method::PUT,
            "/config/s-value",
            Some(json!({"compatibility": "NONE"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.register("s-value", BREAKING).await.0, StatusCode::OK);
}

#[tokio::test]
async fn config_levels_global_and_per_subject() {
    let api = start().await;
    assert_eq!(
        api.get("/config").await.1,
        json!({"compatibilityLevel": "BACKWARD"})
    );
    let (_, set) = api
        .write(
            Method::PUT,
            "/config",
            Some(json!({"compatibility": "full_transitive"})),
        )
        .await;
    assert_eq!(set, json!({"compatibility": "FULL_TRANSITIVE"}));
    assert_eq!(
        api.get("/config").await.1["compatibilityLevel"],
        "FULL_TRANSITIVE"
    );

    let (status, body) = api.get("/config/x-value").await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, 40408));
    assert_eq!(
        api.get("/config/x-value?defaultToGlobal=true").await.1["compatibilityLevel"],
        "FULL_TRANSITIVE"
    );
    api.write(
        Method::PUT,
        "/config/x-value",
        Some(json!({"compatibility": "FORWARD"})),
    )
    .await;
    assert_eq!(
        api.get("/config/x-value").await.1["compatibilityLevel"],
        "FORWARD"
    );
    let (_, cleared) = api.write(Method::DELETE, "/config/x-value", None).await;
    assert_eq!(cleared["compatibilityLevel"], "FORWARD");
    let (status, body) = api
        .write(
            Method::PUT,
            "/config",
            Some(json!({"compatibility": "SIDEWAYS"})),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, 42203)
    );
    let (_, cleared) = api.write(Method::DELETE, "/config", None).await;
    assert_eq!(cleared["compatibilityLevel"], "FULL_TRANSITIVE");
    assert_eq!(api.get("/config").await.1["compatibilityLevel"], "BACKWARD");
}

#[tokio::test]
async fn soft_then_hard_delete_like_confluent() {
    let api = start().await;
    let (_, first) = api.register("d-value", V1).await;
    api.register("d-value", V2).await;
    let (status, body) = api
        .write(
            Method::DELETE,
            "/subjects/d-value/versions/1?permanent=true",
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, 40407),
        "hard needs soft first"
    );
    assert_eq!(
        api.write(Method::DELETE, "/subjects/d-value/versions/1", None)
            .await
            .1,
        json!(1)
    );
    let (_, body) = api
        .write(Method::DELETE, "/subjects/d-value/versions/1", None)
        .await;
    assert_eq!(error_code(&body), 40406);
    assert_eq!(api.get("/subjects/d-value/versions").await.1, json!([2]));
    assert_eq!(
        api.get("/subjects/d-value/versions?deleted=true").await.1,
        json!([1, 2])
    );
    assert_eq!(
        api.get("/subjects/d-value/versions?deleted_only=true")
            .await
            .1,
        json!([1])
    );
    let (status, body) = api.get("/subjects/d-value/versions/1").await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, 40402));
    assert_eq!(
        api.get("/subjects/d-value/versions/1?deleted=true").await.1["id"],
        first["id"]
    );

    let (_, body) = api
        .write(Method::DELETE, "/subjects/d-value?permanent=true", None)
        .await;
    assert_eq!(
        error_code(&body),
        40405,
        "subject must be soft-deleted first"
    );
    assert_eq!(
        api.write(Method::DELETE, "/subjects/d-value", None).await.1,
        json!([2])
    );
    assert_eq!(
        error_code(&api.write(Method::DELETE, "/subjects/d-value", None).await.1),
        40404
    );
    assert_eq!(api.get("/subjects").await.1, json!([]));
    assert_eq!(
        api.get("/subjects?deleted=true").await.1,
        json!(["d-value"])
    );
    let (status, body) = api.get("/subjects/d-value/versions").await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, 40401));
    assert_eq!(
        api.write(Method::DELETE, "/subjects/d-value?permanent=true", None)
            .await
            .1,
        json!([1, 2])
    );
    assert_eq!(api.get("/subjects?deleted=true").await.1, json!([]));
    // The id still resolves: data written with it stays decodable.
    assert_eq!(
        api.get(&format!("/schemas/ids/{}", first["id"])).await.0,
        StatusCode::OK
    );
    // Registering again starts over at version 1 with the same id.
    let (_, again) = api.register("d-value", V1).await;
    assert_eq!(
        (again["id"].clone(), again["version"].clone()),
        (first["id"].clone(), json!(1))
    );
}

#[tokio::test]
async fn every_call_needs_an_identity_and_changes_need_the_right_one() {
    let api = start().await;
    let body = Some(json!({"schema": V1}));
    let changes = [
        (Method::POST, "/subjects/a-value/versions"),
        (Method::PUT, "/config"),
        (Method::PUT, "/config/a-value"),
        (Method::DELETE, "/config/a-value"),
        (Method::DELETE, "/subjects/a-value"),
        (Method::DELETE, "/subjects/a-value/versions/1"),
    ];
    // Nobody: refused everywhere, reads included.
    for (method, path) in changes.iter().chain(&[(Method::GET, "/subjects")]) {
        let (status, answer) = api.call(method.clone(), path, body.clone(), None).await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::UNAUTHORIZED, 40101),
            "{method} {path}"
        );
    }
    // A reader may read and check, and change nothing.
    for (method, path) in &changes {
        let (status, answer) = api
            .call(method.clone(), path, body.clone(), Some("operator"))
            .await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::FORBIDDEN, 40301),
            "{method} {path}"
        );
    }
    // A producer registers under its own topic's subjects only, and administers nothing.
    let (status, _) = api
        .call(
            Method::POST,
            "/subjects/products-value/versions",
            body.clone(),
            Some("shop-api"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for (method, path) in [
        (Method::POST, "/subjects/a-value/versions"),
        (Method::DELETE, "/subjects/products-value"),
        (Method::PUT, "/config/products-value"),
    ] {
        let (status, answer) = api
            .call(method.clone(), path, body.clone(), Some("shop-api"))
            .await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::FORBIDDEN, 40301),
            "{method} {path}"
        );
        assert!(
            answer["message"].as_str().unwrap().contains("shop-api"),
            "{answer}"
        );
    }
    assert_eq!(
        api.get("/subjects").await.1,
        json!(["products-value"]),
        "nothing else was written"
    );
}

#[tokio::test]
async fn bad_input_gets_confluent_error_codes() {
    let api = start().await;
    let (status, body) = api
        .register("b-value", r#"{"type":"record","name":"X"}"#)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, 42201)
    );
    let (_, body) = api.register("b-value", "not json").await;
    assert_eq!(error_code(&body), 42201);
    let (_, body) = api
        .write(
            Method::POST,
            "/subjects/b-value/versions",
            Some(json!({"schema": V1, "schemaType": "PROTOBUF"})),
        )
        .await;
    assert_eq!(error_code(&body), 42201);
    let refs = json!({"schema": V1, "references": [{"name": "x", "subject": "y", "version": 1}]});
    assert_eq!(
        error_code(
            &api.write(Method::POST, "/subjects/b-value/versions", Some(refs))
                .await
                .1
        ),
        42201
    );
    api.register("b-value", V1).await;
    let (status, body) = api.get("/subjects/b-value/versions/zero").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, 42202)
    );
    assert_eq!(
        error_code(&api.get("/subjects/b-value/versions/7").await.1),
        40402
    );
    assert_eq!(
        error_code(&api.get("/subjects/nope/versions/latest").await.1),
        40401
    );
    assert_eq!(error_code(&api.get("/schemas/ids/999").await.1), 40403);
}
