//! The store's contract, run against both backends: each aggregate trait must behave the same
//! on SQLite and on PostgreSQL. Each check takes a fresh, migrated store.

use super::groups::Via;
use super::sources::{
    ApplyOp, ApplyOutcome, CardWrite, MappingWrite, NewCard, NewRun, SourcePatch,
};
use super::{
    Accounts, Channels, Collections, Groups, Leases, Objects, Push, Sessions, Settings, Shares,
    Sources, Versions,
};
use super::{
    Actor, CollectionPatch, Db, DeleteOutcome, Kind, Narrow, NewObject, PutOutcome, Store,
    SyncItem, now_ms,
};
use futures_util::StreamExt;
use kith_connectors::plan::{LinkState, Mapping};
use kith_dav::filter::{IndexHint, MatchType};

/// Runs `check` on a fresh SQLite store and on a fresh PostgreSQL database.
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let store = super::super::Db::open_sqlite(&dir.path().join("c.db")).await.unwrap();
                super::$check(&store).await;
                store.close().await;
            }

            #[tokio::test]
            async fn postgres() {
                let db = super::super::test_postgres::TestDb::new(stringify!($check)).await;
                let store = super::super::Db::open_postgres(&db.url, 3).await.unwrap();
                super::$check(&store).await;
                store.close().await;
                db.drop_db().await;
            }
        }
    )*};
}

on_both_backends!(
    leases_and_settings,
    accounts_and_sessions,
    collections,
    objects_and_changes,
    versions_and_trash,
    sources_and_runs,
    incremental_sync_reads_only_changes,
    readiness_requires_every_migration,
    writes_keep_the_replaced_versions_with_their_authors,
    groups_and_claimed_memberships,
    shares_direct_and_through_groups,
    card_shares_follow_the_card,
    delegations_reach_every_calendar_and_everyone_holds_every_user,
    push_registrations_are_claimed_once,
    channels_count_each_message_once,
);

const ACTOR: fn() -> Actor = || Actor::Command("contract test".into());

fn card(uid: &str, fn_: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{fn_}\r\nEND:VCARD\r\n")
}

async fn put(store: &dyn Store, coll: i64, name: &str, uid: &str, data: &str) -> PutOutcome {
    let etag = super::etag_for(data.as_bytes());
    let obj = NewObject {
        name,
        uid,
        etag: &etag,
        content_type: "text/vcard; charset=utf-8",
        data: data.as_bytes(),
        index: vec![("EMAIL", format!("{}@example.org", uid.to_lowercase()))],
        span: None,
    };
    store
        .put_object(coll, &obj, &|_| true, &ACTOR())
        .await
        .unwrap()
}

async fn leases_and_settings(store: &Db) {
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
        "{backend}: expired is not live"
    );
    store.try_lease("source:7", "a", 60_000).await.unwrap();
    assert_eq!(
        store.live_leases("source:").await.unwrap(),
        vec!["source:7".to_string()]
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
    store
        .put_sealed("state", None, b"p", Some(now_ms() + 60_000))
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
    store.ready().await.unwrap();
}

async fn accounts_and_sessions(store: &Db) {
    let backend = store.backend();
    let ann = store.create_user("ann", "hash1").await.unwrap();
    assert!(
        store.create_user("ann", "x").await.is_err(),
        "{backend}: names are unique"
    );
    store.create_user("bob", "hash2").await.unwrap();
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    store.set_password(ann.id, "hash3").await.unwrap();
    store.set_user_admin(ann.id, true).await.unwrap();
    let again = store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!(again.password_hash, "hash3");
    assert!(again.is_admin, "{backend}");
    // App passwords: one query finds the user and the device.
    store
        .add_app_password(ann.id, "phone", b"tok")
        .await
        .unwrap();
    assert!(
        store
            .add_app_password(ann.id, "phone", b"tok2")
            .await
            .is_err(),
        "{backend}"
    );
    let (u, app) = store.user_for_login("ann", b"tok").await.unwrap().unwrap();
    assert_eq!(
        (u.id, app.map(|a| a.label)),
        (ann.id, Some("phone".to_string()))
    );
    let (_, none) = store
        .user_for_login("ann", b"wrong")
        .await
        .unwrap()
        .unwrap();
    assert!(none.is_none());
    let phone = &store.app_passwords(ann.id).await.unwrap()[0];
    store.touch_app_password(phone.id).await.unwrap();
    assert!(
        store.app_passwords(ann.id).await.unwrap()[0]
            .last_used_at
            .is_some()
    );
    assert!(store.revoke_app_password(ann.id, "phone").await.unwrap());
    assert!(!store.revoke_app_password(ann.id, "phone").await.unwrap());
    // Browser sessions end when they expire, or when the user is disabled.
    store
        .create_web_session(b"t1", ann.id, "csrf", now_ms() + 60_000)
        .await
        .unwrap();
    store
        .create_web_session(b"t2", ann.id, "csrf", 1)
        .await
        .unwrap();
    let s = store.web_session(b"t1").await.unwrap().unwrap();
    assert_eq!((s.user.name.as_str(), s.csrf.as_str()), ("ann", "csrf"));
    assert!(
        store.web_session(b"t2").await.unwrap().is_none(),
        "{backend}: expired"
    );
    assert_eq!(store.purge_expired_web_sessions().await.unwrap(), 1);
    store.set_user_disabled(ann.id, true).await.unwrap();
    assert!(
        store.web_session(b"t1").await.unwrap().is_none(),
        "{backend}: disabled"
    );
    assert!(
        store
            .user_by_name("ann")
            .await
            .unwrap()
            .unwrap()
            .disabled_at
            .is_some()
    );
    store.set_user_disabled(ann.id, false).await.unwrap();
    store
        .create_web_session(b"t3", ann.id, "c", now_ms() + 60_000)
        .await
        .unwrap();
    store.delete_web_session(b"t3").await.unwrap();
    assert!(store.web_session(b"t3").await.unwrap().is_none());
    store.delete_user(ann.id).await.unwrap();
    assert!(store.user_by_name("ann").await.unwrap().is_none());
}

