//! Exports: a user's address books as vCard or CSV, and calendars as iCalendar. An export is a
//! stream of chunks fed by the store's row stream, so memory stays flat however large the book;
//! the CLI writes it to a file, GET on a collection sends it, and the archive zips it.

use crate::store::{Collection, Store, StoreError};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use kith_connectors::card::read_card;
use kith_connectors::formats::export::{CsvExport, CsvLayout};
use kith_dav::ical::bundle::Joiner;
use kith_dav::vcard::{Version, convert, sniff_version};
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The cards exactly as stored.
    Vcf,
    /// Every card converted to one vCard version.
    VcfAs(Version),
    Csv(CsvLayout),
    Ics,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<ExportFormat> {
        Some(match s {
            "vcf" => ExportFormat::Vcf,
            "vcf3" => ExportFormat::VcfAs(Version::V3),
            "vcf4" => ExportFormat::VcfAs(Version::V4),
            "csv-google" => ExportFormat::Csv(CsvLayout::Google),
            "csv-outlook" => ExportFormat::Csv(CsvLayout::Outlook),
            "csv-linkedin" => ExportFormat::Csv(CsvLayout::Linkedin),
            "ics" => ExportFormat::Ics,
            _ => return None,
        })
    }

    pub fn is_calendar(self) -> bool {
        self == ExportFormat::Ics
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
}

pub type ExportStream = BoxStream<'static, Result<Bytes, ExportError>>;

const CHUNK: usize = 64 * 1024;

/// Collects output and hands it on in chunks.
struct Out {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, ExportError>>,
}

impl Out {
    /// `false` once the consumer went away.
    async fn flush_if_full(&mut self) -> bool {
        if self.buf.len() < CHUNK {
            return true;
        }
        self.flush().await
    }

    async fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.send(Ok(chunk)).await.is_ok()
    }
}

/// The export of `colls` (address books, or calendars for [`ExportFormat::Ics`]) in `format`.
/// `title` names a joined calendar.
pub fn stream(
    store: Arc<dyn Store>,
    colls: Vec<Collection>,
    format: ExportFormat,
    title: String,
) -> ExportStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut out = Out {
            buf: Vec::with_capacity(CHUNK + 8192),
            tx: tx.clone(),
        };
        let result = produce(store.as_ref(), &colls, format, &title, &mut out).await;
        match result {
            Ok(true) => {
                out.flush().await;
            }
            Ok(false) => {}
            Err(e) => {
                let _ = tx.send(Err(e)).await;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// Writes everything; `Ok(false)` when the consumer stopped reading.
async fn produce(
    store: &dyn Store,
    colls: &[Collection],
    format: ExportFormat,
    title: &str,
    out: &mut Out,
) -> Result<bool, ExportError> {
    match format {
        ExportFormat::Vcf | ExportFormat::VcfAs(_) => {
            for c in colls {
                let mut rows = store.objects(c.id, true, None);
                while let Some(obj) = rows.next().await {
                    let obj = obj?;
                    let data = match format {
                        ExportFormat::VcfAs(v) => convert(&obj.data, sniff_version(&obj.data), v),
                        _ => std::borrow::Cow::Borrowed(obj.data.as_slice()),
                    };
                    out.buf.extend_from_slice(&data);
                    // Cards are cut apart by their END line; one without a final line break
                    // must not run into the next.
                    if !data.ends_with(b"\n") {
                        out.buf.extend_from_slice(b"\r\n");
                    }
                    if !out.flush_if_full().await {
                        return Ok(false);
                    }
                }
            }
        }
        ExportFormat::Csv(layout) => {
            let mut csv_out = CsvExport::new(layout);
            if csv_out.needs_measuring() {
                for c in colls {
                    let mut rows = store.objects(c.id, true, None);
                    while let Some(obj) = rows.next().await {
                        if let Ok(card) = read_card(&obj?.data) {
                            csv_out.measure(&card.record);
                        }
                    }
                }
            }
            // Excel and Outlook read a UTF-8 CSV correctly only with a byte-order mark.
            if layout == CsvLayout::Outlook {
                out.buf.extend_from_slice(b"\xef\xbb\xbf");
            }
            csv_line(&mut out.buf, csv_out.header())?;
            for c in colls {
                let mut rows = store.objects(c.id, true, None);
                while let Some(obj) = rows.next().await {
                    let Ok(card) = read_card(&obj?.data) else {
                        continue;
                    };
                    csv_line(&mut out.buf, csv_out.row(&card.record))?;
                    if !out.flush_if_full().await {
                        return Ok(false);
                    }
                }
            }
        }
        ExportFormat::Ics => {
            let (mut joiner, head) = Joiner::begin(title);
            out.buf.extend_from_slice(head.as_bytes());
            let mut text = String::new();
            for c in colls {
                let mut rows = store.objects(c.id, true, None);
                while let Some(obj) = rows.next().await {
                    text.clear();
                    joiner.push(&obj?.data, &mut text);
                    out.buf.extend_from_slice(text.as_bytes());
                    if !out.flush_if_full().await {
                        return Ok(false);
                    }
                }
            }
            out.buf.extend_from_slice(joiner.end().as_bytes());
        }
    }
    Ok(true)
}

/// Appends one CSV record (RFC 4180 quoting, CRLF) to `buf`.
fn csv_line(buf: &mut Vec<u8>, record: Vec<String>) -> Result<(), csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(buf);
    w.write_record(record)?;
    w.flush()?;
    Ok(())
}

/// A `Content-Disposition` value offering a download as `file`. File names are built from
/// collection and user names; quotes and line breaks are dropped so the header cannot break.
pub fn content_disposition(file: &str) -> String {
    let file = file.replace(['"', '\\', '\r', '\n'], "_");
    format!("attachment; filename=\"{file}\"")
}

/// The file name an export of `coll` is offered under.
pub fn file_name(coll: &Collection, format: ExportFormat) -> String {
    let base: String = coll
        .name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ext = match format {
        ExportFormat::Vcf | ExportFormat::VcfAs(_) => "vcf",
        ExportFormat::Csv(_) => "csv",
        ExportFormat::Ics => "ics",
    };
    format!("{base}.{ext}")
}
