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
