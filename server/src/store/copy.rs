//! `kith migrate-db`: copies every row of a SQLite install into an empty PostgreSQL database in
//! one transaction, keeping ids, change stamps and ETags, so the sync tokens and ETags clients
//! hold stay valid on the new server.

use super::db::{Db, Tx};
use super::dialect::placeholders;
use super::{StoreError, StoreResult};
use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

/// Every table, parents before children (foreign keys). `leases` is left behind: it names the
/// old server's running jobs.
const TABLES: &[&str] = &[
    "users",
    "app_passwords",
    "collections",
    "collection_props",
    "objects",
    "object_index",
    "tombstones",
    "derived_marks",
    "object_versions",
    "sources",
    "source_items",
    "sync_runs",
    "sync_ops",
    "sync_undo",
    "events",
    "settings",
    "sealed",
    "web_sessions",
    "groups",
    "group_members",
    "shares",
    "shares_hidden",
    "card_shares",
    "share_props",
    "delegations",
    "push_registrations",
    "source_channels",
];
const SKIPPED: &[&str] = &["leases", "_sqlx_migrations"];

/// One value in flight, typed by the PostgreSQL column it goes to.
enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// Rows copied, per table.
pub type Copied = Vec<(&'static str, u64)>;

/// Copies `from` into `to`, which must hold no data yet. Nothing is written unless all of it is.
pub async fn sqlite_to_postgres(from: &Db, to: &Db) -> StoreResult<Copied> {
    let pg = &to.writer;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(pg)
    .await?;
    if let Some(t) = tables
        .iter()
        .find(|t| !TABLES.contains(&t.as_str()) && !SKIPPED.contains(&t.as_str()))
    {
        return Err(StoreError::Unsupported(format!(
            "this version of migrate-db does not know table {t}; use the kith binary that matches the database"
        )));
    }
    for t in ["users", "collections"] {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
            .fetch_one(pg)
            .await?;
        if n > 0 {
            return Err(StoreError::Exists(format!(
                "data in the PostgreSQL database ({n} rows in {t}); migrate into an empty database, one no Kith server has started on"
            )));
        }
    }
    let mut tx = to.begin().await?;
    let mut copied = Vec::new();
    for &table in TABLES {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(tx.c())
        .await?;
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let list = names.join(", ");
        // Batches stay under PostgreSQL's 65,535 bound parameters.
        let batch = (60_000 / names.len()).min(500);
        let select = format!("SELECT {list} FROM {table}");
        let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(&from.reader);
        let mut pending: Vec<Vec<Value>> = Vec::with_capacity(batch);
        let mut count = 0u64;
        while let Some(row) = rows.try_next().await? {
            let mut values = Vec::with_capacity(columns.len());
            for (i, (_, ty)) in columns.iter().enumerate() {
                values.push(match ty.as_str() {
                    "bigint" | "integer" => Value::Int(row.try_get(i)?),
                    "boolean" => Value::Bool(row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0)),
                    "bytea" => Value::Bytes(row.try_get(i)?),
                    _ => Value::Text(
                        row.try_get::<Option<String>, _>(i)?
                            .map(|s| to.dialect.text_in(&s)),
                    ),
                });
            }
            pending.push(values);
            if pending.len() == batch {
                count += insert(&mut tx, table, &list, names.len(), &mut pending).await?;
            }
        }
        count += insert(&mut tx, table, &list, names.len(), &mut pending).await?;
        if names.contains(&"id") {
            // The identity column continues after the copied ids; ids are never reused.
            sqlx::query(AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 GREATEST((SELECT MAX(id) FROM {table}), 1), (SELECT MAX(id) IS NOT NULL FROM {table}))"
            )))
            .execute(tx.c())
            .await?;
        }
        let source: i64 =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&from.reader)
                .await?;
        if source as u64 != count {
            return Err(StoreError::NotReady(format!(
                "{table}: read {source} rows but copied {count}; nothing was written"
            )));
        }
        copied.push((table, count));
    }
    tx.commit().await?;
    Ok(copied)
}

async fn insert(
    tx: &mut Tx<'_>,
    table: &str,
    list: &str,
    width: usize,
    rows: &mut Vec<Vec<Value>>,
) -> StoreResult<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "INSERT INTO {table} ({list}) VALUES {}",
        placeholders(rows.len(), width, 1)
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for v in rows.drain(..).flatten() {
        q = match v {
            Value::Int(v) => q.bind(v),
            Value::Bool(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Bytes(v) => q.bind(v),
        };
    }
    Ok(q.execute(tx.c()).await?.rows_affected())
}
