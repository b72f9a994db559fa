//! Leases behave the same on both backends: one holder at a time, renewable by its holder,
//! taken over only once expired, and freed by release.

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