async fn collections(store: &Db) {
    let backend = store.backend();
    let u = store.create_user("ann", "h").await.unwrap();
    let patches = [
        CollectionPatch::DisplayName(Some("Work".into())),
        CollectionPatch::Components(vec!["VEVENT".into(), "VTODO".into()]),
    ];
    let cal = store
        .create_collection(u.id, Kind::Calendar, "work", &patches)
        .await
        .unwrap();
    assert_eq!(cal.displayname.as_deref(), Some("Work"));
    assert_eq!(cal.components, ["VEVENT", "VTODO"], "{backend}");
    assert!(
        store
            .create_collection(u.id, Kind::Calendar, "work", &[])
            .await
            .is_err()
    );
    let dead = CollectionPatch::Dead {
        ns: "urn:x".into(),
        name: "color".into(),
        xml: Some("<x:color xmlns:x=\"urn:x\">#f00</x:color>".into()),
    };
    store
        .patch_collection(cal.id, &[dead, CollectionPatch::DisplayName(None)])
        .await
        .unwrap();
    let found = store
        .collection(u.id, Kind::Calendar, "work")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.displayname, None, "{backend}");
    assert_eq!(store.dead_props(cal.id).await.unwrap().len(), 1);
    store.set_derived(cal.id, "birthdays").await.unwrap();
    store
        .set_derived_mark(cal.id, cal.id, Some(5))
        .await
        .unwrap();
    assert_eq!(
        store.derived_marks(cal.id).await.unwrap(),
        vec![(cal.id, 5)]
    );
    store.set_derived_mark(cal.id, cal.id, None).await.unwrap();
    assert!(store.derived_marks(cal.id).await.unwrap().is_empty());
    let counts = store.member_counts(u.id).await.unwrap();
    assert!(counts.contains(&(cal.id, 0)), "{backend}: {counts:?}");
    store.delete_collection(cal.id, &ACTOR()).await.unwrap();
    assert!(
        store
            .collection(u.id, Kind::Calendar, "work")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .collections(u.id, Kind::Calendar)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.deleted_collections(u.id).await.unwrap().len(),
        1,
        "{backend}"
    );
}

async fn objects_and_changes(store: &Db) {
    let backend = store.backend();
    let u = store.create_user("ann", "h").await.unwrap();
    let book = store
        .create_collection(u.id, Kind::Addressbook, "b", &[])
        .await
        .unwrap();
    let id = book.id;
    assert_eq!(
        put(store, id, "a.vcf", "A", &card("A", "Ann")).await,
        PutOutcome::Created
    );
    assert_eq!(
        put(store, id, "b.vcf", "B", &card("B", "Bob")).await,
        PutOutcome::Created
    );
    // A NUL in a UID (a card without one is keyed by "\0name:…") survives both backends.
    assert_eq!(
        put(store, id, "c.vcf", "\0name:c.vcf", &card("C", "C")).await,
        PutOutcome::Created
    );
    assert_eq!(
        put(store, id, "d.vcf", "A", &card("A", "Dup")).await,
        PutOutcome::UidConflict("a.vcf".into()),
        "{backend}: one UID per book"
    );
    assert_eq!(
        put(store, id, "a.vcf", "A", &card("A", "Ann 2")).await,
        PutOutcome::Updated
    );
    assert_eq!(
        put(store, id, "a.vcf", "Z", &card("Z", "Zed")).await,
        PutOutcome::UidChanged("A".into()),
        "{backend}: a member keeps its UID"
    );
    // A card keyed by its name may gain a UID (and keeps it).
    assert_eq!(
        put(store, id, "c.vcf", "C", &card("C", "C")).await,
        PutOutcome::Updated,
        "{backend}: a UID-less card may gain one"
    );
    let a = store.object(id, "a.vcf").await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&a.data).contains("Ann 2"));
    let mut names: Vec<String> = store
        .objects_by_name(id, &["a.vcf".into(), "c.vcf".into(), "zz.vcf".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.meta.name)
        .collect();
    names.sort();
    assert_eq!(names, ["a.vcf", "c.vcf"], "{backend}");
    // The index narrows a listing; LIKE wildcards in the needle are literal.
    let hint = |needle: &str, match_type| {
        Some(Narrow::Index(IndexHint {
            prop: "EMAIL".into(),
            needle: needle.into(),
            match_type,
        }))
    };
    let listed = |narrow| async move {
        let mut out: Vec<String> = store
            .objects(id, false, narrow)
            .map(|o| o.unwrap().meta.name)
            .collect()
            .await;
        out.sort();
        out
    };
    assert_eq!(
        listed(hint("b@", MatchType::StartsWith)).await,
        ["b.vcf"],
        "{backend}"
    );
    assert_eq!(
        listed(hint("%", MatchType::Contains)).await,
        Vec::<String>::new(),
        "{backend}"
    );
    assert_eq!(listed(None).await.len(), 3);
    let stamp = book_stamp(store, u.id).await;
    // Preconditions are checked inside the write.
    let refused = store
        .delete_object(id, "b.vcf", &|_| false, &ACTOR())
        .await
        .unwrap();
    assert_eq!(refused, DeleteOutcome::PreconditionFailed);
    assert_eq!(
        store
            .delete_object(id, "b.vcf", &|_| true, &ACTOR())
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        store
            .rename_object(id, "c.vcf", "e.vcf", "\0name:e.vcf", false, &ACTOR())
            .await
            .unwrap(),
        PutOutcome::Created
    );
    // The change feed after `stamp`: b removed, c moved to e, in stamp order, then the end.
    let now = book_stamp(store, u.id).await;
    let items: Vec<SyncItem> = store
        .changes(id, stamp, now, None, false)
        .map(|i| i.unwrap())
        .collect()
        .await;
    let seen: Vec<String> = items
        .iter()
        .map(|i| match i {
            SyncItem::Present(o) => format!("+{}", o.meta.name),
            SyncItem::Removed { name, .. } => format!("-{name}"),
            SyncItem::End { .. } => "end".into(),
        })
        .collect();
    // The rename's two rows share one stamp, so their order is the database's.
    assert_eq!(
        seen.first().map(String::as_str),
        Some("-b.vcf"),
        "{backend}: {seen:?}"
    );
    assert_eq!(
        seen.last().map(String::as_str),
        Some("end"),
        "{backend}: {seen:?}"
    );
    let mut middle = seen[1..3].to_vec();
    middle.sort();
    assert_eq!(middle, ["+e.vcf", "-c.vcf"], "{backend}");
    let initial: Vec<SyncItem> = store
        .changes(id, 0, now, Some(1), true)
        .map(|i| i.unwrap())
        .collect()
        .await;
    assert!(
        matches!(&initial[0], SyncItem::Present(o) if !o.data.is_empty()),
        "{backend}"
    );
    // Read up to an earlier stamp, the feed stops there: the rename (one stamp, after the
    // deletion) is left for the read that starts from it.
    let earlier: Vec<String> = store
        .changes(id, stamp, now - 1, None, false)
        .map(|i| match i.unwrap() {
            SyncItem::Present(o) => format!("+{}", o.meta.name),
            SyncItem::Removed { name, .. } => format!("-{name}"),
            SyncItem::End { current } => format!("end {current}"),
        })
        .collect()
        .await;
    assert_eq!(
        earlier,
        ["-b.vcf".to_string(), format!("end {}", now - 1)],
        "{backend}"
    );
    assert!(matches!(initial.last(), Some(SyncItem::End { .. })));
    assert_eq!(initial.len(), 2, "{backend}: the limit holds");
    assert_eq!(
        store.purge_tombstones(now_ms() + 1).await.unwrap(),
        2,
        "{backend}"
    );
    let book = store
        .collection(u.id, Kind::Addressbook, "b")
        .await
        .unwrap()
        .unwrap();
    assert!(
        book.horizon > stamp,
        "{backend}: the horizon moves past purged tombstones"
    );
}

