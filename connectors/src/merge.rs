//! The three-way merge of one contact: base (last agreed with the source), local (the unified
//! card now) and remote (the source now). Scalars merge per field, multi-valued fields per
//! element, so edits to different fields or elements never overwrite each other.

use crate::plan::{Change, ChangeKind};
use crate::record::{Field, Record};
use crate::rules::{Owner, Rules};

/// Another source's base for the same card: what that source provides.
pub struct Other<'a> {
    pub source: &'a str,
    pub base: &'a Record,
}

pub struct Merged {
    /// The card's record after the merge.
    pub after: Record,
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
    pub conflict: bool,
    /// The source's values Kith did not take because your edit won: what "keep theirs"
    /// in the conflicts inbox would set.
    pub theirs: Vec<Change>,
}

fn provided_by<'a>(others: &'a [Other<'a>], f: impl Fn(&Record) -> bool) -> Option<&'a str> {
    others.iter().find(|o| f(o.base)).map(|o| o.source)
}

fn quote(v: Option<&str>) -> String {
    match v {
        Some(v) => format!("{:?}", v.chars().take(60).collect::<String>()),
        None => "nothing".into(),
    }
}

/// Merges what the source says into the local card (the import direction).
pub fn pull(
    base: Option<&Record>,
    local: &Record,
    remote: &Record,
    others: &[Other<'_>],
    rules: &Rules,
    source: &str,
) -> Merged {
    let empty = Record::default();
    let b = base.unwrap_or(&empty);
    let mut out = Merged {
        after: local.clone(),
        changes: Vec::new(),
        notes: Vec::new(),
        conflict: false,
        theirs: Vec::new(),
    };
    for f in Field::every().filter(|f| !f.is_multi()) {
        let (bv, lv, rv) = (b.get(f), local.get(f), remote.get(f));
        if rv == bv || lv == rv {
            continue;
        }
        let take_remote = if lv == bv {
            true
        } else if rules.owner(f) == Owner::Source {
            out.notes.push(format!(
                "{}: {source} owns this field, so its value replaces {}",
                f.as_str(),
                quote(lv)
            ));
            true
        } else {
            out.conflict = true;
            out.theirs.push(Change {
                field: f,
                kind: if rv.is_some() {
                    ChangeKind::Set
                } else {
                    ChangeKind::Clear
                },
                before: lv.map(str::to_string),
                after: rv.map(str::to_string),
            });
            let whose = match provided_by(others, |o| o.get(f) == lv) {
                Some(s) if base.is_none() => format!("the value from {s}"),
                _ => "your edit".to_string(),
            };
            out.notes.push(format!(
                "{}: kept {whose} {}; {source} says {}",
                f.as_str(),
                quote(lv),
                quote(rv)
            ));
            false
        };
        if !take_remote {
            continue;
        }
        match rv {
            Some(v) => {
                out.after.scalars.insert(f, v.to_string());
                out.changes.push(Change {
                    field: f,
                    kind: ChangeKind::Set,
                    before: lv.map(str::to_string),
                    after: Some(v.to_string()),
                });
            }
            None => {
                if let Some(s) = provided_by(others, |o| o.get(f) == lv) {
                    out.notes
                        .push(format!("{}: kept, {s} still has it", f.as_str()));
                    continue;
                }
                out.after.scalars.remove(&f);
                out.changes.push(Change {
                    field: f,
                    kind: ChangeKind::Clear,
                    before: lv.map(str::to_string),
                    after: None,
                });
            }
        }
    }
    for f in Field::every().filter(|f| f.is_multi()) {
        for (k, e) in remote.elems(f) {
            if !b.has_elem(f, k) && !local.has_elem(f, k) {
                out.after
                    .multis
                    .entry(f)
                    .or_default()
                    .insert(k.clone(), e.clone());
                out.changes.push(Change {
                    field: f,
                    kind: ChangeKind::Add,
                    before: None,
                    after: Some(e.value.clone()),
                });
            }
        }
        for (k, e) in b.elems(f) {
            if remote.has_elem(f, k) || !local.has_elem(f, k) {
                continue;
            }
            if let Some(s) = provided_by(others, |o| o.has_elem(f, k)) {
                out.notes.push(format!(
                    "{}: kept {:?}, {s} still has it",
                    f.as_str(),
                    e.value
                ));
                continue;
            }
            if let Some(m) = out.after.multis.get_mut(&f) {
                m.remove(k);
                if m.is_empty() {
                    out.after.multis.remove(&f);
                }
            }
            out.changes.push(Change {
                field: f,
                kind: ChangeKind::Remove,
                before: Some(e.value.clone()),
                after: None,
            });
        }
    }
    out
}

/// Whether two records say the same (elements compared by identity, labels ignored).
pub fn same(a: &Record, b: &Record) -> bool {
    a.scalars == b.scalars
        && Field::every()
            .filter(|f| f.is_multi())
            .all(|f| a.elems(f).map(|(k, _)| k).eq(b.elems(f).map(|(k, _)| k)))
}

/// The changes that turn `from` into `to`.
pub fn diff(from: &Record, to: &Record) -> Vec<Change> {
    let mut out = Vec::new();
    for f in Field::every() {
        if f.is_multi() {
            for (k, e) in to.elems(f).filter(|(k, _)| !from.has_elem(f, k)) {
                let _ = k;
                out.push(Change {
                    field: f,
                    kind: ChangeKind::Add,
                    before: None,
                    after: Some(e.value.clone()),
                });
            }
            for (_, e) in from.elems(f).filter(|(k, _)| !to.has_elem(f, k)) {
                out.push(Change {
                    field: f,
                    kind: ChangeKind::Remove,
                    before: Some(e.value.clone()),
                    after: None,
                });
            }
        } else if from.get(f) != to.get(f) {
            out.push(Change {
                field: f,
                kind: if to.get(f).is_some() {
                    ChangeKind::Set
                } else {
                    ChangeKind::Clear
                },
                before: from.get(f).map(str::to_string),
                after: to.get(f).map(str::to_string),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(title: &str, emails: &[&str]) -> Record {
        let mut r = Record::default();
        r.set(Field::FullName, "Jane Doe");
        r.set(Field::Title, title);
        for e in emails {
            r.add(Field::Email, e, None);
        }
        r
    }

    #[test]
    fn client_edits_win_and_remote_changes_apply() {
        let base = rec("Engineer", &["a@x.org"]);
        let mut local = rec("CTO", &["a@x.org", "mine@x.org"]);
        local.add(Field::Phone, "+1 555 0100", None);
        let remote = rec("Senior Engineer", &["b@x.org"]);
        let m = pull(
            Some(&base),
            &local,
            &remote,
            &[],
            &Rules::default(),
            "linkedin",
        );
        assert!(m.conflict);
        assert_eq!(m.after.get(Field::Title), Some("CTO"));
        assert!(
            m.notes[0].contains("kept your edit \"CTO\""),
            "{:?}",
            m.notes
        );
        assert!(m.after.has_elem(Field::Email, "b@x.org"));
        assert!(m.after.has_elem(Field::Email, "mine@x.org"));
        assert!(!m.after.has_elem(Field::Email, "a@x.org"));
        assert!(m.after.has_elem(Field::Phone, "15550100"));
    }

    #[test]
    fn source_owned_fields_and_other_sources() {
        let base = rec("Engineer", &["a@x.org"]);
        let local = rec("CTO", &["a@x.org"]);
        let remote = rec("Staff Engineer", &[]);
        let mut rules = Rules::default();
        rules.fields.insert("title".into(), Owner::Source);
        let other = rec("", &["a@x.org"]);
        let others = [Other {
            source: "google-csv",
            base: &other,
        }];
        let m = pull(Some(&base), &local, &remote, &others, &rules, "linkedin");
        assert_eq!(m.after.get(Field::Title), Some("Staff Engineer"));
        assert!(
            m.after.has_elem(Field::Email, "a@x.org"),
            "another source still provides it"
        );
        assert!(!m.conflict);
    }

    #[test]
    fn identical_inputs_change_nothing() {
        let r = rec("Engineer", &["a@x.org"]);
        let m = pull(Some(&r), &r, &r, &[], &Rules::default(), "s");
        assert!(m.changes.is_empty() && m.notes.is_empty());
    }
}
