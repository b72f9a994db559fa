//! Property-based: cards, calendar objects and dead properties generated with random names,
//! parameters and bytes (XML specials, CDATA ends, escapes, non-ASCII, control characters,
//! non-characters, invalid UTF-8). Whatever is sent, the server never answers 5xx; what it
//! stores comes back the same by GET and by every REPORT; and every multistatus parses as XML.
//! The generator is seeded, so a failure names the seed and case that reproduce it.

use crate::common::*;
use kith_dav::xml::Element;

const CARD_NS: &str = "urn:ietf:params:xml:ns:carddav";
const CAL_NS: &str = "urn:ietf:params:xml:ns:caldav";
const PERSONAL: &str = "/dav/calendars/admin/personal/";

/// xorshift64*: small, seeded, and good enough to pick test input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces a value is made of: each one has broken some server's XML or parser.
const PIECES: &[&[u8]] = &[
    b"plain",
    b" ",
    b"<tag>",
    b"&amp;",
    b"&",
    b"]]>",
    b"\"quoted\"",
    b"'",
    b"\\n",
    b"\\,",
    b"\\;",
    b";",
    b",",
    b":",
    "Müller".as_bytes(),
    "漢字".as_bytes(),
    "🎉".as_bytes(),
    "\u{fffd}".as_bytes(),
    "\u{200b}".as_bytes(),
    b"\x07",
    b"\x00",
    b"\x1b[0m",
    b"\xe9",
    b"\xff\xfe",
    "\u{ffff}".as_bytes(),
    b"\t",
    b"=0D=0A",
];

fn value(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..1 + rng.below(6) {
        let piece: &[u8] = PIECES[rng.below(PIECES.len())];
        v.extend_from_slice(piece);
    }
    v
}

const CARD_PROPS: &[&str] = &[
    "NOTE",
    "NICKNAME",
    "TITLE",
    "ORG",
    "X-CUSTOM",
    "item1.X-ABLabel",
    "EMAIL;TYPE=work",
    "TEL;TYPE=\"cell,voice\"",
    "ADR;TYPE=home",
    "URL",
    "X-SOCIAL;X-USER=\"a:b\"",
];

fn card(rng: &mut Rng, uid: &str) -> Vec<u8> {
    let version = if rng.below(2) == 0 { "3.0" } else { "4.0" };
    let mut c = format!("BEGIN:VCARD\r\nVERSION:{version}\r\nUID:{uid}\r\nFN:").into_bytes();
    c.extend(value(rng));
    c.extend_from_slice(b"\r\n");
    for _ in 0..rng.below(6) {
        c.extend_from_slice(rng.pick(CARD_PROPS).as_bytes());
        c.push(b':');
        c.extend(value(rng));
        c.extend_from_slice(b"\r\n");
    }
    c.extend_from_slice(b"END:VCARD\r\n");
    c
}

fn event(rng: &mut Rng, uid: &str) -> Vec<u8> {
    let mut c = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//gen//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTAMP:20240101T000000Z\r\nDTSTART:20240301T100000Z\r\nDURATION:PT1H\r\n"
    )
    .into_bytes();
    if rng.below(2) == 0 {
        c.extend_from_slice(b"RRULE:FREQ=WEEKLY;COUNT=3\r\n");
    }
    for name in [
        "SUMMARY:",
        "DESCRIPTION;LANGUAGE=en:",
        "LOCATION:",
        "X-EXTRA;X-P=\"q:r\":",
    ] {
        if rng.below(3) > 0 {
            c.extend_from_slice(name.as_bytes());
            c.extend(value(rng));
            c.extend_from_slice(b"\r\n");
        }
    }
    c.extend_from_slice(b"END:VEVENT\r\nEND:VCALENDAR\r\n");
    c
}

