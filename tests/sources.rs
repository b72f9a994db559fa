//! Sources and the reconcile engine, end to end: `kith import`/`source`/`sync` against a running
//! server's database, checked through CardDAV as a client would see the book.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/sources/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn kith(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = kith_cli(s.dir.path(), args, "");
    assert!(ok, "kith {args:?} failed: {err}\n{out}");
    out
}

fn kith_fails(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = kith_cli(s.dir.path(), args, "");
    assert!(!ok, "kith {args:?} should fail:\n{out}");
    err
}

fn import(s: &Server, file: &str, extra: &[&str]) -> String {
    let mut args = vec!["import", file, "--user", "admin"];
    args.extend_from_slice(extra);
    kith(s, &args)
}

/// The number after `label` in a summary table line such as `  create      3`.
fn count(out: &str, label: &str) -> usize {
    out.lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(label)).then(|| w.next()?.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{out}"))
}

fn run_id(out: &str) -> String {
    out.split_whitespace()
        .skip_while(|w| *w != "Run")
        .nth(1)
        .unwrap_or_else(|| panic!("no run id in:\n{out}"))
        .to_string()
}

/// Every card of admin's book, by resource name, as a client downloads it.
async fn book(s: &Server) -> BTreeMap<String, String> {
    download_book(s)
        .await
        .into_iter()
        .map(|(name, (_, text))| (name, text))
        .collect()
}

fn cards_with<'a>(book: &'a BTreeMap<String, String>, needle: &str) -> Vec<&'a String> {
    book.values()
        .filter(|c| c.to_lowercase().contains(&needle.to_lowercase()))
        .collect()
}

