//! Contact files: LinkedIn, Google and Outlook CSV exports and vCard files. The format is told
//! by the header (or `BEGIN:VCARD`), never by the file name. A bad row is reported with its line
//! and column and the other rows still import.

pub mod export;
mod google;
mod linkedin;
mod outlook;
mod table;
mod vcf;

use crate::record::{Field, Record};
use crate::text::decode;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    LinkedinCsv,
    GoogleCsv,
    OutlookCsv,
    Vcard,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::LinkedinCsv,
        Format::GoogleCsv,
        Format::OutlookCsv,
        Format::Vcard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::LinkedinCsv => "linkedin-csv",
            Format::GoogleCsv => "google-csv",
            Format::OutlookCsv => "outlook-csv",
            Format::Vcard => "vcard",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One contact read from a source, under the id that identifies it in that source.
#[derive(Debug, Clone)]
pub struct SourceItem {
    pub id: String,
    pub record: Record,
    /// Where it came from (the file line), for messages.
    pub line: u64,
    /// The contact exactly as the source wrote it, when that is a vCard: a new card keeps
    /// everything in it (photo, custom properties), not only the fields Kith merges.
    pub raw: Option<String>,
    /// The source's version marker (an API source's etag), sent back with writes.
    pub etag: Option<String>,
    /// Kith's own id for the card, stored in the source by an earlier create (Google
    /// `clientData`, a Graph extended property): how a create whose answer was lost is found.
    pub marker: Option<String>,
}

/// A row that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowError {
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
    /// The contact the failed row was about, when it can still be told (its profile URL or
    /// email): a failed row is not a removed contact, so its link is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl RowError {
    /// An error about a whole row or card (no single column).
    pub fn at(line: u64, message: impl Into<String>) -> RowError {
        RowError {
            line,
            column: None,
            message: message.into(),
            id: None,
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c:?}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

#[derive(Debug)]
pub struct FileRead {
    pub format: Format,
    pub items: Vec<SourceItem>,
    pub errors: Vec<RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "the file is not a contact export Kith knows: expected a LinkedIn Connections.csv, a Google or Outlook CSV export, or a vCard file ({0})"
    )]
    Unrecognized(String),
    #[error("the file looks like {found}, not {expected}; drop --format or pass --format {found}")]
    Mismatch { expected: Format, found: Format },
}

/// Which format the bytes are, from their content.
pub fn detect(bytes: &[u8]) -> Result<Format, FormatError> {
    let text = decode(bytes);
    sniff(&text).map(|(f, _)| f)
}

/// The CSV layouts, in the order they are tried: LinkedIn's header also fits Outlook's rule.
const CSV_LAYOUTS: &[table::Layout] = &[linkedin::LAYOUT, google::LAYOUT, outlook::LAYOUT];

fn sniff(text: &str) -> Result<(Format, Option<table::Table>), FormatError> {
    let head = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if head.is_empty() {
        return Err(FormatError::Empty);
    }
    if head
        .get(..11)
        .is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCARD"))
    {
        return Ok((Format::Vcard, None));
    }
    let table = table::Table::read(text, CSV_LAYOUTS).map_err(FormatError::Unrecognized)?;
    Ok((table.format, Some(table)))
}

/// Reads every contact in the file. `expected` checks the detected format (from `--format`).
pub fn read(bytes: &[u8], expected: Option<Format>) -> Result<FileRead, FormatError> {
    let text = decode(bytes);
    let (format, table) = sniff(&text)?;
    if let Some(e) = expected.filter(|e| *e != format) {
        return Err(FormatError::Mismatch {
            expected: e,
            found: format,
        });
    }
    let mut out = FileRead {
        format,
        items: Vec::new(),
        errors: Vec::new(),
    };
    match table {
        None => vcf::read(&text, &mut out),
        Some(t) => t.rows(&mut out),
    }
    dedupe(&mut out);
    Ok(out)
}

/// Two rows with one identity: the later row is used, and the earlier one is reported, so the
/// summary explains why fewer contacts were imported than the file has rows.
fn dedupe(out: &mut FileRead) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut keep = vec![true; out.items.len()];
    for (i, item) in out.items.iter().enumerate() {
        if let Some(prev) = seen.insert(item.id.clone(), i) {
            keep[prev] = false;
            out.errors.push(RowError::at(
                out.items[prev].line,
                format!(
                    "the same contact as line {} ({}); the later row is used",
                    item.line, item.id
                ),
            ));
        }
    }
    let mut i = 0;
    out.items.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    out.errors.sort_by_key(|e| e.line);
}

/// The identity of a contact whose source has no id of its own: its first email, else its
/// first phone, else its name and company.
pub fn fallback_id(r: &Record) -> Option<String> {
    if let Some(k) = r.linkedin() {
        return Some(k);
    }
    if let Some((k, _)) = r.elems(Field::Email).next() {
        return Some(format!("email:{k}"));
    }
    if let Some((k, _)) = r.elems(Field::Phone).next() {
        return Some(format!("tel:{k}"));
    }
    let name = r.display_name();
    if name == "(no name)" {
        return None;
    }
    Some(format!(
        "name:{}|{}",
        name.to_lowercase(),
        r.get(Field::Company).unwrap_or("").to_lowercase()
    ))
}

/// The identity a failed row would have had, from any LinkedIn profile URL or email in it.
pub(crate) fn identity_of_cells<'a>(
    cells: impl Iterator<Item = &'a str> + Clone,
) -> Option<String> {
    cells
        .clone()
        .find_map(crate::normalize::linkedin_key)
        .or_else(|| {
            cells
                .filter(|c| c.contains('@') && !c.contains(char::is_whitespace))
                .map(|c| format!("email:{}", crate::normalize::email_key(c)))
                .next()
        })
}

/// Checks that a row yielded a contact worth importing and gives it an id.
fn finish(mut record: Record, id: Option<String>, line: u64) -> Result<SourceItem, RowError> {
    record.fill_full_name();
    let id = id
        .or_else(|| fallback_id(&record))
        .ok_or_else(|| RowError::at(line, "the row has no name, email, phone or profile URL"))?;
    Ok(SourceItem {
        id,
        record,
        line,
        raw: None,
        etag: None,
        marker: None,
    })
}