async fn versions_and_trash(store: &Db) {
    let backend = store.backend();
    let u = store.create_user("ann", "h").await.unwrap();
    let book = store
        .create_collection(u.id, Kind::Addressbook, "b", &[])
        .await
        .unwrap();
    put(store, book.id, "a.vcf", "A", &card("A", "v1")).await;
    put(store, book.id, "a.vcf", "A", &card("A", "v2")).await;
    put(store, book.id, "n.vcf", "\0name:n.vcf", &card("N", "n")).await;
    let kept = store.versions(book.id, "a.vcf").await.unwrap();
    assert_eq!(kept.len(), 1, "{backend}: the replaced version is kept");
    assert!(String::from_utf8_lossy(&kept[0].data).contains("v1"));
    assert!(!kept[0].deleted);
    let by = store.written_by(book.id, "a.vcf").await.unwrap();
    assert_eq!(by.as_deref(), Some("contract test"), "{backend}");
    assert_eq!(
        store.find_name(book.id, "A").await.unwrap().as_deref(),
        Some("a.vcf")
    );
    store
        .delete_object(book.id, "n.vcf", &|_| true, &ACTOR())
        .await
        .unwrap();
    let trash = store.trash(book.id).await.unwrap();
    assert_eq!(trash.len(), 1, "{backend}");
    assert!(trash[0].deleted);
    assert_eq!(
        trash[0].uid, "\0name:n.vcf",
        "{backend}: the key comes back as written"
    );
    assert_eq!(
        store.version(trash[0].id).await.unwrap().unwrap().name,
        "n.vcf"
    );
    assert!(store.version_count().await.unwrap() >= 2);
    // A rewind reads the versions and members changed since a time in one snapshot.
    let (changed, current) = store.changed_since(book.id, 0).await.unwrap();
    assert_eq!(
        changed.len(),
        2,
        "{backend}: a's first version and n's last"
    );
    assert_eq!(current.len(), 1, "{backend}: a is the member left");
    assert_eq!(store.purge_trash(book.id).await.unwrap(), 1, "{backend}");
    assert!(store.trash(book.id).await.unwrap().is_empty());
}

