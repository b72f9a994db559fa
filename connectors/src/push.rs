//! Carrying out a plan's writes to the source, one at a time, before the book is written.
//!
//! Each write's answer becomes the new base (so our own change is not seen as a remote one
//! when the feed brings it back). A stale version means someone edited the contact in the
//! source meanwhile: re-read it, merge again, and retry, at most three times, then leave it as
//! a deferred conflict for the next run. A create whose answer was lost leaves a pending
//! mapping, so the card is never created twice; the next listing finds it by its marker.

use crate::connector::{Connector, ConnectorError};
use crate::formats::SourceItem;
use crate::merge::{pull, same};
use crate::plan::{Action, LinkState, Mapping, Op, PushKind};
use crate::record::Field;
use crate::rules::Rules;
use std::collections::HashMap;

/// Tries of one update before it is deferred.
pub const MAX_TRIES: u32 = 3;
/// Consecutive failed writes that stop the run: failures are never followed by more writes.
pub const MAX_FAILURES_IN_A_ROW: usize = 5;

pub struct Context<'a> {
    pub source: &'a str,
    pub rules: &'a Rules,
    pub fields: &'a [Field],
    /// The mapping rows as planned: the merge base when a write must be merged again.
    pub mappings: &'a HashMap<String, Mapping>,
    /// The current ETag and text of each card a write concerns.
    pub cards: &'a HashMap<String, (String, String)>,
    /// Cards or events.
    pub kind: crate::object::ObjectKind,
}

#[derive(Debug, Default)]
pub struct Pushed {
    pub done: usize,
    pub deferred: usize,
    pub failed: usize,
    /// The writes the source refused, each as `name: why`.
    pub refused: Vec<String>,
    pub pending: usize,
    /// Why the writes stopped early (re-authorization needed, the source unavailable); the
    /// ops not carried out were dropped from the plan.
    pub stopped: Option<ConnectorError>,
}

/// The mapping version of a remote item: its content hash, and its etag when it has one.
pub fn version(item: &SourceItem) -> String {
    match &item.etag {
        Some(e) => format!("{}@{e}", item.record.hash()),
        None => item.record.hash(),
    }
}

fn agreed(op: &mut Op, item: &SourceItem) {
    if let Some(m) = op.mapping.as_mut() {
        m.version = version(item);
        m.base = Some(item.record.clone());
    }
}

/// Why a write failed, without the generic prefix a refusal's message carries (the note
/// already says who refused).
fn reason(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Rejected(m) => m.clone(),
        e => e.to_string(),
    }
}

fn stops(e: &ConnectorError) -> bool {
    matches!(
        e,
        ConnectorError::NeedsReauth(_) | ConnectorError::Unavailable(_) | ConnectorError::Io { .. }
    )
}

enum Step {
    Done,
    Failed(String),
    Deferred(String),
    Stop(ConnectorError),
}

/// Carries out the writes of `ops` in order, updating each op with the outcome.
pub async fn push(conn: &mut dyn Connector, ops: &mut Vec<Op>, ctx: &Context<'_>) -> Pushed {
    let mut out = Pushed::default();
    let mut failures = 0;
    let mut stop_at = None;
    for (i, op) in ops.iter_mut().enumerate() {
        let Some(kind) = op.push.as_ref().map(|p| p.kind) else {
            continue;
        };
        let step = match kind {
            PushKind::Create => create(conn, op, ctx, &mut out).await,
            PushKind::Update => update(conn, op, ctx).await,
            PushKind::Delete => delete(conn, op).await,
        };
        match step {
            Step::Done => {
                failures = 0;
                out.done += 1;
            }
            Step::Deferred(why) => {
                out.deferred += 1;
                op.conflict = true;
                op.notes.push(why);
                // The old row stays: the next run sees the card as still edited and retries.
                op.mapping = None;
            }
            Step::Failed(why) => {
                failures += 1;
                out.failed += 1;
                out.refused.push(format!("{}: {why}", op.name));
                op.notes.push(why);
                op.mapping = None;
                if op.card_text.is_none() {
                    op.action = Action::Skip;
                }
                if failures >= MAX_FAILURES_IN_A_ROW {
                    out.stopped = Some(ConnectorError::Unavailable(format!(
                        "{failures} writes to {} failed in a row, so the run stopped",
                        ctx.source
                    )));
                    stop_at = Some(i + 1);
                    break;
                }
            }
            Step::Stop(e) => {
                out.stopped = Some(e);
                stop_at = Some(i);
                break;
            }
        }
    }
    if let Some(at) = stop_at {
        // Writes not made are planned again next run (the cursor does not move).
        let mut idx = 0;
        ops.retain(|o| {
            let keep = idx < at || o.push.is_none();
            idx += 1;
            keep
        });
    }
    out
}

