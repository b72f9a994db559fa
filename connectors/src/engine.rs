//! Planning a run: match, merge, filter, find removals, then check the guards. Pure: the
//! caller loads the book and the mapping table, and stores and applies the plan.

use crate::card::{is_21, upgrade_21, with_uid, without_controls};
use crate::connector::Fetched;
use crate::formats::SourceItem;
use crate::merge::{Merged, Other, diff, pull, same};
use crate::normalize;
use crate::object::ObjectKind;
use crate::plan::{Action, Guard, GuardTrip, LinkState, Mapping, Op, Plan, Push, PushKind};
use crate::record::{Field, Record};
use crate::rules::Rules;
use std::collections::{HashMap, HashSet};

/// A card of the target book as the engine sees it.
pub struct BookCard {
    pub etag: String,
    pub text: String,
    pub record: Record,
    pub uid: Option<String>,
}

/// The target book with the indexes matching needs.
#[derive(Default)]
pub struct Book {
    pub cards: HashMap<String, BookCard>,
    by_email: HashMap<String, Vec<String>>,
    by_phone: HashMap<String, Vec<String>>,
    by_linkedin: HashMap<String, Vec<String>>,
    by_name: HashMap<String, Vec<String>>,
    by_uid: HashMap<String, Vec<String>>,
}

fn name_key(r: &Record) -> Option<String> {
    let company = r.get(Field::Company)?;
    Some(format!(
        "{}|{}",
        Field::Category.key(&r.display_name()),
        Field::Category.key(company)
    ))
}

impl Book {
    pub fn new(cards: impl IntoIterator<Item = (String, BookCard)>) -> Book {
        let mut b = Book::default();
        for (name, card) in cards {
            b.index(&name, &card.record);
            if let Some(u) = &card.uid {
                b.by_uid.entry(u.clone()).or_default().push(name.clone());
            }
            b.cards.insert(name, card);
        }
        b
    }

    fn index(&mut self, name: &str, r: &Record) {
        let put = |map: &mut HashMap<String, Vec<String>>, k: String| {
            map.entry(k).or_default().push(name.to_string());
        };
        for (k, _) in r.elems(Field::Email) {
            put(&mut self.by_email, k.clone());
        }
        for (k, _) in r.elems(Field::Phone) {
            put(&mut self.by_phone, k.clone());
        }
        if let Some(k) = r.linkedin() {
            put(&mut self.by_linkedin, k);
        }
        if let Some(k) = name_key(r) {
            put(&mut self.by_name, k);
        }
    }
}

/// What Kith knows about the source before the run.
#[derive(Default)]
pub struct SourceState {
    pub mappings: HashMap<String, Mapping>,
    /// Per card: the bases of the *other* sources linked to it, by source name.
    pub others: HashMap<String, Vec<(String, Record)>>,
    /// Whether a plan of this source was applied before (the pairing is established).
    pub established: bool,
}

pub struct PlanInput<'a> {
    /// The source's name, for notes.
    pub source: &'a str,
    pub rules: &'a Rules,
    pub fetched: Fetched,
    pub state: &'a SourceState,
    pub book: &'a mut Book,
    /// Makes the UID (and resource name) of a new card.
    pub new_uid: &'a mut dyn FnMut() -> String,
    /// Link name+company matches instead of only proposing them.
    pub accept_merges: bool,
    /// The fields the source can hold ([`crate::connector::Connector::fields`]); what is
    /// pushed to it is limited to them.
    pub fields: &'a [Field],
    /// [`crate::connector::Connector::fit`]: what the source can hold of a record.
    pub fit: &'a dyn Fn(Record) -> Record,
    /// [`crate::connector::Connector::create_label`]: the label cards created in the source
    /// get, on both sides.
    pub create_label: Option<&'a str>,
    /// Cards or events.
    pub kind: ObjectKind,
}

