//! Sharing (issue 20) over HTTP: an isolation matrix of every DAV method for the owner, a
//! read sharee, a write sharee, a group member, a stranger and a revoked sharee; shared
//! collections in the sharee's home with their privileges; sync both ways; revocation.

use crate::common::*;
use kith_dav::xml::Element;

const PW: &str = "a long enough password";
const CARD_NS: &str = "urn:ietf:params:xml:ns:carddav";

fn share(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = kith_cli(s.dir.path(), &[&["share"], args].concat(), "");
    assert!(ok, "share {args:?}: {err}");
    out
}

fn book_of(user: &str) -> String {
    format!("/dav/addressbooks/{user}/ann~clients/")
}

fn vcard(uid: &str, name: &str) -> String {
    String::from_utf8(card(uid, name)).unwrap()
}

/// ann shares her book "clients": read-only with bob, read-write with cat, read-write with
/// the group "team" (dan), and once with fay, then not any more. eve is a stranger.
async fn setup() -> Server {
    let s = Server::start();
    for u in ["ann", "bob", "cat", "dan", "eve", "fay"] {
        s.add_user(u, PW);
    }
    let r = s
        .req("MKCOL", "/dav/addressbooks/ann/clients/")
        .auth("ann", PW)
        .send()
        .await;
    assert_eq!(r.status, 201);
    for (uid, name) in [("c1", "Client One"), ("c2", "Client Two")] {
        let r = s
            .req("PUT", &format!("/dav/addressbooks/ann/clients/{uid}.vcf"))
            .auth("ann", PW)
            .vcard(vcard(uid, name).as_bytes())
            .send()
            .await;
        assert_eq!(r.status, 201);
    }
    let (ok, _, err) = kith_cli(s.dir.path(), &["group", "add", "team"], "");
    assert!(ok, "{err}");
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["group", "members", "team", "--add", "dan"],
        "",
    );
    assert!(ok, "{err}");
    let out = share(
        &s,
        &[
            "add",
            "--user",
            "ann",
            "--book",
            "clients",
            "--with-user",
            "bob",
        ],
    );
    assert!(
        out.contains("read-only") && out.contains("ann~clients"),
        "{out}"
    );
    share(
        &s,
        &[
            "add",
            "--user",
            "ann",
            "--book",
            "clients",
            "--with-user",
            "cat",
            "--write",
        ],
    );
    share(
        &s,
        &[
            "add",
            "--user",
            "ann",
            "--book",
            "clients",
            "--with-group",
            "team",
            "--write",
        ],
    );
    share(
        &s,
        &[
            "add",
            "--user",
            "ann",
            "--book",
            "clients",
            "--with-user",
            "fay",
        ],
    );
    share(
        &s,
        &[
            "remove",
            "--user",
            "ann",
            "--book",
            "clients",
            "--with-user",
            "fay",
        ],
    );
    s
}

