//! CalDAV over HTTP against the real server: collections, objects and their preconditions,
//! recurrence-aware queries, expand, free-busy and sync-collection on calendars.

use crate::common::*;
use std::collections::BTreeSet;

const CAL: &str = "urn:ietf:params:xml:ns:caldav";
const PERSONAL: &str = "/dav/calendars/admin/personal/";
const TASKS: &str = "/dav/calendars/admin/tasks/";

fn ics(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kith tests//EN\r\n{body}END:VCALENDAR\r\n")
}

fn event(uid: &str, extra: &str) -> String {
    ics(&format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\n{extra}END:VEVENT\r\n"
    ))
}

async fn put(s: &Server, path: &str, body: &str) -> Resp {
    s.req("PUT", path)
        .header("content-type", "text/calendar; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
}

/// The resource names a calendar-query with `filter` (inside the VCALENDAR comp-filter)
/// returns.
async fn query(s: &Server, cal: &str, filter: &str) -> BTreeSet<String> {
    let r = s
        .req("REPORT", cal)
        .header("depth", "1")
        .xml(&format!(
            r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="{CAL}"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR">{filter}</c:comp-filter></c:filter></c:calendar-query>"#
        ))
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    responses(&r.xml())
        .into_iter()
        .map(|(h, _)| h.rsplit('/').next().unwrap().to_string())
        .collect()
}

fn range(comp: &str, start: &str, end: &str) -> String {
    format!(
        r#"<c:comp-filter name="{comp}"><c:time-range start="{start}" end="{end}"/></c:comp-filter>"#
    )
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn discovery_and_default_collections() {
    let s = Server::start();
    let r = s
        .req("PROPFIND", "/dav/principals/admin/")
        .header("depth", "0")
        .xml(&format!(r#"<d:propfind xmlns:d="DAV:" xmlns:c="{CAL}"><d:prop><c:calendar-home-set/></d:prop></d:propfind>"#))
        .send()
        .await;
    let ms = r.xml();
    let (_, resp) = &responses(&ms)[0];
    let home = prop(resp, CAL, "calendar-home-set").unwrap();
    let hrefs: Vec<_> = home.children_named("DAV:", "href").collect();
    assert_eq!(hrefs.len(), 1);
    assert_eq!(hrefs[0].text, "/dav/calendars/admin/");

    let r = s
        .req("PROPFIND", "/dav/calendars/admin/")
        .header("depth", "1")
        .xml(&format!(
            r#"<d:propfind xmlns:d="DAV:" xmlns:c="{CAL}" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:resourcetype/><d:displayname/><c:supported-calendar-component-set/><c:max-instances/><c:supported-calendar-data/><c:min-date-time/><c:max-resource-size/><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#
        ))
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let mut comps = std::collections::BTreeMap::new();
    let mut boxes = 0;
    for (href, resp) in responses(&ms) {
        if href == "/dav/calendars/admin/" {
            continue;
        }
        // The scheduling inbox and outbox (RFC 6638) live in the home too, as what they are.
        let kind = prop(resp, "DAV:", "resourcetype").unwrap();
        if let Some(b) = ["inbox", "outbox"]
            .into_iter()
            .find(|b| href == format!("/dav/calendars/admin/{b}/"))
        {
            assert!(
                kind.child(CAL, &format!("schedule-{b}")).is_some(),
                "{href}"
            );
            assert!(kind.child(CAL, "calendar").is_none(), "{href}");
            boxes += 1;
            continue;
        }
        assert!(kind.child(CAL, "calendar").is_some());
        assert!(prop(resp, CAL, "max-instances").is_some());
        assert!(prop(resp, CAL, "supported-calendar-data").is_some());
        assert!(prop(resp, CAL, "min-date-time").is_some());
        assert!(prop(resp, "http://calendarserver.org/ns/", "getctag").is_some());
        let set: Vec<String> = prop(resp, CAL, "supported-calendar-component-set")
            .unwrap()
            .children
            .iter()
            .map(|c| c.attr("name").unwrap().to_string())
            .collect();
        comps.insert(href, set);
    }
    assert_eq!(comps[PERSONAL], vec!["VEVENT"]);
    assert_eq!(comps[TASKS], vec!["VTODO"]);
    assert!(comps.contains_key("/dav/calendars/admin/birthdays/"));
    assert_eq!(boxes, 2, "the inbox and the outbox");

    let r = s.anon("OPTIONS", PERSONAL).send().await;
    assert!(r.header("dav").unwrap().contains("calendar-access"));
}

#[tokio::test]
async fn mkcalendar_properties_persist() {
    let s = Server::start();
    let tz = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
    let r = s
        .req("MKCALENDAR", "/dav/calendars/admin/work/")
        .xml(&format!(
            r#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="{CAL}" xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop><d:displayname>Work</d:displayname><c:calendar-description>Job</c:calendar-description><c:calendar-timezone>{tz}</c:calendar-timezone><c:supported-calendar-component-set><c:comp name="VEVENT"/><c:comp name="VTODO"/></c:supported-calendar-component-set><a:calendar-color>#FF0000FF</a:calendar-color></d:prop></d:set></c:mkcalendar>"#
        ))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = s
        .req("PROPPATCH", "/dav/calendars/admin/work/")
        .xml(r#"<d:propertyupdate xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop><a:calendar-order>3</a:calendar-order></d:prop></d:set></d:propertyupdate>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let r = s
        .req("PROPFIND", "/dav/calendars/admin/work/")
        .header("depth", "0")
        .xml(&format!(r#"<d:propfind xmlns:d="DAV:" xmlns:c="{CAL}" xmlns:a="http://apple.com/ns/ical/"><d:prop><d:displayname/><c:calendar-description/><c:calendar-timezone/><c:supported-calendar-component-set/><a:calendar-color/><a:calendar-order/></d:prop></d:propfind>"#))
        .send()
        .await;
    let ms = r.xml();
    let (_, resp) = &responses(&ms)[0];
    assert_eq!(prop(resp, "DAV:", "displayname").unwrap().text, "Work");
    assert_eq!(prop(resp, CAL, "calendar-description").unwrap().text, "Job");
    assert!(
        prop(resp, CAL, "calendar-timezone")
            .unwrap()
            .text
            .contains("Europe/Berlin")
    );
    assert_eq!(
        prop(resp, CAL, "supported-calendar-component-set")
            .unwrap()
            .children
            .len(),
        2
    );
    let apple = "http://apple.com/ns/ical/";
    assert_eq!(
        prop(resp, apple, "calendar-color").unwrap().text,
        "#FF0000FF"
    );
    assert_eq!(prop(resp, apple, "calendar-order").unwrap().text, "3");

    // Extended MKCOL makes calendars too; a plain MKCOL in the calendar home does not.
    let r = s
        .req("MKCOL", "/dav/calendars/admin/ext/")
        .xml(&format!(r#"<d:mkcol xmlns:d="DAV:" xmlns:c="{CAL}"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype></d:prop></d:set></d:mkcol>"#))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let r = s.req("MKCOL", "/dav/calendars/admin/plain/").send().await;
    assert_eq!(r.status, 403);
    assert_eq!(error_condition(&r).1, "valid-resourcetype");
}

#[tokio::test]
async fn objects_round_trip_byte_for_byte_with_hash_etags() {
    let s = Server::start();
    let body = event(
        "rt",
        "DTSTART:20240101T100000Z\r\nSUMMARY:Ünïcode, and a comma\r\nX-ODD;X-P=1:kept\r\n",
    );
    let r = put(&s, &format!("{PERSONAL}rt.ics"), &body).await;
    assert_eq!(r.status, 201);
    let etag = r.etag();
    let g = s.req("GET", &format!("{PERSONAL}rt.ics")).send().await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body, body.as_bytes());
    assert_eq!(g.etag(), etag);
    assert!(
        g.header("content-type")
            .unwrap()
            .starts_with("text/calendar")
    );
    // The same bytes again keep the ETag; If-Match with a stale one fails.
    let r = put(&s, &format!("{PERSONAL}rt.ics"), &body).await;
    assert_eq!(r.etag(), etag);
    let r = s
        .req("PUT", &format!("{PERSONAL}rt.ics"))
        .header("if-match", "\"stale\"")
        .body(body.clone())
        .send()
        .await;
    assert_eq!(r.status, 412);
    let r = s.req("DELETE", &format!("{PERSONAL}rt.ics")).send().await;
    assert_eq!(r.status, 204);
    assert_eq!(
        s.req("GET", &format!("{PERSONAL}rt.ics"))
            .send()
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn shared_corpus_round_trips() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/ics");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("corpus not present at {}; skipped", dir.display());
        return;
    };
    let s = Server::start();
    let r = s
        .req("MKCALENDAR", "/dav/calendars/admin/corpus/")
        .xml(&format!(r#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="{CAL}"><d:set><d:prop><c:supported-calendar-component-set><c:comp name="VEVENT"/><c:comp name="VTODO"/><c:comp name="VJOURNAL"/><c:comp name="VFREEBUSY"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>"#))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let mut files = Vec::new();
    let mut stack: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else if p.extension().is_some_and(|e| e == "ics") {
            files.push(p);
        }
    }
    let (mut stored, mut refused) = (0, 0);
    for (i, f) in files.iter().enumerate() {
        let data = std::fs::read(f).unwrap();
        let path = format!("/dav/calendars/admin/corpus/{i}.ics");
        let r = s
            .req("PUT", &path)
            .header("content-type", "text/calendar")
            .body(data.clone())
            .send()
            .await;
        match r.status.as_u16() {
            201 | 204 => {
                let g = s.req("GET", &path).send().await;
                assert_eq!(g.body, data, "{} changed on the way", f.display());
                stored += 1;
            }
            // Refusals name their precondition (several UIDs in one file, METHOD, ...).
            403 => {
                let (ns, _) = error_condition(&r);
                assert_eq!(ns, CAL, "{}", f.display());
                refused += 1;
            }
            other => panic!("{}: unexpected {other}: {}", f.display(), r.text()),
        }
    }
    eprintln!("corpus: {stored} stored byte-for-byte, {refused} refused with a precondition");
    assert!(stored > 0);
}

#[tokio::test]
async fn every_precondition() {
    let s = Server::start();
    let path = format!("{PERSONAL}p.ics");
    let cond = |r: &Resp| error_condition(r).1;
    let r = put(
        &s,
        &path,
        &event("m", "DTSTART:20240101T100000Z\r\n").replace("PRODID", "METHOD:REQUEST\r\nPRODID"),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), cond(&r).as_str()),
        (403, "valid-calendar-object-resource")
    );
    let two = ics(
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n",
    );
    let r = put(&s, &path, &two).await;
    assert_eq!(cond(&r), "valid-calendar-object-resource");
    let todo = ics("BEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20240101T000000Z\r\nEND:VTODO\r\n");
    let r = put(&s, &path, &todo).await;
    assert_eq!(cond(&r), "supported-calendar-component");
    let r = put(&s, &path, "this is not a calendar").await;
    assert_eq!(cond(&r), "valid-calendar-data");
    let r = s
        .req("PUT", &path)
        .header("content-type", "image/png")
        .body(event("x", "DTSTART:20240101T100000Z\r\n"))
        .send()
        .await;
    assert_eq!(cond(&r), "supported-calendar-data");
    assert_eq!(
        put(&s, &path, &event("dup", "DTSTART:20240101T100000Z\r\n"))
            .await
            .status,
        201
    );
    let r = put(
        &s,
        &format!("{PERSONAL}other.ics"),
        &event("dup", "DTSTART:20240101T100000Z\r\n"),
    )
    .await;
    assert_eq!(cond(&r), "no-uid-conflict");
    assert!(r.text().contains("/dav/calendars/admin/personal/p.ics"));
    // Overwriting an object with another UID is the same precondition (RFC 4791 §5.3.2.1).
    let r = put(&s, &path, &event("changed", "DTSTART:20240101T100000Z\r\n")).await;
    assert_eq!(cond(&r), "no-uid-conflict");
    assert!(r.text().contains("UID dup"), "{}", r.text());
    // A rule or RECURRENCE-ID that cannot be read would leave the series undefined.
    for bad in [
        "DTSTART:20240101T100000Z\r\nRRULE:FREQ=SOMETIMES\r\n",
        "DTSTART:20240101T100000Z\r\nRECURRENCE-ID:tomorrow\r\n",
    ] {
        let r = put(&s, &format!("{PERSONAL}bad.ics"), &event("bad", bad)).await;
        assert_eq!(
            (r.status.as_u16(), cond(&r).as_str()),
            (403, "valid-calendar-data"),
            "{bad}"
        );
    }
    let big = event(
        "big",
        &format!(
            "DTSTART:20240101T100000Z\r\nDESCRIPTION:{}\r\n",
            "x".repeat(1_100_000)
        ),
    );
    let r = put(&s, &path, &big).await;
    assert_eq!(
        (r.status.as_u16(), cond(&r).as_str()),
        (403, "max-resource-size")
    );
    // Nothing was lost by the refusals.
    assert_eq!(s.req("GET", &path).send().await.status, 200);
    // Absurd but well-formed input is stored and queried without a server error.
    let absurd = event(
        "absurd",
        "DTSTART:20240101T100000Z\r\nDURATION:P4000000000W\r\nRRULE:FREQ=DAILY\r\n",
    );
    assert_eq!(
        put(&s, &format!("{PERSONAL}absurd.ics"), &absurd)
            .await
            .status,
        201
    );
    assert!(
        query(
            &s,
            PERSONAL,
            &range("VEVENT", "20240102T000000Z", "20240103T000000Z")
        )
        .await
        .contains("absurd.ics")
    );
}

#[tokio::test]
async fn real_clients_quirks_are_accepted() {
    let s = Server::start();
    // Outlook: Windows TZID, EXDATE as DATE against a DATE-TIME series.
    let outlook = ics(concat!(
        "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16011028T030000\r\n",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n",
        "BEGIN:DAYLIGHT\r\nDTSTART:16010325T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n",
        "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n",
        "BEGIN:VEVENT\r\nUID:ol\r\nDTSTAMP:20240101T000000Z\r\n",
        "DTSTART;TZID=W. Europe Standard Time:20240701T100000\r\n",
        "DTEND;TZID=W. Europe Standard Time:20240701T110000\r\n",
        "RRULE:FREQ=DAILY;COUNT=3\r\nEXDATE;VALUE=DATE:20240702\r\nEND:VEVENT\r\n"
    ));
    assert_eq!(
        put(&s, &format!("{PERSONAL}ol.ics"), &outlook).await.status,
        201
    );
    // 10:00 in Berlin summer time is 08:00 UTC; the EXDATE removes 2 July.
    assert_eq!(
        query(
            &s,
            PERSONAL,
            &range("VEVENT", "20240701T075900Z", "20240701T080100Z")
        )
        .await,
        names(&["ol.ics"])
    );
    assert!(
        query(
            &s,
            PERSONAL,
            &range("VEVENT", "20240702T000000Z", "20240703T000000Z")
        )
        .await
        .is_empty()
    );
    assert_eq!(
        query(
            &s,
            PERSONAL,
            &range("VEVENT", "20240703T000000Z", "20240704T000000Z")
        )
        .await,
        names(&["ol.ics"])
    );
    // Lightning: DTEND together with DURATION:PT0S.
    let lightning = event(
        "lt",
        "DTSTART:20240801T100000Z\r\nDTEND:20240801T120000Z\r\nDURATION:PT0S\r\n",
    );
    assert_eq!(
        put(&s, &format!("{PERSONAL}lt.ics"), &lightning)
            .await
            .status,
        201
    );
    assert_eq!(
        query(
            &s,
            PERSONAL,
            &range("VEVENT", "20240801T110000Z", "20240801T113000Z")
        )
        .await,
        names(&["lt.ics"])
    );
}

/// The acceptance case: a weekly Tuesday 10:00 Europe/Berlin meeting from 19 March 2024, with
/// an EXDATE on 26 March and the 2 April occurrence moved to Wednesday 3 April 15:00, across
/// the DST change of 31 March. Its real instances (UTC) are:
/// 19 Mar 09:00, 3 Apr 13:00, 9 Apr 08:00, 16 Apr 08:00 (COUNT=5 includes the removed one).
#[tokio::test]
async fn recurring_series_across_dst_matches_exactly_its_instances() {
    let s = Server::start();
    let series = ics(concat!(
        "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:0\r\n",
        "DTSTART;TZID=Europe/Berlin:20240319T100000\r\nDTEND;TZID=Europe/Berlin:20240319T110000\r\n",
        "RRULE:FREQ=WEEKLY;COUNT=5\r\nEXDATE;TZID=Europe/Berlin:20240326T100000\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n",
        "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:1\r\n",
        "RECURRENCE-ID;TZID=Europe/Berlin:20240402T100000\r\n",
        "DTSTART;TZID=Europe/Berlin:20240403T150000\r\nDTEND;TZID=Europe/Berlin:20240403T160000\r\n",
        "SUMMARY:Moved\r\nEND:VEVENT\r\n"
    ));
    assert_eq!(
        put(&s, &format!("{PERSONAL}weekly.ics"), &series)
            .await
            .status,
        201
    );
    let hit = names(&["weekly.ics"]);
    let none = BTreeSet::new();
    let cases = [
        // Each real instance, probed by a window inside it.
        ("20240319T093000Z", "20240319T094500Z", &hit),
        ("20240403T133000Z", "20240403T134500Z", &hit),
        ("20240409T083000Z", "20240409T084500Z", &hit),
        ("20240416T083000Z", "20240416T084500Z", &hit),
        // The excluded date and the moved-away slot have no instance.
        ("20240326T090000Z", "20240326T100000Z", &none),
        ("20240402T080000Z", "20240402T090000Z", &none),
        // After DST the series is at 08:00 UTC, not 09:00.
        ("20240409T090000Z", "20240409T100000Z", &none),
        // Ranges that touch an instance only at its end do not overlap it.
        ("20240319T100000Z", "20240319T110000Z", &none),
        // After the last instance.
        ("20240423T000000Z", "20240501T000000Z", &none),
    ];
    for (start, end, want) in cases {
        assert_eq!(
            &query(&s, PERSONAL, &range("VEVENT", start, end)).await,
            want,
            "range {start}..{end}"
        );
    }
    // expand returns exactly the instances in the range, with RECURRENCE-IDs.
    let r = s
        .req("REPORT", PERSONAL)
        .header("depth", "1")
        .xml(&format!(
            r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="{CAL}"><d:prop><c:calendar-data><c:expand start="20240301T000000Z" end="20240410T000000Z"/></c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20240301T000000Z" end="20240410T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#
        ))
        .send()
        .await;
    let ms = r.xml();
    let data = prop(responses(&ms)[0].1, CAL, "calendar-data")
        .unwrap()
        .text
        .clone();
    assert_eq!(data.matches("BEGIN:VEVENT").count(), 3, "{data}");
    for start in [
        "DTSTART:20240319T090000Z",
        "DTSTART:20240403T130000Z",
        "DTSTART:20240409T080000Z",
    ] {
        assert!(data.contains(start), "{start} missing: {data}");
    }
    assert!(data.contains("RECURRENCE-ID:20240402T080000Z"));
    assert!(!data.contains("RRULE"));
}

#[tokio::test]
async fn all_day_and_floating_events() {
    let s = Server::start();
    let tz = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
    let r = s
        .req("MKCALENDAR", "/dav/calendars/admin/ny/")
        .xml(&format!(r#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="{CAL}"><d:set><d:prop><c:calendar-timezone>{tz}</c:calendar-timezone></d:prop></d:set></c:mkcalendar>"#))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let ny = "/dav/calendars/admin/ny/";
    // Floating 09:00 in a New York calendar is 13:00 UTC in July.
    put(
        &s,
        &format!("{ny}f.ics"),
        &event("f", "DTSTART:20240701T090000\r\nDURATION:PT1H\r\n"),
    )
    .await;
    // An all-day event on 4 July (a DATE, read in the calendar's zone).
    put(
        &s,
        &format!("{ny}d.ics"),
        &event(
            "d",
            "DTSTART;VALUE=DATE:20240704\r\nDTEND;VALUE=DATE:20240705\r\n",
        ),
    )
    .await;
    assert_eq!(
        query(
            &s,
            ny,
            &range("VEVENT", "20240701T123000Z", "20240701T133000Z")
        )
        .await,
        names(&["f.ics"])
    );
    assert!(
        query(
            &s,
            ny,
            &range("VEVENT", "20240701T090000Z", "20240701T100000Z")
        )
        .await
        .is_empty()
    );
    assert_eq!(
        query(
            &s,
            ny,
            &range("VEVENT", "20240705T020000Z", "20240705T030000Z")
        )
        .await,
        names(&["d.ics"])
    );
    assert!(
        query(
            &s,
            ny,
            &range("VEVENT", "20240704T000000Z", "20240704T030000Z")
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn vtodo_time_range_rules() {
    let s = Server::start();
    let todo = |uid: &str, extra: &str| {
        ics(&format!(
            "BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\n{extra}END:VTODO\r\n"
        ))
    };
    for (name, extra) in [
        ("due", "DUE:20240110T100000Z\r\n"),
        ("start", "DTSTART:20240105T100000Z\r\n"),
        (
            "span",
            "DTSTART:20240201T100000Z\r\nDUE:20240205T100000Z\r\n",
        ),
        ("done", "COMPLETED:20240301T100000Z\r\n"),
        ("created", "CREATED:20240401T100000Z\r\n"),
        ("open", ""),
    ] {
        assert_eq!(
            put(&s, &format!("{TASKS}{name}.ics"), &todo(name, extra))
                .await
                .status,
            201
        );
    }
    let q = |a: &'static str, b: &'static str| {
        let s = &s;
        async move { query(s, TASKS, &range("VTODO", a, b)).await }
    };
    // DUE only: S < DUE and E >= DUE.
    assert!(
        q("20240110T000000Z", "20240110T100000Z")
            .await
            .contains("due.ics")
    );
    assert!(
        !q("20240110T100000Z", "20240111T000000Z")
            .await
            .contains("due.ics")
    );
    // DTSTART only: S <= DTSTART < E.
    assert!(
        q("20240105T100000Z", "20240105T100001Z")
            .await
            .contains("start.ics")
    );
    assert!(
        !q("20240105T100001Z", "20240106T000000Z")
            .await
            .contains("start.ics")
    );
    // DTSTART and DUE: overlap.
    assert!(
        q("20240203T000000Z", "20240204T000000Z")
            .await
            .contains("span.ics")
    );
    // COMPLETED only: S <= COMPLETED <= E.
    assert!(
        q("20240301T000000Z", "20240301T100000Z")
            .await
            .contains("done.ics")
    );
    assert!(
        !q("20240302T000000Z", "20240303T000000Z")
            .await
            .contains("done.ics")
    );
    // CREATED only: any range ending after it; no dates at all: every range.
    let late = q("20300101T000000Z", "20300102T000000Z").await;
    assert_eq!(late, names(&["created.ics", "open.ics"]));
}

#[tokio::test]
async fn alarms_and_freebusy() {
    let s = Server::start();
    put(&s, &format!("{PERSONAL}a.ics"), &event("a", "DTSTART:20240110T100000Z\r\nDTEND:20240110T110000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-P1D\r\nEND:VALARM\r\n")).await;
    put(
        &s,
        &format!("{PERSONAL}t.ics"),
        &event(
            "t",
            "DTSTART:20240110T120000Z\r\nDTEND:20240110T130000Z\r\nSTATUS:TENTATIVE\r\n",
        ),
    )
    .await;
    put(
        &s,
        &format!("{PERSONAL}free.ics"),
        &event(
            "free",
            "DTSTART:20240110T140000Z\r\nDTEND:20240110T150000Z\r\nTRANSP:TRANSPARENT\r\n",
        ),
    )
    .await;
    let alarm = r#"<c:comp-filter name="VEVENT"><c:comp-filter name="VALARM"><c:time-range start="20240109T095900Z" end="20240109T100100Z"/></c:comp-filter></c:comp-filter>"#;
    assert_eq!(query(&s, PERSONAL, alarm).await, names(&["a.ics"]));
    let r = s
        .req("REPORT", PERSONAL)
        .header("depth", "1")
        .xml(&format!(r#"<c:free-busy-query xmlns:c="{CAL}"><c:time-range start="20240110T000000Z" end="20240111T000000Z"/></c:free-busy-query>"#))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(
        text.contains("FREEBUSY;FBTYPE=BUSY:20240110T100000Z/20240110T110000Z"),
        "{text}"
    );
    assert!(text.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240110T120000Z/20240110T130000Z"));
    assert!(
        !text.contains("20240110T140000Z"),
        "transparent time is free"
    );
}

#[tokio::test]
async fn text_and_prop_filters_and_multiget() {
    let s = Server::start();
    put(
        &s,
        &format!("{PERSONAL}m.ics"),
        &event(
            "m",
            "DTSTART:20240110T100000Z\r\nSUMMARY:Team Meeting\r\nCATEGORIES:work,weekly\r\n",
        ),
    )
    .await;
    put(
        &s,
        &format!("{PERSONAL}l.ics"),
        &event(
            "l",
            "DTSTART:20240111T100000Z\r\nSUMMARY:Lunch\r\nLOCATION:Cafe\r\n",
        ),
    )
    .await;
    let f = |inner: &str| format!(r#"<c:comp-filter name="VEVENT">{inner}</c:comp-filter>"#);
    assert_eq!(query(&s, PERSONAL, &f(r#"<c:prop-filter name="SUMMARY"><c:text-match>meeting</c:text-match></c:prop-filter>"#)).await, names(&["m.ics"]));
    assert_eq!(
        query(
            &s,
            PERSONAL,
            &f(r#"<c:prop-filter name="LOCATION"><c:is-not-defined/></c:prop-filter>"#)
        )
        .await,
        names(&["m.ics"])
    );
    assert_eq!(query(&s, PERSONAL, &f(r#"<c:prop-filter name="CATEGORIES"><c:text-match>weekly</c:text-match></c:prop-filter>"#)).await, names(&["m.ics"]));
    assert_eq!(query(&s, PERSONAL, &f(r#"<c:prop-filter name="SUMMARY"><c:text-match collation="i;octet">lunch</c:text-match></c:prop-filter>"#)).await, names(&[]));
    let r = s
        .req("REPORT", PERSONAL)
        .xml(&format!(r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="{CAL}"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="bad"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), error_condition(&r).1.as_str()),
        (403, "valid-filter")
    );
    let r = s
        .req("REPORT", PERSONAL)
        .xml(&format!(r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="{CAL}"><d:prop><d:getetag/><c:calendar-data/></d:prop><d:href>{PERSONAL}m.ics</d:href><d:href>{PERSONAL}missing.ics</d:href></c:calendar-multiget>"#))
        .send()
        .await;
    let ms = r.xml();
    let resps = responses(&ms);
    assert_eq!(resps.len(), 2);
    assert!(
        prop(resps[0].1, CAL, "calendar-data")
            .unwrap()
            .text
            .contains("Team Meeting")
    );
    assert!(
        resps[1]
            .1
            .child("DAV:", "status")
            .unwrap()
            .text
            .contains("404")
    );
}

#[tokio::test]
async fn sync_collection_on_calendars() {
    let s = Server::start();
    let sync = |token: String| {
        let s = &s;
        async move {
            let r = s
                .req("REPORT", PERSONAL)
                .xml(&sync_report(&token, None, "<d:getetag/>"))
                .send()
                .await;
            assert_eq!(r.status, 207);
            let ms = r.xml();
            let token = ms.child("DAV:", "sync-token").unwrap().text.clone();
            let items: Vec<(String, bool)> = responses(&ms)
                .into_iter()
                .map(|(h, e)| {
                    let gone = e
                        .child("DAV:", "status")
                        .is_some_and(|st| st.text.contains("404"));
                    (h.rsplit('/').next().unwrap().to_string(), gone)
                })
                .collect();
            (token, items)
        }
    };
    put(
        &s,
        &format!("{PERSONAL}a.ics"),
        &event("a", "DTSTART:20240101T100000Z\r\n"),
    )
    .await;
    let (t1, items) = sync(String::new()).await;
    assert_eq!(items, vec![("a.ics".to_string(), false)]);
    put(
        &s,
        &format!("{PERSONAL}b.ics"),
        &event("b", "DTSTART:20240101T100000Z\r\n"),
    )
    .await;
    s.req("DELETE", &format!("{PERSONAL}a.ics")).send().await;
    let (t2, items) = sync(t1).await;
    assert_eq!(
        items,
        vec![("b.ics".to_string(), false), ("a.ics".to_string(), true)]
    );
    let (_, items) = sync(t2).await;
    assert!(items.is_empty());
}
