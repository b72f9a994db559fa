//! Delegation (issue 20): ann gives bob read-write and carol read-only access to all her
//! calendars. Every client sees them in the delegate's home; Apple clients see ann as a
//! calendar proxy (caldav-proxy) and open her own calendar home, which no one else reaches.

use crate::common::*;

const PW: &str = "delegation-password-1";

fn share(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = kith_cli(s.dir.path(), &[&["share"], args].concat(), "");
    assert!(ok, "share {args:?}: {err}");
    out
}

async fn propfind(s: &Server, user: &str, path: &str, depth: &str, props: &str) -> Resp {
    s.req("PROPFIND", path)
        .auth(user, PW)
        .header("depth", depth)
        .xml(&format!(
            r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"><d:prop>{props}</d:prop></d:propfind>"#
        ))
        .send()
        .await
}

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:deleg-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270105T100000Z\r\nDTEND:20270105T110000Z\r\nSUMMARY:Board meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test]
async fn a_delegate_reaches_all_calendars_as_a_share_and_as_an_apple_proxy() {
    let s = Server::start();
    for u in ["ann", "bob", "carol", "dave"] {
        s.add_user(u, PW);
    }
    share(&s, &["delegate", "--user", "ann", "--to", "bob", "--write"]);
    share(&s, &["delegate", "--user", "ann", "--to", "carol"]);
    let listed = share(&s, &["list", "--user", "ann"]);
    assert!(
        listed.contains("delegates all calendars to bob (read-write)"),
        "{listed}"
    );
    assert!(
        listed.contains("delegates all calendars to carol (read-only)"),
        "{listed}"
    );
    // A calendar made later is delegated too.
    let r = s
        .req("MKCALENDAR", "/dav/calendars/ann/work/")
        .auth("ann", PW)
        .send()
        .await;
    assert_eq!(r.status, 201);

    // Any client: the calendars are in bob's own home, as shares; not the birthdays.
    let home = propfind(
        &s,
        "bob",
        "/dav/calendars/bob/",
        "1",
        "<d:current-user-privilege-set/>",
    )
    .await
    .text();
    for c in ["ann~personal", "ann~work", "ann~tasks"] {
        assert!(
            home.contains(&format!("/dav/calendars/bob/{c}/")),
            "{c}: {home}"
        );
    }
    assert!(!home.contains("ann~birthdays"), "{home}");

    // Apple: bob's principal names ann as a write proxy, carol's as a read proxy.
    let me = propfind(
        &s,
        "bob",
        "/dav/principals/bob/",
        "0",
        "<cs:calendar-proxy-write-for/><cs:calendar-proxy-read-for/><d:group-membership/>",
    )
    .await;
    assert_eq!(me.status, 207);
    let ms = me.xml();
    let (_, resp) = responses(&ms).into_iter().next().unwrap();
    let cs = "http://calendarserver.org/ns/";
    let write_for = prop(resp, cs, "calendar-proxy-write-for").unwrap();
    assert_eq!(write_for.children[0].text, "/dav/principals/ann/");
    assert!(
        prop(resp, cs, "calendar-proxy-read-for")
            .unwrap()
            .children
            .is_empty()
    );
    let groups: Vec<&str> = prop(resp, "DAV:", "group-membership")
        .unwrap()
        .children
        .iter()
        .map(|h| h.text.as_str())
        .collect();
    assert!(
        groups.contains(&"/dav/principals/ann/calendar-proxy-write/"),
        "{groups:?}"
    );
    let carol = propfind(
        &s,
        "carol",
        "/dav/principals/carol/",
        "0",
        "<cs:calendar-proxy-read-for/>",
    )
    .await
    .text();
    assert!(carol.contains("/dav/principals/ann/"), "{carol}");

    // bob opens ann's principal: her calendar home, and her proxy groups with their members.
    let ann = propfind(
        &s,
        "bob",
        "/dav/principals/ann/",
        "1",
        "<c:calendar-home-set/><d:group-member-set/><d:resourcetype/>",
    )
    .await;
    assert_eq!(ann.status, 207, "{}", ann.text());
    let ms = ann.xml();
    let found = responses(&ms);
    let by = |href: &str| {
        found
            .iter()
            .find(|(h, _)| h == href)
            .unwrap_or_else(|| panic!("no {href}"))
            .1
    };
    let home_set = prop(
        by("/dav/principals/ann/"),
        "urn:ietf:params:xml:ns:caldav",
        "calendar-home-set",
    )
    .unwrap();
    assert_eq!(home_set.children[0].text, "/dav/calendars/ann/");
    let members = |href: &str| -> Vec<String> {
        prop(by(href), "DAV:", "group-member-set")
            .unwrap()
            .children
            .iter()
            .map(|h| h.text.clone())
            .collect()
    };
    assert_eq!(
        members("/dav/principals/ann/calendar-proxy-write/"),
        ["/dav/principals/bob/"]
    );
    assert_eq!(
        members("/dav/principals/ann/calendar-proxy-read/"),
        ["/dav/principals/carol/"]
    );

    // bob reads ann's calendar home under her own paths, and writes; carol only reads.
    let list = propfind(
        &s,
        "bob",
        "/dav/calendars/ann/",
        "1",
        "<d:current-user-privilege-set/>",
    )
    .await;
    assert_eq!(list.status, 207);
    let text = list.text();
    assert!(text.contains("/dav/calendars/ann/personal/"), "{text}");
    assert!(!text.contains("/dav/calendars/bob/"), "{text}");
    assert!(!text.contains("/dav/calendars/ann/birthdays/"), "{text}");
    assert!(text.contains("write-content"), "{text}");
    let put = s
        .req("PUT", "/dav/calendars/ann/personal/deleg-1.ics")
        .auth("bob", PW)
        .header("content-type", "text/calendar")
        .body(EVENT)
        .send()
        .await;
    assert_eq!(put.status, 201, "{}", put.text());
    let mine = s
        .req("GET", "/dav/calendars/ann/personal/deleg-1.ics")
        .auth("ann", PW)
        .send()
        .await;
    assert_eq!(mine.status, 200);
    assert!(mine.text().contains("Board meeting"));
    // Listings and sync in ann's calendar name her paths, not bob's.
    let listing = propfind(
        &s,
        "bob",
        "/dav/calendars/ann/personal/",
        "1",
        "<d:getetag/>",
    )
    .await
    .text();
    assert!(
        listing.contains("/dav/calendars/ann/personal/deleg-1.ics"),
        "{listing}"
    );
    assert!(!listing.contains("/dav/calendars/bob/"), "{listing}");
    let synced = s
        .req("REPORT", "/dav/calendars/ann/personal/")
        .auth("bob", PW)
        .header("depth", "0")
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await
        .text();
    assert!(
        synced.contains("/dav/calendars/ann/personal/deleg-1.ics"),
        "{synced}"
    );
    let seen = s
        .req("GET", "/dav/calendars/ann/personal/deleg-1.ics")
        .auth("carol", PW)
        .send()
        .await;
    assert_eq!(seen.status, 200);
    let refused = s
        .req("PUT", "/dav/calendars/ann/personal/deleg-2.ics")
        .auth("carol", PW)
        .header("content-type", "text/calendar")
        .body(EVENT.replace("deleg-1", "deleg-2"))
        .send()
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.text().contains("need-privileges"),
        "{}",
        refused.text()
    );
    let carol_list = propfind(
        &s,
        "carol",
        "/dav/calendars/ann/",
        "1",
        "<d:current-user-privilege-set/>",
    )
    .await
    .text();
    assert!(!carol_list.contains("write-content"), "{carol_list}");
    // Only ann makes calendars and chooses her proxies.
    let mk = s
        .req("MKCALENDAR", "/dav/calendars/ann/bobs/")
        .auth("bob", PW)
        .send()
        .await;
    assert_eq!(mk.status, 403);
    assert!(mk.text().contains("need-privileges"));
    let patch = r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:group-member-set><d:href>/dav/principals/bob/</d:href></d:group-member-set></d:prop></d:set></d:propertyupdate>"#;
    let r = s
        .req("PROPPATCH", "/dav/principals/ann/calendar-proxy-read/")
        .auth("bob", PW)
        .xml(patch)
        .send()
        .await;
    assert_eq!(r.status, 403);
    // Her address books stay hers, and a stranger reaches nothing.
    for (user, path) in [
        ("bob", "/dav/addressbooks/ann/"),
        ("dave", "/dav/principals/ann/"),
        ("dave", "/dav/calendars/ann/"),
        ("dave", "/dav/calendars/ann/personal/deleg-1.ics"),
        ("dave", "/dav/principals/ann/calendar-proxy-write/"),
    ] {
        let r = propfind(&s, user, path, "0", "<d:displayname/>").await;
        assert_eq!(r.status, 404, "{user} {path}");
    }

    // Apple Calendar's Delegation settings: ann makes dave her only read proxy.
    let r = s
        .req("PROPPATCH", "/dav/principals/ann/calendar-proxy-read/")
        .auth("ann", PW)
        .xml(&patch.replace("/bob/", "/dave/"))
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let listed = share(&s, &["list", "--user", "ann"]);
    assert!(
        listed.contains("delegates all calendars to dave (read-only)"),
        "{listed}"
    );
    assert!(!listed.contains("carol"), "{listed}");
    assert!(
        listed.contains("delegates all calendars to bob (read-write)"),
        "{listed}"
    );
    let r = propfind(&s, "carol", "/dav/calendars/ann/", "0", "<d:displayname/>").await;
    assert_eq!(r.status, 404, "carol's delegation ended");

    // Ending bob's: the next request no longer reaches anything of ann's.
    share(&s, &["undelegate", "--user", "ann", "--to", "bob"]);
    let r = propfind(&s, "bob", "/dav/calendars/ann/", "1", "<d:displayname/>").await;
    assert_eq!(r.status, 404);
    let home = propfind(&s, "bob", "/dav/calendars/bob/", "1", "<d:displayname/>")
        .await
        .text();
    assert!(!home.contains("ann~"), "{home}");
}

