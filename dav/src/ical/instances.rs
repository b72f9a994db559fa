//! Recurrence expansion: the instances of a calendar object, through calcard's expansion of a
//! prepared copy.
//!
//! Before expanding, these named rules are applied to the copy (never to the stored bytes):
//! - `instant-without-end`: a VEVENT or VJOURNAL whose DTSTART is a DATE-TIME and that has
//!   neither DTEND nor DURATION lasts zero seconds (RFC 5545 §3.6.1); calcard would stretch it
//!   to the end of the day.
//! - `override-despite-sequence`: an override replaces its occurrence whatever its SEQUENCE.
//!   Apple and Thunderbird bump SEQUENCE on the override only, and calcard pairs overrides with
//!   the master by SEQUENCE.
//! - `exdate-as-date`: an EXDATE given as a DATE (Outlook) removes that day's occurrence of a
//!   series whose DTSTART is a DATE-TIME.
//! - `dtend-with-duration`: Lightning sends DTEND together with `DURATION:PT0S`; DTEND wins.
//!   calcard already reads DTEND first, so the rule is a test, not a rewrite.
//!
//! Outlook's Windows TZIDs ("W. Europe Standard Time") are resolved by calcard.

use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz;
use calcard::icalendar::dates::TimeOrDelta;
use calcard::icalendar::timezone::TzResolver;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarDuration, ICalendarEntry,
    ICalendarProperty, ICalendarValue,
};
use chrono::{DateTime, TimeZone};

/// One occurrence of a component.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The component (master or override) the occurrence comes from, by index.
    pub comp: u32,
    pub start: DateTime<Tz>,
    pub end: DateTime<Tz>,
    /// For a recurring set: which occurrence this is (its RECURRENCE-ID).
    pub rid: Option<DateTime<Tz>>,
}

impl Instance {
    pub fn start_ts(&self) -> i64 {
        self.start.timestamp()
    }

    pub fn end_ts(&self) -> i64 {
        self.end.timestamp().max(self.start_ts())
    }

