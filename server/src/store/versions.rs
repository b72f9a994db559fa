//! Storage for history and trash: every version a write replaced, who wrote it and who
//! replaced it. A deleted object's last version is its trash entry. Restores, rewinds and undos
//! are written as new changes, so clients pick them up through normal sync.

use super::db::Db;
use super::dialect::{Dialect, flag};
use super::{Kind, NewObject, StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::fmt;

/// Who or what made a change; recorded with every version the change replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A DAV client: the user, the device password used (if any) and the client it identified.
    Client {
        user: String,
        device: Option<String>,
        agent: String,
    },
    /// A run of a contact source.
    Source { source: String, run: i64 },
    /// The undo of a source's run.
    Undo { source: String, run: i64 },
    /// A command: `trash restore`, `restore-version`, `book rewind`, an import of a file.
    Command(String),
    /// Kith deriving data from other data (the birthday calendar): not kept in history, since
    /// it can always be derived again.
    Derived,
}

impl Actor {
    pub fn keeps_history(&self) -> bool {
        !matches!(self, Actor::Derived)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Client {
                user,
                device,
                agent,
            } => {
                write!(f, "client {user}")?;
                if let Some(d) = device {
                    write!(f, " via device password {d:?}")?;
                }
                if !agent.is_empty() {
                    write!(f, " ({agent})")?;
                }
                Ok(())
            }
            Actor::Source { source, run } => write!(f, "source {source} run {run}"),
            Actor::Undo { source, run } => write!(f, "undo of source {source} run {run}"),
            Actor::Command(what) => f.write_str(what),
            Actor::Derived => f.write_str("kith"),
        }
    }
}

/// A version of an object that a later write or a delete replaced.
#[derive(Debug, Clone)]
pub struct Version {
    pub id: i64,
    pub collection_id: i64,
    pub name: String,
    pub uid: String,
    pub etag: String,
    pub data: Vec<u8>,
    pub written_at: i64,
    pub written_by: Option<String>,
    pub replaced_at: i64,
    pub replaced_by: String,
    /// It was deleted rather than overwritten.
    pub deleted: bool,
}

/// One write of a change set. `expect` is the ETag the member has now (`None`: absent); if it
/// differs when the change set is applied, nothing is written.
pub enum Change<'a> {
    Put {
        obj: NewObject<'a>,
        expect: Option<String>,
    },
    Delete {
        name: &'a str,
        expect: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    Applied,
    /// A member changed since the change set was computed (its name), or a restored object's
    /// UID is taken by another member.
    Stale(String),
}

/// A member as of now, for computing a rewind.
#[derive(Debug, Clone)]
pub struct Current {
    pub name: String,
    pub etag: String,
}

/// Why a source is paused while its book is in the trash. A restore matches its first clause,
/// so sources paused under an older wording resume too.
pub const BOOK_DELETED: &str = "its address book was deleted; restore the book from the trash, or point the source at another book";
const BOOK_DELETED_LIKE: &str = "its address book was deleted;%";

/// A collection in the trash.
#[derive(Debug, Clone)]
pub struct DeletedCollection {
    pub id: i64,
    pub kind: super::Kind,
    /// The name it had.
    pub name: String,
    pub deleted_at: i64,
    pub deleted_by: String,
    pub members: i64,
}

