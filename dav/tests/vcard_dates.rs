//! The conversion rules of `kith_dav::vcard_dates` and `kith_dav::vcard_groups`, each through the public conversion
//! a GET or REPORT uses.

use kith_dav::vcard::{convert, sniff_version};
use kith_dav::vcard_version::Version;
fn to(card: &str, want: Version) -> String {
    let from = sniff_version(card.as_bytes());
    String::from_utf8(convert(card.as_bytes(), from, want).into_owned()).unwrap()
}

fn card(version: &str, lines: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:{version}\r\nUID:u\r\nFN:A\r\n{lines}END:VCARD\r\n")
}

#[test]
fn date_forms_keep_the_day_both_ways() {
    let v4 = card(
        "4.0",
        "BDAY;VALUE=DATE:1963-09-21\r\nANNIVERSARY:19900512\r\n",
    );
    let v3 = to(&v4, Version::V3);
    assert!(v3.contains("BDAY:1963-09-21\r\n"), "{v3}");
    assert!(
        v3.contains("X-ANNIVERSARY:1990-05-12\r\n") || v3.contains("ANNIVERSARY:1990-05-12\r\n"),
        "{v3}"
    );
    let back = to(&v3, Version::V4);
    assert!(back.contains("BDAY:19630921\r\n"), "{back}");
}

#[test]
fn date_times_keep_their_time() {
    let v4 = card("4.0", "BDAY:19630921T100000Z\r\n");
    let v3 = to(&v4, Version::V3);
    assert!(
        v3.contains("BDAY;VALUE=date-time:1963-09-21T10:00:00Z\r\n"),
        "{v3}"
    );
    let back = to(&v3, Version::V4);
    assert!(back.contains("BDAY:19630921T100000Z\r\n"), "{back}");
}

#[test]
fn no_year_is_apples_1604_in_3_and_dashes_in_4() {
    let ios = card("3.0", "BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-15\r\n");
    let v4 = to(&ios, Version::V4);
    assert!(v4.contains("BDAY:--0315\r\n"), "{v4}");
    assert!(!v4.contains("1604"), "{v4}");
    let v3 = to(&v4, Version::V3);
    assert!(
        v3.contains("BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-15\r\n"),
        "{v3}"
    );
    let dashes = card("3.0", "BDAY:--09-21\r\n");
    assert!(to(&dashes, Version::V4).contains("BDAY:--0921\r\n"));
}

#[test]
fn apples_labelled_dates_convert_too() {
    let ios = card(
        "3.0",
        "item1.X-ABDATE;type=pref:2020-11-30\r\nitem1.X-ABLabel:Connected on\r\n",
    );
    let v4 = to(&ios, Version::V4);
    assert!(
        v4.contains("item1.X-ABDATE;type=pref:20201130\r\n")
            || v4.contains("item1.X-ABDATE;TYPE=pref:20201130\r\n"),
        "{v4}"
    );
    assert!(
        v4.contains("X-ABLabel:Connected on") || v4.contains("X-ABLABEL:Connected on"),
        "{v4}"
    );
}

#[test]
fn no_charset_in_3() {
    let v4 = card("4.0", "NOTE:Grüße\r\n");
    let v3 = to(&v4, Version::V3);
    assert!(!v3.to_ascii_uppercase().contains("CHARSET"), "{v3}");
    assert!(v3.contains("Grüße"), "{v3}");
}

#[test]
fn unreadable_dates_are_left_alone() {
    let v4 = card("4.0", "BDAY;VALUE=text:circa 1800\r\n");
    let v3 = to(&v4, Version::V3);
    assert!(v3.contains("circa 1800"), "{v3}");
}

