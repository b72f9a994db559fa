//! The reads that list many members: a whole collection (PROPFIND, queries), its change feed
//! (`sync-collection`) and a multiget's named members. They read up to thousands of rows per
//! request, so on SQLite they
//! run on the driver's own connections ([`Db::listing`]) instead of through `Any`, which copies
//! every value of every row into its own type first. Each query and each row mapping is written
//! once, generic over the database; PostgreSQL runs the same code through `Any`.

use super::db::Db;
use super::dialect::{Dialect, like_escape, list};
use super::{Narrow, Object, ObjectMeta, RowStream, StoreResult, SyncItem};
use futures_util::StreamExt;
use kith_dav::filter::MatchType;
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type,
};
use tokio::sync::mpsc;

pub(super) const META_COLS: &str = "name, etag, content_type, size, seq, modified_at";

/// What a listing query binds, in order.
enum Arg {
    Int(i64),
    Text(String),
}

/// A row of `META_COLS, data`, read by position: a name lookup per column costs a hash, and
/// listings read thousands of rows.
pub(super) fn object_row<R: Row>(r: &R) -> Object
where
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    Object {
        meta: ObjectMeta {
            name: r.get(0),
            etag: r.get(1),
            content_type: r.get(2),
            size: r.get(3),
            seq: r.get(4),
            modified_at: r.get(5),
        },
        data: r.get(6),
    }
}

/// The members of a collection (with their data if asked), narrowed by a time span or an
/// indexed property.
fn objects_query(
    dialect: Dialect,
    collection_id: i64,
    with_data: bool,
    narrow: Option<&Narrow>,
) -> (String, Vec<Arg>) {
    let data = if with_data {
        "data".to_string()
    } else {
        format!("{} AS data", dialect.empty_blob())
    };
    // Storage order: reading rows in name order would jump around the table.
    let base = format!("SELECT {META_COLS}, {data} FROM objects WHERE collection_id = $1");
    match narrow {
        None => (base, vec![Arg::Int(collection_id)]),
        Some(Narrow::Span { start, end }) => (
            format!("{base} AND last_end >= $2 AND first_start <= $3"),
            vec![Arg::Int(collection_id), Arg::Int(*start), Arg::Int(*end)],
        ),
        Some(Narrow::Index(h)) => {
            let needle = like_escape(&h.needle);
            let (op, pattern) = match h.match_type {
                MatchType::Equals => ("=", h.needle.clone()),
                MatchType::Contains => ("LIKE", format!("%{needle}%")),
                MatchType::StartsWith => ("LIKE", format!("{needle}%")),
                MatchType::EndsWith => ("LIKE", format!("%{needle}")),
            };
            let escape = if op == "LIKE" { "ESCAPE '\\'" } else { "" };
            (
                format!(
                    "{base} AND id IN (SELECT object_id FROM object_index WHERE collection_id = $1 \
                     AND prop = $2 AND value {op} $3 {escape})"
                ),
                vec![
                    Arg::Int(collection_id),
                    Arg::Text(h.prop.clone()),
                    Arg::Text(dialect.text_in(&pattern)),
                ],
            )
        }
    }
}

/// Members (and, after a token, tombstones) stamped after `$2` and up to `$3`, oldest first,
/// at most `limit`, through the (collection_id, seq) indexes. An initial sync lists the members
/// only.
///
/// The limit is written into the text, not bound: SQLite plans around a bound LIMIT's value,
/// so binding one re-prepares the statement on every run.
pub(super) fn changes_sql(
    dialect: Dialect,
    initial: bool,
    with_data: bool,
    limit: Option<usize>,
) -> String {
    let blob = dialect.empty_blob();
    let data = if with_data {
        "data".to_string()
    } else {
        format!("{blob} AS data")
    };
    let members = format!(
        "SELECT {META_COLS}, {data}, CAST(0 AS BIGINT) AS removed FROM objects \
         WHERE collection_id = $1 AND seq > $2 AND seq <= $3"
    );
    let limit = limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
    if initial {
        return format!("{members} ORDER BY seq{limit}");
    }
    format!(
        "{members} UNION ALL SELECT name, '', '', CAST(0 AS BIGINT), seq, deleted_at, {blob}, \
         CAST(1 AS BIGINT) FROM tombstones WHERE collection_id = $1 AND seq > $2 AND seq <= $3 \
         ORDER BY seq{limit}"
    )
}

/// What a change-feed read asks for.
#[derive(Clone, Copy)]
struct Feed {
    dialect: Dialect,
    collection_id: i64,
    since: i64,
    upto: i64,
    limit: Option<usize>,
    with_data: bool,
}

/// The listing queries on database `DB`: every bound a query and its rows need, stated once.
struct Rows<DB>(std::marker::PhantomData<DB>);

