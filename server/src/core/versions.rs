//! Putting old versions back: one version (`restore-version`), a deleted member (`trash
//! restore`), or a whole collection as it was at a point in time (`book rewind`). Each is a new
//! change set with fresh ETags, so syncing clients pick it up like any other edit.

use super::objects::{Prepared, prepare};
use crate::config::Config;
use crate::store::versions::{Change, ChangeOutcome, Version};
use crate::store::{Actor, Collection, Kind, Store, StoreError, restored_etag};
use std::collections::{HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
    /// The fronts say where the trash can be seen.
    #[error("{name} is not in the trash of {collection}")]
    NotInTrash { name: String, collection: String },
}

type HistoryResult<T> = Result<T, HistoryError>;

/// A version prepared to be put back under a fresh ETag.
fn revive(config: &Config, coll: &Collection, v: &Version, salt: &str) -> HistoryResult<Prepared> {
    let etag = restored_etag(&v.data, salt);
    prepare(config, coll, &v.name, v.data.clone(), etag).map_err(|e| {
        HistoryError::Refused(format!(
            "version {} of {} cannot be read: {e}",
            v.id, v.name
        ))
    })
}

/// A salt unique to this restore, so restored ETags never repeat.
fn salt() -> String {
    format!("{}-{}", crate::store::now_ms(), rand::random::<u64>())
}

async fn current_etag(
    store: &dyn Store,
    coll: &Collection,
    name: &str,
) -> HistoryResult<Option<String>> {
    Ok(store.object(coll.id, name).await?.map(|o| o.meta.etag))
}

fn applied(outcome: ChangeOutcome) -> HistoryResult<()> {
    match outcome {
        ChangeOutcome::Applied => Ok(()),
        ChangeOutcome::Stale(why) => Err(HistoryError::Refused(format!(
            "{why}; nothing was changed. Try again"
        ))),
    }
}

/// Puts version `v` back as the member's current content.
pub async fn restore_version(
    store: &dyn Store,
    config: &Config,
    coll: &Collection,
    v: &Version,
    actor: &Actor,
) -> HistoryResult<String> {
    let p = revive(config, coll, v, &salt())?;
    let expect = current_etag(store, coll, &v.name).await?;
    let change = Change::Put {
        obj: p.as_new(),
        expect,
    };
    applied(store.apply_changes(coll.id, &[change], actor).await?)?;
    Ok(p.etag)
}

/// Puts a deleted member back from the trash.
pub async fn restore_from_trash(
    store: &dyn Store,
    config: &Config,
    coll: &Collection,
    name: &str,
    actor: &Actor,
) -> HistoryResult<String> {
    let trash = store.trash(coll.id).await?;
    let v = trash
        .iter()
        .find(|v| v.name == name)
        .ok_or_else(|| HistoryError::NotInTrash {
            name: name.to_string(),
            collection: coll.name.clone(),
        })?;
    restore_version(store, config, coll, v, actor).await
}

/// What a rewind changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rewound {
    pub restored: usize,
    pub reverted: usize,
    pub removed: usize,
}

/// Returns collection `coll` to its state at `at` (Unix ms) as one change set: members deleted
/// since come back, members changed since get their old content, and members created since
/// go to the trash. Reads only what changed after `at`.
pub async fn rewind(
    store: &dyn Store,
    config: &Config,
    coll: &Collection,
    at: i64,
    actor: &Actor,
    dry_run: bool,
) -> HistoryResult<Rewound> {
    let (versions, current) = store.changed_since(coll.id, at).await?;
    let now: HashMap<&str, &str> = current
        .iter()
        .map(|c| (c.name.as_str(), c.etag.as_str()))
        .collect();
    // The version that was live at `at`: written by then, replaced after.
    let mut then: HashMap<&str, &Version> = HashMap::new();
    // Every member changed since `at`, once, in the order first seen. A set, not a list
    // search: a rewind after a mass delete touches the whole book.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut touched: Vec<&str> = Vec::new();
    for v in &versions {
        if seen.insert(&v.name) {
            touched.push(&v.name);
        }
        if v.written_at <= at {
            then.entry(v.name.as_str()).or_insert(v);
        }
    }
    for c in &current {
        if seen.insert(&c.name) {
            touched.push(&c.name);
        }
    }
    let salt = salt();
    let mut prepared = Vec::new();
    let mut deletes = Vec::new();
    let mut done = Rewound::default();
    for name in touched {
        let live = match now.get(name) {
            Some(e) => Some(e.to_string()),
            // Changed since `at` but not by a write after it: look the member up.
            None => current_etag(store, coll, name).await?,
        };
        match (then.get(name), live) {
            (Some(v), live) => {
                if live.is_some() {
                    done.reverted += 1;
                } else {
                    done.restored += 1;
                }
                prepared.push((revive(config, coll, v, &salt)?, live));
            }
            (None, Some(etag)) if now.contains_key(name) => {
                done.removed += 1;
                deletes.push((name.to_string(), etag));
            }
            // Absent then and now, or unchanged since.
            (None, _) => {}
        }
    }
    let mut changes: Vec<Change<'_>> = deletes
        .iter()
        .map(|(name, etag)| Change::Delete {
            name,
            expect: etag.clone(),
        })
        .collect();
    changes.extend(prepared.iter().map(|(p, live)| Change::Put {
        obj: p.as_new(),
        expect: live.clone(),
    }));
    if changes.is_empty() || dry_run {
        return Ok(done);
    }
    applied(store.apply_changes(coll.id, &changes, actor).await?)?;
    Ok(done)
}

/// One retention pass: forgets versions, trash and trashed collections older than
/// `retention_ms`.
pub async fn purge(store: &dyn Store, retention_ms: i64) -> HistoryResult<u64> {
    let before = crate::store::now_ms() - retention_ms;
    Ok(store.purge_versions(before).await? + store.purge_collections(before).await?)
}

/// The collection of `user`'s that version `v` belongs to; `None` when it is not theirs.
pub async fn owning_collection(
    store: &dyn Store,
    user: &crate::store::User,
    v: &Version,
) -> Result<Option<Collection>, StoreError> {
    for kind in [Kind::Addressbook, Kind::Calendar] {
        let all = store.collections(user.id, kind).await?;
        if let Some(c) = all.into_iter().find(|c| c.id == v.collection_id) {
            return Ok(Some(c));
        }
    }
    Ok(None)
}
