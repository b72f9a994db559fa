//! CalDAV scheduling (RFC 6638, issue 23) over HTTP: the scheduling inbox and outbox, the
//! principal's addresses, free-busy across users by outbox POST, and implicit scheduling of
//! invitations, replies and cancellations between three local users and one outside
//! attendee (mailed through a local SMTP sink).

use crate::common::*;

pub const PW: &str = "scheduling-password-1";
const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";

fn cli(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = kith_cli(s.dir.path(), args, "");
    assert!(ok, "{args:?}: {err}");
    out
}

/// ann, bob and carol, each with an address on example.org.
pub fn team(s: &Server) {
    for u in ["ann", "bob", "carol"] {
        s.add_user(u, PW);
        cli(
            s,
            &["user", "email", u, "--add", &format!("{u}@example.org")],
        );
    }
}

pub async fn put(s: &Server, user: &str, path: &str, body: &str) -> Resp {
    s.req("PUT", path)
        .auth(user, PW)
        .header("content-type", "text/calendar; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
}

#[tokio::test]
async fn principals_have_an_inbox_an_outbox_and_their_addresses() {
    let s = Server::start();
    team(&s);
    let r = s
        .req("PROPFIND", "/dav/principals/ann/")
        .auth("ann", PW)
        .header("depth", "0")
        .xml(r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:schedule-inbox-URL/><c:schedule-outbox-URL/><c:calendar-user-address-set/><c:calendar-user-type/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let (_, resp) = responses(&ms).into_iter().next().unwrap();
    let href = |name: &str| prop(resp, CALDAV, name).unwrap().children[0].text.clone();
    assert_eq!(href("schedule-inbox-URL"), "/dav/calendars/ann/inbox/");
    assert_eq!(href("schedule-outbox-URL"), "/dav/calendars/ann/outbox/");
    let set: Vec<String> = prop(resp, CALDAV, "calendar-user-address-set")
        .unwrap()
        .children
        .iter()
        .map(|h| h.text.clone())
        .collect();
    assert_eq!(set, ["mailto:ann@example.org", "/dav/principals/ann/"]);
    assert_eq!(
        prop(resp, CALDAV, "calendar-user-type").unwrap().text,
        "INDIVIDUAL"
    );

    // The boxes: their types, where invitations land, and that nobody PUTs into them.
    let r = s
        .req("PROPFIND", "/dav/calendars/ann/inbox/")
        .auth("ann", PW)
        .header("depth", "0")
        .xml(r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:resourcetype/><c:schedule-default-calendar-URL/></d:prop></d:propfind>"#)
        .send()
        .await;
    let text = r.text();
    assert!(text.contains("schedule-inbox"), "{text}");
    assert!(text.contains("/dav/calendars/ann/personal/"), "{text}");
    let r = put(
        &s,
        "ann",
        "/dav/calendars/ann/inbox/x.ics",
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("need-privileges"));
    let home = s
        .req("PROPFIND", "/dav/calendars/ann/")
        .auth("ann", PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#)
        .send()
        .await
        .text();
    assert!(home.contains("schedule-outbox"), "{home}");
    // An address belongs to one user.
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["user", "email", "bob", "--add", "ANN@example.org"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("already ann's address"), "{err}");
}

const BUSY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:private-1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270105T100000Z\r\nDTEND:20270105T110000Z\r\nCLASS:PRIVATE\r\nSUMMARY:Doctor\r\nLOCATION:Clinic\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn freebusy_request(organizer: &str, attendees: &[&str]) -> String {
    let mut a = String::new();
    for x in attendees {
        a.push_str(&format!("ATTENDEE:{x}\r\n"));
    }
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270105T000000Z\r\nDTEND:20270106T000000Z\r\nORGANIZER:{organizer}\r\n{a}END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )
}

/// Free-busy by outbox POST: bob's private appointment shows as busy time and nothing more;
/// an unknown address is answered 3.7; only one's own outbox and addresses may ask.
#[tokio::test]
async fn free_busy_across_users_shows_busy_time_only() {
    let s = Server::start();
    team(&s);
    let r = put(&s, "bob", "/dav/calendars/bob/personal/private-1.ics", BUSY).await;
    assert_eq!(r.status, 201);
    let post = |user: &'static str, path: &'static str, body: String| {
        let s = &s;
        async move {
            s.req("POST", path)
                .auth(user, PW)
                .header("content-type", "text/calendar; charset=utf-8")
                .body(body)
                .send()
                .await
        }
    };
    let r = post(
        "ann",
        "/dav/calendars/ann/outbox/",
        freebusy_request(
            "mailto:ann@example.org",
            &["mailto:bob@example.org", "mailto:nobody@example.org"],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let x = r.xml();
    assert!(x.is(CALDAV, "schedule-response"));
    let answers: Vec<_> = x
        .children
        .iter()
        .filter(|c| c.is(CALDAV, "response"))
        .collect();
    assert_eq!(answers.len(), 2);
    let bob = answers[0];
    assert_eq!(
        bob.child(CALDAV, "recipient").unwrap().children[0].text,
        "mailto:bob@example.org"
    );
    assert!(
        bob.child(CALDAV, "request-status")
            .unwrap()
            .text
            .starts_with("2.0")
    );
    let data = &bob.child(CALDAV, "calendar-data").unwrap().text;
    assert!(data.contains("METHOD:REPLY"), "{data}");
    assert!(
        data.contains("FREEBUSY;FBTYPE=BUSY:20270105T100000Z/20270105T110000Z"),
        "{data}"
    );
    for secret in ["Doctor", "Clinic", "private-1"] {
        assert!(!data.contains(secret), "{secret} leaked: {data}");
    }
    assert!(
        answers[1]
            .child(CALDAV, "request-status")
            .unwrap()
            .text
            .starts_with("3.7")
    );
    // Not ann's address, not ann's outbox, not a free-busy request.
    let r = post(
        "ann",
        "/dav/calendars/ann/outbox/",
        freebusy_request("mailto:bob@example.org", &["mailto:carol@example.org"]),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("organizer-allowed"));
    let r = post(
        "ann",
        "/dav/calendars/bob/outbox/",
        freebusy_request("mailto:ann@example.org", &["mailto:bob@example.org"]),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = post(
        "ann",
        "/dav/calendars/ann/personal/",
        freebusy_request("mailto:ann@example.org", &["mailto:bob@example.org"]),
    )
    .await;
    assert_eq!(r.status, 405);
    let r = post(
        "ann",
        "/dav/calendars/ann/outbox/",
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("valid-scheduling-message"));
}

/// A server that mails through a local SMTP sink.
fn with_mail() -> (
    Server,
    tempfile::TempDir,
    std::sync::Arc<kith_fakes::sinks::Inbox<kith_fakes::sinks::Mail>>,
) {
    let (port, mail) = kith_fakes::sinks::smtp();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kith.toml");
    std::fs::write(
        &config,
        format!("[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"Kith <kith@kith.test>\"\n"),
    )
    .unwrap();
    let s = Server::start_with(&[("KITH_CONFIG", config.to_str().unwrap())]);
    (s, dir, mail)
}

/// The weekly meeting ann organizes: bob and carol (local) and dave (outside).
fn meeting(extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270104T100000Z\r\nDTEND:20270104T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly planning\r\nSEQUENCE:0\r\nORGANIZER;CN=Ann:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dave@outside.example\r\nEND:VEVENT\r\n{extra}END:VCALENDAR\r\n"
    )
}

/// The text of `user`'s objects in `cal`, by name.
async fn objects(s: &Server, user: &str, cal: &str) -> Vec<(String, String)> {
    let r = s
        .req("PROPFIND", &format!("/dav/calendars/{user}/{cal}/"))
        .auth(user, PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    let mut out = Vec::new();
    for (href, _) in responses(&ms) {
        if href.ends_with('/') {
            continue;
        }
        let g = s.req("GET", &href).auth(user, PW).send().await;
        out.push((href, g.text().replace("\r\n ", "")));
    }
    out
}

/// The acceptance walk: ann invites bob, carol and dave (outside, by mail); bob accepts and
/// ann's copy shows it; ann moves one occurrence and the attendees' copies follow; carol
/// deletes her copy without telling; ann cancels, and everyone is told.
#[tokio::test]
async fn invite_accept_reschedule_one_occurrence_and_cancel() {
    let (s, _conf, mail) = with_mail();
    team(&s);
    let r = put(
        &s,
        "ann",
        "/dav/calendars/ann/personal/weekly-1.ics",
        &meeting(""),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        r.header("etag").is_none(),
        "the stored object gained SCHEDULE-STATUS"
    );

    // Invite: bob's and carol's inboxes hold the REQUEST, their calendars a copy.
    for who in ["bob", "carol"] {
        let inbox = objects(&s, who, "inbox").await;
        assert_eq!(inbox.len(), 1, "{who}: {inbox:?}");
        assert!(inbox[0].1.contains("METHOD:REQUEST"), "{}", inbox[0].1);
        let cal = objects(&s, who, "personal").await;
        assert_eq!(cal.len(), 1, "{who}");
        assert!(cal[0].1.contains("SUMMARY:Weekly planning"));
        assert!(!cal[0].1.contains("METHOD"), "a copy is a plain object");
    }
    // dave gets mail: an invitation with the calendar part.
    let mails = mail.wait_for(1, std::time::Duration::from_secs(10));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["dave@outside.example"]);
    assert!(
        mails[0]
            .data
            .contains("Subject: Invitation: Weekly planning"),
        "{}",
        mails[0].data
    );
    assert!(
        mails[0].data.contains("text/calendar; method=REQUEST"),
        "{}",
        mails[0].data
    );
    assert!(
        mails[0].data.contains("Reply-To: ann@example.org"),
        "{}",
        mails[0].data
    );
    // ann's copy says what happened to each: delivered (1.2) here, sent (1.1) by mail.
    let ann = objects(&s, "ann", "personal").await;
    let mine = &ann[0].1;
    assert!(
        mine.contains("SCHEDULE-STATUS=1.2:mailto:bob@example.org"),
        "{mine}"
    );
    assert!(
        mine.contains("SCHEDULE-STATUS=1.1:mailto:dave@outside.example"),
        "{mine}"
    );

    // Accept: bob's client saves his copy with PARTSTAT=ACCEPTED.
    let (href, text) = objects(&s, "bob", "personal").await.remove(0);
    let accepted = text.replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org",
        "PARTSTAT=ACCEPTED:mailto:bob@example.org",
    );
    assert_ne!(accepted, text);
    let r = put(&s, "bob", &href, &accepted).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let mine = objects(&s, "ann", "personal").await.remove(0).1;
    assert!(
        mine.contains("PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2.0:mailto:bob@example.org"),
        "{mine}"
    );
    let replies = objects(&s, "ann", "inbox").await;
    assert_eq!(replies.len(), 1);
    assert!(replies[0].1.contains("METHOD:REPLY"), "{}", replies[0].1);
    // Re-saving it unchanged tells nobody anything.
    let r = put(&s, "bob", &href, &accepted).await;
    assert_eq!(r.status, 204);
    assert_eq!(objects(&s, "ann", "inbox").await.len(), 1);

    // Reschedule one occurrence: ann moves the second meeting to the afternoon.
    let moved = "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20270102T000000Z\r\nRECURRENCE-ID:20270111T100000Z\r\nDTSTART:20270111T150000Z\r\nDTEND:20270111T160000Z\r\nSUMMARY:Weekly planning (afternoon)\r\nSEQUENCE:1\r\nORGANIZER;CN=Ann:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\nEND:VEVENT\r\n";
    let (ann_href, _) = objects(&s, "ann", "personal").await.remove(0);
    let r = put(&s, "ann", &ann_href, &meeting(moved)).await;
    assert!(r.status == 204 || r.status == 201, "{}", r.text());
    let bob = objects(&s, "bob", "personal").await.remove(0).1;
    assert!(bob.contains("RECURRENCE-ID:20270111T100000Z"), "{bob}");
    assert!(bob.contains("DTSTART:20270111T150000Z"), "{bob}");
    assert!(
        bob.contains("PARTSTAT=ACCEPTED:mailto:bob@example.org"),
        "bob's answer stays: {bob}"
    );
    assert_eq!(
        objects(&s, "bob", "inbox").await.len(),
        2,
        "a second REQUEST"
    );
    // carol and dave are not on the moved occurrence: it is off for them, and carol's copy
    // no longer holds it at the old time.
    let carol = objects(&s, "carol", "personal").await.remove(0).1;
    assert!(carol.contains("EXDATE:20270111T100000Z"), "{carol}");
    assert!(!carol.contains("afternoon"), "{carol}");
    let inbox = objects(&s, "carol", "inbox").await;
    assert!(
        inbox
            .iter()
            .any(|(_, t)| t.contains("METHOD:CANCEL")
                && t.contains("RECURRENCE-ID:20270111T100000Z")),
        "{inbox:?}"
    );
    // dave: the cancelled occurrence, and his series again without it.
    let mails = mail.wait_for(3, std::time::Duration::from_secs(10));
    assert_eq!(mails.len(), 3);
    assert!(
        mails.iter().any(|m| m.data.contains("method=CANCEL")),
        "the occurrence is off for dave too"
    );

    // carol deletes her copy with Schedule-Reply: F: ann hears nothing.
    let (carol_href, _) = objects(&s, "carol", "personal").await.remove(0);
    let r = s
        .req("DELETE", &carol_href)
        .auth("carol", PW)
        .header("schedule-reply", "F")
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(objects(&s, "ann", "inbox").await.len(), 1);

    // Cancel: ann deletes the meeting; bob's copy is marked cancelled, dave gets mail.
    let r = s.req("DELETE", &ann_href).auth("ann", PW).send().await;
    assert_eq!(r.status, 204);
    let bob = objects(&s, "bob", "personal").await.remove(0).1;
    assert!(bob.contains("STATUS:CANCELLED"), "{bob}");
    let inbox = objects(&s, "bob", "inbox").await;
    assert!(
        inbox.iter().any(|(_, t)| t.contains("METHOD:CANCEL")),
        "{inbox:?}"
    );
    let mails = mail.wait_for(4, std::time::Duration::from_secs(10));
    assert_eq!(mails.len(), 4);
    let cancelled = mails
        .iter()
        .filter(|m| m.data.contains("Subject: Cancelled: Weekly planning"))
        .count();
    assert_eq!(
        cancelled,
        2,
        "the occurrence, then the meeting: {:?}",
        mails.iter().map(|m| &m.data).collect::<Vec<_>>()
    );
    // Inbox messages are the attendee's to delete.
    let (msg, _) = inbox[0].clone();
    let r = s.req("DELETE", &msg).auth("bob", PW).send().await;
    assert_eq!(r.status, 204);
}

/// Answering outside a calendar program: bob accepts with `kith invitations`, carol declines
/// on the Invitations page, and ann's copy shows both answers.
#[tokio::test]
async fn invitations_are_answered_from_the_cli_and_the_browser() {
    use crate::common::browser::Browser;
    let s = Server::start();
    team(&s);
    let one = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:review-1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270201T090000Z\r\nDTEND:20270201T100000Z\r\nSUMMARY:Quarterly review\r\nORGANIZER:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = put(&s, "ann", "/dav/calendars/ann/personal/review-1.ics", one).await;
    assert_eq!(r.status, 201);
    let listed = cli(&s, &["invitations", "list", "--user", "bob"]);
    assert!(listed.contains("Quarterly review"), "{listed}");
    assert!(listed.contains("from ann@example.org"), "{listed}");
    assert!(listed.contains("(needs-action)"), "{listed}");
    let id = listed.split_whitespace().next().unwrap();
    let out = cli(
        &s,
        &["invitations", "answer", "--user", "bob", id, "accept"],
    );
    assert!(out.contains("Quarterly review is accepted"), "{out}");
    assert!(cli(&s, &["invitations", "list", "--user", "bob"]).contains("no invitations"));
    let ann = objects(&s, "ann", "personal").await.remove(0).1;
    assert!(
        ann.contains("PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2.0:mailto:bob@example.org"),
        "{ann}"
    );
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &[
            "invitations",
            "answer",
            "--user",
            "bob",
            "nope.ics",
            "accept",
        ],
        "",
    );
    assert!(!ok && err.contains("no invitation"), "{err}");

    let b = Browser::open(&s.base, "invitations-carol").await;
    b.sign_in("carol", PW).await;
    b.wait("#books").await;
    b.go("/invitations").await;
    let row = b.wait_text("#invitations", "Quarterly review").await;
    assert!(row.contains("2027-02-01 09:00 UTC"), "{row}");
    assert!(row.contains("not answered"), "{row}");
    b.shot("invitations").await;
    b.press("Decline").await;
    let notice = b.wait_text("#notice", "declined").await;
    assert!(notice.contains("ann@example.org has been told"), "{notice}");
    b.fill("#address", "carol.c@example.org").await;
    b.press("Add address").await;
    let list = b.wait_text("#addresses", "carol.c@example.org").await;
    assert!(list.contains("carol@example.org"), "{list}");
    b.close().await;
    let ann = objects(&s, "ann", "personal").await.remove(0).1;
    assert!(
        ann.contains("PARTSTAT=DECLINED;SCHEDULE-STATUS=2.0:mailto:carol@example.org"),
        "{ann}"
    );
}

/// The scheduling requests Apple Calendar and Thunderbird make, as they make them: Apple's
/// principal PROPFIND, invitation PUT, free-busy POST with Originator/Recipient and an
/// attendee's answer under If-Schedule-Tag-Match; Thunderbird's principal PROPFIND and
/// free-busy POST.
#[tokio::test]
async fn apple_calendar_and_thunderbird_scheduling_requests() {
    let s = Server::start();
    team(&s);
    const MAC: &str = "macOS/14.4 (23E214) CalendarAgent/1000";
    const TB: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0";
    // Apple, setting up the account.
    let r = s
        .req("PROPFIND", "/dav/principals/ann/")
        .auth("ann", PW)
        .header("depth", "0")
        .header("user-agent", MAC)
        .xml(r#"<?xml version="1.0" encoding="UTF-8"?><A:propfind xmlns:A="DAV:"><A:prop><B:calendar-home-set xmlns:B="urn:ietf:params:xml:ns:caldav"/><B:calendar-user-address-set xmlns:B="urn:ietf:params:xml:ns:caldav"/><A:current-user-principal/><A:displayname/><C:dropbox-home-URL xmlns:C="http://calendarserver.org/ns/"/><C:email-address-set xmlns:C="http://calendarserver.org/ns/"/><C:notification-URL xmlns:C="http://calendarserver.org/ns/"/><A:principal-collection-set/><A:principal-URL/><A:resource-id/><B:schedule-inbox-URL xmlns:B="urn:ietf:params:xml:ns:caldav"/><B:schedule-outbox-URL xmlns:B="urn:ietf:params:xml:ns:caldav"/><A:supported-report-set/><C:calendar-proxy-read-for xmlns:C="http://calendarserver.org/ns/"/><C:calendar-proxy-write-for xmlns:C="http://calendarserver.org/ns/"/></A:prop></A:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let text = r.text();
    for want in [
        "<d:href>/dav/calendars/ann/inbox/</d:href>",
        "<d:href>/dav/calendars/ann/outbox/</d:href>",
        "<d:href>mailto:ann@example.org</d:href>",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    // Apple's invitation, with its parameters.
    let invite = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 14.4//EN\r\nCALSCALE:GREGORIAN\r\nBEGIN:VEVENT\r\nCREATED:20261201T090000Z\r\nUID:6A5F1B2C-3D4E-4F50-8162-738495A6B7C8\r\nDTEND;TZID=Europe/Berlin:20270301T110000\r\nTRANSP:OPAQUE\r\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\nSUMMARY:Design review\r\nLAST-MODIFIED:20261201T090000Z\r\nDTSTAMP:20261201T090000Z\r\nDTSTART;TZID=Europe/Berlin:20270301T100000\r\nSEQUENCE:0\r\nORGANIZER;CN=Ann;EMAIL=ann@example.org:mailto:ann@example.org\r\nATTENDEE;CN=Ann;CUTYPE=INDIVIDUAL;EMAIL=ann@example.org;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:ann@example.org\r\nATTENDEE;CN=Bob;CUTYPE=INDIVIDUAL;EMAIL=bob@example.org;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s
        .req("PUT", "/dav/calendars/ann/personal/6A5F1B2C.ics")
        .auth("ann", PW)
        .header("user-agent", MAC)
        .header("content-type", "text/calendar")
        .header("if-none-match", "*")
        .body(invite)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.header("schedule-tag").is_some());
    // bob answers on his Mac: GET (with its Schedule-Tag), then PUT under that tag.
    let (href, _) = objects(&s, "bob", "personal").await.remove(0);
    let g = s
        .req("GET", &href)
        .auth("bob", PW)
        .header("user-agent", MAC)
        .send()
        .await;
    let tag = g
        .header("schedule-tag")
        .expect("a scheduling object has a Schedule-Tag");
    let accepted = g
        .text()
        .replace("\r\n ", "")
        .replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED");
    let stale = s
        .req("PUT", &href)
        .auth("bob", PW)
        .header("user-agent", MAC)
        .header("content-type", "text/calendar")
        .header("if-schedule-tag-match", "\"not-the-tag\"")
        .body(accepted.clone())
        .send()
        .await;
    assert_eq!(stale.status, 412);
    let ok = s
        .req("PUT", &href)
        .auth("bob", PW)
        .header("user-agent", MAC)
        .header("content-type", "text/calendar")
        .header("if-schedule-tag-match", &tag)
        .body(accepted)
        .send()
        .await;
    assert_eq!(ok.status, 204, "{}", ok.text());
    let ann = objects(&s, "ann", "personal").await.remove(0);
    assert!(
        ann.1
            .contains("PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2.0:mailto:bob@example.org"),
        "{}",
        ann.1
    );
    // Merging bob's answer did not change ann's Schedule-Tag.
    let tags: Vec<String> = futures_util::future::join_all([0, 1].map(|_| async {
        s.req("GET", &ann.0)
            .auth("ann", PW)
            .send()
            .await
            .header("schedule-tag")
            .unwrap()
    }))
    .await;
    assert_eq!(tags[0], tags[1]);

    // Free-busy the way both ask for it: Originator and Recipient headers, then the body.
    for (agent, who) in [(MAC, "ann"), (TB, "carol")] {
        let body = format!(
            "BEGIN:VCALENDAR\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nDTSTAMP:20261201T090000Z\r\nORGANIZER:mailto:{who}@example.org\r\nDTSTART:20270301T000000Z\r\nDTEND:20270302T000000Z\r\nUID:fb-{who}\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;CUTYPE=INDIVIDUAL:mailto:bob@example.org\r\nX-CALENDARSERVER-MASK-UID:fb-mask\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        );
        let r = s
            .req("POST", &format!("/dav/calendars/{who}/outbox/"))
            .auth(who, PW)
            .header("user-agent", agent)
            .header("originator", &format!("mailto:{who}@example.org"))
            .header("recipient", "mailto:bob@example.org")
            .header("content-type", "text/calendar; charset=utf-8")
            .body(body)
            .send()
            .await;
        assert_eq!(r.status, 200, "{agent}: {}", r.text());
        let x = r.text();
        assert!(x.contains("2.0;Success"), "{x}");
        assert!(
            x.contains("FREEBUSY;FBTYPE=BUSY:20270301T090000Z/20270301T100000Z"),
            "bob accepted the review (10:00 Berlin): {x}"
        );
    }
    // Thunderbird, finding where to send free-busy requests.
    let r = s
        .req("PROPFIND", "/dav/principals/carol/")
        .auth("carol", PW)
        .header("depth", "0")
        .header("user-agent", TB)
        .xml(r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-home-set/><C:calendar-user-address-set/><C:schedule-inbox-URL/><C:schedule-outbox-URL/></D:prop></D:propfind>"#)
        .send()
        .await;
    assert!(r.text().contains("/dav/calendars/carol/outbox/"));
}

/// An organizer who turns a meeting back into a plain event (no attendees, no ORGANIZER)
/// calls it off for those who were invited.
#[tokio::test]
async fn dropping_every_attendee_cancels_for_them() {
    let s = Server::start();
    team(&s);
    let invite = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:lunch-1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270301T120000Z\r\nDTEND:20270301T130000Z\r\nSUMMARY:Lunch\r\nORGANIZER:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let path = "/dav/calendars/ann/personal/lunch-1.ics";
    assert_eq!(put(&s, "ann", path, invite).await.status, 201);
    let alone = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:lunch-1\r\nDTSTAMP:20270102T000000Z\r\nDTSTART:20270301T120000Z\r\nDTEND:20270301T130000Z\r\nSUMMARY:Lunch (alone)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(put(&s, "ann", path, alone).await.status, 204);
    let bob = objects(&s, "bob", "personal").await.remove(0).1;
    assert!(bob.contains("STATUS:CANCELLED"), "{bob}");
    let inbox = objects(&s, "bob", "inbox").await;
    assert!(
        inbox.iter().any(|(_, t)| t.contains("METHOD:CANCEL")),
        "{inbox:?}"
    );
}
