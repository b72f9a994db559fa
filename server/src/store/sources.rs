//! Storage for sources, their mapping tables, runs (plans and their outcomes), undo records and
//! events. Applying a run is one transaction: every card and mapping precondition is checked
//! and every write made, or nothing is.

use super::StoreResult;
pub use super::states::{RunKind, RunStatus, SourceStatus, Trigger};
use async_trait::async_trait;
use kith_connectors::plan::Mapping;
pub use kith_connectors::provider::{Provider, SourceKind};

#[derive(Debug, Clone)]
pub struct Source {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub kind: SourceKind,
    pub collection_id: i64,
    pub location: Option<String>,
    /// JSON rules.
    pub rules: String,
    pub status: SourceStatus,
    pub status_detail: Option<String>,
    pub applied_once: bool,
    pub last_run_at: Option<i64>,
    pub next_run_at: Option<i64>,
    pub created_at: i64,
    /// Where an API source's change feed resumes (its sync token or delta link).
    pub cursor: Option<String>,
    /// When the provider last notified Kith that the source changed.
    pub notified_at: Option<i64>,
}

/// A change to a source's settings.
#[derive(Debug, Clone)]
pub enum SourcePatch {
    Rules(String),
    Location(String),
    Collection(i64),
    Status(SourceStatus, Option<String>),
    Cursor(Option<String>),
    Schedule {
        last_run_at: Option<i64>,
        next_run_at: Option<i64>,
    },
}

#[derive(Debug, Clone)]
pub struct Run {
    pub id: i64,
    pub source_id: i64,
    pub kind: RunKind,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub undo_of: Option<i64>,
    pub created_at: i64,
    pub applied_at: Option<i64>,
    /// JSON summary.
    pub summary: String,
    pub message: Option<String>,
}

/// A run to record.
pub struct NewRun<'a> {
    pub source_id: i64,
    pub kind: RunKind,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub undo_of: Option<i64>,
    /// JSON summary.
    pub summary: &'a str,
}

/// What happens to a card when a run is applied.
#[derive(Debug, Clone)]
pub struct CardWrite {
    pub name: String,
    /// The ETag the card must have now; `None`: it must not exist.
    pub expect_etag: Option<String>,
    /// The new card, or `None` to delete it.
    pub put: Option<NewCard>,
}

#[derive(Debug, Clone)]
pub struct NewCard {
    pub uid: String,
    pub etag: String,
    pub content_type: String,
    /// A calendar object's time span (for time-range queries); `None` for cards.
    pub span: Option<(i64, i64)>,
    pub data: Vec<u8>,
    pub index: Vec<(String, String)>,
}

/// What happens to a mapping row.
#[derive(Debug, Clone)]
pub enum MappingWrite {
    Keep,
    Put(Mapping),
    Remove,
}

#[derive(Debug, Clone)]
pub struct ApplyOp {
    pub card: Option<CardWrite>,
    pub remote_id: String,
    pub mapping: MappingWrite,
    /// The mapping row's fingerprint when planned; `None` skips the check (undo).
    pub expect_mapping: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    Applied,
    /// A precondition failed; nothing was written.
    Stale(String),
}

/// One before-image of an applied run.
#[derive(Debug, Clone, Default)]
pub struct UndoRecord {
    pub card: Option<String>,
    pub card_uid: Option<String>,
    pub card_before: Option<Vec<u8>>,
    pub card_after_etag: Option<String>,
    pub remote_id: Option<String>,
    pub mapping_before: Option<Mapping>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub at: i64,
    pub level: String,
    pub source: Option<String>,
    pub message: String,
}

/// A link of another source to a card of the same book: for provenance and merges.
#[derive(Debug, Clone)]
pub struct BookLink {
    pub source_id: i64,
    pub source_name: String,
    pub mapping: Mapping,
}

#[async_trait]
pub trait Sources: Send + Sync {
    async fn create_source(
        &self,
        owner_id: i64,
        name: &str,
        kind: SourceKind,
        collection_id: i64,
        location: Option<&str>,
        rules: &str,
    ) -> StoreResult<Source>;
    async fn sources(&self, owner_id: i64) -> StoreResult<Vec<Source>>;
    async fn source(&self, id: i64) -> StoreResult<Option<Source>>;
    async fn source_by_name(&self, owner_id: i64, name: &str) -> StoreResult<Option<Source>>;
    /// Sources with automatic runs on, for the scheduler.
    async fn scheduled_sources(&self) -> StoreResult<Vec<Source>>;
    async fn patch_source(&self, id: i64, patch: SourcePatch) -> StoreResult<()>;
    /// Removes a source, its mappings and runs; with `delete_cards`, also the cards only it
    /// linked (as tombstoned deletes, so clients see them go).
    async fn delete_source(&self, id: i64, delete_cards: bool) -> StoreResult<u64>;

    async fn mappings(&self, source_id: i64) -> StoreResult<Vec<(String, Mapping)>>;
    /// How many of the source's mappings are in each state (`linked`, `pending`…): what a run
    /// that has nothing to plan needs to know, without reading them.
    async fn mapping_counts(
        &self,
        source_id: i64,
    ) -> StoreResult<std::collections::BTreeMap<String, i64>>;
    /// Every linked mapping of every source feeding `collection_id`.
    async fn book_links(&self, collection_id: i64) -> StoreResult<Vec<BookLink>>;

    /// Persists a plan as a run with its operations (JSON).
    async fn create_run(&self, run: &NewRun<'_>, ops: &[String]) -> StoreResult<i64>;
    async fn run(&self, id: i64) -> StoreResult<Option<Run>>;
    /// Runs of a user's sources (or one source), newest first.
    async fn runs(
        &self,
        owner_id: i64,
        source_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Run>>;
    async fn run_ops(&self, run_id: i64) -> StoreResult<Vec<String>>;
    async fn set_run_status(
        &self,
        id: i64,
        status: RunStatus,
        message: Option<&str>,
    ) -> StoreResult<()>;
    async fn undo_records(&self, run_id: i64) -> StoreResult<Vec<UndoRecord>>;

    /// Applies a run's writes in one transaction, recording before-images for undo. On
    /// success the run is marked applied (and `undone_run`, for an undo, undone) and the
    /// source marked as having had a plan applied. History records the writes as made by the
    /// source's run (or the undo of `undone_run`).
    ///
    /// `plan_ops` are stored with the run in the same transaction (a plan applied as soon as it
    /// is made is written once, not twice).
    async fn apply_run(
        &self,
        run_id: i64,
        source_id: i64,
        collection_id: i64,
        ops: &[ApplyOp],
        plan_ops: &[String],
        undone_run: Option<i64>,
    ) -> StoreResult<ApplyOutcome>;
    /// Stores a plan's operations for a run made without them.
    async fn add_run_ops(&self, run_id: i64, ops: &[String]) -> StoreResult<()>;

    async fn add_event(
        &self,
        user_id: i64,
        source_id: Option<i64>,
        level: &str,
        message: &str,
    ) -> StoreResult<()>;
    async fn events(&self, user_id: i64, limit: i64) -> StoreResult<Vec<Event>>;
}
