//! Running sources: read, plan (the engine in `kith-connectors`), persist the plan, apply it in
//! one store transaction, and undo it. Used by the CLI and by the scheduler inside `kith serve`.

mod apply;
pub mod notify;
pub mod provenance;
pub mod schedule;
pub mod watch;

use apply::{apply_ops, stored_op};
pub use apply::{apply_run, load_ops, run_and_source, undo_run};

use crate::store::sources::{
    ApplyOp, ApplyOutcome, CardWrite, MappingWrite, NewCard, NewRun, Run, RunKind, RunStatus,
    Source, SourcePatch, SourceStatus, Trigger,
};
use crate::store::{Store, StoreError, etag_for};
use crate::upstream::Upstreams;
use futures_util::StreamExt;
use kith_connectors::connector::{Connector, ConnectorError};
use kith_connectors::engine::{self, Book, BookCard, PlanInput, SourceState};
use kith_connectors::formats::RowError;
use kith_connectors::plan::{Action, GuardTrip, LinkState, Op, Plan};
use kith_connectors::rules::Rules;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] ConnectorError),
    #[error("{0}")]
    Refused(String),
    #[error("there is no run {0}")]
    NoRun(i64),
    /// A guard paused the run; it is applied only when forced.
    #[error("run {run} tripped a guard ({why})")]
    GuardTripped { run: i64, why: String },
    #[error("run {run} is {status} and cannot be applied")]
    NotApplicable {
        run: i64,
        status: RunStatus,
        source_name: String,
    },
    /// The book or the source changed since the plan was made.
    #[error("{why}; nothing was applied")]
    Stale { why: String, source_name: String },
    /// The stored rules are not JSON Kith can read; the fronts say where to set them again.
    #[error("the rules of source {source_name} cannot be read ({why})")]
    BadRules { source_name: String, why: String },
}

pub type SyncResult<T> = Result<T, SyncError>;

/// The setting with the organisation's own email domains, one per line (set on the admin page).
pub const OWN_DOMAINS_SETTING: &str = "org:own-domains";

/// What a run records about itself (JSON in `sync_runs.summary`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Operations by action (`create`, `update`, `unlink`…).
    pub counts: BTreeMap<String, usize>,
    pub seen: usize,
    pub unchanged: usize,
    pub conflicts: usize,
    pub linked_before: usize,
    pub complete: bool,
    #[serde(default)]
    pub trips: Vec<GuardTrip>,
    /// Rows that could not be read (the first 1000).
    #[serde(default)]
    pub errors: Vec<RowError>,
    pub failed_rows: usize,
    /// The source's items are events (a calendar source), not contacts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub events: bool,
    /// The writes the source refused when the run was applied (`name: why`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// The Kith collection's change counter and the rules when the run began (hashed): a later
    /// run that finds the same has no Kith-side edit to send back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<String>,
    /// Where the source's change feed resumes once this run is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Summary {
    fn of(source: &Source, plan: &Plan) -> Summary {
        Summary {
            source: source.name.clone(),
            file: source.location.clone(),
            counts: plan
                .counts()
                .into_iter()
                .map(|(a, n)| (a.as_str().to_string(), n))
                .chain(
                    plan.push_counts()
                        .into_iter()
                        .map(|(k, n)| (k.as_str().to_string(), n)),
                )
                .collect(),
            seen: plan.seen,
            unchanged: plan.unchanged,
            conflicts: plan.conflicts(),
            linked_before: plan.linked,
            complete: plan.complete,
            trips: plan.trips.clone(),
            errors: plan.errors.iter().take(1000).cloned().collect(),
            failed_rows: plan.errors.iter().filter(|e| e.line > 0).count(),
            events: source.kind.is_calendar(),
            refused: Vec::new(),
            quiet: None,
            cursor: None,
        }
    }

    pub fn count(&self, action: &str) -> usize {
        self.counts.get(action).copied().unwrap_or(0)
    }
}

