//! A throwaway PostgreSQL database for the store's unit tests, on the server at 127.0.0.1:5432
//! (or `KITH_TEST_POSTGRES`); dropped with the guard.

use sqlx::postgres::{PgPool, PgPoolOptions};

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDb {
    admin: PgPool,
    name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new(prefix: &str) -> TestDb {
        let admin_url = std::env::var("KITH_TEST_POSTGRES").unwrap_or_else(|_| ADMIN_URL.into());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (or KITH_TEST_POSTGRES)");
        let name = format!(
            "kith_{prefix}_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(ADMIN_URL);
        TestDb {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    pub async fn drop_db(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await
        .unwrap();
    }
}
