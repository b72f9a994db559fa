//! The one store: every query written once over sqlx's `Any` driver, on embedded SQLite or on
//! PostgreSQL. Backend differences are the [`Dialect`]'s.
//!
//! SQLite allows one writer at a time: writes go through a single connection (no
//! `SQLITE_BUSY` upgrades of deferred transactions) and reads through a few read-only ones,
//! each transaction a consistent WAL snapshot. PostgreSQL has one pool for both; its writers
//! lock their collection's row ([`Dialect::lock_collection`]).

use super::dialect::Dialect;
use super::handout::{Handout, Readers};
use super::{StoreError, StoreResult};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

/// SQLite reader connections: concurrent reads beyond this wait for a free connection.
const READERS: u32 = 4;
/// SQLite connections for listings (`store/listing.rs`), beside the readers.
const LISTERS: u32 = 4;

pub(super) static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
pub(super) static POSTGRES_MIGRATOR: sqlx::migrate::Migrator =
    sqlx::migrate!("../migrations/postgres");

pub struct Db {
    /// Where writes go (SQLite: the one writer connection).
    pub(super) writer: AnyPool,
    /// Where reads go (SQLite: read-only connections, lent without pings; PostgreSQL: the
    /// same pool).
    pub(super) reader: Readers,
    /// SQLite only: read-only connections of the driver itself, for the streams that list a
    /// whole collection (`store/listing.rs`).
    pub(super) listing: Option<Handout<sqlx::Sqlite>>,
    pub(super) dialect: Dialect,
    max_connections: u32,
}

/// A write transaction, with the dialect its queries need.
pub(super) struct Tx<'a> {
    tx: Transaction<'a, Any>,
    pub(super) dialect: Dialect,
    /// Set when the transaction moved a collection's change counter: its commit wakes the
    /// WebDAV-Push sender ([`super::changed`]).
    pub(super) bumped: bool,
}

impl Tx<'_> {
    /// The connection to run a query on.
    pub(super) fn c(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub(super) async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        if self.bumped {
            super::changed().notify_one();
        }
        Ok(())
    }

    /// Locks collection `id` for this transaction (see [`Dialect::lock_collection`]).
    pub(super) async fn lock_collection(&mut self, id: i64) -> StoreResult<()> {
        let dialect = self.dialect;
        dialect.lock_collection(&mut self.tx, id).await?;
        Ok(())
    }
}

/// Every SQLite connection's settings. NORMAL is durable across application crashes in WAL
/// mode; only an OS crash can lose the last transactions, the usual trade-off for a DAV server.
/// The WAL shrinks back to 1 MiB after each checkpoint, and statement journals stay in memory
/// instead of temporary files.
async fn sqlite_pragmas(conn: &mut AnyConnection, writer: bool) -> sqlx::Result<()> {
    if writer {
        conn.execute("PRAGMA journal_mode = WAL").await?;
    }
    conn.execute(
        "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
         PRAGMA journal_size_limit = 1048576; PRAGMA temp_store = MEMORY",
    )
    .await?;
    Ok(())
}

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// A `sqlite://` URL for `path`, with `mode` (`rwc` or `ro`).
fn sqlite_url(path: &Path, mode: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    let encoded = percent_encoding::utf8_percent_encode(&path.to_string_lossy(), KEEP).to_string();
    format!("sqlite://{encoded}?mode={mode}")
}

