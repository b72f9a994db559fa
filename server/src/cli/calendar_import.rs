//! `kith import FILE.ics`: a calendar file split into one object per UID and stored in a
//! calendar (see [`crate::core::calendar_import`]).

use crate::cli::args::ImportArgs;
use crate::config::Config;
use crate::core::calendar_import::{ImportError, import};
use crate::store::Store;
use std::io::Read;

/// Whether `kith import` was given a calendar: `--format ics`, or a file that starts like one.
pub fn is_calendar(args: &ImportArgs) -> bool {
    if args.format == "ics" {
        return true;
    }
    if args.format != "auto" {
        return false;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(&args.file)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    text.trim_start_matches(['\u{feff}', ' ', '\r', '\n', '\t'])
        .to_ascii_uppercase()
        .starts_with("BEGIN:VCALENDAR")
}

pub async fn run(store: &dyn Store, config: &Config, args: ImportArgs) -> Result<(), String> {
    let user = crate::core::accounts::require_user(store, &args.user)
        .await
        .map_err(super::lookup::account_words)?;
    let name = args.book.as_deref().unwrap_or("personal");
    let bytes = std::fs::read(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let done = import(store, config, &user, name, &file_name, &bytes)
        .await
        .map_err(|e| match e {
            ImportError::NoCalendar { .. } => format!("{e}; pick one with --book"),
            e => e.to_string(),
        })?;
    for p in &done.problems {
        eprintln!("kith: {}: {p}", args.file.display());
    }
    println!(
        "imported {} into calendar {name}: {} created, {} updated, {} unchanged, {} skipped",
        args.file.display(),
        done.created,
        done.updated,
        done.unchanged,
        done.problems.len()
    );
    Ok(())
}
