//! Backups: one `.tar` file holding a consistent snapshot of the database (SQLite's
//! `VACUUM INTO`, taken while clients keep writing), the secret key (without it, device
//! passwords stop working after a restore) and a manifest with each file's size and BLAKE3
//! checksum. `verify` checks the checksums and the database itself; `restore` puts a verified
//! backup into a data directory.

use crate::store::Store;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const DB: &str = "kith.db";
const KEY: &str = "secret.key";
/// The key OAuth tokens are sealed with: without it, connected accounts must reconnect.
const TOKEN_KEY: &str = "token.key";
const MANIFEST: &str = "manifest.json";
pub const PREFIX: &str = "kith-backup-";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("the database snapshot failed: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Invalid(String),
}

type BackupResult<T> = Result<T, BackupError>;

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub kith_version: String,
    pub created_at: String,
    /// Migrations applied to the database, by version.
    pub migrations: Vec<i64>,
    pub counts: Counts,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub collections: i64,
    pub objects: i64,
    pub versions: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    pub blake3: String,
}

fn hash_file(path: &Path) -> BackupResult<(u64, String)> {
    let mut f = File::open(path).map_err(io(format!("cannot read {}", path.display())))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(io(format!("cannot read {}", path.display())))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, h.finalize().to_hex().to_string()))
}

/// Opens a database file read-only and checks it: SQLite's integrity check, then the applied
/// migrations and the row counts.
async fn inspect_db(path: &Path) -> BackupResult<(Vec<i64>, Counts)> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(|e| BackupError::Invalid(format!("the database does not open: {e}")))?;
    let bad = |e: sqlx::Error| BackupError::Invalid(format!("the database cannot be read: {e}"));
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&pool)
        .await
        .map_err(bad)?;
    if check != ["ok"] {
        return Err(BackupError::Invalid(format!(
            "the database fails SQLite's integrity check: {}",
            check.join("; ")
        )));
    }
    let migrations = sqlx::query("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .map_err(bad)?;
    if migrations.iter().any(|r| !r.get::<bool, _>("success")) {
        return Err(BackupError::Invalid(
            "the database has a failed migration".into(),
        ));
    }
    let count = |table: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table}"
            )))
            .fetch_one(&pool)
            .await
        }
    };
    let counts = Counts {
        users: count("users").await.map_err(bad)?,
        collections: count("collections").await.map_err(bad)?,
        objects: count("objects").await.map_err(bad)?,
        versions: count("object_versions").await.map_err(bad)?,
    };
    pool.close().await;
    Ok((
        migrations
            .iter()
            .map(|r| r.get::<i64, _>("version"))
            .collect(),
        counts,
    ))
}

/// A backup's file name for `now` (Unix ms): names sort by time.
fn file_name(now_ms: i64) -> String {
    let stamp = crate::time::file_stamp(now_ms);
    format!("{PREFIX}{stamp}.tar")
}

/// Takes a backup into directory `dir` and returns its path. The file appears only when
/// complete (written under a temporary name, then renamed). With `keep`, the oldest backups
/// beyond `keep - 1` are removed once the new one is complete and before it appears, so the
/// directory never holds more than `keep` and a failed backup removes nothing.
pub async fn create(
    store: &dyn Store,
    data_dir: &Path,
    dir: &Path,
    keep: Option<usize>,
) -> BackupResult<PathBuf> {
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let now = crate::store::now_ms();
    let final_path = dir.join(file_name(now));
    let work = tempfile::Builder::new()
        .prefix(".kith-backup-")
        .tempdir_in(dir)
        .map_err(io(format!("cannot write to {}", dir.display())))?;
    let db = work.path().join(DB);
    store.snapshot(&db).await?;
    let (migrations, counts) = inspect_db(&db).await?;
    let mut files = vec![(DB, db.clone())];
    for name in [KEY, TOKEN_KEY] {
        let key = data_dir.join(name);
        if key.exists() {
            files.push((name, key));
        }
    }
    let mut entries = Vec::new();
    for (name, path) in &files {
        let (size, blake3) = hash_file(path)?;
        entries.push(FileEntry {
            name: name.to_string(),
            size,
            blake3,
        });
    }
    let manifest = Manifest {
        format: "kith-backup/1".into(),
        kith_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::time::rfc3339(now),
        migrations,
        counts,
        files: entries,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError::Invalid(format!("cannot write the manifest: {e}")))?;
    let partial = work.path().join("backup.tar");
    tokio::task::spawn_blocking({
        let partial = partial.clone();
        move || write_tar(&partial, &json, &files)
    })
    .await
    .map_err(|e| BackupError::Invalid(format!("the backup task failed: {e}")))??;
    // The backup holds password hashes and the secret key: private to the server's user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600))
            .map_err(io(format!("cannot protect {}", partial.display())))?;
    }
    if let Some(keep) = keep {
        match prune(dir, keep.saturating_sub(1)) {
            Ok(n) if n > 0 => tracing::info!(removed = n, "old backups removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot remove old backups"),
        }
    }
    std::fs::rename(&partial, &final_path).map_err(io(format!(
        "cannot move the backup to {}",
        final_path.display()
    )))?;
    Ok(final_path)
}

