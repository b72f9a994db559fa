//! `kith import FILE.ics`: a calendar file (an export of Kith's, Google's, Outlook's...) split
//! into one object per UID and stored in a calendar. An object whose UID the calendar already
//! has is updated in place, so importing the same file twice changes nothing.

use crate::cli::ImportArgs;
use crate::config::Config;
use crate::store::{Actor, Kind, PutOutcome, Store, etag_for};
use kith_dav::ical::bundle::split;
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

/// A resource name for UID `uid`: URL-safe, so every client can address it.
fn resource_name(uid: &str) -> String {
    let safe: String = uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    format!("{}.ics", safe.trim_matches('.'))
}

pub async fn run(store: &dyn Store, config: &Config, args: ImportArgs) -> Result<(), String> {
    let user = crate::accounts::require_user(store, &args.user)
        .await
        .map_err(|e| e.to_string())?;
    let name = args.book.as_deref().unwrap_or("personal");
    let cal = store
        .collection(user.id, Kind::Calendar, name)
        .await
        .map_err(|e| e.to_string())?
        .filter(|c| c.derived.is_none())
        .ok_or_else(|| {
            format!(
                "{} has no calendar named {name:?} to import into; pick one with --book",
                user.name
            )
        })?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let (pieces, missing) = split(&text);
    let mut problems: Vec<String> = missing
        .iter()
        .map(|kind| format!("a {kind} without a UID was skipped"))
        .collect();
    let actor = Actor::Command(format!(
        "import of {} (kith CLI)",
        args.file
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    for piece in &pieces {
        let resource = store
            .find_name(cal.id, &piece.uid)
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| resource_name(&piece.uid));
        let data = piece.text.clone().into_bytes();
        let etag = etag_for(&data);
        let prepared = match crate::history::prepare(config, &cal, &resource, data, etag) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("UID {}: {e}", piece.uid));
                continue;
            }
        };
        let component = prepared
            .content_type
            .rsplit("component=")
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if !cal.components.contains(&component) {
            problems.push(format!(
                "UID {}: {name} holds {} only, not {component}; import it into a calendar that does",
                piece.uid,
                cal.components.join(", ")
            ));
            continue;
        }
        let same = prepared.etag.clone();
        let unchanged_check = move |cur: Option<&str>| cur != Some(same.as_str());
        match store
            .put_object(cal.id, &prepared.as_new(), &unchanged_check, &actor)
            .await
            .map_err(|e| e.to_string())?
        {
            PutOutcome::Created => created += 1,
            PutOutcome::Updated => updated += 1,
            PutOutcome::PreconditionFailed => unchanged += 1,
            PutOutcome::UidConflict(other) => {
                problems.push(format!("UID {}: {other} already has it", piece.uid))
            }
        }
    }
    for p in &problems {
        eprintln!("kith: {}: {p}", args.file.display());
    }
    println!(
        "imported {} into calendar {name}: {created} created, {updated} updated, {unchanged} unchanged, {} skipped",
        args.file.display(),
        problems.len()
    );
    Ok(())
}
