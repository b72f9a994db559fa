//! iCalendar objects for CalDAV: validation of a calendar object resource (RFC 4791 §4.1),
//! recurrence expansion, query filters and the rendering of expanded data and free-busy.
//!
//! As with vCards, Kith stores the exact bytes a client sent. Everything here works on a parsed
//! copy, and the fixes for real clients' quirks (see [`instances`]) are applied to that copy
//! only.

pub mod bundle;
pub mod filter;
pub mod freebusy;
pub mod instances;
pub mod render;

pub use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarProperty,
};
use calcard::{Entry, Parser};
use std::borrow::Cow;

/// Why a body is not an acceptable calendar object resource. [`CalError::precondition`] names
/// the CALDAV precondition a PUT fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalError {
    #[error("the body is not an iCalendar object: {0}")]
    NotICalendar(String),
    #[error("the iCalendar object could not be parsed: {0}")]
    Invalid(String),
    #[error(
        "the object has a METHOD property, which only scheduling messages carry; remove it to store the object"
    )]
    Method,
    #[error("{0}")]
    Resource(String),
}

impl CalError {
    pub fn precondition(&self) -> &'static str {
        match self {
            // RFC 4791 §5.3.2.1 names METHOD among the restrictions of §4.1.
            CalError::Resource(_) | CalError::Method => "valid-calendar-object-resource",
            _ => "valid-calendar-data",
        }
    }
}

/// The component types a calendar can hold.
pub const COMPONENTS: [&str; 4] = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"];

/// A validated calendar object resource.
#[derive(Debug, Clone)]
pub struct CalObject {
    pub uid: String,
    /// The type of its components: `VEVENT`, `VTODO`, `VJOURNAL` or `VFREEBUSY`.
    pub component: &'static str,
    pub ical: ICalendar,
}

impl CalObject {
    /// The top-level components of the object (not VTIMEZONE), by their index in `ical`.
    pub fn items(&self) -> impl Iterator<Item = (u32, &ICalendarComponent)> {
        top_level(&self.ical).filter(|(_, c)| c.component_type != ICalendarComponentType::VTimezone)
    }
}

fn top_level(ical: &ICalendar) -> impl Iterator<Item = (u32, &ICalendarComponent)> {
    ical.components
        .first()
        .map(|c| c.component_ids.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter_map(|id| ical.component_by_id(*id).map(|c| (*id, c)))
}

/// The name of a component type as iCalendar writes it.
pub fn component_name(t: &ICalendarComponentType) -> Cow<'_, str> {
    match t {
        ICalendarComponentType::Other(s) => Cow::Owned(s.to_ascii_uppercase()),
        other => Cow::Borrowed(other.as_str()),
    }
}

/// Parses one VCALENDAR without the resource rules (used for calendar-timezone too).
pub fn parse_ical(bytes: &[u8]) -> Result<ICalendar, CalError> {
    let text = crate::quirks::decode_text(bytes);
    let mut parser = Parser::new(&text);
    let ical = match parser.entry() {
        Entry::ICalendar(ical) => ical,
        Entry::VCard(_) => return Err(CalError::NotICalendar("it is a vCard".into())),
        Entry::Eof => return Err(CalError::NotICalendar("the body is empty".into())),
        Entry::InvalidLine(l) => {
            return Err(CalError::NotICalendar(format!(
                "unexpected line {:?}",
                l.chars().take(60).collect::<String>()
            )));
        }
        other => return Err(CalError::Invalid(format!("{other:?}"))),
    };
    if ical.components.first().map(|c| &c.component_type)
        != Some(&ICalendarComponentType::VCalendar)
    {
        return Err(CalError::NotICalendar(
            "the object does not start with BEGIN:VCALENDAR".into(),
        ));
    }
    match parser.entry() {
        Entry::Eof => Ok(ical),
        _ => Err(CalError::Resource(
            "the body holds more than one VCALENDAR; PUT one object per resource".into(),
        )),
    }
}