pub struct Options {
    pub dry_run: bool,
    pub force: bool,
    pub accept_merges: bool,
    pub trigger: Trigger,
    /// Told what the run is doing, phase by phase (the CLI shows it on a terminal).
    pub progress: fn(&str),
}

/// For runs nobody watches.
pub fn quiet(_: &str) {}

/// A run after planning (and applying, unless it was a dry run or a guard tripped).
pub struct Outcome {
    pub run_id: i64,
    pub status: RunStatus,
    pub summary: Summary,
    pub ops: Vec<Op>,
}

pub fn parse_rules(source: &Source) -> SyncResult<Rules> {
    serde_json::from_str(&source.rules).map_err(|e| SyncError::BadRules {
        source_name: source.name.clone(),
        why: e.to_string(),
    })
}

/// Records that a source cannot be read, and why, where the user sees it.
async fn source_failed(store: &dyn Store, source: &Source, e: &ConnectorError) -> SyncResult<()> {
    let (status, msg) = match e {
        ConnectorError::NeedsReauth(m) => (
            SourceStatus::NeedsReauth,
            format!(
                "source {} needs to be connected again: {m} The contacts already synced are kept. Connect the account again as source {}.",
                source.name, source.name
            ),
        ),
        e => (
            SourceStatus::Failing,
            format!("reading source {} failed: {e}", source.name),
        ),
    };
    store
        .patch_source(source.id, SourcePatch::Status(status, Some(msg.clone())))
        .await?;
    store
        .add_event(source.owner_id, Some(source.id), "error", &msg)
        .await?;
    Ok(())
}

/// Says who made each client edit that a plan sends to the source: in a shared book the
/// author may be a sharee, and the owner reading the plan should see who it was.
async fn name_authors(store: &dyn Store, collection_id: i64, ops: &mut [Op]) -> SyncResult<()> {
    for op in ops.iter_mut().filter(|o| o.push.is_some()) {
        let Some(card) = &op.card else { continue };
        if let Some(who) = store.written_by(collection_id, card).await?
            && let Some(client) = who.strip_prefix("client ")
        {
            op.notes.push(format!("changed in Kith by {client}"));
        }
    }
    Ok(())
}

/// Loads the target book's cards (or calendar's events) with what matching needs.
async fn load_book(
    store: &dyn Store,
    collection_id: i64,
    kind: kith_connectors::object::ObjectKind,
) -> SyncResult<Book> {
    let mut rows = store.objects(collection_id, true, None);
    let mut cards = Vec::new();
    while let Some(obj) = rows.next().await {
        cards.extend(book_card(kind, obj?));
    }
    Ok(Book::new(cards))
}

fn book_card(
    kind: kith_connectors::object::ObjectKind,
    obj: crate::store::Object,
) -> Option<(String, BookCard)> {
    // Objects Kith cannot read are still served; they just cannot be matched or merged.
    let c = kind.read(&obj.data).ok()?;
    Some((
        obj.meta.name,
        BookCard {
            etag: obj.meta.etag,
            text: kith_connectors::text::decode(&obj.data).into_owned(),
            record: c.record,
            uid: c.uid,
        },
    ))
}