/// The text of each response's `ns:name` property, by href; panics (failing the test) if the
/// body is not well-formed XML.
fn datas(r: &Resp, ns: &str, name: &str) -> Vec<(String, String)> {
    assert_eq!(r.status, 207, "{}", r.text());
    assert_xml_chars(&r.body);
    let ms: Element = r.xml();
    responses(&ms)
        .into_iter()
        .filter_map(|(h, e)| prop(e, ns, name).map(|p| (h, p.text.clone())))
        .collect()
}

/// Stores generated objects with `make` into `coll`; returns the hrefs stored and their GET text.
async fn store_all(
    s: &Server,
    coll: &str,
    seed: u64,
    make: fn(&mut Rng, &str) -> Vec<u8>,
    content_type: &str,
) -> Vec<(String, String)> {
    let mut rng = Rng(seed);
    let mut stored = Vec::new();
    let mut refused = 0;
    for i in 0..60 {
        let body = make(&mut rng, &format!("gen-{seed:x}-{i}"));
        let ext = if coll == BOOK { "vcf" } else { "ics" };
        let href = format!("{coll}gen-{seed:x}-{i}.{ext}");
        let r = s
            .req("PUT", &href)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await;
        match r.status.as_u16() {
            201 => {
                let got = s.req("GET", &href).send().await;
                assert_eq!(got.body, body, "seed {seed} case {i}: stored as sent");
                let text = String::from_utf8(got.body).unwrap_or_else(|_| {
                    panic!("seed {seed} case {i}: stored bytes that are not UTF-8")
                });
                stored.push((href, text));
            }
            403 => {
                // A refusal names its precondition and loses nothing else.
                let (_, cond) = error_condition(&r);
                assert!(
                    cond.starts_with("valid-") || cond == "supported-address-data",
                    "seed {seed} case {i}: {cond}"
                );
                refused += 1;
            }
            other => panic!(
                "seed {seed} case {i}: {other} for {:?}",
                String::from_utf8_lossy(&body)
            ),
        }
    }
    // The generator reaches both sides of the rules.
    assert!(
        refused > 0 && stored.len() >= 10,
        "seed {seed}: {refused} refused, {} stored",
        stored.len()
    );
    stored
}

#[tokio::test]
async fn generated_cards_read_the_same_by_every_route() {
    let s = Server::start();
    for seed in [0x5eed_0001_u64, 0x5eed_0002] {
        let stored = store_all(&s, BOOK, seed, card, "text/vcard").await;
        assert!(
            stored.len() >= 10,
            "seed {seed}: only {} stored",
            stored.len()
        );
        let hrefs: String = stored
            .iter()
            .map(|(h, _)| format!("<d:href>{h}</d:href>"))
            .collect();
        let multiget = s
            .req("REPORT", BOOK)
            .xml(&format!(
                r#"<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="{CARD_NS}"><d:prop><c:address-data/></d:prop>{hrefs}</c:addressbook-multiget>"#
            ))
            .send()
            .await;
        let query = s
            .req("REPORT", BOOK)
            .xml(&format!(
                r#"<c:addressbook-query xmlns:d="DAV:" xmlns:c="{CARD_NS}"><d:prop><c:address-data/></d:prop></c:addressbook-query>"#
            ))
            .send()
            .await;
        let sync = s
            .req("REPORT", BOOK)
            .xml(&sync_report("", None, "<c:address-data/>"))
            .send()
            .await;
        for r in [&multiget, &query, &sync] {
            let got: std::collections::HashMap<_, _> =
                datas(r, CARD_NS, "address-data").into_iter().collect();
            for (href, text) in &stored {
                assert_eq!(got.get(href), Some(text), "seed {seed}: {href}");
            }
        }
        // Partial retrieval and conversion to the other version still parse.
        let partial = s
            .req("REPORT", BOOK)
            .xml(&format!(
                r#"<c:addressbook-query xmlns:d="DAV:" xmlns:c="{CARD_NS}"><d:prop><c:address-data version="4.0"><c:prop name="NOTE"/><c:prop name="X-CUSTOM" novalue="yes"/></c:address-data></d:prop></c:addressbook-query>"#
            ))
            .send()
            .await;
        assert!(!datas(&partial, CARD_NS, "address-data").is_empty());
    }
}

