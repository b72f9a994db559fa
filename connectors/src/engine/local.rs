//! The planner's writes: updates, links and creates in the book, pushes to the source, and
//! what the book's own changes since the last run mean for the source.

use super::*;

impl Planner<'_, '_> {
    pub(super) fn update(
        &mut self,
        item: &SourceItem,
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
            o.card_text = Some(self.kind.edit(&bc.text, &bc.record, &merged.after));
            o.changes = merged.changes;
        }
        self.claimed.insert(card.to_string());
        Some(o)
    }

    pub(super) fn link(
        &mut self,
        item: &SourceItem,
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
                o.card_text = Some(self.kind.edit(&bc.text, &bc.record, &merged.after));
                o.changes = merged.changes;
            } else {
                o.notes.push(
                    "linked without changes: updating cards in Kith is blocked by the rules".into(),
                );
            }
        }
        o
    }

    pub(super) fn create(&mut self, item: &SourceItem, version: &str, name: String) -> Op {
        if !self.rules.kith.create {
            let mut o = op(Action::Skip, &item.id, name);
            o.notes
                .push("creating cards in Kith is blocked by the rules".into());
            return o;
        }
        let fresh = (self.new_uid)();
        let card = self.kind.resource(&fresh);
        let mut uid = self.kind.uid(&fresh);
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
                // Repaired as a CardDAV PUT would require, saying what changed.
                let (raw, removed) = without_controls(raw);
                if removed > 0 {
                    o.notes.push(format!(
                        "{removed} control characters removed from the card (XML cannot carry them)"
                    ));
                }
                if is_21(&raw) {
                    o.notes.push("vCard 2.1 converted to 3.0".into());
                }
                with_uid(&upgrade_21(&raw), &uid)
            }
            None => {
                // An event is kept whole in the plan: its text is not a function of the
                // record alone (DTSTAMP), so it is not made again when applied.
                o.verbatim = self.kind == ObjectKind::Event;
                self.kind.new_object(&uid, &item.record)
            }
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

    pub(super) fn may_push_delete(&self) -> bool {
        self.rules.direction.exports() && self.rules.source.delete && !self.rules.delete_protection
    }

    /// The update that brings the source to the card, if the rules let Kith write to it and
    /// the card says something the source does not.
    pub(super) fn push_update(
        &self,
        remote: &Record,
        card: &Record,
        etag: Option<&str>,
    ) -> Option<Push> {
        if !self.rules.direction.exports() || !self.rules.source.update {
            return None;
        }
        // Fitted whole, then projected: what a source may take can depend on fields it does
        // not store (an event's organizer).
        let want = (self.fit)(card.clone()).project(self.fields);
        let have = (self.fit)(remote.clone()).project(self.fields);
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
    pub(super) fn local_changes(&mut self, seen: &HashSet<String>, full: bool, ops: &mut Vec<Op>) {
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
        // Blocked creates are listed as skips with their reason, so a plan never drops them
        // silently.
        let blocked = !self.rules.source.create;
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
            let item = SourceItem {
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
            if blocked {
                let mut o = op(Action::Skip, "", bc.record.display_name());
                o.card = Some(name.clone());
                o.notes.push(format!(
                    "only in Kith: creating it in {} is blocked by the rules (allow creating in the source to send it)",
                    self.source
                ));
                ops.push(o);
                continue;
            }
            let mut card = bc.record.clone();
            let label = self
                .create_label
                .filter(|l| !card.has_elem(Field::Category, &Field::Category.key(l)));
            if let Some(l) = label {
                card.add(Field::Category, l, None);
            }
            let want = (self.fit)(card.clone()).project(self.fields);
            let mut o = op(Action::Refresh, "", bc.record.display_name());
            o.card = Some(name.clone());
            o.notes
                .push(format!("only in Kith: created in {}", self.source));
            if let Some(l) = label {
                // The card carries the label too: otherwise its next edit would take it off.
                if self.rules.kith.update {
                    o.card_text = Some(self.kind.edit(&bc.text, &bc.record, &card));
                    o.expect_etag = Some(bc.etag.clone());
                    o.changes = crate::merge::diff(&bc.record, &card);
                    o.notes
                        .push(format!("labelled {l:?}, the target for creates"));
                }
            }
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

    pub(super) fn removal(&mut self, id: &str, m: &Mapping) -> Op {
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
