//! addressbook-multiget and addressbook-query with every filter form, over HTTP.

use crate::common::*;
use std::collections::BTreeSet;

const CARD_NS: &str = "urn:ietf:params:xml:ns:carddav";

async fn seeded() -> Server {
    let s = Server::start();
    let cards: &[(&str, &str)] = &[
        (
            "jm",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jm\r\nFN:Jürgen Müller\r\nN:Müller;Jürgen;;;\r\nEMAIL;TYPE=WORK:j.mueller@example.de\r\nTEL;TYPE=CELL:+49 30 1234\r\nORG:Acme GmbH\r\nCATEGORIES:work,berlin\r\nEND:VCARD\r\n",
        ),
        (
            "ab",
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ab\r\nFN:Ann Berg\r\nEMAIL;TYPE=home:ann@example.org\r\nEMAIL;TYPE=work:ann.berg@acme.example\r\nNICKNAME:Annie\r\nEND:VCARD\r\n",
        ),
        (
            "zz",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:zz\r\nFN:Zed Zulu\r\nTEL;TYPE=HOME:+1 555 0000\r\nEND:VCARD\r\n",
        ),
        (
            "grp",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:grp\r\nFN:Team\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:jm\r\nEND:VCARD\r\n",
        ),
    ];
    for (name, body) in cards {
        let r = s
            .req("PUT", &format!("{BOOK}{name}.vcf"))
            .vcard(body.as_bytes())
            .send()
            .await;
        assert_eq!(r.status, 201);
    }
    s
}