#[async_trait]
pub trait Versions: Send + Sync {
    /// The versions of member `name` that were replaced, newest first.
    async fn versions(&self, collection_id: i64, name: &str) -> StoreResult<Vec<Version>>;
    async fn version(&self, id: i64) -> StoreResult<Option<Version>>;
    /// Who wrote the current version of member `name`.
    async fn written_by(&self, collection_id: i64, name: &str) -> StoreResult<Option<String>>;
    /// The member name `key` refers to: a name that is or was in the collection, else the
    /// name of the member (live, or else most recently changed) with that UID.
    async fn find_name(&self, collection_id: i64, key: &str) -> StoreResult<Option<String>>;
    /// Deleted members that were not re-created: the last version of each, newest first.
    async fn trash(&self, collection_id: i64) -> StoreResult<Vec<Version>>;
    /// Versions replaced after `at` (Unix ms), and members written after it.
    async fn changed_since(
        &self,
        collection_id: i64,
        at: i64,
    ) -> StoreResult<(Vec<Version>, Vec<Current>)>;
    /// Applies a change set in one transaction, each replaced version kept with `actor`.
    async fn apply_changes(
        &self,
        collection_id: i64,
        changes: &[Change<'_>],
        actor: &Actor,
    ) -> StoreResult<ChangeOutcome>;
    /// Forgets versions replaced before `before` (Unix ms), trash included.
    async fn purge_versions(&self, before: i64) -> StoreResult<u64>;
    /// Empties a collection's trash: every version of each member that is deleted now.
    async fn purge_trash(&self, collection_id: i64) -> StoreResult<u64>;
    /// A user's collections in the trash, newest first.
    async fn deleted_collections(&self, owner_id: i64) -> StoreResult<Vec<DeletedCollection>>;
    /// Takes collection `id` out of the trash under `name`; `false` if a live collection of
    /// its kind has that name now. Its sources resume.
    async fn restore_collection(&self, id: i64, name: &str) -> StoreResult<bool>;
    /// Deletes for good the collections trashed before `before` (Unix ms).
    async fn purge_collections(&self, before: i64) -> StoreResult<u64>;
    /// How many versions are kept in all, trash included.
    async fn version_count(&self) -> StoreResult<i64>;
}

pub(super) const VERSION_COLS: &str = "id, collection_id, name, uid, etag, data, written_at, \
     written_by, replaced_at, replaced_by, deleted";

fn version_row(r: &AnyRow, dialect: Dialect) -> Version {
    Version {
        id: r.get("id"),
        collection_id: r.get("collection_id"),
        name: r.get("name"),
        uid: dialect.text_out(r.get("uid")),
        etag: r.get("etag"),
        data: r.get("data"),
        written_at: r.get("written_at"),
        written_by: r.get("written_by"),
        replaced_at: r.get("replaced_at"),
        replaced_by: r.get("replaced_by"),
        deleted: flag(r, "deleted"),
    }
}

fn unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(sqlx::Error::Database(d)) if d.is_unique_violation())
}

