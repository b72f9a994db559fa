//! A user's calendar-user addresses (RFC 6638 §2.4.1): the e-mail addresses Kith takes as
//! them in ORGANIZER and ATTENDEE. Their user name when it is an address, the addresses an
//! admin or they gave (`kith user email`), and the accounts of their connected Google and
//! Microsoft 365 sources.

use crate::store::{Store, StoreError, User};

/// The setting holding a user's own addresses, one per line.
fn key(user_id: i64) -> String {
    format!("emails:{user_id}")
}

/// `mailto:X` (any case), `X` → `x`: the bare address, lowercase.
pub fn bare(address: &str) -> String {
    let a = address.trim();
    let a = if a.len() > 7 && a[..7].eq_ignore_ascii_case("mailto:") {
        &a[7..]
    } else {
        a
    };
    a.to_lowercase()
}

/// The addresses `user` gave or was given, as stored.
pub async fn given(store: &dyn Store, user: &User) -> Result<Vec<String>, StoreError> {
    Ok(store
        .setting(&key(user.id))
        .await?
        .map(|v| {
            String::from_utf8_lossy(&v)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

/// Why an address cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("{0:?} is not an e-mail address")]
    NotAnAddress(String),
    #[error("{address} is already {user}'s address")]
    Taken { address: String, user: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds and removes addresses `user` gave; every address of theirs after.
pub async fn change(
    store: &dyn Store,
    user: &User,
    add: &[String],
    remove: &[String],
) -> Result<Vec<String>, AddressError> {
    let mut list = given(store, user).await?;
    for a in add {
        let b = bare(a);
        let (local, domain) = b.split_once('@').unwrap_or(("", ""));
        if local.is_empty() || !domain.contains('.') || b.contains(char::is_whitespace) {
            return Err(AddressError::NotAnAddress(a.clone()));
        }
        if let Some(other) = user_for(store, &b).await?
            && other.id != user.id
        {
            return Err(AddressError::Taken {
                address: b,
                user: other.name,
            });
        }
        if !list.contains(&b) {
            list.push(b);
        }
    }
    list.retain(|a| !remove.iter().any(|r| bare(r) == *a));
    let text = list.join("\n");
    store
        .set_setting(&key(user.id), (!text.is_empty()).then_some(text.as_bytes()))
        .await?;
    Ok(of(store, user).await?)
}

/// Every address of `user`, bare and lowercase, without repeats: the user name when it is
/// an address first (clients take the first as the organizer).
pub async fn of(store: &dyn Store, user: &User) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |a: &str| {
        let b = bare(a);
        if b.contains('@') && !out.contains(&b) {
            out.push(b);
        }
    };
    add(&user.name);
    for a in given(store, user).await? {
        add(&a);
    }
    for s in store.sources(user.id).await? {
        if s.kind.provider().is_some()
            && !s.kind.is_directory()
            && let Some(account) = &s.location
        {
            add(account);
        }
    }
    Ok(out)
}

/// The local user whose address `address` is, if any (not disabled).
pub async fn user_for(store: &dyn Store, address: &str) -> Result<Option<User>, StoreError> {
    let want = bare(address);
    if want.is_empty() {
        return Ok(None);
    }
    // A principal URL names its user too (RFC 6638 §2.4.1).
    if let Some(rest) = want.strip_prefix("/dav/principals/") {
        let name = rest.trim_end_matches('/');
        return Ok(store
            .user_by_name(name)
            .await?
            .filter(|u| u.disabled_at.is_none()));
    }
    if let Some(u) = store.user_by_name(&want).await?
        && u.disabled_at.is_none()
    {
        return Ok(Some(u));
    }
    for u in store.list_users().await? {
        if u.disabled_at.is_none() && of(store, &u).await?.contains(&want) {
            return Ok(Some(u));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::bare;

    #[test]
    fn addresses_compare_bare_and_lowercase() {
        assert_eq!(bare("MAILTO:Ann@Example.org"), "ann@example.org");
        assert_eq!(bare(" ann@example.org "), "ann@example.org");
        assert_eq!(bare("mailto:"), "mailto:");
    }
}
