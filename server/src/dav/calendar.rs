//! CalDAV objects: PUT with the CALDAV preconditions (RFC 4791 §5.3.2.1), and the rendering of
//! `calendar-data` with `expand` or `limit-recurrence-set`.

use super::{Ctx, Render, respond, write};
use crate::config::Config;
use crate::store::{Collection, Kind, NewObject, etag_for};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use kith_dav::ical::Tz;
use kith_dav::ical::{CalObject, calendar_zone, instances, parse_calendar, render};
use kith_dav::names::{CALDAV, DAV};
use kith_dav::request::PropSelection;
use kith_dav::xml::escape;

/// The answer to a write into a derived (read-only) calendar.
pub fn read_only() -> Response {
    respond::condition(
        StatusCode::FORBIDDEN,
        DAV,
        "need-privileges",
        "The birthday calendar is read-only: change the birthday on the contact card instead",
    )
}

/// The zone floating times of calendar `cal` are read in.
pub fn zone(config: &Config, cal: &Collection) -> Tz {
    cal.timezone
        .as_deref()
        .and_then(calendar_zone)
        .or_else(|| calendar_zone(&config.caldav.default_timezone))
        .unwrap_or(Tz::UTC)
}

fn is_calendar_type(media_type: &str) -> bool {
    matches!(
        media_type,
        "text/calendar" | "text/plain" | "application/octet-stream" | ""
    )
}

/// Validates `data` as an object of calendar `cal`: the parsed object and its stored span, or
/// the response naming the failed precondition.
// The error is the response the handler sends at once; boxing it would gain nothing.
#[allow(clippy::result_large_err)]
pub fn check(
    config: &Config,
    cal: &Collection,
    data: &[u8],
    content_type: &str,
) -> Result<(CalObject, (i64, i64)), Response> {
    if !is_calendar_type(content_type) {
        return Err(respond::condition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "supported-calendar-data",
            "Only iCalendar 2.0 (text/calendar) can be stored in a calendar",
        ));
    }
    let obj = parse_calendar(data).map_err(|e| {
        respond::condition(
            StatusCode::FORBIDDEN,
            CALDAV,
            e.precondition(),
            &e.to_string(),
        )
    })?;
    if !cal.components.iter().any(|c| c == obj.component) {
        return Err(respond::condition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "supported-calendar-component",
            &format!(
                "This calendar holds {} only, not {}; store it in a calendar that takes {}",
                cal.components.join(", "),
                obj.component,
                obj.component
            ),
        ));
    }
    let span = instances::span(&obj.ical, config.caldav.max_instances);
    Ok((obj, span))
}

pub use crate::core::objects::calendar_content_type as content_type;

pub async fn put(ctx: &Ctx, cal: &str, name: &str, body: Bytes) -> Response {
    if body.len() > ctx.app.config.dav.max_resource_size {
        return write::too_large(ctx);
    }
    let cal = match ctx.collection(Kind::Calendar, cal).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return respond::text(
                StatusCode::CONFLICT,
                "The calendar does not exist; create it with MKCALENDAR first",
            );
        }
        Err(r) => return r,
    };
    if cal.derived.is_some() {
        return read_only();
    }
    let ct = ctx.headers.media_type.as_str();
    let (obj, span) = match check(&ctx.app.config, &cal, &body, ct) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let etag = etag_for(&body);
    let stored_type = content_type(obj.component);
    let new = NewObject {
        name,
        uid: &obj.uid,
        etag: &etag,
        content_type: &stored_type,
        data: &body,
        index: Vec::new(),
        span: Some(span),
    };
    let check = write::precondition(ctx);
    let outcome = ctx
        .app
        .store
        .put_object(cal.id, &new, &check, &ctx.actor())
        .await;
    write::put_response(ctx, &cal, outcome, &etag, &obj.uid)
}

/// The content of `<cal:calendar-data>` for one stored object: the stored bytes, or the
/// expanded or limited set the request asked for.
pub fn calendar_data_xml(r: &Render, zone: Tz, data: &[u8], select: &PropSelection) -> String {
    let req = &select.calendar_data;
    let limit = r.config.caldav.max_instances;
    let computed = match (req.expand, req.limit_recurrence_set) {
        (None, None) => None,
        (expand, limit_set) => parse_calendar(data).ok().and_then(|obj| match expand {
            Some((s, e)) => Some(render::expanded(&obj, zone, s, e, limit)),
            None => limit_set.and_then(|(s, e)| render::limited(&obj, zone, s, e, limit)),
        }),
    };
    match computed {
        Some(text) => escape(&text).into_owned(),
        None => escape(&String::from_utf8_lossy(data)).into_owned(),
    }
}
