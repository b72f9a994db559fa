//! Golden tests: request bodies as clients send them → what `kith-dav` parses from them, and
//! multistatus bodies as `kith-dav` writes them. Each expectation is a file beside the input
//! under `tests/golden/`; a change to either shows up as a diff in review.
//!
//! `UPDATE_GOLDEN=1 cargo test -p kith-dav --test golden` rewrites the expectations.

use kith_dav::multistatus::{Multistatus, PropValue, error_body};
use kith_dav::names::{CALDAV, CARDDAV, DAV, Name};
use kith_dav::request::{parse_mkcol, parse_propfind, parse_proppatch, parse_report};
use std::path::{Path, PathBuf};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(sub)
}

/// Compares `actual` with the file `expected`, or writes it under `UPDATE_GOLDEN`.
fn check(expected: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(expected, actual).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let want = std::fs::read_to_string(expected)
        .map_err(|e| format!("{}: {e} (run with UPDATE_GOLDEN=1)", expected.display()))?;
    if want == actual {
        Ok(())
    } else {
        Err(format!(
            "{} differs:\n--- expected\n{want}\n--- actual\n{actual}",
            expected.display()
        ))
    }
}

/// Parses a request body with the parser its file name names (`propfind-…`, `report-…`).
fn parsed(name: &str, body: &[u8]) -> String {
    let out = if name.starts_with("propfind") {
        format!("{:#?}", parse_propfind(body))
    } else if name.starts_with("proppatch") {
        format!("{:#?}", parse_proppatch(body))
    } else if name.starts_with("mkcol") {
        format!("{:#?}", parse_mkcol(body, false))
    } else if name.starts_with("mkcalendar") {
        format!("{:#?}", parse_mkcol(body, true))
    } else {
        format!("{:#?}", parse_report(body))
    };
    out + "\n"
}

#[test]
fn requests_parse_as_recorded() {
    let mut failures = Vec::new();
    let mut seen = 0;
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir("requests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    inputs.sort();
    for input in inputs {
        let name = input.file_stem().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(&input).unwrap();
        if let Err(e) = check(&input.with_extension("parsed"), &parsed(&name, &body)) {
            failures.push(e);
        }
        seen += 1;
    }
    assert!(seen >= 10, "the golden requests are there ({seen})");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn multistatus_bodies_are_as_recorded() {
    let prop = |ns, local: &str, xml: &str| PropValue {
        name: Name::new(ns, local),
        xml: xml.into(),
    };
    // PROPFIND Depth 1 on an address book: one found property set, one missing property.
    let mut ms = Multistatus::new();
    ms.response(
        "/dav/addressbooks/ann/contacts/",
        &[
            prop(DAV, "resourcetype", "<d:collection/><card:addressbook/>"),
            prop(DAV, "displayname", "Ann &amp; co"),
        ],
        &[(404, vec![Name::new(CALDAV, "calendar-color")])],
    );
    ms.response(
        "/dav/addressbooks/ann/contacts/a%20b.vcf",
        &[prop(DAV, "getetag", "\"e1\"")],
        &[],
    );
    let propfind = ms.finish();
    // sync-collection: a change, a removal and the new token.
    let mut ms = Multistatus::new();
    ms.response(
        "/dav/addressbooks/ann/contacts/a.vcf",
        &[prop(DAV, "getetag", "\"e2\"")],
        &[],
    );
    ms.status_response("/dav/addressbooks/ann/contacts/gone.vcf", 404);
    ms.status_response_with_error(
        "/dav/addressbooks/ann/contacts/",
        507,
        &Name::new(DAV, "number-of-matches-within-limits"),
    );
    ms.sync_token("http://kith.invalid/sync/3-18");
    let sync = ms.finish();
    let error = error_body(
        &Name::new(CARDDAV, "valid-address-data"),
        Some("Send a well-formed vCard <BEGIN:VCARD>"),
    );
    let mut failures = Vec::new();
    for (name, body) in [("propfind", propfind), ("sync", sync), ("error", error)] {
        if let Err(e) = check(
            &dir("multistatus").join(format!("{name}.xml")),
            &(body + "\n"),
        ) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