async fn sources_and_runs(store: &Db) {
    let backend = store.backend();
    let u = store.create_user("ann", "h").await.unwrap();
    let book = store
        .create_collection(u.id, Kind::Addressbook, "b", &[])
        .await
        .unwrap();
    let s = store
        .create_source(u.id, "li", LINKEDIN, book.id, Some("/tmp/c.csv"), "{}")
        .await
        .unwrap();
    assert!(!s.applied_once, "{backend}");
    assert!(
        store
            .create_source(u.id, "li", LINKEDIN, book.id, None, "{}")
            .await
            .is_err()
    );
    store
        .patch_source(
            s.id,
            SourcePatch::Status(
                crate::store::states::SourceStatus::Manual,
                Some("why".into()),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .source_by_name(u.id, "li")
            .await
            .unwrap()
            .unwrap()
            .status,
        crate::store::sources::SourceStatus::Manual
    );
    let run = NewRun {
        source_id: s.id,
        kind: crate::store::states::RunKind::Sync,
        trigger: crate::store::states::Trigger::Cli,
        status: crate::store::states::RunStatus::Planned,
        undo_of: None,
        summary: "{}",
    };
    let run_id = store
        .create_run(&run, &["op1".into(), "op2".into()])
        .await
        .unwrap();
    assert_eq!(
        store.run_ops(run_id).await.unwrap(),
        ["op1", "op2"],
        "{backend}"
    );
    // Applying creates the card and its link, records an undo image, and marks the source.
    let data = card("R1", "Remote One").into_bytes();
    let op = ApplyOp {
        card: Some(CardWrite {
            name: "r1.vcf".into(),
            expect_etag: None,
            put: Some(NewCard {
                content_type: "text/vcard; charset=utf-8".into(),
                span: None,
                uid: "R1".into(),
                etag: super::etag_for(&data),
                data,
                index: vec![("EMAIL".into(), "r1@example.org".into())],
            }),
        }),
        remote_id: "remote-1".into(),
        mapping: MappingWrite::Put(Mapping {
            card: Some("r1.vcf".into()),
            state: LinkState::parse("linked").unwrap_or(LinkState::Linked),
            version: "v1".into(),
            base: None,
            card_etag: None,
        }),
        expect_mapping: Some(String::new()),
    };
    let outcome = store
        .apply_run(run_id, s.id, book.id, std::slice::from_ref(&op), &[], None)
        .await
        .unwrap();
    assert_eq!(outcome, ApplyOutcome::Applied, "{backend}");
    assert!(store.object(book.id, "r1.vcf").await.unwrap().is_some());
    assert_eq!(store.mappings(s.id).await.unwrap().len(), 1);
    let counts = store.mapping_counts(s.id).await.unwrap();
    assert_eq!(counts.values().sum::<i64>(), 1, "{counts:?}");
    assert_eq!(
        store.undo_records(run_id).await.unwrap().len(),
        1,
        "{backend}"
    );
    assert!(
        store.source(s.id).await.unwrap().unwrap().applied_once,
        "{backend}"
    );
    assert_eq!(
        store.run(run_id).await.unwrap().unwrap().status,
        crate::store::sources::RunStatus::Applied
    );
    // The same plan again is stale: the card exists now.
    let again = store
        .apply_run(run_id, s.id, book.id, &[op], &[], None)
        .await
        .unwrap();
    assert!(
        matches!(again, ApplyOutcome::Stale(_)),
        "{backend}: {again:?}"
    );
    let listed = store.runs(u.id, Some(s.id), 10).await.unwrap();
    assert_eq!(listed.len(), 1, "{backend}: runs of one source");
    assert_eq!(
        store.runs(u.id, None, 10).await.unwrap().len(),
        1,
        "{backend}: all runs"
    );
    // A source runs on schedule once a plan was applied and its rules turn automatic sync on.
    assert!(
        store.scheduled_sources().await.unwrap().is_empty(),
        "{backend}"
    );
    let auto = r#"{"schedule":{"auto":true,"every":"1h"}}"#;
    store
        .patch_source(s.id, SourcePatch::Rules(auto.into()))
        .await
        .unwrap();
    let scheduled = store.scheduled_sources().await.unwrap();
    assert_eq!(scheduled.len(), 1, "{backend}: the scheduler sees it");
    store
        .add_event(u.id, Some(s.id), "error", "it broke")
        .await
        .unwrap();
    let events = store.events(u.id, 10).await.unwrap();
    assert_eq!(events[0].message, "it broke");
    assert_eq!(
        store.delete_source(s.id, true).await.unwrap(),
        1,
        "{backend}"
    );
    assert!(store.object(book.id, "r1.vcf").await.unwrap().is_none());
}

/// After 10 changes in a 2,000-card book, an incremental sync reads only those 10 rows.
async fn incremental_sync_reads_only_changes(store: &Db) {
    let u = store.create_user("u", "x").await.unwrap();
    let book = store
        .create_collection(u.id, Kind::Addressbook, "b", &[])
        .await
        .unwrap();
    for i in 0..2000 {
        let uid = format!("uid-{i}");
        put(store, book.id, &format!("{i}.vcf"), &uid, &card(&uid, "n")).await;
    }
    let token = book_stamp(store, u.id).await;
    assert_eq!(token, 2000);
    for i in 0..7 {
        let uid = format!("uid-{}", i * 100);
        put(
            store,
            book.id,
            &format!("{}.vcf", i * 100),
            &uid,
            &card(&uid, "changed"),
        )
        .await;
    }
    for i in 0..3 {
        let name = format!("{}.vcf", 1001 + i);
        store
            .delete_object(book.id, &name, &|_| true, &ACTOR())
            .await
            .unwrap();
    }
    let now = book_stamp(store, u.id).await;
    let mut items: Vec<SyncItem> = store
        .changes(book.id, token, now, None, false)
        .map(|r| r.unwrap())
        .collect()
        .await;
    let Some(SyncItem::End { current }) = items.pop() else {
        panic!("the stream ends with End");
    };
    assert_eq!(
        items.len(),
        10,
        "{}: exactly the 10 changed rows",
        store.backend()
    );
    assert_eq!(current, token + 10);
    let removed = items
        .iter()
        .filter(|c| matches!(c, SyncItem::Removed { .. }))
        .count();
    assert_eq!(removed, 3);
}

/// `/readyz` fails when a migration this build needs is not applied.
async fn readiness_requires_every_migration(store: &Db) {
    store.ready().await.unwrap();
    store.shared_setting("probe", b"1").await.unwrap();
    let db = store;
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 4")
        .execute(&db.writer)
        .await
        .unwrap();
    let err = store.ready().await.unwrap_err().to_string();
    assert!(err.contains("migrations 4 are not applied"), "{err}");
    db.reader.close().await;
    let err = store.ready().await.unwrap_err().to_string();
    assert!(
        err.contains("database"),
        "a closed pool is not ready: {err}"
    );
}

/// Each write keeps the version it replaced with who wrote it and who replaced it; the delete
/// leaves the last version in the trash; derived writes are not kept.
async fn writes_keep_the_replaced_versions_with_their_authors(store: &Db) {
    let text = |t: &'static str| NewObject {
        name: "a.vcf",
        uid: "a",
        etag: "\"x\"",
        content_type: "text/vcard",
        data: t.as_bytes(),
        index: Vec::new(),
        span: None,
    };
    let user = store.create_user("u", "x").await.unwrap();
    let book = store
        .create_collection(user.id, Kind::Addressbook, "b", &[])
        .await
        .unwrap();
    let phone = Actor::Client {
        user: "u".into(),
        device: Some("phone".into()),
        agent: "DAVx5".into(),
    };
    let laptop = Actor::Command("laptop".into());
    store
        .put_object(book.id, &text("one"), &|_| true, &phone)
        .await
        .unwrap();
    store
        .put_object(book.id, &text("two"), &|_| true, &laptop)
        .await
        .unwrap();
    store
        .delete_object(book.id, "a.vcf", &|_| true, &phone)
        .await
        .unwrap();
    let versions = store.versions(book.id, "a.vcf").await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].data, b"two");
    assert_eq!(versions[0].written_by.as_deref(), Some("laptop"));
    assert!(versions[0].deleted);
    assert_eq!(versions[0].replaced_by, phone.to_string());
    assert_eq!(versions[1].data, b"one");
    assert!(!versions[1].deleted);
    assert_eq!(store.trash(book.id).await.unwrap()[0].data, b"two");
    store
        .put_object(book.id, &text("three"), &|_| true, &Actor::Derived)
        .await
        .unwrap();
    store
        .put_object(book.id, &text("four"), &|_| true, &Actor::Derived)
        .await
        .unwrap();
    assert_eq!(
        store.version_count().await.unwrap(),
        2,
        "{}",
        store.backend()
    );
    assert!(
        store.trash(book.id).await.unwrap().is_empty(),
        "a re-created member is no longer in the trash"
    );
    assert_eq!(store.purge_versions(now_ms() + 1).await.unwrap(), 2);
    assert_eq!(store.version_count().await.unwrap(), 0);
}

