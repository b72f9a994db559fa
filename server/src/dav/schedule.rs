//! POST to a scheduling outbox (RFC 6638 §5): a free-busy request about local users,
//! answered with a `schedule-response` holding each recipient's busy time. Only the
//! organizer's own outbox takes it, and only from an organizer address that is theirs.

use super::paths::Target;
use super::{Ctx, respond};
use crate::core::scheduling::deliver::Scheduler;
use crate::core::scheduling::{addresses, boxes, freebusy};
use crate::store::{Collection, Kind, StoreError, User};
use axum::http::StatusCode;
use axum::response::Response;
use kith_dav::ical::instances::parse_utc;
use kith_dav::itip;
use kith_dav::names::CALDAV;
use kith_dav::xml::escape;

pub async fn post(ctx: &Ctx, body: &[u8]) -> Response {
    let Target::Collection(Kind::Calendar, _, name) = &ctx.target else {
        return not_here();
    };
    match ctx.collection(Kind::Calendar, name).await {
        Ok(Some(c)) if boxes::is_outbox(&c) && c.shared.is_none() => {}
        Ok(_) => return not_here(),
        Err(r) => return r,
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return respond::condition(
            StatusCode::BAD_REQUEST,
            CALDAV,
            "valid-calendar-data",
            "the request is not UTF-8 text",
        );
    };
    let req = match itip::freebusy_request(text) {
        Ok(r) => r,
        Err(why) => {
            return respond::condition(
                StatusCode::BAD_REQUEST,
                CALDAV,
                "valid-scheduling-message",
                &why,
            );
        }
    };
    let store = ctx.app.store.as_ref();
    let me = &ctx.principal.user;
    let mine = match addresses::of(store, me).await {
        Ok(a) => a,
        Err(e) => return respond::internal(e),
    };
    let organizer = itip::bare(&req.organizer);
    let principal = super::paths::principal_href(&me.name).to_lowercase();
    if !mine.contains(&organizer) && organizer != principal {
        return respond::condition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "organizer-allowed",
            &format!(
                "{} is not one of your calendar user addresses ({})",
                req.organizer,
                mine.join(", ")
            ),
        );
    }
    let (Some(start), Some(end)) = (when(&req.start), when(&req.end)) else {
        return respond::condition(
            StatusCode::BAD_REQUEST,
            CALDAV,
            "valid-scheduling-message",
            "DTSTART and DTEND of a free-busy request are UTC date-times (e.g. 20270101T000000Z)",
        );
    };
    let now = crate::store::now_ms() / 1000;
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<cal:schedule-response xmlns:d=\"DAV:\" xmlns:cal=\"urn:ietf:params:xml:ns:caldav\">",
    );
    for who in &req.attendees {
        out.push_str("<cal:response><cal:recipient><d:href>");
        out.push_str(&escape(who));
        out.push_str("</d:href></cal:recipient>");
        let user = match addresses::user_for(store, who).await {
            Ok(u) => u,
            Err(e) => return respond::internal(e),
        };
        match user {
            Some(u) => {
                match freebusy::busy(store, &ctx.app.config, &u, start, end).await {
                    Ok(periods) => {
                        let reply = freebusy::reply(
                            periods,
                            start,
                            end,
                            now,
                            &req.organizer,
                            who,
                            req.uid.as_deref(),
                        );
                        out.push_str("<cal:request-status>2.0;Success</cal:request-status><cal:calendar-data>");
                        out.push_str(&escape(&reply));
                        out.push_str("</cal:calendar-data>");
                    }
                    Err(e) => return respond::internal(e),
                }
            }
            None => {
                out.push_str("<cal:request-status>3.7;Invalid calendar user</cal:request-status>")
            }
        }
        out.push_str("</cal:response>");
    }
    out.push_str("</cal:schedule-response>");
    respond::xml(StatusCode::OK, out)
}

/// Whether `data` may be a scheduling object: it names an organizer. (The full check is
/// `itip::facts`; this spares the others a parse.)
pub fn is_scheduling_object(data: &[u8]) -> bool {
    data.windows(10)
        .any(|w| w.eq_ignore_ascii_case(b"\nORGANIZER"))
}

fn scheduler(ctx: &Ctx) -> Scheduler<'_> {
    crate::sync::notify::mail::scheduler(ctx.app.store.as_ref(), &ctx.app.config)
}

/// Whose calendar `coll` is: the caller's, or its owner's when shared or delegated (their
/// events are theirs to schedule).
async fn owner(ctx: &Ctx, coll: &Collection) -> Result<Option<User>, StoreError> {
    match &coll.shared {
        None => Ok(Some(ctx.principal.user.clone())),
        Some(s) => Ok(ctx
            .app
            .store
            .user_by_name(&s.owner_name)
            .await?
            .filter(|u| u.id == s.owner_id)),
    }
}

/// Implicit scheduling after a client stored `new` over `old`: whether the stored object
/// changed again (SCHEDULE-STATUS written back).
pub async fn after_put(
    ctx: &Ctx,
    coll: &Collection,
    name: &str,
    old: Option<&[u8]>,
    new: &[u8],
) -> Result<bool, StoreError> {
    if coll.derived.is_some() {
        return Ok(false);
    }
    let Some(owner) = owner(ctx, coll).await? else {
        return Ok(false);
    };
    let mut home = coll.clone();
    if let Some(s) = &coll.shared {
        home.name = s.owner_collection.clone();
    }
    scheduler(ctx)
        .after_put(&owner, &home, name, old, new)
        .await
}

/// Implicit scheduling after a client deleted `old`.
pub async fn after_delete(ctx: &Ctx, coll: &Collection, old: &[u8]) -> Result<(), StoreError> {
    let Some(owner) = owner(ctx, coll).await? else {
        return Ok(());
    };
    scheduler(ctx)
        .after_delete(&owner, old, ctx.headers.schedule_reply)
        .await
}

/// A free-busy request's DTSTART or DTEND: UTC as RFC 6638 §5 asks, but a floating time or
/// a date (python-caldav sends them) is read as UTC too rather than refused.
fn when(v: &str) -> Option<i64> {
    let v = v.trim();
    parse_utc(v)
        .or_else(|| parse_utc(&format!("{v}Z")))
        .or_else(|| {
            (v.len() == 8)
                .then(|| parse_utc(&format!("{v}T000000Z")))
                .flatten()
        })
}

fn not_here() -> Response {
    respond::text(
        StatusCode::METHOD_NOT_ALLOWED,
        "POST goes to your scheduling outbox (schedule-outbox-URL), with a free-busy request",
    )
}
