//! [`SyncStore`] on SQLite.

use super::sources::{
    ApplyOp, ApplyOutcome, BookLink, CardWrite, Event, MappingWrite, NewCard, NewRun, Run, Source,
    SourcePatch, SyncStore, UndoRecord,
};
use super::sqlite::SqliteStore;
use super::{Actor, NewObject, StoreError, StoreResult, now_ms};
use async_trait::async_trait;
use kith_connectors::plan::{LinkState, Mapping};
use kith_connectors::record::Record;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, Sqlite, Transaction};

/// The content type of cards Kith writes, as a PUT of a vCard stores it.
pub(super) const CARD_TYPE: &str = "text/vcard; charset=utf-8";

pub(super) const SOURCE_COLS: &str = "id, owner_id, name, kind, collection_id, location, rules, status, \
     status_detail, applied_once, last_run_at, next_run_at, created_at, cursor";
pub(super) const RUN_COLS: &str =
    "id, source_id, kind, trigger, status, undo_of, created_at, applied_at, summary, message";
pub(super) const MAPPING_COLS: &str = "remote_id, card, state, version, base, card_etag";

fn source_row(r: &SqliteRow) -> Source {
    Source {
        id: r.get(0),
        owner_id: r.get(1),
        name: r.get(2),
        kind: r.get(3),
        collection_id: r.get(4),
        location: r.get(5),
        rules: r.get(6),
        status: r.get(7),
        status_detail: r.get(8),
        applied_once: r.get::<i64, _>(9) != 0,
        last_run_at: r.get(10),
        next_run_at: r.get(11),
        created_at: r.get(12),
        cursor: r.get(13),
    }
}

fn run_row(r: &SqliteRow) -> Run {
    Run {
        id: r.get(0),
        source_id: r.get(1),
        kind: r.get(2),
        trigger: r.get(3),
        status: r.get(4),
        undo_of: r.get(5),
        created_at: r.get(6),
        applied_at: r.get(7),
        summary: r.get(8),
        message: r.get(9),
    }
}

/// A mapping row (from `MAPPING_COLS` at `offset`); rows this version cannot read are skipped.
fn mapping_row(r: &SqliteRow, offset: usize) -> Option<(String, Mapping)> {
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

pub(super) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

async fn current_mapping(
    tx: &mut Transaction<'_, Sqlite>,
    source_id: i64,
    remote_id: &str,
) -> StoreResult<Option<Mapping>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {MAPPING_COLS} FROM source_items WHERE source_id = ? AND remote_id = ?"
    )))
    .bind(source_id)
    .bind(remote_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(|r| mapping_row(&r, 0)).map(|(_, m)| m))
}

struct CardNow {
    id: i64,
    etag: String,
    uid: String,
    data: Vec<u8>,
}

async fn current_card(
    tx: &mut Transaction<'_, Sqlite>,
    collection_id: i64,
    name: &str,
) -> StoreResult<Option<CardNow>> {
    let row =
        sqlx::query("SELECT id, etag, uid, data FROM objects WHERE collection_id = ? AND name = ?")
            .bind(collection_id)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|r| CardNow {
        id: r.get(0),
        etag: r.get(1),
        uid: r.get(2),
        data: r.get(3),
    }))
}

