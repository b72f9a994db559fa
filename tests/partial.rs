//! Partial retrieval (RFC 6352 §10.4, RFC 4791 §9.6), expansion that keeps DURATION, alarm
//! time ranges on to-dos, and queries sent to a single object, over HTTP.

use crate::common::*;
use kith_dav::xml::Element;

const CARD_NS: &str = "urn:ietf:params:xml:ns:carddav";
const CAL_NS: &str = "urn:ietf:params:xml:ns:caldav";
const PERSONAL: &str = "/dav/calendars/admin/personal/";
const TASKS: &str = "/dav/calendars/admin/tasks/";

const ANN: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\n\
item1.EMAIL;TYPE=INTERNET:ann@example.org\r\nitem1.X-ABLabel:school\r\nTEL:+1 555 0100\r\n\
NOTE:private\r\nEND:VCARD\r\n";

async fn put_card(s: &Server) {
    let r = s
        .req("PUT", &format!("{BOOK}ann.vcf"))
        .vcard(ANN.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 201);
}

async fn put_ics(s: &Server, path: &str, body: &str) {
    let r = s
        .req("PUT", path)
        .header("content-type", "text/calendar; charset=utf-8")
        .body(body.to_string())
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

fn data<'a>(resp: &'a Element, ns: &str, name: &str) -> &'a str {
    &prop(resp, ns, name).expect("data in a 200 propstat").text
}

#[tokio::test]
async fn address_data_returns_only_the_named_properties() {
    let s = Server::start();
    put_card(&s).await;
    let body = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARD_NS}"><D:prop><C:address-data><C:prop name="UID"/><C:prop name="EMAIL"/><C:prop name="NOTE" novalue="yes"/></C:address-data></D:prop><D:href>{BOOK}ann.vcf</D:href></C:addressbook-multiget>"#
    );
    let r = s.req("REPORT", BOOK).xml(&body).send().await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let resp = responses(&ms);
    assert_eq!(
        data(resp[0].1, CARD_NS, "address-data"),
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann\r\nitem1.EMAIL;TYPE=INTERNET:ann@example.org\r\n\
item1.X-ABLabel:school\r\nNOTE:\r\nEND:VCARD\r\n"
    );
    // The same selection in a query and in sync-collection; allprop is the whole card.
    let body = format!(
        r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="{CARD_NS}"><D:prop><C:address-data><C:prop name="TEL"/></C:address-data></D:prop></C:addressbook-query>"#
    );
    let r = s.req("REPORT", BOOK).xml(&body).send().await;
    let ms = r.xml();
    let text = data(responses(&ms)[0].1, CARD_NS, "address-data").to_string();
    assert!(
        text.contains("TEL:+1 555 0100") && !text.contains("FN:"),
        "{text}"
    );
    let r = s
        .req("REPORT", BOOK)
        .xml(&sync_report(
            "",
            None,
            r#"<c:address-data><c:allprop/></c:address-data>"#,
        ))
        .send()
        .await;
    let ms = r.xml();
    assert_eq!(data(responses(&ms)[0].1, CARD_NS, "address-data"), ANN);
}

const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kith tests//EN\r\n\
BEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T090000Z\r\n\
DURATION:PT15M\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:Standup\r\nDESCRIPTION:notes\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test]
async fn calendar_data_selects_components_and_properties_and_expand_keeps_duration() {
    let s = Server::start();
    let href = format!("{PERSONAL}standup.ics");
    put_ics(&s, &href, SERIES).await;
    let body = format!(
        r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="{CAL_NS}"><D:prop><C:calendar-data><C:comp name="VCALENDAR"><C:prop name="VERSION"/><C:comp name="VEVENT"><C:prop name="UID"/><C:prop name="SUMMARY"/></C:comp></C:comp></C:calendar-data></D:prop><D:href>{href}</D:href></C:calendar-multiget>"#
    );
    let r = s.req("REPORT", PERSONAL).xml(&body).send().await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    assert_eq!(
        data(responses(&ms)[0].1, CAL_NS, "calendar-data"),
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:standup\r\nSUMMARY:Standup\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    // Expanded instances keep the DURATION the client wrote, and no DTEND is invented.
    let body = format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="{CAL_NS}"><D:prop><C:calendar-data><C:expand start="20240101T000000Z" end="20240110T000000Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#
    );
    let r = s.req("REPORT", PERSONAL).xml(&body).send().await;
    let ms = r.xml();
    let text = data(responses(&ms)[0].1, CAL_NS, "calendar-data").to_string();
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 3, "{text}");
    assert_eq!(text.matches("DURATION:PT15M").count(), 3, "{text}");
    assert!(!text.contains("DTEND"), "{text}");
}

#[tokio::test]
async fn an_alarm_on_a_to_do_with_only_a_due_date_is_found_by_time() {
    let s = Server::start();
    let todo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kith tests//EN\r\nBEGIN:VTODO\r\n\
UID:file-taxes\r\nDTSTAMP:20240101T000000Z\r\nDUE:20240415T170000Z\r\nSUMMARY:File taxes\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:taxes\r\nTRIGGER;RELATED=END:-P1D\r\nEND:VALARM\r\n\
END:VTODO\r\nEND:VCALENDAR\r\n";
    put_ics(&s, &format!("{TASKS}taxes.ics"), todo).await;
    let query = |start: &str, end: &str| {
        format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="{CAL_NS}"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:comp-filter name="VALARM"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
        )
    };
    let found = s
        .req("REPORT", TASKS)
        .xml(&query("20240414T160000Z", "20240414T180000Z"))
        .send()
        .await;
    assert_eq!(responses(&found.xml()).len(), 1, "{}", found.text());
    let missed = s
        .req("REPORT", TASKS)
        .xml(&query("20240415T160000Z", "20240415T180000Z"))
        .send()
        .await;
    assert_eq!(responses(&missed.xml()).len(), 0, "{}", missed.text());
}

#[tokio::test]
async fn a_query_sent_to_one_object_answers_for_that_object() {
    let s = Server::start();
    put_card(&s).await;
    let r = s
        .req("PUT", &format!("{BOOK}bob.vcf"))
        .vcard(&card("bob", "Bob Other"))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let query = |text: &str| {
        format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="{CARD_NS}"><D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="FN"><C:text-match>{text}</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#
        )
    };
    let ann = format!("{BOOK}ann.vcf");
    let r = s.req("REPORT", &ann).xml(&query("Ann")).send().await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    let hrefs: Vec<String> = responses(&ms).into_iter().map(|(h, _)| h).collect();
    assert_eq!(hrefs, std::slice::from_ref(&ann));
    // The other card matches "Other" but is not the object the query was sent to.
    let r = s.req("REPORT", &ann).xml(&query("Other")).send().await;
    assert_eq!(responses(&r.xml()).len(), 0);
    let r = s
        .req("REPORT", &format!("{BOOK}nobody.vcf"))
        .xml(&query("Ann"))
        .send()
        .await;
    assert_eq!(r.status, 404);
    // sync-collection runs on collections only.
    let r = s
        .req("REPORT", &ann)
        .xml(&sync_report("", None, ""))
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(error_condition(&r).1, "supported-report");
    // The same on a calendar object.
    let href = format!("{PERSONAL}standup.ics");
    put_ics(&s, &href, SERIES).await;
    let body = format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="{CAL_NS}"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>"#
    );
    let r = s.req("REPORT", &href).xml(&body).send().await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    assert_eq!(responses(&ms)[0].0, href);
}
