//! A user reads and writes only their own principal and collections; everything else is 404
//! and leaks nothing.

use crate::common::*;

#[tokio::test]
async fn users_cannot_see_or_touch_each_other() {
    let s = Server::start();
    s.add_user("bob", "bob-pw");
    let secret = card("admin-secret", "Secret Person");
    s.req("PUT", &format!("{BOOK}secret.vcf"))
        .vcard(&secret)
        .send()
        .await;

    let admin_paths = [
        "/dav/principals/admin/",
        "/dav/addressbooks/admin/",
        BOOK,
        "/dav/addressbooks/admin/contacts/secret.vcf",
    ];
    for p in admin_paths {
        for m in ["PROPFIND", "GET", "DELETE", "PROPPATCH", "REPORT"] {
            let r = s
                .req(m, p)
                .auth("bob", "bob-pw")
                .header("depth", "1")
                .send()
                .await;
            assert_eq!(r.status, 404, "{m} {p}");
            assert!(!r.text().contains("Secret"), "{m} {p} leaked data");
        }
    }
    let r = s
        .req("PUT", "/dav/addressbooks/admin/contacts/evil.vcf")
        .auth("bob", "bob-pw")
        .vcard(&card("evil", "Evil"))
        .send()
        .await;
    assert_eq!(r.status, 404);
    let r = s
        .req("MKCOL", "/dav/addressbooks/admin/evil/")
        .auth("bob", "bob-pw")
        .send()
        .await;
    assert_eq!(r.status, 404);
    // Bob cannot copy into admin's book, nor pull admin's cards with a multiget.
    s.req("PUT", "/dav/addressbooks/bob/contacts/b.vcf")
        .auth("bob", "bob-pw")
        .vcard(&card("b", "B"))
        .send()
        .await;
    let r = s
        .req("COPY", "/dav/addressbooks/bob/contacts/b.vcf")
        .auth("bob", "bob-pw")
        .header(
            "destination",
            &s.url("/dav/addressbooks/admin/contacts/b.vcf"),
        )
        .send()
        .await;
    assert_eq!(r.status, 403);
    let body = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data/></D:prop><D:href>{BOOK}secret.vcf</D:href></C:addressbook-multiget>"#
    );
    let r = s
        .req("REPORT", "/dav/addressbooks/bob/contacts/")
        .auth("bob", "bob-pw")
        .xml(&body)
        .send()
        .await;
    assert_eq!(r.status, 207);
    assert!(!r.text().contains("Secret"));

    // Bob's own discovery points at Bob's resources only.
    let r = s
        .req("PROPFIND", "/dav/addressbooks/bob/")
        .auth("bob", "bob-pw")
        .header("depth", "1")
        .send()
        .await;
    assert_eq!(r.status, 207);
    for (href, _) in responses(&r.xml()) {
        assert!(href.starts_with("/dav/addressbooks/bob/"), "{href}");
    }
    // Admin's data is intact.
    assert_eq!(
        s.req("GET", &format!("{BOOK}secret.vcf")).send().await.body,
        secret
    );
    assert_eq!(
        s.req("GET", &format!("{BOOK}evil.vcf")).send().await.status,
        404
    );
}