async fn insert_ops(
    tx: &mut Transaction<'_, Sqlite>,
    run_id: i64,
    ops: &[String],
) -> StoreResult<()> {
    for (c, chunk) in ops.chunks(300).enumerate() {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO sync_ops (run_id, seq, op) VALUES {rows}"
        )));
        for (i, op) in chunk.iter().enumerate() {
            q = q.bind(run_id).bind((c * 300 + i) as i64).bind(op);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_undo(
    tx: &mut Transaction<'_, Sqlite>,
    run_id: i64,
    records: &[UndoRecord],
) -> StoreResult<()> {
    for (c, chunk) in records.chunks(100).enumerate() {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO sync_undo (run_id, seq, card, card_uid, card_before, card_after_etag, remote_id, mapping_before) VALUES {rows}"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (i, u) in chunk.iter().enumerate() {
            q = q
                .bind(run_id)
                .bind((c * 100 + i) as i64)
                .bind(&u.card)
                .bind(&u.card_uid)
                .bind(&u.card_before)
                .bind(&u.card_after_etag)
                .bind(&u.remote_id)
                .bind(u.mapping_before.as_ref().map(json));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A new card with a new link: nothing to read first, so it can be written in a batch.
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

/// Inserts a batch of [`is_fresh`] ops (at most 400: the statements stay under SQLite's
/// bound-parameter limit) with stamps `first..`. The card names and links must not
/// exist yet; if one does, the plan is stale.
async fn insert_fresh(
    tx: &mut Transaction<'_, Sqlite>,
    source_id: i64,
    collection_id: i64,
    ops: &[&ApplyOp],
    first: i64,
    undo: &mut Vec<UndoRecord>,
    actor: &Actor,
) -> StoreResult<Result<(), String>> {
    let cards: Vec<(&CardWrite, &NewCard, &Mapping, &str)> = ops
        .iter()
        .filter_map(|o| match (&o.card, &o.mapping) {
            (Some(cw), MappingWrite::Put(m)) => {
                Some((cw, cw.put.as_ref()?, m, o.remote_id.as_str()))
            }
            _ => None,
        })
        .collect();
    let now = now_ms();
    let by = actor.to_string();
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; cards.len()].join(", ");
    let mut q = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO objects (collection_id, name, uid, etag, content_type, size, data, seq, modified_at, changed_by) \
         VALUES {rows} RETURNING id, name"
    )));
    for (i, (cw, p, _, _)) in cards.iter().enumerate() {
        q = q
            .bind(collection_id)
            .bind(&cw.name)
            .bind(&p.uid)
            .bind(&p.etag)
            .bind(CARD_TYPE)
            .bind(p.data.len() as i64)
            .bind(&p.data)
            .bind(first + i as i64)
            .bind(now)
            .bind(&by);
    }
    let ids = match q.fetch_all(&mut **tx).await {
        Ok(rows) => rows,
        Err(e) if unique_violation(&e) => {
            return Ok(Err("a card the plan creates already exists".into()));
        }
        Err(e) => return Err(e.into()),
    };
    let ids: std::collections::HashMap<String, i64> = ids
        .iter()
        .map(|r| (r.get::<String, _>(1), r.get::<i64, _>(0)))
        .collect();
    let mut index: Vec<(i64, &str, &str)> = cards
        .iter()
        .flat_map(|(cw, p, _, _)| {
            let id = ids.get(&cw.name).copied().unwrap_or(0);
            p.index
                .iter()
                .map(move |(k, v)| (id, k.as_str(), v.as_str()))
        })
        .collect();
    // In key order, consecutive rows land on the same index pages.
    index.sort_unstable_by(|a, b| (a.1, a.2, a.0).cmp(&(b.1, b.2, b.0)));
    for chunk in index.chunks(1000) {
        let rows = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "INSERT OR IGNORE INTO object_index (object_id, collection_id, prop, value) VALUES {rows}"
        )));
        for (id, k, v) in chunk {
            q = q.bind(id).bind(collection_id).bind(*k).bind(*v);
        }
        q.execute(&mut **tx).await?;
    }
    let marks = vec!["?"; cards.len()].join(", ");
    let mut q = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM tombstones WHERE collection_id = ? AND name IN ({marks})"
    )))
    .bind(collection_id);
    for (cw, _, _, _) in &cards {
        q = q.bind(&cw.name);
    }
    q.execute(&mut **tx).await?;
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; cards.len()].join(", ");
    let mut q = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO source_items (source_id, remote_id, card, state, version, base, card_etag, updated_at) VALUES {rows}"
    )));
    for (_, _, m, remote) in &cards {
        q = q
            .bind(source_id)
            .bind(*remote)
            .bind(&m.card)
            .bind(m.state.as_str())
            .bind(&m.version)
            .bind(m.base.as_ref().map(json))
            .bind(&m.card_etag)
            .bind(now);
    }
    match q.execute(&mut **tx).await {
        Ok(_) => {}
        Err(e) if unique_violation(&e) => {
            return Ok(Err(
                "a contact the plan links for the first time is already linked".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    for (cw, p, _, remote) in cards {
        undo.push(UndoRecord {
            card: Some(cw.name.clone()),
            card_uid: Some(p.uid.clone()),
            card_before: None,
            card_after_etag: Some(p.etag.clone()),
            remote_id: Some(remote.to_string()),
            mapping_before: None,
        });
    }
    Ok(Ok(()))
}

impl SqliteStore {
    /// Applies one card write at change stamp `seq`; `Err(message)` when its precondition fails.
    async fn write_card(
        tx: &mut Transaction<'_, Sqlite>,
        collection_id: i64,
        cw: &super::sources::CardWrite,
        seq: i64,
        undo: &mut UndoRecord,
        actor: &Actor,
    ) -> StoreResult<Result<(), String>> {
        let now = current_card(tx, collection_id, &cw.name).await?;
        if now.as_ref().map(|c| &c.etag) != cw.expect_etag.as_ref() {
            return Ok(Err(match now {
                Some(_) => format!("the card {} changed since the plan was made", cw.name),
                None => format!("the card {} was deleted since the plan was made", cw.name),
            }));
        }
        undo.card = Some(cw.name.clone());
        undo.card_uid = now.as_ref().map(|c| c.uid.clone());
        undo.card_after_etag = cw.put.as_ref().map(|p| p.etag.clone());
        match (&cw.put, now) {
            (Some(p), cur) => {
                let obj = NewObject {
                    name: &cw.name,
                    uid: &p.uid,
                    etag: &p.etag,
                    content_type: CARD_TYPE,
                    data: &p.data,
                    index: p
                        .index
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.clone()))
                        .collect(),
                    span: None,
                };
                match Self::store_object(
                    tx,
                    collection_id,
                    cur.as_ref().map(|c| c.id),
                    &obj,
                    seq,
                    actor,
                )
                .await
                {
                    Ok(_) => {}
                    // Another card took this UID since: only possible for an undo that
                    // re-creates a card.
                    Err(StoreError::Db(e)) if unique_violation(&e) => {
                        return Ok(Err(format!(
                            "the card {} cannot be restored: another card now has its UID",
                            cw.name
                        )));
                    }
                    Err(e) => return Err(e),
                }
                match cur {
                    Some(c) => undo.card_before = Some(c.data),
                    None => undo.card_uid = Some(p.uid.clone()),
                }
            }
            (None, Some(cur)) => {
                Self::remove_object(tx, collection_id, cur.id, &cw.name, seq, actor).await?;
                undo.card_before = Some(cur.data);
            }
            (None, None) => {}
        }
        Ok(Ok(()))
    }
}

#[async_trait]
impl SyncStore for SqliteStore {
    async fn create_source(
        &self,
        owner_id: i64,
        name: &str,
        kind: &str,
        collection_id: i64,
        location: Option<&str>,
        rules: &str,
    ) -> StoreResult<Source> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO sources (owner_id, name, kind, collection_id, location, rules, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {SOURCE_COLS}"
        )))
        .bind(owner_id)
        .bind(name)
        .bind(kind)
        .bind(collection_id)
        .bind(location)
        .bind(rules)
        .bind(now_ms())
        .fetch_one(&self.writer)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Exists(format!("source {name:?}"))
            }
            _ => StoreError::Db(e),
        })?;
        Ok(source_row(&row))
    }

    async fn sources(&self, owner_id: i64) -> StoreResult<Vec<Source>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE owner_id = ? ORDER BY name"
        )))
        .bind(owner_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(source_row).collect())
    }

    async fn source(&self, id: i64) -> StoreResult<Option<Source>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(source_row))
    }

    async fn source_by_name(&self, owner_id: i64, name: &str) -> StoreResult<Option<Source>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE owner_id = ? AND name = ?"
        )))
        .bind(owner_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(source_row))
    }

    async fn scheduled_sources(&self) -> StoreResult<Vec<Source>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE applied_once = 1 \
             AND json_extract(rules, '$.schedule.auto') = 1 ORDER BY id"
        )))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(source_row).collect())
    }

    async fn patch_source(&self, id: i64, patch: SourcePatch) -> StoreResult<()> {
        let q = match &patch {
            SourcePatch::Rules(r) => sqlx::query("UPDATE sources SET rules = ? WHERE id = ?").bind(r),
            SourcePatch::Location(l) => {
                sqlx::query("UPDATE sources SET location = ? WHERE id = ?").bind(l)
            }
            SourcePatch::Collection(c) => {
                sqlx::query("UPDATE sources SET collection_id = ? WHERE id = ?").bind(c)
            }
            SourcePatch::Cursor(c) => sqlx::query("UPDATE sources SET cursor = ? WHERE id = ?").bind(c),
            SourcePatch::Status(s, d) => {
                sqlx::query("UPDATE sources SET status = ?, status_detail = ? WHERE id = ?")
                    .bind(s)
                    .bind(d)
            }
            SourcePatch::Schedule {
                last_run_at,
                next_run_at,
            } => sqlx::query(
                "UPDATE sources SET last_run_at = COALESCE(?, last_run_at), next_run_at = ? WHERE id = ?",
            )
            .bind(last_run_at)
            .bind(next_run_at),
        };
        q.bind(id).execute(&self.writer).await?;
        Ok(())
    }

    async fn delete_source(&self, id: i64, delete_cards: bool) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        let mut deleted = 0;
        if delete_cards {
            let coll: Option<i64> =
                sqlx::query_scalar("SELECT collection_id FROM sources WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            // Only cards no other source is linked to: removing one source never takes
            // another's contacts with it.
            let cards: Vec<String> = sqlx::query_scalar(
                "SELECT card FROM source_items s WHERE source_id = ? AND state = 'linked' AND card IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM source_items o WHERE o.card = s.card AND o.source_id <> s.source_id \
                 AND o.state = 'linked' AND o.source_id IN (SELECT id FROM sources WHERE collection_id = ?))",
            )
            .bind(id)
            .bind(coll)
            .fetch_all(&mut *tx)
            .await?;
            if let Some(coll) = coll {
                let source: String = sqlx::query_scalar("SELECT name FROM sources WHERE id = ?")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                let actor = Actor::Command(format!("removal of source {source}"));
                for card in cards {
                    let found: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM objects WHERE collection_id = ? AND name = ?",
                    )
                    .bind(coll)
                    .bind(&card)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(object_id) = found {
                        let seq = Self::next_seq(&mut tx, coll).await?;
                        Self::remove_object(&mut tx, coll, object_id, &card, seq, &actor).await?;
                        deleted += 1;
                    }
                }
            }
        }
        sqlx::query("DELETE FROM sources WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn mappings(&self, source_id: i64) -> StoreResult<Vec<(String, Mapping)>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MAPPING_COLS} FROM source_items WHERE source_id = ?"
        )))
        .bind(source_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().filter_map(|r| mapping_row(r, 0)).collect())
    }

    async fn book_links(&self, collection_id: i64) -> StoreResult<Vec<BookLink>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT s.id, s.name, {MAPPING_COLS} FROM source_items i JOIN sources s ON s.id = i.source_id \
             WHERE s.collection_id = ? AND i.card IS NOT NULL AND i.state IN ('linked', 'unlinked')"
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
        let mut tx = self.writer.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_runs (source_id, kind, trigger, status, undo_of, created_at, summary) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(run.source_id)
        .bind(run.kind)
        .bind(run.trigger)
        .bind(run.status)
        .bind(run.undo_of)
        .bind(now_ms())
        .bind(run.summary)
        .fetch_one(&mut *tx)
        .await?;
        insert_ops(&mut tx, id, ops).await?;
        sqlx::query("UPDATE sources SET last_run_at = ? WHERE id = ?")
            .bind(now_ms())
            .bind(run.source_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn run(&self, id: i64) -> StoreResult<Option<Run>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM sync_runs WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(run_row))
    }

    async fn runs(
        &self,
        owner_id: i64,
        source_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM sync_runs WHERE source_id IN (SELECT id FROM sources WHERE owner_id = ?) \
             AND (? IS NULL OR source_id = ?) ORDER BY id DESC LIMIT ?"
        )))
        .bind(owner_id)
        .bind(source_id)
        .bind(source_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(run_row).collect())
    }

    async fn run_ops(&self, run_id: i64) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT op FROM sync_ops WHERE run_id = ? ORDER BY seq")
                .bind(run_id)
                .fetch_all(&self.reader)
                .await?,
        )
    }

    async fn set_run_status(
        &self,
        id: i64,
        status: &str,
        message: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE sync_runs SET status = ?, message = COALESCE(?, message) WHERE id = ?")
            .bind(status)
            .bind(message)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn undo_records(&self, run_id: i64) -> StoreResult<Vec<UndoRecord>> {
        let rows = sqlx::query(
            "SELECT card, card_uid, card_before, card_after_etag, remote_id, mapping_before \
             FROM sync_undo WHERE run_id = ? ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| UndoRecord {
                card: r.get(0),
                card_uid: r.get(1),
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
        let mut tx = self.writer.begin().await?;
        let source: String = sqlx::query_scalar("SELECT name FROM sources WHERE id = ?")
            .bind(source_id)
            .fetch_one(&mut *tx)
            .await?;
        let actor = &match undone_run {
            Some(run) => Actor::Undo { source, run },
            None => Actor::Source {
                source,
                run: run_id,
            },
        };
        insert_ops(&mut tx, run_id, plan_ops).await?;
        // A large run inserts at random places in several indexes (UUID names, index values);
        // with SQLite's default 2 MiB cache most inserts re-read a page. The cache is widened
        // for this transaction and narrowed again after it, so a serving writer stays small.
        sqlx::query("PRAGMA cache_size = -65536")
            .execute(&mut *tx)
            .await?;
        // One stamp per card write, allocated in one step: sync-collection pages by stamp.
        let writes = ops.iter().filter(|o| o.card.is_some()).count() as i64;
        let last: i64 = sqlx::query_scalar(
            "UPDATE collections SET seq = seq + ?, modified_at = ? WHERE id = ? RETURNING seq",
        )
        .bind(writes)
        .bind(now_ms())
        .bind(collection_id)
        .fetch_one(&mut *tx)
        .await?;
        let mut seq = last - writes;
        let mut undo = Vec::new();
        // New cards with new links (the bulk of a first import) go in by the hundreds: one
        // statement per table per batch instead of six per card.
        let (fresh, rest): (Vec<&ApplyOp>, Vec<&ApplyOp>) = ops.iter().partition(|o| is_fresh(o));
        for chunk in fresh.chunks(400) {
            let first = seq + 1;
            seq += chunk.len() as i64;
            if let Err(m) = insert_fresh(
                &mut tx,
                source_id,
                collection_id,
                chunk,
                first,
                &mut undo,
                actor,
            )
            .await?
            {
                return Ok(ApplyOutcome::Stale(m));
            }
        }
        for op in rest {
            let mut rec = UndoRecord {
                card: None,
                card_uid: None,
                card_before: None,
                card_after_etag: None,
                remote_id: None,
                mapping_before: None,
            };
            let needs_mapping =
                !matches!(op.mapping, MappingWrite::Keep) || op.expect_mapping.is_some();
            let before = if needs_mapping {
                current_mapping(&mut tx, source_id, &op.remote_id).await?
            } else {
                None
            };
            if let Some(expect) = &op.expect_mapping
                && Mapping::fingerprint(before.as_ref()) != *expect
            {
                return Ok(ApplyOutcome::Stale(format!(
                    "the link of {} changed since the plan was made",
                    op.remote_id
                )));
            }
            if let Some(cw) = &op.card {
                seq += 1;
                if let Err(m) =
                    Self::write_card(&mut tx, collection_id, cw, seq, &mut rec, actor).await?
                {
                    return Ok(ApplyOutcome::Stale(m));
                }
            }
            match &op.mapping {
                MappingWrite::Keep => {}
                MappingWrite::Put(m) => {
                    sqlx::query(
                        "INSERT INTO source_items (source_id, remote_id, card, state, version, base, card_etag, updated_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, remote_id) DO UPDATE SET \
                         card = excluded.card, state = excluded.state, version = excluded.version, base = excluded.base, \
                         card_etag = excluded.card_etag, updated_at = excluded.updated_at",
                    )
                    .bind(source_id)
                    .bind(&op.remote_id)
                    .bind(&m.card)
                    .bind(m.state.as_str())
                    .bind(&m.version)
                    .bind(m.base.as_ref().map(json))
                    .bind(&m.card_etag)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await?;
                }
                MappingWrite::Remove => {
                    sqlx::query("DELETE FROM source_items WHERE source_id = ? AND remote_id = ?")
                        .bind(source_id)
                        .bind(&op.remote_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if !matches!(op.mapping, MappingWrite::Keep) {
                rec.remote_id = Some(op.remote_id.clone());
                rec.mapping_before = before;
            }
            if rec.card.is_some() || rec.remote_id.is_some() {
                undo.push(rec);
            }
        }
        insert_undo(&mut tx, run_id, &undo).await?;
        let now = now_ms();
        sqlx::query("UPDATE sync_runs SET status = 'applied', applied_at = ? WHERE id = ?")
            .bind(now)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        if let Some(u) = undone_run {
            sqlx::query("UPDATE sync_runs SET status = 'undone' WHERE id = ?")
                .bind(u)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE sources SET applied_once = 1, status = 'ready', status_detail = NULL WHERE id = ?",
        )
        .bind(source_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let _ = sqlx::query("PRAGMA cache_size = -2000")
            .execute(&self.writer)
            .await;
        Ok(ApplyOutcome::Applied)
    }

    async fn add_run_ops(&self, run_id: i64, ops: &[String]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
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
            "INSERT INTO events (user_id, source_id, at, level, message) VALUES (?, ?, ?, ?, ?)",
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
             WHERE e.user_id = ? ORDER BY e.id DESC LIMIT ?",
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
