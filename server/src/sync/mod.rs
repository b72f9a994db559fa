//! Running sources: read, plan (the engine in `kith-connectors`), persist the plan, apply it in
//! one store transaction, and undo it. Used by the CLI and by the scheduler inside `kith serve`.

pub mod provenance;
pub mod report;
pub mod schedule;

use crate::store::sources::{
    ApplyOp, ApplyOutcome, CardWrite, MappingWrite, NewCard, NewRun, Run, Source, SourcePatch,
};
use crate::store::{Store, StoreError, effective_uid, etag_for};
use crate::upstream::Upstreams;
use futures_util::StreamExt;
use kith_connectors::card::read_card;
use kith_connectors::connector::{Connector, ConnectorError};
use kith_connectors::engine::{self, Book, BookCard, PlanInput, SourceState};
use kith_connectors::formats::{Format, RowError};
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
    /// `cli` or `schedule`.
    pub trigger: &'static str,
    /// Told what the run is doing, phase by phase (the CLI shows it on a terminal).
    pub progress: fn(&str),
}

/// For runs nobody watches.
pub fn quiet(_: &str) {}

/// A run after planning (and applying, unless it was a dry run or a guard tripped).
pub struct Outcome {
    pub run_id: i64,
    pub status: String,
    pub summary: Summary,
    pub ops: Vec<Op>,
}

pub fn parse_rules(source: &Source) -> SyncResult<Rules> {
    serde_json::from_str(&source.rules).map_err(|e| {
        SyncError::Refused(format!(
            "the rules of source {} cannot be read ({e}); set them again with `kith source rules`",
            source.name
        ))
    })
}

/// Whether Kith can write to sources of this kind (files never).
pub fn writable(kind: &str) -> bool {
    Format::parse(kind).is_none()
}

/// Records that a source cannot be read, and why, where the user sees it.
async fn source_failed(store: &dyn Store, source: &Source, e: &ConnectorError) -> SyncResult<()> {
    let (status, msg) = match e {
        ConnectorError::NeedsReauth(m) => (
            "needs-reauth",
            format!(
                "source {} needs to be connected again: {m} The contacts already synced are kept. Reconnect with `kith source add {} --user <you> --name {}`.",
                source.name, source.kind, source.name
            ),
        ),
        e => (
            "failing",
            format!("reading source {} failed: {e}", source.name),
        ),
    };
    store
        .patch_source(
            source.id,
            SourcePatch::Status(status.into(), Some(msg.clone())),
        )
        .await?;
    store
        .add_event(source.owner_id, Some(source.id), "error", &msg)
        .await?;
    Ok(())
}

