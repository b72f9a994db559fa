//! `calendar-query` filters (RFC 4791 §9.7): parsing and exact evaluation on one object.
//!
//! Time ranges are checked against real instances: recurring sets are expanded (see
//! [`super::instances`]) up to the end of the latest range in the filter, VTODOs follow the
//! table of §9.9, and alarms fire relative to each instance of their parent.

use super::CalObject;
use super::freebusy::busy_periods;
use super::instances::{Expansion, entry_timestamp, expand, timestamp};
use crate::filter::{FilterError, ParamFilter, TextMatch, name_attr};
use crate::names::CALDAV;
use crate::xml::Element;
use calcard::common::timezone::Tz;
use calcard::icalendar::timezone::TzResolver;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameterName,
    ICalendarProperty, ICalendarValue,
};
use std::cell::OnceCell;

/// A UTC time range in Unix seconds; an open side is `i64::MIN` or `i64::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub text_match: Option<TextMatch>,
    pub params: Vec<ParamFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub props: Vec<PropFilter>,
    pub comps: Vec<CompFilter>,
}

/// A parsed `CALDAV:filter`: its one VCALENDAR comp-filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalFilter {
    pub root: CompFilter,
}

pub use super::instances::parse_utc;

fn time_range(el: &Element) -> Result<Option<TimeRange>, FilterError> {
    let Some(tr) = el.child(CALDAV, "time-range") else {
        return Ok(None);
    };
    let side = |name: &str, open: i64| match tr.attr(name) {
        None => Ok(open),
        Some(v) => parse_utc(v).ok_or_else(|| {
            FilterError::Invalid(format!(
                "time-range {name}={v:?} is not a UTC date-time like 20240101T000000Z"
            ))
        }),
    };
    let start = side("start", i64::MIN)?;
    let end = side("end", i64::MAX)?;
    if tr.attr("start").is_none() && tr.attr("end").is_none() {
        return Err(FilterError::Invalid("time-range needs start or end".into()));
    }
    if end <= start {
        return Err(FilterError::Invalid(
            "time-range end is not after its start".into(),
        ));
    }
    Ok(Some(TimeRange { start, end }))
}

fn text_match(el: &Element) -> Result<Option<TextMatch>, FilterError> {
    el.child(CALDAV, "text-match")
        .map(|t| TextMatch::parse_with(t, "i;ascii-casemap"))
        .transpose()
}

/// A CALDAV param-filter; the same shape as CardDAV's.
fn param_filter(el: &Element) -> Result<ParamFilter, FilterError> {
    Ok(ParamFilter {
        name: name_attr(el)?,
        is_not_defined: el.child(CALDAV, "is-not-defined").is_some(),
        text_match: text_match(el)?,
    })
}