/// Validates a body as a calendar object resource: one VCALENDAR without METHOD, components of
/// one type sharing one UID, at most one master and one override per RECURRENCE-ID.
pub fn parse_calendar(bytes: &[u8]) -> Result<CalObject, CalError> {
    let ical = parse_ical(bytes)?;
    if ical.components[0].has_property(&ICalendarProperty::Method) {
        return Err(CalError::Method);
    }
    let mut component: Option<&'static str> = None;
    let mut uid: Option<String> = None;
    let mut masters = 0;
    let mut overrides = Vec::new();
    for (_, c) in top_level(&ical) {
        let name = match &c.component_type {
            ICalendarComponentType::VTimezone => continue,
            ICalendarComponentType::VEvent => "VEVENT",
            ICalendarComponentType::VTodo => "VTODO",
            ICalendarComponentType::VJournal => "VJOURNAL",
            ICalendarComponentType::VFreebusy => "VFREEBUSY",
            // Private components (X-VVENUE from event listings) ride along untouched.
            ICalendarComponentType::Other(x) if x.to_ascii_uppercase().starts_with("X-") => {
                continue;
            }
            other => {
                return Err(CalError::Resource(format!(
                    "{} components cannot be stored; use VEVENT, VTODO or VJOURNAL",
                    component_name(other)
                )));
            }
        };
        match component {
            Some(k) if k != name => {
                return Err(CalError::Resource(format!(
                    "the object mixes {k} and {name}; store each in its own resource"
                )));
            }
            _ => component = Some(name),
        }
        let Some(this) = c.uid().map(str::trim).filter(|u| !u.is_empty()) else {
            if name == "VFREEBUSY" {
                continue;
            }
            return Err(CalError::Resource(format!("a {name} has no UID")));
        };
        match &uid {
            Some(u) if u != this => {
                return Err(CalError::Resource(format!(
                    "the object holds two UIDs ({u} and {this}); store each in its own resource"
                )));
            }
            _ => uid = Some(this.to_string()),
        }
        if let Some(bad) = unreadable_recurrence(c) {
            return Err(CalError::Invalid(bad));
        }
        match c.property(&ICalendarProperty::RecurrenceId) {
            None => masters += 1,
            Some(rid) => {
                let key = format!("{:?}", rid.values);
                if overrides.contains(&key) {
                    return Err(CalError::Resource(
                        "two components override the same RECURRENCE-ID".into(),
                    ));
                }
                overrides.push(key);
            }
        }
    }
    let Some(component) = component else {
        return Err(CalError::Resource(
            "the object holds no VEVENT, VTODO or VJOURNAL".into(),
        ));
    };
    if masters > 1 {
        return Err(CalError::Resource(format!(
            "the object holds {masters} {component}s with UID {} and no RECURRENCE-ID; one is the master, the others must be overrides",
            uid.as_deref().unwrap_or("")
        )));
    }
    Ok(CalObject {
        uid: uid.unwrap_or_default(),
        component,
        ical,
    })
}

/// A recurrence property calcard could not read, described; stored, it would leave the
/// object's instances undefined, so every client and query would see a different series.
/// calcard keeps such a value as plain text.
fn unreadable_recurrence(c: &ICalendarComponent) -> Option<String> {
    use calcard::icalendar::ICalendarValue as V;
    c.entries.iter().find_map(|e| {
        let ok = match e.name {
            ICalendarProperty::Rrule | ICalendarProperty::Exrule => {
                e.values.iter().all(|v| matches!(v, V::RecurrenceRule(_)))
            }
            ICalendarProperty::RecurrenceId => {
                e.values.iter().all(|v| matches!(v, V::PartialDateTime(_)))
            }
            _ => true,
        };
        (!ok).then(|| {
            let text: Vec<String> = e
                .values
                .iter()
                .filter_map(|v| v.clone().into_text().map(|t| t.into_owned()))
                .collect();
            format!(
                "{} {:?} is not a valid {}",
                e.name.as_str(),
                text.join(","),
                if e.name == ICalendarProperty::RecurrenceId {
                    "date or date-time"
                } else {
                    "recurrence rule (RFC 5545 §3.3.10)"
                }
            )
        })
    })
}