/// Rule `apple-groups`: an Apple group reaches 4.0 clients as KIND:group with MEMBERs, a 4.0
/// group reaches Apple as X-ADDRESSBOOKSERVER-*, and each comes back to what it was.
#[test]
fn apple_groups_and_4_0_groups_convert_both_ways() {
    let apple = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g\r\nFN:Team\r\nN:Team;;;;\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:b\r\nEND:VCARD\r\n";
    let four =
        String::from_utf8(convert(apple.as_bytes(), Some(Version::V3), Version::V4).into_owned())
            .unwrap();
    assert!(four.contains("\r\nKIND:group\r\n"), "{four}");
    assert!(
        four.contains("\r\nMEMBER:urn:uuid:a\r\nMEMBER:urn:uuid:b\r\n"),
        "{four}"
    );
    assert!(!four.contains("X-ADDRESSBOOKSERVER"), "{four}");
    let back = convert(four.as_bytes(), Some(Version::V4), Version::V3);
    assert_eq!(String::from_utf8_lossy(&back), apple);

    let v4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:g\r\nFN:Team\r\nKIND:group\r\nMEMBER:urn:uuid:a\r\nMEMBER;PID=1.1:mailto:x@example.org\r\nEND:VCARD\r\n";
    let three =
        String::from_utf8(convert(v4.as_bytes(), Some(Version::V4), Version::V3).into_owned())
            .unwrap();
    assert!(
        three.contains("\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n"),
        "{three}"
    );
    assert!(three.contains("\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a\r\nX-ADDRESSBOOKSERVER-MEMBER:mailto:x@example.org\r\n"), "{three}");
    assert!(
        !three.contains("\r\nKIND") && !three.contains("\r\nMEMBER"),
        "{three}"
    );
    // The documented canonical form: PID, which 3.0 lacks, is not brought back.
    let again = convert(three.as_bytes(), Some(Version::V3), Version::V4);
    assert_eq!(String::from_utf8_lossy(&again), v4.replace(";PID=1.1", ""));
}

/// Every rule round-trips: a card converted to the other version and back is byte-equal to
/// the original when the original is in its version's canonical form (4.0 basic dates, 3.0
/// extended dates, Apple's no-year form in 3.0, parameter names and VALUE in upper case), and
/// reaches that canonical form otherwise.
#[test]
fn every_rule_round_trips_to_the_original_or_its_canonical_form() {
    let canonical_4 = [
        "BDAY:19630921\r\n",
        "BDAY:19630921T100000Z\r\n",
        "BDAY:--0315\r\n",
        "ANNIVERSARY:19900512\r\n",
        "item1.X-ABDATE:20200101\r\nitem1.X-ABLabel:_$!<Anniversary>!$_\r\n",
        "BDAY;VALUE=TEXT:circa 1800\r\n",
    ];
    for lines in canonical_4 {
        let original = card("4.0", lines);
        let there = to(&original, Version::V3);
        assert_eq!(to(&there, Version::V4), original, "via {there}");
    }
    let canonical_3 = [
        "BDAY:1963-09-21\r\n",
        "BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-15\r\n",
        "X-ANNIVERSARY:1990-05-12\r\n",
        "item1.X-ABDATE;TYPE=pref:2020-01-01\r\nitem1.X-ABLabel:_$!<Anniversary>!$_\r\n",
    ];
    for lines in canonical_3 {
        let original = card("3.0", lines);
        let there = to(&original, Version::V4);
        assert_eq!(to(&there, Version::V3), original, "via {there}");
    }
    // Not canonical: 4.0 with an extended date comes back in the basic form, 3.0 with a basic
    // date in the extended form; the date itself never changes.
    let extended_4 = card("4.0", "BDAY;VALUE=DATE:1963-09-21\r\n");
    assert_eq!(
        to(&to(&extended_4, Version::V3), Version::V4),
        card("4.0", "BDAY:19630921\r\n")
    );
    let basic_3 = card("3.0", "BDAY:19630921\r\n");
    assert_eq!(
        to(&to(&basic_3, Version::V4), Version::V3),
        card("3.0", "BDAY:1963-09-21\r\n")
    );
}
