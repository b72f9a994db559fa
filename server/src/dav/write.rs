//! PUT of cards and calendar objects, one path for both: the size limit, the collection, the
//! `If-Match`/`If-None-Match`/`If` check run inside the store's write, and the answer. The
//! bytes become a storable object in `core::objects::prepare`, as for sync and restore; this
//! module only words its refusals as RFC preconditions.

use super::paths::{Target, member_href};
use super::{Ctx, respond};
use crate::core::objects::{ObjectError, prepare};
use crate::store::{Collection, Kind, PutOutcome, StoreResult, etag_for};
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kith_dav::bytes::{self, Unstorable};
use kith_dav::names::{CALDAV, CARDDAV, DAV};
use kith_dav::vcard::CardError;
use kith_dav::xml::escape;

/// PUT of a card into an address book or an object into a calendar. The stored bytes are the
/// client's own; a parsed copy validates them and feeds the index.
pub async fn put(ctx: &Ctx, body: Bytes) -> Response {
    let Target::Member(kind, _, coll, name) = &ctx.target else {
        return respond::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT a vCard into an address book (/dav/addressbooks/USER/BOOK/NAME.vcf) or an event into a calendar (/dav/calendars/USER/CALENDAR/NAME.ics)",
        );
    };
    let kind = *kind;
    if body.len() > ctx.app.config.dav.max_resource_size {
        return too_large(ctx);
    }
    let coll = match ctx.collection(kind, coll).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            let how = match kind {
                Kind::Addressbook => "The address book does not exist; create it with MKCOL first",
                Kind::Calendar => "The calendar does not exist; create it with MKCALENDAR first",
            };
            return respond::text(StatusCode::CONFLICT, how);
        }
        Err(r) => return r,
    };
    if let Some(refused) = refuse_write(&coll, &ctx.path, "write-content") {
        return refused;
    }
    let media_type = ctx.headers.media_type.as_str();
    if kind == Kind::Calendar && !is_calendar_type(media_type) {
        return respond::condition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "supported-calendar-data",
            "Only iCalendar 2.0 (text/calendar) can be stored in a calendar",
        );
    }
    if let Some(refusal) = unstorable(kind, &body) {
        return refusal;
    }
    let quota = ctx.app.config.dav.max_bytes_per_user;
    if quota > 0 {
        let used = match ctx
            .app
            .store
            .bytes_used(
                coll.shared
                    .as_ref()
                    .map_or(ctx.principal.user.id, |s| s.owner_id),
                coll.id,
                name,
            )
            .await
        {
            Ok(u) => u.max(0) as u64,
            Err(e) => return respond::internal(e),
        };
        if used + body.len() as u64 > quota {
            return respond::condition(
                StatusCode::INSUFFICIENT_STORAGE,
                DAV,
                "quota-not-exceeded",
                &format!(
                    "your cards and events take {used} of the {quota} bytes this server allows you; delete some first"
                ),
            );
        }
    }
    let etag = etag_for(&body);
    // A scheduling object (RFC 6638), now or before this write: what it replaces decides whom
    // to tell what (an organizer who drops every attendee drops ORGANIZER too).
    let tag_match = ctx.headers.if_schedule_tag_match.as_deref();
    let old = if kind == Kind::Calendar && coll.derived.is_none() {
        match ctx.app.store.object(coll.id, name).await {
            Ok(o) => o.map(|o| o.data),
            Err(e) => return respond::internal(e),
        }
    } else {
        None
    };
    let scheduling = kind == Kind::Calendar
        && (super::schedule::is_scheduling_object(&body)
            || old
                .as_deref()
                .is_some_and(super::schedule::is_scheduling_object));
    // RFC 6638 §8.3: the write is for the object as the client last saw it scheduled.
    if let Some(want) = tag_match
        && old
            .as_deref()
            .and_then(kith_dav::itip::schedule_tag)
            .as_deref()
            != Some(want.trim())
    {
        return respond::text(
            StatusCode::PRECONDITION_FAILED,
            "The organizer changed this event since you last read it (If-Schedule-Tag-Match failed); read it again",
        );
    }
    let sent = body.clone();
    let prepared = match prepare(&ctx.app.config, &coll, name, Vec::from(body), etag) {
        Ok(p) => p,
        Err(e) => return refused(e, media_type),
    };
    let check = precondition(ctx);
    let outcome = ctx
        .app
        .store
        .put_object(coll.id, &prepared.as_new(), &check, &ctx.actor())
        .await;
    let stored = matches!(outcome, Ok(PutOutcome::Created | PutOutcome::Updated));
    if stored {
        super::push::dont_notify(ctx, &coll).await;
    }
    let mut resp = put_response(ctx, &coll, outcome, &prepared.etag, &prepared.uid);
    if stored
        && let Some(t) = kith_dav::itip::schedule_tag(&sent)
        && let Ok(v) = axum::http::HeaderValue::from_str(&t)
    {
        resp.headers_mut().insert("schedule-tag", v);
    }
    if scheduling && stored {
        match super::schedule::after_put(ctx, &coll, name, old.as_deref(), &sent).await {
            // The stored object now carries SCHEDULE-STATUS: the client's ETag is not its.
            Ok(true) => {
                resp.headers_mut().remove(axum::http::header::ETAG);
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "scheduling after a PUT failed"),
        }
    }
    resp
}