async fn query(s: &Server, filter: &str) -> BTreeSet<String> {
    let body = format!(
        r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>{filter}</C:addressbook-query>"#
    );
    let r = s
        .req("REPORT", BOOK)
        .header("depth", "1")
        .xml(&body)
        .send()
        .await;
    assert_eq!(r.status, 207, "{filter}: {}", r.text());
    responses(&r.xml())
        .into_iter()
        .map(|(h, _)| {
            h.trim_start_matches(BOOK)
                .trim_end_matches(".vcf")
                .to_string()
        })
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn pf(name: &str, inner: &str) -> String {
    format!(r#"<C:prop-filter name="{name}">{inner}</C:prop-filter>"#)
}

fn tm(attrs: &str, text: &str) -> String {
    format!(r#"<C:text-match {attrs}>{text}</C:text-match>"#)
}

fn filter(attrs: &str, inner: &str) -> String {
    format!(r#"<C:filter {attrs}>{inner}</C:filter>"#)
}

#[tokio::test]
async fn text_match_types_collations_and_negation() {
    let s = seeded().await;
    // (property, text-match attributes, needle, expected cards)
    let cases: &[(&str, &str, &str, &[&str])] = &[
        ("EMAIL", "", "MUELLER", &["jm"]),
        ("FN", r#"collation="i;unicode-casemap""#, "MÜLLER", &["jm"]),
        ("FN", r#"collation="i;ascii-casemap""#, "MÜLLER", &[]),
        ("FN", r#"collation="i;ascii-casemap""#, "ann BERG", &["ab"]),
        ("FN", r#"match-type="equals""#, "zed zulu", &["zz"]),
        ("FN", r#"match-type="equals""#, "zed", &[]),
        ("EMAIL", r#"match-type="starts-with""#, "ann", &["ab"]),
        ("EMAIL", r#"match-type="ends-with""#, ".de", &["jm"]),
        // Cards with an EMAIL not containing "acme" (Ann has one such).
        ("EMAIL", r#"negate-condition="yes""#, "acme", &["jm", "ab"]),
        // i;octet is case-sensitive.
        ("NICKNAME", r#"collation="i;octet""#, "annie", &[]),
        ("NICKNAME", r#"collation="i;octet""#, "Annie", &["ab"]),
    ];
    for (name, attrs, needle, expected) in cases {
        let got = query(&s, &filter("", &pf(name, &tm(attrs, needle)))).await;
        assert_eq!(got, set(expected), "{name} {attrs} {needle:?}");
    }
}

#[tokio::test]
async fn defined_undefined_params_and_tests() {
    let s = seeded().await;
    assert_eq!(
        query(&s, &filter("", &pf("TEL", ""))).await,
        set(&["jm", "zz"])
    );
    assert_eq!(
        query(&s, &filter("", &pf("TEL", "<C:is-not-defined/>"))).await,
        set(&["ab", "grp"])
    );
    let cell = r#"<C:param-filter name="TYPE"><C:text-match match-type="equals">cell</C:text-match></C:param-filter>"#;
    assert_eq!(query(&s, &filter("", &pf("TEL", cell))).await, set(&["jm"]));
    let no_type = r#"<C:param-filter name="TYPE"><C:is-not-defined/></C:param-filter>"#;
    assert_eq!(
        query(&s, &filter("", &pf("FN", no_type))).await,
        set(&["jm", "ab", "zz", "grp"])
    );
    // anyof (default) vs allof across prop-filters.
    let two = format!("{}{}", pf("NICKNAME", ""), pf("ORG", ""));
    assert_eq!(query(&s, &filter("", &two)).await, set(&["jm", "ab"]));
    assert_eq!(query(&s, &filter(r#"test="allof""#, &two)).await, set(&[]));
    // allof inside a prop-filter: both text-matches on the same EMAIL.
    let both = format!(
        r#"<C:prop-filter name="EMAIL" test="allof">{}{}</C:prop-filter>"#,
        tm("", "ann"),
        tm("", "acme")
    );
    assert_eq!(query(&s, &filter("", &both)).await, set(&["ab"]));
    // Apple groups are queryable.
    assert_eq!(
        query(
            &s,
            &filter(
                "",
                &pf(
                    "X-ADDRESSBOOKSERVER-KIND",
                    &tm(r#"match-type="equals""#, "group")
                )
            )
        )
        .await,
        set(&["grp"])
    );
    // An empty filter matches everything.
    assert_eq!(query(&s, &filter("", "")).await.len(), 4);
}

#[tokio::test]
async fn query_limit_and_unsupported_collation() {
    let s = seeded().await;
    let body = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter/><C:limit><C:nresults>2</C:nresults></C:limit></C:addressbook-query>"#;
    let r = s.req("REPORT", BOOK).xml(body).send().await;
    let ms = r.xml();
    let resp = responses(&ms);
    assert_eq!(resp.len(), 3, "two results and the 507 marker");
    let last = resp.last().unwrap().1;
    assert!(last.child("DAV:", "status").unwrap().text.contains("507"));

    let body = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#;
    let r = s.req("REPORT", BOOK).xml(body).send().await;
    assert_eq!(r.status, 403);
    assert_eq!(
        error_condition(&r),
        (CARD_NS.to_string(), "supported-collation".to_string())
    );

    let r = s
        .req("REPORT", BOOK)
        .xml(r#"<D:expand-property xmlns:D="DAV:"/>"#)
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(error_condition(&r).1, "supported-report");
    let r = s.req("REPORT", BOOK).xml("<not xml").send().await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn query_returns_address_data() {
    let s = seeded().await;
    let body = format!(
        r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>{}</C:addressbook-query>"#,
        filter("", &pf("UID", &tm(r#"match-type="equals""#, "zz")))
    );
    let r = s.req("REPORT", BOOK).xml(&body).send().await;
    let ms = r.xml();
    let resp = responses(&ms);
    assert_eq!(resp.len(), 1);
    let data = prop(resp[0].1, CARD_NS, "address-data").unwrap();
    assert!(data.text.contains("FN:Zed Zulu"));
}

#[tokio::test]
async fn multiget_returns_found_and_404s_the_rest() {
    let s = seeded().await;
    let body = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><D:href>{BOOK}jm.vcf</D:href><D:href>{}{BOOK}ab.vcf</D:href><D:href>{BOOK}missing.vcf</D:href><D:href>/dav/addressbooks/someone/contacts/x.vcf</D:href></C:addressbook-multiget>"#,
        s.base
    );
    let r = s
        .req("REPORT", BOOK)
        .header("depth", "1")
        .xml(&body)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let resp = responses(&ms);
    assert_eq!(resp.len(), 4);
    let get = s.req("GET", &format!("{BOOK}jm.vcf")).send().await;
    let (h, jm) = &resp[0];
    assert_eq!(h, &format!("{BOOK}jm.vcf"));
    assert_eq!(prop(jm, "DAV:", "getetag").unwrap().text, get.etag());
    assert_eq!(
        prop(jm, CARD_NS, "address-data").unwrap().text.as_bytes(),
        get.body.as_slice()
    );
    assert!(
        prop(resp[1].1, "DAV:", "getetag").is_some(),
        "absolute URL hrefs work"
    );
    for (_, r) in &resp[2..] {
        assert!(r.child("DAV:", "status").unwrap().text.contains("404"));
    }
}
