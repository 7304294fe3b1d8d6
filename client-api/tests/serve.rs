//! `client-api serve` on a throw-away store and events topic, asked over HTTPS with a platform
//! certificate: answers, refusals, the requests recorded and relayed to Kafka, /metrics, and a
//! graceful stop that sends what is still pending.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vygoda_avro::registry::RegistryArgs;
use vygoda_client_api::record::RelayConfig;
use vygoda_client_api::serve::{self, ServeArgs};
use vygoda_client_api::store::{apply, Change, Positioned, ProductRow, Store};
use vygoda_common::https::{client, Identity};
use vygoda_tests::{consume_all, eventually, unique_name, TempDb, TestPlatform};

fn product(id: &str, name: &str, available: i32) -> ProductRow {
    ProductRow {
        product_id: id.into(),
        name: name.into(),
        brand: Some("Тестовая марка".into()),
        category: "Электроника".into(),
        description: None,
        tags: String::new(),
        price_cents: 199_000,
        currency: "RUB".into(),
        available,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_records_relays_and_drains_on_stop() {
    let tp = TestPlatform::get();
    let db = TempDb::create(&tp.platform.postgres_url, "serve").await;
    let store = Store::connect(&db.url, Duration::from_secs(10))
        .await
        .expect("store");
    let listed = [
        product("p-watch", "Умные часы", 3),
        product("p-kettle", "Чайник", 0),
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

    let topic = unique_name("serve-events");
    let _guard = tp.create_topic("prod", &topic, 2, false).await;
    let registry = RegistryArgs::default()
        .resolve(Some(&tp.platform), "client-api")
        .expect("registry settings");
    let relay = RelayConfig {
        kafka: tp.kafka_props("prod", "client-api"),
        cluster: "prod".into(),
        principal: "client-api".into(),
        registry,
        topic: topic.clone(),
        timeout: Duration::from_secs(10),
    };
    let config = serve_args(tp).validate().expect("valid flags");
    let stop = CancellationToken::new();
    let (ready, bound) = tokio::sync::oneshot::channel();
    // Run in this task, next to the asking below (the server's future is not `Send`: sqlx).
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
        let ca = tls.join("ca.pem");
        let http = client(Some(&ca), Some(&caller), Duration::from_secs(10)).expect("client");
        let url = |path: &str| format!("https://localhost:{}{path}", bound.api.port());
        let get = |path: String| {
            let http = http.clone();
            async move {
                let r = http.get(path).send().await.expect("request");
                let status = r.status().as_u16();
                (status, r.json::<serde_json::Value>().await.expect("JSON"))
            }
        };

        // Answers: Russian word forms, in-stock filter, one product, not found, recommendations.
        let (status, found) = get(url("/v1/search?q=часов&user=u1&session=s1")).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["results"][0]["product_id"], "p-watch", "{found}");
        let (_, in_stock) = get(url("/v1/search?q=чайник&in_stock=true&user=u1")).await;
        assert_eq!(in_stock["count"], 0, "{in_stock}");
        let (status, one) = get(url("/v1/products/p-kettle?user=u1")).await;
        assert_eq!(
            (status, one["product"]["price"].as_str()),
            (200, Some("1990.00"))
        );
        let (status, none) = get(url("/v1/products/p-none?user=u1")).await;
        assert_eq!((status, none["found"].as_bool()), (404, Some(false)));
        let (status, list) = get(url("/v1/users/u1/recommendations?limit=5")).await;
        assert_eq!((status, list["source"].as_str()), (200, Some("popularity")));

        // Refusals name what is wrong and are not recorded.
        let (status, bad) = get(url("/v1/search?q=%20")).await;
        assert_eq!(status, 400);
        assert!(
            bad["error"].as_str().unwrap_or("").contains("empty"),
            "{bad}"
        );
        let (status, bad) = get(url("/v1/users/u1/recommendations?limit=0")).await;
        assert_eq!(
            (status, bad["error"].as_str()),
            (400, Some("limit 0: must be 1..=1000"))
        );
        let anonymous = client(Some(&ca), None, Duration::from_secs(10)).expect("client");
        assert!(
            anonymous.get(url("/health")).send().await.is_err(),
            "a caller without a platform certificate is refused at the handshake"
        );

        // Every answered request is a row and, once relayed, a record of the events topic whose
        // key is the user and whose value carries the request id.
        let requests: Vec<String> =
            sqlx::query_scalar("SELECT request_id::text FROM requests ORDER BY at")
                .fetch_all(&store.pool)
                .await
                .expect("requests");
        assert_eq!(requests.len(), 5, "five answered requests recorded");
        let props = tp.kafka_props("prod", "admin");
        let events = eventually(
            "the five events on the topic",
            Duration::from_secs(60),
            || {
                let (props, topic) = (props.clone(), topic.clone());
                async move {
                    let records = tokio::task::spawn_blocking(move || consume_all(&props, &topic))
                        .await
                        .expect("reader");
                    (records.len() == 5).then_some(records)
                }
            },
        )
        .await;
        for record in &events {
            assert_eq!(record.key.as_deref(), Some(b"u1".as_slice()));
            let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default());
            assert!(
                requests.iter().any(|id| value.contains(id.as_str())),
                "each event carries a request id"
            );
        }

        // Metrics: requests by endpoint and outcome, latency per endpoint, events relayed (counted
        // once their pass commits, just after the records are on the topic).
        let wanted = [
            r#"vygoda_client_api_requests_total{endpoint="search",outcome="ok"} 2"#,
            r#"vygoda_client_api_requests_total{endpoint="search",outcome="invalid"} 1"#,
            r#"vygoda_client_api_requests_total{endpoint="product",outcome="not_found"} 1"#,
            r#"vygoda_client_api_requests_total{endpoint="recommend",outcome="fallback"} 1"#,
            r#"vygoda_client_api_request_seconds_count{endpoint="product"} 2"#,
            r#"vygoda_client_api_events_relayed_total{outcome="sent"} 5"#,
        ];
        let metrics_url = format!("http://{}/metrics", bound.metrics);
        eventually(
            "every expected metric sample",
            Duration::from_secs(10),
            || {
                let metrics_url = metrics_url.clone();
                async move {
                    let text = reqwest::get(metrics_url).await.ok()?.text().await.ok()?;
                    wanted.iter().all(|line| text.contains(line)).then_some(())
                }
            },
        )
        .await;

        // A stop (SIGTERM in the binary) returns cleanly; nothing is left pending.
        let (_, _) = get(url("/v1/products/p-watch?user=u1")).await;
        stop.cancel();
    };
    let (served, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(300), server),
        asker
    );
    served
        .expect("stopped within the grace period")
        .expect("clean stop");
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM event_outbox WHERE sent_at IS NULL")
            .fetch_one(&store.pool)
            .await
            .expect("outbox");
    assert_eq!(pending, 0, "the last request's event left before the exit");
    store.pool.close().await;
}
