//! GET, HEAD and DELETE of cards and calendar objects, and the `address-data` a card is served
//! as. PUT of both is in [`super::write`]. The ETag is a hash of the stored bytes, so an
//! unchanged object always keeps its ETag.

use super::paths::Target;
use super::write::precondition;
use super::{Client, Ctx, respond};
use crate::store::{DeleteOutcome, Kind};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kith_dav::headers::etag_list_matches;
use kith_dav::request::PropSelection;
use kith_dav::vcard::{Version, convert, sniff_version};
use kith_dav::xml::escape;

fn content_type_for(version: Option<Version>, utf8: bool) -> String {
    let mut ct = String::from("text/vcard");
    if utf8 {
        ct.push_str("; charset=utf-8");
    }
    if let Some(v) = version {
        ct.push_str("; version=");
        ct.push_str(v.as_str());
    }
    ct
}

/// The version to serve: what the request asks for, else the client's quirk default.
fn wanted_version(client: Client, asked: Option<Version>) -> Option<Version> {
    asked.or_else(|| kith_dav::quirks::default_vcard_version(client))
}

/// The content of `<card:address-data>` for one stored card.
pub fn address_data_xml(client: Client, data: &[u8], select: &PropSelection) -> String {
    let stored = sniff_version(data);
    let bytes = match wanted_version(client, select.address_data_version) {
        Some(v) if Some(v) != stored => convert(data, stored, v),
        _ => std::borrow::Cow::Borrowed(data),
    };
    let text = String::from_utf8_lossy(&bytes);
    match &select.address_data_select {
        Some(sel) => escape(&kith_dav::partial::select(&text, sel)).into_owned(),
        None => escape(&text).into_owned(),
    }
}

pub async fn get(ctx: &Ctx, head: bool) -> Response {
    let Target::Member(kind, _, book, card) = &ctx.target else {
        return match &ctx.target {
            Target::Collection(kind, _, name) => {
                super::download::collection(ctx, *kind, name, head).await
            }
            Target::Home(..) | Target::Root => respond::text(
                StatusCode::OK,
                "This is a CardDAV/CalDAV collection. Add the server URL to a contacts or calendar app to use it.",
            ),
            _ => respond::not_found(),
        };
    };
    let book = match ctx.collection(*kind, book).await {
        Ok(Some(b)) => b,
        Ok(None) => return respond::not_found(),
        Err(r) => return r,
    };
    let obj = match ctx.app.store.object(book.id, card).await {
        Ok(Some(o)) => o,
        Ok(None) => return respond::not_found(),
        Err(e) => return respond::internal(e),
    };
    if let Some(inm) = &ctx.headers.if_none_match
        && etag_list_matches(inm, Some(&obj.meta.etag))
    {
        let mut r = respond::status(StatusCode::NOT_MODIFIED);
        if let Ok(v) = HeaderValue::from_str(&obj.meta.etag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        return r;
    }
    let schedule_tag = (*kind == Kind::Calendar)
        .then(|| kith_dav::itip::schedule_tag(&obj.data))
        .flatten();
    let (body, content_type) = if *kind == Kind::Calendar {
        (obj.data, obj.meta.content_type.clone())
    } else {
        let stored = sniff_version(&obj.data);
        let (body, version) = match wanted_version(ctx.headers.client, ctx.headers.vcard_version) {
            Some(v) if Some(v) != stored => (convert(&obj.data, stored, v).into_owned(), Some(v)),
            _ => (obj.data, stored),
        };
        let utf8 = std::str::from_utf8(&body).is_ok();
        (body, content_type_for(version, utf8))
    };
    let len = body.len();
    let mut r = Response::new(if head {
        Body::empty()
    } else {
        Body::from(body)
    });
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some(t) = schedule_tag
        && let Ok(v) = HeaderValue::from_str(&t)
    {
        h.insert("schedule-tag", v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&obj.meta.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&super::props::http_date(obj.meta.modified_at)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

pub async fn delete(ctx: &Ctx) -> Response {
    let Target::Member(kind, _, book, card) = &ctx.target else {
        return respond::not_found();
    };
    let book = match ctx.collection(*kind, book).await {
        Ok(Some(b)) => b,
        Ok(None) => return respond::not_found(),
        Err(r) => return r,
    };
    if let Some(refused) = super::write::refuse_write(&book, &ctx.path, "unbind") {
        return refused;
    }
    // A scheduling object's removal is news for its attendees (or its organizer).
    let old = if book.kind == Kind::Calendar && book.derived.is_none() {
        match ctx.app.store.object(book.id, card).await {
            Ok(o) => o
                .map(|o| o.data)
                .filter(|d| super::schedule::is_scheduling_object(d)),
            Err(e) => return respond::internal(e),
        }
    } else {
        None
    };
    let check = precondition(ctx);
    match ctx
        .app
        .store
        .delete_object(book.id, card, &check, &ctx.actor())
        .await
    {
        Ok(DeleteOutcome::Deleted) => {
            super::push::dont_notify(ctx, &book).await;
            if let Some(old) = old
                && let Err(e) = super::schedule::after_delete(ctx, &book, &old).await
            {
                tracing::error!(error = %e, "scheduling after a DELETE failed");
            }
            respond::status(StatusCode::NO_CONTENT)
        }
        Ok(DeleteOutcome::NotFound) => respond::not_found(),
        Ok(DeleteOutcome::PreconditionFailed) => respond::text(
            StatusCode::PRECONDITION_FAILED,
            "The object changed on the server since you last read it; sync and try again",
        ),
        Err(e) => respond::internal(e),
    }
}
