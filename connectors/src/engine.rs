//! Planning a run: match, merge, filter, find removals, then check the guards. Pure: the
//! caller loads the book and the mapping table, and stores and applies the plan.

use crate::card::{edit_card, new_card, upgrade_21, with_uid};
use crate::connector::Fetched;
use crate::formats::RemoteItem;
use crate::merge::{Merged, Other, diff, pull, same};
use crate::normalize;
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
            }
        }
        if rules.direction.exports() {
            planner.local_changes(&seen, fetched.full, &mut plan.ops);
        }
    } else if plan.linked > 0 {
        plan.errors.push(crate::formats::RowError::at(0, "the source could not be read completely, so nothing is unlinked or deleted in this run"));
    }
    guards(&mut plan, state.established, full);
    plan
}

/// The guards: each trip pauses the source until the user confirms the plan with `--force`.
fn guards(plan: &mut Plan, established: bool, full: bool) {
    let linked = plan.linked;
    // Only a whole listing can look emptied; a change feed with no changes is the usual case.
    if full && plan.complete && plan.seen == 0 && linked > 0 {
        plan.trips.push(GuardTrip {
            guard: Guard::EmptySide,
            message: format!(
                "the source yielded no contacts but {linked} are linked; an empty export is more likely a mistake than {linked} removals"
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
                "{removals} of {linked} linked contacts would be unlinked or deleted (the limit is {limit})"
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
                "{creates} new cards would be created for a source with {linked} linked contacts (the limit is {limit}); a changed export format or id can duplicate everything"
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

    fn linked(&self, card: &str, item: &RemoteItem, version: &str) -> Mapping {
        Mapping {
            card: Some(card.to_string()),
            state: LinkState::Linked,
            version: version.to_string(),
            base: Some(item.record.clone()),
            card_etag: None,
        }
    }

    fn item(&mut self, item: RemoteItem) -> Option<Op> {
        let version = crate::push::version(&item);
        let existing = self.state.mappings.get(&item.id);
        let name = item.record.display_name();
        let fp = Mapping::fingerprint(existing);
        let mut out = self.decide(&item, existing, &version, name)?;
        out.expect_mapping = fp;
        Some(out)
    }

    fn filtered(&self, item: &RemoteItem) -> Option<String> {
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

    fn decide(
        &mut self,
        item: &RemoteItem,
        existing: Option<&Mapping>,
        version: &str,
        name: String,
    ) -> Option<Op> {
        if let Some(reason) = self.filtered(item) {
            if existing.is_some_and(|m| m.state == LinkState::Linked) {
                // Already linked: a rule added later never removes what was imported.
                let mut o = op(Action::Skip, &item.id, name);
                o.notes
                    .push(format!("{reason}; the linked card is left as it is"));
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
    fn marked(&self, item: &RemoteItem) -> Option<(String, Option<String>)> {
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

    fn update(
        &mut self,
        item: &RemoteItem,
        m: &Mapping,
        card: &str,
        version: &str,
        name: String,
    ) -> Option<Op> {
        let bc = self.book.cards.get(card)?;
        if m.version == version && m.card_etag.as_deref() == Some(bc.etag.as_str()) {
            return None;
        }
        let others = self.others(card);
        let merged = if self.rules.direction.imports() {
            pull(
                m.base.as_ref(),
                &bc.record,
                &item.record,
                &others,
                self.rules,
                self.source,
            )
        } else {
            Merged {
                after: bc.record.clone(),
                changes: Vec::new(),
                notes: Vec::new(),
                conflict: false,
                theirs: Vec::new(),
            }
        };
        let push = self.push_update(&item.record, &merged.after, item.etag.as_deref());
        let base_moves = m.base.as_ref() != Some(&item.record) || push.is_some();
        if merged.changes.is_empty() && !base_moves {
            return None;
        }
        let mut o = op(Action::Refresh, &item.id, name);
        o.card = Some(card.to_string());
        o.notes = merged.notes;
        o.conflict = merged.conflict;
        o.theirs = merged.theirs;
        o.mapping = Some(Mapping {
            card_etag: m.card_etag.clone(),
            ..self.linked(card, item, version)
        });
        if let (Some(p), Some(mapping)) = (&push, o.mapping.as_mut()) {
            // What the source will hold once the push is applied is the new agreement.
            mapping.base = p.record.clone();
        }
        o.push = push;
        if !merged.changes.is_empty() {
            if !self.rules.kith.update {
                o.action = Action::Skip;
                o.notes
                    .push("updating cards in Kith is blocked by the rules".into());
                o.mapping = None;
                o.changes = merged.changes;
                return Some(o);
            }
            o.action = Action::Update;
            o.expect_etag = Some(bc.etag.clone());
            o.card_text = Some(edit_card(&bc.text, &bc.record, &merged.after));
            o.changes = merged.changes;
        }
        self.claimed.insert(card.to_string());
        Some(o)
    }

    fn link(
        &mut self,
        item: &RemoteItem,
        base: Option<&Record>,
        card: &str,
        version: &str,
        name: String,
    ) -> Op {
        self.claimed.insert(card.to_string());
        let mut o = op(Action::Link, &item.id, name);
        o.card = Some(card.to_string());
        o.mapping = Some(self.linked(card, item, version));
        let Some(bc) = self.book.cards.get(card) else {
            return o;
        };
        o.expect_etag = Some(bc.etag.clone());
        let others = self.others(card);
        let merged = pull(
            base,
            &bc.record,
            &item.record,
            &others,
            self.rules,
            self.source,
        );
        o.notes = merged.notes;
        o.conflict = merged.conflict;
        o.theirs = merged.theirs;
        if !merged.changes.is_empty() {
            if self.rules.kith.update {
                o.card_text = Some(edit_card(&bc.text, &bc.record, &merged.after));
                o.changes = merged.changes;
            } else {
                o.notes.push(
                    "linked without changes: updating cards in Kith is blocked by the rules".into(),
                );
            }
        }
        o
    }

    fn create(&mut self, item: &RemoteItem, version: &str, name: String) -> Op {
        if !self.rules.kith.create {
            let mut o = op(Action::Skip, &item.id, name);
            o.notes
                .push("creating cards in Kith is blocked by the rules".into());
            return o;
        }
        let fresh = (self.new_uid)();
        let card = format!("{fresh}.vcf");
        let mut uid = format!("urn:uuid:{fresh}");
        let mut o = op(Action::Create, &item.id, name);
        let text = match &item.raw {
            // A vCard source's card is kept whole; it keeps its own UID unless the book
            // already has that UID on another card.
            Some(raw) => {
                match item.id.strip_prefix("uid:") {
                    Some(u) if !self.book.by_uid.contains_key(u) => uid = u.to_string(),
                    _ => {}
                }
                o.verbatim = true;
                with_uid(&upgrade_21(raw), &uid)
            }
            None => new_card(&uid, &item.record),
        };
        self.book
            .by_uid
            .entry(uid.clone())
            .or_default()
            .push(card.clone());
        o.uid = Some(uid);
        o.card = Some(card.clone());
        o.mapping = Some(self.linked(&card, item, version));
        o.card_text = Some(text);
        // Later rows of the same run match the new card instead of duplicating it.
        self.book.index(&card, &item.record);
        self.claimed.insert(card);
        o
    }

    fn may_push_delete(&self) -> bool {
        self.rules.direction.exports() && self.rules.source.delete && !self.rules.delete_protection
    }

    /// The update that brings the source to the card, if the rules let Kith write to it and
    /// the card says something the source does not.
    fn push_update(&self, remote: &Record, card: &Record, etag: Option<&str>) -> Option<Push> {
        if !self.rules.direction.exports() || !self.rules.source.update {
            return None;
        }
        let want = (self.fit)(card.project(self.fields));
        let have = (self.fit)(remote.project(self.fields));
        if same(&want, &have) {
            return None;
        }
        Some(Push {
            kind: PushKind::Update,
            changes: diff(&have, &want),
            record: Some(want),
            expect_version: etag.map(str::to_string),
        })
    }

    /// The export side for what the source did not mention: cards it does not have yet, and
    /// (for change feeds, which list only what changed remotely) linked cards edited in Kith.
    fn local_changes(&mut self, seen: &HashSet<String>, full: bool, ops: &mut Vec<Op>) {
        if !full {
            let mut edited: Vec<(&String, &Mapping)> = self
                .state
                .mappings
                .iter()
                .filter(|(id, m)| m.state == LinkState::Linked && !seen.contains(*id))
                .collect();
            edited.sort_by_key(|(id, _)| *id);
            for (id, m) in edited {
                let (Some(card), Some(base)) = (m.card.as_deref(), m.base.as_ref()) else {
                    continue;
                };
                let Some(bc) = self.book.cards.get(card) else {
                    continue;
                };
                if m.card_etag.as_deref() == Some(bc.etag.as_str()) {
                    continue;
                }
                if let Some(push) = self.push_update(base, &bc.record, m.remote_etag()) {
                    let mut o = op(Action::Refresh, id, bc.record.display_name());
                    o.card = Some(card.to_string());
                    o.expect_mapping = Mapping::fingerprint(Some(m));
                    o.mapping = Some(Mapping {
                        base: push.record.clone(),
                        ..m.clone()
                    });
                    o.push = Some(push);
                    ops.push(o);
                }
            }
        }
        if !self.rules.source.create {
            return;
        }
        // A card this source ever knew (unlinked after a delete there, ignored by a rule) is
        // not created in it again: deleting a contact in the source must stick.
        let known: HashSet<&str> = self
            .state
            .mappings
            .values()
            .filter_map(|m| m.card.as_deref())
            .collect();
        let mut names: Vec<&String> = self
            .book
            .cards
            .keys()
            .filter(|n| !known.contains(n.as_str()) && !self.claimed.contains(*n))
            .collect();
        names.sort();
        for name in names {
            let Some(bc) = self.book.cards.get(name) else {
                continue;
            };
            let item = RemoteItem {
                id: String::new(),
                record: bc.record.clone(),
                line: 0,
                raw: None,
                etag: None,
                marker: None,
            };
            if self.filtered(&item).is_some() {
                continue;
            }
            let want = (self.fit)(bc.record.project(self.fields));
            let mut o = op(Action::Refresh, "", bc.record.display_name());
            o.card = Some(name.clone());
            o.notes
                .push(format!("only in Kith: created in {}", self.source));
            // The remote id and version come from the source's answer when it is applied.
            o.mapping = Some(Mapping {
                card: Some(name.clone()),
                state: LinkState::Linked,
                version: String::new(),
                base: Some(want.clone()),
                card_etag: Some(bc.etag.clone()),
            });
            o.push = Some(Push {
                kind: PushKind::Create,
                changes: crate::merge::diff(&Record::default(), &want),
                record: Some(want),
                expect_version: None,
            });
            ops.push(o);
        }
    }

    fn removal(&mut self, id: &str, m: &Mapping) -> Op {
        let card = m
            .card
            .as_deref()
            .and_then(|c| self.book.cards.get(c).map(|bc| (c, bc)));
        let name = m
            .base
            .as_ref()
            .map(Record::display_name)
            .unwrap_or_else(|| id.to_string());
        let mut o = op(Action::Unlink, id, name);
        o.expect_mapping = Mapping::fingerprint(Some(m));
        o.mapping = Some(Mapping {
            state: LinkState::Unlinked,
            ..m.clone()
        });
        let Some((card, bc)) = card else {
            o.notes.push(format!(
                "gone from {}; its card was already deleted in Kith",
                self.source
            ));
            return o;
        };
        o.card = Some(card.to_string());
        let others = self.others(card);
        let edited = m.card_etag.as_deref() != Some(bc.etag.as_str());
        if self.claimed.contains(card) {
            o.notes.push(format!(
                "moved or re-created in {}: the card stays, linked to the contact that replaced it",
                self.source
            ));
        } else if !self.rules.may_delete_cards() {
            o.notes.push(format!(
                "gone from {}; delete protection keeps the card in your book",
                self.source
            ));
        } else if edited {
            o.notes.push(format!(
                "gone from {}; kept because you edited the card",
                self.source
            ));
        } else if let Some(other) = others.first() {
            o.notes.push(format!(
                "gone from {}; kept because {} still has it",
                self.source, other.source
            ));
        } else {
            o.action = Action::Delete;
            o.expect_etag = Some(bc.etag.clone());
            o.notes.push(format!(
                "gone from {}; the rules allow deleting it",
                self.source
            ));
        }
        o
    }
}

#[cfg(test)]
mod tests;
