//! sync-collection (RFC 6578): initial and incremental syncs, removals, paging with DAV:limit
//! and 507, and invalid tokens.

use crate::common::*;
use std::collections::BTreeSet;

struct SyncResult {
    token: String,
    present: BTreeSet<String>,
    removed: BTreeSet<String>,
    truncated: bool,
}

async fn sync(s: &Server, token: &str, limit: Option<usize>) -> SyncResult {
    let r = s
        .req("REPORT", BOOK)
        .header("depth", "0")
        .xml(&sync_report(token, limit, "<d:getetag/>"))
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    let mut out = SyncResult {
        token: ms.child("DAV:", "sync-token").unwrap().text.clone(),
        present: BTreeSet::new(),
        removed: BTreeSet::new(),
        truncated: false,
    };
    for (href, resp) in responses(&ms) {
        let status = resp.child("DAV:", "status").map(|s| s.text.clone());
        match status.as_deref() {
            Some(st) if st.contains(" 404 ") => {
                out.removed.insert(href);
            }
            Some(st) if st.contains(" 507 ") => {
                assert_eq!(href, BOOK);
                let err = resp.child("DAV:", "error").unwrap();
                assert!(
                    err.child("DAV:", "number-of-matches-within-limits")
                        .is_some()
                );
                out.truncated = true;
            }
            Some(other) => panic!("unexpected status {other}"),
            None => {
                assert!(prop(resp, "DAV:", "getetag").is_some());
                out.present.insert(href);
            }
        }
    }
    out
}

fn href(i: usize) -> String {
    format!("{BOOK}c{i}.vcf")
}

