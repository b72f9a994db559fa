//! A user's own export archive: every address book as a .vcf, every calendar as an .ics, and
//! all contacts in one CSV (Google's layout, which most tools import), in one zip. Users get it
//! with their own password (`GET /account/export.zip`), no admin needed.
//!
//! The zip is built in an unnamed temporary file, fed by the streaming exports, so memory stays
//! flat; the file disappears when the response (or command) is done with it.

use crate::core::export::{self, ExportFormat};
use crate::store::{Collection, Kind, Store, StoreError, User};
use futures_util::StreamExt;
use kith_connectors::formats::export::CsvLayout;
use std::io::{Seek, Write};
use std::sync::Arc;
use zip::write::SimpleFileOptions;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error("cannot write the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write the archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("the archive task failed: {0}")]
    Task(String),
}

const README: &str = "Your data from Kith\r\n\
\r\n\
contacts/*.vcf   each address book as vCard, exactly as stored; every contacts app imports it\r\n\
calendars/*.ics  each calendar as iCalendar; every calendar app imports it\r\n\
contacts.csv     all contacts in Google Contacts' CSV layout (Gmail, Outlook and spreadsheets read it)\r\n";

/// The user's collections worth exporting: everything but derived calendars.
async fn own(store: &dyn Store, user: &User, kind: Kind) -> Result<Vec<Collection>, StoreError> {
    Ok(store
        .collections(user.id, kind)
        .await?
        .into_iter()
        .filter(|c| c.derived.is_none())
        .collect())
}

/// Builds the archive and returns it as a file positioned at its start.
pub async fn build(store: Arc<dyn Store>, user: &User) -> Result<std::fs::File, ArchiveError> {
    let books = own(store.as_ref(), user, Kind::Addressbook).await?;
    let calendars = own(store.as_ref(), user, Kind::Calendar).await?;
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || -> Result<std::fs::File, ArchiveError> {
        let mut zip = zip::ZipWriter::new(tempfile::tempfile()?);
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let add = |zip: &mut zip::ZipWriter<std::fs::File>,
                   path: String,
                   colls: Vec<Collection>,
                   format: ExportFormat,
                   title: String|
         -> Result<(), ArchiveError> {
            zip.start_file(path, opts)?;
            let mut chunks = export::stream(store.clone(), colls, format, title);
            while let Some(chunk) = handle.block_on(chunks.next()) {
                zip.write_all(&chunk?)?;
            }
            Ok(())
        };
        zip.start_file("README.txt", opts)?;
        zip.write_all(README.as_bytes())?;
        for b in &books {
            let path = format!("contacts/{}", export::file_name(b, ExportFormat::Vcf));
            add(
                &mut zip,
                path,
                vec![b.clone()],
                ExportFormat::Vcf,
                String::new(),
            )?;
        }
        for c in &calendars {
            let path = format!("calendars/{}", export::file_name(c, ExportFormat::Ics));
            let title = c.displayname.clone().unwrap_or_else(|| c.name.clone());
            add(&mut zip, path, vec![c.clone()], ExportFormat::Ics, title)?;
        }
        add(
            &mut zip,
            "contacts.csv".into(),
            books,
            ExportFormat::Csv(CsvLayout::Google),
            String::new(),
        )?;
        let mut file = zip.finish()?;
        file.rewind()?;
        Ok(file)
    })
    .await
    .map_err(|e| ArchiveError::Task(e.to_string()))?
}

/// The archive's file name for `user`.
pub fn file_name(user: &User) -> String {
    let day = crate::time::file_day(crate::time::now_ms());
    format!("kith-{}-{day}.zip", user.name)
}