/// Loads the target book's cards with what matching needs.
async fn load_book(store: &dyn Store, collection_id: i64) -> SyncResult<Book> {
    let mut rows = store.objects(collection_id, true, None);
    let mut cards = Vec::new();
    while let Some(obj) = rows.next().await {
        let obj = obj?;
        // Cards Kith cannot read are still served; they just cannot be matched or merged.
        if let Ok(c) = read_card(&obj.data) {
            cards.push((
                obj.meta.name,
                BookCard {
                    etag: obj.meta.etag,
                    text: kith_connectors::text::decode(&obj.data).into_owned(),
                    record: c.record,
                    uid: c.uid,
                },
            ));
        }
    }
    Ok(Book::new(cards))
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

/// Reads the source, plans, stores the plan, and applies it unless told not to or a guard
/// tripped.
pub async fn run_source(
    store: &dyn Store,
    up: &Upstreams,
    source: &Source,
    opts: Options,
) -> SyncResult<Outcome> {
    let mut rules = parse_rules(source)?;
    // The organisation's own domains (admin page) apply to every source: colleagues are not
    // contacts to import.
    if let Some(v) = store.setting(OWN_DOMAINS_SETTING).await? {
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
    let mut fetched = match conn.changes(source.cursor.as_deref()).await {
        Ok(f) => f,
        Err(e) => {
            source_failed(store, source, &e).await?;
            return Err(e.into());
        }
    };
    let state = load_state(store, source).await?;
    if let Err(e) = find_pending(conn.as_mut(), &state, &mut fetched).await {
        source_failed(store, source, &e).await?;
        return Err(e.into());
    }
    let cursor = fetched.cursor.clone();
    (opts.progress)(&format!(
        "read {} contacts ({} failed rows); loading the address book…",
        fetched.items.len(),
        fetched.errors.len()
    ));
    let mut book = load_book(store, source.collection_id).await?;
    (opts.progress)(&format!("planning against {} cards…", book.cards.len()));
    // Planning a large source is seconds of CPU: tell the runtime, so the server's other
    // requests move to another worker meanwhile.
    let mut plan = tokio::task::block_in_place(|| {
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
        })
    });
    // The cards the source's writes concern: a write met with a stale version merges again.
    let cards = push_cards(&plan.ops, |name| {
        book.cards
            .get(name)
            .map(|c| (c.etag.clone(), c.text.clone()))
    });
    drop(book);
    let mut summary = Summary::of(source, &plan);
    summary.cursor = cursor;
    let tripped = !plan.trips.is_empty() && !opts.force;
    let status = if tripped { "paused" } else { "planned" };
    (opts.progress)(&format!("saving the plan ({} operations)…", plan.ops.len()));
    let apply_now = !tripped && !opts.dry_run;
    let ops: Vec<String> = plan
        .ops
        .iter_mut()
        .map(|o| stored_op(o, apply_now))
        .collect();
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    let run = NewRun {
        source_id: source.id,
        kind: "sync",
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
            "run {run_id} of {} was paused by a guard: {}. Review it with `kith sync show {run_id}` and apply it with `kith sync apply {run_id} --force`",
            source.name,
            why.join("; ")
        );
        store
            .patch_source(
                source.id,
                SourcePatch::Status("paused".into(), Some(msg.clone())),
            )
            .await?;
        store
            .add_event(source.owner_id, Some(source.id), "warning", &msg)
            .await?;
        tracing::warn!(source = %source.name, run = run_id, "{msg}");
    }
    let mut outcome = Outcome {
        run_id,
        status: status.to_string(),
        summary,
        ops: plan.ops,
    };
    if apply_now {
        (opts.progress)(&format!("applying {} operations…", outcome.ops.len()));
        let writes = Writes {
            conn: conn.as_mut(),
            rules: &rules,
            mappings: &state.mappings,
            cards: &cards,
        };
        apply_ops(store, source, run_id, &mut outcome.ops, &ops, Some(writes)).await?;
        finish_applied(store, source, &outcome.summary).await?;
        outcome.status = "applied".into();
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
    if matches!(source.status.as_str(), "needs-reauth" | "failing") {
        store
            .patch_source(source.id, SourcePatch::Status("ready".into(), None))
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

/// An op as stored. A plan kept for later keeps what applying it needs, except a new card's
/// text, which is made again from its UID and record. A plan applied at once is kept as a
/// record for `kith sync show` only: without card texts and mapping rows, which the book and
/// the mapping table now hold (this halves what a large first import writes).
fn stored_op(op: &mut Op, applied_now: bool) -> String {
    let drop_text = applied_now || (op.action == Action::Create && !op.verbatim);
    let text = if drop_text { op.card_text.take() } else { None };
    let mapping = if applied_now { op.mapping.take() } else { None };
    let json = serde_json::to_string(op).unwrap_or_default();
    if text.is_some() {
        op.card_text = text;
    }
    if mapping.is_some() {
        op.mapping = mapping;
    }
    json
}

/// The text of the card an op writes, made again for a stored create.
fn card_text(op: &Op) -> Option<std::borrow::Cow<'_, str>> {
    if let Some(t) = &op.card_text {
        return Some(std::borrow::Cow::Borrowed(t));
    }
    match (
        op.action,
        &op.uid,
        op.mapping.as_ref().and_then(|m| m.base.as_ref()),
    ) {
        (Action::Create, Some(uid), Some(base)) => Some(std::borrow::Cow::Owned(
            kith_connectors::card::new_card(uid, base),
        )),
        _ => None,
    }
}

/// A card write for a new card text: its ETag, storage UID key and index.
fn card_put(name: &str, text: &str) -> SyncResult<NewCard> {
    let data = text.as_bytes().to_vec();
    let info = kith_dav::vcard::parse_card(&data)
        .map_err(|e| SyncError::Refused(format!("the planned card {name} is not valid: {e}")))?;
    Ok(NewCard {
        uid: effective_uid(&info, name),
        etag: etag_for(&data),
        index: info
            .index_entries()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        data,
    })
}

fn apply_op(op: &Op) -> SyncResult<Vec<ApplyOp>> {
    if matches!(op.action, Action::Skip | Action::Propose) {
        return Ok(Vec::new());
    }
    let mut card = None;
    let mut new_etag = None;
    if let (Some(name), Some(text)) = (&op.card, card_text(op)) {
        let put = card_put(name, &text)?;
        new_etag = Some(put.etag.clone());
        card = Some(CardWrite {
            name: name.clone(),
            expect_etag: op.expect_etag.clone(),
            put: Some(put),
        });
    } else if op.action == Action::Delete {
        card = op.card.as_ref().map(|name| CardWrite {
            name: name.clone(),
            expect_etag: op.expect_etag.clone(),
            put: None,
        });
    }
    let mapping = match &op.mapping {
        None => MappingWrite::Keep,
        Some(m) => {
            let mut m = m.clone();
            if new_etag.is_some() {
                m.card_etag = new_etag;
            } else if op.action == Action::Link {
                // Linked without changes: the card as it is now is what was agreed.
                m.card_etag = op.expect_etag.clone();
            }
            MappingWrite::Put(m)
        }
    };
    let mut out = vec![ApplyOp {
        card,
        remote_id: op.remote_id.clone(),
        mapping,
        expect_mapping: Some(op.expect_mapping.clone()),
    }];
    if let Some(pending) = &op.replaces {
        out.push(ApplyOp {
            card: None,
            remote_id: pending.clone(),
            mapping: MappingWrite::Remove,
            expect_mapping: None,
        });
    }
    Ok(out)
}

/// The store writes for a plan's operations.
fn prepare(source: &Source, ops: &[Op]) -> SyncResult<Vec<ApplyOp>> {
    // Writing to a source needs a connector that can write; file sources cannot, and their
    // rules are import-only, so their plans never hold such writes.
    if !writable(&source.kind) && ops.iter().any(|o| o.push.is_some()) {
        return Err(SyncError::Refused(format!(
            "source {} ({}) cannot be written to, so a plan that changes it cannot be applied; set its direction to import-only",
            source.name, source.kind
        )));
    }
    // Validating and indexing every new card is CPU work: split it over two threads.
    let half = ops.len().div_ceil(2);
    let (a, b) = ops.split_at(half.min(ops.len()));
    let build = |part: &[Op]| -> SyncResult<Vec<ApplyOp>> {
        let mut out = Vec::new();
        for op in part {
            out.extend(apply_op(op)?);
        }
        Ok(out)
    };
    let (wa, wb) = tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            let hb = s.spawn(|| build(b));
            let wa = build(a);
            (wa, hb.join())
        })
    });
    let mut writes = wa?;
    match wb {
        Ok(w) => writes.extend(w?),
        Err(_) => return Err(SyncError::Refused("preparing the cards failed".into())),
    }
    Ok(writes)
}