#[tokio::test]
async fn generated_events_read_the_same_by_every_route() {
    let s = Server::start();
    let stored = store_all(&s, PERSONAL, 0x5eed_0003, event, "text/calendar").await;
    assert!(stored.len() >= 10, "only {} stored", stored.len());
    let query = |inner: &str| {
        format!(
            r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="{CAL_NS}"><d:prop><d:getetag/>{inner}</d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>"#
        )
    };
    let whole = s
        .req("REPORT", PERSONAL)
        .xml(&query("<c:calendar-data/>"))
        .send()
        .await;
    let got: std::collections::HashMap<_, _> =
        datas(&whole, CAL_NS, "calendar-data").into_iter().collect();
    for (href, text) in &stored {
        assert_eq!(got.get(href), Some(text), "{href}");
    }
    for inner in [
        r#"<c:calendar-data><c:expand start="20240101T000000Z" end="20250101T000000Z"/></c:calendar-data>"#,
        r#"<c:calendar-data><c:comp name="VCALENDAR"><c:comp name="VEVENT"><c:prop name="SUMMARY"/><c:prop name="X-EXTRA" novalue="yes"/></c:comp></c:comp></c:calendar-data>"#,
    ] {
        let r = s.req("REPORT", PERSONAL).xml(&query(inner)).send().await;
        assert_eq!(datas(&r, CAL_NS, "calendar-data").len(), stored.len());
    }
}

/// Dead properties with generated text (sent escaped, as XML requires) come back as sent.
#[tokio::test]
async fn generated_dead_properties_come_back_as_sent() {
    let s = Server::start();
    let mut rng = Rng(0x5eed_0004);
    for i in 0..30 {
        let text = String::from_utf8_lossy(&value(&mut rng)).into_owned();
        let escaped = kith_dav::xml::escape(&text).into_owned();
        let r = s
            .req("PROPPATCH", BOOK)
            .xml(&format!(
                r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:example:gen"><d:set><d:prop><x:note>{escaped}</x:note></d:prop></d:set></d:propertyupdate>"#
            ))
            .send()
            .await;
        assert!(r.status.as_u16() < 500, "case {i}: {}", r.status);
        let r = s
            .req("PROPFIND", BOOK)
            .header("depth", "0")
            .xml(r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:example:gen"><d:prop><x:note/></d:prop></d:propfind>"#)
            .send()
            .await;
        assert_xml_chars(&r.body);
        let ms = r.xml();
        let got = &prop(responses(&ms)[0].1, "urn:example:gen", "note")
            .expect("the property was stored")
            .text;
        // What XML can carry comes back as it was; the rest was sent as U+FFFD already.
        assert_eq!(got, &escaped_back(&text), "case {i}");
    }
}

/// `text` as an XML reader sees it after [`kith_dav::xml::escape`]: characters XML cannot
/// carry are U+FFFD.
fn escaped_back(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Every character of `body` is one XML 1.0 allows (§2.2), which the tree parser does not
/// check: a raw control character or U+FFFF there is what breaks a client's whole sync.
fn assert_xml_chars(body: &[u8]) {
    let text = std::str::from_utf8(body).expect("a multistatus is UTF-8");
    if let Some((at, c)) = text.char_indices().find(|(_, c)| {
        let c = *c as u32;
        !(matches!(c, 0x9 | 0xA | 0xD)
            || (0x20..=0xD7FF).contains(&c)
            || (0xE000..=0xFFFD).contains(&c)
            || c >= 0x10000)
    }) {
        panic!("U+{:04X} at byte {at} is not an XML character", c as u32);
    }
}