/// The part of the book a change feed's run can touch, when that is less than all of it: the
/// objects linked to what the feed names, and (when the run writes to the source) the objects
/// edited since they were last agreed and those the source does not know. `None` when the
/// whole book is needed: a full listing, or an item Kith has no link for (matching reads every
/// object). So a run that finds nothing to do reads no object at all.
async fn load_touched(
    store: &dyn Store,
    source: &Source,
    state: &SourceState,
    fetched: &kith_connectors::connector::Fetched,
    exports: bool,
) -> SyncResult<Option<Book>> {
    if fetched.full
        || fetched
            .items
            .iter()
            .any(|i| state.mappings.get(&i.id).is_none_or(|m| m.card.is_none()))
    {
        return Ok(None);
    }
    let mut want: std::collections::BTreeSet<String> = fetched
        .items
        .iter()
        .map(|i| &i.id)
        .chain(&fetched.removed)
        .filter_map(|id| state.mappings.get(id)?.card.clone())
        .collect();
    if exports {
        let agreed: HashMap<&str, Option<&str>> = state
            .mappings
            .values()
            .filter_map(|m| Some((m.card.as_deref()?, m.card_etag.as_deref())))
            .collect();
        let mut metas = store.objects(source.collection_id, false, None);
        while let Some(obj) = metas.next().await {
            let meta = obj?.meta;
            match agreed.get(meta.name.as_str()) {
                Some(Some(etag)) if *etag == meta.etag => {}
                _ => {
                    want.insert(meta.name);
                }
            }
        }
    }
    let names: Vec<String> = want.into_iter().collect();
    let mut cards = Vec::new();
    for chunk in names.chunks(500) {
        for obj in store.objects_by_name(source.collection_id, chunk).await? {
            cards.extend(book_card(source.kind.object(), obj));
        }
    }
    Ok(Some(Book::new(cards)))
}

async fn load_state(store: &dyn Store, source: &Source) -> SyncResult<SourceState> {
    let mappings: HashMap<_, _> = store.mappings(source.id).await?.into_iter().collect();
    let mut others: HashMap<String, Vec<(String, kith_connectors::record::Record)>> =
        HashMap::new();
    for link in store.book_links(source.collection_id).await? {
        if link.source_id == source.id || link.mapping.state != LinkState::Linked {
            continue;
        }
        if let (Some(card), Some(base)) = (link.mapping.card, link.mapping.base) {
            others
                .entry(card)
                .or_default()
                .push((link.source_name, base));
        }
    }
    Ok(SourceState {
        mappings,
        others,
        established: source.applied_once,
    })
}

/// A UUIDv7 (RFC 9562): time-ordered, so a run's new cards are appended to the name and UID
/// indexes instead of being scattered through them, which makes large imports several times
/// faster. Within one millisecond a counter keeps them ordered and distinct.
fn new_uid() -> String {
    use std::sync::Mutex;
    static LAST: Mutex<(u64, u16)> = Mutex::new((0, 0));
    let now = crate::store::now_ms().max(0) as u64;
    let (ms, seq) = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        *last = if now > last.0 {
            (now, 0)
        } else if last.1 < 0x0fff {
            (last.0, last.1 + 1)
        } else {
            (last.0 + 1, 0)
        };
        *last
    };
    let r: [u8; 8] = rand::random();
    let tail = u64::from_be_bytes(r) & 0x3fff_ffff_ffff_ffff | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        ms >> 16,
        ms & 0xffff,
        0x7000 | seq,
        tail >> 48,
        tail & 0xffff_ffff_ffff
    )
}

/// Marks the source's runs that a process stopped while applying as failed: their operations
/// were to be written in the apply's transaction, which never committed. The caller holds the
/// source's lease, so no other process is applying them.
async fn interrupted(store: &dyn Store, source: &Source) -> SyncResult<()> {
    for run in store.runs(source.owner_id, Some(source.id), 20).await? {
        if run.status == RunStatus::Applying {
            let why = "interrupted: the process stopped while applying it, so nothing of it was applied; the next run plans again";
            store
                .set_run_status(run.id, RunStatus::Failed, Some(why))
                .await?;
            tracing::warn!(source = %source.name, run = run.id, "a run interrupted while applying was marked failed");
        }
    }
    Ok(())
}