/// calendar-query's pre-filter on SQLite: over 50,000 events, 10 % of them endless weekly
/// series, a one-week range hands the query only the events of that week and the endless
/// series, through the span index.
#[tokio::test]
async fn sqlite_time_range_prefilter_reads_only_candidate_spans() {
    let dir = tempfile::tempdir().unwrap();
    let store = super::Db::open_sqlite(&dir.path().join("k.db"))
        .await
        .unwrap();
    let user = store.create_user("u", "x").await.unwrap();
    let cal = store
        .create_collection(user.id, Kind::Calendar, "c", &[])
        .await
        .unwrap();
    let base: i64 = 1_577_836_800; // 2020-01-01T00:00:00Z
    let mut tx = store.begin().await.unwrap();
    for i in 0..50_000i64 {
        let (start, end) = if i % 10 == 0 {
            (base + i * 7200, i64::MAX)
        } else {
            (base + i * 7200, base + i * 7200 + 3600)
        };
        sqlx::query(
            "INSERT INTO objects (collection_id, name, uid, etag, content_type, size, data, seq, \
             modified_at, first_start, last_end) VALUES ($1, $2, $3, '\"e\"', 'text/calendar', 0, x'', 1, 0, $4, $5)",
        )
        .bind(cal.id)
        .bind(format!("{i}.ics"))
        .bind(format!("u{i}"))
        .bind(start)
        .bind(end)
        .execute(tx.c())
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // The week from 2024-01-01: events 17,532 to 17,615 start in it, and the span test is
    // inclusive, so event 17,616, which starts at the week's end, is a candidate too.
    let start = base + 17_532 * 7200;
    let end = start + 7 * 86_400;
    let rows: Vec<_> = store
        .objects(cal.id, false, Some(Narrow::Span { start, end }))
        .map(|r| r.unwrap())
        .collect()
        .await;
    let in_week = (17_532..=17_532 + 84).filter(|i| i % 10 != 0).count();
    let endless_begun = (0..=17_532 + 84).filter(|i| i % 10 == 0).count();
    assert_eq!(rows.len(), in_week + endless_begun);
    let plan: Vec<String> = sqlx::query(
        "EXPLAIN QUERY PLAN SELECT name FROM objects WHERE collection_id = $1 AND last_end >= $2 AND first_start <= $3",
    )
    .bind(cal.id)
    .bind(start)
    .bind(end)
    .fetch_all(&store.reader)
    .await
    .unwrap()
    .iter()
    .map(|r| sqlx::Row::get::<String, _>(r, "detail"))
    .collect();
    assert!(
        plan.iter().any(|p| p.contains("objects_by_end")),
        "{plan:?}"
    );
}

/// SQLite's incremental sync reads the (collection_id, seq) indexes, not the whole table.
#[tokio::test]
async fn sqlite_changes_use_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = super::Db::open_sqlite(&dir.path().join("p.db"))
        .await
        .unwrap();
    let plan = store.explain_changes().await.unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("objects USING INDEX objects_by_seq"),
        "{plan}"
    );
    assert!(
        plan.contains("tombstones USING INDEX tombstones_by_seq"),
        "{plan}"
    );
    assert!(!plan.contains("SCAN objects"), "no full scan: {plan}");
}

const LINKEDIN: crate::store::sources::SourceKind =
    crate::store::sources::SourceKind::File(kith_connectors::formats::Format::LinkedinCsv);

