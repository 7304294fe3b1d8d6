//! Bad questions to `client-api serve` over HTTPS on a throw-away store: empty, huge and
//! metacharacter-laden search texts, SQL injection attempts, bad filters and control characters.
//! Each gets a normal (possibly empty) answer or a 400 `{"error"}` naming the parameter, never a
//! 5xx or a database error; afterwards the store still answers a normal search.

// Test helpers outside #[test] fns; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use vygoda_avro::registry::RegistryArgs;
use vygoda_client_api::record::RelayConfig;
use vygoda_client_api::serve::{self, ServeArgs};
use vygoda_client_api::store::{apply, Change, Positioned, ProductRow, Store};
use vygoda_common::https::{client, Identity};
use vygoda_tests::{unique_name, TempDb, TestPlatform};

fn product(id: &str, name: &str, category: &str, price_cents: i64) -> ProductRow {
    ProductRow {
        product_id: id.into(),
        name: name.into(),
        brand: Some("Тестовая марка".into()),
        category: category.into(),
        description: None,
        tags: String::new(),
        price_cents,
        currency: "RUB".into(),
        available: 5,
        reserved: None,
        store_id: "test-shop".into(),
        updated_at_ms: 0,
    }
}

fn serve_args(tp: &TestPlatform) -> ServeArgs {
    let tls = tp.root.join(".vygoda/tls");
    let path = |name: &str| tls.join(name).to_string_lossy().into_owned();
    ServeArgs {
        listen: "127.0.0.1:0".into(),
        tls_cert: tls.join("client-api.pem"),
        tls_key: tls.join("client-api.key"),
        client_ca: path("ca.pem"),
        metrics_addr: "127.0.0.1:0".into(),
        store_connections: 4,
        relay_every_ms: 200,
        shutdown_grace_secs: 5,
    }
}

