//! Free-busy across users (RFC 6638 §5): the busy time of a local user's own calendars in a
//! range, as the VFREEBUSY reply an outbox POST answers. Only periods leave: a private event
//! shows as busy with no summary, place or attendees.

use crate::config::Config;
use crate::store::{Kind, Narrow, Store, StoreError, User};
use futures_util::StreamExt;
use kith_dav::ical::calendar_zone;
use kith_dav::ical::render::{self, Busy};
use kith_dav::ical::{Tz, parse_calendar};

/// `user`'s busy periods in `[start, end)` (Unix seconds), from their own event calendars
/// (not the birthday calendar, the scheduling boxes, or calendars shared with them).
pub async fn busy(
    store: &dyn Store,
    config: &Config,
    user: &User,
    start: i64,
    end: i64,
) -> Result<Vec<Busy>, StoreError> {
    let default_zone = calendar_zone(&config.caldav.default_timezone).unwrap_or(Tz::UTC);
    let limit = config.caldav.max_instances;
    let mut out = Vec::new();
    for cal in store.collections(user.id, Kind::Calendar).await? {
        if cal.derived.is_some() {
            continue;
        }
        let zone = cal
            .timezone
            .as_deref()
            .and_then(calendar_zone)
            .unwrap_or(default_zone);
        let mut rows = store.objects(cal.id, true, Some(Narrow::Span { start, end }));
        while let Some(row) = rows.next().await {
            if let Ok(obj) = parse_calendar(&row?.data) {
                out.extend(render::busy(&obj, zone, start, end, limit));
            }
        }
    }
    Ok(out)
}

/// The iTIP REPLY carrying `attendee`'s free-busy for the request `uid` of `organizer`.
pub fn reply(
    periods: Vec<Busy>,
    start: i64,
    end: i64,
    now: i64,
    organizer: &str,
    attendee: &str,
    uid: Option<&str>,
) -> String {
    let body = render::freebusy(periods, start, end, now);
    let mut head = format!("ORGANIZER:{organizer}\r\nATTENDEE:{attendee}\r\n");
    if let Some(u) = uid {
        head.push_str(&format!("UID:{u}\r\n"));
    }
    body.replacen("VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:REPLY\r\n", 1)
        .replacen(
            "BEGIN:VFREEBUSY\r\n",
            &format!("BEGIN:VFREEBUSY\r\n{head}"),
            1,
        )
}
