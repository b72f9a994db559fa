//! What a series' single occurrences need upstream, RECURRENCE-ID by RECURRENCE-ID: neither
//! Google nor Graph takes edited or cancelled occurrences inside the series' own write, so an
//! edit made to one occurrence in a client is written to that occurrence on its own.

use super::when::When;
use crate::record::{Field, Record};
use std::collections::BTreeMap;

/// One occurrence as the series should have it: moved, retitled, or back as the series makes
/// it (an override the client removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The occurrence's original start, in the series' own form.
    pub rid: When,
    pub start: When,
    pub end: When,
    pub summary: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
}

/// The writes that bring `have`'s occurrences to `want`'s.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InstanceWrites {
    pub edits: Vec<Occurrence>,
    /// Occurrences to cancel, by original start.
    pub cancels: Vec<When>,
}

impl InstanceWrites {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty() && self.cancels.is_empty()
    }
}

type Fields = BTreeMap<String, String>;

fn overrides(r: &Record) -> BTreeMap<String, Fields> {
    r.elems(Field::Override)
        .filter_map(|(_, e)| {
            let f: Fields = serde_json::from_str(&e.value).ok()?;
            Some((f.get("rid")?.clone(), f))
        })
        .collect()
}

fn exdates(r: &Record) -> Vec<When> {
    r.elems(Field::Exdate)
        .filter_map(|(_, e)| When::parse(&e.value))
        .collect()
}

/// Whether two times mean the same occurrence start (an override read back from a provider
/// may name the same instant in another zone).
fn same_instant(a: &When, b: &When) -> bool {
    a == b || (a.utc(None).is_some() && a.utc(None) == b.utc(None))
}

/// The writes that make `have`'s occurrences what `want` says: new or changed overrides,
/// overrides the client removed (the occurrence goes back to the series' values), and new
/// EXDATEs (or overrides marked cancelled). A series whose rule changed is left to the
/// provider: its occurrences are made anew.
pub fn instance_writes(have: &Record, want: &Record) -> InstanceWrites {
    let mut out = InstanceWrites::default();
    if want.get(Field::Recurrence).is_none() || have.get(Field::Recurrence).is_none() {
        return out;
    }
    let (Some(start), end) = (
        want.get(Field::Start).and_then(When::parse),
        want.get(Field::End).and_then(When::parse),
    ) else {
        return out;
    };
    let length = end
        .as_ref()
        .and_then(|e| Some(e.utc(start.zone())? - start.utc(start.zone())?))
        .filter(|d| *d > chrono::Duration::zero())
        .unwrap_or_else(|| chrono::Duration::days(i64::from(start.is_date())));
    let had_cancelled = exdates(have);
    let (had, wanted) = (overrides(have), overrides(want));
    let cancelled = |w: &When| had_cancelled.iter().any(|x| same_instant(x, w));
    let mut cancels: Vec<When> = exdates(want)
        .into_iter()
        .filter(|w| !cancelled(w))
        .collect();
    let text = |f: &Fields, k: &str| f.get(k).cloned();
    for (rid, f) in &wanted {
        let Some(at) = When::parse(rid) else { continue };
        if f.get("status").map(String::as_str) == Some("CANCELLED") {
            if !cancelled(&at) {
                cancels.push(at);
            }
            continue;
        }
        if had.get(rid) == Some(f) || cancelled(&at) {
            continue;
        }
        let start = f
            .get("start")
            .and_then(|s| When::parse(s))
            .unwrap_or_else(|| at.clone());
        let end = f
            .get("end")
            .and_then(|s| When::parse(s))
            .unwrap_or_else(|| start.plus(length));
        out.edits.push(Occurrence {
            rid: at,
            start,
            end,
            summary: text(f, "summary").or_else(|| want.get(Field::Summary).map(str::to_string)),
            location: text(f, "location").or_else(|| want.get(Field::Location).map(str::to_string)),
            description: text(f, "description")
                .or_else(|| want.get(Field::Description).map(str::to_string)),
        });
    }
    for rid in had.keys().filter(|r| !wanted.contains_key(*r)) {
        let Some(at) = When::parse(rid) else { continue };
        if cancels.iter().any(|c| same_instant(c, &at)) || cancelled(&at) {
            continue;
        }
        out.edits.push(Occurrence {
            start: at.clone(),
            end: at.plus(length),
            rid: at,
            summary: want.get(Field::Summary).map(str::to_string),
            location: want.get(Field::Location).map(str::to_string),
            description: want.get(Field::Description).map(str::to_string),
        });
    }
    out.cancels = cancels;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Record {
        let mut r = Record::default();
        r.set(Field::Summary, "Standup");
        r.set(Field::Start, "2026-03-16T09:00:00 Europe/Berlin");
        r.set(Field::End, "2026-03-16T09:15:00 Europe/Berlin");
        r.set(Field::Recurrence, "FREQ=WEEKLY;BYDAY=MO;COUNT=4");
        r
    }

    #[test]
    fn a_moved_a_cancelled_and_a_reverted_occurrence_are_three_writes() {
        let mut have = series();
        have.add(
            Field::Override,
            r#"{"end":"2026-03-30T16:15:00 Europe/Berlin","rid":"2026-03-30T09:00:00 Europe/Berlin","start":"2026-03-30T16:00:00 Europe/Berlin","summary":"Late"}"#,
            None,
        );
        let mut want = series();
        want.add(
            Field::Override,
            r#"{"end":"2026-03-23T11:15:00 Europe/Berlin","rid":"2026-03-23T09:00:00 Europe/Berlin","start":"2026-03-23T11:00:00 Europe/Berlin","summary":"Moved"}"#,
            None,
        );
        want.add(Field::Exdate, "2026-04-06T09:00:00 Europe/Berlin", None);
        let w = instance_writes(&have, &want);
        assert_eq!(
            w.cancels,
            [When::parse("2026-04-06T09:00:00 Europe/Berlin").unwrap()]
        );
        assert_eq!(w.edits.len(), 2, "{w:?}");
        assert_eq!(w.edits[0].summary.as_deref(), Some("Moved"));
        assert_eq!(
            w.edits[0].start.to_string(),
            "2026-03-23T11:00:00 Europe/Berlin"
        );
        // The removed override: the occurrence goes back to the series' time and title.
        assert_eq!(
            w.edits[1].start.to_string(),
            "2026-03-30T09:00:00 Europe/Berlin"
        );
        assert_eq!(
            w.edits[1].end.to_string(),
            "2026-03-30T09:15:00 Europe/Berlin"
        );
        assert_eq!(w.edits[1].summary.as_deref(), Some("Standup"));
        // Nothing more once upstream holds the same.
        assert!(instance_writes(&want, &want).is_empty());
        // The same cancelled occurrence named in UTC is not cancelled twice.
        let mut utc = want.clone();
        utc.multis.remove(&Field::Exdate);
        utc.add(Field::Exdate, "2026-04-06T07:00:00Z", None);
        assert!(instance_writes(&utc, &want).cancels.is_empty());
    }
}