/// Applies `ops`; `stored`, when given, are the same ops as JSON, stored with the run in the
/// same transaction (or after it, if the plan turns out stale).
async fn apply_ops(
    store: &dyn Store,
    source: &Source,
    run_id: i64,
    ops: &mut Vec<Op>,
    stored: &[String],
    to_source: Option<Writes<'_>>,
) -> SyncResult<()> {
    let mut stopped = None;
    let mut recorded = None;
    if let Some(w) = to_source
        && ops.iter().any(|o| o.push.is_some())
    {
        let ctx = kith_connectors::push::Context {
            source: &source.name,
            rules: w.rules,
            fields: w.conn.fields(),
            mappings: w.mappings,
            cards: w.cards,
        };
        let pushed = kith_connectors::push::push(w.conn, ops, &ctx).await;
        tracing::info!(source = %source.name, done = pushed.done, deferred = pushed.deferred, failed = pushed.failed, pending = pushed.pending, "writes to the source carried out");
        stopped = pushed.stopped;
        // The run's record shows what the writes came to (new ids, deferrals, failures).
        if !stored.is_empty() {
            recorded = Some(
                ops.iter_mut()
                    .map(|o| stored_op(o, true))
                    .collect::<Vec<_>>(),
            );
        }
    }
    let stored = recorded.as_deref().unwrap_or(stored);
    let outcome = store_ops(store, source, run_id, ops, stored).await;
    if let Some(e) = stopped {
        // What was written stays recorded; the feed is not moved, so the rest comes again.
        source_failed(store, source, &e).await?;
        outcome?;
        return Err(e.into());
    }
    outcome
}

