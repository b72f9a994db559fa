//! The read-only birthday calendar: one yearly all-day event per BDAY and ANNIVERSARY in the
//! user's address books.
//!
//! The events are real calendar objects, so they get hash ETags and a sync-token like any
//! other. They are brought up to date when the calendar is read: the address books' change
//! logs are read from where the last refresh stopped, so a refresh costs O(changes) and a card
//! PUT over CardDAV shows up on the next sync of the calendar.

use crate::store::{
    Actor, Collection, CollectionPatch, Kind, NewObject, PutOutcome, Store, StoreError,
    StoreResult, SyncItem, User, etag_for,
};
use futures_util::StreamExt;
use kith_connectors::date::Date;
use kith_dav::vcard::parse_card;
use std::collections::HashMap;

pub const NAME: &str = "birthdays";
const DERIVED: &str = "birthdays";

/// Creates the user's birthday calendar if it does not exist yet.
pub async fn ensure(store: &dyn Store, user: &User) -> StoreResult<()> {
    if store
        .collection(user.id, Kind::Calendar, NAME)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let patches = [
        CollectionPatch::DisplayName(Some("Birthdays".into())),
        CollectionPatch::Description(Some(
            "Birthdays and anniversaries from your address books (read-only)".into(),
        )),
        CollectionPatch::Components(vec!["VEVENT".into()]),
    ];
    match store
        .create_collection(user.id, Kind::Calendar, NAME, &patches)
        .await
    {
        Ok(c) => store.set_derived(c.id, DERIVED).await,
        // Created by a concurrent request.
        Err(StoreError::Exists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads the address books' changes since the last refresh into the calendar.
pub async fn refresh(store: &dyn Store, user: &User, cal: &Collection) -> StoreResult<()> {
    let books = store.collections(user.id, Kind::Addressbook).await?;
    let marks: HashMap<i64, i64> = store.derived_marks(cal.id).await?.into_iter().collect();
    for book_id in marks.keys() {
        if !books.iter().any(|b| b.id == *book_id) {
            remove_book(store, cal, *book_id).await?;
            store.set_derived_mark(cal.id, *book_id, None).await?;
        }
    }
    for book in &books {
        let mut seen = marks.get(&book.id).copied().unwrap_or(0);
        if seen == book.seq {
            continue;
        }
        if seen != 0 && seen < book.horizon {
            // Deletions older than the tombstone horizon are gone: rebuild this book.
            remove_book(store, cal, book.id).await?;
            seen = 0;
        }
        let mut rows = store.changes(book.id, seen, book.seq, None, true);
        let mut current = seen;
        while let Some(item) = rows.next().await {
            match item? {
                SyncItem::Present(o) => {
                    write_card(store, cal, book.id, &o.meta.name, &o.data).await?
                }
                SyncItem::Removed { name, .. } => {
                    for kind in KINDS {
                        remove(store, cal, &event_name(book.id, &name, kind)).await?;
                    }
                }
                SyncItem::End { current: c } => current = c,
            }
        }
        store
            .set_derived_mark(cal.id, book.id, Some(current))
            .await?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Occasion {
    Birthday,
    Anniversary,
}

const KINDS: [Occasion; 2] = [Occasion::Birthday, Occasion::Anniversary];

impl Occasion {
    fn suffix(self) -> &'static str {
        match self {
            Occasion::Birthday => "bday",
            Occasion::Anniversary => "anniversary",
        }
    }

    fn props(self) -> &'static [&'static str] {
        match self {
            Occasion::Birthday => &["BDAY"],
            // vCard 3 clients write the anniversary as an extension.
            Occasion::Anniversary => &["ANNIVERSARY", "X-ANNIVERSARY", "X-MS-ANNIVERSARY"],
        }
    }
}

fn event_name(book_id: i64, card: &str, kind: Occasion) -> String {
    format!("{book_id}-{card}.{}.ics", kind.suffix())
}

async fn remove(store: &dyn Store, cal: &Collection, name: &str) -> StoreResult<()> {
    store
        .delete_object(cal.id, name, &|_| true, &Actor::Derived)
        .await
        .map(|_| ())
}

async fn remove_book(store: &dyn Store, cal: &Collection, book_id: i64) -> StoreResult<()> {
    let prefix = format!("{book_id}-");
    let mut names = Vec::new();
    let mut rows = store.objects(cal.id, false, None);
    while let Some(o) = rows.next().await {
        let o = o?;
        if o.meta.name.starts_with(&prefix) {
            names.push(o.meta.name);
        }
    }
    for n in names {
        remove(store, cal, &n).await?;
    }
    Ok(())
}

async fn write_card(
    store: &dyn Store,
    cal: &Collection,
    book_id: i64,
    card: &str,
    data: &[u8],
) -> StoreResult<()> {
    // Stored cards always parse; one that somehow does not simply has no events.
    let info = parse_card(data).ok();
    let who = info
        .as_ref()
        .and_then(|i| i.first("FN").or_else(|| i.first("ORG")))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Someone".into());
    for kind in KINDS {
        let name = event_name(book_id, card, kind);
        let date = info.as_ref().and_then(|i| {
            kind.props()
                .iter()
                .find_map(|p| i.first(p))
                .and_then(|v| Date::parse(v).ok().flatten())
        });
        let Some(date) = date else {
            remove(store, cal, &name).await?;
            continue;
        };
        let text = event(&name, &who, date, kind);
        let etag = etag_for(text.as_bytes());
        let obj = NewObject {
            name: &name,
            uid: &name,
            etag: &etag,
            content_type: "text/calendar; charset=utf-8; component=VEVENT",
            data: text.as_bytes(),
            index: Vec::new(),
            // Yearly for ever, from the date on the card.
            span: Some((i64::MIN, i64::MAX)),
        };
        // An unchanged event is not rewritten, so its ETag and the sync-token stay put.
        let changed = |cur: Option<&str>| cur != Some(etag.as_str());
        match store
            .put_object(cal.id, &obj, &changed, &Actor::Derived)
            .await?
        {
            PutOutcome::Created | PutOutcome::Updated | PutOutcome::PreconditionFailed => {}
            PutOutcome::UidConflict(_) | PutOutcome::UidChanged(_) => {}
        }
    }
    Ok(())
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The event for one date. A card without a year gets no year in the title, and its series
/// starts in 1972, a leap year, so 29 February works.
fn event(uid: &str, who: &str, date: Date, kind: Occasion) -> String {
    let title = match (kind, date.year) {
        (Occasion::Birthday, Some(y)) => format!("{who}'s birthday (born {y})"),
        (Occasion::Birthday, None) => format!("{who}'s birthday"),
        (Occasion::Anniversary, Some(y)) => format!("{who}'s anniversary (since {y})"),
        (Occasion::Anniversary, None) => format!("{who}'s anniversary"),
    };
    let year = date.year.unwrap_or(1972);
    // 29 February falls on the last day of February in other years.
    let rule = if date.month == 2 && date.day == 29 {
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1"
    } else {
        "FREQ=YEARLY"
    };
    let category = match kind {
        Occasion::Birthday => "Birthday",
        Occasion::Anniversary => "Anniversary",
    };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kith//Birthdays//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:19700101T000000Z\r\nDTSTART;VALUE=DATE:{year:04}{:02}{:02}\r\n\
         DURATION:P1D\r\nRRULE:{rule}\r\nSUMMARY:{}\r\nCATEGORIES:{category}\r\n\
         TRANSP:TRANSPARENT\r\nCLASS:PRIVATE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        date.month,
        date.day,
        text(&title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_valid_and_yearless_dates_have_no_year() {
        let d = Date::parse("--0412").unwrap().unwrap();
        let e = event("u", "Ada, Countess", d, Occasion::Birthday);
        assert!(e.contains("SUMMARY:Ada\\, Countess's birthday\r\n"));
        assert!(kith_dav::ical::parse_calendar(e.as_bytes()).is_ok());
        let d = Date::parse("1815-12-10").unwrap().unwrap();
        let e = event("u", "Ada", d, Occasion::Birthday);
        assert!(e.contains("(born 1815)"));
        assert!(e.contains("DTSTART;VALUE=DATE:18151210"));
        let leap = Date::parse("2000-02-29").unwrap().unwrap();
        assert!(event("u", "L", leap, Occasion::Anniversary).contains("BYMONTHDAY=-1"));
    }
}