fn linkedin_csv(dir: &Path, name: &str, rows: &[String]) -> String {
    let path: PathBuf = dir.join(name);
    let text = format!(
        "\u{feff}Notes:\n\"When exporting your connection data, you may notice that some of the email addresses are missing.\"\n\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\n{}\n",
        rows.join("\n")
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn person(i: usize, company: &str, title: &str) -> String {
    format!("Person{i},Test,https://www.linkedin.com/in/person-{i},,{company},{title},01 Jan 2024")
}

#[tokio::test]
async fn exports_that_share_people_merge_into_one_card_each_with_provenance() {
    let s = Server::start();
    import(&s, &fixture("linkedin-2024.csv"), &[]);
    let out = import(&s, &fixture("google.csv"), &[]);
    assert_eq!(
        count(&out, "link"),
        2,
        "Arjun by email, Priya by her LinkedIn URL:\n{out}"
    );
    assert_eq!(count(&out, "create"), 1);
    assert!(out.contains("line 7, column \"Birthday\""), "{out}");
    import(&s, &fixture("outlook-com.csv"), &[]);
    import(&s, &fixture("contacts.vcf"), &[]);
    // The desktop export's Lena has only an email LinkedIn never showed: a name+company match
    // is proposed, not linked.
    let out = import(
        &s,
        &fixture("outlook-desktop.csv"),
        &["--source", "outlook-desktop"],
    );
    assert_eq!(count(&out, "propose"), 1, "{out}");
    assert!(out.contains("--accept-merges"), "{out}");
    let out = import(
        &s,
        &fixture("outlook-desktop.csv"),
        &["--source", "outlook-desktop", "--accept-merges"],
    );
    assert_eq!(count(&out, "link"), 1, "{out}");

    let b = book(&s).await;
    // LinkedIn 5 + Mei (Google) + Jonas (Outlook) + Jörg, Ana (vCard) + Hanna (desktop).
    assert_eq!(b.len(), 10, "{:#?}", b.keys());
    let arjun = cards_with(&b, "arjun@example.com");
    assert_eq!(arjun.len(), 1, "one card per person");
    let arjun = arjun[0];
    for want in [
        "arjun.mehta@example.net",
        "+1 206 555 0143",
        "Seattle",
        "linkedin.com/in/ArjunMehta",
        "NICKNAME:AJ",
        "ORG:Amazon Web Services (AWS);Payments",
    ] {
        assert!(arjun.contains(want), "{want} missing from\n{arjun}");
    }
    assert_eq!(
        arjun.matches("TEL").count(),
        2,
        "+1 206 555 0143 and (206) 555-0143 are one number:\n{arjun}"
    );
    let lena = cards_with(&b, "lena@nordlys.example");
    assert_eq!(lena.len(), 1);
    assert!(lena[0].contains("linkedin.com/in/lena-berg") && lena[0].contains("Customers"));
    assert_eq!(cards_with(&b, "sofia.rossi@example.org").len(), 1);
    // Cards from a vCard file are kept whole: their own UID, photo and custom properties; a
    // 2.1 card (quoted-printable) is stored as 3.0.
    let ana = cards_with(&b, "ana@example.com.br");
    assert_eq!(ana.len(), 1);
    for want in [
        "UID:urn:uuid:7d0b8c52-1111-4a8e-8a0a-6f1c2e3d4b5a",
        "PHOTO:data:image/png;base64,iVBORw0KGgo=",
        "X-CUSTOM-FIELD;X-PARAM=1:kept",
    ] {
        assert!(ana[0].contains(want), "{want} missing from\n{}", ana[0]);
    }
    let jorg = cards_with(&b, "joerg@example.de");
    assert!(
        jorg[0].contains("VERSION:3.0") && jorg[0].contains("Jörg Müller"),
        "{}",
        jorg[0]
    );

    let show = kith(&s, &["source", "show", "linkedin-csv", "--user", "admin"]);
    let line = |needle: &str| {
        show.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in:\n{show}"))
            .to_string()
    };
    assert!(line("arjun@example.com").contains("linkedin-csv, google-csv, outlook-csv"));
    assert!(
        line("arjun.mehta@example.net")
            .trim_end()
            .ends_with("google-csv")
    );
    assert!(
        line("Engineering Manager, Payments")
            .trim_end()
            .ends_with("linkedin-csv")
    );
    assert!(
        line("priya.sharma@example.net")
            .trim_end()
            .ends_with("google-csv")
    );
}

#[tokio::test]
async fn reimports_change_nothing_and_a_newer_export_changes_only_what_changed() {
    let s = Server::start();
    let first = import(&s, &fixture("linkedin-2024.csv"), &[]);
    assert_eq!(count(&first, "create"), 5);
    let before = book(&s).await;
    let again = import(&s, &fixture("linkedin-2024.csv"), &[]);
    assert_eq!(count(&again, "unchanged"), 5);
    for a in ["create", "update", "unlink", "delete"] {
        assert_eq!(count(&again, a), 0, "{again}");
    }
    assert_eq!(book(&s).await, before, "byte for byte");

    let plan = import(&s, &fixture("linkedin-2025.csv"), &["--dry-run"]);
    assert_eq!(count(&plan, "update"), 1, "{plan}");
    assert_eq!(count(&plan, "create"), 1);
    assert_eq!(count(&plan, "unlink"), 1);
    assert_eq!(count(&plan, "delete"), 0);
    assert!(
        plan.contains("company: \"Stripe, Inc.\" → \"Plaid\""),
        "{plan}"
    );
    assert!(plan.contains("delete protection keeps the card"), "{plan}");
    assert_eq!(book(&s).await, before, "a dry run changes nothing");

    let id = run_id(&plan);
    let applied = kith(&s, &["sync", "apply", &id]);
    assert!(applied.contains(": applied"), "{applied}");
    let after = book(&s).await;
    assert_eq!(after.len(), 6, "Omar's card stays after he left the export");
    assert_eq!(cards_with(&after, "Omar").len(), 1);
    assert_eq!(cards_with(&after, "ORG:Plaid").len(), 1);
    assert_eq!(cards_with(&after, "Chen").len(), 1);
    let again = kith_fails(&s, &["sync", "apply", &id]);
    assert!(again.contains("already applied"), "{again}");
    let list = kith(&s, &["source", "list", "--user", "admin"]);
    assert!(list.contains("5 linked"), "{list}");
}

#[tokio::test]
async fn client_edits_survive_an_older_export_and_the_plan_says_why() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let v1 = linkedin_csv(dir.path(), "v1.csv", &[person(1, "Acme", "Engineer")]);
    import(&s, &v1, &["--source", "li"]);
    let b = book(&s).await;
    let (name, card) = b.iter().next().unwrap();
    let href = format!("{BOOK}{name}");
    let etag = s.req("GET", &href).send().await.etag();
    let edited = card
        .replace("TITLE:Engineer", "TITLE:CTO")
        .replace("END:VCARD", "TEL;TYPE=cell:+47 912 34 567\r\nEND:VCARD");
    let r = s
        .req("PUT", &href)
        .header("if-match", &etag)
        .vcard(edited.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 204);

    let older = linkedin_csv(dir.path(), "v0.csv", &[person(1, "Acme", "Intern")]);
    let plan = import(&s, &older, &["--source", "li", "--dry-run"]);
    assert!(
        plan.contains("kept your edit \"CTO\"; li says \"Intern\""),
        "{plan}"
    );
    assert_eq!(count(&plan, "conflicts"), 1);
    assert_eq!(count(&plan, "update"), 0);
    kith(&s, &["sync", "apply", &run_id(&plan)]);
    let after = s.req("GET", &href).send().await.text();
    assert_eq!(after, edited, "the client's card is untouched");
    // The older value is now what Kith agreed with the source: no churn on the next import.
    let again = import(&s, &older, &["--source", "li"]);
    assert_eq!(count(&again, "unchanged"), 1, "{again}");
}

#[tokio::test]
async fn a_mass_removal_trips_the_guard_until_forced() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (0..20).map(|i| person(i, "Acme", "Engineer")).collect();
    import(
        &s,
        &linkedin_csv(dir.path(), "all.csv", &rows),
        &["--source", "li"],
    );
    let fewer = linkedin_csv(dir.path(), "fewer.csv", &rows[..12]);
    let out = import(&s, &fewer, &["--source", "li"]);
    assert!(out.contains(": paused"), "{out}");
    assert!(
        out.contains("Guard mass-delete: 8 of 20 linked contacts"),
        "{out}"
    );
    let list = kith(&s, &["source", "list", "--user", "admin"]);
    assert!(
        list.contains("paused") && list.contains("20 linked"),
        "nothing applied:\n{list}"
    );
    let events = kith(&s, &["sync", "events", "--user", "admin"]);
    assert!(events.contains("paused by a guard"), "{events}");

    let id = run_id(&out);
    let refused = kith_fails(&s, &["sync", "apply", &id]);
    assert!(refused.contains("--force"), "{refused}");
    let shown = kith(&s, &["sync", "show", &id]);
    assert_eq!(shown.matches("unlink   Person").count(), 8, "{shown}");
    kith(&s, &["sync", "apply", &id, "--force"]);
    let list = kith(&s, &["source", "list", "--user", "admin"]);
    assert!(
        list.contains("ready") && list.contains("12 linked"),
        "{list}"
    );
    assert_eq!(book(&s).await.len(), 20, "unlinked, never deleted");
}