impl PropFilter {
    fn parse(el: &Element) -> Result<PropFilter, FilterError> {
        Ok(PropFilter {
            name: name_attr(el)?,
            is_not_defined: el.child(CALDAV, "is-not-defined").is_some(),
            time_range: time_range(el)?,
            text_match: text_match(el)?,
            params: el
                .children_named(CALDAV, "param-filter")
                .map(param_filter)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl CompFilter {
    fn parse(el: &Element) -> Result<CompFilter, FilterError> {
        Ok(CompFilter {
            name: name_attr(el)?,
            is_not_defined: el.child(CALDAV, "is-not-defined").is_some(),
            time_range: time_range(el)?,
            props: el
                .children_named(CALDAV, "prop-filter")
                .map(PropFilter::parse)
                .collect::<Result<_, _>>()?,
            comps: el
                .children_named(CALDAV, "comp-filter")
                .map(CompFilter::parse)
                .collect::<Result<_, _>>()?,
        })
    }

    fn latest_end(&self, acc: &mut Option<i64>) {
        let mut take = |tr: &Option<TimeRange>| {
            if let Some(tr) = tr {
                *acc = Some(acc.map_or(tr.end, |a| a.max(tr.end)));
            }
        };
        take(&self.time_range);
        for p in &self.props {
            take(&p.time_range);
        }
        for c in &self.comps {
            c.latest_end(acc);
        }
    }

    fn has_alarm_range(&self) -> bool {
        self.comps
            .iter()
            .any(|c| (c.name == "VALARM" && c.time_range.is_some()) || c.has_alarm_range())
    }
}

impl CalFilter {
    /// Parses a `CALDAV:filter` element.
    pub fn parse(el: &Element) -> Result<CalFilter, FilterError> {
        let mut comps = el.children_named(CALDAV, "comp-filter");
        let root = comps
            .next()
            .ok_or_else(|| FilterError::Invalid("the filter has no comp-filter".into()))?;
        if comps.next().is_some() {
            return Err(FilterError::Invalid(
                "the filter has more than one top-level comp-filter".into(),
            ));
        }
        let root = CompFilter::parse(root)?;
        if root.name != "VCALENDAR" {
            return Err(FilterError::Invalid(format!(
                "the top-level comp-filter must be VCALENDAR, not {}",
                root.name
            )));
        }
        Ok(CalFilter { root })
    }

    /// A span every match must touch, for the store's pre-filter: the time range of a
    /// component directly in VCALENDAR. Alarms can fire long before their event, so a filter on
    /// alarm times gets no span.
    pub fn span(&self) -> Option<TimeRange> {
        if self.root.has_alarm_range() {
            return None;
        }
        self.root
            .comps
            .iter()
            .filter(|c| !c.is_not_defined)
            .find_map(|c| c.time_range)
    }

    /// The end of the latest time range in the filter: occurrences after it are irrelevant.
    pub fn latest_end(&self) -> Option<i64> {
        let mut acc = None;
        self.root.latest_end(&mut acc);
        acc.filter(|e| *e != i64::MAX)
    }

    pub fn matches(&self, obj: &CalObject, tz: Tz, limit: usize) -> bool {
        // An alarm can fire before its instance starts, so a filter on alarm times expands
        // past its own end (up to the instance limit).
        let until = if self.root.has_alarm_range() {
            None
        } else {
            self.latest_end()
        };
        let ev = Eval::new(obj, tz, limit, until);
        ev.comp(0, &self.root)
    }
}

/// The evaluation of one filter on one object; expands recurrences only when a time range
/// needs them, and at most once.
pub(crate) struct Eval<'a> {
    pub ical: &'a ICalendar,
    pub tz: Tz,
    /// The object's VTIMEZONEs, built once per evaluation, with `tz` for floating times.
    zones: TzResolver<&'a str>,
    limit: usize,
    until: Option<i64>,
    expansion: OnceCell<Expansion>,
    parents: Vec<Option<u32>>,
}

impl<'a> Eval<'a> {
    pub fn new(obj: &'a CalObject, tz: Tz, limit: usize, until: Option<i64>) -> Eval<'a> {
        let mut parents = vec![None; obj.ical.components.len()];
        for (i, c) in obj.ical.components.iter().enumerate() {
            for child in &c.component_ids {
                if let Some(p) = parents.get_mut(*child as usize) {
                    *p = Some(i as u32);
                }
            }
        }
        Eval {
            ical: &obj.ical,
            tz,
            zones: obj.ical.build_tz_resolver().with_default(tz),
            limit,
            until,
            expansion: OnceCell::new(),
            parents,
        }
    }

    pub fn expansion(&self) -> &Expansion {
        self.expansion
            .get_or_init(|| expand(self.ical, self.tz, self.until, self.limit))
    }

    fn comp(&self, id: u32, f: &CompFilter) -> bool {
        let Some(c) = self.ical.component_by_id(id) else {
            return false;
        };
        if super::component_name(&c.component_type) != f.name {
            return false;
        }
        if let Some(tr) = &f.time_range
            && !self.in_range(id, c, tr)
        {
            return false;
        }
        if !f.props.iter().all(|p| {
            self.prop(c, p)
                // Lenient: a prop-filter put directly under VCALENDAR (clients that leave out
                // the component type) is tried on the object's components.
                || (id == 0
                    && c.component_ids.iter().any(|child| {
                        self.ical
                            .component_by_id(*child)
                            .is_some_and(|cc| self.prop(cc, p))
                    }))
        }) {
            return false;
        }
        f.comps.iter().all(|cf| {
            let mut children = c
                .component_ids
                .iter()
                .filter(|child| {
                    self.ical
                        .component_by_id(**child)
                        .is_some_and(|cc| super::component_name(&cc.component_type) == cf.name)
                })
                .peekable();
            if cf.is_not_defined {
                children.peek().is_none()
            } else {
                children.any(|child| self.comp(*child, cf))
            }
        })
    }

    fn ts(&self, c: &ICalendarComponent, p: ICalendarProperty) -> Option<i64> {
        timestamp(&self.zones, c, &p)
    }

    fn in_range(&self, id: u32, c: &ICalendarComponent, tr: &TimeRange) -> bool {
        let (s, e) = (tr.start, tr.end);
        let instances = || {
            self.expansion()
                .instances
                .iter()
                .filter(move |i| i.comp == id)
        };
        match c.component_type {
            ICalendarComponentType::VEvent | ICalendarComponentType::VJournal => {
                instances().any(|i| i.overlaps(s, e))
            }
            ICalendarComponentType::VTodo if c.is_recurrent() => {
                instances().any(|i| i.overlaps(s, e))
            }
            ICalendarComponentType::VTodo => self.todo_in_range(c, s, e),
            ICalendarComponentType::VFreebusy => self.freebusy_in_range(c, s, e),
            ICalendarComponentType::VAlarm => self.alarm_in_range(id, c, s, e),
            // Lenient: a time-range directly under VCALENDAR means any instance of the object.
            ICalendarComponentType::VCalendar => c.component_ids.iter().any(|child| {
                self.ical
                    .component_by_id(*child)
                    .is_some_and(|cc| self.in_range(*child, cc, tr))
            }),
            _ => false,
        }
    }

    /// RFC 4791 §9.9, the VTODO table.
    fn todo_in_range(&self, c: &ICalendarComponent, s: i64, e: i64) -> bool {
        use ICalendarProperty as P;
        let start = self.ts(c, P::Dtstart);
        let due = self.ts(c, P::Due);
        let completed = self.ts(c, P::Completed);
        let created = self.ts(c, P::Created);
        let duration = c
            .property(&P::Duration)
            .and_then(|d| match d.values.first() {
                Some(ICalendarValue::Duration(d)) => d.to_time_delta(),
                _ => None,
            })
            .map(|d| d.num_seconds());
        match (start, duration, due, completed, created) {
            (Some(st), Some(d), ..) => s <= st + d && (e > st || e >= st + d),
            (Some(st), None, Some(due), ..) => (s < due || s <= st) && (e > st || e >= due),
            (Some(st), None, None, ..) => s <= st && e > st,
            (None, _, Some(due), ..) => s < due && e >= due,
            (None, _, None, Some(done), Some(made)) => {
                (s <= made || s <= done) && (e >= made || e >= done)
            }
            (None, _, None, Some(done), None) => s <= done && e >= done,
            (None, _, None, None, Some(made)) => e > made,
            (None, _, None, None, None) => true,
        }
    }

    fn freebusy_in_range(&self, c: &ICalendarComponent, s: i64, e: i64) -> bool {
        let periods = busy_periods(c, self.tz);
        if !periods.is_empty() {
            return periods.iter().any(|(a, b, _)| *a < e && *b > s);
        }
        match (
            self.ts(c, ICalendarProperty::Dtstart),
            self.ts(c, ICalendarProperty::Dtend),
        ) {
            (Some(a), Some(b)) => a < e && b > s,
            (Some(a), None) => a >= s && a < e,
            _ => false,
        }
    }

    /// Alarms fire relative to every instance of their parent (RFC 4791 §9.9, VALARM).
    fn alarm_in_range(&self, id: u32, c: &ICalendarComponent, s: i64, e: i64) -> bool {
        let Some(parent) = self.parents.get(id as usize).copied().flatten() else {
            return false;
        };
        let Some(trigger) = c.property(&ICalendarProperty::Trigger) else {
            return false;
        };
        let repeat = match c
            .property(&ICalendarProperty::Repeat)
            .and_then(|r| r.values.first())
        {
            Some(ICalendarValue::Integer(n)) => (*n).clamp(0, 1000),
            _ => 0,
        };
        let every = c
            .property(&ICalendarProperty::Duration)
            .and_then(|d| match d.values.first() {
                Some(ICalendarValue::Duration(d)) => d.to_time_delta(),
                _ => None,
            })
            .map(|d| d.num_seconds())
            .unwrap_or(0);
        let fires = |t: i64| {
            (0..=repeat).any(|k| {
                let at = t + k * every;
                at >= s && at < e
            })
        };
        match trigger.values.first() {
            Some(ICalendarValue::PartialDateTime(dt)) => dt
                .to_date_time_with_tz(Tz::UTC)
                .is_some_and(|d| fires(d.timestamp())),
            Some(ICalendarValue::Duration(d)) => {
                let Some(delta) = d.to_time_delta().map(|d| d.num_seconds()) else {
                    return false;
                };
                let from_end = trigger.params.iter().any(|p| {
                    p.name == ICalendarParameterName::Related
                        && p.value
                            .clone()
                            .into_text()
                            .is_some_and(|v| v.eq_ignore_ascii_case("END"))
                });
                let at = |start: i64, end: i64| if from_end { end } else { start } + delta;
                if let Some((start, end)) = self.single_todo(parent) {
                    return fires(at(start, end));
                }
                self.expansion()
                    .instances
                    .iter()
                    .filter(|i| i.comp == parent)
                    .any(|i| fires(at(i.start_ts(), i.end_ts())))
            }
            _ => false,
        }
    }

    /// The start and end an alarm of a VTODO without recurrence is relative to: a to-do may
    /// have only a DUE (RFC 5545 §3.6.2), and then both are the DUE, which the expansion, built
    /// on DTSTART, does not give.
    fn single_todo(&self, id: u32) -> Option<(i64, i64)> {
        use ICalendarProperty as P;
        let c = self.ical.component_by_id(id)?;
        if c.component_type != ICalendarComponentType::VTodo || c.is_recurrent() {
            return None;
        }
        let start = self.ts(c, P::Dtstart);
        let due = self.ts(c, P::Due);
        let duration = c
            .property(&P::Duration)
            .and_then(|d| match d.values.first() {
                Some(ICalendarValue::Duration(d)) => d.to_time_delta().map(|d| d.num_seconds()),
                _ => None,
            });
        let start = start.or(due)?;
        Some((start, due.unwrap_or(start + duration.unwrap_or(0))))
    }

    fn prop(&self, c: &ICalendarComponent, f: &PropFilter) -> bool {
        let mut entries = c
            .entries
            .iter()
            .filter(|e| e.name.as_str().eq_ignore_ascii_case(&f.name))
            .peekable();
        if f.is_not_defined {
            return entries.peek().is_none();
        }
        entries.any(|e| self.entry(e, f))
    }

    fn entry(&self, e: &ICalendarEntry, f: &PropFilter) -> bool {
        if let Some(tr) = &f.time_range {
            let hit = entry_timestamp(&self.zones, e).is_some_and(|t| t >= tr.start && t < tr.end);
            if !hit {
                return false;
            }
        }
        if let Some(tm) = &f.text_match {
            let texts: Vec<String> = e
                .values
                .iter()
                .filter_map(|v| v.clone().into_text().map(|t| t.into_owned()))
                .collect();
            let hit = if tm.negate {
                tm.matches(&texts.join(","))
            } else {
                texts.iter().any(|t| tm.matches(t)) || tm.matches(&texts.join(","))
            };
            if !hit {
                return false;
            }
        }
        f.params.iter().all(|pf| {
            let mut values = e
                .params
                .iter()
                .filter(|p| p.name.as_str().eq_ignore_ascii_case(&pf.name))
                .filter_map(|p| p.value.clone().into_text().map(|v| v.into_owned()))
                .peekable();
            if pf.is_not_defined {
                return values.peek().is_none();
            }
            match &pf.text_match {
                None => values.peek().is_some(),
                Some(tm) => values.any(|v| tm.matches(&v)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::parse_calendar;
    use crate::xml::parse;

    fn obj(body: &str) -> CalObject {
        let text =
            format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n");
        parse_calendar(text.as_bytes()).unwrap()
    }

    fn filter(inner: &str) -> CalFilter {
        let doc = format!(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VCALENDAR">{inner}</C:comp-filter></C:filter>"#
        );
        CalFilter::parse(&parse(doc.as_bytes()).unwrap()).unwrap()
    }

    fn range(comp: &str, s: &str, e: &str) -> CalFilter {
        filter(&format!(
            r#"<C:comp-filter name="{comp}"><C:time-range start="{s}" end="{e}"/></C:comp-filter>"#
        ))
    }

    const EVENT: &str = "BEGIN:VEVENT\r\nUID:e\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240110T100000Z\r\nDTEND:20240110T110000Z\r\nSUMMARY:Team Meeting\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\nEND:VEVENT\r\n";

    #[test]
    fn event_time_ranges() {
        let o = obj(EVENT);
        let m = |f: CalFilter| f.matches(&o, Tz::UTC, 100);
        assert!(m(range("VEVENT", "20240110T103000Z", "20240110T120000Z")));
        assert!(!m(range("VEVENT", "20240110T110000Z", "20240110T120000Z")));
        assert!(!m(range("VTODO", "20240101T000000Z", "20250101T000000Z")));
        assert!(m(filter(
            r#"<C:comp-filter name="VEVENT"><C:comp-filter name="VALARM"><C:time-range start="20240110T085900Z" end="20240110T090100Z"/></C:comp-filter></C:comp-filter>"#
        )));
        assert!(!m(filter(
            r#"<C:comp-filter name="VEVENT"><C:comp-filter name="VALARM"><C:time-range start="20240110T100000Z" end="20240110T110000Z"/></C:comp-filter></C:comp-filter>"#
        )));
        assert_eq!(
            range("VEVENT", "20240110T103000Z", "20240110T120000Z").span(),
            Some(TimeRange {
                start: parse_utc("20240110T103000Z").unwrap(),
                end: parse_utc("20240110T120000Z").unwrap()
            })
        );
    }

    #[test]
    fn props_params_and_text() {
        let o = obj(EVENT);
        let m = |inner: &str| {
            filter(&format!(
                r#"<C:comp-filter name="VEVENT">{inner}</C:comp-filter>"#
            ))
            .matches(&o, Tz::UTC, 100)
        };
        assert!(m(
            r#"<C:prop-filter name="SUMMARY"><C:text-match>meeting</C:text-match></C:prop-filter>"#
        ));
        assert!(!m(
            r#"<C:prop-filter name="SUMMARY"><C:text-match negate-condition="yes">meeting</C:text-match></C:prop-filter>"#
        ));
        assert!(m(
            r#"<C:prop-filter name="LOCATION"><C:is-not-defined/></C:prop-filter>"#
        ));
        assert!(!m(
            r#"<C:prop-filter name="SUMMARY"><C:is-not-defined/></C:prop-filter>"#
        ));
        assert!(m(
            r#"<C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>ACCEPTED</C:text-match></C:param-filter></C:prop-filter>"#
        ));
        assert!(m(
            r#"<C:prop-filter name="DTSTART"><C:time-range start="20240110T000000Z" end="20240111T000000Z"/></C:prop-filter>"#
        ));
        assert!(m(
            r#"<C:comp-filter name="VTODO"><C:is-not-defined/></C:comp-filter>"#
        ));
        assert!(m(
            r#"<C:prop-filter name="UID"><C:text-match collation="i;octet">e</C:text-match></C:prop-filter>"#
        ));
    }

    #[test]
    fn todo_alarms_fire_relative_to_start_or_due() {
        let alarm = |start: &str, trigger: &str| {
            obj(&format!(
                "BEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20240101T000000Z\r\n{start}DUE:20240110T100000Z\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\n{trigger}\r\nEND:VALARM\r\nEND:VTODO\r\n"
            ))
        };
        let in_range = |o: &CalObject, s: &str, e: &str| {
            filter(&format!(
                r#"<C:comp-filter name="VTODO"><C:comp-filter name="VALARM"><C:time-range start="{s}" end="{e}"/></C:comp-filter></C:comp-filter>"#
            ))
            .matches(o, Tz::UTC, 100)
        };
        let due_only = alarm("", "TRIGGER;RELATED=END:-PT15M");
        assert!(in_range(&due_only, "20240110T094000Z", "20240110T095000Z"));
        assert!(!in_range(&due_only, "20240110T095000Z", "20240110T100000Z"));
        let started = alarm("DTSTART:20240109T100000Z\r\n", "TRIGGER:-PT30M");
        assert!(in_range(&started, "20240109T092000Z", "20240109T094000Z"));
        let end = alarm("DTSTART:20240109T100000Z\r\n", "TRIGGER;RELATED=END:PT0S");
        assert!(in_range(&end, "20240110T095900Z", "20240110T100100Z"));
        // An alarm an hour before a start just after the range's end still fires in it.
        let later = obj(
            "BEGIN:VEVENT\r\nUID:e\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240110T103000Z\r\n\
RRULE:FREQ=DAILY\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\nEND:VEVENT\r\n",
        );
        assert!(filter(
            r#"<C:comp-filter name="VEVENT"><C:comp-filter name="VALARM"><C:time-range start="20240112T090000Z" end="20240112T100000Z"/></C:comp-filter></C:comp-filter>"#
        )
        .matches(&later, Tz::UTC, 100));
    }

    #[test]
    fn todo_table() {
        let due = obj(
            "BEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20240101T000000Z\r\nDUE:20240110T100000Z\r\nEND:VTODO\r\n",
        );
        assert!(range("VTODO", "20240110T000000Z", "20240110T100000Z").matches(&due, Tz::UTC, 10));
        assert!(!range("VTODO", "20240110T100000Z", "20240111T000000Z").matches(&due, Tz::UTC, 10));
        let open = obj("BEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20240101T000000Z\r\nEND:VTODO\r\n");
        assert!(range("VTODO", "20300101T000000Z", "20300102T000000Z").matches(&open, Tz::UTC, 10));
        let done = obj(
            "BEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20240101T000000Z\r\nCOMPLETED:20240105T100000Z\r\nEND:VTODO\r\n",
        );
        assert!(range("VTODO", "20240105T100000Z", "20240106T000000Z").matches(&done, Tz::UTC, 10));
        assert!(
            !range("VTODO", "20240106T000000Z", "20240107T000000Z").matches(&done, Tz::UTC, 10)
        );
        let made = obj(
            "BEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20240101T000000Z\r\nCREATED:20240105T100000Z\r\nEND:VTODO\r\n",
        );
        assert!(range("VTODO", "20300101T000000Z", "20300102T000000Z").matches(&made, Tz::UTC, 10));
    }

    #[test]
    fn bad_filters_are_errors() {
        let bad = |x: &str| CalFilter::parse(&parse(x.as_bytes()).unwrap()).is_err();
        assert!(bad(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#
        ));
        assert!(bad(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VEVENT"/></C:filter>"#
        ));
        assert!(bad(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="2024"/></C:comp-filter></C:comp-filter></C:filter>"#
        ));
    }
}