/// The Sharing page's Delegation section: ann gives bob her calendars, bob sees who delegated
/// to him and gets them over CalDAV, and ann ends it.
#[tokio::test]
async fn delegation_in_the_browser() {
    use crate::common::browser::Browser;
    let s = Server::start();
    for u in ["ann", "bob"] {
        s.add_user(u, PW);
    }
    let ann = Browser::open(&s.base, "delegation-ann").await;
    ann.sign_in("ann", PW).await;
    ann.wait("#books").await;
    ann.go("/sharing").await;
    ann.wait_heading("Sharing").await;
    ann.fill("#delegate-to", "bob").await;
    ann.click("#delegate select[name=access] option[value=write]")
        .await;
    ann.press("Delegate").await;
    let notice = ann.wait_text("#notice", "calendars").await;
    assert!(
        notice.contains("bob now has all your calendars, read-write"),
        "{notice}"
    );
    assert!(ann.text("#delegates").await.contains("bob"));
    ann.shot("delegated").await;
    // A typo says so and delegates nothing.
    ann.fill("#delegate-to", "nobody").await;
    ann.press("Delegate").await;
    let err = ann.wait_text("#share-error", "no user").await;
    assert!(err.contains("\"nobody\""), "{err}");

    let bob = Browser::open(&s.base, "delegation-bob").await;
    bob.sign_in("bob", PW).await;
    bob.wait("#books").await;
    bob.go("/sharing").await;
    let from = bob.wait_text("#delegators", "ann").await;
    assert!(from.contains("read-write"), "{from}");
    bob.close().await;
    let home = propfind(&s, "bob", "/dav/calendars/bob/", "1", "<d:displayname/>")
        .await
        .text();
    assert!(home.contains("/dav/calendars/bob/ann~personal/"), "{home}");

    ann.go("/sharing").await;
    ann.press("Stop delegating to bob").await;
    let notice = ann.wait_text("#notice", "no longer").await;
    assert!(
        notice.contains("bob no longer has your calendars"),
        "{notice}"
    );
    ann.close().await;
    let r = propfind(&s, "bob", "/dav/calendars/ann/", "0", "<d:displayname/>").await;
    assert_eq!(r.status, 404);
}

