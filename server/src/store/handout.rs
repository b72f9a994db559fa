//! SQLite's read-only connections, lent without sqlx's pool.
//!
//! sqlx's pool pings a connection each time one is handed back (and, unless told not to, each
//! time one is handed out). On SQLite a ping is a round trip to the connection's worker thread:
//! two thread switches, as costly as a small query. A DAV request makes two or three small
//! reads, so the pings doubled its round trips (see docs/benchmarks.md, "Where a request's CPU
//! goes"). A SQLite connection is an open file and cannot go
//! stale as a socket can, and its worker runs commands strictly in order, so a connection
//! whose last query was abandoned (a client gone mid-response) can be lent again at once: the
//! next query, or the rollback a dropped transaction queued, waits for the last one to end.
//! PostgreSQL keeps sqlx's pool, whose pings find broken sockets.

use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Database, Describe, Either, Execute, Executor, SqlStr};
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, SemaphorePermit};

type Connect<C> = Box<dyn Fn() -> BoxFuture<'static, sqlx::Result<C>> + Send + Sync>;

/// Up to `max` connections of database `DB`, opened when first needed and kept open. Clones
/// share the connections.
pub(crate) struct Handout<DB: Database>(Arc<Shared<DB>>);

impl<DB: Database> std::fmt::Debug for Handout<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handout")
            .field("open", &self.0.open)
            .field("max", &self.0.max)
            .finish()
    }
}

impl<DB: Database> Clone for Handout<DB> {
    fn clone(&self) -> Self {
        Handout(self.0.clone())
    }
}

pub(crate) struct Shared<DB: Database> {
    connect: Connect<DB::Connection>,
    idle: Mutex<Vec<DB::Connection>>,
    permits: Semaphore,
    open: AtomicUsize,
    closed: AtomicBool,
    max: usize,
}

/// A lent connection; dropping it lends it to the next caller.
pub(crate) struct Lent<'a, DB: Database> {
    conn: ManuallyDrop<DB::Connection>,
    from: &'a Shared<DB>,
    _turn: SemaphorePermit<'a>,
}

impl<DB: Database> Handout<DB> {
    /// `connect` opens one connection (settings and pragmas included).
    pub(crate) fn new(max: usize, connect: Connect<DB::Connection>) -> Self {
        Handout(Arc::new(Shared {
            connect,
            idle: Mutex::new(Vec::with_capacity(max)),
            permits: Semaphore::new(max),
            open: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            max,
        }))
    }

    /// A connection: an idle one, or a new one while fewer than `max` are open; otherwise
    /// waits for one to come back.
    pub(crate) async fn acquire(&self) -> sqlx::Result<Lent<'_, DB>> {
        let turn = self
            .0
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.0.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = (self.0.connect)().await?;
                self.0.open.fetch_add(1, Ordering::Relaxed);
                c
            }
        };
        Ok(Lent {
            conn: ManuallyDrop::new(conn),
            from: &self.0,
            _turn: turn,
        })
    }

    /// Connections open now, and how many of them are idle (for the pool gauges).
    pub(crate) fn size(&self) -> u32 {
        self.0.open.load(Ordering::Relaxed) as u32
    }

    pub(crate) fn num_idle(&self) -> usize {
        self.0.idle.lock().map_or(0, |v| v.len())
    }

    pub(crate) fn max(&self) -> u32 {
        self.0.max as u32
    }

    /// Closes every idle connection; later acquires fail with `PoolClosed`.
    #[cfg(test)]
    pub(crate) fn close(&self) {
        self.0.closed.store(true, Ordering::Relaxed);
        self.0.permits.close();
        let drained: Vec<_> = self
            .0
            .idle
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        self.0.open.fetch_sub(drained.len(), Ordering::Relaxed);
    }
}

impl<DB: Database> Drop for Lent<'_, DB> {
    fn drop(&mut self) {
        // SAFETY: `conn` is taken here only, once, and never used after.
        let conn = unsafe { ManuallyDrop::take(&mut self.conn) };
        if self.from.closed.load(Ordering::Relaxed) {
            self.from.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        self.from
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

impl<DB: Database> Deref for Lent<'_, DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.conn
    }
}

impl<DB: Database> DerefMut for Lent<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }
}

/// Queries run on a lent connection, so `&handout` is used as sqlx's `&pool` is.
impl<'p, DB: Database> Executor<'p> for &'p Handout<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async_stream::try_stream! {
            let mut conn = self.acquire().await?;
            let mut rows = (&mut *conn).fetch_many(query);
            while let Some(v) = rows.try_next().await? {
                yield v;
            }
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move { (&mut *self.acquire().await?).fetch_optional(query).await })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        Box::pin(async move {
            (&mut *self.acquire().await?)
                .prepare_with(sql, parameters)
                .await
        })
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>>
    where
        'p: 'e,
    {
        Box::pin(async move { (&mut *self.acquire().await?).describe(sql).await })
    }
}

/// Where reads go: lent SQLite connections, or PostgreSQL's pool.
#[derive(Clone, Debug)]
pub(crate) enum Readers {
    Lent(Handout<Any>),
    Pool(AnyPool),
}

/// A connection from [`Readers`].
pub(crate) enum ReadConn<'a> {
    Lent(Lent<'a, Any>),
    Pool(PoolConnection<Any>),
}

impl Readers {
    /// Closes the connections (tests that simulate a lost database).
    #[cfg(test)]
    pub(crate) async fn close(&self) {
        match self {
            Readers::Lent(h) => h.close(),
            Readers::Pool(p) => p.close().await,
        }
    }

    pub(crate) async fn acquire(&self) -> sqlx::Result<ReadConn<'_>> {
        Ok(match self {
            Readers::Lent(h) => ReadConn::Lent(h.acquire().await?),
            Readers::Pool(p) => ReadConn::Pool(p.acquire().await?),
        })
    }
}

impl Deref for ReadConn<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            ReadConn::Lent(c) => c,
            ReadConn::Pool(c) => c,
        }
    }
}

impl DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            ReadConn::Lent(c) => c,
            ReadConn::Pool(c) => c,
        }
    }
}

impl<'p> Executor<'p> for &'p Readers {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Readers::Lent(h) => h.fetch_many(query),
            Readers::Pool(p) => p.fetch_many(query),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Readers::Lent(h) => h.fetch_optional(query),
            Readers::Pool(p) => p.fetch_optional(query),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        match self {
            Readers::Lent(h) => h.prepare_with(sql, parameters),
            Readers::Pool(p) => p.prepare_with(sql, parameters),
        }
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'p: 'e,
    {
        match self {
            Readers::Lent(h) => h.describe(sql),
            Readers::Pool(p) => p.describe(sql),
        }
    }
}