/// Reads the source, plans, stores the plan, and applies it unless told not to or a guard
/// tripped.
pub async fn run_source(
    store: &dyn Store,
    up: &Upstreams,
    source: &Source,
    opts: Options,
) -> SyncResult<Outcome> {
    let mut rules = parse_rules(source)?;
    interrupted(store, source).await?;
    // The organisation's own domains (admin page) apply to every source but the directory:
    // colleagues are not contacts to import, except from where colleagues are listed.
    if source.kind.is_directory() {
    } else if let Some(v) = store.setting(OWN_DOMAINS_SETTING).await? {
        for d in String::from_utf8_lossy(&v).lines().map(str::trim) {
            if !d.is_empty() && !rules.ignore_domains.iter().any(|x| x == d) {
                rules.ignore_domains.push(d.to_string());
            }
        }
    }
    let mut conn = match up.connector(store, source).await {
        Ok(c) => c,
        Err(e) => {
            source_failed(store, source, &e).await?;
            return Err(e.into());
        }
    };
    // Read before anything else: an edit made while the run goes on changes it.
    let quiet = quiet_key(store, source).await?;
    let mut fetched = match conn.changes(source.cursor.as_deref()).await {
        Ok(f) => f,
        Err(e) => {
            source_failed(store, source, &e).await?;
            return Err(e.into());
        }
    };
    // Nothing came and nothing goes back: no mapping or object needs reading, only how many
    // are linked. The usual scheduled run of an import-only source.
    // A preview always plans in full: it lists what stays blocked, too.
    let since = quiet.as_deref().filter(|_| !opts.dry_run);
    if let Some(linked) = idle_linked(store, source, &rules, &fetched, since).await? {
        let plan = Plan {
            complete: fetched.complete,
            linked,
            ..Plan::default()
        };
        let state = SourceState::default();
        return finish_run(
            store,
            source,
            &rules,
            conn.as_mut(),
            &state,
            plan,
            Resume {
                cursor: fetched.cursor,
                quiet,
            },
            HashMap::new(),
            opts,
        )
        .await;
    }
    let state = load_state(store, source).await?;
    if let Err(e) = find_pending(conn.as_mut(), &state, &mut fetched).await {
        source_failed(store, source, &e).await?;
        return Err(e.into());
    }
    let cursor = fetched.cursor.clone();
    (opts.progress)(&format!(
        "read {} {} ({} failed rows); loading the {}…",
        fetched.items.len(),
        if source.kind.is_calendar() {
            "events"
        } else {
            "contacts"
        },
        fetched.errors.len(),
        if source.kind.is_calendar() {
            "calendar"
        } else {
            "address book"
        },
    ));
    let mut book =
        match load_touched(store, source, &state, &fetched, rules.direction.exports()).await? {
            Some(b) => b,
            None => load_book(store, source.collection_id, source.kind.object()).await?,
        };
    (opts.progress)(&format!("planning against {} cards…", book.cards.len()));
    // Planning a large source is seconds of CPU: tell the runtime, so the server's other
    // requests move to another worker meanwhile.
    let plan = tokio::task::block_in_place(|| {
        engine::plan(PlanInput {
            source: &source.name,
            rules: &rules,
            fetched,
            state: &state,
            book: &mut book,
            new_uid: &mut new_uid,
            accept_merges: opts.accept_merges,
            fields: conn.fields(),
            fit: &|r| conn.fit(r),
            create_label: conn.create_label(),
            kind: source.kind.object(),
        })
    });
    // The cards the source's writes concern: a write met with a stale version merges again.
    let cards = push_cards(&plan.ops, |name| {
        book.cards
            .get(name)
            .map(|c| (c.etag.clone(), c.text.clone()))
    });
    drop(book);
    finish_run(
        store,
        source,
        &rules,
        conn.as_mut(),
        &state,
        plan,
        Resume { cursor, quiet },
        cards,
        opts,
    )
    .await
}

/// What a run leaves for the next: where the feed resumes, and the [`quiet_key`] it began with.
struct Resume {
    cursor: Option<String>,
    quiet: Option<String>,
}