impl<DB: Database> Rows<DB>
where
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB>,
    for<'a> i64: Encode<'a, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    fn bound<'q>(sql: String, args: Vec<Arg>) -> sqlx::query::Query<'q, DB, DB::Arguments> {
        let mut q = sqlx::query::<DB>(AssertSqlSafe(sql));
        for a in args {
            q = match a {
                Arg::Int(i) => q.bind(i),
                Arg::Text(t) => q.bind(t),
            };
        }
        q
    }

    /// Sends the rows of a members query, until the consumer goes away.
    async fn send_objects(
        conn: &mut DB::Connection,
        sql: String,
        args: Vec<Arg>,
        tx: &mpsc::Sender<StoreResult<Object>>,
    ) -> StoreResult<()> {
        let mut rows = Self::bound(sql, args).fetch(&mut *conn);
        while let Some(row) = rows.next().await {
            if tx.send(Ok(object_row(&row?))).await.is_err() {
                break; // the consumer went away
            }
        }
        Ok(())
    }

    /// Sends a collection's changes after `since` up to `upto`, then `upto`: one statement,
    /// so one snapshot on every backend, and no transaction to open and close.
    async fn send_changes(
        conn: &mut DB::Connection,
        feed: &Feed,
        tx: &mpsc::Sender<StoreResult<SyncItem>>,
    ) -> StoreResult<()> {
        let Feed {
            dialect,
            collection_id,
            since,
            upto,
            limit,
            with_data,
        } = *feed;
        let args = vec![Arg::Int(collection_id), Arg::Int(since), Arg::Int(upto)];
        {
            let mut rows = Self::bound(changes_sql(dialect, since == 0, with_data, limit), args)
                .fetch(&mut *conn);
            while let Some(row) = rows.next().await {
                let r = row?;
                let item = if r.get::<i64, _>(7) == 1 {
                    SyncItem::Removed {
                        name: r.get(0),
                        seq: r.get(4),
                    }
                } else {
                    SyncItem::Present(object_row(&r))
                };
                if tx.send(Ok(item)).await.is_err() {
                    return Ok(());
                }
            }
        }
        let _ = tx.send(Ok(SyncItem::End { current: upto })).await;
        Ok(())
    }

    /// The members named `names` (a multiget), in chunks that stay under every backend's limit
    /// on bound values.
    async fn named(
        conn: &mut DB::Connection,
        collection_id: i64,
        names: &[String],
    ) -> StoreResult<Vec<Object>> {
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(super::dialect::BATCH) {
            let sql = format!(
                "SELECT {META_COLS}, data FROM objects WHERE collection_id = $1 AND name IN ({})",
                list(chunk.len(), 2)
            );
            let args = std::iter::once(Arg::Int(collection_id))
                .chain(chunk.iter().map(|n| Arg::Text(n.clone())))
                .collect();
            let rows = Self::bound(sql, args).fetch_all(&mut *conn).await?;
            out.extend(rows.iter().map(object_row));
        }
        Ok(out)
    }
}

impl Db {
    /// The members named `names`, those that exist.
    pub(super) async fn list_named(
        &self,
        collection_id: i64,
        names: &[String],
    ) -> StoreResult<Vec<Object>> {
        match &self.listing {
            Some(pool) => {
                Rows::<sqlx::Sqlite>::named(&mut *pool.acquire().await?, collection_id, names).await
            }
            None => {
                Rows::<sqlx::Any>::named(&mut *self.reader.acquire().await?, collection_id, names)
                    .await
            }
        }
    }

    /// The members of a collection, streamed as the consumer takes them.
    pub(super) fn list_objects(
        &self,
        collection_id: i64,
        with_data: bool,
        narrow: Option<Narrow>,
    ) -> RowStream<Object> {
        let (sql, args) = objects_query(self.dialect, collection_id, with_data, narrow.as_ref());
        let (listing, reader) = (self.listing.clone(), self.reader.clone());
        spawn_rows(move |tx| async move {
            let done = match listing {
                Some(pool) => match pool.acquire().await {
                    Ok(mut c) => Rows::<sqlx::Sqlite>::send_objects(&mut c, sql, args, &tx).await,
                    Err(e) => Err(e.into()),
                },
                None => match reader.acquire().await {
                    Ok(mut c) => Rows::<sqlx::Any>::send_objects(&mut c, sql, args, &tx).await,
                    Err(e) => Err(e.into()),
                },
            };
            if let Err(e) = done {
                let _ = tx.send(Err(e)).await;
            }
        })
    }

    /// A collection's change feed after `since`, ending with its current stamp.
    pub(super) fn list_changes(
        &self,
        collection_id: i64,
        since: i64,
        upto: i64,
        limit: Option<usize>,
        with_data: bool,
    ) -> RowStream<SyncItem> {
        let feed = Feed {
            dialect: self.dialect,
            collection_id,
            since,
            upto,
            limit,
            with_data,
        };
        let (listing, reader) = (self.listing.clone(), self.reader.clone());
        spawn_rows(move |tx| async move {
            let done = async {
                match listing {
                    Some(pool) => {
                        Rows::<sqlx::Sqlite>::send_changes(&mut *pool.acquire().await?, &feed, &tx)
                            .await
                    }
                    None => {
                        Rows::<sqlx::Any>::send_changes(&mut *reader.acquire().await?, &feed, &tx)
                            .await
                    }
                }
            }
            .await;
            if let Err(e) = done {
                let _ = tx.send(Err(e)).await;
            }
        })
    }
}

/// Runs `produce` on its own task, feeding a bounded channel: the query advances only as fast
/// as the consumer (usually a client reading a response) takes rows.
pub(super) fn spawn_rows<T, F, Fut>(produce: F) -> RowStream<T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<StoreResult<T>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(produce(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}
