//! Calendar events as calendar sources sync them: an iCalendar object (one series: the
//! master VEVENT and its edited occurrences) read into a [`crate::record::Record`] of event
//! fields, written new, and edited property by property so that what Kith does not map
//! (time zone definitions, X- properties, attachments, absolute alarms) stays as the client
//! wrote it.

pub mod instances;
mod read;
mod tree;
pub mod when;
mod write;

pub use read::{EventRead, normal_rrule, read_event};
pub use write::{edit_event, new_event};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Field;

    const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Client//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260316T090000\r\nDURATION:PT15M\r\nRRULE:interval=1;byday=MO;freq=WEEKLY\r\nSUMMARY:Standup\r\nX-CLIENT:kept\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:20260316T070000Z\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\r\nDTSTART;TZID=Europe/Berlin:20260323T110000\r\nDTEND;TZID=Europe/Berlin:20260323T111500\r\nSUMMARY:Standup (moved)\r\nX-OVERRIDE-OWN:kept too\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_series_reads_normalized_and_edits_touch_only_what_changed() {
        let r = read_event(SERIES.as_bytes()).unwrap();
        assert_eq!(r.uid.as_deref(), Some("s1"));
        let rec = r.record;
        assert_eq!(
            rec.get(Field::End),
            Some("2026-03-16T09:15:00 Europe/Berlin")
        );
        assert_eq!(rec.get(Field::Recurrence), Some("FREQ=WEEKLY;BYDAY=MO"));
        assert_eq!(
            rec.elems(Field::Alarm).count(),
            1,
            "absolute alarms are not mapped"
        );
        assert_eq!(rec.elems(Field::Override).count(), 1);
        // Nothing changed: the bytes stay.
        assert_eq!(edit_event(SERIES, &rec, &rec), SERIES);
        // A new title and a cancelled occurrence; the override moves again.
        let mut after = rec.clone();
        after.set(Field::Summary, "Daily");
        after.add(Field::Exdate, "2026-03-30T09:00:00 Europe/Berlin", None);
        let moved = rec.elems(Field::Override).next().unwrap().1.value.clone();
        after.multis.get_mut(&Field::Override).unwrap().clear();
        after.add(
            Field::Override,
            &moved.replace("11:00:00", "12:00:00"),
            None,
        );
        let out = edit_event(SERIES, &rec, &after);
        assert!(out.contains("SUMMARY:Daily\r\n"), "{out}");
        assert!(
            out.contains("EXDATE;TZID=Europe/Berlin:20260330T090000"),
            "{out}"
        );
        assert!(
            out.contains("DTSTART;TZID=Europe/Berlin:20260323T120000"),
            "{out}"
        );
        for kept in [
            "X-CLIENT:kept",
            "X-OVERRIDE-OWN:kept too",
            "TRIGGER;VALUE=DATE-TIME",
            "BEGIN:VTIMEZONE",
            "DURATION:PT15M",
        ] {
            assert!(out.contains(kept), "{kept} lost: {out}");
        }
        let back = read_event(out.as_bytes()).unwrap().record;
        assert_eq!(back, after);
        // A new object reads back as the record it was made from.
        let fresh = new_event("n1@kith", &after);
        assert_eq!(read_event(fresh.as_bytes()).unwrap().record, after);
    }
}
