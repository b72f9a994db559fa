//! Accounts: users with argon2 password hashes, their default address book, and app passwords.

use crate::store::{CollectionPatch, Kind, Store, StoreError, User};
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::Rng;

pub const DEFAULT_BOOK: &str = "contacts";
pub const DEFAULT_BOOK_NAME: &str = "Contacts";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error(
        "invalid user name {0:?}: use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
    )]
    BadName(String),
    #[error("the password is empty")]
    EmptyPassword,
}

pub fn hash_password(password: &str) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// User names become URL segments, so they are kept to a safe alphabet.
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// Creates a user with a default address book, a "Personal" calendar and a "Tasks" list.
pub async fn create_user(
    store: &dyn Store,
    name: &str,
    password: &str,
) -> Result<User, AccountError> {
    if !valid_user_name(name) {
        return Err(AccountError::BadName(name.to_string()));
    }
    if password.is_empty() {
        return Err(AccountError::EmptyPassword);
    }
    let hash = hash_password(password)?;
    let user = store.create_user(name, &hash).await?;
    store
        .create_collection(
            user.id,
            Kind::Addressbook,
            DEFAULT_BOOK,
            &[CollectionPatch::DisplayName(Some(DEFAULT_BOOK_NAME.into()))],
        )
        .await?;
    for (name, display, component) in [
        ("personal", "Personal", "VEVENT"),
        ("tasks", "Tasks", "VTODO"),
    ] {
        store
            .create_collection(
                user.id,
                Kind::Calendar,
                name,
                &[
                    CollectionPatch::DisplayName(Some(display.into())),
                    CollectionPatch::Components(vec![component.into()]),
                ],
            )
            .await?;
    }
    Ok(user)
}

pub async fn require_user(store: &dyn Store, name: &str) -> Result<User, AccountError> {
    store
        .user_by_name(name)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(name.to_string()))
}

/// A random password: 5 groups of 5 lower-case letters and digits (125 bits), easy to
/// type on a phone.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let groups: Vec<String> = (0..5)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    groups.join("-")
}

/// The keyed hash an app password is stored and checked as.
pub fn app_password_hash(key: &[u8; 32], password: &str) -> [u8; 32] {
    *blake3::keyed_hash(key, password.as_bytes()).as_bytes()
}

/// The first admin, created on a first start.
pub struct FirstAdmin {
    pub password: String,
    /// The password came from `KITH_ADMIN_PASSWORD` (so it is not shown).
    pub from_env: bool,
}

/// On a first start with no users, creates `admin`, with `KITH_ADMIN_PASSWORD` or a random
/// password for the caller to show once. `None` when there are users already (or another
/// instance on the same database created `admin` at the same moment).
pub async fn bootstrap_admin(store: &dyn Store) -> Result<Option<FirstAdmin>, AccountError> {
    if !store.list_users().await?.is_empty() {
        return Ok(None);
    }
    let given = std::env::var("KITH_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let from_env = given.is_some();
    let password = given.unwrap_or_else(random_password);
    match create_user(store, "admin", &password).await {
        Ok(u) => store.set_user_admin(u.id, true).await?,
        Err(AccountError::Store(crate::store::StoreError::Exists(_))) => return Ok(None),
        Err(e) => return Err(e),
    }
    Ok(Some(FirstAdmin { password, from_env }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("s3cret", "not a phc string"));
    }

    #[test]
    fn names_and_random_passwords() {
        assert!(valid_user_name("alice"));
        assert!(valid_user_name("bob.smith@example.org"));
        assert!(!valid_user_name(""));
        assert!(!valid_user_name("../etc"));
        assert!(!valid_user_name("with space"));
        let p = random_password();
        assert_eq!(p.len(), 29);
        assert_ne!(p, random_password());
    }
}
