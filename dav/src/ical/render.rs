//! Calendar data computed for a request: `expand` and `limit-recurrence-set` in
//! `calendar-data` (RFC 4791 §9.6.5-6), and free-busy (§7.10).

use super::CalObject;
use super::freebusy::busy_periods;
use super::instances::{Instance, date_time, expand};
use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameter,
    ICalendarParameterName, ICalendarParameterValue, ICalendarProperty, ICalendarStatus,
    ICalendarTransparency, ICalendarValue, ICalendarValueType,
};

/// An iCalendar UTC date-time for Unix seconds.
pub fn utc_text(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

fn utc_value(ts: i64) -> ICalendarValue {
    ICalendarValue::PartialDateTime(Box::new(PartialDateTime::from_utc_timestamp(ts)))
}

fn entry(name: ICalendarProperty, value: ICalendarValue) -> ICalendarEntry {
    ICalendarEntry {
        name,
        params: Vec::new(),
        values: vec![value],
    }
}

/// Copies component `id` of `src` (with its sub-components) into `out`; returns its new id.
fn copy_tree(src: &ICalendar, id: u32, out: &mut Vec<ICalendarComponent>) -> u32 {
    let new_id = out.len() as u32;
    let Some(c) = src.component_by_id(id) else {
        return new_id;
    };
    out.push(ICalendarComponent {
        component_type: c.component_type.clone(),
        entries: c.entries.clone(),
        component_ids: Vec::new(),
    });
    for child in &c.component_ids {
        let cid = copy_tree(src, *child, out);
        out[new_id as usize].component_ids.push(cid);
    }
    new_id
}

/// Expanded calendar data larger than this is refused rather than built: an object with
/// thousands of instances, each carrying hundreds of alarms, would otherwise fill memory.
pub const MAX_EXPANDED_BYTES: usize = 8 << 20;

/// Expanding the object would produce more than [`MAX_EXPANDED_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// The object with its recurrence set expanded to the instances overlapping `[s, e)`: one
/// component per instance with RECURRENCE-ID, times in UTC, and no rules (RFC 4791 §9.6.5).
/// Written instance by instance, without the recurrence properties: the work is linear in the
/// output, however many RDATEs or EXDATEs the object has.
pub fn expanded(obj: &CalObject, tz: Tz, s: i64, e: i64, limit: usize) -> Result<String, TooLarge> {
    let src = &obj.ical;
    let ex = expand(src, tz, Some(e), limit);
    let mut out = String::from("BEGIN:VCALENDAR\r\n");
    for entry in &src.components[0].entries {
        let _ = entry.write_to(&mut out);
    }
    for inst in ex.instances.iter().filter(|i| i.overlaps(s, e)) {
        let Some(c) = src.component_by_id(inst.comp) else {
            continue;
        };
        let all_day = date_time(c, &ICalendarProperty::Dtstart).is_some_and(|d| !d.has_time());
        write_instance(src, c, Some((inst, all_day)), &mut out);
        if out.len() > MAX_EXPANDED_BYTES {
            return Err(TooLarge);
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    Ok(out)
}

/// The properties an instance does not repeat: its own times replace them. DURATION stays:
/// it holds for every instance, and a client that wrote it expects it back (RFC 4791 §9.6.5
/// only asks for DTSTART and RECURRENCE-ID in UTC).
fn recurrence_prop(name: &ICalendarProperty) -> bool {
    use ICalendarProperty as P;
    matches!(
        name,
        P::Dtstart
            | P::Dtend
            | P::Rrule
            | P::Rdate
            | P::Exdate
            | P::Exrule
            | P::RecurrenceId
            | P::Due
    )
}

/// Component `c` with its sub-components (alarms) as they are; for an instance, without its
/// recurrence properties and with the instance's own times in UTC (all-day instances keep DATE
/// values).
fn write_instance(
    src: &ICalendar,
    c: &ICalendarComponent,
    inst: Option<(&Instance, bool)>,
    out: &mut String,
) {
    let name = c.component_type.as_str();
    out.push_str("BEGIN:");
    out.push_str(name);
    out.push_str("\r\n");
    for entry in &c.entries {
        if inst.is_none() || !recurrence_prop(&entry.name) {
            let _ = entry.write_to(out);
        }
    }
    if let Some((i, all_day)) = inst {
        for entry in instance_times(c, i, all_day) {
            let _ = entry.write_to(out);
        }
    }
    for child in &c.component_ids {
        if let Some(sub) = src.component_by_id(*child) {
            write_instance(src, sub, None, out);
        }
    }
    out.push_str("END:");
    out.push_str(name);
    out.push_str("\r\n");
}

/// An instance's DTSTART, DTEND (DUE for a VTODO) and RECURRENCE-ID.
fn instance_times(c: &ICalendarComponent, inst: &Instance, all_day: bool) -> Vec<ICalendarEntry> {
    use ICalendarProperty as P;
    let value = |t: &chrono::DateTime<Tz>| {
        if all_day {
            let d = t.naive_local().date();
            let mut p = PartialDateTime::from_date_timestamp(
                d.and_hms_opt(0, 0, 0)
                    .map(|x| x.and_utc().timestamp())
                    .unwrap_or(0),
            );
            p.hour = None;
            ICalendarValue::PartialDateTime(Box::new(p))
        } else {
            utc_value(t.timestamp())
        }
    };
    let end_prop = if c.component_type == ICalendarComponentType::VTodo {
        P::Due
    } else {
        P::Dtend
    };
    let timed = |name: P, t: &chrono::DateTime<Tz>| {
        let mut e = entry(name, value(t));
        if all_day {
            e.params.push(ICalendarParameter {
                name: ICalendarParameterName::Value,
                value: ICalendarParameterValue::Value(ICalendarValueType::Date),
            });
        }
        e
    };
    let mut out = vec![timed(P::Dtstart, &inst.start)];
    let has_duration = c.entries.iter().any(|e| e.name == P::Duration);
    if inst.end_ts() > inst.start_ts() && !has_duration {
        out.push(timed(end_prop, &inst.end));
    }
    if let Some(rid) = &inst.rid {
        out.push(timed(P::RecurrenceId, rid));
    }
    out
}

/// The object limited to the master and the overrides with an instance in `[s, e)`
/// (RFC 4791 §9.6.6). `None` when nothing is left out, so the stored bytes can be served.
pub fn limited(obj: &CalObject, tz: Tz, s: i64, e: i64, limit: usize) -> Option<String> {
    let src = &obj.ical;
    let ex = expand(src, tz, Some(e), limit);
    // The components with an instance in range, found in one pass over the instances.
    let shown: std::collections::HashSet<u32> = ex
        .instances
        .iter()
        .filter(|i| {
            i.overlaps(s, e)
                || i.rid
                    .is_some_and(|r| r.timestamp() >= s && r.timestamp() < e)
        })
        .map(|i| i.comp)
        .collect();
    let keep = |id: u32, c: &ICalendarComponent| !c.is_recurrence_override() || shown.contains(&id);
    let top = &src.components[0].component_ids;
    if top
        .iter()
        .all(|id| src.component_by_id(*id).is_some_and(|c| keep(*id, c)))
    {
        return None;
    }
    let mut comps = vec![ICalendarComponent {
        component_type: ICalendarComponentType::VCalendar,
        entries: src.components[0].entries.clone(),
        component_ids: Vec::new(),
    }];
    for id in top {
        if src.component_by_id(*id).is_some_and(|c| keep(*id, c)) {
            let new = copy_tree(src, *id, &mut comps);
            comps[0].component_ids.push(new);
        }
    }
    Some(ICalendar { components: comps }.to_string())
}

/// A busy period: start, end (Unix seconds) and FBTYPE.
pub type Busy = (i64, i64, &'static str);

/// The busy time an object contributes to `[s, e)` (RFC 4791 §7.10): opaque, not cancelled
/// events, and the FREEBUSY periods of VFREEBUSY components.
pub fn busy(obj: &CalObject, tz: Tz, s: i64, e: i64, limit: usize) -> Vec<Busy> {
    let src = &obj.ical;
    let mut out = Vec::new();
    let clip = |a: i64, b: i64| (a.max(s), b.min(e));
    let mut ex = None;
    for (id, c) in obj.items() {
        match c.component_type {
            ICalendarComponentType::VEvent => {
                if c.transparency() == Some(&ICalendarTransparency::Transparent)
                    || c.status() == Some(&ICalendarStatus::Cancelled)
                {
                    continue;
                }
                let kind = if c.status() == Some(&ICalendarStatus::Tentative) {
                    "BUSY-TENTATIVE"
                } else {
                    "BUSY"
                };
                let ex = ex.get_or_insert_with(|| expand(src, tz, Some(e), limit));
                for i in ex.instances.iter().filter(|i| i.comp == id) {
                    if i.end_ts() > i.start_ts() && i.overlaps(s, e) {
                        let (a, b) = clip(i.start_ts(), i.end_ts());
                        out.push((a, b, kind));
                    }
                }
            }
            ICalendarComponentType::VFreebusy => {
                for (a, b, kind) in busy_periods(c, Tz::UTC) {
                    if kind != "FREE" && a < e && b > s {
                        let (a, b) = clip(a, b);
                        out.push((a, b, kind));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A VFREEBUSY for `[s, e)` listing the busy periods, merged per type.
pub fn freebusy(mut periods: Vec<Busy>, s: i64, e: i64, now: i64) -> String {
    periods.sort_by(|x, y| (x.2, x.0, x.1).cmp(&(y.2, y.0, y.1)));
    let mut merged: Vec<Busy> = Vec::new();
    for p in periods {
        match merged.last_mut() {
            Some(last) if last.2 == p.2 && p.0 <= last.1 => last.1 = last.1.max(p.1),
            _ => merged.push(p),
        }
    }
    merged.sort_by_key(|p| (p.0, p.1));
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kith//CalDAV//EN\r\nBEGIN:VFREEBUSY\r\n",
    );
    out.push_str(&format!(
        "DTSTAMP:{}\r\nDTSTART:{}\r\nDTEND:{}\r\n",
        utc_text(now),
        utc_text(s),
        utc_text(e)
    ));
    for (a, b, kind) in merged {
        out.push_str(&format!(
            "FREEBUSY;FBTYPE={kind}:{}/{}\r\n",
            utc_text(a),
            utc_text(b)
        ));
    }
    out.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::filter::parse_utc;
    use crate::ical::parse_calendar;

    const SERIES: &str = concat!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n",
        "BEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\n",
        "DTEND:20240101T110000Z\r\nRRULE:FREQ=DAILY;COUNT=5\r\nSUMMARY:Daily\r\nEND:VEVENT\r\n",
        "BEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240104T100000Z\r\n",
        "DTSTART:20240104T120000Z\r\nDTEND:20240104T130000Z\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n",
        "END:VCALENDAR\r\n"
    );

    #[test]
    fn expands_to_instances_with_recurrence_ids() {
        let o = parse_calendar(SERIES.as_bytes()).unwrap();
        let s = parse_utc("20240102T000000Z").unwrap();
        let e = parse_utc("20240105T000000Z").unwrap();
        let text = expanded(&o, Tz::UTC, s, e, 100).unwrap();
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 3, "{text}");
        assert!(!text.contains("RRULE"));
        assert!(text.contains("RECURRENCE-ID:20240104T100000Z"), "{text}");
        assert!(text.contains("DTSTART:20240104T120000Z"), "{text}");
        assert!(text.contains("DTSTART:20240102T100000Z"), "{text}");
    }

    #[test]
    fn instances_keep_their_duration() {
        let text = concat!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:d\r\n",
            "DTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nDURATION:PT90M\r\n",
            "RRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let o = parse_calendar(text.as_bytes()).unwrap();
        let s = parse_utc("20240101T000000Z").unwrap();
        let e = parse_utc("20240110T000000Z").unwrap();
        let out = expanded(&o, Tz::UTC, s, e, 100).unwrap();
        assert_eq!(
            out.matches("DURATION:PT1H30M").count() + out.matches("DURATION:PT90M").count(),
            3,
            "{out}"
        );
        assert!(!out.contains("DTEND"), "{out}");
    }

    #[test]
    fn all_day_instances_stay_dates() {
        let text = concat!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a\r\n",
            "DTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:19970102\r\nRRULE:FREQ=YEARLY\r\n",
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let o = parse_calendar(text.as_bytes()).unwrap();
        let s = parse_utc("20270101T000000Z").unwrap();
        let e = parse_utc("20280101T000000Z").unwrap();
        let out = expanded(&o, Tz::UTC, s, e, 1000).unwrap();
        assert!(out.contains("DTSTART;VALUE=DATE:20270102"), "{out}");
        assert!(out.contains("RECURRENCE-ID;VALUE=DATE:20270102"), "{out}");
    }

    #[test]
    fn limits_the_recurrence_set() {
        let o = parse_calendar(SERIES.as_bytes()).unwrap();
        let s = parse_utc("20240101T000000Z").unwrap();
        let e = parse_utc("20240102T000000Z").unwrap();
        let text = limited(&o, Tz::UTC, s, e, 100).unwrap();
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 1);
        let all = limited(&o, Tz::UTC, s, parse_utc("20240110T000000Z").unwrap(), 100);
        assert!(all.is_none());
    }

    #[test]
    fn vfreebusy_periods_keep_their_type_and_free_is_left_out() {
        let text = concat!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VFREEBUSY\r\nUID:f\r\n",
            "DTSTAMP:20240101T000000Z\r\nFREEBUSY;FBTYPE=FREE:20240101T080000Z/PT1H\r\n",
            "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240101T100000Z/20240101T110000Z\r\n",
            "END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        );
        let o = parse_calendar(text.as_bytes()).unwrap();
        let s = parse_utc("20240101T000000Z").unwrap();
        let e = parse_utc("20240102T000000Z").unwrap();
        let out = freebusy(busy(&o, Tz::UTC, s, e, 10), s, e, 0);
        assert!(out.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240101T100000Z/20240101T110000Z"));
        assert!(!out.contains("20240101T080000Z"), "{out}");
    }

    #[test]
    fn freebusy_merges_busy_time() {
        let o = parse_calendar(SERIES.as_bytes()).unwrap();
        let s = parse_utc("20240101T000000Z").unwrap();
        let e = parse_utc("20240103T000000Z").unwrap();
        let text = freebusy(busy(&o, Tz::UTC, s, e, 100), s, e, 0);
        assert!(text.contains("FREEBUSY;FBTYPE=BUSY:20240101T100000Z/20240101T110000Z"));
        assert_eq!(text.matches("FREEBUSY;").count(), 2);
    }
}