/// The time zone a calendar-timezone property names (a VCALENDAR with one VTIMEZONE), or the
/// IANA zone name itself.
pub fn calendar_zone(text: &str) -> Option<calcard::common::timezone::Tz> {
    let text = text.trim();
    if !text.starts_with("BEGIN:") {
        return text.parse().ok();
    }
    let ical = parse_ical(text.as_bytes()).ok()?;
    ical.timezones()
        .find_map(|c| c.timezone().map(|(_, tz)| tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(extra: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{extra}END:VCALENDAR\r\n")
    }

    #[test]
    fn unreadable_recurrence_is_refused() {
        for (extra, says) in [
            (
                "RRULE:FREQ=FOO\r\n",
                "RRULE \"FREQ=FOO\" is not a valid recurrence rule",
            ),
            ("RRULE:FREQ=DAILY;COUNT=x\r\n", "COUNT=x"),
            (
                "RECURRENCE-ID:notadate\r\n",
                "is not a valid date or date-time",
            ),
        ] {
            let ev = format!(
                "BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\n{extra}END:VEVENT\r\n"
            );
            let e = parse_calendar(event(&ev).as_bytes()).unwrap_err();
            assert_eq!(e.precondition(), "valid-calendar-data");
            assert!(e.to_string().contains(says), "{e}");
        }
        let ok = "BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU;UNTIL=20240301T000000Z\r\nEND:VEVENT\r\n";
        assert!(parse_calendar(event(ok).as_bytes()).is_ok());
    }

    const EV: &str = "BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n";

    #[test]
    fn accepts_one_object() {
        let o = parse_calendar(event(EV).as_bytes()).unwrap();
        assert_eq!(o.uid, "a");
        assert_eq!(o.component, "VEVENT");
    }

    #[test]
    fn rejects_what_is_not_one_object() {
        let method = event(&format!("METHOD:REQUEST\r\n{EV}"));
        assert_eq!(
            parse_calendar(method.as_bytes()).unwrap_err(),
            CalError::Method
        );
        let two = event(&format!("{EV}{}", EV.replace("UID:a", "UID:b")));
        assert_eq!(
            parse_calendar(two.as_bytes()).unwrap_err().precondition(),
            "valid-calendar-object-resource"
        );
        let masters = event(&format!("{EV}{EV}"));
        assert!(parse_calendar(masters.as_bytes()).is_err());
        let mixed = event(&format!(
            "{EV}BEGIN:VTODO\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nEND:VTODO\r\n"
        ));
        assert!(parse_calendar(mixed.as_bytes()).is_err());
        assert_eq!(
            parse_calendar(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n")
                .unwrap_err()
                .precondition(),
            "valid-calendar-data"
        );
        assert!(parse_calendar(b"").is_err());
    }

    #[test]
    fn overrides_share_the_resource() {
        let ov = EV.replace("DTSTART:", "RECURRENCE-ID:20240108T100000Z\r\nDTSTART:");
        let ok = event(&format!(
            "{}{ov}",
            EV.replace("END:VEVENT", "RRULE:FREQ=WEEKLY\r\nEND:VEVENT")
        ));
        assert!(parse_calendar(ok.as_bytes()).is_ok());
        let dup = event(&format!("{EV}{ov}{ov}"));
        assert!(parse_calendar(dup.as_bytes()).is_err());
    }

    #[test]
    fn calendar_zone_reads_vtimezone_or_name() {
        assert!(calendar_zone("Europe/Berlin").is_some());
        let tz = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        assert!(calendar_zone(tz).is_some());
    }
}
