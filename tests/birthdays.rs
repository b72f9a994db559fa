//! The birthday calendar, as a syncing calendar client sees it while cards change over CardDAV.

use crate::common::*;

const BDAYS: &str = "/dav/calendars/admin/birthdays/";

/// One sync-collection round on the birthday calendar: (new token, changed names with their
/// calendar data, removed names).
async fn sync(s: &Server, token: &str) -> (String, Vec<(String, String)>, Vec<String>) {
    let r = s
        .req("REPORT", BDAYS)
        .xml(&sync_report(
            token,
            None,
            r#"<d:getetag/><cal:calendar-data xmlns:cal="urn:ietf:params:xml:ns:caldav"/>"#,
        ))
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    let token = ms.child("DAV:", "sync-token").unwrap().text.clone();
    let (mut changed, mut removed) = (Vec::new(), Vec::new());
    for (href, resp) in responses(&ms) {
        let name = href.rsplit('/').next().unwrap().to_string();
        match prop(resp, "urn:ietf:params:xml:ns:caldav", "calendar-data") {
            Some(d) => changed.push((name, d.text.clone())),
            None => removed.push(name),
        }
    }
    (token, changed, removed)
}

async fn put_card(s: &Server, name: &str, body: &str) {
    let r = s
        .req("PUT", &format!("{BOOK}{name}"))
        .vcard(body.as_bytes())
        .send()
        .await;
    assert!(r.status.is_success(), "{}", r.text());
}

#[tokio::test]
async fn birthdays_follow_the_address_book() {
    let s = Server::start();
    let (t0, changed, _) = sync(&s, "").await;
    assert!(changed.is_empty());

    put_card(
        &s,
        "ada.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada\r\nFN:Ada Lovelace\r\nBDAY:1815-12-10\r\nEND:VCARD\r\n",
    )
    .await;
    put_card(
        &s,
        "bob.vcf",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:bob\r\nFN:Bob\r\nBDAY:--0412\r\nANNIVERSARY:20100605\r\nEND:VCARD\r\n",
    )
    .await;
    put_card(
        &s,
        "none.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:none\r\nFN:No Date\r\nEND:VCARD\r\n",
    )
    .await;

    // The next sync of the calendar shows them.
    let (t1, changed, _) = sync(&s, &t0).await;
    let mut got: Vec<&str> = changed.iter().map(|(n, _)| n.as_str()).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "1-ada.vcf.bday.ics",
            "1-bob.vcf.anniversary.ics",
            "1-bob.vcf.bday.ics"
        ]
    );
    let ada = &changed.iter().find(|(n, _)| n.contains("ada")).unwrap().1;
    assert!(ada.contains("SUMMARY:Ada Lovelace's birthday (born 1815)"));
    assert!(ada.contains("DTSTART;VALUE=DATE:18151210"));
    assert!(ada.contains("RRULE:FREQ=YEARLY"));
    let bob = &changed
        .iter()
        .find(|(n, _)| n.ends_with("bob.vcf.bday.ics"))
        .unwrap()
        .1;
    assert!(
        bob.contains("SUMMARY:Bob's birthday\r\n"),
        "no year, no age: {bob}"
    );

    // It is a real calendar: a time-range query finds this year's birthday.
    let r = s
        .req("REPORT", BDAYS)
        .header("depth", "1")
        .xml(r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20261210T000000Z" end="20261211T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#)
        .send()
        .await;
    let hits: Vec<String> = responses(&r.xml()).into_iter().map(|(h, _)| h).collect();
    assert_eq!(hits, vec![format!("{BDAYS}1-ada.vcf.bday.ics")]);

    // Nothing changed: an empty sync, and the ETags stay put.
    let (t2, changed, removed) = sync(&s, &t1).await;
    assert!(changed.is_empty() && removed.is_empty());

    // An edit changes the event; a deletion removes it.
    put_card(
        &s,
        "ada.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada\r\nFN:Augusta Ada King\r\nBDAY:1815-12-10\r\nEND:VCARD\r\n",
    )
    .await;
    let r = s.req("DELETE", &format!("{BOOK}bob.vcf")).send().await;
    assert_eq!(r.status, 204);
    let (_, changed, mut removed) = sync(&s, &t2).await;
    assert_eq!(changed.len(), 1);
    assert!(changed[0].1.contains("Augusta Ada King"));
    removed.sort();
    assert_eq!(
        removed,
        vec!["1-bob.vcf.anniversary.ics", "1-bob.vcf.bday.ics"]
    );

    // Clients cannot write to it.
    let ev = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s
        .req("PUT", &format!("{BDAYS}x.ics"))
        .header("content-type", "text/calendar")
        .body(ev)
        .send()
        .await;
    assert_eq!(r.status, 403);
    let r = s
        .req("DELETE", &format!("{BDAYS}1-ada.vcf.bday.ics"))
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(s.req("DELETE", BDAYS).send().await.status, 403);
}

#[tokio::test]
async fn the_birthday_calendar_can_be_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kith.toml"),
        "[caldav]\nbirthdays = false\n",
    )
    .unwrap();
    let config = dir.path().join("kith.toml").display().to_string();
    let s = Server::start_in(dir, &[("KITH_CONFIG", config.as_str())]);
    assert_eq!(
        s.req("PROPFIND", BDAYS)
            .header("depth", "0")
            .send()
            .await
            .status,
        404
    );
    let r = s
        .req("PROPFIND", "/dav/calendars/admin/")
        .header("depth", "1")
        .send()
        .await;
    assert!(!r.text().contains("birthdays"));
}

#[tokio::test]
async fn linkedin_connection_dates_show_in_contact_apps_but_are_not_birthdays() {
    let s = Server::start();
    let (t0, _, _) = sync(&s, "").await;
    let csv = s.dir.path().join("Connections.csv");
    std::fs::write(
        &csv,
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\nSofia,Rossi,https://www.linkedin.com/in/sofiarossi,,Studio Rossi,Engineer,30 Nov 2020\n",
    )
    .unwrap();
    let (ok, out, err) = kith_cli(
        s.dir.path(),
        &["import", csv.to_str().unwrap(), "--user", "admin"],
        "",
    );
    assert!(ok, "{err}\n{out}");

    // Apple Contacts reads 3.0: the date shows as a labelled date, and in the note elsewhere.
    let book = download_book(&s).await;
    let (name, _) = book.iter().next().expect("one card");
    let r = s
        .req("GET", &format!("{BOOK}{name}"))
        .header("User-Agent", "iOS/17.4 (21E219) dataaccessd/1.0")
        .send()
        .await;
    let card = r.text();
    assert!(card.contains("VERSION:3.0"), "{card}");
    let label = card
        .lines()
        .find(|l| l.ends_with("X-ABLabel:Connected on"))
        .unwrap_or_else(|| panic!("no label in\n{card}"));
    let group = label.split('.').next().unwrap();
    assert!(
        card.contains(&format!("{group}.X-ABDATE:2020-11-30")),
        "{card}"
    );
    assert!(
        card.contains("NOTE:Connected on LinkedIn: 2020-11-30"),
        "{card}"
    );
    assert!(
        card.contains("X-LINKEDIN-CONNECTED-ON:2020-11-30"),
        "{card}"
    );

    // No birthday or anniversary event comes of it.
    let (_, changed, _) = sync(&s, &t0).await;
    assert!(changed.is_empty(), "{changed:?}");
}
