//! Backups against the real server: one taken while a client keeps writing restores to a
//! consistent state holding every write acknowledged before it began; `verify` passes on it
//! and fails on a corrupted copy; restore refuses to replace a live or populated data directory
//! unless told to; and `[backup]` takes scheduled backups, keeping the newest few.
//!
//! Kith's backups copy the SQLite database. In the PostgreSQL pass these tests check instead
//! that `kith backup` says to use PostgreSQL's own tools, and that `[backup]` does not start.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    n.starts_with("kith-backup-") && n.ends_with(".tar")
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// In the PostgreSQL pass: backups are refused with the alternative named. True when the
/// SQLite test should not run.
fn postgres_refuses_backups(s: &Server) -> bool {
    if !postgres() {
        return false;
    }
    let (ok, _, err) = kith_cli(s.dir.path(), &["backup", "create"], "");
    assert!(!ok);
    assert!(err.contains("pg_dump"), "{err}");
    let (ok, _, err) = kith_cli(s.dir.path(), &["backup", "restore", "/nonexistent.tar"], "");
    assert!(!ok);
    assert!(err.contains("PostgreSQL"), "{err}");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_restores_every_acknowledged_write_and_verify_catches_corruption() {
    if postgres_refuses_backups(&Server::start()) {
        return;
    }
    let s = Arc::new(Server::start());
    // A client PUTs cards in a loop; each acknowledged write is recorded with its body.
    let acked: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (s, acked, stop) = (s.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let name = format!("w{i}.vcf");
                let body = card(&format!("w{i}"), &format!("Writer {i}"));
                let r = s
                    .req("PUT", &format!("{BOOK}{name}"))
                    .vcard(&body)
                    .send()
                    .await;
                assert_eq!(r.status, 201);
                acked.lock().unwrap().insert(name, body);
                i += 1;
            }
            i
        })
    };
    // Let some writes land first; readiness is the acknowledged count, not a timer.
    while acked.lock().unwrap().len() < 50 {
        tokio::task::yield_now().await;
    }
    let before: BTreeMap<String, Vec<u8>> = acked.lock().unwrap().clone();
    let out_dir = tempfile::tempdir().unwrap();
    let data = s.dir.path().to_path_buf();
    let target = out_dir.path().to_path_buf();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        kith_cli(
            &data,
            &["backup", "create", "-o", target.to_str().unwrap()],
            "",
        )
    })
    .await
    .unwrap();
    assert!(ok, "backup create failed: {err}");
    assert!(out.contains("wrote"), "{out}");
    // Writes carry on after the backup.
    let after = acked.lock().unwrap().len();
    while acked.lock().unwrap().len() < after + 20 {
        tokio::task::yield_now().await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let total = writer.await.unwrap();
    assert!(
        total > before.len(),
        "the client kept writing during the backup"
    );

    let files = backups(out_dir.path());
    assert_eq!(files.len(), 1);
    let file = files[0].to_str().unwrap().to_string();
    let (ok, out, err) = kith_cli(s.dir.path(), &["backup", "verify", &file], "");
    assert!(ok, "verify failed on a good backup: {err}");
    assert!(out.contains("is good"), "{out}");

    // A corrupted copy (one byte flipped in the database) fails verification.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    let bad = out_dir.path().join("corrupt.tar");
    std::fs::write(&bad, &bytes).unwrap();
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["backup", "verify", bad.to_str().unwrap()],
        "",
    );
    assert!(!ok, "verify passed a corrupted backup");
    assert!(
        err.contains("corrupted") || err.contains("damaged"),
        "{err}"
    );
    let truncated = out_dir.path().join("truncated.tar");
    std::fs::write(&truncated, &std::fs::read(&file).unwrap()[..4096]).unwrap();
    let (ok, _, _) = kith_cli(
        s.dir.path(),
        &["backup", "verify", truncated.to_str().unwrap()],
        "",
    );
    assert!(!ok, "verify passed a truncated backup");

    // Restore into an empty data directory and serve it.
    let restored = tempfile::tempdir().unwrap();
    let (ok, out, err) = kith_cli(restored.path(), &["backup", "restore", &file], "");
    assert!(ok, "restore failed: {err}");
    assert!(out.contains("restored"), "{out}");
    let r = Server::start_in(restored, &[]);
    let book = download_book(&r).await;
    for (name, body) in &before {
        let (_, text) = book
            .get(name)
            .unwrap_or_else(|| panic!("{name} was acknowledged before the backup but is missing"));
        assert_eq!(text.as_bytes(), body.as_slice(), "{name}");
    }
    // Consistent: every card in the restore is one the client wrote, whole.
    let all = acked.lock().unwrap().clone();
    for (name, (_, text)) in &book {
        assert_eq!(
            Some(text.as_bytes()),
            all.get(name).map(Vec::as_slice),
            "{name}"
        );
    }
    // Sign-in works with the restored key and password hashes.
    let login = r.req("PROPFIND", BOOK).header("depth", "0").send().await;
    assert_eq!(login.status, 207);
}

