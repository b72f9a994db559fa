//! Importing a calendar file (an export of Kith's, Google's, Outlook's...) split
//! into one object per UID and stored in a calendar. An object whose UID the calendar already
//! has is updated in place, so importing the same file twice changes nothing.

use crate::config::Config;
use crate::core::objects::ObjectError;
use crate::store::{Actor, Kind, PutOutcome, Store, etag_for};
use kith_dav::ical::bundle::split;

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

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// One line per object skipped, saying why.
    pub problems: Vec<String>,
}

/// Why nothing was imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{user} has no calendar named {calendar:?} to import into")]
    NoCalendar { user: String, calendar: String },
}

/// Stores each object of calendar file `bytes` (called `file_name`) in `user`'s calendar
/// `name`, updating objects whose UID it already has.
pub async fn import(
    store: &dyn Store,
    config: &Config,
    user: &crate::store::User,
    name: &str,
    file_name: &str,
    bytes: &[u8],
) -> Result<Imported, ImportError> {
    let cal = store
        .collection(user.id, Kind::Calendar, name)
        .await?
        .filter(|c| c.derived.is_none())
        .ok_or_else(|| ImportError::NoCalendar {
            user: user.name.clone(),
            calendar: name.to_string(),
        })?;
    let text = String::from_utf8_lossy(bytes);
    let (pieces, missing) = split(&text);
    let mut out = Imported {
        problems: missing
            .iter()
            .map(|kind| format!("a {kind} without a UID was skipped"))
            .collect(),
        ..Imported::default()
    };
    let actor = Actor::Command(format!("import of {file_name} (kith CLI)"));
    for piece in &pieces {
        let resource = store
            .find_name(cal.id, &piece.uid)
            .await?
            .unwrap_or_else(|| resource_name(&piece.uid));
        let data = piece.text.clone().into_bytes();
        let etag = etag_for(&data);
        let prepared = match crate::core::objects::prepare(config, &cal, &resource, data, etag) {
            Ok(p) => p,
            Err(ObjectError::Component { allowed, found }) => {
                out.problems.push(format!(
                    "UID {}: {name} holds {} only, not {found}; import it into a calendar that does",
                    piece.uid,
                    allowed.join(", ")
                ));
                continue;
            }
            Err(e) => {
                out.problems.push(format!("UID {}: {e}", piece.uid));
                continue;
            }
        };
        let same = prepared.etag.clone();
        let unchanged_check = move |cur: Option<&str>| cur != Some(same.as_str());
        match store
            .put_object(cal.id, &prepared.as_new(), &unchanged_check, &actor)
            .await?
        {
            PutOutcome::Created => out.created += 1,
            PutOutcome::Updated => out.updated += 1,
            PutOutcome::PreconditionFailed => out.unchanged += 1,
            PutOutcome::UidConflict(other) => out
                .problems
                .push(format!("UID {}: {other} already has it", piece.uid)),
            PutOutcome::UidChanged(old) => out.problems.push(format!(
                "UID {}: {resource} holds UID {old}, which an import does not replace",
                piece.uid
            )),
        }
    }
    Ok(out)
}
