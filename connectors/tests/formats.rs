//! Every fixture export reads into the contacts it holds, with bad rows reported by line and
//! column.

use kith_connectors::formats::{Format, detect, read};
use kith_connectors::record::Field;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/sources/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn linkedin_connections() {
    let r = read(&fixture("linkedin-2024.csv"), None).unwrap();
    assert_eq!(r.format, Format::LinkedinCsv);
    assert_eq!(r.items.len(), 5);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].line, 10);
    assert!(r.errors[0].to_string().contains("deactivated"));
    let arjun = r
        .items
        .iter()
        .find(|i| i.id == "linkedin.com/in/arjunmehta")
        .unwrap();
    assert_eq!(
        arjun.record.get(Field::Title),
        Some("Engineering Manager, Payments")
    );
    assert_eq!(arjun.record.get(Field::ConnectedOn), Some("2023-01-03"));
    assert!(arjun.record.has_elem(Field::Email, "arjun@example.com"));
    let sofia = r
        .items
        .iter()
        .find(|i| i.id.ends_with("sofiarossi"))
        .unwrap();
    assert_eq!(
        sofia.record.get(Field::Title),
        Some("Senior Engineer \"Platform\"")
    );
    let lena = r
        .items
        .iter()
        .find(|i| i.id.ends_with("lena-berg"))
        .unwrap();
    assert_eq!(lena.record.get(Field::ConnectedOn), Some("2022-02-07"));
}

#[test]
fn google_csv_groups_multi_values_and_bad_rows() {
    let r = read(&fixture("google.csv"), None).unwrap();
    assert_eq!(r.format, Format::GoogleCsv);
    assert_eq!(r.items.len(), 3);
    assert_eq!(r.errors.len(), 1);
    let e = &r.errors[0];
    assert_eq!((e.line, e.column.as_deref()), (7, Some("Birthday")), "{e}");
    let priya = &r.items[1];
    assert_eq!(priya.record.get(Field::Birthday), Some("--04-15"));
    assert_eq!(
        priya.record.elems(Field::Phone).count(),
        2,
        "` ::: ` splits values"
    );
    assert_eq!(
        priya.record.linkedin().as_deref(),
        Some("linkedin.com/in/priya-sharma-1a2b3c")
    );
    assert!(priya.record.has_elem(Field::Category, "recruiters"));
    assert!(!priya.record.has_elem(Field::Category, "mycontacts"));
    let mei = &r.items[2];
    assert_eq!(mei.record.get(Field::Anniversary), Some("2015-05-20"));
    assert!(mei.record.get(Field::Note).unwrap().contains("two lines"));
    let arjun = &r.items[0];
    assert_eq!(
        arjun.record.multis[&Field::Email]["arjun@example.com"]
            .label
            .as_deref(),
        Some("work")
    );
}

#[test]
fn outlook_layouts() {
    let r = read(&fixture("outlook-com.csv"), None).unwrap();
    assert_eq!(r.format, Format::OutlookCsv);
    assert_eq!(r.items.len(), 2, "{:?}", r.errors);
    let arjun = &r.items[0];
    assert_eq!(arjun.record.get(Field::Birthday), Some("1988-06-02"));
    assert!(arjun.record.has_elem(Field::Phone, "065550143"));
    assert_eq!(arjun.record.get(Field::Department), Some("Payments"));
    assert_eq!(
        r.items[1].record.get(Field::Birthday),
        None,
        "0/0/00 is no date"
    );

    let r = read(&fixture("outlook-desktop.csv"), None).unwrap();
    assert_eq!(r.format, Format::OutlookCsv);
    assert_eq!(r.items.len(), 2, "{:?}", r.errors);
    let lena = &r.items[0];
    assert_eq!(
        lena.id, "email:lena@nordlys.example",
        "the EX address is dropped"
    );
    assert!(lena.record.has_elem(Field::Category, "customers"));
    assert!(lena.record.has_elem(Field::Category, "norway"));
    let adr = lena.record.elems(Field::Address).next().unwrap().1;
    assert!(adr.value.contains("Industrigata 50B\nOslo, 0357"));
    assert_eq!(r.items[1].record.get(Field::Prefix), Some("Dr."));
}