pub fn plan(input: PlanInput<'_>) -> Plan {
    let PlanInput {
        source,
        rules,
        fetched,
        state,
        book,
        new_uid,
        accept_merges,
        fields,
        fit,
        create_label,
        kind,
    } = input;
    // Cards whose contact the feed reports removed are free for a contact arriving in the
    // same run: a contact moved (or re-created with a new id) keeps its card.
    let leaving: HashSet<&str> = if fetched.full {
        HashSet::new()
    } else {
        fetched
            .removed
            .iter()
            .filter_map(|id| state.mappings.get(id))
            .filter(|m| m.state == LinkState::Linked)
            .filter_map(|m| m.card.as_deref())
            .collect()
    };
    let linked_cards: HashSet<&str> = state
        .mappings
        .values()
        .filter(|m| matches!(m.state, LinkState::Linked | LinkState::Pending))
        .filter_map(|m| m.card.as_deref())
        .filter(|c| !leaving.contains(c))
        .collect();
    let mut plan = Plan {
        errors: fetched.errors,
        seen: fetched.items.len(),
        complete: fetched.complete,
        linked: state
            .mappings
            .values()
            .filter(|m| m.state == LinkState::Linked)
            .count(),
        ..Plan::default()
    };
    let full = fetched.full;
    let mut claimed: HashSet<String> = HashSet::new();
    // A row that failed to read is not a contact that left the source.
    let mut seen: HashSet<String> = plan.errors.iter().filter_map(|e| e.id.clone()).collect();
    let mut planner = Planner {
        source,
        rules,
        state,
        book,
        new_uid,
        accept_merges,
        fields,
        fit,
        create_label,
        kind,
        linked_cards,
        claimed: &mut claimed,
    };
    for item in fetched.items {
        seen.insert(item.id.clone());
        match planner.item(item) {
            Some(op) => plan.ops.push(op),
            None => plan.unchanged += 1,
        }
    }
    if !full {
        // A change feed lists only what changed; a rule narrowed since (scope, ignored
        // domains) still applies to every linked contact, judged by what the source last said.
        let removed: HashSet<&String> = fetched.removed.iter().collect();
        let mut narrowed: Vec<(&String, &Mapping)> = state
            .mappings
            .iter()
            .filter(|(id, m)| {
                m.state == LinkState::Linked && !seen.contains(*id) && !removed.contains(id)
            })
            .collect();
        narrowed.sort_by_key(|(id, _)| *id);
        for (id, m) in narrowed {
            let Some(base) = &m.base else { continue };
            let probe = SourceItem {
                id: id.clone(),
                record: base.clone(),
                line: 0,
                raw: None,
                etag: None,
                marker: None,
            };
            if let Some(reason) = planner.filtered(&probe) {
                plan.ops.push(planner.filtered_out(id, m, reason));
                seen.insert(id.clone());
            }
        }
    }
    if fetched.complete {
        let mut gone: Vec<&String> = if fetched.resync {
            Vec::new()
        } else if fetched.full {
            state
                .mappings
                .iter()
                .filter(|(id, m)| m.state == LinkState::Linked && !seen.contains(*id))
                .map(|(id, _)| id)
                .collect()
        } else {
            fetched
                .removed
                .iter()
                .filter(|id| {
                    state
                        .mappings
                        .get(*id)
                        .is_some_and(|m| m.state == LinkState::Linked)
                })
                .collect()
        };
        gone.sort();
        for id in gone {
            if let Some(m) = state.mappings.get(id) {
                plan.ops.push(planner.removal(id, m));
                // Gone from the source: nothing of it is pushed there in this run.
                seen.insert(id.clone());
            }
        }
        if rules.direction.exports() {
            planner.local_changes(&seen, fetched.full, &mut plan.ops);
        }
    } else if plan.linked > 0 {
        plan.errors.push(crate::formats::RowError::at(0, "the source could not be read completely, so nothing is unlinked or deleted in this run"));
    }
    guards(&mut plan, state.established, full, kind);
    plan
}

/// The guards: each trip pauses the source until the user confirms the plan with `--force`.
fn guards(plan: &mut Plan, established: bool, full: bool, kind: ObjectKind) {
    let (item, object) = match kind {
        ObjectKind::Card => ("contacts", "cards"),
        ObjectKind::Event => ("events", "events"),
    };
    let linked = plan.linked;
    // Only a whole listing can look emptied; a change feed with no changes is the usual case.
    if full && plan.complete && plan.seen == 0 && linked > 0 {
        plan.trips.push(GuardTrip {
            guard: Guard::EmptySide,
            message: format!(
                "the source yielded no {item} but {linked} are linked; an empty file or listing is more likely a mistake than {linked} removals"
            ),
        });
    }
    let removals = plan.count(Action::Unlink)
        + plan.count(Action::Delete)
        + plan.pushes(crate::plan::PushKind::Delete);
    let limit = (linked / 10).max(5);
    if removals > limit {
        plan.trips.push(GuardTrip {
            guard: Guard::MassDelete,
            message: format!(
                "{removals} of {linked} linked {item} would be unlinked or deleted (the limit is {limit})"
            ),
        });
    }
    let creates = plan
        .count(Action::Create)
        .max(plan.pushes(crate::plan::PushKind::Create));
    let limit = (linked / 2).max(20);
    if established && linked > 0 && creates > limit {
        plan.trips.push(GuardTrip {
            guard: Guard::CreateStorm,
            message: format!(
                "{creates} new {object} would be created for a source with {linked} linked {item} (the limit is {limit}); a changed export format or id can duplicate everything"
            ),
        });
    }
}