/// An assistant with write access books a meeting in ann's calendar, as ann: the attendee's
/// invitation comes from ann, and her copy records it.
#[tokio::test]
async fn a_delegate_s_meeting_invites_as_the_owner() {
    let s = Server::start();
    for u in ["ann", "bob", "carol"] {
        s.add_user(u, PW);
        let (ok, _, err) = kith_cli(
            s.dir.path(),
            &["user", "email", u, "--add", &format!("{u}@example.org")],
            "",
        );
        assert!(ok, "{err}");
    }
    share(&s, &["delegate", "--user", "ann", "--to", "bob", "--write"]);
    let meeting = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:booked-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270105T100000Z\r\nDTEND:20270105T110000Z\r\nSUMMARY:Supplier call\r\nORGANIZER:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s
        .req("PUT", "/dav/calendars/ann/personal/booked-1.ics")
        .auth("bob", PW)
        .header("content-type", "text/calendar")
        .body(meeting)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let inbox = propfind(
        &s,
        "carol",
        "/dav/calendars/carol/inbox/",
        "1",
        "<d:getetag/>",
    )
    .await
    .text();
    let ms = kith_dav::xml::parse(inbox.as_bytes()).unwrap();
    let msgs: Vec<String> = responses(&ms)
        .into_iter()
        .map(|(h, _)| h)
        .filter(|h| !h.ends_with('/'))
        .collect();
    assert_eq!(msgs.len(), 1, "{inbox}");
    let msg = s.req("GET", &msgs[0]).auth("carol", PW).send().await.text();
    assert!(
        msg.contains("METHOD:REQUEST") && msg.contains("mailto:ann@example.org"),
        "{msg}"
    );
    let mine = s
        .req("GET", "/dav/calendars/ann/personal/booked-1.ics")
        .auth("ann", PW)
        .send()
        .await
        .text()
        .replace("\r\n ", "");
    assert!(
        mine.contains("SCHEDULE-STATUS=1.2:mailto:carol@example.org"),
        "{mine}"
    );
}