async fn groups_and_claimed_memberships(store: &Db) {
    let ana = store.create_user("ana", "h").await.unwrap();
    let bob = store.create_user("bob", "h").await.unwrap();
    let team = store.create_group("recruiting").await.unwrap();
    assert!(
        store.create_group("recruiting").await.is_err(),
        "names are unique"
    );
    store.add_member(team.id, ana.id, Via::Admin).await.unwrap();
    store.add_member(team.id, ana.id, Via::Admin).await.unwrap();
    let names = |v: Vec<crate::store::User>| v.into_iter().map(|u| u.name).collect::<Vec<_>>();
    assert_eq!(names(store.members(team.id).await.unwrap()), ["ana"]);

    // A claim adds groups (made as needed) and replaces only what a claim added.
    store
        .set_claimed_groups(bob.id, &["recruiting".into(), "sales".into()])
        .await
        .unwrap();
    let of = |u| async move {
        store
            .groups_of(u)
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(bob.id).await, ["recruiting", "sales"]);
    store
        .set_claimed_groups(bob.id, &["sales".into()])
        .await
        .unwrap();
    assert_eq!(of(bob.id).await, ["sales"]);
    store.set_claimed_groups(ana.id, &[]).await.unwrap();
    assert_eq!(
        of(ana.id).await,
        ["recruiting"],
        "the admin's membership stays"
    );

    assert!(store.remove_member(team.id, ana.id).await.unwrap());
    assert!(!store.remove_member(team.id, ana.id).await.unwrap());
    let sales = store.group_by_name("sales").await.unwrap().unwrap();
    store.delete_group(sales.id).await.unwrap();
    assert!(of(bob.id).await.is_empty());
    store.delete_user(bob.id).await.unwrap();
    assert_eq!(store.groups().await.unwrap().len(), 1);
}

async fn shares_direct_and_through_groups(store: &Db) {
    use super::shares::Grantee;
    let ann = store.create_user("ann", "h").await.unwrap();
    let bob = store.create_user("bob", "h").await.unwrap();
    let cat = store.create_user("cat", "h").await.unwrap();
    let book = store
        .create_collection(ann.id, Kind::Addressbook, "clients", &[])
        .await
        .unwrap();
    let team = store.create_group("team").await.unwrap();
    store.add_member(team.id, cat.id, Via::Admin).await.unwrap();
    store.add_member(team.id, bob.id, Via::Admin).await.unwrap();

    store
        .put_share(book.id, Grantee::User(bob.id), false)
        .await
        .unwrap();
    store
        .put_share(book.id, Grantee::Group(team.id), false)
        .await
        .unwrap();
    let seen = |u| async move {
        store
            .shared_with(u, Kind::Addressbook)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.owner_name, s.collection.name, s.writable, s.hidden))
            .collect::<Vec<_>>()
    };
    let ro = ("ann".to_string(), "clients".to_string(), false, false);
    assert_eq!(
        seen(bob.id).await,
        std::slice::from_ref(&ro),
        "one row for two grants"
    );
    assert_eq!(seen(cat.id).await, std::slice::from_ref(&ro));
    assert!(
        seen(ann.id).await.is_empty(),
        "an owner's own book is not shared with her"
    );
    assert!(
        store
            .shared_with(bob.id, Kind::Calendar)
            .await
            .unwrap()
            .is_empty()
    );

    // The widest grant wins; changing a share keeps one row.
    store
        .put_share(book.id, Grantee::Group(team.id), true)
        .await
        .unwrap();
    assert!(seen(bob.id).await[0].2, "writable through the group");
    let shares = store.shares_of(book.id).await.unwrap();
    let list: Vec<_> = shares
        .iter()
        .map(|s| (s.grantee_name.as_str(), s.writable))
        .collect();
    assert_eq!(list, [("bob", false), ("team", true)]);

    // A sharee's own properties, over the owner's, for them alone.
    store
        .set_share_prop(
            bob.id,
            book.id,
            "DAV:",
            "displayname",
            Some("<x:displayname xmlns:x=\"DAV:\">Mine</x:displayname>"),
        )
        .await
        .unwrap();
    assert_eq!(store.share_props(bob.id, book.id).await.unwrap().len(), 1);
    assert!(store.share_props(cat.id, book.id).await.unwrap().is_empty());
    store
        .set_share_prop(bob.id, book.id, "DAV:", "displayname", None)
        .await
        .unwrap();
    assert!(store.share_props(bob.id, book.id).await.unwrap().is_empty());

    store.set_share_hidden(bob.id, book.id, true).await.unwrap();
    assert!(seen(bob.id).await[0].3, "hidden for bob");
    assert!(!seen(cat.id).await[0].3, "not for cat");
    store
        .set_share_hidden(bob.id, book.id, false)
        .await
        .unwrap();

    // Leaving the group leaves the direct share; removing it ends access.
    store.remove_member(team.id, bob.id).await.unwrap();
    assert_eq!(seen(bob.id).await, [ro]);
    assert!(
        store
            .remove_share(book.id, Grantee::User(bob.id))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_share(book.id, Grantee::User(bob.id))
            .await
            .unwrap()
    );
    assert!(seen(bob.id).await.is_empty());

    // A deleted group, or a trashed book, shares nothing; the book's data stays with ann.
    store.delete_collection(book.id, &ACTOR()).await.unwrap();
    assert!(
        seen(cat.id).await.is_empty(),
        "a trashed book is not shared"
    );
    store.delete_group(team.id).await.unwrap();
    assert!(store.shares_of(book.id).await.unwrap().is_empty());
}