struct Planner<'a, 'b> {
    source: &'a str,
    rules: &'a Rules,
    state: &'a SourceState,
    book: &'b mut Book,
    new_uid: &'b mut dyn FnMut() -> String,
    accept_merges: bool,
    fields: &'a [Field],
    fit: &'a dyn Fn(Record) -> Record,
    create_label: Option<&'a str>,
    kind: ObjectKind,
    linked_cards: HashSet<&'a str>,
    /// Cards matched by an item of this run: one card per remote contact.
    claimed: &'b mut HashSet<String>,
}

fn op(action: Action, id: &str, name: String) -> Op {
    Op {
        action,
        remote_id: id.to_string(),
        name,
        card: None,
        expect_etag: None,
        changes: Vec::new(),
        notes: Vec::new(),
        conflict: false,
        card_text: None,
        uid: None,
        mapping: None,
        expect_mapping: String::new(),
        push: None,
        verbatim: false,
        replaces: None,
        theirs: Vec::new(),
    }
}

impl Planner<'_, '_> {
    fn others(&self, card: &str) -> Vec<Other<'_>> {
        self.state
            .others
            .get(card)
            .map(|v| {
                v.iter()
                    .map(|(s, b)| Other { source: s, base: b })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn linked(&self, card: &str, item: &SourceItem, version: &str) -> Mapping {
        Mapping {
            card: Some(card.to_string()),
            state: LinkState::Linked,
            version: version.to_string(),
            base: Some(item.record.clone()),
            card_etag: None,
        }
    }

    fn item(&mut self, item: SourceItem) -> Option<Op> {
        let version = crate::push::version(&item);
        let existing = self.state.mappings.get(&item.id);
        let name = item.record.display_name();
        let fp = Mapping::fingerprint(existing);
        let mut out = self.decide(&item, existing, &version, name)?;
        out.expect_mapping = fp;
        Some(out)
    }

    fn filtered(&self, item: &SourceItem) -> Option<String> {
        let domains = &self.rules.ignore_domains;
        let emails: Vec<String> = item
            .record
            .elems(Field::Email)
            .filter_map(|(_, e)| normalize::email_domain(&e.value))
            .collect();
        if !domains.is_empty()
            && !emails.is_empty()
            && emails.iter().all(|d| {
                domains.iter().any(|o| {
                    d == &o.to_lowercase() || d.ends_with(&format!(".{}", o.to_lowercase()))
                })
            })
        {
            return Some("on your own domain (ignore-domains)".into());
        }
        if !self.rules.scope.is_empty()
            && !self.rules.scope.iter().any(|s| {
                item.record
                    .has_elem(Field::Category, &Field::Category.key(s))
            })
        {
            return Some(format!(
                "outside the scope ({})",
                self.rules.scope.join(", ")
            ));
        }
        None
    }

    /// A linked contact that a rule added later filters out: unlinked and ignored from now
    /// on, its card kept in the book (a rule never deletes what was imported).
    fn filtered_out(&self, id: &str, m: &Mapping, reason: String) -> Op {
        let name = m
            .base
            .as_ref()
            .map(Record::display_name)
            .unwrap_or_else(|| id.to_string());
        let mut o = op(Action::Unlink, id, name);
        o.card = m.card.clone();
        o.expect_mapping = Mapping::fingerprint(Some(m));
        o.mapping = Some(Mapping {
            state: LinkState::Ignored,
            ..m.clone()
        });
        o.notes.push(format!(
            "{reason}: unlinked, and the card stays in your book without syncing with {}",
            self.source
        ));
        o
    }

    fn decide(
        &mut self,
        item: &SourceItem,
        existing: Option<&Mapping>,
        version: &str,
        name: String,
    ) -> Option<Op> {
        if let Some(reason) = self.filtered(item) {
            if let Some(m) = existing.filter(|m| m.state == LinkState::Linked) {
                let mut o = self.filtered_out(&item.id, m, reason);
                if let Some(mapping) = o.mapping.as_mut() {
                    mapping.version = version.to_string();
                }
                return Some(o);
            }
            if existing.is_some_and(|m| m.state == LinkState::Ignored && m.version == version) {
                return None;
            }
            let mut o = op(Action::Ignore, &item.id, name);
            o.notes.push(reason);
            o.mapping = Some(Mapping {
                card: None,
                state: LinkState::Ignored,
                version: version.to_string(),
                base: None,
                card_etag: None,
            });
            return Some(o);
        }
        if let Some(m) = existing {
            let card = m
                .card
                .as_deref()
                .filter(|c| self.book.cards.contains_key(*c));
            match (m.state, card) {
                (LinkState::Linked, Some(card)) => {
                    return self.update(item, m, card, version, name);
                }
                (LinkState::Linked, None) => {
                    let mut o = op(Action::Refresh, &item.id, name);
                    if self.may_push_delete() {
                        o.push = Some(Push {
                            kind: PushKind::Delete,
                            record: None,
                            changes: Vec::new(),
                            expect_version: item.etag.clone(),
                        });
                        o.notes.push(format!(
                            "you deleted this card in Kith; the rules delete it in {} too",
                            self.source
                        ));
                        o.mapping = Some(Mapping {
                            state: LinkState::DeletedInKith,
                            ..m.clone()
                        });
                        return Some(o);
                    }
                    o.notes
                        .push("you deleted this card in Kith; it is not re-created".into());
                    o.mapping = Some(Mapping {
                        state: LinkState::DeletedInKith,
                        ..m.clone()
                    });
                    return Some(o);
                }
                (LinkState::DeletedInKith, _) if m.version == version => return None,
                (LinkState::Unlinked, Some(card)) if !self.claimed.contains(card) => {
                    // Back in the source: link the same card again.
                    let card = card.to_string();
                    let mut o = self.link(item, m.base.as_ref(), &card, version, name);
                    o.notes
                        .push(format!("back in {}: linked to its card again", self.source));
                    return Some(o);
                }
                _ => {}
            }
        }
        let mut notes = Vec::new();
        if existing.is_some_and(|m| m.state == LinkState::DeletedInKith) {
            notes.push(format!(
                "changed in {} after you deleted it in Kith",
                self.source
            ));
        }
        if let Some((card, pending)) = self.marked(item) {
            let mut o = self.link(item, None, &card, version, name);
            o.notes.push(format!(
                "found in {} by the id Kith stored with it: linked, not created again",
                self.source
            ));
            o.replaces = pending;
            return Some(o);
        }
        match self.find_match(&item.record, item.id.strip_prefix("uid:")) {
            Some((card, false)) => {
                let mut o = self.link(item, None, &card, version, name);
                o.notes.extend(notes);
                Some(o)
            }
            Some((card, true)) if self.accept_merges => {
                let mut o = self.link(item, None, &card, version, name);
                o.notes
                    .push("same name and company; linked because merges were accepted".into());
                Some(o)
            }
            Some((card, true)) => {
                let mut o = op(Action::Propose, &item.id, name);
                let other = self.book.cards.get(&card).map(|c| c.record.display_name());
                o.notes.push(format!(
                    "same name and company as the card {:?}; run with --accept-merges to link them",
                    other.unwrap_or_default()
                ));
                o.card = Some(card);
                Some(o)
            }
            None => {
                let mut o = self.create(item, version, name);
                o.notes.extend(notes);
                Some(o)
            }
        }
    }

    /// The card a remote contact carries Kith's marker for, if that card is not linked to
    /// another remote contact; with the pending mapping it resolves, if any.
    fn marked(&self, item: &SourceItem) -> Option<(String, Option<String>)> {
        let card = item.marker.as_deref()?;
        if !self.book.cards.contains_key(card) || self.claimed.contains(card) {
            return None;
        }
        let mut pending = None;
        for (id, m) in &self.state.mappings {
            if m.card.as_deref() != Some(card) {
                continue;
            }
            match m.state {
                LinkState::Pending => pending = Some(id.clone()),
                LinkState::Linked if id != &item.id => return None,
                _ => {}
            }
        }
        Some((card.to_string(), pending))
    }

    /// The best existing card for a new remote contact: by email, E.164 phone or LinkedIn
    /// profile (a link), else by exact name and company (`true`: only a proposal).
    fn find_match(&self, r: &Record, uid: Option<&str>) -> Option<(String, bool)> {
        let free = |names: Option<&Vec<String>>| -> Option<String> {
            names?
                .iter()
                .find(|n| !self.linked_cards.contains(n.as_str()) && !self.claimed.contains(*n))
                .cloned()
        };
        // The same vCard imported again (or a card a client already has) by its UID.
        if let Some(c) = uid.and_then(|u| free(self.book.by_uid.get(u))) {
            return Some((c, false));
        }
        for (k, _) in r.elems(Field::Email) {
            if let Some(c) = free(self.book.by_email.get(k)) {
                return Some((c, false));
            }
        }
        for (k, _) in r.elems(Field::Phone) {
            if let Some(c) = free(self.book.by_phone.get(k)) {
                return Some((c, false));
            }
        }
        if let Some(c) = r
            .linkedin()
            .and_then(|k| free(self.book.by_linkedin.get(&k)))
        {
            return Some((c, false));
        }
        name_key(r)
            .and_then(|k| free(self.book.by_name.get(&k)))
            .map(|c| (c, true))
    }
}

mod local;
#[cfg(test)]
mod tests;