#[test]
fn vcard_files_of_every_version() {
    let r = read(&fixture("contacts.vcf"), None).unwrap();
    assert_eq!(r.format, Format::Vcard);
    assert_eq!(r.items.len(), 3, "{:?}", r.errors);
    assert_eq!(r.items[0].id, "uid:5c1f6a1e-3d8e-4c0e-9a41-0d6f2b7c9e10");
    assert_eq!(r.items[0].record.get(Field::Birthday), Some("--09-12"));
    assert_eq!(r.items[1].record.get(Field::FullName), Some("Jörg Müller"));
    assert_eq!(r.items[1].id, "email:joerg@example.de");
    assert_eq!(r.items[2].record.get(Field::Birthday), Some("--02-29"));
}

#[test]
fn detection_reads_content_not_names() {
    assert_eq!(
        detect(&fixture("linkedin-2025.csv")).unwrap(),
        Format::LinkedinCsv
    );
    let err = read(b"name,phone\nx,1\n", None).unwrap_err().to_string();
    assert!(err.contains("no known header row"), "{err}");
    let err = read(&fixture("google.csv"), Some(Format::OutlookCsv))
        .unwrap_err()
        .to_string();
    assert!(err.contains("--format google-csv"), "{err}");
    // Binary junk (a photo picked by mistake) is a clear error, never a panic.
    let junk: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(read(&junk, None).is_err());
    assert!(read("é€ BEGIN".as_bytes(), None).is_err());
    let broken = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\n";
    let r = read(broken, None).unwrap();
    assert_eq!(r.items.len(), 1);
    assert_eq!(r.errors[0].line, 5);
}

/// Every real-world card in the shared corpus (when present) reads without a panic, and an
/// edit of it keeps every line Kith does not manage.
#[test]
fn corpus_cards_read_and_edit_without_losing_lines() {
    use kith_connectors::card::{edit_card, read_card};
    let dir = format!("{}/../../shared/corpus/vcard", env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(&dir)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "vcf" || x == "vcard") {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        eprintln!("corpus not present at {dir}; skipped");
        return;
    }
    let mut edited = 0;
    let unfold = |t: &str| {
        t.replace("\r\n", "\n")
            .replace("\n ", "")
            .replace("\n\t", "")
    };
    for path in files {
        let name = path.display();
        let bytes = std::fs::read(&path).unwrap();
        let _ = read(&bytes, None);
        let Ok(card) = read_card(&bytes) else {
            continue;
        };
        let text = kith_connectors::text::decode(&bytes).into_owned();
        if text.matches("BEGIN:VCARD").count() != 1 {
            continue;
        }
        let mut after = card.record.clone();
        after.add(Field::Phone, "+47 22 33 44 55", Some("work"));
        after.set(Field::Title, "Edited title");
        let out = edit_card(&text, &card.record, &after);
        let back = read_card(out.as_bytes())
            .unwrap_or_else(|m| panic!("{name}: edited card unreadable: {m}\n{out}"));
        assert!(back.record.has_elem(Field::Phone, "722334455"), "{name}");
        assert_eq!(
            back.record.get(Field::Title),
            Some("Edited title"),
            "{name}"
        );
        let (text, out) = (unfold(&text), unfold(&out));
        for line in text.lines() {
            let prop = line
                .split([':', ';'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let prop = prop.rsplit('.').next().unwrap_or("");
            if (prop.starts_with("X-") || prop == "PHOTO" || prop == "NOTE")
                && !prop.contains("ANNIVERSARY")
            {
                assert!(out.contains(line.trim_end()), "{name}: lost {line}");
            }
        }
        edited += 1;
    }
    assert!(edited > 50, "only {edited} corpus cards edited");
}
