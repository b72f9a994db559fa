//! Applying a stored plan: its operations become card and mapping writes in one store
//! transaction, then writes to the source where the rules allow; and undoing a run.

use super::*;
use kith_connectors::object::ObjectKind;

/// An op as stored. A plan kept for later keeps what applying it needs, except a new card's
/// text, which is made again from its UID and record. A plan applied at once is kept as a
/// record for `kith sync show` only: without card texts and mapping rows, which the book and
/// the mapping table now hold (this halves what a large first import writes).
pub(super) fn stored_op(op: &mut Op, applied_now: bool) -> String {
    let drop_text = applied_now || (op.action == Action::Create && !op.verbatim);
    let text = if drop_text { op.card_text.take() } else { None };
    let mapping = if applied_now { op.mapping.take() } else { None };
    let json = serde_json::to_string(op).unwrap_or_default();
    if text.is_some() {
        op.card_text = text;
    }
    if mapping.is_some() {
        op.mapping = mapping;
    }
    json
}

/// The text of the card an op writes, made again for a stored create.
fn card_text(op: &Op, kind: ObjectKind) -> Option<std::borrow::Cow<'_, str>> {
    if let Some(t) = &op.card_text {
        return Some(std::borrow::Cow::Borrowed(t));
    }
    match (
        op.action,
        &op.uid,
        op.mapping.as_ref().and_then(|m| m.base.as_ref()),
    ) {
        (Action::Create, Some(uid), Some(base)) => {
            Some(std::borrow::Cow::Owned(kind.new_object(uid, base)))
        }
        _ => None,
    }
}

/// A card write for a new card text: its ETag, storage UID key and index.
fn card_put(name: &str, text: &str, kind: ObjectKind) -> SyncResult<NewCard> {
    let data = text.as_bytes().to_vec();
    let etag = etag_for(&data);
    crate::core::objects::prepare_synced(kind, name, data, etag)
        .map(|p| p.into_card())
        .map_err(|e| SyncError::Refused(format!("the planned card {name} is not valid: {e}")))
}

fn apply_op(op: &Op, kind: ObjectKind) -> SyncResult<Vec<ApplyOp>> {
    if matches!(op.action, Action::Skip | Action::Propose) {
        return Ok(Vec::new());
    }
    let mut card = None;
    let mut new_etag = None;
    if let (Some(name), Some(text)) = (&op.card, card_text(op, kind)) {
        let put = card_put(name, &text, kind)?;
        new_etag = Some(put.etag.clone());
        card = Some(CardWrite {
            name: name.clone(),
            expect_etag: op.expect_etag.clone(),
            put: Some(put),
        });
    } else if op.action == Action::Delete {
        card = op.card.as_ref().map(|name| CardWrite {
            name: name.clone(),
            expect_etag: op.expect_etag.clone(),
            put: None,
        });
    }
    let mapping = match &op.mapping {
        None => MappingWrite::Keep,
        Some(m) => {
            let mut m = m.clone();
            if new_etag.is_some() {
                m.card_etag = new_etag;
            } else if op.action == Action::Link {
                // Linked without changes: the card as it is now is what was agreed.
                m.card_etag = op.expect_etag.clone();
            }
            MappingWrite::Put(m)
        }
    };
    let mut out = vec![ApplyOp {
        card,
        remote_id: op.remote_id.clone(),
        mapping,
        expect_mapping: Some(op.expect_mapping.clone()),
    }];
    if let Some(pending) = &op.replaces {
        out.push(ApplyOp {
            card: None,
            remote_id: pending.clone(),
            mapping: MappingWrite::Remove,
            expect_mapping: None,
        });
    }
    Ok(out)
}

/// The store writes for a plan's operations.
fn prepare(source: &Source, ops: &[Op]) -> SyncResult<Vec<ApplyOp>> {
    // Writing to a source needs a connector that can write; file sources cannot, and their
    // rules are import-only, so their plans never hold such writes.
    if !source.kind.writable() && ops.iter().any(|o| o.push.is_some()) {
        return Err(SyncError::Refused(format!(
            "source {} ({}) cannot be written to, so a plan that changes it cannot be applied; set its direction to import-only",
            source.name, source.kind
        )));
    }
    // Validating and indexing every new card is CPU work: split it over two threads.
    let half = ops.len().div_ceil(2);
    let (a, b) = ops.split_at(half.min(ops.len()));
    let build = |part: &[Op]| -> SyncResult<Vec<ApplyOp>> {
        let mut out = Vec::new();
        for op in part {
            out.extend(apply_op(op, source.kind.object())?);
        }
        Ok(out)
    };
    let (wa, wb) = tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            let hb = s.spawn(|| build(b));
            let wa = build(a);
            (wa, hb.join())
        })
    });
    let mut writes = wa?;
    match wb {
        Ok(w) => writes.extend(w?),
        Err(_) => return Err(SyncError::Refused("preparing the cards failed".into())),
    }
    Ok(writes)
}

