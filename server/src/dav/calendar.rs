//! CalDAV objects: a calendar's zone for floating times, and the rendering of `calendar-data`
//! with `expand` or `limit-recurrence-set`. PUT is in [`super::write`].

use super::Render;
use crate::config::Config;
use crate::store::Collection;
use kith_dav::ical::Tz;
use kith_dav::ical::{calendar_zone, parse_calendar, render};
use kith_dav::request::PropSelection;
use kith_dav::xml::escape;

/// The zone floating times of calendar `cal` are read in.
pub fn zone(config: &Config, cal: &Collection) -> Tz {
    cal.timezone
        .as_deref()
        .and_then(calendar_zone)
        .or_else(|| calendar_zone(&config.caldav.default_timezone))
        .unwrap_or(Tz::UTC)
}

/// The content of `<cal:calendar-data>` for one stored object: the stored bytes, or the
/// expanded or limited set the request asked for. An expansion too large to build is refused
/// ([`render::TooLarge`]); the response then says 507 for this property.
pub fn calendar_data_xml(
    r: &Render,
    zone: Tz,
    data: &[u8],
    select: &PropSelection,
) -> Result<String, render::TooLarge> {
    let req = &select.calendar_data;
    let limit = r.config.caldav.max_instances;
    let computed = match (req.expand, req.limit_recurrence_set) {
        (None, None) => None,
        (expand, limit_set) => match parse_calendar(data) {
            Err(_) => None,
            Ok(obj) => match expand {
                Some((s, e)) => Some(render::expanded(&obj, zone, s, e, limit)?),
                None => limit_set.and_then(|(s, e)| render::limited(&obj, zone, s, e, limit)),
            },
        },
    };
    let text = match computed {
        Some(text) => std::borrow::Cow::Owned(text),
        None => String::from_utf8_lossy(data),
    };
    Ok(match &req.select {
        Some(sel) => escape(&kith_dav::partial::select(&text, sel)).into_owned(),
        None => escape(&text).into_owned(),
    })
}
