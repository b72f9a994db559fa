//! `kith backup create|verify|restore`.

use crate::cli::args::BackupCommand;
use crate::config::Config;
use crate::core::backup::{Manifest, create, restore, verify};

fn summary(m: &Manifest) -> String {
    format!(
        "taken {} by Kith {}: {} user(s), {} collection(s), {} card(s) and event(s), {} kept version(s)",
        m.created_at,
        m.kith_version,
        m.counts.users,
        m.counts.collections,
        m.counts.objects,
        m.counts.versions
    )
}

pub async fn command(config: &Config, cmd: BackupCommand) -> Result<(), String> {
    match cmd {
        BackupCommand::Create { output } => {
            let store = crate::store::open(config).await?;
            let dir = output.unwrap_or_else(|| config.backup_dir());
            let path = create(store.as_ref(), &config.data_dir, &dir, None)
                .await
                .map_err(|e| e.to_string())?;
            let m = verify(&path).await.map_err(|e| e.to_string())?;
            println!("kith: wrote {} ({})", path.display(), summary(&m));
            Ok(())
        }
        BackupCommand::Verify { file } => {
            let m = verify(&file)
                .await
                .map_err(|e| format!("{} is not a good backup: {e}", file.display()))?;
            println!("kith: {} is good: {}", file.display(), summary(&m));
            Ok(())
        }
        BackupCommand::Restore { file, force } => {
            if config.database.url.is_some() {
                return Err("nothing was restored: Kith's backups hold a SQLite database, and this install uses PostgreSQL (database.url); restore PostgreSQL with pg_restore, or move a restored SQLite install over with `kith migrate-db`".into());
            }
            let m = restore(&file, &config.data_dir, force)
                .await
                .map_err(|e| format!("nothing was restored: {e}"))?;
            println!(
                "kith: restored {} into {} ({}); start the server with `kith serve`",
                file.display(),
                config.data_dir.display(),
                summary(&m)
            );
            Ok(())
        }
    }
}
