//! Exports against the real server: every format re-imported into an empty book with Kith's
//! own importer keeps every field that format holds (listed per format below), a vCard export
//! re-imports byte for byte, calendars round-trip as iCalendar, a GET on a collection returns
//! the whole collection, and each user can download their own archive.

use crate::common::*;
use kith_connectors::card::read_card;
use kith_connectors::formats::export::CsvLayout;
use kith_connectors::record::{Field, Record};
use std::collections::BTreeMap;

const ADA: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;Augusta;Lady;FRS\r\nNICKNAME:Countess\r\nORG:Analytical Engines;Research\r\nTITLE:Programmer\r\nBDAY:1815-12-10\r\nX-ANNIVERSARY:1835-07-08\r\nNOTE:First line\\nsecond\\, with a comma\r\nEMAIL;TYPE=WORK:ada@example.org\r\nEMAIL;TYPE=HOME:ada@home.example\r\nTEL;TYPE=CELL:+44 20 7946 0001\r\nTEL;TYPE=WORK:+44 20 7946 0002\r\nURL:https://www.linkedin.com/in/ada-lovelace\r\nADR;TYPE=HOME:PO 1;;12 St James's Square;London;;SW1Y 4JH;UK\r\nCATEGORIES:Family,Math\r\nX-LINKEDIN-CONNECTED-ON:2021-03-15\r\nEND:VCARD\r\n";
const GRACE: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:6a0c0d3e-4b7e-4a53-9c1c-2d64f1b4a001\r\nFN:Grace Hopper\r\nEMAIL:grace@navy.example\r\nTEL;VALUE=uri;TYPE=home:tel:+1-202-555-0100\r\nNOTE:Folded lines stay folded: this note is long enough that the line is \r\n folded at seventy-five octets as RFC 6350 says.\r\nEND:VCARD\r\n";
const ALAN: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:alan\r\nFN:Alan Turing\r\nN:Turing;Alan;;;\r\nBDAY:--0623\r\nEMAIL:alan@example.org\r\nX-CUSTOM;X-PARAM=1:kept as is\r\nEND:VCARD\r\n";

/// The fields each format holds, so each survives an export and a re-import.
fn fields(format: &str) -> Vec<Field> {
    match format {
        // vCard holds everything Kith knows about a contact.
        "vcf" | "vcf3" | "vcf4" => Field::ALL.to_vec(),
        "csv-google" => CsvLayout::Google.fields().to_vec(),
        "csv-outlook" => CsvLayout::Outlook.fields().to_vec(),
        "csv-linkedin" => CsvLayout::Linkedin.fields().to_vec(),
        other => panic!("no field list for {other}"),
    }
}

fn cli(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = kith_cli(s.dir.path(), args, "");
    assert!(ok, "kith {args:?} failed: {err}");
    out
}