/// What one user gets for each method on the shared book, as `(label, status)`.
async fn matrix(s: &Server, user: &str, base: &str) -> Vec<(&'static str, u16)> {
    let go = |method: &str, path: String| s.req(method, &path).auth(user, PW);
    let mut out = Vec::new();
    let own = format!("/dav/addressbooks/{user}/contacts/");
    // A card of their own, with a UID of its own, to copy in.
    let _ = go("PUT", format!("{own}mine.vcf"))
        .vcard(vcard(&format!("mine-{user}"), "Mine").as_bytes())
        .send()
        .await;
    out.push((
        "GET",
        go("GET", format!("{base}c1.vcf"))
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "PROPFIND",
        go("PROPFIND", base.to_string())
            .header("depth", "1")
            .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
            .send()
            .await
            .status
            .as_u16(),
    ));
    let multiget = format!(
        r#"<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="{CARD_NS}"><d:prop><d:getetag/></d:prop><d:href>{base}c1.vcf</d:href></c:addressbook-multiget>"#
    );
    out.push((
        "multiget",
        go("REPORT", base.to_string())
            .xml(&multiget)
            .send()
            .await
            .status
            .as_u16(),
    ));
    let query = format!(
        r#"<c:addressbook-query xmlns:d="DAV:" xmlns:c="{CARD_NS}"><d:prop><d:getetag/></d:prop></c:addressbook-query>"#
    );
    out.push((
        "query",
        go("REPORT", base.to_string())
            .xml(&query)
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "sync",
        go("REPORT", base.to_string())
            .xml(&sync_report("", None, "<d:getetag/>"))
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "PROPPATCH",
        go("PROPPATCH", base.to_string())
            .xml(r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:example:x"><d:set><d:prop><x:owners-only>Mine</x:owners-only></d:prop></d:set></d:propertyupdate>"#)
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "MKCOL",
        go("MKCOL", format!("{base}sub/"))
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "PUT",
        go("PUT", format!("{base}{user}.vcf"))
            .vcard(vcard(&format!("by-{user}"), user).as_bytes())
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "COPY out",
        go("COPY", format!("{base}c1.vcf"))
            .header("destination", &s.url(&format!("{own}c1-copy.vcf")))
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "COPY in",
        go("COPY", format!("{own}mine.vcf"))
            .header("destination", &s.url(&format!("{base}{user}-copy.vcf")))
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "MOVE out",
        go("MOVE", format!("{base}c2.vcf"))
            .header("destination", &s.url(&format!("{own}c2-moved.vcf")))
            .send()
            .await
            .status
            .as_u16(),
    ));
    out.push((
        "DELETE",
        go("DELETE", format!("{base}c1.vcf"))
            .send()
            .await
            .status
            .as_u16(),
    ));
    out
}

fn expect(rows: &[(&'static str, u16)]) -> Vec<(&'static str, u16)> {
    rows.to_vec()
}

#[tokio::test]
async fn the_isolation_matrix_holds_for_every_method_and_every_kind_of_user() {
    // The read sharee: reads work, every write is refused with need-privileges; copying out
    // into their own book is theirs to do. MKCOL inside any book is refused (403).
    let s = setup().await;
    let bob = matrix(&s, "bob", &book_of("bob")).await;
    assert_eq!(
        bob,
        expect(&[
            ("GET", 200),
            ("PROPFIND", 207),
            ("multiget", 207),
            ("query", 207),
            ("sync", 207),
            ("PROPPATCH", 403),
            ("MKCOL", 403),
            ("PUT", 403),
            ("COPY out", 201),
            ("COPY in", 403),
            ("MOVE out", 403),
            ("DELETE", 403),
        ])
    );
    let r = s
        .req("PUT", &format!("{}x.vcf", book_of("bob")))
        .auth("bob", PW)
        .vcard(vcard("x", "X").as_bytes())
        .send()
        .await;
    assert_eq!(
        error_condition(&r),
        ("DAV:".into(), "need-privileges".into())
    );
    assert!(
        r.text().contains("ask ann for write access"),
        "{}",
        r.text()
    );

    // Write sharees, directly (cat) or through a group (dan): members, not the book's
    // properties, which stay ann's.
    let writer = expect(&[
        ("GET", 200),
        ("PROPFIND", 207),
        ("multiget", 207),
        ("query", 207),
        ("sync", 207),
        ("PROPPATCH", 403),
        ("MKCOL", 403),
        ("PUT", 201),
        ("COPY out", 201),
        ("COPY in", 201),
        ("MOVE out", 201),
        ("DELETE", 204),
    ]);
    assert_eq!(matrix(&s, "cat", &book_of("cat")).await, writer);
    // c1 and c2 are gone now (cat deleted and moved them); put them back for dan.
    for (uid, name) in [("c1", "Client One"), ("c2", "Client Two")] {
        let r = s
            .req("PUT", &format!("/dav/addressbooks/ann/clients/{uid}.vcf"))
            .auth("ann", PW)
            .vcard(vcard(uid, name).as_bytes())
            .send()
            .await;
        assert_eq!(r.status, 201);
    }
    assert_eq!(matrix(&s, "dan", &book_of("dan")).await, writer);

    // A stranger, and a sharee whose share was revoked, reach nothing: the alias in their own
    // home and ann's own URL are both 404, whatever the method.
    for user in ["eve", "fay"] {
        for base in [book_of(user), "/dav/addressbooks/ann/clients/".to_string()] {
            let rows = matrix(&s, user, &base).await;
            for (what, code) in rows {
                // Creating below a collection that is not there is a conflict (409) in one's
                // own home, and 404 in another's; a COPY into another's home is refused
                // (403) before anything is looked up. Nothing is ever found.
                let allowed = match what {
                    "PUT" | "MKCOL" => vec![404, 409],
                    "COPY in" => vec![403, 404, 409],
                    _ => vec![404],
                };
                assert!(allowed.contains(&code), "{user} {what} on {base}: {code}");
            }
        }
    }
    // Nor does a sharee reach ann's own URL.
    let r = s
        .req("GET", "/dav/addressbooks/ann/clients/c1.vcf")
        .auth("bob", PW)
        .send()
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_shared_book_shows_in_the_sharees_home_with_its_privileges_and_syncs_both_ways() {
    let s = setup().await;
    let r = s
        .req("PROPFIND", "/dav/addressbooks/bob/")
        .auth("bob", PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:owner/><d:current-user-privilege-set/><d:resourcetype/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let all = responses(&ms);
    let (_, shared) = all
        .iter()
        .find(|(h, _)| *h == book_of("bob"))
        .unwrap_or_else(|| panic!("no shared book in {}", r.text()));
    assert_eq!(
        prop(shared, "DAV:", "displayname").unwrap().text,
        "clients (ann)"
    );
    let owner = prop(shared, "DAV:", "owner").unwrap();
    assert_eq!(owner.children[0].text, "/dav/principals/ann/");
    let privs = prop(shared, "DAV:", "current-user-privilege-set").unwrap();
    let names: Vec<&str> = privs
        .children
        .iter()
        .map(|p| p.children[0].name.as_str())
        .collect();
    assert!(
        names.contains(&"read") && !names.iter().any(|n| n.starts_with("write") || *n == "all"),
        "{names:?}"
    );
    let types = prop(shared, "DAV:", "resourcetype").unwrap();
    assert!(types.child(CARD_NS, "addressbook").is_some());

    // cat (read-write) gets the write privileges on the members too.
    let r = s
        .req("PROPFIND", &format!("{}c1.vcf", book_of("cat")))
        .auth("cat", PW)
        .header("depth", "0")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-privilege-set/><d:acl/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert!(
        r.text().contains("<d:write-content/>")
            && !r
                .text()
                .contains("<d:all/></d:privilege><d:privilege><d:read/>"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("/dav/principals/ann/") && r.text().contains("/dav/principals/cat/"),
        "acl: {}",
        r.text()
    );

    // Sync both ways: bob's token sees cat's card; ann's sees it too, and history names cat.
    let before = s
        .req("REPORT", &book_of("bob"))
        .auth("bob", PW)
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await;
    let token = before
        .xml()
        .child("DAV:", "sync-token")
        .unwrap()
        .text
        .clone();
    let ann_before = s
        .req("REPORT", "/dav/addressbooks/ann/clients/")
        .auth("ann", PW)
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await;
    let ann_token = ann_before
        .xml()
        .child("DAV:", "sync-token")
        .unwrap()
        .text
        .clone();
    let r = s
        .req("PUT", &format!("{}new.vcf", book_of("cat")))
        .auth("cat", PW)
        .header("user-agent", "DAVx5/4.4")
        .vcard(vcard("new", "New Client").as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 201);
    let after = s
        .req("REPORT", &book_of("bob"))
        .auth("bob", PW)
        .xml(&sync_report(&token, None, "<d:getetag/>"))
        .send()
        .await;
    assert!(
        after.text().contains(&format!("{}new.vcf", book_of("bob"))),
        "{}",
        after.text()
    );
    let owner_sees = s
        .req("REPORT", "/dav/addressbooks/ann/clients/")
        .auth("ann", PW)
        .xml(&sync_report(&ann_token, None, "<d:getetag/>"))
        .send()
        .await;
    assert!(
        owner_sees
            .text()
            .contains("/dav/addressbooks/ann/clients/new.vcf"),
        "{}",
        owner_sees.text()
    );
    let (ok, history, err) = kith_cli(
        s.dir.path(),
        &["history", "--user", "ann", "--book", "clients", "new.vcf"],
        "",
    );
    assert!(ok, "{err}");
    assert!(
        history.contains("cat"),
        "history names the sharee: {history}"
    );

    // bob hides the book: gone from his home, still shared, ann's data untouched.
    let r = s
        .req("DELETE", &book_of("bob"))
        .auth("bob", PW)
        .send()
        .await;
    assert_eq!(r.status, 204);
    let home = s
        .req("PROPFIND", "/dav/addressbooks/bob/")
        .auth("bob", PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert!(!home.text().contains("ann~clients"), "{}", home.text());
    let r = s
        .req("GET", "/dav/addressbooks/ann/clients/new.vcf")
        .auth("ann", PW)
        .send()
        .await;
    assert_eq!(r.status, 200);
    let listed = share(&s, &["list", "--user", "bob"]);
    assert!(
        listed.contains("ann's address book clients as ann~clients (read-only, hidden)"),
        "{listed}"
    );
}

#[tokio::test]
async fn revoking_a_share_while_the_sharee_holds_a_sync_token_ends_access_at_once() {
    let s = setup().await;
    let r = s
        .req("REPORT", &book_of("bob"))
        .auth("bob", PW)
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await;
    assert_eq!(r.status, 207);
    let token = r.xml().child("DAV:", "sync-token").unwrap().text.clone();
    share(
        &s,
        &[
            "remove",
            "--user",
            "ann",
            "--book",
            "clients",
            "--with-user",
            "bob",
        ],
    );
    // The next sync finds the collection gone, and nothing of ann's changes leaks.
    let r = s
        .req("REPORT", &book_of("bob"))
        .auth("bob", PW)
        .xml(&sync_report(&token, None, "<d:getetag/>"))
        .send()
        .await;
    assert_eq!(r.status, 404);
    let home = s
        .req("PROPFIND", "/dav/addressbooks/bob/")
        .auth("bob", PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert!(!home.text().contains("ann~clients"), "{}", home.text());
    // Leaving the group ends dan's access the same way; deleting him removes his shares.
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["group", "members", "team", "--remove", "dan"],
        "",
    );
    assert!(ok, "{err}");
    let r = s
        .req("GET", &format!("{}c1.vcf", book_of("dan")))
        .auth("dan", PW)
        .send()
        .await;
    assert_eq!(r.status, 404);
    // Sharing what is not there, or with no one, says what is wrong.
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &[
            "share",
            "add",
            "--user",
            "ann",
            "--book",
            "nope",
            "--with-user",
            "bob",
        ],
        "",
    );
    assert!(
        !ok && err.contains("ann has no address book named \"nope\""),
        "{err}"
    );
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &[
            "share",
            "add",
            "--user",
            "ann",
            "--book",
            "clients",
            "--with-user",
            "ann",
        ],
        "",
    );
    assert!(!ok && err.contains("share it with someone else"), "{err}");
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &[
            "share",
            "add",
            "--user",
            "ann",
            "--calendar",
            "birthdays",
            "--with-group",
            "team",
        ],
        "",
    );
    assert!(!ok, "the birthday calendar is not shared: {err}");
}

/// The Sharing page: ann shares her contacts with bob read-write in the browser; bob sees it
/// on his page and over CardDAV, hides it from his devices, and ann stops the share.
#[tokio::test]
async fn sharing_in_the_browser_reaches_the_sharees_devices() {
    use crate::common::browser::Browser;
    let s = Server::start();
    for u in ["ann", "bob"] {
        s.add_user(u, PW);
    }
    let home = |user: &'static str| {
        let s = &s;
        async move {
            s.req("PROPFIND", &format!("/dav/addressbooks/{user}/"))
                .auth(user, PW)
                .header("depth", "1")
                .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-privilege-set/></d:prop></d:propfind>"#)
                .send()
                .await
                .text()
        }
    };
    // ann's default book exists once she has used DAV.
    assert!(
        home("ann")
            .await
            .contains("/dav/addressbooks/ann/contacts/")
    );

    let ann = Browser::open(&s.base, "sharing-ann").await;
    ann.sign_in("ann", PW).await;
    // The readiness check: the sign-in has landed before the next page opens.
    ann.wait("#books").await;
    ann.go("/sharing").await;
    ann.wait_heading("Sharing").await;
    ann.fill("#with-book-contacts", "bob").await;
    ann.click("#share-book-contacts select[name=access] option[value=write]")
        .await;
    ann.click("#share-book-contacts button[type=submit]").await;
    let notice = ann.wait_text("#notice", "shared").await;
    assert!(notice.contains("read-write with user bob"), "{notice}");
    ann.shot("shared").await;
    // A typo says what is wrong and shares nothing.
    ann.fill("#with-book-contacts", "nobody").await;
    ann.click("#share-book-contacts form[action='/sharing/add'] button[type=submit]")
        .await;
    let err = ann.wait_text("#share-error", "no user").await;
    assert!(err.contains("\"nobody\""), "{err}");

    let listed = home("bob").await;
    assert!(
        listed.contains("/dav/addressbooks/bob/ann~contacts/"),
        "{listed}"
    );
    assert!(listed.contains("<d:write-content/>"), "{listed}");

    let bob = Browser::open(&s.base, "sharing-bob").await;
    bob.sign_in("bob", PW).await;
    // The readiness check: the sign-in has landed before the next page opens.
    bob.wait("#books").await;
    bob.go("/sharing").await;
    let incoming = bob.wait_text("#incoming", "from ann").await;
    assert!(incoming.contains("read-write"), "{incoming}");
    bob.press("Hide from my devices").await;
    bob.wait_text("#notice", "Hidden").await;
    assert!(!home("bob").await.contains("ann~contacts"));
    bob.press("Show on my devices").await;
    bob.wait_text("#notice", "Shown again").await;
    assert!(home("bob").await.contains("ann~contacts"));

    ann.go("/sharing").await;
    ann.press("Stop sharing with bob").await;
    ann.wait_text("#notice", "no longer shared").await;
    assert!(!home("bob").await.contains("ann~contacts"));

    // One contact alone, found by its name.
    for (uid, name) in [("g1", "Grace Hopper"), ("g2", "Grace Kelly")] {
        let r = s
            .req("PUT", &format!("/dav/addressbooks/ann/contacts/{uid}.vcf"))
            .auth("ann", PW)
            .vcard(vcard(uid, name).as_bytes())
            .send()
            .await;
        assert_eq!(r.status, 201);
    }
    ann.go("/sharing").await;
    ann.fill("#contact-contacts", "grace").await;
    ann.fill("#card-with-contacts", "bob").await;
    ann.click("#share-card-contacts button[type=submit]").await;
    let err = ann.wait_text("#share-error", "match").await;
    assert!(
        err.contains("2 contacts match") && err.contains("Grace Kelly"),
        "{err}"
    );
    ann.fill("#contact-contacts", "hopper").await;
    ann.fill("#card-with-contacts", "bob").await;
    ann.click("#share-card-contacts button[type=submit]").await;
    let notice = ann.wait_text("#notice", "Shared with me").await;
    assert!(
        notice.contains("Grace Hopper is shared with user bob"),
        "{notice}"
    );
    let copy = s
        .req("PROPFIND", "/dav/addressbooks/bob/shared-with-me/")
        .auth("bob", PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(
        responses(&copy.xml()).len(),
        2,
        "the book and Grace Hopper: {}",
        copy.text()
    );
    ann.press("Stop sharing Grace Hopper with bob").await;
    ann.wait_text("#notice", "no longer shared").await;
    // From a contact's own page.
    ann.go("/data/card/contacts/g2.vcf").await;
    ann.fill("#card-share-with", "bob").await;
    ann.press("Share this contact").await;
    let notice = ann.wait_text("#notice", "Shared with me").await;
    assert!(
        notice.contains("Grace Kelly is shared with user bob"),
        "{notice}"
    );
    ann.close().await;
    bob.close().await;
}

/// Calendars share the same way: bob finds ann's calendar in his calendar home, queries it,
/// and cannot write to it.
#[tokio::test]
async fn a_shared_calendar_is_queried_and_read_only_writes_are_refused() {
    let s = Server::start();
    for u in ["ann", "bob"] {
        s.add_user(u, PW);
    }
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240110T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Planning\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s
        .req("PUT", "/dav/calendars/ann/personal/m1.ics")
        .auth("ann", PW)
        .header("content-type", "text/calendar")
        .body(event)
        .send()
        .await;
    assert_eq!(r.status, 201);
    share(
        &s,
        &[
            "add",
            "--user",
            "ann",
            "--calendar",
            "personal",
            "--with-user",
            "bob",
        ],
    );
    let home = s
        .req("PROPFIND", "/dav/calendars/bob/")
        .auth("bob", PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert!(
        home.text().contains("/dav/calendars/bob/ann~personal/"),
        "{}",
        home.text()
    );
    let query = r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20240110T000000Z" end="20240111T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#;
    let r = s
        .req("REPORT", "/dav/calendars/bob/ann~personal/")
        .auth("bob", PW)
        .xml(query)
        .send()
        .await;
    assert!(r.text().contains("SUMMARY:Planning"), "{}", r.text());
    assert!(
        r.text().contains("/dav/calendars/bob/ann~personal/m1.ics"),
        "{}",
        r.text()
    );
    let r = s
        .req("PUT", "/dav/calendars/bob/ann~personal/m2.ics")
        .auth("bob", PW)
        .header("content-type", "text/calendar")
        .body(event.replace("m1", "m2"))
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(error_condition(&r).1, "need-privileges");
}

/// Single contacts: ann shares one card with bob and one with the group team (cat). Each
/// lands in the sharee's read-only "Shared with me" book, follows ann's edits, and leaves
/// their devices when ann stops sharing it or deletes it.
#[tokio::test]
async fn single_cards_shared_stay_live_and_leave_when_unshared() {
    let s = setup().await;
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["group", "members", "team", "--add", "cat"],
        "",
    );
    assert!(ok, "{err}");
    let out = share(
        &s,
        &[
            "add",
            "--user",
            "ann",
            "--book",
            "clients",
            "--card",
            "c1.vcf",
            "--with-user",
            "eve",
        ],
    );
    assert!(out.contains("Shared with me"), "{out}");
    share(
        &s,
        &[
            "add",
            "--user",
            "ann",
            "--book",
            "clients",
            "--card",
            "c2.vcf",
            "--with-group",
            "team",
        ],
    );
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &[
            "share",
            "add",
            "--user",
            "ann",
            "--book",
            "clients",
            "--card",
            "nope.vcf",
            "--with-user",
            "eve",
        ],
        "",
    );
    assert!(
        !ok && err.contains("clients has no card named \"nope.vcf\""),
        "{err}"
    );

    let book = "/dav/addressbooks/eve/shared-with-me/";
    let sync = |token: String| {
        let s = &s;
        async move {
            s.req("REPORT", book)
                .auth("eve", PW)
                .xml(&sync_report(&token, None, "<d:getetag/>"))
                .send()
                .await
        }
    };
    let home = s
        .req("PROPFIND", "/dav/addressbooks/eve/")
        .auth("eve", PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:current-user-privilege-set/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert!(
        home.text().contains(book) && home.text().contains("Shared with me"),
        "{}",
        home.text()
    );
    let first = sync(String::new()).await;
    assert_eq!(first.status, 207);
    let ms = first.xml();
    let hrefs: Vec<String> = responses(&ms).into_iter().map(|(h, _)| h).collect();
    assert_eq!(hrefs.len(), 1, "eve has c1 only: {hrefs:?}");
    let token = ms.child("DAV:", "sync-token").unwrap().text.clone();
    let copy = s.req("GET", &hrefs[0]).auth("eve", PW).send().await;
    assert_eq!(copy.text(), vcard("c1", "Client One"), "the owner's bytes");

    // ann edits c1: eve's next sync has the new version.
    let r = s
        .req("PUT", "/dav/addressbooks/ann/clients/c1.vcf")
        .auth("ann", PW)
        .vcard(vcard("c1", "Client One, renamed").as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 204);
    let next = sync(token).await;
    assert!(next.text().contains(&hrefs[0]), "{}", next.text());
    let token = next.xml().child("DAV:", "sync-token").unwrap().text.clone();
    assert!(
        s.req("GET", &hrefs[0])
            .auth("eve", PW)
            .send()
            .await
            .text()
            .contains("renamed")
    );
    // Read-only.
    let r = s
        .req("PUT", &format!("{book}mine.vcf"))
        .auth("eve", PW)
        .vcard(vcard("mine", "Mine").as_bytes())
        .send()
        .await;
    assert_eq!(error_condition(&r).1, "need-privileges");
    assert!(
        r.text().contains("ask the person who shared"),
        "{}",
        r.text()
    );

    // ann stops sharing: eve's next sync reports the card removed.
    share(
        &s,
        &[
            "remove",
            "--user",
            "ann",
            "--book",
            "clients",
            "--card",
            "c1.vcf",
            "--with-user",
            "eve",
        ],
    );
    let gone = sync(token).await;
    let ms = gone.xml();
    let removed = responses(&ms).into_iter().any(|(h, r)| {
        h == hrefs[0]
            && r.child("DAV:", "status")
                .is_some_and(|s| s.text.contains("404"))
    });
    assert!(removed, "{}", gone.text());

    // cat got c2 through the group; ann deleting c2 takes it off cat's devices too.
    let cat_book = "/dav/addressbooks/cat/shared-with-me/";
    let list = |who: &'static str, path: &'static str| {
        let s = &s;
        async move {
            let r = s
                .req("PROPFIND", path)
                .auth(who, PW)
                .header("depth", "1")
                .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
                .send()
                .await;
            responses(&r.xml()).len()
        }
    };
    assert_eq!(list("cat", cat_book).await, 2, "the book and c2");
    let r = s
        .req("DELETE", "/dav/addressbooks/ann/clients/c2.vcf")
        .auth("ann", PW)
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(list("cat", cat_book).await, 1, "only the book");
    // A stranger has no such book.
    let r = s
        .req("PROPFIND", "/dav/addressbooks/fay/shared-with-me/")
        .auth("fay", PW)
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(r.status, 404);
}

/// Request shapes: iOS/macOS, DAVx5 and Thunderbird, as each discovers and syncs, find the
/// shared collections in the sharee's one home set with the right privileges, and a read-only
/// write is refused with need-privileges.
#[tokio::test]
async fn ios_macos_davx5_and_thunderbird_see_shared_collections_as_they_are() {
    let s = setup().await;
    share(
        &s,
        &[
            "add",
            "--user",
            "ann",
            "--calendar",
            "personal",
            "--with-user",
            "bob",
        ],
    );
    const IOS: &str = "iOS/17.4 (21E219) dataaccessd/1.0";
    const MACOS: &str = "macOS/14.4 (23E214) CalendarAgent/988";
    const DAVX5: &str = "DAVx5/4.4.2-ose (2024/07/01; dav4jvm; okhttp/4.12.0) Android/14";
    const TB: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0";
    let privileges = |resp: &Element| -> Vec<String> {
        prop(resp, "DAV:", "current-user-privilege-set")
            .map(|p| {
                p.children
                    .iter()
                    .map(|c| c.children[0].name.clone())
                    .collect()
            })
            .unwrap_or_default()
    };

    // iOS Contacts lists bob's one home set.
    let r = s
        .req("PROPFIND", "/dav/addressbooks/bob/")
        .auth("bob", PW)
        .header("user-agent", IOS)
        .header("depth", "1")
        .xml(r#"<?xml version="1.0" encoding="UTF-8"?><A:propfind xmlns:A="DAV:" xmlns:B="urn:ietf:params:xml:ns:carddav" xmlns:C="http://calendarserver.org/ns/"><A:prop><A:resourcetype/><A:displayname/><C:getctag/><A:sync-token/><A:supported-report-set/><A:current-user-privilege-set/><B:max-resource-size/></A:prop></A:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let all = responses(&ms);
    let (_, book) = all
        .iter()
        .find(|(h, _)| *h == book_of("bob"))
        .expect("shared book listed");
    assert!(
        prop(book, "DAV:", "resourcetype")
            .unwrap()
            .child(CARD_NS, "addressbook")
            .is_some()
    );
    assert!(prop(book, "http://calendarserver.org/ns/", "getctag").is_some());
    assert_eq!(
        privileges(book),
        ["read", "read-current-user-privilege-set"]
    );
    let r = s
        .req("PUT", &format!("{}c1.vcf", book_of("bob")))
        .auth("bob", PW)
        .header("user-agent", IOS)
        .header("if-match", "\"whatever\"")
        .vcard(vcard("c1", "Changed on the phone").as_bytes())
        .send()
        .await;
    assert_eq!(error_condition(&r).1, "need-privileges");

    // macOS Calendar: the shared calendar is marked shared (CalendarServer) and read-only.
    let r = s
        .req("PROPFIND", "/dav/calendars/bob/")
        .auth("bob", PW)
        .header("user-agent", MACOS)
        .header("depth", "1")
        .xml(r#"<?xml version="1.0" encoding="UTF-8"?><A:propfind xmlns:A="DAV:" xmlns:B="urn:ietf:params:xml:ns:caldav" xmlns:C="http://calendarserver.org/ns/" xmlns:D="http://apple.com/ns/ical/"><A:prop><A:resourcetype/><A:displayname/><C:getctag/><A:current-user-privilege-set/><A:owner/><C:shared-url/><B:supported-calendar-component-set/><D:calendar-color/></A:prop></A:propfind>"#)
        .send()
        .await;
    let ms = r.xml();
    let all = responses(&ms);
    let (_, cal) = all
        .iter()
        .find(|(h, _)| h == "/dav/calendars/bob/ann~personal/")
        .unwrap_or_else(|| panic!("no shared calendar: {}", r.text()));
    let rt = prop(cal, "DAV:", "resourcetype").unwrap();
    assert!(
        rt.child("http://calendarserver.org/ns/", "shared")
            .is_some()
    );
    // ann's own Calendar sees her calendar as shared by her.
    let r = s
        .req("PROPFIND", "/dav/calendars/ann/")
        .auth("ann", PW)
        .header("user-agent", MACOS)
        .header("depth", "1")
        .xml(r#"<A:propfind xmlns:A="DAV:"><A:prop><A:resourcetype/></A:prop></A:propfind>"#)
        .send()
        .await;
    let ms_own = r.xml();
    let own = responses(&ms_own);
    let marked = |href: &str| {
        own.iter()
            .find(|(h, _)| h == href)
            .and_then(|(_, r)| prop(r, "DAV:", "resourcetype"))
            .is_some_and(|rt| {
                rt.child("http://calendarserver.org/ns/", "shared-owner")
                    .is_some()
            })
    };
    assert!(marked("/dav/calendars/ann/personal/"), "{}", r.text());
    assert!(!marked("/dav/calendars/ann/tasks/"), "{}", r.text());
    assert_eq!(
        prop(cal, "http://calendarserver.org/ns/", "shared-url")
            .unwrap()
            .children[0]
            .text,
        "/dav/calendars/ann/personal/"
    );
    assert_eq!(privileges(cal), ["read", "read-current-user-privilege-set"]);
    assert_eq!(
        prop(cal, "DAV:", "owner").unwrap().children[0].text,
        "/dav/principals/ann/"
    );

    // DAVx5 (cat, read-write): the owner and write-content, so DAVx5 allows edits.
    let r = s
        .req("PROPFIND", "/dav/addressbooks/cat/")
        .auth("cat", PW)
        .header("user-agent", DAVX5)
        .header("depth", "1")
        .xml(r#"<propfind xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop><resourcetype/><displayname/><owner/><current-user-privilege-set/><share-access/><CARD:addressbook-description/><CARD:supported-address-data/></prop></propfind>"#)
        .send()
        .await;
    let ms = r.xml();
    let all = responses(&ms);
    let (_, book) = all.iter().find(|(h, _)| *h == book_of("cat")).unwrap();
    assert!(privileges(book).contains(&"write-content".to_string()));
    assert!(
        prop(book, "DAV:", "share-access")
            .unwrap()
            .child("DAV:", "read-write")
            .is_some()
    );
    assert_eq!(
        prop(book, "DAV:", "displayname").unwrap().text,
        "clients (ann)"
    );

    // Thunderbird: probes the URL with Depth 0, then syncs with Depth 1.
    let r = s
        .req("PROPFIND", &book_of("bob"))
        .auth("bob", PW)
        .header("user-agent", TB)
        .header("depth", "0")
        .xml(r#"<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><D:resourcetype/><D:displayname/><CS:getctag/><D:current-user-privilege-set/></D:prop></D:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    assert!(!r.text().contains("write-content"), "{}", r.text());
    let r = s
        .req("REPORT", &book_of("bob"))
        .auth("bob", PW)
        .header("user-agent", TB)
        .header("depth", "1")
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await;
    assert_eq!(r.status, 207);
    assert!(r.text().contains(&format!("{}c1.vcf", book_of("bob"))));
}

/// Groups are principals (RFC 3744 §4): a member's principal lists its groups, and the
/// group's principal lists its members, to members only.
#[tokio::test]
async fn groups_are_principals_their_members_can_read() {
    let s = setup().await;
    let r = s
        .req("PROPFIND", "/dav/principals/dan/")
        .auth("dan", PW)
        .header("depth", "0")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:group-membership/></d:prop></d:propfind>"#)
        .send()
        .await;
    let ms = r.xml();
    let groups = prop(responses(&ms)[0].1, "DAV:", "group-membership").unwrap();
    assert_eq!(groups.children[0].text, "/dav/groups/team/");
    let body = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:displayname/><d:group-member-set/></d:prop></d:propfind>"#;
    let r = s
        .req("PROPFIND", "/dav/groups/team/")
        .auth("dan", PW)
        .header("depth", "0")
        .xml(body)
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    let resp = responses(&ms);
    assert!(
        prop(resp[0].1, "DAV:", "resourcetype")
            .unwrap()
            .child("DAV:", "principal")
            .is_some()
    );
    let members: Vec<String> = prop(resp[0].1, "DAV:", "group-member-set")
        .unwrap()
        .children
        .iter()
        .map(|h| h.text.clone())
        .collect();
    assert_eq!(members, ["/dav/principals/dan/"]);
    let r = s
        .req("PROPFIND", "/dav/groups/team/")
        .auth("eve", PW)
        .header("depth", "0")
        .xml(body)
        .send()
        .await;
    assert_eq!(r.status, 404, "not a member");
}

/// A sharee names and colours a shared calendar for themselves (caldav-sharing's per-user
/// properties): the owner and other sharees keep theirs; everything else stays the owner's.
#[tokio::test]
async fn a_sharee_names_and_colours_a_shared_collection_for_themselves() {
    let s = setup().await;
    let patch = r#"<d:propertyupdate xmlns:d="DAV:" xmlns:i="http://apple.com/ns/ical/"><d:set><d:prop><d:displayname>Ann's clients</d:displayname><i:calendar-color>#FF2968FF</i:calendar-color></d:prop></d:set></d:propertyupdate>"#;
    let r = s
        .req("PROPPATCH", &book_of("bob"))
        .auth("bob", PW)
        .xml(patch)
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    assert!(r.text().contains("200 OK"), "{}", r.text());
    let read = |user: &'static str, path: String| {
        let s = &s;
        async move {
            let r = s
                .req("PROPFIND", &path)
                .auth(user, PW)
                .header("depth", "0")
                .xml(r#"<d:propfind xmlns:d="DAV:" xmlns:i="http://apple.com/ns/ical/"><d:prop><d:displayname/><i:calendar-color/></d:prop></d:propfind>"#)
                .send()
                .await;
            let ms = r.xml();
            let resp = responses(&ms);
            (
                prop(resp[0].1, "DAV:", "displayname").map(|p| p.text.clone()),
                prop(resp[0].1, "http://apple.com/ns/ical/", "calendar-color")
                    .map(|p| p.text.clone()),
            )
        }
    };
    assert_eq!(
        read("bob", book_of("bob")).await,
        (Some("Ann's clients".into()), Some("#FF2968FF".into()))
    );
    assert_eq!(
        read("cat", book_of("cat")).await,
        (Some("clients (ann)".into()), None)
    );
    assert_eq!(
        read("ann", "/dav/addressbooks/ann/clients/".into()).await,
        (None, None)
    );
    // Removing it brings the default back.
    let r = s
        .req("PROPPATCH", &book_of("bob"))
        .auth("bob", PW)
        .xml(r#"<d:propertyupdate xmlns:d="DAV:"><d:remove><d:prop><d:displayname/></d:prop></d:remove></d:propertyupdate>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    assert_eq!(
        read("bob", book_of("bob")).await.0,
        Some("clients (ann)".into())
    );
}

/// The sharing dialects clients read: the owner sees whom a collection is shared with
/// (DAV:invite, CalendarServer's cs:invite), a sharee sees the owner.
#[tokio::test]
async fn owners_and_sharees_read_the_invite_in_both_dialects() {
    let s = setup().await;
    let body = r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:share-access/><d:invite/><cs:invite/></d:prop></d:propfind>"#;
    let r = s
        .req("PROPFIND", "/dav/addressbooks/ann/clients/")
        .auth("ann", PW)
        .header("depth", "0")
        .xml(body)
        .send()
        .await;
    let ms = r.xml();
    let resp = responses(&ms);
    let me = resp[0].1;
    assert!(
        prop(me, "DAV:", "share-access")
            .unwrap()
            .child("DAV:", "shared-owner")
            .is_some()
    );
    let sharees: Vec<(String, String)> = prop(me, "DAV:", "invite")
        .unwrap()
        .children
        .iter()
        .map(|sh| {
            let href = sh.child("DAV:", "href").unwrap().text.clone();
            let access = sh.child("DAV:", "share-access").unwrap().children[0]
                .name
                .clone();
            (href, access)
        })
        .collect();
    assert_eq!(
        sharees,
        [
            ("/dav/principals/bob/".to_string(), "read".to_string()),
            ("/dav/principals/cat/".to_string(), "read-write".to_string()),
            ("/dav/groups/team/".to_string(), "read-write".to_string()),
        ]
    );
    let cs = prop(me, "http://calendarserver.org/ns/", "invite").unwrap();
    assert_eq!(cs.children.len(), 3);
    // ann's contacts are not shared.
    let r = s
        .req("PROPFIND", "/dav/addressbooks/ann/contacts/")
        .auth("ann", PW)
        .header("depth", "0")
        .xml(body)
        .send()
        .await;
    assert!(r.text().contains("<d:not-shared/>"), "{}", r.text());
    // bob sees the owner, not the other sharees.
    let r = s
        .req("PROPFIND", &book_of("bob"))
        .auth("bob", PW)
        .header("depth", "0")
        .xml(body)
        .send()
        .await;
    let text = r.text();
    assert!(
        text.contains("<d:read/>") && text.contains("/dav/principals/ann/"),
        "{text}"
    );
    assert!(!text.contains("/dav/principals/cat/"), "{text}");
}

/// The isolation matrix's web side: pages and downloads. Only the owner exports or reads the
/// history of her book on the web; sharees download it over DAV as any collection, and see it
/// on their Sharing page; a sharee's forged "stop sharing" for ann's book changes nothing.
#[tokio::test]
async fn web_pages_and_downloads_keep_to_what_each_user_may_see() {
    let s = setup().await;
    let web = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for user in ["ann", "bob", "cat", "eve", "fay"] {
        let cookie = s.web_session(user, PW).await;
        let get = |path: &str| web.get(s.url(path)).header("cookie", &cookie).send();
        let owner = user == "ann";
        let export = get("/data/export/addressbook/clients").await.unwrap();
        let code = export.status().as_u16();
        let text = export.text().await.unwrap();
        assert_eq!(code, if owner { 200 } else { 404 }, "{user} export");
        assert_eq!(text.contains("Client One"), owner, "{user} export");
        let card = get("/data/card/clients/c1.vcf").await.unwrap();
        assert_eq!(
            card.status().as_u16(),
            if owner { 200 } else { 404 },
            "{user} card"
        );
        let page = get("/sharing").await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let page = page.text().await.unwrap();
        let sees = matches!(user, "bob" | "cat");
        assert_eq!(page.contains("ann~clients"), sees, "{user} sharing page");
        // The collection download over DAV, as a sharee's client makes it.
        let dav = s.req("GET", &book_of(user)).auth(user, PW).send().await;
        assert_eq!(dav.status, if sees { 200 } else { 404 }, "{user} download");
        assert_eq!(dav.text().contains("Client One"), sees, "{user} download");
        if user == "bob" {
            // bob posts "stop sharing" for ann's book, with his own valid session and token.
            let csrf = page
                .split("name=\"csrf\" value=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap()
                .to_string();
            let r = web
                .post(s.url("/sharing/remove"))
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "csrf={csrf}&kind=book&name=clients&with_kind=user&with=bob"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 400);
            assert!(
                r.text()
                    .await
                    .unwrap()
                    .contains("bob has no address book named")
            );
        }
    }
    let listed = share(&s, &["list", "--user", "ann"]);
    assert!(
        listed.contains("user bob (read-only)"),
        "nothing changed: {listed}"
    );
}