/// Writes a plan's cards and mapping rows in one transaction.
async fn store_ops(
    store: &dyn Store,
    source: &Source,
    run_id: i64,
    ops: &[Op],
    stored: &[String],
) -> SyncResult<()> {
    let writes = match prepare(source, ops) {
        Ok(w) => w,
        Err(e) => {
            // The plan stays on record, with why it could not be applied.
            if !stored.is_empty() {
                store.add_run_ops(run_id, stored).await?;
            }
            store
                .set_run_status(run_id, "failed", Some(&e.to_string()))
                .await?;
            return Err(e);
        }
    };
    match store
        .apply_run(
            run_id,
            source.id,
            source.collection_id,
            &writes,
            stored,
            None,
        )
        .await?
    {
        ApplyOutcome::Applied => Ok(()),
        ApplyOutcome::Stale(why) => {
            if !stored.is_empty() {
                store.add_run_ops(run_id, stored).await?;
            }
            let msg = format!(
                "{why}; nothing was applied. Make a new plan with `kith sync plan {}`",
                source.name
            );
            store.set_run_status(run_id, "stale", Some(&msg)).await?;
            Err(SyncError::Refused(msg))
        }
    }
}

pub async fn load_ops(store: &dyn Store, run_id: i64) -> SyncResult<Vec<Op>> {
    store
        .run_ops(run_id)
        .await?
        .iter()
        .map(|s| {
            serde_json::from_str(s)
                .map_err(|e| SyncError::Refused(format!("run {run_id} cannot be read: {e}")))
        })
        .collect()
}

pub async fn run_and_source(store: &dyn Store, run_id: i64) -> SyncResult<(Run, Source)> {
    let run = store.run(run_id).await?.ok_or_else(|| {
        SyncError::Refused(format!("there is no run {run_id}; see `kith sync history`"))
    })?;
    let source = store
        .source(run.source_id)
        .await?
        .ok_or_else(|| SyncError::Refused(format!("the source of run {run_id} was removed")))?;
    Ok((run, source))
}

/// Applies a stored plan after re-checking every precondition.
pub async fn apply_run(
    store: &dyn Store,
    up: &Upstreams,
    run_id: i64,
    force: bool,
) -> SyncResult<(Source, Summary)> {
    let (run, source) = run_and_source(store, run_id).await?;
    let summary: Summary = serde_json::from_str(&run.summary).unwrap_or_default();
    match run.status.as_str() {
        "planned" => {}
        "paused" if force => {}
        "paused" => {
            let why: Vec<&str> = summary.trips.iter().map(|t| t.message.as_str()).collect();
            return Err(SyncError::Refused(format!(
                "run {run_id} tripped a guard ({}); check it with `kith sync show {run_id}` and add --force to apply it",
                why.join("; ")
            )));
        }
        "applied" => {
            return Err(SyncError::Refused(format!(
                "run {run_id} was already applied"
            )));
        }
        other => {
            return Err(SyncError::Refused(format!(
                "run {run_id} is {other} and cannot be applied; make a new plan with `kith sync plan {}`",
                source.name
            )));
        }
    }
    if run.kind != "sync" {
        return Err(SyncError::Refused(format!(
            "run {run_id} is an undo, not a plan"
        )));
    }
    let mut ops = load_ops(store, run_id).await?;
    if ops.iter().any(|o| o.push.is_some()) {
        let rules = parse_rules(&source)?;
        let mut conn = up.connector(store, &source).await?;
        let mappings: HashMap<_, _> = store.mappings(source.id).await?.into_iter().collect();
        let mut cards = HashMap::new();
        for name in ops
            .iter()
            .filter(|o| o.push.is_some())
            .filter_map(|o| o.card.clone())
        {
            if let Some(obj) = store.object(source.collection_id, &name).await? {
                let text = kith_connectors::text::decode(&obj.data).into_owned();
                cards.insert(name, (obj.meta.etag, text));
            }
        }
        let writes = Writes {
            conn: conn.as_mut(),
            rules: &rules,
            mappings: &mappings,
            cards: &cards,
        };
        apply_ops(store, &source, run_id, &mut ops, &[], Some(writes)).await?;
    } else {
        apply_ops(store, &source, run_id, &mut ops, &[], None).await?;
    }
    finish_applied(store, &source, &summary).await?;
    Ok((source, summary))
}

