//! A plan: everything one run would do, with field-level diffs and the reason for every skip
//! and conflict. A dry run is a plan that was never applied.

use crate::formats::RowError;
use crate::record::{Field, Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A new card in the book.
    Create,
    /// Fields of a linked card change.
    Update,
    /// A remote contact is linked to an existing card (and merged into it).
    Link,
    /// The contact left the source: the card stays, the link is kept as history.
    Unlink,
    /// The card is removed from the book (only with a rule that allows it).
    Delete,
    /// A possible match (same name and company) that needs the user's word.
    Propose,
    /// Nothing changes in the book; only what Kith remembers of the source does.
    Refresh,
    /// Not done, for the reason in the notes.
    Skip,
    /// Filtered out (own domain).
    Ignore,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Link => "link",
            Action::Unlink => "unlink",
            Action::Delete => "delete",
            Action::Propose => "propose",
            Action::Refresh => "refresh",
            Action::Skip => "skip",
            Action::Ignore => "ignore",
        }
    }

    /// Whether applying it writes the card.
    pub fn writes_card(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Link | Action::Delete
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Set,
    Clear,
    Add,
    Remove,
}

/// One field-level difference applied to the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: Field,
    pub kind: ChangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkState {
    Linked,
    /// Gone from the source; the card was kept.
    Unlinked,
    /// Filtered out by a rule.
    Ignored,
    /// The user deleted the card in Kith.
    DeletedInKith,
    /// Kith created the contact in the source but the answer was lost: the card is spoken
    /// for (never created twice) until the contact turns up, found by its marker.
    Pending,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Linked => "linked",
            LinkState::Unlinked => "unlinked",
            LinkState::Ignored => "ignored",
            LinkState::DeletedInKith => "deleted-in-kith",
            LinkState::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<LinkState> {
        [
            LinkState::Linked,
            LinkState::Unlinked,
            LinkState::Ignored,
            LinkState::DeletedInKith,
            LinkState::Pending,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
}

/// One row of a source's mapping table: a remote id and what Kith knows of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// The card (resource name in the target book) it is linked to.
    pub card: Option<String>,
    pub state: LinkState,
    /// The remote version marker: an etag, a changeKey, or a file row's hash.
    pub version: String,
    /// The normalized record last agreed with the source.
    pub base: Option<Record>,
    /// The card's ETag after Kith last wrote it for this source: a different ETag means a
    /// client edited the card since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_etag: Option<String>,
}

impl Mapping {
    /// The source's own version marker (etag) inside [`Mapping::version`], which is
    /// `HASH@ETAG` for API sources and only the record's hash for files.
    pub fn remote_etag(&self) -> Option<&str> {
        self.version.split_once('@').map(|(_, e)| e)
    }

    /// A fingerprint for the apply-time precondition.
    pub fn fingerprint(m: Option<&Mapping>) -> String {
        match m {
            None => String::new(),
            Some(m) => {
                let json = serde_json::to_vec(m).unwrap_or_default();
                blake3::hash(&json).to_hex()[..24].to_string()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub action: Action,
    pub remote_id: String,
    /// Who it is, for people reading the plan.
    pub name: String,
    /// The card's resource name in the target book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// The card's ETag when planned; `None` for a card that must not exist yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_etag: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Why: conflicts kept, skips, protections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default)]
    pub conflict: bool,
    /// For a conflict: the source's values that lost to your edits, field by field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub theirs: Vec<Change>,
    /// The whole card after the op, for creates and updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_text: Option<String>,
    /// The card's UID, for creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The mapping row after the op (`None`: unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Mapping>,
    /// [`Mapping::fingerprint`] of the row when planned.
    #[serde(default)]
    pub expect_mapping: String,
    /// The card text is the source's own card, not one Kith can make again from the record,
    /// so a stored plan keeps it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verbatim: bool,
    /// What to write to the source itself (two-way and export-only sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<Push>,
    /// A mapping row this op supersedes (a pending create, now found): removed when applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushKind {
    Create,
    Update,
    Delete,
}

impl PushKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Create => "source-create",
            PushKind::Update => "source-update",
            PushKind::Delete => "source-delete",
        }
    }
}

/// A write to the source: the connector's create, update or delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    pub kind: PushKind,
    /// The contact as the source should hold it (limited to the fields it can represent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The remote version the write is conditional on (`If-Match`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guard {
    MassDelete,
    EmptySide,
    CreateStorm,
}

impl Guard {
    pub fn as_str(self) -> &'static str {
        match self {
            Guard::MassDelete => "mass-delete",
            Guard::EmptySide => "empty-side",
            Guard::CreateStorm => "create-storm",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardTrip {
    pub guard: Guard,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub trips: Vec<GuardTrip>,
    /// Rows that could not be read.
    pub errors: Vec<RowError>,
    /// Contacts the source yielded.
    pub seen: usize,
    /// Of those, how many needed nothing.
    pub unchanged: usize,
    /// Whether the read finished: a partial read never leads to unlinks or deletes.
    pub complete: bool,
    /// Linked contacts before the run.
    pub linked: usize,
}

impl Plan {
    pub fn counts(&self) -> BTreeMap<Action, usize> {
        let mut m = BTreeMap::new();
        for op in &self.ops {
            *m.entry(op.action).or_insert(0) += 1;
        }
        m
    }

    pub fn count(&self, a: Action) -> usize {
        self.ops.iter().filter(|o| o.action == a).count()
    }

    /// Writes to the source by kind.
    pub fn push_counts(&self) -> BTreeMap<PushKind, usize> {
        let mut m = BTreeMap::new();
        for p in self.ops.iter().filter_map(|o| o.push.as_ref()) {
            *m.entry(p.kind).or_insert(0) += 1;
        }
        m
    }

    pub fn pushes(&self, k: PushKind) -> usize {
        self.push_counts().get(&k).copied().unwrap_or(0)
    }

    pub fn conflicts(&self) -> usize {
        self.ops.iter().filter(|o| o.conflict).count()
    }

    /// Whether applying it would change anything at all.
    pub fn is_empty(&self) -> bool {
        self.ops
            .iter()
            .all(|o| matches!(o.action, Action::Skip | Action::Propose))
    }
}
