//! `kith export`: a book, a calendar or everything as a file, or the user's zip archive.

use crate::cli::args::ExportArgs;
use crate::core::{accounts, archive, export};
use crate::store::{Collection, Store};
use futures_util::StreamExt;
use std::sync::Arc;

/// `kith export`: writes the export to a file or standard output.
pub async fn command(store: Arc<dyn Store>, args: ExportArgs) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    if args.format == "archive" {
        return archive_command(store, &args).await;
    }
    let format = export::ExportFormat::parse(&args.format)
        .ok_or_else(|| format!("unknown export format {:?}", args.format))?;
    let user = accounts::require_user(store.as_ref(), &args.user)
        .await
        .map_err(super::lookup::account_words)?;
    let kind = if format.is_calendar() {
        crate::store::Kind::Calendar
    } else {
        crate::store::Kind::Addressbook
    };
    let all = store
        .collections(user.id, kind)
        .await
        .map_err(|e| e.to_string())?;
    let colls: Vec<Collection> = match &args.book {
        Some(b) => {
            let c = all.into_iter().find(|c| &c.name == b).ok_or_else(|| {
                format!(
                    "{} has no {} named {b:?}",
                    user.name,
                    if format.is_calendar() {
                        "calendar"
                    } else {
                        "address book"
                    }
                )
            })?;
            vec![c]
        }
        // Derived calendars (birthdays) are exported with the cards they come from.
        None => all.into_iter().filter(|c| c.derived.is_none()).collect(),
    };
    let title = match (&args.book, colls.first()) {
        (Some(_), Some(c)) => c.displayname.clone().unwrap_or_else(|| c.name.clone()),
        _ => format!("{}'s calendars", user.name),
    };
    let mut chunks = export::stream(store, colls, format, title);
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &args.output {
        Some(path) => Box::new(
            tokio::fs::File::create(path)
                .await
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let mut written = 0usize;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| format!("the export failed: {e}"))?;
        written += chunk.len();
        sink.write_all(&chunk)
            .await
            .map_err(|e| format!("cannot write the export: {e}"))?;
    }
    sink.flush()
        .await
        .map_err(|e| format!("cannot write the export: {e}"))?;
    if let Some(path) = &args.output {
        eprintln!("kith: wrote {written} bytes to {}", path.display());
    }
    Ok(())
}

/// `kith export --format archive`: the user's zip archive.
async fn archive_command(store: Arc<dyn Store>, args: &ExportArgs) -> Result<(), String> {
    let Some(path) = &args.output else {
        return Err("an archive is a zip file: name it with -o FILE".into());
    };
    let user = accounts::require_user(store.as_ref(), &args.user)
        .await
        .map_err(super::lookup::account_words)?;
    let mut file = archive::build(store, &user)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let n = std::io::copy(&mut file, &mut out)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("kith: wrote {n} bytes to {}", path.display());
    Ok(())
}