async fn put_cards(s: &Server) {
    for (name, card) in [("ada.vcf", ADA), ("grace.vcf", GRACE), ("alan.vcf", ALAN)] {
        let r = s
            .req("PUT", &format!("{BOOK}{name}"))
            .vcard(card.as_bytes())
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
}

/// `user`'s cards by first email: (bytes, record).
async fn cards_of(s: &Server, user: &str, pw: &str) -> BTreeMap<String, (String, Record)> {
    let book = format!("/dav/addressbooks/{user}/contacts/");
    let r = s.req("GET", &book).auth(user, pw).send().await;
    assert_eq!(r.status, 200);
    let text = r.text();
    let mut out = BTreeMap::new();
    for chunk in text.split_inclusive("END:VCARD\r\n") {
        if !chunk.contains("BEGIN:VCARD") {
            continue;
        }
        let rec = read_card(chunk.as_bytes()).unwrap().record;
        let email = rec.elems(Field::Email).next().unwrap().0.clone();
        out.insert(email, (chunk.to_string(), rec));
    }
    out
}

/// The values of field `f` (element keys for multi-valued fields), with labels when asked.
fn values(r: &Record, f: Field, labels: bool) -> Vec<String> {
    match r.get(f) {
        Some(v) => vec![v.to_string()],
        None => r
            .elems(f)
            .map(|(k, e)| match (labels, &e.label) {
                (true, Some(l)) => format!("{k} [{l}]"),
                _ => k.clone(),
            })
            .collect(),
    }
}

#[tokio::test]
async fn every_format_round_trips_the_fields_it_holds() {
    let s = Server::start();
    put_cards(&s).await;
    let originals = cards_of(&s, "admin", ADMIN_PW).await;
    assert_eq!(originals.len(), 3);
    let dir = tempfile::tempdir().unwrap();
    for (i, format) in [
        "vcf",
        "vcf3",
        "vcf4",
        "csv-google",
        "csv-outlook",
        "csv-linkedin",
    ]
    .iter()
    .enumerate()
    {
        let file = dir.path().join(format!("export-{format}"));
        cli(
            &s,
            &[
                "export",
                "--user",
                "admin",
                "--format",
                format,
                "-o",
                file.to_str().unwrap(),
            ],
        );
        // An empty book: a new user per format.
        let user = format!("u{i}");
        let pw = "round-trip-pw-1";
        s.add_user(&user, pw);
        let out = cli(&s, &["import", file.to_str().unwrap(), "--user", &user]);
        assert!(out.contains("applied"), "{format}: {out}");
        let back = cards_of(&s, &user, pw).await;
        let linkedin = *format == "csv-linkedin";
        for (email, (bytes, rec)) in &originals {
            let Some((got_bytes, got)) = back.get(email) else {
                panic!("{format}: {email} was not re-imported");
            };
            if *format == "vcf" {
                assert_eq!(got_bytes, bytes, "a vCard export re-imports byte for byte");
            }
            for f in fields(format) {
                // Year-less dates have no Outlook form; LinkedIn holds one email and the
                // profile URL only.
                let mut want = values(rec, f, *format == "csv-google");
                if *format == "csv-outlook"
                    && matches!(f, Field::Birthday | Field::Anniversary)
                    && want.iter().any(|d| d.starts_with("--"))
                {
                    continue;
                }
                // CSV layouts have no full-name column: a card with only a full name keeps
                // it in the first-name column.
                let no_parts = [Field::GivenName, Field::MiddleName, Field::FamilyName]
                    .iter()
                    .all(|p| rec.get(*p).is_none());
                if format.starts_with("csv") && f == Field::GivenName && no_parts {
                    want = values(rec, Field::FullName, false);
                }
                if linkedin && f == Field::Email {
                    want.truncate(1);
                }
                if linkedin && f == Field::Url {
                    want.retain(|u| u.contains("linkedin.com"));
                }
                assert_eq!(
                    values(got, f, *format == "csv-google"),
                    want,
                    "{format}: {email} {f:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn calendars_round_trip_as_icalendar() {
    let s = Server::start();
    let zone = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";
    let weekly = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n{zone}BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nDTEND;TZID=Europe/Berlin:20260105T093000\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\nSUMMARY:Standup\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:Soon\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\nDTSTART;TZID=Europe/Berlin:20260112T100000\r\nDTEND;TZID=Europe/Berlin:20260112T103000\r\nSUMMARY:Standup (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let lunch = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:lunch\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260110\r\nSUMMARY:Lunch\\, with a comma\r\nDESCRIPTION:A description long enough to be folded by the client that wrote \r\n it, which Kith keeps exactly.\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let task = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VTODO\r\nUID:task1\r\nDTSTAMP:20260101T000000Z\r\nDUE:20260120T170000Z\r\nSUMMARY:File taxes\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    for (path, body) in [
        ("/dav/calendars/admin/personal/weekly.ics", weekly.as_str()),
        ("/dav/calendars/admin/personal/lunch.ics", lunch),
        ("/dav/calendars/admin/tasks/task1.ics", task),
    ] {
        let r = s
            .req("PUT", path)
            .header("content-type", "text/calendar")
            .body(body.to_string())
            .send()
            .await;
        assert_eq!(r.status, 201, "{path}: {}", r.text());
    }
    // GET on a calendar: one text/calendar file, one VTIMEZONE per TZID.
    let g = s.req("GET", "/dav/calendars/admin/personal/").send().await;
    assert_eq!(g.status, 200);
    assert!(
        g.header("content-type")
            .unwrap()
            .starts_with("text/calendar")
    );
    let whole = g.text();
    assert_eq!(whole.matches("BEGIN:VCALENDAR").count(), 1);
    assert_eq!(whole.matches("BEGIN:VEVENT").count(), 3);
    assert_eq!(whole.matches("BEGIN:VTIMEZONE").count(), 1);

    let dir = tempfile::tempdir().unwrap();
    s.add_user("bob", "bob-pw-123456");
    for (cal, uids) in [
        ("personal", vec!["weekly", "lunch"]),
        ("tasks", vec!["task1"]),
    ] {
        let file = dir.path().join(format!("{cal}.ics"));
        cli(
            &s,
            &[
                "export",
                "--user",
                "admin",
                "--book",
                cal,
                "--format",
                "ics",
                "-o",
                file.to_str().unwrap(),
            ],
        );
        let import = [
            "import",
            file.to_str().unwrap(),
            "--user",
            "bob",
            "--book",
            cal,
        ];
        let out = cli(&s, &import);
        assert!(out.contains(&format!("{} created", uids.len())), "{out}");
        // The same file again changes nothing.
        let again = cli(&s, &import);
        assert!(again.contains("0 created, 0 updated"), "{again}");
        for uid in uids {
            let mine = s
                .req("GET", &format!("/dav/calendars/admin/{cal}/{uid}.ics"))
                .send()
                .await
                .text();
            let theirs = s
                .req("GET", &format!("/dav/calendars/bob/{cal}/{uid}.ics"))
                .auth("bob", "bob-pw-123456")
                .send()
                .await;
            assert_eq!(theirs.status, 200, "{uid}");
            // Every component comes back byte for byte; only the VCALENDAR wrapper (PRODID)
            // is Kith's.
            let body = |t: &str| t[t.find("\r\nBEGIN:V").unwrap()..].to_string();
            let body_of = |t: &str| {
                let b = body(t);
                b[b.find("BEGIN:V").unwrap()..].to_string()
            };
            assert_eq!(body_of(&theirs.text()), body_of(&mine), "{uid}");
        }
    }
}

#[tokio::test]
async fn a_collection_get_returns_the_whole_book_and_only_to_its_owner() {
    let s = Server::start();
    put_cards(&s).await;
    let g = s.req("GET", BOOK).send().await;
    assert_eq!(g.status, 200);
    assert_eq!(
        g.header("content-type").as_deref(),
        Some("text/vcard; charset=utf-8")
    );
    assert!(
        g.header("content-disposition")
            .unwrap()
            .contains("contacts.vcf")
    );
    let text = g.text();
    for card in [ADA, GRACE, ALAN] {
        assert!(text.contains(card), "every stored card, as stored");
    }
    let h = s.req("HEAD", BOOK).send().await;
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    s.add_user("eve", "eve-pw-123456");
    let r = s.req("GET", BOOK).auth("eve", "eve-pw-123456").send().await;
    assert_eq!(r.status, 404, "another user's book does not exist for eve");
    assert_eq!(s.anon("GET", BOOK).send().await.status, 401);
}

/// A user downloads their own archive with their own password: no admin involved.
#[tokio::test]
async fn users_download_their_own_archive() {
    let s = Server::start();
    s.add_user("carol", "carol-pw-12345");
    let r = s
        .req("PUT", "/dav/addressbooks/carol/contacts/ada.vcf")
        .auth("carol", "carol-pw-12345")
        .vcard(ADA.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 201);
    put_cards(&s).await; // admin's cards must not appear in carol's archive

    assert_eq!(
        s.anon("GET", "/account/export.zip").send().await.status,
        401
    );
    let z = s
        .req("GET", "/account/export.zip")
        .auth("carol", "carol-pw-12345")
        .send()
        .await;
    assert_eq!(z.status, 200);
    assert_eq!(z.header("content-type").as_deref(), Some("application/zip"));
    assert!(
        z.header("content-disposition")
            .unwrap()
            .contains("kith-carol-")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zip");
    std::fs::write(&path, &z.body).unwrap();
    let list = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; \
             print('\\n'.join(z.namelist())); print(z.read('contacts/contacts.vcf').decode()); \
             print(z.read('contacts.csv').decode())",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let text = String::from_utf8_lossy(&list.stdout);
    for name in [
        "README.txt",
        "contacts/contacts.vcf",
        "calendars/personal.ics",
        "calendars/tasks.ics",
        "contacts.csv",
    ] {
        assert!(text.lines().any(|l| l == name), "{name} in {text}");
    }
    assert!(text.contains(ADA), "the card as stored");
    assert!(text.contains("ada@example.org"), "the CSV has the contact");
    assert!(!text.contains("grace@navy.example"), "nothing of admin's");
}
