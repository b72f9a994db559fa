//! Leases behave the same on both backends: one holder at a time, renewable by its holder,
//! taken over only once expired, and freed by release. So do settings and sealed values
//! (single use when taken, invisible once expired).

use super::{PgStore, SqliteStore, Store};

async fn check(store: &dyn Store) {
    let backend = store.backend();
    assert!(
        store.try_lease("job", "a", 60_000).await.unwrap(),
        "{backend}"
    );
    assert!(
        !store.try_lease("job", "b", 60_000).await.unwrap(),
        "{backend}: held by a"
    );
    assert!(
        store.try_lease("job", "a", 60_000).await.unwrap(),
        "{backend}: a renews"
    );
    assert!(
        store.try_lease("other", "b", 60_000).await.unwrap(),
        "{backend}: per name"
    );
    store.release_lease("job", "b").await.unwrap();
    assert!(
        !store.try_lease("job", "b", 60_000).await.unwrap(),
        "{backend}: b cannot free a's"
    );
    store.release_lease("job", "a").await.unwrap();
    assert!(
        store.try_lease("job", "b", -1).await.unwrap(),
        "{backend}: free after release"
    );
    assert!(
        store.live_leases("jo").await.unwrap().is_empty(),
        "{backend}: an expired lease is not running"
    );
    store.try_lease("source:7", "a", 60_000).await.unwrap();
    assert_eq!(
        store.live_leases("source:").await.unwrap(),
        vec!["source:7".to_string()],
        "{backend}"
    );
    store.release_lease("source:7", "a").await.unwrap();
    assert!(store.live_leases("source:").await.unwrap().is_empty());
    // b's lease has already expired (as a crashed holder's would): a takes it over.
    assert!(
        store.try_lease("job", "a", 60_000).await.unwrap(),
        "{backend}: expired"
    );
    assert!(
        !store.try_lease("job", "b", 60_000).await.unwrap(),
        "{backend}"
    );
    // Shared settings keep the first value written.
    assert_eq!(store.shared_setting("k", b"one").await.unwrap(), b"one");
    assert_eq!(store.shared_setting("k", b"two").await.unwrap(), b"one");
    // Admin settings change and go.
    store
        .set_setting("provider:x", Some(b"enabled"))
        .await
        .unwrap();
    assert_eq!(
        store.setting("provider:x").await.unwrap().as_deref(),
        Some(&b"enabled"[..])
    );
    store.set_setting("tenant:b", Some(b"1")).await.unwrap();
    store.set_setting("tenant:a", Some(b"1")).await.unwrap();
    assert_eq!(
        store.settings_with_prefix("tenant:").await.unwrap(),
        ["a", "b"]
    );
    store.set_setting("provider:x", None).await.unwrap();
    assert_eq!(
        store.setting("provider:x").await.unwrap(),
        None,
        "{backend}"
    );
    // Sealed values: replaced in place, taken once, hidden and purged once expired.
    store.put_sealed("s1", None, b"v1", None).await.unwrap();
    store.put_sealed("s1", None, b"v2", None).await.unwrap();
    assert_eq!(
        store.sealed("s1").await.unwrap().as_deref(),
        Some(&b"v2"[..])
    );
    let later = super::now_ms() + 60_000;
    store
        .put_sealed("state", None, b"p", Some(later))
        .await
        .unwrap();
    assert_eq!(
        store.take_sealed("state").await.unwrap().as_deref(),
        Some(&b"p"[..])
    );
    assert_eq!(
        store.take_sealed("state").await.unwrap(),
        None,
        "{backend}: used once"
    );
    store.put_sealed("old", None, b"p", Some(1)).await.unwrap();
    assert_eq!(
        store.sealed("old").await.unwrap(),
        None,
        "{backend}: expired"
    );
    assert_eq!(store.take_sealed("old").await.unwrap(), None);
    store.put_sealed("old2", None, b"p", Some(1)).await.unwrap();
    assert_eq!(store.purge_expired_sealed().await.unwrap(), 1, "{backend}");
    assert!(
        store.sealed("s1").await.unwrap().is_some(),
        "tokens have no expiry"
    );
    store.delete_sealed("s1").await.unwrap();
    assert_eq!(store.sealed("s1").await.unwrap(), None);
}

#[tokio::test]
async fn leases_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    check(&SqliteStore::open(&dir.path().join("l.db")).await.unwrap()).await;
}

#[tokio::test]
async fn leases_on_postgres() {
    let db = super::test_postgres::TestDb::new("lease").await;
    let store = PgStore::open(&db.url, 2).await.unwrap();
    check(&store).await;
    store.pool.close().await;
    db.drop_db().await;
}