#[async_trait]
impl Versions for Db {
    async fn versions(&self, collection_id: i64, name: &str) -> StoreResult<Vec<Version>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE collection_id = $1 AND name = $2 \
             ORDER BY replaced_at DESC, id DESC"
        )))
        .bind(collection_id)
        .bind(name)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| version_row(r, self.dialect)).collect())
    }

    async fn version(&self, id: i64) -> StoreResult<Option<Version>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| version_row(&r, self.dialect)))
    }

    async fn written_by(&self, collection_id: i64, name: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT changed_by FROM objects WHERE collection_id = $1 AND name = $2",
        )
        .bind(collection_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?
        .flatten())
    }

    async fn find_name(&self, collection_id: i64, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM (\
               SELECT name, 0 AS rank, CAST(0 AS BIGINT) AS at FROM objects WHERE collection_id = $1 AND name = $2 \
               UNION ALL SELECT name, 1, 0 FROM object_versions WHERE collection_id = $1 AND name = $2 \
               UNION ALL SELECT name, 2, 0 FROM objects WHERE collection_id = $1 AND uid = $2 \
               UNION ALL SELECT name, 3, replaced_at FROM object_versions WHERE collection_id = $1 AND uid = $2) k \
             ORDER BY rank, at DESC LIMIT 1",
        )
        .bind(collection_id)
        .bind(self.dialect.text_in(key))
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn trash(&self, collection_id: i64) -> StoreResult<Vec<Version>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions v WHERE collection_id = $1 AND deleted \
             AND id = (SELECT MAX(id) FROM object_versions w WHERE w.collection_id = v.collection_id \
                       AND w.name = v.name) \
             AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.collection_id = v.collection_id \
                             AND o.name = v.name) \
             ORDER BY replaced_at DESC, id DESC"
        )))
        .bind(collection_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| version_row(r, self.dialect)).collect())
    }

    async fn changed_since(
        &self,
        collection_id: i64,
        at: i64,
    ) -> StoreResult<(Vec<Version>, Vec<Current>)> {
        // One snapshot, so the versions and the members agree.
        let mut conn = self.reader.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        self.dialect.snapshot(&mut tx).await?;
        let versions = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE collection_id = $1 AND replaced_at > $2 \
             ORDER BY replaced_at, id"
        )))
        .bind(collection_id)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| version_row(r, self.dialect))
        .collect();
        let current = sqlx::query(
            "SELECT name, etag FROM objects WHERE collection_id = $1 AND modified_at > $2",
        )
        .bind(collection_id)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Current {
            name: r.get("name"),
            etag: r.get("etag"),
        })
        .collect();
        tx.commit().await?;
        Ok((versions, current))
    }

    async fn apply_changes(
        &self,
        collection_id: i64,
        changes: &[Change<'_>],
        actor: &Actor,
    ) -> StoreResult<ChangeOutcome> {
        let mut tx = self.begin().await?;
        tx.lock_collection(collection_id).await?;
        // Deletes first: a rewind may remove a card created since and put back an older card
        // with the same UID.
        let ordered = changes
            .iter()
            .filter(|c| matches!(c, Change::Delete { .. }))
            .chain(changes.iter().filter(|c| matches!(c, Change::Put { .. })));
        for change in ordered {
            let name = match change {
                Change::Put { obj, .. } => obj.name,
                Change::Delete { name, .. } => name,
            };
            let current = Self::member(&mut tx, collection_id, name).await?;
            let expected = match change {
                Change::Put { expect, .. } => expect.clone(),
                Change::Delete { expect, .. } => Some(expect.clone()),
            };
            if current.as_ref().map(|(_, e)| e) != expected.as_ref() {
                return Ok(ChangeOutcome::Stale(format!(
                    "{name} changed while the change was being prepared"
                )));
            }
            let seq = Self::next_seq(&mut tx, collection_id).await?;
            match change {
                Change::Put { obj, .. } => {
                    let clash = Self::uid_holder(&mut tx, collection_id, obj.uid, obj.name).await?;
                    if let Some(other) = clash {
                        return Ok(ChangeOutcome::Stale(format!(
                            "{name} cannot be put back: {other} now has its UID {}",
                            obj.uid
                        )));
                    }
                    let existing = current.map(|(id, _)| id);
                    match Self::store_object(&mut tx, collection_id, existing, obj, seq, actor)
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if unique_violation(&e) => {
                            return Ok(ChangeOutcome::Stale(format!(
                                "{name} cannot be put back: its UID is taken"
                            )));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Change::Delete { name, .. } => {
                    if let Some((id, _)) = current {
                        Self::remove_object(&mut tx, collection_id, id, name, seq, actor).await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(ChangeOutcome::Applied)
    }

    async fn purge_versions(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM object_versions WHERE replaced_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn purge_trash(&self, collection_id: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM object_versions WHERE collection_id = $1 AND name IN \
             (SELECT name FROM object_versions v WHERE v.collection_id = $1 AND deleted) \
             AND name NOT IN (SELECT name FROM objects WHERE collection_id = $1)",
        )
        .bind(collection_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn deleted_collections(&self, owner_id: i64) -> StoreResult<Vec<DeletedCollection>> {
        let rows = sqlx::query(
            "SELECT c.id, c.kind, c.deleted_name, c.deleted_at, c.deleted_by, \
             (SELECT COUNT(*) FROM objects o WHERE o.collection_id = c.id) AS members \
             FROM collections c WHERE owner_id = $1 AND deleted_at IS NOT NULL ORDER BY deleted_at DESC",
        )
        .bind(owner_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| DeletedCollection {
                id: r.get("id"),
                kind: if r.get::<&str, _>("kind") == "calendar" {
                    Kind::Calendar
                } else {
                    Kind::Addressbook
                },
                name: r
                    .get::<Option<String>, _>("deleted_name")
                    .unwrap_or_default(),
                deleted_at: r.get("deleted_at"),
                deleted_by: r.get::<Option<String>, _>("deleted_by").unwrap_or_default(),
                members: r.get("members"),
            })
            .collect())
    }

    async fn restore_collection(&self, id: i64, name: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE collections SET name = $1, deleted_at = NULL, deleted_by = NULL, deleted_name = NULL, \
             modified_at = $2 WHERE id = $3 AND deleted_at IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM collections o WHERE o.owner_id = collections.owner_id \
              AND o.kind = collections.kind AND o.name = $1)",
        )
        .bind(name)
        .bind(crate::store::now_ms())
        .bind(id)
        .execute(tx.c())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sources SET status = 'ready', status_detail = NULL \
             WHERE collection_id = $1 AND status = 'paused' AND status_detail LIKE $2",
        )
        .bind(id)
        .bind(BOOK_DELETED_LIKE)
        .execute(tx.c())
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn purge_collections(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM collections WHERE deleted_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn version_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM object_versions")
            .fetch_one(&self.reader)
            .await?)
    }
}
