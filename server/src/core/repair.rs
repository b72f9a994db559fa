//! The one-time repair of objects stored before Kith refused what breaks clients (issue 24):
//! bytes that are not UTF-8, control characters, a card's second UID, vCard 2.1. Such a row is
//! served differently by GET and by a REPORT, and a client that PUTs it back would now be
//! refused. Each repaired row is written as a new version (the old bytes stay in history), so
//! its ETag changes and every client fetches the repaired card on its next sync.

use crate::config::Config;
use crate::core::objects::prepare;
use crate::store::{Actor, Kind, PutOutcome, Store, StoreResult, etag_for};
use futures_util::StreamExt;
use kith_dav::bytes;

/// The setting that records that the repair ran, so `kith serve` runs it once.
const DONE: &str = "repair.stored-bytes.v1";

/// One stored object the repair changed, or would change, or had to leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub user: String,
    pub kind: Kind,
    pub collection: String,
    pub name: String,
    /// What was changed, one sentence each.
    pub changes: Vec<String>,
    /// Why the row was left as stored, when the repaired bytes still cannot be stored.
    pub left: Option<String>,
}

/// The repaired bytes of one card or calendar object, with what changed; `None` if the object
/// needs nothing.
pub fn repair_bytes(kind: Kind, data: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    let (mut text, mut changes) = match bytes::repaired(data) {
        Some((t, c)) => (t, c),
        None => (String::from_utf8(data.to_vec()).ok()?, Vec::new()),
    };
    if kind == Kind::Addressbook {
        if let Some(one) = bytes::without_extra_uids(&text) {
            text = one;
            changes.push("the second and later UIDs removed".into());
        }
        if bytes::is_vcard_21(text.as_bytes()) {
            text = kith_connectors::card::upgrade_21(&text);
            changes.push("vCard 2.1 converted to 3.0".into());
        }
    }
    (!changes.is_empty()).then(|| (text.into_bytes(), changes))
}

/// Checks every stored object of every user and, unless `dry_run`, writes the repaired ones.
/// Derived calendars (birthdays) are skipped: they are written again from the cards.
pub async fn run(store: &dyn Store, config: &Config, dry_run: bool) -> StoreResult<Vec<Row>> {
    let mut rows = Vec::new();
    let actor = Actor::Command("repair of stored bytes".into());
    for user in store.list_users().await? {
        for kind in [Kind::Addressbook, Kind::Calendar] {
            for coll in store.collections(user.id, kind).await? {
                if coll.derived.is_some() {
                    continue;
                }
                let mut objects = store.objects(coll.id, true, None);
                let mut found = Vec::new();
                while let Some(o) = objects.next().await {
                    let o = o?;
                    if let Some((data, changes)) = repair_bytes(kind, &o.data) {
                        found.push((o.meta.name, o.meta.etag, data, changes));
                    }
                }
                for (name, old_etag, data, changes) in found {
                    let mut row = Row {
                        user: user.name.clone(),
                        kind,
                        collection: coll.name.clone(),
                        name: name.clone(),
                        changes,
                        left: None,
                    };
                    let etag = etag_for(&data);
                    match prepare(config, &coll, &name, data, etag) {
                        Err(e) => row.left = Some(e.to_string()),
                        Ok(_) if dry_run => {}
                        Ok(p) => {
                            // Only the bytes that were read: a client's newer write wins.
                            let same = move |cur: Option<&str>| cur == Some(old_etag.as_str());
                            match store
                                .put_object(coll.id, &p.as_new(), &same, &actor)
                                .await?
                            {
                                PutOutcome::Created | PutOutcome::Updated => {}
                                PutOutcome::PreconditionFailed => {
                                    row.left = Some("it changed while the repair ran".into());
                                }
                                PutOutcome::UidConflict(other) => {
                                    row.left = Some(format!("{other} has the same UID"));
                                }
                                PutOutcome::UidChanged(old) => {
                                    row.left = Some(format!("its UID {old} would change"));
                                }
                            }
                        }
                    }
                    rows.push(row);
                }
            }
        }
    }
    Ok(rows)
}

/// Runs the repair once per database, at the first start of a Kith that has it, and logs
/// each row it changed or had to leave.
pub async fn once(store: &dyn Store, config: &Config) -> StoreResult<()> {
    if store.setting(DONE).await?.is_some() {
        return Ok(());
    }
    let rows = run(store, config, false).await?;
    for r in &rows {
        let path = format!("{}/{}/{}", r.user, r.collection, r.name);
        match &r.left {
            None => {
                tracing::warn!(object = %path, changes = %r.changes.join("; "), "repaired a stored object")
            }
            Some(why) => {
                tracing::warn!(object = %path, problem = %r.changes.join("; "), why = %why, "left a stored object as it is")
            }
        }
    }
    let summary = format!(
        "{} objects repaired",
        rows.iter().filter(|r| r.left.is_none()).count()
    );
    store.set_setting(DONE, Some(summary.as_bytes())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_repaired_and_a_good_one_is_left_alone() {
        let good = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nEND:VCARD\r\n";
        assert_eq!(repair_bytes(Kind::Addressbook, good), None);
        let bad =
            b"BEGIN:VCARD\r\nVERSION:2.1\r\nUID:a\r\nUID:b\r\nFN:Ren\xe9\x07\r\nEND:VCARD\r\n";
        let (data, changes) = repair_bytes(Kind::Addressbook, bad).unwrap();
        let text = String::from_utf8(data).unwrap();
        assert!(
            text.contains("VERSION:3.0") && text.contains("René"),
            "{text}"
        );
        assert_eq!(text.matches("UID").count(), 1, "{text}");
        assert_eq!(changes.len(), 4, "{changes:?}");
        // Calendars: the bytes only.
        let ev = b"BEGIN:VCALENDAR\r\nX-A:\x07\r\nEND:VCALENDAR\r\n";
        let (data, _) = repair_bytes(Kind::Calendar, ev).unwrap();
        assert_eq!(data, b"BEGIN:VCALENDAR\r\nX-A:\r\nEND:VCALENDAR\r\n");
    }
}
