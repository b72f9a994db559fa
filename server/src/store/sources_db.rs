//! [`Sources`] on either backend: sources, their runs and mappings, and applying a run's
//! operations to a book in one transaction (the collection locked on PostgreSQL for the whole
//! apply, see [`super::dialect::Dialect::lock_collection`]).

use super::db::{Db, Tx};
use super::dialect::{flag, placeholders};
use super::sources::{
    ApplyOp, ApplyOutcome, BookLink, CardWrite, Event, MappingWrite, NewRun, Run, RunKind,
    RunStatus, Source, SourceKind, SourcePatch, SourceStatus, Sources, Trigger, UndoRecord,
};
use super::{Actor, StoreError, StoreResult, now_ms};
use async_trait::async_trait;
use kith_connectors::plan::{LinkState, Mapping};
use kith_connectors::record::Record;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

pub(super) const SOURCE_COLS: &str = "id, owner_id, name, kind, collection_id, location, rules, status, \
     status_detail, applied_once, last_run_at, next_run_at, created_at, cursor, notified_at";
pub(super) const RUN_COLS: &str =
    "id, source_id, kind, trigger, status, undo_of, created_at, applied_at, summary, message";
pub(super) const MAPPING_COLS: &str = "remote_id, card, state, version, base, card_etag";

pub(super) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub(super) fn is_fresh(op: &ApplyOp) -> bool {
    matches!(
        (&op.card, &op.mapping, op.expect_mapping.as_deref()),
        (
            Some(CardWrite {
                expect_etag: None,
                put: Some(_),
                ..
            }),
            MappingWrite::Put(_),
            Some("")
        )
    )
}

pub(super) fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn source_row(r: &AnyRow) -> StoreResult<Source> {
    let kind: String = r.get(3);
    let kind = SourceKind::parse(&kind)
        .ok_or_else(|| StoreError::Unreadable(format!("source kind {kind:?} is unknown")))?;
    let status: String = r.get(7);
    Ok(Source {
        id: r.get(0),
        owner_id: r.get(1),
        name: r.get(2),
        kind,
        collection_id: r.get(4),
        location: r.get(5),
        rules: r.get(6),
        status: SourceStatus::from_db(&status)?,
        status_detail: r.get(8),
        applied_once: flag(r, "applied_once"),
        last_run_at: r.get(10),
        next_run_at: r.get(11),
        created_at: r.get(12),
        cursor: r.get(13),
        notified_at: r.get(14),
    })
}

fn run_row(r: &AnyRow) -> StoreResult<Run> {
    let (kind, trigger, status): (String, String, String) = (r.get(2), r.get(3), r.get(4));
    Ok(Run {
        id: r.get(0),
        source_id: r.get(1),
        kind: RunKind::from_db(&kind)?,
        trigger: Trigger::from_db(&trigger)?,
        status: RunStatus::from_db(&status)?,
        undo_of: r.get(5),
        created_at: r.get(6),
        applied_at: r.get(7),
        summary: r.get(8),
        message: r.get(9),
    })
}

/// A mapping row (from `MAPPING_COLS` at `offset`); rows this version cannot read are skipped.
fn mapping_row(r: &AnyRow, offset: usize) -> Option<(String, Mapping)> {
    let base: Option<String> = r.get(offset + 4);
    let base = match base {
        Some(b) => Some(serde_json::from_str::<Record>(&b).ok()?),
        None => None,
    };
    Some((
        r.get(offset),
        Mapping {
            card: r.get(offset + 1),
            state: LinkState::parse(r.get::<&str, _>(offset + 2))?,
            version: r.get(offset + 3),
            base,
            card_etag: r.get(offset + 5),
        },
    ))
}

pub(super) async fn current_mapping(
    tx: &mut Tx<'_>,
    source_id: i64,
    remote_id: &str,
) -> StoreResult<Option<Mapping>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {MAPPING_COLS} FROM source_items WHERE source_id = $1 AND remote_id = $2"
    )))
    .bind(source_id)
    .bind(remote_id)
    .fetch_optional(tx.c())
    .await?;
    Ok(row.and_then(|r| mapping_row(&r, 0)).map(|(_, m)| m))
}

/// Stores a run's plan operations, in stamp order.
pub(super) async fn insert_ops(tx: &mut Tx<'_>, run_id: i64, ops: &[String]) -> StoreResult<()> {
    for (c, chunk) in ops.chunks(super::dialect::BATCH).enumerate() {
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO sync_ops (run_id, seq, op) VALUES {}",
            placeholders(chunk.len(), 3, 1)
        )));
        for (i, op) in chunk.iter().enumerate() {
            q = q
                .bind(run_id)
                .bind((c * super::dialect::BATCH + i) as i64)
                .bind(op);
        }
        q.execute(tx.c()).await?;
    }
    Ok(())
}

