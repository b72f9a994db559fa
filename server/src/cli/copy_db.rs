//! `kith migrate-db --from sqlite:PATH --to postgres://…`: moves an install from the embedded
//! SQLite database to PostgreSQL.

use crate::store::{Db, Settings, copy};
use std::path::Path;

pub async fn run(from: &str, to: &str) -> Result<(), String> {
    let path = Path::new(from.strip_prefix("sqlite:").ok_or_else(|| {
        format!("--from {from:?} is not sqlite:PATH; name the old database, e.g. --from sqlite:/var/lib/kith/kith.db")
    })?);
    if !path.is_file() {
        return Err(format!(
            "--from: there is no database at {}",
            path.display()
        ));
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(format!(
            "--to {:?} is not a PostgreSQL URL; write postgres://USER:PASSWORD@HOST:5432/DB",
            crate::config::redact_url(to)
        ));
    }
    let data_dir = path.parent().unwrap_or(Path::new("."));
    // A running server could write after the copy began; those writes would be lost.
    let Some(_lock) = crate::core::backup::lock_data_dir(data_dir)
        .map_err(|e| format!("cannot lock {}: {e}", data_dir.display()))?
    else {
        return Err(format!(
            "a Kith server is running on {}; stop it, then migrate",
            data_dir.display()
        ));
    };
    let sqlite = Db::open_sqlite(path)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let pg = Db::open_postgres(to, 4)
        .await
        .map_err(|e| format!("cannot open {}: {e}", crate::config::redact_url(to)))?;
    let copied = copy::sqlite_to_postgres(&sqlite, &pg)
        .await
        .map_err(|e| format!("nothing was migrated: {e}"))?;
    // App passwords are hashed with the install's key: it moves into the database, where every
    // instance reads it.
    let key = data_dir.join("secret.key");
    if let Ok(bytes) = std::fs::read(&key) {
        let stored = pg
            .shared_setting("secret_key", &bytes)
            .await
            .map_err(|e| format!("the rows were copied, but the secret key was not: {e}"))?;
        if stored != bytes {
            return Err("the PostgreSQL database already holds a different secret key; app passwords made on the old server will not work".into());
        }
    }
    // OAuth tokens stay sealed with the install's token key; unless KITH_TOKEN_KEY is set on
    // the new servers, they read it from the database, so it moves there too.
    if let Ok(bytes) = std::fs::read(data_dir.join("token.key")) {
        let stored = pg
            .shared_setting("token_key", &bytes)
            .await
            .map_err(|e| format!("the rows were copied, but the token key was not: {e}"))?;
        if stored != bytes {
            return Err("the PostgreSQL database already holds a different token key; connected accounts must be connected again".into());
        }
    }
    for (table, n) in &copied {
        println!("{table:<17} {n:>9} rows");
    }
    println!(
        "kith: migrated {} into {}; set database.url (or KITH_DATABASE_URL) to it and start `kith serve`",
        path.display(),
        crate::config::redact_url(to)
    );
    Ok(())
}