    /// RFC 4791 §9.9: an instance overlaps `[s, e)`; one of zero length overlaps when its start
    /// lies in the range.
    pub fn overlaps(&self, s: i64, e: i64) -> bool {
        let (a, b) = (self.start_ts(), self.end_ts());
        if b > a {
            a < e && b > s
        } else {
            a >= s && a < e
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Expansion {
    pub instances: Vec<Instance>,
    /// Some rule has no end (no COUNT or UNTIL), or the expansion hit its limit.
    pub unbounded: bool,
}

/// Expands every component with times. Floating times are read in `tz`. With `until` (Unix
/// seconds), occurrences starting after it are not computed; `limit` caps the count either way.
pub fn expand(ical: &ICalendar, tz: Tz, until: Option<i64>, limit: usize) -> Expansion {
    let mut copy = ical.clone();
    let mut unbounded = prepare(&mut copy, until);
    let resolver = copy.build_tz_resolver().with_default(tz);
    let expanded = copy.expand_dates(tz, limit);
    if expanded.events.len() >= limit {
        unbounded = true;
    }
    // By component, and by the start they replace: lookups stay constant-time however many
    // overrides an object has.
    let mut overridden = std::collections::HashMap::new();
    let mut replaced = std::collections::HashSet::new();
    let mut recurring = std::collections::HashSet::new();
    for (i, c) in copy.components.iter().enumerate() {
        if !c.component_type.has_time_ranges() {
            continue;
        }
        if c.is_recurrent() {
            recurring.insert(i as u32);
        }
        if let Some(e) = c.property(&ICalendarProperty::RecurrenceId)
            && let Some(ICalendarValue::PartialDateTime(dt)) = e.values.first()
            && let Some(at) = dt.to_date_time_with_tz(resolver.resolve_or_default(e.tz_id()))
        {
            overridden.insert(i as u32, at);
            replaced.insert(at.timestamp());
        }
    }
    let mut instances = Vec::with_capacity(expanded.events.len());
    for ev in expanded.events {
        let end = match ev.end {
            TimeOrDelta::Time(t) => t,
            TimeOrDelta::Delta(d) => {
                // Wall-clock arithmetic: a one-day all-day event stays one day across DST.
                // A duration past the calendar's end (client input) ends the instance at the
                // latest representable time instead of overflowing.
                let wall = ev
                    .start
                    .naive_local()
                    .checked_add_signed(d)
                    .and_then(|n| ev.start.timezone().from_local_datetime(&n).earliest());
                match wall.or_else(|| ev.start.checked_add_signed(d)) {
                    Some(end) => end,
                    None => ev
                        .start
                        .timezone()
                        .from_utc_datetime(&chrono::NaiveDateTime::MAX),
                }
            }
        };
        let own_rid = overridden.get(&ev.comp_id).copied();
        let rid = match own_rid {
            Some(r) => Some(r),
            None if recurring.contains(&ev.comp_id) => {
                // An occurrence that an override replaces is not an instance of the master.
                if replaced.contains(&ev.start.timestamp()) {
                    continue;
                }
                Some(ev.start)
            }
            None => None,
        };
        instances.push(Instance {
            comp: ev.comp_id,
            start: ev.start,
            end,
            rid,
        });
    }
    instances.sort_by_key(|i| (i.start_ts(), i.comp));
    // A recurrence set is a set: an RDATE equal to DTSTART (or to a rule's date) is one
    // instance, not two (RFC 5545 §3.8.5.2).
    instances.dedup_by_key(|i| (i.start_ts(), i.comp));
    // RDATEs are instances calcard does not count against the limit.
    if instances.len() > limit {
        instances.truncate(limit);
        unbounded = true;
    }
    Expansion {
        instances,
        unbounded,
    }
}

/// Applies the named rules of this module to the copy; returns whether some rule is endless.
fn prepare(ical: &mut ICalendar, until: Option<i64>) -> bool {
    let mut unbounded = false;
    for comp in ical.components.iter_mut() {
        if !comp.component_type.has_time_ranges() {
            continue;
        }
        // override-despite-sequence
        comp.entries
            .retain(|e| e.name != ICalendarProperty::Sequence);
        let start = date_time(comp, &ICalendarProperty::Dtstart).cloned();
        if let Some(st) = start.filter(PartialDateTime::has_time) {
            let has_end = comp.has_property(&ICalendarProperty::Dtend)
                || comp.has_property(&ICalendarProperty::Duration);
            // instant-without-end
            if !has_end
                && matches!(
                    comp.component_type,
                    ICalendarComponentType::VEvent | ICalendarComponentType::VJournal
                )
            {
                comp.entries.push(ICalendarEntry {
                    name: ICalendarProperty::Duration,
                    params: Vec::new(),
                    values: vec![ICalendarValue::Duration(ICalendarDuration::default())],
                });
            }
            // exdate-as-date
            for e in comp
                .entries
                .iter_mut()
                .filter(|e| e.name == ICalendarProperty::Exdate)
            {
                for v in e.values.iter_mut() {
                    if let ICalendarValue::PartialDateTime(dt) = v
                        && !dt.has_time()
                    {
                        dt.hour = st.hour;
                        dt.minute = st.minute;
                        dt.second = st.second;
                        dt.tz_hour = st.tz_hour;
                        dt.tz_minute = st.tz_minute;
                        dt.tz_minus = st.tz_minus;
                    }
                }
            }
        }
        for e in comp
            .entries
            .iter_mut()
            .filter(|e| e.name == ICalendarProperty::Rrule)
        {
            let Some(ICalendarValue::RecurrenceRule(rule)) = e.values.first_mut() else {
                continue;
            };
            if rule.count.is_some() {
                continue;
            }
            if rule.until.is_none() {
                unbounded = true;
            }
            // Occurrences after the range are never needed: a margin of two days covers any
            // time zone the floating comparison inside calcard might be off by.
            if let Some(u) = until {
                let cap = u.saturating_add(2 * 86_400);
                let current = rule
                    .until
                    .as_ref()
                    .and_then(|d| d.to_date_time())
                    .map(|d| d.date_time.and_utc().timestamp());
                if current.is_none_or(|c| c > cap) {
                    rule.until = Some(PartialDateTime::from_naive_timestamp(cap));
                }
            }
        }
    }
    unbounded
}

/// The first PartialDateTime value of a property of `comp`.
pub fn date_time<'a>(
    comp: &'a ICalendarComponent,
    prop: &'a ICalendarProperty,
) -> Option<&'a PartialDateTime> {
    comp.properties(prop).find_map(|e| match e.values.first() {
        Some(ICalendarValue::PartialDateTime(dt)) => Some(dt.as_ref()),
        _ => None,
    })
}

/// A date-time property of `comp` as Unix seconds, read with `zones` (whose default zone
/// takes floating times).
pub fn timestamp(
    zones: &TzResolver<&str>,
    comp: &ICalendarComponent,
    prop: &ICalendarProperty,
) -> Option<i64> {
    entry_timestamp(zones, comp.property(prop)?)
}

/// A date-time property value as Unix seconds, in its TZID's zone or `zones`' default.
pub fn entry_timestamp(zones: &TzResolver<&str>, entry: &ICalendarEntry) -> Option<i64> {
    let Some(ICalendarValue::PartialDateTime(dt)) = entry.values.first() else {
        return None;
    };
    dt.to_date_time_with_tz(zones.resolve_or_default(entry.tz_id()))
        .map(|d| d.timestamp())
}

/// Fourteen hours: the widest UTC offset. Floating times are stored widened by it, so a later
/// change of the calendar's time zone cannot move an object out of its stored span.
const FLOATING_SLACK: i64 = 14 * 3600;

/// Most instances expanded to compute a stored span.
const SPAN_INSTANCES: usize = 1000;

/// The span stored for the time-range pre-filter: the object's first start and last end in
/// Unix seconds, `i64::MAX` for an endless series. Objects whose times cannot be read span
/// everything, so the pre-filter never drops them.
pub fn span(ical: &ICalendar, limit: usize) -> (i64, i64) {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    let mut todo_without_dates = false;
    let zones = ical.build_tz_resolver().with_default(Tz::UTC);
    for c in &ical.components {
        if c.component_type == ICalendarComponentType::VTodo {
            // §9.9 lets DUE, COMPLETED and CREATED decide a VTODO's range.
            let props = [
                ICalendarProperty::Dtstart,
                ICalendarProperty::Due,
                ICalendarProperty::Completed,
                ICalendarProperty::Created,
            ];
            let mut bounded = false;
            for p in &props {
                if let Some(t) = timestamp(&zones, c, p) {
                    lo = lo.min(t);
                    hi = hi.max(t);
                    // A VTODO with only CREATED matches every range after it.
                    bounded |= *p != ICalendarProperty::Created;
                }
            }
            todo_without_dates |= !bounded;
        }
        if c.component_type == ICalendarComponentType::VFreebusy {
            return (i64::MIN, i64::MAX);
        }
    }
    if todo_without_dates {
        return (i64::MIN, i64::MAX);
    }
    // The span only needs the first start and, for a bounded set, the last end: a series with
    // more instances than this is stored as endless, which keeps a PUT cheap.
    let ex = expand(ical, Tz::UTC, None, limit.min(SPAN_INSTANCES));
    for i in &ex.instances {
        lo = lo.min(i.start_ts());
        hi = hi.max(i.end_ts());
    }
    if lo > hi {
        return (i64::MIN, i64::MAX);
    }
    let lo = lo.saturating_sub(FLOATING_SLACK);
    let hi = if ex.unbounded {
        i64::MAX
    } else {
        hi.saturating_add(FLOATING_SLACK)
    };
    (lo, hi)
}

/// Parses an iCalendar UTC date-time (`20240101T000000Z`) to Unix seconds.
pub fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim();
    let body = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))?;
    let dt = chrono::NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S").ok()?;
    Some(dt.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::parse_calendar;

    fn cal(body: &str) -> ICalendar {
        let text =
            format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n");
        parse_calendar(text.as_bytes()).unwrap().ical
    }

    fn utc(s: &str) -> i64 {
        parse_utc(&format!("{s}Z")).unwrap()
    }

    #[test]
    fn weekly_with_exdate_and_moved_override_across_dst() {
        // Weekly on Tuesdays 10:00 Berlin from 2024-03-19; DST starts 2024-03-31.
        let ical = cal(concat!(
            "BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:0\r\n",
            "DTSTART;TZID=Europe/Berlin:20240319T100000\r\nDTEND;TZID=Europe/Berlin:20240319T110000\r\n",
            "RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/Berlin:20240326T100000\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:2\r\n",
            "RECURRENCE-ID;TZID=Europe/Berlin:20240402T100000\r\n",
            "DTSTART;TZID=Europe/Berlin:20240403T150000\r\nDTEND;TZID=Europe/Berlin:20240403T160000\r\nEND:VEVENT\r\n",
        ));
        let ex = expand(&ical, Tz::UTC, None, 100);
        let starts: Vec<i64> = ex.instances.iter().map(Instance::start_ts).collect();
        assert_eq!(
            starts,
            vec![
                utc("20240319T090000"), // CET
                utc("20240403T130000"), // moved, CEST
                utc("20240409T080000"), // CEST
            ]
        );
        assert!(!ex.unbounded);
    }

    #[test]
    fn exdate_as_date_removes_the_day() {
        let ical = cal(concat!(
            "BEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\n",
            "DURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEXDATE;VALUE=DATE:20240102\r\nEND:VEVENT\r\n",
        ));
        assert_eq!(expand(&ical, Tz::UTC, None, 100).instances.len(), 2);
    }

    #[test]
    fn instants_and_endless_rules() {
        let ical = cal(
            "BEGIN:VEVENT\r\nUID:i\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n",
        );
        let ex = expand(&ical, Tz::UTC, Some(utc("20240110T000000")), 1000);
        assert!(ex.unbounded);
        assert_eq!(ex.instances[0].start_ts(), ex.instances[0].end_ts());
        assert!(ex.instances.len() < 20);
        assert_eq!(span(&ical, 1000).1, i64::MAX);
    }

    #[test]
    fn absurd_durations_do_not_overflow() {
        let ical = cal(
            "BEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nDURATION:P4000000000W\r\nRRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\n",
        );
        let ex = expand(&ical, Tz::UTC, None, 10);
        assert!(ex.instances.iter().all(|i| i.end_ts() >= i.start_ts()));
        let _ = span(&ical, 10);
        let zoned = cal(
            "BEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20240101T100000\r\nDURATION:P4000000000W\r\nEND:VEVENT\r\n",
        );
        let ex = expand(&zoned, Tz::UTC, None, 10);
        assert_eq!(ex.instances.len(), 1);
    }

    #[test]
    fn lightning_dtend_with_zero_duration() {
        let ical = cal(concat!(
            "BEGIN:VEVENT\r\nUID:l\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\n",
            "DTEND:20240101T110000Z\r\nDURATION:PT0S\r\nEND:VEVENT\r\n",
        ));
        let i = &expand(&ical, Tz::UTC, None, 10).instances[0];
        assert_eq!(i.end_ts() - i.start_ts(), 3600);
    }

    #[test]
    fn floating_times_follow_the_calendar_zone() {
        let ical = cal(
            "BEGIN:VEVENT\r\nUID:f\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240701T100000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n",
        );
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let i = &expand(&ical, berlin, None, 10).instances[0];
        assert_eq!(i.start_ts(), utc("20240701T080000"));
    }

    #[test]
    fn windows_tzid() {
        let ical = cal(
            "BEGIN:VEVENT\r\nUID:o\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;TZID=W. Europe Standard Time:20240701T100000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n",
        );
        let i = &expand(&ical, Tz::UTC, None, 10).instances[0];
        assert_eq!(i.start_ts(), utc("20240701T080000"));
    }
}
