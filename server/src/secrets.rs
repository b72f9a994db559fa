//! The server's secret key: 32 random bytes in `secret.key` (mode 0600) in the data dir.
//! It keys the hashes of app passwords and of cached credentials.

use rand::RngCore;
use std::io::Write;
use std::path::Path;

pub fn load_or_create(data_dir: &Path) -> std::io::Result<[u8; 32]> {
    load_or_create_named(data_dir, "secret.key")
}

/// A 32-byte key in file `name` of the data dir (mode 0600), made on first use.
pub fn load_or_create_named(data_dir: &Path, name: &str) -> std::io::Result<[u8; 32]> {
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            return Ok(key);
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is not a 32-byte key; restore it from a backup",
                    path.display()
                ),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let key = random_key();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(&key)?;
            f.sync_all()?;
            Ok(key)
        }
        // Another process (CLI and server starting together) won the race: use its key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            load_or_create_named(data_dir, name)
        }
        Err(e) => Err(e),
    }
}

pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}