/// The Kith collection's change counter and a hash of the source's rules. When the last
/// applied run began with the same key, nothing was edited in Kith since and the rules are
/// as they were: there is nothing for a two-way source to send back.
async fn quiet_key(store: &dyn Store, source: &Source) -> SyncResult<Option<String>> {
    let kind = match source.kind.object() {
        kith_connectors::object::ObjectKind::Card => crate::store::Kind::Addressbook,
        kith_connectors::object::ObjectKind::Event => crate::store::Kind::Calendar,
    };
    let seq = store
        .collections(source.owner_id, kind)
        .await?
        .into_iter()
        .find(|c| c.id == source.collection_id)
        .map(|c| c.seq);
    let rules = blake3::hash(source.rules.as_bytes()).to_hex();
    Ok(seq.map(|s| format!("{s}:{}", &rules[..16])))
}

/// Whether the source's last run was applied having begun with `quiet`.
async fn quiet_since(store: &dyn Store, source: &Source, quiet: Option<&str>) -> SyncResult<bool> {
    let Some(quiet) = quiet else {
        return Ok(false);
    };
    let last = store.runs(source.owner_id, Some(source.id), 1).await?;
    Ok(last.first().is_some_and(|r| {
        r.kind == RunKind::Sync
            && r.status == RunStatus::Applied
            && serde_json::from_str::<Summary>(&r.summary)
                .is_ok_and(|s| s.quiet.as_deref() == Some(quiet))
    }))
}

/// The number of linked mappings, when a run has nothing to plan: the change feed brought
/// nothing, the rules filter nothing, no create awaits its answer, and the rules send nothing
/// back, or nothing was edited in Kith since the last run (see [`quiet_key`]).
async fn idle_linked(
    store: &dyn Store,
    source: &Source,
    rules: &Rules,
    fetched: &kith_connectors::connector::Fetched,
    quiet: Option<&str>,
) -> SyncResult<Option<usize>> {
    let idle = fetched.items.is_empty()
        && fetched.removed.is_empty()
        && fetched.errors.is_empty()
        && !fetched.full
        && rules.scope.is_empty()
        // Events carry no email for an ignored domain to match.
        && (rules.ignore_domains.is_empty() || source.kind.is_calendar());
    if !idle || (rules.direction.exports() && !quiet_since(store, source, quiet).await?) {
        return Ok(None);
    }
    let counts = store.mapping_counts(source.id).await?;
    if counts.contains_key(LinkState::Pending.as_str()) {
        return Ok(None);
    }
    Ok(Some(
        counts
            .get(LinkState::Linked.as_str())
            .copied()
            .unwrap_or(0)
            .max(0) as usize,
    ))
}

/// Stores a planned run, and applies it unless told not to or a guard tripped.
#[allow(clippy::too_many_arguments)]
async fn finish_run(
    store: &dyn Store,
    source: &Source,
    rules: &Rules,
    conn: &mut dyn Connector,
    state: &SourceState,
    mut plan: Plan,
    resume: Resume,
    cards: HashMap<String, (String, String)>,
    opts: Options,
) -> SyncResult<Outcome> {
    name_authors(store, source.collection_id, &mut plan.ops).await?;
    let mut summary = Summary::of(source, &plan);
    summary.cursor = resume.cursor;
    // A run that writes to the source leaves no key: a write deferred or refused is tried
    // again by the next run, which must plan in full.
    summary.quiet = resume
        .quiet
        .filter(|_| !plan.ops.iter().any(|o| o.push.is_some()));
    let tripped = !plan.trips.is_empty() && !opts.force;
    let apply_now = !tripped && !opts.dry_run;
    let status = if tripped {
        RunStatus::Paused
    } else if apply_now {
        RunStatus::Applying
    } else {
        RunStatus::Planned
    };
    (opts.progress)(&format!("saving the plan ({} operations)…", plan.ops.len()));
    let ops: Vec<String> = plan
        .ops
        .iter_mut()
        .map(|o| stored_op(o, apply_now))
        .collect();
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    let run = NewRun {
        source_id: source.id,
        kind: RunKind::Sync,
        trigger: opts.trigger,
        status,
        undo_of: None,
        summary: &summary_json,
    };
    // A plan applied at once is stored in the apply's transaction: one large write, not two.
    let run_id = store
        .create_run(&run, if apply_now { &[] } else { &ops })
        .await?;
    if tripped {
        let why: Vec<&str> = plan.trips.iter().map(|t| t.message.as_str()).collect();
        let msg = format!(
            "run {run_id} of {} was paused by a guard: {}. Review run {run_id}, and apply it anyway if it is what you want",
            source.name,
            why.join("; ")
        );
        store
            .patch_source(
                source.id,
                SourcePatch::Status(SourceStatus::Paused, Some(msg.clone())),
            )
            .await?;
        store
            .add_event(source.owner_id, Some(source.id), "warning", &msg)
            .await?;
        tracing::warn!(source = %source.name, run = run_id, "{msg}");
    }
    let mut outcome = Outcome {
        run_id,
        status,
        summary,
        ops: plan.ops,
    };
    if apply_now {
        (opts.progress)(&format!("applying {} operations…", outcome.ops.len()));
        crate::core::lease::failpoint("sync-applying").await;
        let writes = Writes {
            conn,
            rules,
            mappings: &state.mappings,
            cards: &cards,
        };
        outcome.summary.refused =
            apply_ops(store, source, run_id, &mut outcome.ops, &ops, Some(writes)).await?;
        finish_applied(store, source, &outcome.summary).await?;
        outcome.status = RunStatus::Applied;
    }
    // A run not applied leaves the cursor: the feed is read again from the same place.
    Ok(outcome)
}