/// Applies `ops`; `stored`, when given, are the same ops as JSON, stored with the run in the
/// same transaction (or after it, if the plan turns out stale).
pub(super) async fn apply_ops(
    store: &dyn Store,
    source: &Source,
    run_id: i64,
    ops: &mut Vec<Op>,
    stored: &[String],
    to_source: Option<Writes<'_>>,
) -> SyncResult<Vec<String>> {
    let mut stopped = None;
    let mut refused = Vec::new();
    let mut recorded = None;
    if let Some(w) = to_source
        && ops.iter().any(|o| o.push.is_some())
    {
        let ctx = kith_connectors::push::Context {
            source: &source.name,
            rules: w.rules,
            fields: w.conn.fields(),
            mappings: w.mappings,
            cards: w.cards,
            kind: source.kind.object(),
        };
        let pushed = kith_connectors::push::push(w.conn, ops, &ctx).await;
        tracing::info!(source = %source.name, done = pushed.done, deferred = pushed.deferred, failed = pushed.failed, pending = pushed.pending, "writes to the source carried out");
        stopped = pushed.stopped;
        refused = pushed.refused;
        if !refused.is_empty() {
            // The run itself went through; what the source would not take is told where the
            // user looks, with why.
            let msg = format!(
                "{} of Kith's writes kept in Kith only. {}",
                refused.len(),
                refused.join("; ")
            );
            store
                .add_event(source.owner_id, Some(source.id), "warning", &msg)
                .await?;
        }
        // The run's record shows what the writes came to (new ids, deferrals, failures).
        if !stored.is_empty() {
            recorded = Some(
                ops.iter_mut()
                    .map(|o| stored_op(o, true))
                    .collect::<Vec<_>>(),
            );
        }
    }
    let stored = recorded.as_deref().unwrap_or(stored);
    let outcome = store_ops(store, source, run_id, ops, stored).await;
    if let Some(e) = stopped {
        // What was written stays recorded; the feed is not moved, so the rest comes again.
        source_failed(store, source, &e).await?;
        outcome?;
        return Err(e.into());
    }
    outcome.map(|()| refused)
}

/// Writes a plan's cards and mapping rows in one transaction.
async fn store_ops(
    store: &dyn Store,
    source: &Source,
    run_id: i64,
    ops: &[Op],
    stored: &[String],
) -> SyncResult<()> {
    let writes = match prepare(source, ops) {
        Ok(w) => w,
        Err(e) => {
            // The plan stays on record, with why it could not be applied.
            if !stored.is_empty() {
                store.add_run_ops(run_id, stored).await?;
            }
            store
                .set_run_status(run_id, RunStatus::Failed, Some(&e.to_string()))
                .await?;
            return Err(e);
        }
    };
    match store
        .apply_run(
            run_id,
            source.id,
            source.collection_id,
            &writes,
            stored,
            None,
        )
        .await?
    {
        ApplyOutcome::Applied => Ok(()),
        ApplyOutcome::Stale(why) => {
            if !stored.is_empty() {
                store.add_run_ops(run_id, stored).await?;
            }
            let e = SyncError::Stale {
                why,
                source_name: source.name.clone(),
            };
            store
                .set_run_status(run_id, RunStatus::Stale, Some(&e.to_string()))
                .await?;
            Err(e)
        }
    }
}

pub async fn load_ops(store: &dyn Store, run_id: i64) -> SyncResult<Vec<Op>> {
    store
        .run_ops(run_id)
        .await?
        .iter()
        .map(|s| {
            serde_json::from_str(s)
                .map_err(|e| SyncError::Refused(format!("run {run_id} cannot be read: {e}")))
        })
        .collect()
}

pub async fn run_and_source(store: &dyn Store, run_id: i64) -> SyncResult<(Run, Source)> {
    let run = store.run(run_id).await?.ok_or(SyncError::NoRun(run_id))?;
    let source = store
        .source(run.source_id)
        .await?
        .ok_or_else(|| SyncError::Refused(format!("the source of run {run_id} was removed")))?;
    Ok((run, source))
}

