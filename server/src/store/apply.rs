//! Applying a run: the plan's card and mapping writes in one transaction, each preceded by
//! its precondition, with before-images kept for undo.

use super::db::{Db, Tx};
use super::dialect::{list, placeholders};
use super::sources::{ApplyOp, ApplyOutcome, CardWrite, MappingWrite, NewCard, UndoRecord};
use super::sources_db::{current_mapping, insert_ops, is_fresh, json, unique_violation};
use super::{Actor, NewObject, StoreError, StoreResult, now_ms};
use kith_connectors::plan::Mapping;
use sqlx::{AssertSqlSafe, Row};

async fn insert_undo(tx: &mut Tx<'_>, run_id: i64, records: &[UndoRecord]) -> StoreResult<()> {
    let dialect = tx.dialect;
    for (c, chunk) in records.chunks(super::dialect::BATCH).enumerate() {
        let sql = format!(
            "INSERT INTO sync_undo (run_id, seq, card, card_uid, card_before, card_after_etag, remote_id, mapping_before) VALUES {}",
            placeholders(chunk.len(), 8, 1)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (i, u) in chunk.iter().enumerate() {
            q = q
                .bind(run_id)
                .bind((c * super::dialect::BATCH + i) as i64)
                .bind(&u.card)
                .bind(u.card_uid.as_deref().map(|u| dialect.text_in(u)))
                .bind(&u.card_before)
                .bind(&u.card_after_etag)
                .bind(&u.remote_id)
                .bind(u.mapping_before.as_ref().map(json));
        }
        q.execute(tx.c()).await?;
    }
    Ok(())
}

/// Inserts a batch of [`is_fresh`] ops with stamps `first..`; a name or link that exists
/// already makes the plan stale.
async fn insert_fresh(
    tx: &mut Tx<'_>,
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
    if cards.is_empty() {
        return Ok(Ok(()));
    }
    let dialect = tx.dialect;
    let now = now_ms();
    let by = actor.to_string();
    let mut q = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO objects (collection_id, name, uid, etag, content_type, size, data, seq, modified_at, changed_by, first_start, last_end) \
         VALUES {} RETURNING id, name",
        placeholders(cards.len(), 12, 1)
    )));
    for (i, (cw, p, _, _)) in cards.iter().enumerate() {
        q = q
            .bind(collection_id)
            .bind(&cw.name)
            .bind(dialect.text_in(&p.uid))
            .bind(&p.etag)
            .bind(&p.content_type)
            .bind(p.data.len() as i64)
            .bind(&p.data)
            .bind(first + i as i64)
            .bind(now)
            .bind(&by)
            .bind(p.span.map(|s| s.0))
            .bind(p.span.map(|s| s.1));
    }
    let ids = match q.fetch_all(tx.c()).await {
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
    let mut index: Vec<(i64, &str, String)> = cards
        .iter()
        .flat_map(|(cw, p, _, _)| {
            let id = ids.get(&cw.name).copied().unwrap_or(0);
            p.index
                .iter()
                .map(move |(k, v)| (id, k.as_str(), dialect.text_in(v)))
        })
        .collect();
    index.sort_unstable_by(|a, b| (a.1, &a.2, a.0).cmp(&(b.1, &b.2, b.0)));
    index.dedup();
    // DO NOTHING: a card may repeat a value (two identical EMAIL lines).
    for chunk in index.chunks(super::dialect::BATCH) {
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO object_index (object_id, collection_id, prop, value) VALUES {} \
             ON CONFLICT DO NOTHING",
            placeholders(chunk.len(), 4, 1)
        )));
        for (id, k, v) in chunk {
            q = q.bind(id).bind(collection_id).bind(*k).bind(v);
        }
        q.execute(tx.c()).await?;
    }
    for chunk in cards.chunks(super::dialect::BATCH) {
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM tombstones WHERE collection_id = $1 AND name IN ({})",
            list(chunk.len(), 2)
        )))
        .bind(collection_id);
        for (cw, ..) in chunk {
            q = q.bind(&cw.name);
        }
        q.execute(tx.c()).await?;
    }
    let mut q = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO source_items (source_id, remote_id, card, state, version, base, card_etag, updated_at) VALUES {}",
        placeholders(cards.len(), 8, 1)
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
    match q.execute(tx.c()).await {
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
            card_after_etag: Some(p.etag.clone()),
            remote_id: Some(remote.to_string()),
            ..UndoRecord::default()
        });
    }
    Ok(Ok(()))
}