#[tokio::test]
async fn undo_restores_the_book_exactly_and_clients_see_it_through_sync() {
    let s = Server::start();
    let empty = book(&s).await;
    let first = import(&s, &fixture("linkedin-2024.csv"), &[]);
    let after_first = book(&s).await;
    let r = s
        .req("REPORT", BOOK)
        .xml(&sync_report("", None, "<d:getetag/>"))
        .send()
        .await;
    let token = r.xml().child("DAV:", "sync-token").unwrap().text.clone();

    let second = import(&s, &fixture("linkedin-2025.csv"), &[]);
    assert_ne!(book(&s).await, after_first);
    let out = kith(&s, &["sync", "undo", &run_id(&second)]);
    assert!(out.contains("1 cards restored, 1 removed"), "{out}");
    assert_eq!(
        book(&s).await,
        after_first,
        "the book is as it was, byte for byte"
    );

    // A client holding the token from before the undone run sees the undo as changes.
    let r = s
        .req("REPORT", BOOK)
        .xml(&sync_report(&token, None, "<d:getetag/>"))
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let rs = responses(&ms);
    let gone = rs
        .iter()
        .filter(|(_, e)| {
            e.child("DAV:", "status")
                .is_some_and(|st| st.text.contains("404"))
        })
        .count();
    assert_eq!(gone, 1, "Chen's card, created then undone: {}", r.text());
    assert_eq!(rs.len(), 2, "and Priya's card, restored: {}", r.text());

    let history = kith(&s, &["sync", "history", "--user", "admin"]);
    assert!(
        history.contains("undone") && history.contains("undo of run"),
        "{history}"
    );
    kith(&s, &["sync", "undo", &run_id(&first)]);
    assert_eq!(book(&s).await, empty);
    let twice = kith_fails(&s, &["sync", "undo", &run_id(&first)]);
    assert!(twice.contains("only an applied run"), "{twice}");
}