/// Applies a stored plan after re-checking every precondition.
pub async fn apply_run(
    store: &dyn Store,
    up: &Upstreams,
    run_id: i64,
    force: bool,
) -> SyncResult<(Source, Summary)> {
    let (run, source) = run_and_source(store, run_id).await?;
    let summary: Summary = serde_json::from_str(&run.summary).unwrap_or_default();
    match run.status {
        RunStatus::Planned => {}
        RunStatus::Paused if force => {}
        RunStatus::Paused => {
            let why: Vec<&str> = summary.trips.iter().map(|t| t.message.as_str()).collect();
            return Err(SyncError::GuardTripped {
                run: run_id,
                why: why.join("; "),
            });
        }
        RunStatus::Applied => {
            return Err(SyncError::Refused(format!(
                "run {run_id} was already applied"
            )));
        }
        RunStatus::Applying => {
            // The caller holds the source's lease: the process that was applying it is gone.
            let why = "interrupted: the process stopped while applying it, so nothing of it was applied; run the source again";
            store
                .set_run_status(run_id, RunStatus::Failed, Some(why))
                .await?;
            return Err(SyncError::Refused(format!("run {run_id} was {why}")));
        }
        other => {
            return Err(SyncError::NotApplicable {
                run: run_id,
                status: other,
                source_name: source.name.clone(),
            });
        }
    }
    if run.kind != RunKind::Sync {
        return Err(SyncError::Refused(format!(
            "run {run_id} is an undo, not a plan"
        )));
    }
    let mut ops = load_ops(store, run_id).await?;
    if ops.iter().any(|o| o.push.is_some()) {
        let rules = parse_rules(&source)?;
        let mut conn = up.connector(store, &source).await?;
        let mappings: HashMap<_, _> = store.mappings(source.id).await?.into_iter().collect();
        let mut cards = HashMap::new();
        for name in ops
            .iter()
            .filter(|o| o.push.is_some())
            .filter_map(|o| o.card.clone())
        {
            if let Some(obj) = store.object(source.collection_id, &name).await? {
                let text = kith_connectors::text::decode(&obj.data).into_owned();
                cards.insert(name, (obj.meta.etag, text));
            }
        }
        let writes = Writes {
            conn: conn.as_mut(),
            rules: &rules,
            mappings: &mappings,
            cards: &cards,
        };
        apply_ops(store, &source, run_id, &mut ops, &[], Some(writes)).await?;
    } else {
        apply_ops(store, &source, run_id, &mut ops, &[], None).await?;
    }
    finish_applied(store, &source, &summary).await?;
    Ok((source, summary))
}

/// What an undo did.
pub struct Undone {
    pub run_id: i64,
    pub restored: usize,
    pub removed: usize,
    pub skipped: Vec<String>,
}

/// Reverts what an applied run changed in the book and the mapping table, as a new run (so
/// clients see it through sync-collection, and it can itself be undone).
pub async fn undo_run(store: &dyn Store, run_id: i64, force: bool) -> SyncResult<Undone> {
    let (run, source) = run_and_source(store, run_id).await?;
    if run.status != RunStatus::Applied {
        return Err(SyncError::Refused(format!(
            "run {run_id} is {}; only an applied run can be undone",
            run.status
        )));
    }
    let records = store.undo_records(run_id).await?;
    let mut ops = Vec::new();
    let mut undone = Undone {
        run_id: 0,
        restored: 0,
        removed: 0,
        skipped: Vec::new(),
    };
    for rec in records.into_iter().rev() {
        let mut card = None;
        if let Some(name) = &rec.card {
            let now = store
                .object(source.collection_id, name)
                .await?
                .map(|o| o.meta.etag);
            if now != rec.card_after_etag && force {
                undone.skipped.push(name.clone());
                continue;
            }
            let put = match &rec.card_before {
                // The card as it was: its own UID key, and an index if it still parses.
                Some(bytes) => {
                    let prepared = crate::core::objects::prepare_synced(
                        source.kind.object(),
                        name,
                        bytes.clone(),
                        String::new(),
                    )
                    .ok();
                    Some(NewCard {
                        uid: rec.card_uid.clone().unwrap_or_default(),
                        etag: etag_for(bytes),
                        content_type: prepared.as_ref().map_or_else(
                            || crate::core::objects::CARD_CONTENT_TYPE.to_string(),
                            |p| p.content_type.clone(),
                        ),
                        span: prepared.as_ref().and_then(|p| p.span),
                        index: prepared.map(|p| p.index).unwrap_or_default(),
                        data: bytes.clone(),
                    })
                }
                None => None,
            };
            if put.is_some() {
                undone.restored += 1;
            } else {
                undone.removed += 1;
            }
            card = Some(CardWrite {
                name: name.clone(),
                expect_etag: rec.card_after_etag.clone(),
                put,
            });
        }
        let mapping = match (&rec.remote_id, rec.mapping_before) {
            (None, _) => MappingWrite::Keep,
            (Some(_), Some(m)) => MappingWrite::Put(m),
            (Some(_), None) => MappingWrite::Remove,
        };
        ops.push(ApplyOp {
            card,
            remote_id: rec.remote_id.unwrap_or_default(),
            mapping,
            expect_mapping: None,
        });
    }
    let mut summary = Summary {
        source: source.name.clone(),
        complete: true,
        ..Summary::default()
    };
    summary.counts.insert("restore".into(), undone.restored);
    summary.counts.insert("remove".into(), undone.removed);
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    let run = NewRun {
        source_id: source.id,
        kind: RunKind::Undo,
        trigger: Trigger::Cli,
        status: RunStatus::Planned,
        undo_of: Some(run_id),
        summary: &summary_json,
    };
    let new_run = store.create_run(&run, &[]).await?;
    match store
        .apply_run(
            new_run,
            source.id,
            source.collection_id,
            &ops,
            &[],
            Some(run_id),
        )
        .await?
    {
        ApplyOutcome::Applied => {
            undone.run_id = new_run;
            Ok(undone)
        }
        ApplyOutcome::Stale(why) => {
            let msg = format!(
                "{why} after run {run_id}; nothing was undone. Add --force to undo the rest and leave such cards as they are"
            );
            store
                .set_run_status(new_run, RunStatus::Stale, Some(&msg))
                .await?;
            Err(SyncError::Refused(msg))
        }
    }
}
