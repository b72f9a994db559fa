//! Client input never causes a 5xx: malformed XML, odd headers and hostile paths, on every
//! method and resource.

use crate::common::*;

#[tokio::test]
async fn malformed_requests_never_get_a_server_error() {
    let s = Server::start();
    s.req("PUT", &format!("{BOOK}a.vcf"))
        .vcard(&card("a", "A"))
        .send()
        .await;
    let bodies: &[&[u8]] = &[
        b"",
        b"<",
        b"not xml at all",
        b"<?xml version=\"1.0\"?>",
        b"<d:propfind xmlns:d=\"DAV:\"><d:prop><x:y/></d:prop></d:propfind>",
        b"<propfind xmlns=\"DAV:\"><prop><getetag/></prop></propfind><extra/>",
        b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]><x>&a;&a;</x>",
        b"<C:addressbook-query xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><C:filter><C:prop-filter/></C:filter></C:addressbook-query>",
        b"<C:addressbook-query xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><C:limit><C:nresults>-1</C:nresults></C:limit></C:addressbook-query>",
        b"<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token>urn:kith:sync:1:-5</d:sync-token></d:sync-collection>",
        b"<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token>urn:kith:sync:99999999999999999999999:1</d:sync-token></d:sync-collection>",
        b"<d:propertyupdate xmlns:d=\"DAV:\"><d:set><d:prop/></d:set></d:propertyupdate>",
        b"<d:mkcol xmlns:d=\"DAV:\"><d:set><d:prop><d:resourcetype><d:collection/><z:odd xmlns:z=\"urn:z\"/></d:resourcetype></d:prop></d:set></d:mkcol>",
        b"\xff\xfe\xfd",
        b"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:\r\nEND:VCARD\r\n",
        b"BEGIN:VCARD\r\nBEGIN:VCARD\r\nBEGIN:VCARD\r\n",
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nPHOTO;ENCODING=b:!!!notbase64\r\nBDAY:99999-99-99\r\nEND:VCARD\r\n",
    ];
    let deep = format!("{}{}", "<a>".repeat(500), "</a>".repeat(500));
    let paths = [
        "/",
        "/dav/",
        "/dav/principals/admin/",
        "/dav/addressbooks/admin/",
        BOOK,
        "/dav/addressbooks/admin/contacts/a.vcf",
        "/dav/addressbooks/admin/contacts/%ff%fe.vcf",
        "/dav/addressbooks/admin/contacts/..%2f..%2fx.vcf",
        "/dav/addressbooks/admin/nope/deeper/still/x.vcf",
    ];
    let methods = [
        "PROPFIND",
        "PROPPATCH",
        "REPORT",
        "MKCOL",
        "PUT",
        "COPY",
        "MOVE",
        "DELETE",
        "GET",
    ];
    for path in paths {
        for m in methods {
            for body in bodies.iter().copied().chain([deep.as_bytes()]) {
                let r = s
                    .req(m, path)
                    .header("depth", "banana")
                    .header("destination", "http://[::1")
                    .header("if-match", "\"unterminated")
                    .header("accept", "text/vcard;version=9.9")
                    .body(body.to_vec())
                    .send()
                    .await;
                assert!(
                    r.status.as_u16() < 500,
                    "{m} {path} {:?} -> {}",
                    String::from_utf8_lossy(&body[..body.len().min(40)]),
                    r.status
                );
            }
        }
    }
    // The card is still there, unchanged.
    assert_eq!(
        s.req("GET", &format!("{BOOK}a.vcf")).send().await.body,
        card("a", "A")
    );
}

const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";

