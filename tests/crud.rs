//! PUT/GET/DELETE with ETags and preconditions, collections, PROPPATCH, COPY and MOVE.

use crate::common::*;

const CARD_NS: &str = "urn:ietf:params:xml:ns:carddav";

#[tokio::test]
async fn put_get_head_delete_with_strong_etags() {
    let s = Server::start();
    let path = format!("{BOOK}ada.vcf");
    let body = card("ada-1", "Ada Lovelace");
    let r = s
        .req("PUT", &path)
        .header("if-none-match", "*")
        .vcard(&body)
        .send()
        .await;
    assert_eq!(r.status, 201);
    let etag = r.etag();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));

    let r = s.req("GET", &path).send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body, "served byte-identical");
    assert_eq!(r.etag(), etag);
    assert!(r.header("content-type").unwrap().starts_with("text/vcard"));
    assert!(r.header("last-modified").is_some());

    let r = s.req("HEAD", &path).send().await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length").unwrap(), body.len().to_string());

    let r = s
        .req("GET", &path)
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(r.status, 304);

    // If-None-Match: * on an existing card must fail.
    let r = s
        .req("PUT", &path)
        .header("if-none-match", "*")
        .vcard(&body)
        .send()
        .await;
    assert_eq!(r.status, 412);
    // Stale If-Match must fail and change nothing (CalDav Synchronizer's data-loss case).
    let edited = card("ada-1", "Ada King");
    let r = s
        .req("PUT", &path)
        .header("if-match", "\"stale\"")
        .vcard(&edited)
        .send()
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(s.req("GET", &path).send().await.body, body);
    // Matching If-Match updates; Evolution's escaped quotes are accepted too.
    let escaped = etag.replace('"', "\\\"");
    let r = s
        .req("PUT", &path)
        .header("if-match", &escaped)
        .vcard(&edited)
        .send()
        .await;
    assert_eq!(r.status, 204);
    let new_etag = r.etag();
    assert_ne!(new_etag, etag);
    // Weak ETags never match strongly.
    let r = s
        .req("DELETE", &path)
        .header("if-match", &format!("W/{new_etag}"))
        .send()
        .await;
    assert_eq!(r.status, 412);
    let r = s
        .req("DELETE", &path)
        .header("if-match", &new_etag)
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(s.req("GET", &path).send().await.status, 404);
    assert_eq!(s.req("DELETE", &path).send().await.status, 404);
}

#[tokio::test]
async fn cards_without_uid_are_stored_as_they_came() {
    let s = Server::start();
    let body =
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane\r\nTEL;TYPE=CELL:+1 555 0100\r\nEND:VCARD\r\n";
    for name in ["a.vcf", "b.vcf"] {
        let r = s
            .req("PUT", &format!("{BOOK}{name}"))
            .vcard(body)
            .send()
            .await;
        assert_eq!(r.status, 201, "two UID-less cards do not conflict");
        assert_eq!(
            s.req("GET", &format!("{BOOK}{name}")).send().await.body,
            body
        );
    }
}

#[tokio::test]
async fn put_back_a_stored_card_is_accepted() {
    let s = Server::start();
    let path = format!("{BOOK}x.vcf");
    s.req("PUT", &path).vcard(&card("x", "X")).send().await;
    let got = s.req("GET", &path).send().await;
    let r = s
        .req("PUT", &path)
        .header("if-match", &got.etag())
        .vcard(&got.body)
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.etag(), got.etag(), "same bytes, same ETag");
}