#[async_trait]
impl Sources for Db {
    async fn create_source(
        &self,
        owner_id: i64,
        name: &str,
        kind: SourceKind,
        collection_id: i64,
        location: Option<&str>,
        rules: &str,
    ) -> StoreResult<Source> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO sources (owner_id, name, kind, collection_id, location, rules, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {SOURCE_COLS}"
        )))
        .bind(owner_id)
        .bind(name)
        .bind(kind.as_str())
        .bind(collection_id)
        .bind(location)
        .bind(rules)
        .bind(now_ms())
        .fetch_one(&self.writer)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                StoreError::Exists(format!("source {name:?}"))
            } else {
                StoreError::Db(e)
            }
        })?;
        source_row(&row)
    }

    async fn sources(&self, owner_id: i64) -> StoreResult<Vec<Source>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE owner_id = $1 ORDER BY name"
        )))
        .bind(owner_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(source_row).collect()
    }

    async fn source(&self, id: i64) -> StoreResult<Option<Source>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(source_row).transpose()
    }

    async fn source_by_name(&self, owner_id: i64, name: &str) -> StoreResult<Option<Source>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE owner_id = $1 AND name = $2"
        )))
        .bind(owner_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(source_row).transpose()
    }

    async fn scheduled_sources(&self) -> StoreResult<Vec<Source>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE applied_once = TRUE AND {} ORDER BY id",
            self.dialect.json_is_true("rules", &["schedule", "auto"])
        )))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(source_row).collect()
    }

    async fn patch_source(&self, id: i64, patch: SourcePatch) -> StoreResult<()> {
        let q = match &patch {
            SourcePatch::Rules(r) => {
                sqlx::query("UPDATE sources SET rules = $1 WHERE id = $2").bind(r)
            }
            SourcePatch::Location(l) => {
                sqlx::query("UPDATE sources SET location = $1 WHERE id = $2").bind(l)
            }
            SourcePatch::Collection(c) => {
                sqlx::query("UPDATE sources SET collection_id = $1 WHERE id = $2").bind(c)
            }
            SourcePatch::Cursor(c) => {
                sqlx::query("UPDATE sources SET cursor = $1 WHERE id = $2").bind(c)
            }
            SourcePatch::Status(s, d) => {
                sqlx::query("UPDATE sources SET status = $1, status_detail = $2 WHERE id = $3")
                    .bind(s.as_str())
                    .bind(d)
            }
            SourcePatch::Schedule {
                last_run_at,
                next_run_at,
            } => sqlx::query(
                "UPDATE sources SET last_run_at = COALESCE($1, last_run_at), next_run_at = $2 WHERE id = $3",
            )
            .bind(last_run_at)
            .bind(next_run_at),
        };
        q.bind(id).execute(&self.writer).await?;
        Ok(())
    }

    async fn delete_source(&self, id: i64, delete_cards: bool) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let mut deleted = 0;
        let found: Option<(i64, String)> =
            sqlx::query_as("SELECT collection_id, name FROM sources WHERE id = $1")
                .bind(id)
                .fetch_optional(tx.c())
                .await?;
        if delete_cards && let Some((coll, source)) = found {
            tx.lock_collection(coll).await?;
            // Only cards no other source is linked to: removing one source never takes
            // another's contacts with it.
            let cards: Vec<(i64, String)> = sqlx::query_as(
                "SELECT o.id, o.name FROM source_items s JOIN objects o ON o.collection_id = $2 AND o.name = s.card \
                 WHERE s.source_id = $1 AND s.state = 'linked' \
                 AND NOT EXISTS (SELECT 1 FROM source_items x WHERE x.card = s.card AND x.source_id <> s.source_id \
                 AND x.state = 'linked' AND x.source_id IN (SELECT id FROM sources WHERE collection_id = $2))",
            )
            .bind(id)
            .bind(coll)
            .fetch_all(tx.c())
            .await?;
            let actor = Actor::Command(format!("removal of source {source}"));
            for (object_id, card) in cards {
                let seq = Self::next_seq(&mut tx, coll).await?;
                Self::remove_object(&mut tx, coll, object_id, &card, seq, &actor).await?;
                deleted += 1;
            }
        }
        sqlx::query("DELETE FROM sources WHERE id = $1")
            .bind(id)
            .execute(tx.c())
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn mappings(&self, source_id: i64) -> StoreResult<Vec<(String, Mapping)>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MAPPING_COLS} FROM source_items WHERE source_id = $1"
        )))
        .bind(source_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().filter_map(|r| mapping_row(r, 0)).collect())
    }

    async fn mapping_counts(
        &self,
        source_id: i64,
    ) -> StoreResult<std::collections::BTreeMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) FROM source_items WHERE source_id = $1 GROUP BY state",
        )
        .bind(source_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect())
    }

    async fn book_links(&self, collection_id: i64) -> StoreResult<Vec<BookLink>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT s.id, s.name, {MAPPING_COLS} FROM source_items i JOIN sources s ON s.id = i.source_id \
             WHERE s.collection_id = $1 AND i.card IS NOT NULL AND i.state IN ('linked', 'unlinked')"
        )))
        .bind(collection_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let (_, mapping) = mapping_row(r, 2)?;
                Some(BookLink {
                    source_id: r.get(0),
                    source_name: r.get(1),
                    mapping,
                })
            })
            .collect())
    }

    async fn create_run(&self, run: &NewRun<'_>, ops: &[String]) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_runs (source_id, kind, trigger, status, undo_of, created_at, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(run.source_id)
        .bind(run.kind.as_str())
        .bind(run.trigger.as_str())
        .bind(run.status.as_str())
        .bind(run.undo_of)
        .bind(now_ms())
        .bind(run.summary)
        .fetch_one(tx.c())
        .await?;
        insert_ops(&mut tx, id, ops).await?;
        sqlx::query("UPDATE sources SET last_run_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(run.source_id)
            .execute(tx.c())
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn run(&self, id: i64) -> StoreResult<Option<Run>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM sync_runs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(run_row).transpose()
    }

    async fn runs(
        &self,
        owner_id: i64,
        source_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM sync_runs WHERE source_id IN (SELECT id FROM sources WHERE owner_id = $1) \
             AND (CAST($2 AS BIGINT) IS NULL OR source_id = $2) ORDER BY id DESC LIMIT $3"
        )))
        .bind(owner_id)
        .bind(source_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(run_row).collect()
    }

    async fn run_ops(&self, run_id: i64) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT op FROM sync_ops WHERE run_id = $1 ORDER BY seq")
                .bind(run_id)
                .fetch_all(&self.reader)
                .await?,
        )
    }

    async fn set_run_status(
        &self,
        id: i64,
        status: RunStatus,
        message: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sync_runs SET status = $1, message = COALESCE($2, message) WHERE id = $3",
        )
        .bind(status.as_str())
        .bind(message)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn undo_records(&self, run_id: i64) -> StoreResult<Vec<UndoRecord>> {
        let rows = sqlx::query(
            "SELECT card, card_uid, card_before, card_after_etag, remote_id, mapping_before \
             FROM sync_undo WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| UndoRecord {
                card: r.get(0),
                card_uid: r
                    .get::<Option<String>, _>(1)
                    .map(|u| self.dialect.text_out(u)),
                card_before: r.get(2),
                card_after_etag: r.get(3),
                remote_id: r.get(4),
                mapping_before: r
                    .get::<Option<String>, _>(5)
                    .and_then(|m| serde_json::from_str(&m).ok()),
            })
            .collect())
    }

    async fn apply_run(
        &self,
        run_id: i64,
        source_id: i64,
        collection_id: i64,
        ops: &[ApplyOp],
        plan_ops: &[String],
        undone_run: Option<i64>,
    ) -> StoreResult<ApplyOutcome> {
        self.apply(run_id, source_id, collection_id, ops, plan_ops, undone_run)
            .await
    }

    async fn add_run_ops(&self, run_id: i64, ops: &[String]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_ops(&mut tx, run_id, ops).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_event(
        &self,
        user_id: i64,
        source_id: Option<i64>,
        level: &str,
        message: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO events (user_id, source_id, at, level, message) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(source_id)
        .bind(now_ms())
        .bind(level)
        .bind(message)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn events(&self, user_id: i64, limit: i64) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT e.at, e.level, s.name, e.message FROM events e LEFT JOIN sources s ON s.id = e.source_id \
             WHERE e.user_id = $1 ORDER BY e.id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Event {
                at: r.get(0),
                level: r.get(1),
                source: r.get(2),
                message: r.get(3),
            })
            .collect())
    }
}