/// What an undo did.
pub struct Undone {
    pub run_id: i64,
    pub restored: usize,
    pub removed: usize,
    pub skipped: Vec<String>,
}

/// Reverts what an applied run changed in the book and the mapping table, as a new run (so
/// clients see it through sync-collection, and it can itself be undone).
pub async fn undo_run(store: &dyn Store, run_id: i64, force: bool) -> SyncResult<Undone> {
    let (run, source) = run_and_source(store, run_id).await?;
    if run.status != "applied" {
        return Err(SyncError::Refused(format!(
            "run {run_id} is {}; only an applied run can be undone",
            run.status
        )));
    }
    let records = store.undo_records(run_id).await?;
    let mut ops = Vec::new();
    let mut undone = Undone {
        run_id: 0,
        restored: 0,
        removed: 0,
        skipped: Vec::new(),
    };
    for rec in records.into_iter().rev() {
        let mut card = None;
        if let Some(name) = &rec.card {
            let now = store
                .object(source.collection_id, name)
                .await?
                .map(|o| o.meta.etag);
            if now != rec.card_after_etag && force {
                undone.skipped.push(name.clone());
                continue;
            }
            let put = match &rec.card_before {
                Some(bytes) => {
                    let info = kith_dav::vcard::parse_card(bytes).ok();
                    Some(NewCard {
                        uid: rec.card_uid.clone().unwrap_or_default(),
                        etag: etag_for(bytes),
                        index: info
                            .map(|i| {
                                i.index_entries()
                                    .into_iter()
                                    .map(|(k, v)| (k.to_string(), v))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        data: bytes.clone(),
                    })
                }
                None => None,
            };
            if put.is_some() {
                undone.restored += 1;
            } else {
                undone.removed += 1;
            }
            card = Some(CardWrite {
                name: name.clone(),
                expect_etag: rec.card_after_etag.clone(),
                put,
            });
        }
        let mapping = match (&rec.remote_id, rec.mapping_before) {
            (None, _) => MappingWrite::Keep,
            (Some(_), Some(m)) => MappingWrite::Put(m),
            (Some(_), None) => MappingWrite::Remove,
        };
        ops.push(ApplyOp {
            card,
            remote_id: rec.remote_id.unwrap_or_default(),
            mapping,
            expect_mapping: None,
        });
    }
    let mut summary = Summary {
        source: source.name.clone(),
        complete: true,
        ..Summary::default()
    };
    summary.counts.insert("restore".into(), undone.restored);
    summary.counts.insert("remove".into(), undone.removed);
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    let run = NewRun {
        source_id: source.id,
        kind: "undo",
        trigger: "cli",
        status: "planned",
        undo_of: Some(run_id),
        summary: &summary_json,
    };
    let new_run = store.create_run(&run, &[]).await?;
    match store
        .apply_run(
            new_run,
            source.id,
            source.collection_id,
            &ops,
            &[],
            Some(run_id),
        )
        .await?
    {
        ApplyOutcome::Applied => {
            undone.run_id = new_run;
            Ok(undone)
        }
        ApplyOutcome::Stale(why) => {
            let msg = format!(
                "{why} after run {run_id}; nothing was undone. Add --force to undo the rest and leave such cards as they are"
            );
            store.set_run_status(new_run, "stale", Some(&msg)).await?;
            Err(SyncError::Refused(msg))
        }
    }
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