#[tokio::test]
async fn restore_refuses_a_live_or_populated_data_directory_unless_forced() {
    if postgres_refuses_backups(&Server::start()) {
        return;
    }
    let s = Server::start();
    s.req("PUT", &format!("{BOOK}a.vcf"))
        .vcard(&card("a", "Ada"))
        .send()
        .await;
    let out_dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["backup", "create", "-o", out_dir.path().to_str().unwrap()],
        "",
    );
    assert!(ok, "{err}");
    let file = backups(out_dir.path())[0].to_str().unwrap().to_string();

    // The server holds its data directory: not even --force replaces it.
    let (ok, _, err) = kith_cli(s.dir.path(), &["backup", "restore", &file, "--force"], "");
    assert!(!ok);
    assert!(err.contains("server is running"), "{err}");

    // A stopped but populated directory needs --force, and keeps the old database aside.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (ok, _, err) = kith_cli(
        &path,
        &["user", "add", "zed", "--password-stdin"],
        "zed-pw-12345\n",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = kith_cli(&path, &["backup", "restore", &file], "");
    assert!(!ok);
    assert!(err.contains("--force"), "{err}");
    let (ok, _, err) = kith_cli(&path, &["backup", "restore", &file, "--force"], "");
    assert!(ok, "{err}");
    assert!(err.contains("kept as"), "{err}");
    assert!(
        std::fs::read_dir(&path).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("kith.db.before-restore-")),
        "the replaced database is kept"
    );
    let r = Server::start_in(dir, &[]);
    let g = r.req("GET", &format!("{BOOK}a.vcf")).send().await;
    assert_eq!(g.status, 200, "the backup's card is served");
}

#[tokio::test]
async fn scheduled_backups_run_inside_serve_and_keep_the_newest() {
    if postgres_refuses_backups(&Server::start()) {
        return;
    }
    let conf = tempfile::tempdir().unwrap();
    let out = conf.path().join("backups");
    let path = conf.path().join("kith.toml");
    std::fs::write(
        &path,
        format!(
            "[backup]\nenabled = true\ninterval = \"1s\"\nkeep = 2\ndirectory = \"{}\"\n",
            out.display()
        ),
    )
    .unwrap();
    let s = Server::start_with(&[("KITH_CONFIG", path.to_str().unwrap())]);
    s.req("PUT", &format!("{BOOK}a.vcf"))
        .vcard(&card("a", "Ada"))
        .send()
        .await;
    // Wait until at least four backups were taken: the first two stay, then each new one
    // replaces the oldest.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 4 {
        assert!(std::time::Instant::now() < deadline, "only {seen:?}");
        let now = backups(&out);
        assert!(now.len() <= 2, "retention keeps two: {now:?}");
        seen.extend(now);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let kept = backups(&out);
    for f in &kept {
        let (ok, _, err) = kith_cli(s.dir.path(), &["backup", "verify", f.to_str().unwrap()], "");
        assert!(ok, "{}: {err}", f.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "backups are private to the server's user");
    }
}
