//! What each fuzz target calls. Every call must return, never panic, whatever the bytes.

use kith_dav::ical::{Tz, parse_calendar, render};
use kith_dav::request;
use kith_dav::vcard;
use kith_dav::vcard_version::Version;

pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// Fragments the format cares about, spliced in by the mutator.
    pub tokens: &'static [&'static [u8]],
}

pub const ALL: &[Target] = &[
    Target {
        name: "xml",
        run: xml,
        tokens: &[
            b"<d:prop>",
            b"</d:prop>",
            b"xmlns:d=\"DAV:\"",
            b"<c:filter>",
            b"<c:text-match>",
            b"<c:time-range start=\"20240101T000000Z\"/>",
            b"<d:sync-token>",
            b"&amp;",
            b"<![CDATA[",
            b"\x00",
        ],
    },
    Target {
        name: "vcard",
        run: card,
        tokens: &[
            b"\r\n ",
            b"BEGIN:VCARD\r\n",
            b"END:VCARD\r\n",
            b"VERSION:4.0\r\n",
            b"BDAY:--0412\r\n",
            b"item1.X-ABLabel:x\r\n",
            b";ENCODING=QUOTED-PRINTABLE:",
            b";TYPE=",
            b"\\n",
            b"\x07",
        ],
    },
    Target {
        name: "ical",
        run: ical,
        tokens: &[
            b"RRULE:FREQ=DAILY;COUNT=50\r\n",
            b"RRULE:FREQ=HOURLY;BYDAY=MO,TU;BYSETPOS=-1\r\n",
            b"RDATE:20240105T100000Z\r\n",
            b"EXDATE;VALUE=DATE:20240102\r\n",
            b"RECURRENCE-ID:20240103T100000Z\r\n",
            b"DTSTART;TZID=Europe/Berlin:20240101T100000\r\n",
            b"DURATION:P1W\r\n",
            b"BEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n",
            b"BEGIN:VEVENT\r\n",
            b"END:VEVENT\r\n",
        ],
    },
    Target {
        name: "csv",
        run: csv,
        tokens: &[
            b",\"",
            b"\"\"",
            b"\r\n",
            b"\xef\xbb\xbf",
            b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\n",
            b"01 Jan 2024",
            b"https://www.linkedin.com/in/x",
            b"Birthday",
        ],
    },
];

fn xml(b: &[u8]) {
    let _ = request::parse_propfind(b);
    let _ = request::parse_proppatch(b);
    let _ = request::parse_mkcol(b, false);
    let _ = request::parse_mkcol(b, true);
    let _ = request::parse_report(b);
}

fn card(b: &[u8]) {
    if vcard::parse_card(b).is_err() {
        return;
    }
    for want in [Version::V3, Version::V4] {
        let out = vcard::convert(b, vcard::sniff_version(b), want);
        // What Kith serves must read back.
        let _ = vcard::parse_card(&out);
    }
}

fn ical(b: &[u8]) {
    let Ok(obj) = parse_calendar(b) else {
        return;
    };
    let (s, e) = (1_704_067_200, 1_735_689_600); // 2024
    let _ = render::expanded(&obj, Tz::UTC, s, e, 2_000);
    let _ = render::limited(&obj, Tz::UTC, s, e, 2_000);
    let _ = render::busy(&obj, Tz::UTC, s, e, 2_000);
    let _ = kith_dav::ical::instances::span(&obj.ical, 2_000);
}

fn csv(b: &[u8]) {
    let _ = kith_connectors::formats::read(b, None);
}
