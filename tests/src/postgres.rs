//! A throw-away PostgreSQL database per test, dropped when the guard goes (also on panic).

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;

/// A database created on the platform's PostgreSQL (as the role of `base`, which needs
/// CREATEDB) and dropped on `Drop`.
#[derive(Debug)]
pub struct TempDb {
    admin: PgConnectOptions,
    pub name: String,
    /// A URL of the new database, for binaries under test.
    pub url: String,
}

impl TempDb {
    /// Create `test_<prefix>_<pid>_<n>` next to the database of `base` (a postgres:// URL).
    pub async fn create(base: &str, prefix: &str) -> TempDb {
        let admin = PgConnectOptions::from_str(base).expect("postgres URL");
        let name = crate::unique_name(prefix).replace('-', "_");
        let mut conn = admin.connect().await.expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let url = match base.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("{base} names no database"),
        };
        TempDb { admin, name, url }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        crate::cleanup_on_own_thread(async move {
            if let Ok(mut conn) = admin.connect().await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        });
    }
}