async fn card_shares_follow_the_card(store: &Db) {
    use super::shares::Grantee;
    let ann = store.create_user("ann", "h").await.unwrap();
    let bob = store.create_user("bob", "h").await.unwrap();
    let book = store
        .create_collection(ann.id, Kind::Addressbook, "b", &[])
        .await
        .unwrap();
    put(store, book.id, "a.vcf", "A", &card("A", "Ann")).await;
    assert!(
        store
            .put_card_share(book.id, "a.vcf", Grantee::User(bob.id))
            .await
            .unwrap()
    );
    assert!(
        store
            .put_card_share(book.id, "a.vcf", Grantee::User(bob.id))
            .await
            .unwrap(),
        "again: no error"
    );
    assert!(
        !store
            .put_card_share(book.id, "zz.vcf", Grantee::User(bob.id))
            .await
            .unwrap()
    );
    let shared = store.cards_shared_with(bob.id).await.unwrap();
    assert_eq!(shared.len(), 1);
    assert_eq!(
        (shared[0].owner_name.as_str(), shared[0].name.as_str()),
        ("ann", "a.vcf")
    );
    assert!(store.cards_shared_with(ann.id).await.unwrap().is_empty());
    let of = store.card_shares_of(book.id).await.unwrap();
    assert_eq!(of[0].0, "a.vcf");
    // An edit keeps the share; deleting the card ends it.
    put(store, book.id, "a.vcf", "A", &card("A", "Ann 2")).await;
    let shared = store.cards_shared_with(bob.id).await.unwrap();
    assert!(String::from_utf8_lossy(&shared[0].data).contains("Ann 2"));
    store
        .delete_object(book.id, "a.vcf", &|_| true, &ACTOR())
        .await
        .unwrap();
    assert!(store.cards_shared_with(bob.id).await.unwrap().is_empty());
    assert!(
        !store
            .remove_card_share(book.id, "a.vcf", Grantee::User(bob.id))
            .await
            .unwrap()
    );
}