/// Refuses bytes that would break another client once stored, naming the line: control
/// characters and non-UTF-8 bytes in any object; in a card, a second UID or vCard 2.1.
fn unstorable(kind: Kind, body: &[u8]) -> Option<Response> {
    let (ns, cond, what) = match kind {
        Kind::Addressbook => (CARDDAV, "valid-address-data", "vCard"),
        Kind::Calendar => (CALDAV, "valid-calendar-data", "iCalendar"),
    };
    let refuse =
        |cond: &str, text: &str| Some(respond::condition(StatusCode::FORBIDDEN, ns, cond, text));
    match bytes::unstorable(body) {
        Some(Unstorable::Control { byte, line }) => {
            return refuse(
                cond,
                &format!(
                    "line {line} holds the control character 0x{byte:02X}, which {what} and XML cannot carry; remove it"
                ),
            );
        }
        Some(Unstorable::NotUtf8 { byte, line }) => {
            return refuse(
                cond,
                &format!(
                    "line {line} holds the byte 0x{byte:02X}, which is not UTF-8; save the {what} as UTF-8 and send it again"
                ),
            );
        }
        Some(Unstorable::NonCharacter { code, line }) => {
            return refuse(
                cond,
                &format!(
                    "line {line} holds U+{code:04X}, which is not a character XML can carry; remove it"
                ),
            );
        }
        None => {}
    }
    if kind != Kind::Addressbook {
        return None;
    }
    if bytes::several_uids(body) {
        return refuse(
            cond,
            "the card has more than one UID; a vCard has at most one",
        );
    }
    if bytes::is_vcard_21(body) {
        return refuse(
            "supported-address-data",
            "vCard 2.1 cannot be stored over CardDAV; send vCard 3.0 or 4.0 (importing a 2.1 file converts it to 3.0)",
        );
    }
    None
}

/// Bytes that cannot be stored, answered with the precondition of RFC 6352 §6.3.2.1 or
/// RFC 4791 §5.3.2.1. `media_type` is the request's Content-Type, which tells a card that is
/// broken from a body that was never a card.
pub fn refused(e: ObjectError, media_type: &str) -> Response {
    let (ns, cond, text) = match &e {
        ObjectError::Card(c) => {
            let (cond, advice) = match (c, is_vcard_type(media_type)) {
                (CardError::NotVCard(_), false) => (
                    "supported-address-data",
                    "Only vCard 3.0 and 4.0 (text/vcard) can be stored in an address book",
                ),
                (CardError::MultipleCards, _) => {
                    ("valid-address-data", "Send one card per request")
                }
                _ => ("valid-address-data", "Send a well-formed vCard"),
            };
            (CARDDAV, cond, format!("{e}. {advice}."))
        }
        ObjectError::Calendar(c) => (CALDAV, c.precondition(), e.to_string()),
        ObjectError::Component { found, .. } => (
            CALDAV,
            "supported-calendar-component",
            format!("{e}; store it in a calendar that takes {found}"),
        ),
    };
    respond::condition(StatusCode::FORBIDDEN, ns, cond, &text)
}

fn is_vcard_type(media_type: &str) -> bool {
    matches!(
        media_type,
        "text/vcard"
            | "text/x-vcard"
            | "text/directory"
            | "text/plain"
            | "application/octet-stream"
            | ""
    )
}

fn is_calendar_type(media_type: &str) -> bool {
    matches!(
        media_type,
        "text/calendar" | "text/plain" | "application/octet-stream" | ""
    )
}

/// The refusal of a write into `coll` that its caller may not make (RFC 3744 §7.1.1
/// `need-privileges`, naming `href` and the privilege missing): a derived calendar, or another
/// user's collection shared read-only. `None` when the write may go ahead.
pub fn refuse_write(coll: &Collection, href: &str, privilege: &str) -> Option<Response> {
    let why = if let Some(d) = &coll.derived {
        if crate::core::scheduling::boxes::is_box(coll) {
            if privilege == "unbind" && crate::core::scheduling::boxes::is_inbox(coll) {
                // A client deletes the messages it has handled.
                return None;
            }
            "Only Kith writes scheduling messages here; they arrive when someone invites you or answers you"
                .to_string()
        } else if d == crate::core::shared_cards::DERIVED {
            "Contacts shared with you are read-only: ask the person who shared one to change it"
                .to_string()
        } else {
            "The birthday calendar is read-only: change the birthday on the contact card instead"
                .to_string()
        }
    } else {
        match &coll.shared {
            Some(s) if !s.writable => format!(
                "{} shares this with you read-only; ask {} for write access",
                s.owner_name, s.owner_name
            ),
            _ => return None,
        }
    };
    Some(need_privileges(href, privilege, &why))
}

/// 403 `need-privileges` for `privilege` on `href`.
pub fn need_privileges(href: &str, privilege: &str, why: &str) -> Response {
    respond::condition_with(
        StatusCode::FORBIDDEN,
        DAV,
        "need-privileges",
        &format!(
            "<d:resource><d:href>{}</d:href><d:privilege><d:{privilege}/></d:privilege></d:resource>",
            escape(href)
        ),
        why,
    )
}

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
            uid_conflict(
                coll.kind,
                &href,
                &format!("Another object in this collection ({href}) already has UID {uid}"),
            )
        }
        Ok(PutOutcome::UidChanged(old)) => uid_conflict(
            coll.kind,
            &ctx.path,
            &format!(
                "This object has UID {old}; a PUT may not change it. Keep UID {old}, or store the new UID as a new object and delete this one"
            ),
        ),
        Err(e) => respond::internal(e),
    }
}

/// 403 `no-uid-conflict` naming the object that holds the UID (RFC 4791 §5.3.2.1).
fn uid_conflict(kind: Kind, href: &str, why: &str) -> Response {
    let ns = match kind {
        Kind::Addressbook => CARDDAV,
        Kind::Calendar => CALDAV,
    };
    respond::condition_with(
        StatusCode::FORBIDDEN,
        ns,
        "no-uid-conflict",
        &format!("<d:href>{}</d:href>", escape(href)),
        why,
    )
}
