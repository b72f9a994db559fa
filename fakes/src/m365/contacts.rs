//! The mailbox's contacts as Graph stores them: Outlook's fields and computed values, slot
//! limits, change keys, and the writes every route shares (create, change, move).

use super::{Contact, Event, Mailbox, World, errors};
use crate::common::token;
use axum::response::Response;
use serde_json::{Map, Value, json as j};

pub(super) const SCALARS: [&str; 17] = [
    "givenName",
    "surname",
    "middleName",
    "title",
    "generation",
    "nickName",
    "displayName",
    "companyName",
    "department",
    "jobTitle",
    "birthday",
    "personalNotes",
    "mobilePhone",
    "businessHomePage",
    "officeLocation",
    "profession",
    "spouseName",
];
pub(super) const LISTS: [&str; 5] = [
    "emailAddresses",
    "businessPhones",
    "homePhones",
    "categories",
    "imAddresses",
];
pub(super) const ADDRESSES: [&str; 3] = ["homeAddress", "businessAddress", "otherAddress"];

/// Outlook's computed fields: fileAs and initials always, displayName unless the write set
/// it (`keep_display`).
pub(super) fn computed(c: &mut Map<String, Value>, keep_display: bool) {
    let part = |c: &Map<String, Value>, k: &str| {
        c.get(k).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let (given, sur) = (part(c, "givenName"), part(c, "surname"));
    let name = [given.as_str(), sur.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    c.insert(
        "fileAs".into(),
        j!(if sur.is_empty() {
            given.clone()
        } else {
            format!("{sur}, {given}")
        }),
    );
    let initials: String = [given.chars().next(), sur.chars().next()]
        .into_iter()
        .flatten()
        .map(|ch| format!("{ch}."))
        .collect();
    c.insert("initials".into(), j!(initials));
    let given_display = c
        .get("displayName")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.is_empty());
    let keep = keep_display && given_display;
    if !name.is_empty() && !keep {
        c.insert("displayName".into(), j!(name));
    }
}

pub(super) fn render(c: &Contact, immutable: bool) -> Value {
    let mut out = Map::new();
    for k in SCALARS {
        out.insert(k.into(), c.data.get(k).cloned().unwrap_or(Value::Null));
    }
    for k in LISTS {
        out.insert(k.into(), c.data.get(k).cloned().unwrap_or(j!([])));
    }
    for k in ADDRESSES {
        out.insert(k.into(), c.data.get(k).cloned().unwrap_or(j!({})));
    }
    for k in ["fileAs", "initials"] {
        out.insert(k.into(), c.data.get(k).cloned().unwrap_or(Value::Null));
    }
    out.insert(
        "id".into(),
        j!(if immutable { &c.immutable } else { &c.regular }),
    );
    out.insert("@odata.etag".into(), j!(format!("W/\"{}\"", c.change_key)));
    out.insert("changeKey".into(), j!(c.change_key));
    out.insert("parentFolderId".into(), j!(c.folder));
    out.insert("createdDateTime".into(), j!(iso(c.created)));
    out.insert("lastModifiedDateTime".into(), j!(iso(c.modified)));
    Value::Object(out)
}

/// Graph's `lastModifiedDateTime`: RFC 3339 in UTC, to the second.
pub(crate) fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms - ms.rem_euclid(1000))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Applies slot limits to a body: three emails, two business and two home phones.
pub(super) fn slots(w: &World, body: &mut Map<String, Value>) -> Result<(), Box<Response>> {
    for (k, n) in [
        ("emailAddresses", 3),
        ("businessPhones", 2),
        ("homePhones", 2),
    ] {
        if let Some(list) = body.get_mut(k).and_then(Value::as_array_mut)
            && list.len() > n
        {
            if w.knobs.slot_overflow == "reject" {
                return Err(Box::new(errors::graph(
                    400,
                    "ErrorInvalidProperty",
                    &format!("The property '{k}' can hold at most {n} values."),
                )));
            }
            list.truncate(n);
        }
    }
    Ok(())
}

pub(crate) fn new_change_key() -> String {
    token("EQAAABYAAAA")
}

/// Records a write in the mailbox's feed (and gives the contact a new change key).
pub(crate) fn changed(w: &mut World, account: &str, id: &str, removed: Option<&'static str>) {
    changed_keeping(w, account, id, removed, false)
}

/// [`changed`], keeping a displayName the write itself set.
pub(crate) fn changed_keeping(
    w: &mut World,
    account: &str,
    id: &str,
    removed: Option<&'static str>,
    keep_display: bool,
) {
    w.seq += 1;
    let seq = w.seq;
    let now = w.now();
    let mb = w.mailbox(account);
    let Some(c) = mb.contacts.get_mut(id) else {
        return;
    };
    if removed.is_none() {
        c.change_key = new_change_key();
        c.modified = now;
        computed(&mut c.data, keep_display);
    }
    let e = Event {
        seq,
        folder: c.folder.clone(),
        immutable: c.immutable.clone(),
        regular: c.regular.clone(),
        removed,
    };
    mb.events.push(e);
}

pub(crate) fn create(
    w: &mut World,
    account: &str,
    folder: &str,
    data: Map<String, Value>,
    marker: Option<String>,
) -> String {
    let now = w.now();
    let mb = w.mailbox(account);
    mb.next += 1;
    let immutable = format!("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{:08X}", mb.next);
    let regular = format!("AAMkAGI2T{:08x}{}", mb.next, &token("")[..8]);
    let keep_display = data.contains_key("displayName");
    mb.contacts.insert(
        immutable.clone(),
        Contact {
            immutable: immutable.clone(),
            regular,
            folder: folder.to_string(),
            data,
            change_key: new_change_key(),
            created: now,
            modified: now,
            marker,
        },
    );
    changed_keeping(w, account, &immutable, None, keep_display);
    immutable
}

/// The contact an id names (either form), by its immutable id.
pub(super) fn find(mb: &Mailbox, id: &str) -> Option<String> {
    if mb.contacts.contains_key(id) {
        return Some(id.to_string());
    }
    mb.contacts
        .values()
        .find(|c| c.regular == id)
        .map(|c| c.immutable.clone())
}

/// A move to another folder: `@removed` (changed) in the old folder's feed, an add in the
/// new one's, and a new regular id (the immutable one stays).
pub(crate) fn move_to(w: &mut World, account: &str, id: &str, folder: &str) -> bool {
    let mb = w.mailbox(account);
    let Some(i) = find(mb, id) else {
        return false;
    };
    changed(w, account, &i, Some("changed"));
    let mb = w.mailbox(account);
    if let Some(c) = mb.contacts.get_mut(&i) {
        c.folder = folder.to_string();
        c.regular = format!("AAMkAGI2T{}", &token("")[..16]);
    }
    changed(w, account, &i, None);
    true
}