/// Search texts full of SQL and tsquery syntax: each is plain text to the API.
const METACHARACTERS: &[&str] = &[
    "'",
    "\"",
    ";",
    "&",
    "|",
    "!",
    "(",
    ")",
    ":",
    "*",
    "\\",
    "%",
    "_",
    "' ; & | ! ( ) : * \\ %",
    "'; DROP TABLE products; --",
    "\"; DROP TABLE products; --",
    "1' OR '1'='1",
    "часы' OR 1=1 --",
    "a & !b",
    "!часы",
    "foo:*",
    "час:*",
    "часы:A",
    "((часы",
    "часы))",
    "(часы | чайник",
    "часы <-> чайник",
    "<2>",
    "-часы",
    "часы OR",
    "OR",
    "\"\"",
    "\"часы",
    "$1",
    "::text",
    "%%",
    "\\\\",
    "/*",
    "*/",
    "🙂",
    "ЧАСЫ",
    "ё",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_get_an_answer_or_a_400_naming_the_parameter() {
    let tp = TestPlatform::get();
    let db = TempDb::create(&tp.platform.postgres_url, "badq").await;
    let store = Store::connect(&db.url, Duration::from_secs(10))
        .await
        .expect("store");
    let listed = [
        product("p-watch", "Умные часы", "Электроника", 199_000),
        product("p-kettle", "Чайник электрический", "Кухня", 4_990),
        product("p-phones", "Наушники беспроводные", "Электроника", 12_000),
    ];
    let changes: Vec<Positioned> = listed
        .iter()
        .enumerate()
        .map(|(i, p)| Positioned {
            topic: "products-filtered".into(),
            partition: 0,
            offset: i as i64,
            change: Change::PutProduct(p.clone()),
        })
        .collect();
    apply(&store, &changes)
        .await
        .expect("products in the store");

    let topic = unique_name("badq-events");
    let _guard = tp.create_topic("prod", &topic, 1, false).await;
    let relay = RelayConfig {
        kafka: tp.kafka_props("prod", "client-api"),
        cluster: "prod".into(),
        principal: "client-api".into(),
        registry: RegistryArgs::default()
            .resolve(Some(&tp.platform), "client-api")
            .expect("registry settings"),
        topic,
        timeout: Duration::from_secs(10),
    };
    let config = serve_args(tp).validate().expect("valid flags");
    let stop = CancellationToken::new();
    let (ready, bound) = tokio::sync::oneshot::channel();
    let server = serve::run(
        db.url.clone(),
        Duration::from_secs(10),
        relay,
        config,
        stop.clone(),
        Some(ready),
    );
    let asker = async {
        let bound = tokio::time::timeout(Duration::from_secs(60), bound)
            .await
            .expect("the service listening within a minute")
            .expect("the service started");
        let tls = tp.root.join(".vygoda/tls");
        let caller = Identity {
            cert: tls.join("operator.pem"),
            key: tls.join("operator.key"),
        };
        let http = client(
            Some(&tls.join("ca.pem")),
            Some(&caller),
            Duration::from_secs(20),
        )
        .expect("client");
        let base = format!("https://localhost:{}", bound.api.port());
        // GET `path` with the query pairs encoded; (status, JSON body).
        let get = |path: String, query: Vec<(&'static str, String)>| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let r = http
                    .get(format!("{base}{path}"))
                    .query(&query)
                    .send()
                    .await
                    .expect("request");
                let status = r.status().as_u16();
                let text = r.text().await.expect("body");
                let body = serde_json::from_str::<Value>(&text)
                    .unwrap_or_else(|e| panic!("{path} {query:?}: not JSON ({e}): {text}"));
                (status, body)
            }
        };
        let search = |q: &str| get("/v1/search".into(), vec![("q", q.to_owned())]);
        // A 400 whose error names `param` (and every one of `words`).
        let refused = |label: &str, (status, body): (u16, Value), param: &str, words: &[&str]| {
            assert_eq!(status, 400, "{label}: {body}");
            let error = body["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{label}: {body}"));
            assert!(
                error.starts_with(&format!("{param} ")) || error.starts_with(&format!("{param}:")),
                "{label}: should start with the parameter {param}: {error}"
            );
            for w in words {
                assert!(error.contains(w), "{label}: should say {w:?}: {error}");
            }
        };

        // Metacharacters are plain text: a normal answer, never a 5xx or a database error.
        for q in METACHARACTERS {
            let (status, body) = search(q).await;
            assert_eq!(status, 200, "q={q:?}: {body}");
            assert!(body["results"].is_array(), "q={q:?}: {body}");
        }
        let (_, body) = search("'; DROP TABLE products; --").await;
        assert_eq!(body["count"], 0, "{body}");
        let (_, body) = search("часы' OR 1=1 --").await;
        assert!(
            body["results"].as_array().unwrap().len() <= 1,
            "an injection does not widen the search: {body}"
        );

        // Empty, blank, control characters, too long: 400 naming q.
        refused("empty q", search("").await, "q", &["empty"]);
        refused("blank q", search(" \u{3000} ").await, "q", &["empty"]);
        refused(
            "no q at all",
            get("/v1/search".into(), vec![]).await,
            "q",
            &["empty"],
        );
        refused("NUL in q", search("час\0ы").await, "q", &["U+0000"]);
        refused("escape in q", search("\u{1b}[2J").await, "q", &["U+001B"]);
        let started = Instant::now();
        refused(
            "10,000 characters",
            search(&"часы ".repeat(2000)).await,
            "q",
            &["500"],
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused quickly"
        );
        let at_limit = "ч".repeat(500);
        let (status, body) = search(&at_limit).await;
        assert_eq!(status, 200, "500 characters are allowed: {body}");

        // Filters: each bad one is a 400 naming it.
        let with = |pairs: &[(&'static str, &str)]| {
            let mut query = vec![("q", "часы".to_owned())];
            query.extend(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())));
            get("/v1/search".into(), query)
        };
        refused(
            "min above max",
            with(&[("min_price", "100"), ("max_price", "10")]).await,
            "min_price",
            &["max_price"],
        );
        refused(
            "negative min",
            with(&[("min_price", "-1")]).await,
            "min_price",
            &["negative"],
        );
        refused(
            "negative max",
            with(&[("max_price", "-0.01")]).await,
            "max_price",
            &[],
        );
        for bad in [
            "abc", "NaN", "nan", "Infinity", "inf", "1e3", "0x10", "1,5", "10.001",
        ] {
            refused(bad, with(&[("min_price", bad)]).await, "min_price", &[]);
            refused(bad, with(&[("max_price", bad)]).await, "max_price", &[]);
        }
        refused(
            "huge price",
            with(&[("max_price", "1e400")]).await,
            "max_price",
            &[],
        );
        for bad in [
            "0",
            "-1",
            "abc",
            "1e3",
            "1001",
            "99999999999999999999",
            "NaN",
        ] {
            refused(bad, with(&[("limit", bad)]).await, "limit", &[]);
        }
        refused(
            "in_stock maybe",
            with(&[("in_stock", "maybe")]).await,
            "in_stock",
            &[],
        );
        refused(
            "NUL in category",
            with(&[("category", "Кух\0ня")]).await,
            "category",
            &["U+0000"],
        );
        refused(
            "NUL in brand",
            with(&[("brand", "\0")]).await,
            "brand",
            &["U+0000"],
        );
        refused(
            "long category",
            with(&[("category", &"к".repeat(129))]).await,
            "category",
            &["128"],
        );
        refused(
            "NUL in user",
            with(&[("user", "u\0-1")]).await,
            "user",
            &["U+0000"],
        );
        refused(
            "NUL in session",
            with(&[("session", "\0")]).await,
            "session",
            &["U+0000"],
        );
        // Equal bounds and SQL in filters are fine: normal answers.
        let (status, body) = with(&[("min_price", "1990"), ("max_price", "1990.00")]).await;
        assert_eq!((status, body["count"].as_i64()), (200, Some(1)), "{body}");
        let (status, body) = with(&[("category", "' OR ''='"), ("brand", "%")]).await;
        assert_eq!((status, body["count"].as_i64()), (200, Some(0)), "{body}");

        // Paths: a product id or a user with a NUL, or not UTF-8, is a 400 naming it.
        refused(
            "NUL product id",
            get("/v1/products/p%00x".into(), vec![]).await,
            "product_id",
            &["U+0000"],
        );
        refused(
            "non-UTF-8 product id",
            get("/v1/products/%FF".into(), vec![]).await,
            "product_id",
            &["UTF-8"],
        );
        let (status, body) = get(
            "/v1/products/'%3B%20DROP%20TABLE%20products%3B--".into(),
            vec![],
        )
        .await;
        assert_eq!(
            (status, body["found"].as_bool()),
            (404, Some(false)),
            "{body}"
        );
        refused(
            "NUL user",
            get("/v1/users/%00/recommendations".into(), vec![]).await,
            "user",
            &["U+0000"],
        );

        // The store is intact and still answers a normal search.
        let (status, body) = search("часы").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["results"][0]["product_id"], "p-watch", "{body}");
        let (status, body) = get("/v1/products/p-kettle".into(), vec![]).await;
        assert_eq!(
            (status, body["found"].as_bool()),
            (200, Some(true)),
            "{body}"
        );
        stop.cancel();
    };
    let (served, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(300), server),
        asker
    );
    served
        .expect("stopped within the grace period")
        .expect("clean stop");
    let products: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&store.pool)
        .await
        .expect("the products table is still there");
    assert_eq!(products, 3);
    store.pool.close().await;
}
