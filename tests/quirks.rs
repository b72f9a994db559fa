//! One test per named client quirk (`kith_dav::quirks`), against the running server, and the
//! request headers every DAV method reads (`kith_dav::headers::RequestHeaders`).

use crate::common::*;

const CARD4: &str =
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:q-1\r\nFN:Quinn Q\r\nN:Q;Quinn;;;\r\nEND:VCARD\r\n";

async fn put4(s: &Server) -> String {
    let r = s
        .req("PUT", &format!("{BOOK}q.vcf"))
        .vcard(CARD4.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 201);
    r.etag()
}

#[tokio::test]
async fn apple_vcard3() {
    let s = Server::start();
    put4(&s).await;
    let path = format!("{BOOK}q.vcf");
    let apple = s
        .req("GET", &path)
        .header(
            "user-agent",
            "macOS/14.5 (23F79) AddressBookCore/2487.600.111",
        )
        .send()
        .await;
    assert!(apple.text().contains("VERSION:3.0"), "{}", apple.text());
    // Asking for a version wins over the quirk, and other clients get the stored bytes.
    let asked = s
        .req("GET", &path)
        .header("user-agent", "iOS/17.4 (21E219) dataaccessd/1.0")
        .header("accept", "text/vcard;version=4.0")
        .send()
        .await;
    assert!(asked.text().contains("VERSION:4.0"), "{}", asked.text());
    assert_eq!(s.req("GET", &path).send().await.text(), CARD4);
}

#[tokio::test]
async fn evolution_escaped_etag() {
    let s = Server::start();
    let etag = put4(&s).await;
    let r = s
        .req("PUT", &format!("{BOOK}q.vcf"))
        .header("if-match", &etag.replace('"', "\\\""))
        .header("user-agent", "Evolution/3.50")
        .vcard(CARD4.replace("Quinn Q", "Quinn R").as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
}

#[tokio::test]
async fn tbsync_permanent_redirect() {
    let s = Server::start();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/.well-known/carddav", "/.well-known/caldav"] {
        let r = http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 301, "{path}");
    }
}

#[tokio::test]
async fn latin1_without_charset() {
    let s = Server::start();
    let mut bytes = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:l-1\r\nFN:Jos".to_vec();
    bytes.push(0xe9);
    bytes.extend_from_slice(b"\r\nN:Jos;;;;\r\nEND:VCARD\r\n");
    let path = format!("{BOOK}latin1.vcf");
    // Over CardDAV the bytes are refused with their line (issue 24: GET and REPORT would
    // otherwise serve different text)...
    let r = s.req("PUT", &path).vcard(&bytes).send().await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("line 4"), "{}", r.text());
    // ...and an import of the same export reads them as Windows-1252.
    let file = s.dir.path().join("latin1.vcf");
    std::fs::write(&file, &bytes).unwrap();
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["import", file.to_str().unwrap(), "--user", "admin"],
        "",
    );
    assert!(ok, "{err}");
    let book = download_book(&s).await;
    let (_, text) = book.values().next().unwrap();
    assert!(text.contains("FN:José\r\n"), "{text}");
}

#[tokio::test]
async fn report_depth_ignored() {
    let s = Server::start();
    put4(&s).await;
    for depth in ["0", "1", "infinity"] {
        let r = s
            .req("REPORT", BOOK)
            .header("depth", depth)
            .xml(&sync_report("", None, "<d:getetag/>"))
            .send()
            .await;
        assert_eq!(r.status, 207, "Depth {depth}");
        assert!(r.text().contains("q.vcf"), "Depth {depth}: {}", r.text());
    }
}

/// Rule `propfind-missing-depth`: no Depth lists the collection's members as Depth 1 does;
/// an explicit infinity is refused with its precondition.
#[tokio::test]
async fn propfind_missing_depth() {
    let s = Server::start();
    put4(&s).await;
    let body = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#;
    let r = s.req("PROPFIND", BOOK).xml(body).send().await;
    assert_eq!(r.status, 207);
    assert!(r.text().contains("q.vcf"), "{}", r.text());
    let r = s
        .req("PROPFIND", BOOK)
        .header("depth", "infinity")
        .xml(body)
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        error_condition(&r),
        ("DAV:".to_string(), "propfind-finite-depth".to_string())
    );
}

