//! Discovery as iOS/macOS, Thunderbird and DAVx5 perform it (anchors.md §2), against the real
//! server.

use crate::common::*;

const CARD: &str = "urn:ietf:params:xml:ns:carddav";
const CS: &str = "http://calendarserver.org/ns/";

#[tokio::test]
async fn well_known_redirects_and_curl_acceptance_path() {
    let s = Server::start();
    for wk in ["/.well-known/carddav", "/.well-known/caldav"] {
        let r = s.anon("PROPFIND", wk).header("depth", "0").send().await;
        assert_eq!(r.status, 301, "{wk}");
        assert_eq!(r.header("location").as_deref(), Some("/dav/"));
    }
    // What `curl -u admin:PW -X PROPFIND -H 'Depth: 0' URL/.well-known/carddav -L` does.
    let r = s
        .req("PROPFIND", "/.well-known/carddav")
        .header("depth", "0")
        .send()
        .await;
    let loc = r.header("location").unwrap();
    let r = s.req("PROPFIND", &loc).header("depth", "0").send().await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let resp = responses(&ms);
    let cup = prop(resp[0].1, "DAV:", "current-user-principal").expect("current-user-principal");
    assert_eq!(
        cup.child("DAV:", "href").unwrap().text,
        "/dav/principals/admin/"
    );
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_challenge() {
    let s = Server::start();
    for path in ["/", "/dav/", "/dav/principals/admin/", BOOK] {
        let r = s.anon("PROPFIND", path).header("depth", "0").send().await;
        assert_eq!(r.status, 401, "{path}");
        let challenge = r.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
    }
    let r = s
        .req("PROPFIND", "/dav/")
        .auth("admin", "wrong")
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn options_advertises_only_what_is_implemented() {
    let s = Server::start();
    let r = s.anon("OPTIONS", BOOK).send().await;
    assert_eq!(r.status, 200);
    let dav = r.header("dav").unwrap();
    assert_eq!(
        dav,
        "1, 3, addressbook, calendar-access, calendar-auto-schedule, calendar-proxy, extended-mkcol, webdav-push"
    );
    assert!(!dav.contains('2'), "no LOCK, so no class 2");
    // RFC 6638 §2: the server schedules; clients do not send invitations themselves.
    assert!(dav.contains("calendar-auto-schedule"));
    let allow = r.header("allow").unwrap();
    for m in [
        "PROPFIND",
        "REPORT",
        "MKCOL",
        "MKCALENDAR",
        "PUT",
        "COPY",
        "MOVE",
    ] {
        assert!(allow.contains(m), "{m} missing from Allow");
    }
    let r = s.req("LOCK", BOOK).send().await;
    assert_eq!(r.status, 405);
}

/// iOS/macOS Contacts: well-known, root, principal, home listing, then an initial sync.
#[tokio::test]
async fn apple_discovery_sequence() {
    let s = Server::start();
    let ua = "iOS/17.4 (21E219) dataaccessd/1.0";
    let r = s
        .anon("PROPFIND", "/.well-known/carddav")
        .header("user-agent", ua)
        .send()
        .await;
    assert_eq!(r.status, 301);
    // Apple tries without credentials first.
    let r = s
        .anon("PROPFIND", "/dav/")
        .header("user-agent", ua)
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(r.status, 401);
    let r = s
        .req("PROPFIND", "/dav/")
        .header("user-agent", ua)
        .header("depth", "0")
        .xml(r#"<?xml version="1.0" encoding="UTF-8"?><A:propfind xmlns:A="DAV:"><A:prop><A:current-user-principal/><A:principal-URL/><A:resourcetype/></A:prop></A:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let principal = prop(responses(&ms)[0].1, "DAV:", "current-user-principal")
        .unwrap()
        .child("DAV:", "href")
        .unwrap()
        .text
        .clone();
    let r = s
        .req("PROPFIND", &principal)
        .header("user-agent", ua)
        .header("depth", "0")
        .xml(r#"<?xml version="1.0" encoding="UTF-8"?><A:propfind xmlns:A="DAV:" xmlns:B="urn:ietf:params:xml:ns:carddav"><A:prop><B:addressbook-home-set/><A:displayname/><A:principal-URL/><A:resourcetype/><A:principal-collection-set/><B:directory-gateway/></A:prop></A:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let resp = responses(&ms);
    let homes: Vec<_> = prop(resp[0].1, CARD, "addressbook-home-set")
        .unwrap()
        .children_named("DAV:", "href")
        .collect();
    assert_eq!(homes.len(), 1, "Apple needs exactly one home-set href");
    let home = homes[0].text.clone();
    assert!(home.ends_with('/'));
    assert_eq!(
        prop(resp[0].1, "DAV:", "displayname").unwrap().text,
        "admin"
    );
    let rt = prop(resp[0].1, "DAV:", "resourcetype").unwrap();
    assert!(rt.child("DAV:", "principal").is_some());
    assert!(
        prop_status(resp[0].1, CARD, "directory-gateway")
            .unwrap()
            .contains("404")
    );

    let r = s
        .req("PROPFIND", &home)
        .header("user-agent", ua)
        .header("depth", "1")
        .xml(r#"<?xml version="1.0" encoding="UTF-8"?><A:propfind xmlns:A="DAV:" xmlns:B="urn:ietf:params:xml:ns:carddav" xmlns:C="http://calendarserver.org/ns/"><A:prop><A:resourcetype/><A:displayname/><C:getctag/><A:sync-token/><A:supported-report-set/><A:current-user-privilege-set/><B:max-resource-size/></A:prop></A:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let resp = responses(&ms);
    let book = resp
        .iter()
        .find(|(_, r)| {
            prop(r, "DAV:", "resourcetype")
                .is_some_and(|rt| rt.child(CARD, "addressbook").is_some())
        })
        .expect("an address book in the home");
    assert_eq!(book.0, BOOK);
    assert_eq!(
        prop(book.1, "DAV:", "displayname").unwrap().text,
        "Contacts"
    );
    let ctag = prop(book.1, CS, "getctag").unwrap().text.clone();
    let token = prop(book.1, "DAV:", "sync-token").unwrap().text.clone();
    assert!(!ctag.is_empty() && !token.is_empty());
    let reports = prop(book.1, "DAV:", "supported-report-set").unwrap();
    let names: Vec<String> = reports
        .children
        .iter()
        .map(|sr| sr.child("DAV:", "report").unwrap().children[0].name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "addressbook-multiget",
            "addressbook-query",
            "sync-collection"
        ]
    );
    let privs = prop(book.1, "DAV:", "current-user-privilege-set").unwrap();
    assert!(
        privs
            .children
            .iter()
            .any(|p| p.child("DAV:", "write").is_some())
    );

    // Initial sync of the (empty) default book.
    let r = s
        .req("REPORT", BOOK)
        .header("user-agent", ua)
        .header("depth", "0")
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await;
    assert_eq!(r.status, 207);
    assert!(r.xml().child("DAV:", "sync-token").is_some());
}

/// Thunderbird probes the URL the user typed with Depth 0, then sends sync-collection with
/// Depth 1 (which RFC 6578 forbids, but it must work).
#[tokio::test]
async fn thunderbird_discovery_and_depth_one_sync() {
    let s = Server::start();
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0";
    let r = s
        .req("PROPFIND", "/")
        .header("user-agent", ua)
        .header("depth", "0")
        .xml(r#"<propfind xmlns="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/"><prop><resourcetype/><displayname/><current-user-principal/><cs:getctag/><sync-token/><card:addressbook-home-set/></prop></propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let resp = responses(&ms);
    assert_eq!(resp[0].0, "/");
    assert!(prop(resp[0].1, "DAV:", "current-user-principal").is_some());
    assert!(
        prop_status(resp[0].1, CS, "getctag")
            .unwrap()
            .contains("404")
    );

    s.req("PUT", &format!("{BOOK}tb.vcf"))
        .vcard(&card("tb-1", "Thunder Bird"))
        .send()
        .await;
    let r = s
        .req("REPORT", BOOK)
        .header("user-agent", ua)
        .header("depth", "1")
        .xml(&sync_report("", None, "<d:getetag/><d:getcontenttype/>"))
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let hrefs: Vec<String> = responses(&ms).into_iter().map(|(h, _)| h).collect();
    assert_eq!(hrefs, [format!("{BOOK}tb.vcf")]);
}

/// DAVx5: root → principal → home listing with the properties it shows in its UI, then an
/// initial sync with an empty `<sync-token/>` element.
#[tokio::test]
async fn davx5_discovery_sequence() {
    let s = Server::start();
    let ua = "DAVx5/4.4.2-ose (2024/07/01; dav4jvm; okhttp/4.12.0) Android/14";
    let r = s
        .req("PROPFIND", "/dav/")
        .header("user-agent", ua)
        .header("depth", "0")
        .xml(r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let r = s
        .req("PROPFIND", "/dav/principals/admin/")
        .header("user-agent", ua)
        .header("depth", "0")
        .xml(r#"<propfind xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop><CARD:addressbook-home-set/><displayname/></prop></propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let r = s
        .req("PROPFIND", "/dav/addressbooks/admin/")
        .header("user-agent", ua)
        .header("depth", "1")
        .xml(r#"<propfind xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop><resourcetype/><displayname/><owner/><current-user-privilege-set/><CARD:addressbook-description/><CARD:supported-address-data/></prop></propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let resp = responses(&ms);
    let book = resp.iter().find(|(h, _)| h == BOOK).unwrap();
    let sad = prop(book.1, CARD, "supported-address-data").unwrap();
    let versions: Vec<&str> = sad
        .children
        .iter()
        .filter_map(|c| c.attr("version"))
        .collect();
    assert_eq!(versions, ["3.0", "4.0"]);
    assert!(
        prop_status(book.1, CARD, "addressbook-description")
            .unwrap()
            .contains("404")
    );
    let r = s
        .req("REPORT", BOOK)
        .header("user-agent", ua)
        .xml(r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
}

#[tokio::test]
async fn propfind_allprop_propname_and_bad_bodies() {
    let s = Server::start();
    let r = s.req("PROPFIND", BOOK).header("depth", "0").send().await;
    assert_eq!(r.status, 207, "empty body is allprop");
    let ms = r.xml();
    let resp = responses(&ms);
    assert!(prop(resp[0].1, "DAV:", "sync-token").is_some());
    let r = s
        .req("PROPFIND", BOOK)
        .header("depth", "0")
        .xml(r#"<propfind xmlns="DAV:"><propname/></propfind>"#)
        .send()
        .await;
    let ms = r.xml();
    let resp = responses(&ms);
    let gd = prop(resp[0].1, "DAV:", "displayname").unwrap();
    assert!(
        gd.text.is_empty() && gd.children.is_empty(),
        "propname gives names only"
    );
    let r = s
        .req("PROPFIND", BOOK)
        .xml("<propfind xmlns=\"DAV:\"><prop>")
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = s.req("PROPFIND", BOOK).header("depth", "2").send().await;
    assert_eq!(r.status, 400);
}