#[tokio::test]
async fn initial_incremental_and_removed() {
    let s = Server::start();
    for i in 0..5 {
        s.req("PUT", &href(i))
            .vcard(&card(&format!("u{i}"), &format!("C {i}")))
            .send()
            .await;
    }
    let first = sync(&s, "", None).await;
    assert_eq!(first.present.len(), 5);
    assert!(
        first.removed.is_empty(),
        "an initial sync lists no removed members"
    );

    let nothing = sync(&s, &first.token, None).await;
    assert!(nothing.present.is_empty() && nothing.removed.is_empty());
    assert_eq!(nothing.token, first.token, "no change, same token");

    // One update, one delete, one create.
    s.req("PUT", &href(1))
        .vcard(&card("u1", "Changed"))
        .send()
        .await;
    s.req("DELETE", &href(2)).send().await;
    s.req("PUT", &href(9))
        .vcard(&card("u9", "New"))
        .send()
        .await;
    let delta = sync(&s, &first.token, None).await;
    assert_eq!(delta.present, [href(1), href(9)].into_iter().collect());
    assert_eq!(delta.removed, [href(2)].into_iter().collect());
    assert_ne!(delta.token, first.token);

    // A deleted-then-recreated card shows as present, not removed.
    s.req("PUT", &href(2))
        .vcard(&card("u2", "Back"))
        .send()
        .await;
    let back = sync(&s, &delta.token, None).await;
    assert_eq!(back.present, [href(2)].into_iter().collect());
    assert!(back.removed.is_empty());

    // The ctag moves with the sync token.
    let r = s
        .req("PROPFIND", BOOK)
        .header("depth", "0")
        .xml(r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#)
        .send()
        .await;
    let ms = r.xml();
    let resp = responses(&ms);
    assert_eq!(
        prop(resp[0].1, "DAV:", "sync-token").unwrap().text,
        back.token
    );
}

#[tokio::test]
async fn paging_with_limit_returns_507_and_continues() {
    let s = Server::start();
    for i in 0..7 {
        s.req("PUT", &href(i))
            .vcard(&card(&format!("u{i}"), "P"))
            .send()
            .await;
    }
    // Initial sync in pages of 3.
    let mut token = String::new();
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    loop {
        let page = sync(&s, &token, Some(3)).await;
        pages += 1;
        assert!(page.present.len() <= 3);
        seen.extend(page.present);
        token = page.token;
        if !page.truncated {
            break;
        }
        assert!(pages < 10, "paging does not terminate");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);

    // Changes made between pages are never lost.
    let start = token.clone();
    s.req("DELETE", &href(0)).send().await;
    s.req("PUT", &href(3))
        .vcard(&card("u3", "Edited"))
        .send()
        .await;
    let p1 = sync(&s, &start, Some(1)).await;
    assert!(p1.truncated);
    s.req("PUT", &href(20))
        .vcard(&card("u20", "Between pages"))
        .send()
        .await;
    let p2 = sync(&s, &p1.token, Some(10)).await;
    assert!(!p2.truncated);
    let mut all: BTreeSet<String> = p1.present.union(&p2.present).cloned().collect();
    all.extend(p1.removed.union(&p2.removed).cloned());
    assert_eq!(all, [href(0), href(3), href(20)].into_iter().collect());
}

#[tokio::test]
async fn invalid_tokens_get_valid_sync_token_403() {
    let s = Server::start();
    s.req("MKCOL", "/dav/addressbooks/admin/other/")
        .send()
        .await;
    s.req("PUT", &href(1)).vcard(&card("u1", "X")).send().await;
    let first = sync(&s, "", None).await;
    let r = s
        .req("REPORT", "/dav/addressbooks/admin/other/")
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await;
    let other_token = r.xml().child("DAV:", "sync-token").unwrap().text.clone();

    let bad = [
        "http://example.com/ns/sync/1".to_string(),
        "urn:kith:sync:garbage".to_string(),
        other_token,                                     // another collection's token
        first.token.replace(":1", ":99999").to_string(), // from the future
    ];
    for t in &bad {
        let r = s
            .req("REPORT", BOOK)
            .xml(&sync_report(t, None, "<d:getetag/>"))
            .send()
            .await;
        assert_eq!(r.status, 403, "token {t}");
        let (ns, name) = error_condition(&r);
        assert_eq!(
            (ns.as_str(), name.as_str()),
            ("DAV:", "valid-sync-token"),
            "token {t}"
        );
    }
}

#[tokio::test]
async fn deleted_book_invalidates_its_tokens() {
    let s = Server::start();
    let book = "/dav/addressbooks/admin/tmp/";
    s.req("MKCOL", book).send().await;
    let r = s
        .req("REPORT", book)
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await;
    let token = r.xml().child("DAV:", "sync-token").unwrap().text.clone();
    s.req("DELETE", book).send().await;
    s.req("MKCOL", book).send().await;
    let r = s
        .req("REPORT", book)
        .xml(&sync_report(&token, None, "<d:getetag/>"))
        .send()
        .await;
    assert_eq!(r.status, 403, "a recreated book is a new collection");
}

/// Listings larger than one 64 KiB chunk are streamed, and arrive whole and well-formed.
#[tokio::test]
async fn large_listings_stream_complete() {
    let s = Server::start();
    let n = 600;
    for i in 0..n {
        let body = format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big-{i}\r\nFN:Person {i}\r\nNOTE:{}\r\nEND:VCARD\r\n",
            "padding ".repeat(20)
        );
        let r = s.req("PUT", &href(i)).vcard(body.as_bytes()).send().await;
        assert_eq!(r.status, 201);
    }
    let r = s
        .req("PROPFIND", BOOK)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    assert!(r.body.len() > 64 * 1024, "spans several chunks");
    assert!(
        r.header("content-length").is_none(),
        "streamed, not buffered"
    );
    assert_eq!(responses(&r.xml()).len(), n + 1);

    let r = s
        .req("REPORT", BOOK)
        .xml(&sync_report("", None, "<d:getetag/><c:address-data/>"))
        .send()
        .await;
    assert!(r.body.len() > 64 * 1024);
    let ms = r.xml();
    assert_eq!(responses(&ms).len(), n);
    assert!(ms.child("DAV:", "sync-token").is_some());

    let q = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data/></D:prop><C:filter><C:prop-filter name="FN"><C:text-match>person</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#;
    let r = s.req("REPORT", BOOK).xml(q).send().await;
    assert_eq!(responses(&r.xml()).len(), n);
}

/// MOVE within a book is one rename: sync sees the old name removed and the new one present.
#[tokio::test]
async fn rename_is_seen_by_sync() {
    let s = Server::start();
    s.req("PUT", &href(1))
        .vcard(&card("u1", "One"))
        .send()
        .await;
    // A card without UID, which the book keys by its name.
    let no_uid = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane\r\nEND:VCARD\r\n";
    s.req("PUT", &href(2)).vcard(no_uid).send().await;
    let before = sync(&s, "", None).await;
    for (from, to) in [(1, 11), (2, 12)] {
        let r = s
            .req("MOVE", &href(from))
            .header("destination", &s.url(&href(to)))
            .send()
            .await;
        assert_eq!(r.status, 201);
    }
    let after = sync(&s, &before.token, None).await;
    assert_eq!(after.removed, [href(1), href(2)].into_iter().collect());
    assert_eq!(after.present, [href(11), href(12)].into_iter().collect());
    assert_eq!(s.req("GET", &href(12)).send().await.body, no_uid);
    // The old name is free again, even for another UID-less card.
    let r = s.req("PUT", &href(2)).vcard(no_uid).send().await;
    assert_eq!(r.status, 201);
}
