//! The PostgreSQL store against a real PostgreSQL: the store contract, two "registry processes"
//! (separate pools) racing on the same schemas, and data surviving a reconnect.
//!
//! Uses `VYGODA_REGISTRY_TEST_DATABASE_URL` if set, else `postgres_url` of `.vygoda/platform.json`;
//! skips (with a message) only when neither exists. Each test works in a throw-away database.

// Test helpers outside #[test] fns; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use vygoda_schema_registry::store::{
    contract, Deleted, NewSchema, PostgresStore, Registered, Store,
};

fn base_url() -> Option<String> {
    if let Ok(url) = std::env::var("VYGODA_REGISTRY_TEST_DATABASE_URL") {
        return Some(url);
    }
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.vygoda/platform.json");
    if !file.exists() {
        eprintln!(
            "skipping: no {} (run `make up`) and no VYGODA_REGISTRY_TEST_DATABASE_URL",
            file.display()
        );
        return None;
    }
    let platform = vygoda_common::platform::Platform::load(&file).expect("platform file is valid");
    Some(platform.postgres_url)
}

/// A database that is dropped when the guard goes.
struct TempDb {
    admin: PgConnectOptions,
    name: String,
    options: PgConnectOptions,
}

impl TempDb {
    async fn create(base: &str) -> TempDb {
        let admin = PgConnectOptions::from_str(base).expect("postgres URL");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("registry_test_{}_{nanos}", std::process::id());
        let mut conn = admin.connect().await.expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let options = admin.clone().database(&name);
        TempDb {
            admin,
            name,
            options,
        }
    }

    async fn store(&self, pool: u32) -> PostgresStore {
        PostgresStore::connect(self.options.clone(), pool)
            .await
            .expect("connect store")
    }

    async fn drop_now(self) {
        let mut conn = self.admin.connect().await.expect("connect");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("drop database");
    }
}

#[tokio::test]
async fn postgres_store_meets_the_store_contract() {
    let Some(base) = base_url() else { return };
    let db = TempDb::create(&base).await;
    let store = db.store(4).await;
    contract::run_all(&store).await;
    store.pool().close().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_across_processes_get_one_id() {
    let Some(base) = base_url() else { return };
    let db = TempDb::create(&base).await;
    // Two pools = two registry processes on the same database; both run the migration.
    let (a, b) = (db.store(8).await, db.store(8).await);
    contract::concurrent_registrations_agree(Arc::new(a.clone())).await;

    // Interleave the two "processes" on one new schema and several subjects.
    let text = r#"{"type":"record","name":"Race","fields":[{"name":"x","type":"int"}]}"#;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let subject = format!("race-{}", i % 3);
        tasks.push(tokio::spawn(async move {
            let schema = NewSchema {
                canonical: text,
                compact: text,
            };
            match store
                .register(&subject, schema, |_| Vec::new())
                .await
                .expect("register")
            {
                Registered::Created(v) | Registered::Existing(v) => (v.id, v.version),
                Registered::Rejected(m) => panic!("rejected: {m:?}"),
            }
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.expect("task"));
    }
    assert!(
        seen.iter()
            .all(|&(id, version)| id == seen[0].0 && version == 1),
        "{seen:?}"
    );
    for i in 0..3 {
        assert_eq!(
            a.versions(&format!("race-{i}"), Deleted::Include)
                .await
                .unwrap()
                .len(),
            1
        );
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM registry_schemas WHERE canonical = $1")
            .bind(text)
            .fetch_one(a.pool())
            .await
            .unwrap();
    assert_eq!(rows, 1);
    a.pool().close().await;
    b.pool().close().await;
    db.drop_now().await;
}

#[tokio::test]
async fn registrations_survive_a_restart() {
    let Some(base) = base_url() else { return };
    let db = TempDb::create(&base).await;
    let text = r#"{"type":"enum","name":"Kind","symbols":["A","B"]}"#;
    let schema = NewSchema {
        canonical: text,
        compact: text,
    };
    let first = {
        let store = db.store(2).await;
        let outcome = store
            .register("kinds-value", schema, |_| Vec::new())
            .await
            .unwrap();
        store
            .set_level(
                Some("kinds-value"),
                vygoda_schema_registry::compat::Level::Full,
            )
            .await
            .unwrap();
        store.pool().close().await;
        outcome
    };
    let Registered::Created(first) = first else {
        panic!("{first:?}")
    };
    let store = db.store(2).await;
    assert_eq!(
        store.schema_by_id(first.id).await.unwrap().unwrap().schema,
        text
    );
    assert_eq!(
        store.level(Some("kinds-value")).await.unwrap(),
        Some(vygoda_schema_registry::compat::Level::Full)
    );
    match store
        .register("kinds-value", schema, |_| vec!["not called".into()])
        .await
        .unwrap()
    {
        Registered::Existing(v) => assert_eq!((v.id, v.version), (first.id, 1)),
        other => panic!("{other:?}"),
    }
    store.pool().close().await;
    db.drop_now().await;
}