#[tokio::test]
async fn rules_are_set_by_flags_or_toml_and_automatic_runs_wait_for_an_applied_plan() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kith.toml");
    std::fs::write(&config, "[sync]\nscheduler_tick_secs = 1\n").unwrap();
    let s = Server::start_with(&[("KITH_CONFIG", config.to_str().unwrap())]);
    let watched = dir.path().join("Connections.csv");
    std::fs::copy(fixture("linkedin-2024.csv"), &watched).unwrap();
    let watched = watched.display().to_string();
    let plan = import(&s, &watched, &["--dry-run"]);
    let refused = kith_fails(
        &s,
        &[
            "source",
            "rules",
            "linkedin-csv",
            "--user",
            "admin",
            "--auto",
            "on",
        ],
    );
    assert!(
        refused.contains("stays manual until one plan is applied"),
        "{refused}"
    );
    let bad = kith_fails(
        &s,
        &[
            "source",
            "rules",
            "linkedin-csv",
            "--user",
            "admin",
            "--direction",
            "two-way",
        ],
    );
    assert!(
        bad.contains("file and directory sources are import-only"),
        "{bad}"
    );
    let bad = kith_fails(
        &s,
        &[
            "source",
            "rules",
            "linkedin-csv",
            "--user",
            "admin",
            "--field",
            "colour=source",
        ],
    );
    assert!(bad.contains("unknown field \"colour\""), "{bad}");
    let rules_file = dir.path().join("rules.toml");
    std::fs::write(
        &rules_file,
        "delete-protection = true\nignore-domains = [\"example.com\"]\n[fields]\ntitle = \"source\"\n[kith]\ndelete = false\n",
    )
    .unwrap();
    let shown = kith(
        &s,
        &[
            "source",
            "rules",
            "linkedin-csv",
            "--user",
            "admin",
            "--file",
            rules_file.to_str().unwrap(),
        ],
    );
    assert!(shown.contains("ignore domains     example.com"), "{shown}");
    assert!(
        shown.contains("field title        owned by source"),
        "{shown}"
    );
    // The stale plan was made under other rules and before; apply a fresh one.
    let _ = plan;
    let out = kith(&s, &["sync", "plan", "linkedin-csv", "--user", "admin"]);
    assert_eq!(
        count(&out, "ignore"),
        1,
        "Arjun's only email is on example.com:\n{out}"
    );
    kith(&s, &["sync", "apply", &run_id(&out)]);
    let shown = kith(
        &s,
        &[
            "source",
            "rules",
            "linkedin-csv",
            "--user",
            "admin",
            "--auto",
            "on",
            "--every",
            "1s",
            "--window",
            "00:00-24:00",
            "--timezone",
            "Europe/Oslo",
        ],
    );
    assert!(
        shown.contains("automatic, every 1s, between 00:00-24:00 Europe/Oslo"),
        "{shown}"
    );

    // The scheduler inside `kith serve` picks up the newer export on its own.
    std::fs::copy(fixture("linkedin-2025.csv"), &watched).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let b = book(&s).await;
        if !cards_with(&b, "Chen").is_empty() {
            assert_eq!(cards_with(&b, "ORG:Plaid").len(), 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled run applied the new export"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let history = kith(
        &s,
        &[
            "sync",
            "history",
            "--user",
            "admin",
            "--source",
            "linkedin-csv",
        ],
    );
    assert!(history.contains("schedule"), "{history}");
}

