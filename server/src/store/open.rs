//! Opening the configured database, and the data directory it lives in.

use super::{Db, Store};
use crate::config::Config;
use std::path::Path;
use std::sync::Arc;

/// Creates the data directory if needed and keeps it private: it holds the secret keys and
/// the password hashes.
pub fn prepare_data_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Opens the configured database: PostgreSQL when `database.url` is set, else `kith.db` in
/// the data directory. The error says what to check.
pub async fn open(config: &Config) -> Result<Arc<dyn Store>, String> {
    prepare_data_dir(&config.data_dir)?;
    if let Some(url) = &config.database.url {
        let store = Db::open_postgres(url, config.database.max_connections)
            .await
            .map_err(|e| {
                format!(
                    "cannot open database {}: {e} (check database.url or KITH_DATABASE_URL, and that PostgreSQL is running)",
                    crate::config::redact_url(url)
                )
            })?;
        return Ok(Arc::new(store));
    }
    let path = config.data_dir.join("kith.db");
    let store = Db::open_sqlite(&path)
        .await
        .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
    Ok(Arc::new(store))
}