/// Creates whose answer was lost, looked up by the marker Kith stored with them, for sources
/// whose change feed does not carry it; found ones join the fetched contacts.
async fn find_pending(
    conn: &mut dyn Connector,
    state: &SourceState,
    fetched: &mut kith_connectors::connector::Fetched,
) -> Result<(), ConnectorError> {
    let pending: Vec<&str> = state
        .mappings
        .values()
        .filter(|m| m.state == LinkState::Pending)
        .filter_map(|m| m.card.as_deref())
        .collect();
    for card in pending {
        if fetched
            .items
            .iter()
            .any(|i| i.marker.as_deref() == Some(card))
        {
            continue;
        }
        if let Some(item) = conn.find(card).await? {
            fetched.items.retain(|i| i.id != item.id);
            fetched.items.push(item);
        }
    }
    Ok(())
}

/// After an applied run: the change feed moves on, and a source that failed before is ok.
async fn finish_applied(store: &dyn Store, source: &Source, summary: &Summary) -> SyncResult<()> {
    if summary.cursor.is_some() {
        store
            .patch_source(source.id, SourcePatch::Cursor(summary.cursor.clone()))
            .await?;
    }
    if matches!(
        source.status,
        SourceStatus::NeedsReauth | SourceStatus::Failing
    ) {
        store
            .patch_source(source.id, SourcePatch::Status(SourceStatus::Ready, None))
            .await?;
    }
    Ok(())
}

/// The ETag and text of every card a plan writes to the source about.
fn push_cards(
    ops: &[Op],
    get: impl Fn(&str) -> Option<(String, String)>,
) -> HashMap<String, (String, String)> {
    ops.iter()
        .filter(|o| o.push.is_some())
        .filter_map(|o| o.card.as_deref())
        .filter_map(|n| get(n).map(|c| (n.to_string(), c)))
        .collect()
}

/// What carrying out a plan's writes to the source needs.
struct Writes<'a> {
    conn: &'a mut dyn Connector,
    rules: &'a Rules,
    mappings: &'a HashMap<String, kith_connectors::plan::Mapping>,
    cards: &'a HashMap<String, (String, String)>,
}

#[cfg(test)]
mod tests {
    use super::new_uid;

    #[test]
    fn new_uids_are_version_7_and_ordered() {
        let ids: Vec<String> = (0..5000).map(|_| new_uid()).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "time-ordered and distinct"
        );
        let id = &ids[0];
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "7");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