fn write_tar(path: &Path, manifest: &[u8], files: &[(&str, PathBuf)]) -> BackupResult<()> {
    let ctx = || format!("cannot write {}", path.display());
    let file = File::create(path).map_err(io(ctx()))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    // The manifest first, so `verify` knows what to expect before it reads the data.
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, manifest)
        .map_err(io(ctx()))?;
    for (name, src) in files {
        let mut f = File::open(src).map_err(io(format!("cannot read {}", src.display())))?;
        tar.append_file(name, &mut f).map_err(io(ctx()))?;
    }
    let mut w = tar.into_inner().map_err(io(ctx()))?;
    w.flush().map_err(io(ctx()))?;
    w.get_ref().sync_all().map_err(io(ctx()))?;
    Ok(())
}

/// Unpacks `file` into `into` and checks it against its manifest and the database itself.
async fn unpack_and_verify(file: &Path, into: &Path) -> BackupResult<Manifest> {
    let src = file.to_path_buf();
    let dst = into.to_path_buf();
    let manifest_bytes = tokio::task::spawn_blocking(move || -> BackupResult<Vec<u8>> {
        let f = File::open(&src).map_err(io(format!("cannot open {}", src.display())))?;
        let mut archive = tar::Archive::new(f);
        let mut manifest = None;
        let entries = archive.entries().map_err(|e| {
            BackupError::Invalid(format!("not a Kith backup (not a tar file): {e}"))
        })?;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| BackupError::Invalid(format!("the archive is damaged: {e}")))?;
            let name = entry
                .path()
                .map_err(|e| BackupError::Invalid(format!("the archive is damaged: {e}")))?
                .to_string_lossy()
                .into_owned();
            // Only the known flat names are written: a crafted archive cannot place files
            // anywhere else.
            match name.as_str() {
                MANIFEST => {
                    let mut buf = Vec::new();
                    entry.read_to_end(&mut buf).map_err(|e| {
                        BackupError::Invalid(format!("the archive is damaged: {e}"))
                    })?;
                    manifest = Some(buf);
                }
                DB | KEY | TOKEN_KEY => {
                    let mut out = File::create(dst.join(&name))
                        .map_err(io(format!("cannot unpack {name}")))?;
                    std::io::copy(&mut entry, &mut out).map_err(|e| {
                        BackupError::Invalid(format!("the archive is damaged ({name}): {e}"))
                    })?;
                }
                other => {
                    return Err(BackupError::Invalid(format!(
                        "the archive holds an unexpected file {other:?}"
                    )));
                }
            }
        }
        manifest.ok_or_else(|| BackupError::Invalid("not a Kith backup: no manifest.json".into()))
    })
    .await
    .map_err(|e| BackupError::Invalid(format!("the verify task failed: {e}")))??;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| BackupError::Invalid(format!("the manifest cannot be read: {e}")))?;
    if !manifest.format.starts_with("kith-backup/") {
        return Err(BackupError::Invalid(format!(
            "not a Kith backup (format {:?})",
            manifest.format
        )));
    }
    if !manifest.files.iter().any(|f| f.name == DB) {
        return Err(BackupError::Invalid(
            "the manifest lists no database".into(),
        ));
    }
    for f in &manifest.files {
        let path = into.join(&f.name);
        if !path.exists() {
            return Err(BackupError::Invalid(format!(
                "{} is listed in the manifest but missing",
                f.name
            )));
        }
        let (size, hash) = hash_file(&path)?;
        if size != f.size || hash != f.blake3 {
            return Err(BackupError::Invalid(format!(
                "{} does not match its checksum: the backup is corrupted",
                f.name
            )));
        }
    }
    let (migrations, counts) = inspect_db(&into.join(DB)).await?;
    if migrations != manifest.migrations || counts != manifest.counts {
        return Err(BackupError::Invalid(
            "the database does not match the manifest".into(),
        ));
    }
    Ok(manifest)
}

