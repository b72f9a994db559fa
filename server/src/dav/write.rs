//! What card and calendar writes share: the `If-Match`/`If-None-Match` check, the size limit
//! and the answer to a stored PUT.

use super::paths::{Target, member_href};
use super::{Ctx, respond};
use crate::store::{Collection, Kind, PutOutcome, StoreResult};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kith_dav::names::CARDDAV;
use kith_dav::xml::escape;

/// The `If-Match` / `If-None-Match` / `If` check, run by the store inside its write transaction.
pub fn precondition(ctx: &Ctx) -> impl Fn(Option<&str>) -> bool + Send + Sync + use<> {
    let headers = ctx.headers.clone();
    let path = ctx.path.clone();
    move |current: Option<&str>| {
        headers.conditions_hold(current, |url| super::paths::href_path(url) == path)
    }
}

pub fn too_large(ctx: &Ctx) -> Response {
    let max = ctx.app.config.dav.max_resource_size;
    if matches!(ctx.target, Target::Member(Kind::Calendar, ..)) {
        return respond::condition(
            StatusCode::FORBIDDEN,
            kith_dav::names::CALDAV,
            "max-resource-size",
            &format!("The calendar object is larger than {max} bytes; remove large attachments"),
        );
    }
    respond::condition(
        StatusCode::FORBIDDEN,
        CARDDAV,
        "max-resource-size",
        &format!(
            "The card is larger than {max} bytes; make it smaller (a large PHOTO is the usual cause)"
        ),
    )
}

/// The answer to a PUT of a card or calendar object into `coll`, from the store's outcome.
pub fn put_response(
    ctx: &Ctx,
    coll: &Collection,
    outcome: StoreResult<PutOutcome>,
    etag: &str,
    uid: &str,
) -> Response {
    match outcome {
        Ok(outcome @ (PutOutcome::Created | PutOutcome::Updated)) => {
            let code = if outcome == PutOutcome::Created {
                StatusCode::CREATED
            } else {
                StatusCode::NO_CONTENT
            };
            let mut r = respond::status(code);
            if let Ok(v) = HeaderValue::from_str(etag) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        Ok(PutOutcome::PreconditionFailed) => respond::text(
            StatusCode::PRECONDITION_FAILED,
            "The object changed on the server since you last read it (If-Match/If-None-Match failed); sync and try again",
        ),
        Ok(PutOutcome::UidConflict(other)) => {
            let href = member_href(coll.kind, ctx.user_name(), &coll.name, &other);
            let ns = match coll.kind {
                Kind::Addressbook => CARDDAV,
                Kind::Calendar => kith_dav::names::CALDAV,
            };
            respond::condition_with(
                StatusCode::FORBIDDEN,
                ns,
                "no-uid-conflict",
                &format!("<d:href>{}</d:href>", escape(&href)),
                &format!("Another object in this collection ({href}) already has UID {uid}"),
            )
        }
        Err(e) => respond::internal(e),
    }
}