impl Db {
    /// Opens (creating if needed) the SQLite database file and applies migrations.
    pub async fn open_sqlite(path: &Path) -> StoreResult<Db> {
        install_drivers();
        // No ping before each use: a SQLite connection is a file handle and cannot drop like a
        // socket, and each ping is a round trip to the connection's worker thread, as costly as
        // a small query.
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .after_connect(|c, _| Box::pin(sqlite_pragmas(c, true)))
            .connect_with(AnyConnectOptions::from_str(&sqlite_url(path, "rwc"))?)
            .await?;
        SQLITE_MIGRATOR.run(&writer).await?;
        let ro = AnyConnectOptions::from_str(&sqlite_url(path, "ro"))?;
        let reader = Handout::new(
            READERS as usize,
            Box::new(move || {
                let ro = ro.clone();
                Box::pin(async move {
                    let mut c = AnyConnection::connect_with(&ro).await?;
                    sqlite_pragmas(&mut c, false).await?;
                    Ok(c)
                })
            }),
        );
        let listers = sqlx::sqlite::SqliteConnectOptions::from_str(&sqlite_url(path, "ro"))?
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "MEMORY");
        let listing = Handout::new(
            LISTERS as usize,
            Box::new(move || {
                let o = listers.clone();
                Box::pin(async move { o.connect().await })
            }),
        );
        // Open one of each now, so a bad path or permission fails at start, not at first use.
        drop(reader.acquire().await?);
        drop(listing.acquire().await?);
        Ok(Db {
            writer,
            reader: Readers::Lent(reader),
            listing: Some(listing),
            dialect: Dialect::Sqlite,
            max_connections: READERS,
        })
    }

    /// Connects to PostgreSQL at `url` and applies migrations. Instances starting together are
    /// safe: the migrator holds an advisory lock while it runs.
    pub async fn open_postgres(url: &str, max_connections: u32) -> StoreResult<Db> {
        install_drivers();
        let url = with_application_name(url);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(AnyConnectOptions::from_str(&url)?)
            .await?;
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Db {
            writer: pool.clone(),
            reader: Readers::Pool(pool),
            listing: None,
            dialect: Dialect::Postgres,
            max_connections,
        })
    }

    pub(super) async fn begin(&self) -> StoreResult<Tx<'static>> {
        Ok(Tx {
            tx: self.writer.begin().await?,
            dialect: self.dialect,
            bumped: false,
        })
    }

    pub(super) fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATOR,
            Dialect::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    pub(super) fn pool_stats(&self) -> Vec<crate::metrics::PoolStat> {
        let stat = |name, pool: &AnyPool, max| crate::metrics::PoolStat {
            name,
            size: pool.size(),
            idle: pool.num_idle(),
            max,
        };
        match self.dialect {
            Dialect::Sqlite => {
                let lent = |name, h: &Handout<_>| crate::metrics::PoolStat {
                    name,
                    size: h.size(),
                    idle: h.num_idle(),
                    max: h.max(),
                };
                let mut v = vec![stat("writer", &self.writer, 1)];
                if let Readers::Lent(h) = &self.reader {
                    v.push(lent("reader", h));
                }
                if let Some(l) = &self.listing {
                    v.push(crate::metrics::PoolStat {
                        name: "listing",
                        size: l.size(),
                        idle: l.num_idle(),
                        max: l.max(),
                    });
                }
                v
            }
            Dialect::Postgres => vec![stat("postgres", &self.writer, self.max_connections)],
        }
    }

    /// Writes a consistent copy of a SQLite database to the new file `path`.
    pub(super) async fn snapshot(&self, path: &Path) -> StoreResult<()> {
        if self.dialect == Dialect::Postgres {
            return Err(StoreError::Unsupported(
                "Kith's backups copy its SQLite database; back up a PostgreSQL database with the \
                 tools you already run for it (pg_dump, or base backups with WAL archiving)"
                    .into(),
            ));
        }
        // VACUUM INTO reads one snapshot of the database in a read transaction, so writers
        // (on the writer connection) are never blocked and the copy is consistent. It also
        // leaves the copy compact and without a WAL.
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(&self.reader)
            .await?;
        Ok(())
    }

    /// Closes the pools (tests that simulate a lost database).
    #[cfg(test)]
    pub(super) async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
        if let Some(l) = &self.listing {
            l.close();
        }
    }
}

/// `url` with `application_name=kith` unless it names one, so the server's sessions are
/// recognisable in `pg_stat_activity`.
fn with_application_name(url: &str) -> String {
    if url.contains("application_name=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name=kith")
}