pub async fn verify(file: &Path) -> BackupResult<Manifest> {
    let work = tempfile::tempdir().map_err(io("cannot create a temporary directory"))?;
    unpack_and_verify(file, work.path()).await
}

/// Holds the data directory's lock while a server runs on it, so a restore cannot replace the
/// database under a live server.
pub fn lock_data_dir(data_dir: &Path) -> std::io::Result<Option<File>> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join("kith.lock"))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Restores a verified backup into `data_dir`. An existing database is replaced only with
/// `force`, never while a server holds the directory, and is kept beside as
/// `kith.db.before-restore-TIME`.
pub async fn restore(file: &Path, data_dir: &Path, force: bool) -> BackupResult<Manifest> {
    crate::store::prepare_data_dir(data_dir).map_err(BackupError::Invalid)?;
    let Some(_lock) = lock_data_dir(data_dir).map_err(io("cannot lock the data directory"))? else {
        return Err(BackupError::Invalid(format!(
            "a Kith server is running on {}; stop it before restoring",
            data_dir.display()
        )));
    };
    let live = data_dir.join(DB);
    if live.exists() && !force {
        return Err(BackupError::Invalid(format!(
            "{} already has a database; restore into an empty data directory, or add --force to replace it (the current one is kept as kith.db.before-restore-TIME)",
            data_dir.display()
        )));
    }
    let work = tempfile::Builder::new()
        .prefix(".kith-restore-")
        .tempdir_in(data_dir)
        .map_err(io(format!("cannot write to {}", data_dir.display())))?;
    let manifest = unpack_and_verify(file, work.path()).await?;
    if live.exists() {
        let stamp = file_name(crate::store::now_ms());
        let aside = data_dir.join(format!(
            "kith.db.before-restore-{}",
            stamp.trim_start_matches(PREFIX).trim_end_matches(".tar")
        ));
        std::fs::rename(&live, &aside).map_err(io("cannot move the current database aside"))?;
        eprintln!("kith: the previous database is kept as {}", aside.display());
    }
    // A WAL left from the old database would be applied to the restored one.
    for ext in ["kith.db-wal", "kith.db-shm"] {
        let _ = std::fs::remove_file(data_dir.join(ext));
    }
    std::fs::rename(work.path().join(DB), &live).map_err(io("cannot put the database in place"))?;
    for name in [KEY, TOKEN_KEY] {
        let key = work.path().join(name);
        if !key.exists() {
            continue;
        }
        let target = data_dir.join(name);
        std::fs::rename(&key, &target).map_err(io(format!("cannot put {name} in place")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600));
        }
    }
    Ok(manifest)
}

/// Deletes the oldest backups in `dir` beyond the newest `keep`.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let mut names = backups_in(dir)?;
    names.sort();
    let excess = names.len().saturating_sub(keep);
    for name in &names[..excess] {
        std::fs::remove_file(dir.join(name))?;
    }
    Ok(excess)
}

/// Backup file names in `dir`.
pub fn backups_in(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd {
                let name = e?.file_name().to_string_lossy().into_owned();
                if name.starts_with(PREFIX) && name.ends_with(".tar") {
                    out.push(name);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(out)
}