/// Issue 26, findings 1 and 2: requests whose answer once grew with the square of their input
/// are linear and bounded, under a 512 MiB memory cap, and the server keeps answering.
#[tokio::test]
async fn expansions_and_repeated_multigets_stay_within_a_memory_cap() {
    let s = Server::start_with(&[("KITH_TEST_DATA_CAP", "536870912")]);
    let cal = "/dav/calendars/admin/personal/";
    let put = |name: &str, body: String| {
        let req = s
            .req("PUT", &format!("{cal}{name}"))
            .header("content-type", "text/calendar; charset=utf-8")
            .body(body);
        async move { req.send().await }
    };
    let event = |uid: &str, body: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nDURATION:PT1H\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    // 10,000 RDATEs (about 240 KB).
    let rdates: String = (0..10_000)
        .map(|i| {
            let t = 1_704_103_200 + i * 3600;
            let d = chrono_like(t);
            format!("RDATE:{d}\r\n")
        })
        .collect();
    let r = put("rdates.ics", event("rdates", &rdates)).await;
    assert!(r.status.is_success(), "{}", r.text());
    // 30,000 EXDATEs on an hourly rule, and 200 alarms on a daily one.
    let exdates: String = (0..30_000)
        .map(|i| format!("EXDATE:{}\r\n", chrono_like(1_704_103_200 + i * 7200)))
        .collect();
    let r = put(
        "exdates.ics",
        event(
            "exdates",
            &format!("RRULE:FREQ=HOURLY;COUNT=60000\r\n{exdates}"),
        ),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.text());
    let alarms: String = (0..200)
        .map(|i| format!("BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:alarm {i}\r\nTRIGGER:-PT{i}M\r\nEND:VALARM\r\n"))
        .collect();
    let body = event("alarms", "RRULE:FREQ=HOURLY\r\n")
        .replace("END:VEVENT", &format!("{alarms}END:VEVENT"));
    let r = put("alarms.ics", body).await;
    assert!(r.status.is_success(), "{}", r.text());

    let r = s
        .req("REPORT", cal)
        .header("depth", "1")
        .xml(&format!(
            r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="{CALDAV}"><d:prop><d:getetag/><c:calendar-data><c:expand start="20240101T000000Z" end="20300101T000000Z"/></c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20240101T000000Z" end="20300101T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#
        ))
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    let by_name: std::collections::HashMap<String, &kith_dav::xml::Element> = responses(&ms)
        .into_iter()
        .map(|(h, resp)| (h.rsplit('/').next().unwrap().to_string(), resp))
        .collect();
    let rd = prop(by_name["rdates.ics"], CALDAV, "calendar-data").expect("expanded");
    assert_eq!(rd.text.matches("BEGIN:VEVENT").count(), 10_000);
    assert!(!rd.text.contains("RDATE"));
    // The alarms' expansion would be hundreds of MB: refused for that property, with 507.
    let text = r.text();
    assert!(
        text.contains("507 Insufficient Storage"),
        "{}",
        &text[..2000.min(text.len())]
    );

    // One large card named 6,000 times is answered once.
    let photo = "A".repeat(50_000);
    let r = s
        .req("PUT", &format!("{BOOK}big.vcf"))
        .vcard(format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big\r\nFN:Big\r\nPHOTO;ENCODING=b;TYPE=JPEG:{photo}\r\nEND:VCARD\r\n").as_bytes())
        .send()
        .await;
    assert!(r.status.is_success());
    let hrefs: String = (0..6_000)
        .map(|_| format!("<d:href>{BOOK}big.vcf</d:href>"))
        .collect();
    let r = s
        .req("REPORT", BOOK)
        .xml(&format!(
            r#"<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>{hrefs}</c:addressbook-multiget>"#
        ))
        .send()
        .await;
    assert_eq!(r.status, 207);
    assert_eq!(responses(&r.xml()).len(), 1);

    let r = s.anon("GET", "/healthz").send().await;
    assert_eq!(r.status, 200, "the server lives");
}

/// `YYYYMMDDTHHMMSSZ` for Unix seconds.
fn chrono_like(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A multiget naming more members than one batch is answered whole and in order, missing
/// members with 404.
#[tokio::test]
async fn a_large_multiget_is_streamed_in_batches() {
    let s = Server::start();
    for i in 0..450 {
        let r = s
            .req("PUT", &format!("{BOOK}m{i}.vcf"))
            .vcard(
                format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:m{i}\r\nFN:M {i}\r\nEND:VCARD\r\n")
                    .as_bytes(),
            )
            .send()
            .await;
        assert_eq!(r.status, 201);
    }
    let mut hrefs: Vec<String> = (0..450).map(|i| format!("{BOOK}m{i}.vcf")).collect();
    hrefs.insert(10, format!("{BOOK}gone-1.vcf"));
    hrefs.insert(300, format!("{BOOK}gone-2.vcf"));
    let body: String = hrefs
        .iter()
        .map(|h| format!("<d:href>{h}</d:href>"))
        .collect();
    let r = s
        .req("REPORT", BOOK)
        .xml(&format!(
            r#"<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>{body}</c:addressbook-multiget>"#
        ))
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let got = responses(&ms);
    assert_eq!(got.len(), 452);
    let order: Vec<&str> = got.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(order, hrefs.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(r.text().matches("404 Not Found").count() == 2);
    assert!(r.text().contains("FN:M 449"));
}
