//! CSV files: RFC 4180 quoting with embedded newlines, a preamble before the header (LinkedIn's
//! `Notes:`), case-insensitive header names, localized Outlook headers, and rows of any length.

use super::{FileRead, Format, RowError, SourceItem};
use std::collections::HashMap;

/// Reads one row of a layout.
pub(super) type RowReader = Box<dyn Fn(&Row<'_>) -> Result<SourceItem, RowError>>;

/// A CSV layout the table reader knows: how its header row is recognised and how its rows are
/// read. Each layout module registers one (the list is in `formats/mod.rs`, in the order they
/// are tried).
pub(super) struct Layout {
    pub format: Format,
    pub recognises: fn(&Header) -> bool,
    pub reader: fn(&Header) -> RowReader,
}

pub(super) struct Table {
    pub format: Format,
    layout: &'static Layout,
    header: Header,
    rows: Vec<(u64, csv::StringRecord)>,
}

pub(super) struct Header {
    pub names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Header {
    fn new(raw: &csv::StringRecord) -> Header {
        let names: Vec<String> = raw.iter().map(canonical_name).collect();
        let mut index = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            index.entry(n.clone()).or_insert(i);
        }
        Header { names, index }
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

/// A header name in lower case, with Outlook's German headers mapped to the English ones.
fn canonical_name(s: &str) -> String {
    let n = s
        .trim()
        .trim_start_matches('\u{feff}')
        .trim()
        .to_lowercase();
    let english = match n.as_str() {
        "vorname" => "first name",
        "weitere vornamen" => "middle name",
        "nachname" => "last name",
        "anrede" => "title",
        "firma" => "company",
        "abteilung" => "department",
        "e-mail-adresse" => "e-mail address",
        "e-mail 2: adresse" => "e-mail 2 address",
        "e-mail 3: adresse" => "e-mail 3 address",
        "telefon geschäftlich" => "business phone",
        "telefon privat" => "home phone",
        "mobiltelefon" => "mobile phone",
        "geburtstag" => "birthday",
        "jahrestag" => "anniversary",
        "notizen" => "notes",
        "kategorien" => "categories",
        "webseite" => "web page",
        "straße geschäftlich" => "business street",
        "ort geschäftlich" => "business city",
        "postleitzahl geschäftlich" => "business postal code",
        "land/region geschäftlich" => "business country/region",
        _ => return n,
    };
    english.to_string()
}

/// Which export a header row belongs to, if any.
impl Table {
    /// Parses the file and finds its header row, however long the preamble before it.
    pub fn read(text: &str, layouts: &'static [Layout]) -> Result<Table, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut found: Option<(&'static Layout, Header)> = None;
        let mut first_line: Option<String> = None;
        let mut rows = Vec::new();
        for (n, rec) in reader.records().enumerate() {
            let rec = match rec {
                Ok(r) => r,
                // The only errors left with `flexible` are I/O on an in-memory buffer, which
                // cannot happen; a malformed quote just yields an odd row.
                Err(e) => return Err(e.to_string()),
            };
            let line = rec.position().map_or(0, |p| p.line());
            if found.is_some() {
                rows.push((line, rec));
                continue;
            }
            if first_line.is_none() {
                first_line = Some(
                    rec.iter()
                        .collect::<Vec<_>>()
                        .join(",")
                        .chars()
                        .take(80)
                        .collect(),
                );
            }
            let header = Header::new(&rec);
            if let Some(l) = layouts.iter().find(|l| (l.recognises)(&header)) {
                found = Some((l, header));
            } else if n >= 60 {
                break;
            }
        }
        let (layout, header) = found.ok_or_else(|| {
            format!(
                "no known header row; the file starts with {:?}",
                first_line.unwrap_or_default()
            )
        })?;
        Ok(Table {
            format: layout.format,
            layout,
            header,
            rows,
        })
    }

    pub fn rows(self, out: &mut FileRead) {
        let read = (self.layout.reader)(&self.header);
        for (line, rec) in &self.rows {
            if rec.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let row = Row {
                header: &self.header,
                rec,
                line: *line,
            };
            let result = read(&row);
            match result {
                Ok(item) => out.items.push(item),
                Err(mut e) => {
                    e.id = super::identity_of_cells(rec.iter().map(str::trim));
                    out.errors.push(e);
                }
            }
        }
    }
}

pub(super) struct Row<'a> {
    pub header: &'a Header,
    pub rec: &'a csv::StringRecord,
    pub line: u64,
}

impl<'a> Row<'a> {
    /// The trimmed cell under `name` (lower-case header), or "" when the column is missing.
    pub fn get(&self, name: &str) -> &'a str {
        self.header
            .position(name)
            .and_then(|i| self.rec.get(i))
            .map_or("", str::trim)
    }

    pub fn at(&self, i: usize) -> &'a str {
        self.rec.get(i).map_or("", str::trim)
    }

    /// An error about this row's column `name`, with the header as the file spells it.
    pub fn error(&self, name: &str, message: String) -> RowError {
        RowError {
            line: self.line,
            column: Some(name_as_written(name)),
            message,
            id: None,
        }
    }

    /// Parses a date cell; an unreadable date is an error naming the column.
    pub fn date(&self, name: &str) -> Result<Option<String>, RowError> {
        crate::date::Date::parse(self.get(name))
            .map(|d| d.map(|d| d.to_string()))
            .map_err(|m| self.error(name, m))
    }

    /// Checks an email cell: the address must have an `@`.
    pub fn email(&self, name: &str) -> Result<Option<&'a str>, RowError> {
        let v = self.get(name);
        if v.is_empty() {
            return Ok(None);
        }
        if !v.contains('@') || v.contains(char::is_whitespace) {
            return Err(self.error(name, format!("{v:?} is not an email address")));
        }
        Ok(Some(v))
    }
}

/// `e-mail address` → `E-mail Address`, for messages.
fn name_as_written(name: &str) -> String {
    name.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