#[tokio::test]
async fn invalid_cards_get_preconditions_not_500() {
    let s = Server::start();
    let cases: &[(&[u8], &str, &str)] = &[
        (b"hello, I am not a card", "text/vcard", "valid-address-data"),
        (b"hello, I am not a card", "application/json", "supported-address-data"),
        (
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "text/calendar",
            "supported-address-data",
        ),
        (
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nFN:B\r\nEND:VCARD\r\n",
            "text/vcard",
            "valid-address-data",
        ),
        (b"", "text/vcard", "valid-address-data"),
        (b"\xff\xfe\x00garbage\x00", "text/vcard", "valid-address-data"),
    ];
    for (i, (body, ct, cond)) in cases.iter().enumerate() {
        let r = s
            .req("PUT", &format!("{BOOK}bad{i}.vcf"))
            .header("content-type", ct)
            .body(body.to_vec())
            .send()
            .await;
        assert_eq!(r.status, 403, "case {i}: {}", r.text());
        assert_eq!(
            error_condition(&r),
            (CARD_NS.to_string(), cond.to_string()),
            "case {i}"
        );
    }
    // Nothing was stored.
    let r = s
        .req("PROPFIND", BOOK)
        .header("depth", "1")
        .xml(r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#)
        .send()
        .await;
    assert_eq!(responses(&r.xml()).len(), 1);
}

#[tokio::test]
async fn uid_conflict_and_size_limit() {
    let s = Server::start_with(&[]);
    s.req("PUT", &format!("{BOOK}one.vcf"))
        .vcard(&card("same", "One"))
        .send()
        .await;
    let r = s
        .req("PUT", &format!("{BOOK}two.vcf"))
        .vcard(&card("same", "Two"))
        .send()
        .await;
    assert_eq!(r.status, 403);
    let el = r.xml();
    let cond = el
        .child(CARD_NS, "no-uid-conflict")
        .expect("no-uid-conflict");
    assert_eq!(
        cond.child("DAV:", "href").unwrap().text,
        format!("{BOOK}one.vcf")
    );

    let big = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big\r\nFN:Big\r\nNOTE:{}\r\nEND:VCARD\r\n",
        "x".repeat(1024 * 1024)
    );
    let r = s
        .req("PUT", &format!("{BOOK}big.vcf"))
        .vcard(big.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(error_condition(&r).1, "max-resource-size");
}

#[tokio::test]
async fn put_into_missing_book_is_409() {
    let s = Server::start();
    let r = s
        .req("PUT", "/dav/addressbooks/admin/nope/a.vcf")
        .vcard(&card("a", "A"))
        .send()
        .await;
    assert_eq!(r.status, 409);
}

#[tokio::test]
async fn extended_mkcol_proppatch_and_delete_collection() {
    let s = Server::start();
    let path = "/dav/addressbooks/admin/work/";
    let r = s
        .req("MKCOL", path)
        .xml(r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Work</D:displayname><C:addressbook-description>Colleagues</C:addressbook-description></D:prop></D:set></D:mkcol>"#)
        .send()
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(s.req("MKCOL", path).send().await.status, 405, "exists");
    let r = s
        .req("MKCOL", "/dav/addressbooks/admin/cal/")
        .xml(r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>"#)
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(error_condition(&r).1, "valid-resourcetype");
    let r = s
        .req("MKCOL", "/dav/addressbooks/admin/junk/")
        .body("afafafaf")
        .send()
        .await;
    assert_eq!(r.status, 415);

    let r = s
        .req("PROPPATCH", path)
        .xml(r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:z"><D:set><D:prop><D:displayname>Work 2</D:displayname><Z:color xml:lang="en">blue <Z:b>bold</Z:b></Z:color></D:prop></D:set></D:propertyupdate>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    assert!(
        prop_status(responses(&ms)[0].1, "DAV:", "displayname")
            .unwrap()
            .contains("200")
    );
    let r = s
        .req("PROPFIND", path)
        .header("depth", "0")
        .xml(r#"<D:propfind xmlns:D="DAV:" xmlns:Z="urn:example:z" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:displayname/><Z:color/><C:addressbook-description/></D:prop></D:propfind>"#)
        .send()
        .await;
    let ms = r.xml();
    let resp = responses(&ms);
    assert_eq!(
        prop(resp[0].1, "DAV:", "displayname").unwrap().text,
        "Work 2"
    );
    assert_eq!(
        prop(resp[0].1, CARD_NS, "addressbook-description")
            .unwrap()
            .text,
        "Colleagues"
    );
    let color = prop(resp[0].1, "urn:example:z", "color").unwrap();
    assert_eq!(color.text, "blue ");
    assert!(
        color.child("urn:example:z", "b").is_some(),
        "dead property XML kept whole"
    );

    // Protected properties: 403, the rest 424, nothing applied.
    let r = s
        .req("PROPPATCH", path)
        .xml(r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag><D:displayname>Nope</D:displayname></D:prop></D:set></D:propertyupdate>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let resp = responses(&ms);
    assert!(
        prop_status(resp[0].1, "DAV:", "getetag")
            .unwrap()
            .contains("403")
    );
    assert!(
        prop_status(resp[0].1, "DAV:", "displayname")
            .unwrap()
            .contains("424")
    );
    // Removing a dead property.
    let r = s
        .req("PROPPATCH", path)
        .xml(r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:z"><D:remove><D:prop><Z:color/></D:prop></D:remove></D:propertyupdate>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let r = s
        .req("PROPFIND", path)
        .header("depth", "0")
        .xml(r#"<D:propfind xmlns:D="DAV:" xmlns:Z="urn:example:z"><D:prop><D:displayname/><Z:color/></D:prop></D:propfind>"#)
        .send()
        .await;
    let ms = r.xml();
    assert_eq!(
        prop(responses(&ms)[0].1, "DAV:", "displayname")
            .unwrap()
            .text,
        "Work 2"
    );
    assert!(
        prop_status(responses(&ms)[0].1, "urn:example:z", "color")
            .unwrap()
            .contains("404")
    );

    s.req("PUT", &format!("{path}a.vcf"))
        .vcard(&card("a", "A"))
        .send()
        .await;
    assert_eq!(s.req("DELETE", path).send().await.status, 204);
    assert_eq!(
        s.req("PROPFIND", path)
            .header("depth", "0")
            .send()
            .await
            .status,
        404
    );
    assert_eq!(
        s.req("GET", &format!("{path}a.vcf")).send().await.status,
        404
    );
    assert_eq!(
        s.req("DELETE", "/dav/addressbooks/admin/")
            .send()
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn copy_and_move_between_books() {
    let s = Server::start();
    let other = "/dav/addressbooks/admin/other/";
    assert_eq!(s.req("MKCOL", other).send().await.status, 201);
    let src = format!("{BOOK}c.vcf");
    let body = card("copy-me", "Copy Me");
    s.req("PUT", &src).vcard(&body).send().await;

    let dest = s.url(&format!("{other}c.vcf"));
    let r = s
        .req("COPY", &src)
        .header("destination", &dest)
        .send()
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        s.req("GET", &format!("{other}c.vcf")).send().await.body,
        body
    );
    assert_eq!(
        s.req("GET", &src).send().await.status,
        200,
        "COPY keeps the source"
    );

    let r = s
        .req("COPY", &src)
        .header("destination", &dest)
        .header("overwrite", "F")
        .send()
        .await;
    assert_eq!(r.status, 412);
    // Copying within one book would duplicate the UID.
    let r = s
        .req("COPY", &src)
        .header("destination", &s.url(&format!("{BOOK}c2.vcf")))
        .send()
        .await;
    assert_eq!(r.status, 403);

    // MOVE renames within a book.
    let r = s
        .req("MOVE", &src)
        .header("destination", &s.url(&format!("{BOOK}renamed.vcf")))
        .send()
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(s.req("GET", &src).send().await.status, 404);
    assert_eq!(
        s.req("GET", &format!("{BOOK}renamed.vcf"))
            .send()
            .await
            .body,
        body
    );

    // MOVE across books with overwrite.
    let r = s
        .req("MOVE", &format!("{BOOK}renamed.vcf"))
        .header("destination", &dest)
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        s.req("GET", &format!("{BOOK}renamed.vcf"))
            .send()
            .await
            .status,
        404
    );

    let r = s
        .req("COPY", BOOK)
        .header("destination", &s.url(other))
        .send()
        .await;
    assert_eq!(r.status, 403, "collections are not copied");
}
