//! Resolving a conflict from the inbox. Kith kept your edit when a run met one, so "keep
//! mine" only files it away; "keep theirs" writes the source's values into the card, and
//! "merge fields" writes those of the fields you ticked. The card is written only if it is
//! still as the run left it, and the write is in the card's history like any other.

use super::form::Form;
use super::page;
use super::runs::{own_run, resolved_key};
use super::{Web, seg};
use crate::store::versions::{Actor, Change as StoreChange, ChangeOutcome};
use axum::http::StatusCode;
use axum::response::Response;
use kith_connectors::card::{edit_card, read_card};
use kith_connectors::plan::Op;

pub async fn resolve(web: &Web, form: &Form) -> Response {
    let (run, source) = match own_run(web, form.get("run")).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let store = web.app.store.as_ref();
    let ops = match crate::sync::load_ops(store, run.id).await {
        Ok(o) => o,
        Err(e) => return page::internal(web, e),
    };
    let Some(op) = ops
        .into_iter()
        .find(|o| o.remote_id == form.get("remote_id"))
    else {
        return page::not_found(web);
    };
    let choice = form.get("choice");
    let fields: Vec<&str> = match choice {
        "mine" => Vec::new(),
        "theirs" => op.theirs.iter().map(|c| c.field.as_str()).collect(),
        "merge" => form
            .all
            .iter()
            .filter(|(k, _)| k == "field")
            .map(|(_, v)| v.as_str())
            .collect(),
        _ => return page::not_found(web),
    };
    if !fields.is_empty()
        && let Err(msg) = take_theirs(web, &source, &op, &fields).await
    {
        return page::error_back(
            web,
            StatusCode::CONFLICT,
            "Not resolved",
            &msg,
            "/conflicts",
        );
    }
    if let Err(e) = store
        .set_setting(
            &resolved_key(run.id, &op.remote_id),
            Some(choice.as_bytes()),
        )
        .await
    {
        return page::internal(web, e);
    }
    page::redirect(&format!("/conflicts?resolved={}", seg(&op.name)))
}

/// Writes the source's values of `fields` into the op's card.
async fn take_theirs(
    web: &Web,
    source: &crate::store::sources::Source,
    op: &Op,
    fields: &[&str],
) -> Result<(), String> {
    let store = web.app.store.as_ref();
    let name = op.card.as_deref().ok_or("this conflict names no card")?;
    let coll = store
        .collections(source.owner_id, crate::store::Kind::Addressbook)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.id == source.collection_id)
        .ok_or("the source's address book is gone")?;
    let current = store
        .object(coll.id, name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the card was deleted since; restore it from the trash first")?;
    let card = read_card(&current.data)?;
    let mut after = card.record.clone();
    for c in op
        .theirs
        .iter()
        .filter(|c| fields.contains(&c.field.as_str()))
    {
        // Only where the card still holds the value the run kept: a later edit is newer.
        if card.record.get(c.field) != c.before.as_deref() {
            return Err(format!(
                "{} was edited again since that run; check the card and edit it in your contacts app",
                c.field.as_str()
            ));
        }
        match &c.after {
            Some(v) => {
                after.scalars.insert(c.field, v.clone());
            }
            None => {
                after.scalars.remove(&c.field);
            }
        }
    }
    let text = edit_card(
        &kith_connectors::text::decode(&current.data),
        &card.record,
        &after,
    );
    let bytes = text.into_bytes();
    let etag = crate::store::etag_for(&bytes);
    let prepared = crate::core::objects::prepare(&web.app.config, &coll, name, bytes, etag)
        .map_err(|e| e.to_string())?;
    let actor = Actor::Command(format!(
        "conflict resolved with {}'s values (web, by {})",
        source.name,
        web.user().name
    ));
    let change = StoreChange::Put {
        obj: prepared.as_new(),
        expect: Some(current.meta.etag),
    };
    match store
        .apply_changes(coll.id, &[change], &actor)
        .await
        .map_err(|e| e.to_string())?
    {
        ChangeOutcome::Applied => Ok(()),
        _ => Err("the card changed while resolving; try again".into()),
    }
}