/// A delegation reaches every calendar of the owner, later ones too, never a derived one or a
/// book, at the widest grant among it and a share; deleting the delegate ends it. The group
/// `everyone` holds every user, made before or after it.
async fn delegations_reach_every_calendar_and_everyone_holds_every_user(store: &Db) {
    use super::shares::Grantee;
    let ann = store.create_user("ann", "h").await.unwrap();
    let bob = store.create_user("bob", "h").await.unwrap();
    let work = store
        .create_collection(ann.id, Kind::Calendar, "work", &[])
        .await
        .unwrap();
    store
        .create_collection(ann.id, Kind::Addressbook, "clients", &[])
        .await
        .unwrap();
    let bday = store
        .create_collection(ann.id, Kind::Calendar, "birthdays", &[])
        .await
        .unwrap();
    store.set_derived(bday.id, "birthdays").await.unwrap();
    store
        .put_share(work.id, Grantee::User(bob.id), true)
        .await
        .unwrap();
    store.put_delegation(ann.id, bob.id, false).await.unwrap();
    store
        .create_collection(ann.id, Kind::Calendar, "later", &[])
        .await
        .unwrap();
    let cals = store.shared_with(bob.id, Kind::Calendar).await.unwrap();
    let seen: Vec<(String, bool)> = cals
        .iter()
        .map(|s| (s.collection.name.clone(), s.writable))
        .collect();
    assert_eq!(
        seen,
        [("later".to_string(), false), ("work".to_string(), true)]
    );
    assert!(
        store
            .shared_with(bob.id, Kind::Addressbook)
            .await
            .unwrap()
            .is_empty()
    );
    let to = store.delegates_of(ann.id).await.unwrap();
    assert_eq!((to[0].name.as_str(), to[0].writable), ("bob", false));
    let from = store.delegators_of(bob.id).await.unwrap();
    assert_eq!(from[0].name, "ann");
    store.put_delegation(ann.id, bob.id, true).await.unwrap();
    assert!(store.delegates_of(ann.id).await.unwrap()[0].writable);
    assert!(store.remove_delegation(ann.id, bob.id).await.unwrap());
    assert!(!store.remove_delegation(ann.id, bob.id).await.unwrap());
    store.put_delegation(ann.id, bob.id, false).await.unwrap();
    store.delete_user(bob.id).await.unwrap();
    assert!(store.delegates_of(ann.id).await.unwrap().is_empty());

    let everyone = store.create_group(super::EVERYONE).await.unwrap();
    let cat = store.create_user("cat", "h").await.unwrap();
    let names: Vec<String> = store
        .members(everyone.id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ann", "cat"]);
    assert_eq!(store.groups_of(cat.id).await.unwrap()[0].name, "everyone");
}

async fn push_registrations_are_claimed_once(store: &Db) {
    use super::push::NewRegistration;
    let backend = store.backend();
    let u = store.create_user("ann", "h").await.unwrap();
    let other = store.create_user("bob", "h").await.unwrap();
    let book = store
        .create_collection(u.id, Kind::Addressbook, "b", &[])
        .await
        .unwrap();
    put(store, book.id, "a.vcf", "a", &card("a", "A")).await;
    let reg = |token: &'static str, resource: &'static str| NewRegistration {
        user_id: u.id,
        collection_id: book.id,
        push_resource: resource,
        public_key: "k",
        auth_secret: "s",
        expires_at: now_ms() + 60_000,
        token,
    };
    let t1 = store
        .put_push_registration(&reg("t1", "https://p/1"))
        .await
        .unwrap();
    assert_eq!(t1.as_deref(), Some("t1"));
    // The same push resource again keeps its token: no second registration.
    let again = store
        .put_push_registration(&reg("t9", "https://p/1"))
        .await
        .unwrap();
    assert_eq!(again.as_deref(), Some("t1"), "{backend}");
    let theirs = NewRegistration {
        user_id: other.id,
        ..reg("t8", "https://p/1")
    };
    assert_eq!(
        store.put_push_registration(&theirs).await.unwrap(),
        None,
        "another user cannot take a registration over ({backend})"
    );
    store
        .put_push_registration(&reg("t2", "https://p/2"))
        .await
        .unwrap();
    assert!(
        store.pending_pushes().await.unwrap().is_empty(),
        "new registrations start at the current stamp ({backend})"
    );

    put(store, book.id, "b.vcf", "b", &card("b", "B")).await;
    let pending = store.pending_pushes().await.unwrap();
    assert_eq!(pending.len(), 2, "{backend}");
    let p = &pending[0];
    assert_eq!((p.owner_id, p.kind), (u.id, Kind::Addressbook));
    assert!(store.claim_push(p.registration.id, p.seq).await.unwrap());
    assert!(
        !store.claim_push(p.registration.id, p.seq).await.unwrap(),
        "a stamp is claimed once ({backend})"
    );
    let q = &pending[1];
    assert!(store.claim_push(q.registration.id, q.seq).await.unwrap());

    // Push-Dont-Notify: the writer's own registration skips its one change...
    let before = store
        .collection(u.id, Kind::Addressbook, "b")
        .await
        .unwrap()
        .unwrap();
    put(store, book.id, "c.vcf", "c", &card("c", "C")).await;
    store
        .skip_push(u.id, book.id, Some(&["t1".to_string()]), before.seq)
        .await
        .unwrap();
    let pending = store.pending_pushes().await.unwrap();
    assert_eq!(pending.len(), 1, "{backend}");
    assert_eq!(pending[0].registration.token, "t2");
    // ...but not one made on top of someone else's, and never another user's registrations.
    let before = pending[0].seq;
    put(store, book.id, "d.vcf", "d", &card("d", "D")).await;
    put(store, book.id, "e.vcf", "e", &card("e", "E")).await;
    store
        .skip_push(u.id, book.id, None, before + 1)
        .await
        .unwrap();
    store
        .skip_push(other.id, book.id, None, before)
        .await
        .unwrap();
    assert_eq!(store.pending_pushes().await.unwrap().len(), 2, "{backend}");

    assert_eq!(
        store.push_failed(pending[0].registration.id).await.unwrap(),
        1
    );
    assert!(
        !store
            .delete_push_registration(other.id, "t1")
            .await
            .unwrap()
    );
    assert!(store.delete_push_registration(u.id, "t1").await.unwrap());
    assert_eq!(store.push_registrations_of(u.id).await.unwrap().len(), 1);
    let expired = NewRegistration {
        expires_at: now_ms() - 1,
        ..reg("t3", "https://p/3")
    };
    store.put_push_registration(&expired).await.unwrap();
    assert_eq!(store.purge_expired_pushes().await.unwrap(), 1, "{backend}");
}

async fn channels_count_each_message_once(store: &Db) {
    use super::channels::Delivery;
    let backend = store.backend();
    let u = store.create_user("ann", "h").await.unwrap();
    let book = store
        .create_collection(u.id, Kind::Addressbook, "b", &[])
        .await
        .unwrap();
    let s = store
        .create_source(u.id, "li", LINKEDIN, book.id, None, "{}")
        .await
        .unwrap();
    assert_eq!(s.notified_at, None);
    store
        .put_channel(s.id, "chan-1", Some("res-1"), now_ms() + 60_000, false)
        .await
        .unwrap();
    assert!(!store.channels_of(s.id).await.unwrap()[0].confirmed);
    assert_eq!(
        store.channel_message(s.id, "chan-1", None).await.unwrap(),
        Delivery::Fresh
    );
    assert_eq!(
        store
            .channel_message(s.id, "chan-1", Some(2))
            .await
            .unwrap(),
        Delivery::Fresh,
        "{backend}"
    );
    assert_eq!(
        store
            .channel_message(s.id, "chan-1", Some(2))
            .await
            .unwrap(),
        Delivery::Replayed,
        "the same message number twice ({backend})"
    );
    assert_eq!(
        store
            .channel_message(s.id, "chan-1", Some(1))
            .await
            .unwrap(),
        Delivery::Replayed
    );
    assert_eq!(
        store.channel_message(s.id, "other", Some(3)).await.unwrap(),
        Delivery::Unknown
    );
    assert_eq!(
        store
            .channel_message(s.id + 1, "chan-1", None)
            .await
            .unwrap(),
        Delivery::Unknown,
        "a channel belongs to its source"
    );
    let c = &store.channels_of(s.id).await.unwrap()[0];
    assert_eq!(c.resource_id.as_deref(), Some("res-1"));
    assert!(c.confirmed, "its first message confirmed it ({backend})");
    store
        .replace_channel(c.id, "chan-2", None, now_ms() + 120_000, false)
        .await
        .unwrap();
    assert_eq!(
        store
            .channel_message(s.id, "chan-2", Some(1))
            .await
            .unwrap(),
        Delivery::Fresh,
        "a new channel numbers from the start ({backend})"
    );
    assert!(store.expire_channel(s.id, "chan-2").await.unwrap());
    assert!(store.all_channels().await.unwrap()[0].expires_at <= now_ms());
    store.note_notified(s.id).await.unwrap();
    let again = store.source(s.id).await.unwrap().unwrap();
    assert!(again.notified_at.is_some(), "{backend}");
    store.delete_channel(c.id).await.unwrap();
    assert!(store.channels_of(s.id).await.unwrap().is_empty());
}

/// The change stamp of user `user`'s address book "b", as a sync report reads it.
async fn book_stamp(store: &Db, user: i64) -> i64 {
    store
        .collection(user, Kind::Addressbook, "b")
        .await
        .unwrap()
        .unwrap()
        .seq
}