/// Rule `drain-refused-body`: a request answered without reading its body (401 before
/// authentication) must not cost the client its connection: python-caldav and Apple clients send their first request without
/// credentials and reuse the connection at once.
#[test]
fn drain_refused_body() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = Server::start();
    let addr = s.url("").trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    let body = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#;
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    for round in 0..2 {
        write!(
            conn,
            "PROPFIND /dav/ HTTP/1.1\r\nHost: {addr}\r\nDepth: 0\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 401 "), "round {round}: {status:?}");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            assert!(
                !line.to_ascii_lowercase().starts_with("connection: close"),
                "round {round}: the server closes the connection"
            );
            if line == "\r\n" {
                break;
            }
        }
        let mut rest = vec![0; length];
        reader.read_exact(&mut rest).unwrap();
    }
}

#[tokio::test]
async fn if_header_guards_writes() {
    let s = Server::start();
    let etag = put4(&s).await;
    let path = format!("{BOOK}q.vcf");
    let edit = CARD4.replace("Quinn Q", "Quinn R");
    // A lock token Kith never granted: the condition fails, nothing is written.
    let r = s
        .req("PUT", &path)
        .header("if", "(<urn:uuid:never-granted>)")
        .vcard(edit.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 412);
    let r = s
        .req("PUT", &path)
        .header("if", "([\"stale\"])")
        .vcard(edit.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(s.req("GET", &path).send().await.text(), CARD4);
    let r = s
        .req("PUT", &path)
        .header("if", &format!("(Not <DAV:no-lock> [{etag}])"))
        .vcard(edit.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    // A header Kith cannot read is refused before anything happens.
    let r = s
        .req("DELETE", &path)
        .header("if", "[\"no list\"]")
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(s.req("GET", &path).send().await.status, 200);
}

#[tokio::test]
async fn prefer_minimal_and_noroot() {
    let s = Server::start();
    put4(&s).await;
    let body =
        r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:no-such-prop/></d:prop></d:propfind>"#;
    let full = s
        .req("PROPFIND", BOOK)
        .header("depth", "1")
        .xml(body)
        .send()
        .await;
    assert_eq!(full.status, 207);
    assert!(full.text().contains("404"), "{}", full.text());
    assert_eq!(responses(&full.xml()).len(), 2);
    let brief = s
        .req("PROPFIND", BOOK)
        .header("depth", "1")
        .header("prefer", "return=minimal, depth-noroot")
        .xml(body)
        .send()
        .await;
    assert_eq!(brief.status, 207);
    assert!(!brief.text().contains("404"), "{}", brief.text());
    let hrefs: Vec<String> = responses(&brief.xml())
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    assert_eq!(hrefs, vec![format!("{BOOK}q.vcf")]);
    // Apple's older spelling.
    let apple = s
        .req("PROPFIND", BOOK)
        .header("depth", "0")
        .header("brief", "t")
        .xml(body)
        .send()
        .await;
    assert!(!apple.text().contains("404"), "{}", apple.text());
}

#[tokio::test]
async fn overwrite_must_be_t_or_f() {
    let s = Server::start();
    put4(&s).await;
    let other = "/dav/addressbooks/admin/other/";
    assert_eq!(s.req("MKCOL", other).send().await.status, 201);
    let copy = |overwrite: &'static str| {
        s.req("COPY", &format!("{BOOK}q.vcf"))
            .header("destination", &s.url(&format!("{other}q.vcf")))
            .header("overwrite", overwrite)
    };
    assert_eq!(copy("maybe").send().await.status, 400);
    assert_eq!(copy("F").send().await.status, 201);
    assert_eq!(copy("F").send().await.status, 412);
    assert_eq!(copy("T").send().await.status, 204);
}