#[tokio::test]
async fn bad_files_and_requests_get_clear_errors() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.csv");
    std::fs::write(&junk, "name,phone\nx,1\n").unwrap();
    let err = kith_fails(&s, &["import", junk.to_str().unwrap(), "--user", "admin"]);
    assert!(err.contains("no known header row"), "{err}");
    let err = kith_fails(
        &s,
        &[
            "import",
            &fixture("google.csv"),
            "--user",
            "admin",
            "--format",
            "vcard",
        ],
    );
    assert!(err.contains("looks like google-csv"), "{err}");
    let err = kith_fails(&s, &["import", &fixture("google.csv"), "--user", "nobody"]);
    assert!(err.contains("nobody"), "{err}");
    let err = kith_fails(
        &s,
        &[
            "import",
            &fixture("google.csv"),
            "--user",
            "admin",
            "--book",
            "nope",
        ],
    );
    assert!(err.contains("no address book named \"nope\""), "{err}");
    // A source reads one kind of file: another kind under its name is refused, naming both.
    import(&s, &fixture("contacts.vcf"), &["--source", "people"]);
    let err = kith_fails(
        &s,
        &[
            "import",
            &fixture("google.csv"),
            "--user",
            "admin",
            "--source",
            "people",
        ],
    );
    assert!(
        err.contains("source \"people\" reads vCard files, not Google CSV")
            && err.contains("--source"),
        "{err}"
    );
    let err = kith_fails(&s, &["sync", "apply", "999"]);
    assert!(err.contains("there is no run 999"), "{err}");
    let err = kith_fails(&s, &["source", "show", "nope", "--user", "admin"]);
    assert!(err.contains("no source named \"nope\""), "{err}");
    assert_eq!(book(&s).await.len(), 3, "only the vCard file's cards");
}

#[tokio::test]
async fn removing_a_source_keeps_its_cards_unless_asked() {
    let s = Server::start();
    import(&s, &fixture("linkedin-2024.csv"), &[]);
    import(&s, &fixture("google.csv"), &[]);
    let r = s.req("MKCOL", "/dav/addressbooks/admin/work/").send().await;
    assert_eq!(r.status, 201);
    let err = kith_fails(
        &s,
        &[
            "import",
            &fixture("linkedin-2024.csv"),
            "--user",
            "admin",
            "--book",
            "work",
        ],
    );
    assert!(err.contains("already feeds another address book"), "{err}");
    let out = kith(&s, &["source", "remove", "google-csv", "--user", "admin"]);
    assert!(out.contains("its cards stay"), "{out}");
    assert_eq!(book(&s).await.len(), 6);
    let out = kith(
        &s,
        &[
            "source",
            "remove",
            "linkedin-csv",
            "--user",
            "admin",
            "--delete-cards",
        ],
    );
    assert!(out.contains("5 cards"), "{out}");
    assert_eq!(book(&s).await.len(), 1, "Mei came from Google only");
}

#[tokio::test]
async fn a_stored_plan_is_refused_when_the_book_changed_and_updates_keep_what_kith_does_not_manage()
{
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    import(
        &s,
        &linkedin_csv(dir.path(), "v1.csv", &[person(1, "Acme", "Engineer")]),
        &["--source", "li"],
    );
    let b = book(&s).await;
    let (name, card) = b.iter().next().unwrap();
    let href = format!("{BOOK}{name}");
    let v2 = linkedin_csv(dir.path(), "v2.csv", &[person(1, "Globex", "Engineer")]);
    let plan = import(&s, &v2, &["--source", "li", "--dry-run"]);
    assert_eq!(count(&plan, "update"), 1, "{plan}");

    // A client adds a photo and a custom property after the plan was made.
    let etag = s.req("GET", &href).send().await.etag();
    let edited = card.replace(
        "END:VCARD",
        "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ==\r\nX-CUSTOM-FIELD;X-PARAM=1:kept\r\nEND:VCARD",
    );
    let r = s
        .req("PUT", &href)
        .header("if-match", &etag)
        .vcard(edited.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 204);
    let refused = kith_fails(&s, &["sync", "apply", &run_id(&plan)]);
    assert!(
        refused.contains("changed since the plan was made"),
        "{refused}"
    );
    assert!(refused.contains("kith sync plan li"), "{refused}");
    assert_eq!(
        s.req("GET", &href).send().await.text(),
        edited,
        "nothing was applied"
    );

    let out = import(&s, &v2, &["--source", "li"]);
    assert_eq!(count(&out, "update"), 1, "{out}");
    let after = s.req("GET", &href).send().await.text();
    assert!(after.contains("ORG:Globex"), "{after}");
    assert!(
        after.contains("PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ=="),
        "{after}"
    );
    assert!(after.contains("X-CUSTOM-FIELD;X-PARAM=1:kept"), "{after}");
    assert_eq!(after.matches("ORG:").count(), 1);
}