impl Db {
    /// Applies one card write at change stamp `seq`; `Err(message)` when its precondition fails.
    async fn write_card(
        tx: &mut Tx<'_>,
        collection_id: i64,
        cw: &CardWrite,
        seq: i64,
        undo: &mut UndoRecord,
        actor: &Actor,
    ) -> StoreResult<Result<(), String>> {
        let row = sqlx::query(
            "SELECT id, etag, uid, data FROM objects WHERE collection_id = $1 AND name = $2",
        )
        .bind(collection_id)
        .bind(&cw.name)
        .fetch_optional(tx.c())
        .await?;
        let now: Option<(i64, String, String, Vec<u8>)> =
            row.map(|r| (r.get(0), r.get(1), tx.dialect.text_out(r.get(2)), r.get(3)));
        if now.as_ref().map(|c| &c.1) != cw.expect_etag.as_ref() {
            return Ok(Err(match now {
                Some(_) => format!("the card {} changed since the plan was made", cw.name),
                None => format!("the card {} was deleted since the plan was made", cw.name),
            }));
        }
        undo.card = Some(cw.name.clone());
        undo.card_uid = now.as_ref().map(|c| c.2.clone());
        undo.card_after_etag = cw.put.as_ref().map(|p| p.etag.clone());
        match (&cw.put, now) {
            (Some(p), cur) => {
                let obj = NewObject {
                    name: &cw.name,
                    uid: &p.uid,
                    etag: &p.etag,
                    content_type: &p.content_type,
                    data: &p.data,
                    index: p
                        .index
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.clone()))
                        .collect(),
                    span: p.span,
                };
                let id = cur.as_ref().map(|c| c.0);
                match Self::store_object(tx, collection_id, id, &obj, seq, actor).await {
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
                    Some(c) => undo.card_before = Some(c.3),
                    None => undo.card_uid = Some(p.uid.clone()),
                }
            }
            (None, Some(cur)) => {
                Self::remove_object(tx, collection_id, cur.0, &cw.name, seq, actor).await?;
                undo.card_before = Some(cur.3);
            }
            (None, None) => {}
        }
        Ok(Ok(()))
    }
}

impl Db {
    pub(super) async fn apply(
        &self,
        run_id: i64,
        source_id: i64,
        collection_id: i64,
        ops: &[ApplyOp],
        plan_ops: &[String],
        undone_run: Option<i64>,
    ) -> StoreResult<ApplyOutcome> {
        let mut tx = self.begin().await?;
        // Taking the stamps locks the collection until commit (see Db).
        let writes = ops.iter().filter(|o| o.card.is_some()).count() as i64;
        tx.bumped = writes > 0;
        let last: i64 = sqlx::query_scalar(
            "UPDATE collections SET seq = seq + $1, modified_at = $2 WHERE id = $3 RETURNING seq",
        )
        .bind(writes)
        .bind(now_ms())
        .bind(collection_id)
        .fetch_one(tx.c())
        .await?;
        let source: String = sqlx::query_scalar("SELECT name FROM sources WHERE id = $1")
            .bind(source_id)
            .fetch_one(tx.c())
            .await?;
        let actor = &match undone_run {
            Some(run) => Actor::Undo { source, run },
            None => Actor::Source {
                source,
                run: run_id,
            },
        };
        insert_ops(&mut tx, run_id, plan_ops).await?;
        let mut seq = last - writes;
        let mut undo = Vec::new();
        let (fresh, rest): (Vec<&ApplyOp>, Vec<&ApplyOp>) = ops.iter().partition(|o| is_fresh(o));
        for chunk in fresh.chunks(super::dialect::BATCH) {
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
            let mut rec = UndoRecord::default();
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
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source_id, remote_id) DO UPDATE SET \
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
                    .execute(tx.c())
                    .await?;
                }
                MappingWrite::Remove => {
                    sqlx::query("DELETE FROM source_items WHERE source_id = $1 AND remote_id = $2")
                        .bind(source_id)
                        .bind(&op.remote_id)
                        .execute(tx.c())
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
        sqlx::query("UPDATE sync_runs SET status = 'applied', applied_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(run_id)
            .execute(tx.c())
            .await?;
        if let Some(u) = undone_run {
            sqlx::query("UPDATE sync_runs SET status = 'undone' WHERE id = $1")
                .bind(u)
                .execute(tx.c())
                .await?;
        }
        sqlx::query(
            "UPDATE sources SET applied_once = TRUE, status = 'ready', status_detail = NULL WHERE id = $1",
        )
        .bind(source_id)
        .execute(tx.c())
        .await?;
        tx.commit().await?;
        Ok(ApplyOutcome::Applied)
    }
}