async fn create(
    conn: &mut dyn Connector,
    op: &mut Op,
    ctx: &Context<'_>,
    out: &mut Pushed,
) -> Step {
    let (Some(record), Some(card)) = (
        op.push.as_ref().and_then(|p| p.record.clone()),
        op.card.clone(),
    ) else {
        return Step::Failed("nothing to create".into());
    };
    match conn.create(&record, &card).await {
        Ok(item) => {
            op.remote_id = item.id.clone();
            agreed(op, &item);
            Step::Done
        }
        Err(ConnectorError::Unknown(why)) => {
            // It may exist now: hold the card until a listing shows it (by its marker).
            op.remote_id = format!("pending:{card}");
            if let Some(m) = op.mapping.as_mut() {
                m.state = LinkState::Pending;
                m.version = String::new();
            }
            op.notes.push(format!(
                "{}'s answer to the create was lost ({why}); the next run links it by the id Kith stored with it",
                ctx.source
            ));
            out.pending += 1;
            Step::Done
        }
        Err(e) if stops(&e) => Step::Stop(e),
        Err(e) => Step::Failed(format!(
            "{} refused the new {}: {}",
            ctx.source,
            ctx.kind.noun(),
            reason(&e)
        )),
    }
}

async fn update(conn: &mut dyn Connector, op: &mut Op, ctx: &Context<'_>) -> Step {
    let id = op.remote_id.clone();
    for attempt in 1..=MAX_TRIES {
        let Some(p) = op.push.clone() else {
            return Step::Done;
        };
        let Some(record) = p.record else {
            return Step::Failed("nothing to update".into());
        };
        let etag = p.expect_version.unwrap_or_default();
        match conn.update(&id, &etag, &record).await {
            Ok(item) => {
                agreed(op, &item);
                return Step::Done;
            }
            Err(ConnectorError::Stale) if attempt < MAX_TRIES => {
                tokio::time::sleep(conn.retry_delay(attempt)).await;
                let fresh = match conn.get(&id).await {
                    Ok(Some(f)) => f,
                    Ok(None) => {
                        return Step::Deferred(format!(
                            "deleted in {} while Kith was updating it; the next run decides",
                            ctx.source
                        ));
                    }
                    Err(e) if stops(&e) => return Step::Stop(e),
                    Err(e) => return Step::Failed(e.to_string()),
                };
                if remerge(op, &fresh, ctx) {
                    agreed(op, &fresh);
                    return Step::Done;
                }
            }
            Err(ConnectorError::Stale) => {
                return Step::Deferred(format!(
                    "{} rejected the update {MAX_TRIES} times as based on an old version; deferred to the next run",
                    ctx.source
                ));
            }
            Err(ConnectorError::Rejected(m)) if m.contains("gone") => {
                return Step::Deferred(format!(
                    "deleted in {} while Kith was updating it; the next run decides",
                    ctx.source
                ));
            }
            Err(e) if stops(&e) => return Step::Stop(e),
            Err(e) => {
                return Step::Failed(format!("{} refused the update: {}", ctx.source, reason(&e)));
            }
        }
    }
    Step::Done
}

/// Merges the card with the contact as the source holds it now. Returns `true` when the source
/// already says what the card says (nothing left to write); otherwise the op's push is the new
/// write, conditional on the fresh version.
fn remerge(op: &mut Op, fresh: &SourceItem, ctx: &Context<'_>) -> bool {
    let base = ctx
        .mappings
        .get(&op.remote_id)
        .and_then(|m| m.base.as_ref());
    let Some(card) = op.card.clone() else {
        return true;
    };
    let Some((etag, stored)) = ctx.cards.get(&card) else {
        return true;
    };
    let text = op.card_text.clone().unwrap_or_else(|| stored.clone());
    let Ok(now) = ctx.kind.read(text.as_bytes()) else {
        return true;
    };
    let merged = pull(base, &now.record, &fresh.record, &[], ctx.rules, ctx.source);
    if !merged.changes.is_empty() {
        op.card_text = Some(ctx.kind.edit(&text, &now.record, &merged.after));
        if op.action == Action::Refresh {
            op.action = Action::Update;
        }
        if op.expect_etag.is_none() {
            op.expect_etag = Some(etag.clone());
        }
        op.changes.extend(merged.changes);
        op.conflict |= merged.conflict;
        op.notes.extend(merged.notes);
    }
    let want = merged.after.project(ctx.fields);
    if same(&want, &fresh.record.project(ctx.fields)) {
        return true;
    }
    if let Some(p) = op.push.as_mut() {
        p.record = Some(want);
        p.expect_version = fresh.etag.clone();
    }
    false
}

async fn delete(conn: &mut dyn Connector, op: &mut Op) -> Step {
    let etag = op
        .push
        .as_ref()
        .and_then(|p| p.expect_version.clone())
        .unwrap_or_default();
    match conn.delete(&op.remote_id, &etag).await {
        Ok(()) => Step::Done,
        Err(ConnectorError::Stale) => {
            Step::Deferred("changed in the source after you deleted it in Kith; kept there".into())
        }
        Err(e) if stops(&e) => Step::Stop(e),
        Err(e) => Step::Failed(format!("the delete was refused: {e}")),
    }
}
