//! Both backends hold the same schema: every table, column and named index of the SQLite
//! migrations exists in the PostgreSQL ones. Runs against the PostgreSQL server on
//! 127.0.0.1:5432 (or `KITH_TEST_POSTGRES`), in a throwaway database.

use super::Db;
use sqlx::Row;
use sqlx::postgres::PgPoolOptions;
use std::collections::BTreeSet;

/// (table, column) pairs and index names of a migrated SQLite database.
async fn sqlite_schema() -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Db::open_sqlite(&dir.path().join("p.db")).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT IN ('_sqlx_migrations', 'sqlite_sequence')",
    )
    .fetch_all(&store.reader)
    .await
    .unwrap();
    let mut columns = BTreeSet::new();
    for t in &tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({t})")))
            .fetch_all(&store.reader)
            .await
            .unwrap();
        for r in rows {
            columns.insert((t.clone(), r.get::<String, _>("name")));
        }
    }
    let indexes = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'",
    )
    .fetch_all(&store.reader)
    .await
    .unwrap()
    .into_iter()
    .collect();
    (columns, indexes)
}

#[tokio::test]
async fn every_sqlite_table_column_and_index_exists_in_postgres() {
    let db = super::test_postgres::TestDb::new("parity").await;
    let url = db.url.clone();
    let result = async {
        let pg = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        sqlx::migrate!("../migrations/postgres")
            .run(&pg)
            .await
            .unwrap();
        let columns: BTreeSet<(String, String)> = sqlx::query(
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&pg)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("t"), r.get("c")))
        .collect();
        let indexes: BTreeSet<String> = sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'",
        )
        .fetch_all(&pg)
        .await
        .unwrap()
        .into_iter()
        .collect();
        pg.close().await;
        (columns, indexes)
    }
    .await;
    db.drop_db().await;
    let (pg_columns, pg_indexes) = result;
    let (sqlite_columns, sqlite_indexes) = sqlite_schema().await;
    let missing: Vec<_> = sqlite_columns.difference(&pg_columns).collect();
    assert!(missing.is_empty(), "not in PostgreSQL: {missing:?}");
    let extra: Vec<_> = pg_columns.difference(&sqlite_columns).collect();
    assert!(extra.is_empty(), "only in PostgreSQL: {extra:?}");
    let missing: Vec<_> = sqlite_indexes.difference(&pg_indexes).collect();
    assert!(missing.is_empty(), "indexes not in PostgreSQL: {missing:?}");
    assert!(
        sqlite_columns.len() > 80,
        "{} columns compared",
        sqlite_columns.len()
    );
}
