//! The Microsoft 365 connector end to end: a real `kith serve` and the real CLI against the
//! fake Graph and identity platform (`kith-fakes`), which behave as connectors.md §1.9/§5
//! describe. Each test is one of the §5 scenarios that apply to Graph, or part of the
//! authorization and admin-consent flows.
//!
//! The fake's clock runs 100× faster than real time and Kith is told so
//! (`providers.wait_scale = 0.01`): a `Retry-After: 30` costs a third of a second here and
//! shows as 30 s in the fake's log.

use crate::common::upstream::*;
use crate::common::*;
use serde_json::{Value, json};

const ACCOUNT: &str = "ada@contoso.example";
const TENANT: &str = "contoso";

struct M(Upstream);

impl std::ops::Deref for M {
    type Target = Upstream;
    fn deref(&self) -> &Upstream {
        &self.0
    }
}

impl M {
    async fn start() -> M {
        Self::start_for("common").await
    }

    /// A server whose users sign in through `tenant`.
    async fn start_for(tenant: &str) -> M {
        let (fake, _) = kith_fakes::m365::spawn();
        let config = format!(
            r#"[providers]
wait_scale = 0.01

[providers.m365]
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "fake-m365-secret"
tenant = "{tenant}"
redirect_base = "http://kith.test"
authority_url = "{fake}"
graph_url = "{fake}/v1.0"
page_size = 7
retry_base = "100ms"
"#
        );
        let m = M(Upstream::start(fake, config, None, "m365"));
        m.control("/_fake/config", json!({"time_scale": 100.0}))
            .await;
        m.control(
            "/_fake/user",
            json!({"account": ACCOUNT, "tenant": TENANT, "time_zone": "W. Europe Standard Time"}),
        )
        .await;
        m
    }

    async fn seed_in(&self, folder: &str, contacts: Vec<Value>) -> Vec<String> {
        let v = self
            .control(
                "/_fake/contacts",
                json!({"account": ACCOUNT, "folder": folder, "contacts": contacts}),
            )
            .await;
        v["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect()
    }

    async fn seed(&self, contacts: Vec<Value>) -> Vec<String> {
        self.seed_in("default", contacts).await
    }

    async fn contacts(&self) -> Vec<Value> {
        self.get(&format!("/_fake/contacts?account={ACCOUNT}"))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    async fn writes(&self) -> Vec<String> {
        self.writes_under("/v1.0/me/").await
    }

    /// The browser's whole authorization as `account`; the callback page's status and text.
    async fn authorize(&self, account: &str, decline: bool) -> (u16, String) {
        self.control(
            "/_fake/signin",
            json!({"account": account, "decline": decline}),
        )
        .await;
        let (path, cookie) = self.through("/oauth/m365/start?source=m365").await;
        let cb = self
            .s
            .anon("GET", &path)
            .header("cookie", &cookie)
            .send()
            .await;
        (cb.status.as_u16(), cb.text())
    }

    async fn connect(&self) {
        self.ok(&["provider", "enable", "m365"]);
        let (status, text) = self.authorize(ACCOUNT, false).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("Microsoft 365 connected"), "{text}");
    }
}

fn contact(given: &str, surname: &str, email: &str) -> Value {
    json!({"givenName": given, "surname": surname, "emailAddresses": [{"address": email, "name": email}]})
}

fn many(prefix: &str, range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| {
            contact(
                &format!("{prefix}{i:02}"),
                "Doe",
                &format!("{}{i}@example.net", prefix.to_lowercase()),
            )
        })
        .collect()
}

fn find<'a>(contacts: &'a [Value], given: &str) -> &'a Value {
    contacts
        .iter()
        .find(|c| c["givenName"] == given)
        .unwrap_or_else(|| panic!("no {given} in Outlook"))
}

/// §5 #18: a tenant whose users may not consent: the user is shown the admin path, a tenant
/// admin consents through Kith's link, and then the user connects. Every sign-in error names
/// its fix.
#[tokio::test]
async fn missing_admin_consent_shows_the_admin_path_and_the_admin_link_records_it() {
    let m = M::start().await;
    let r = m.s.req("GET", "/oauth/m365/start").send().await;
    assert_eq!(r.status, 403, "not enabled yet");
    assert!(
        r.text()
            .contains("A Kith admin enables it on the admin page"),
        "{}",
        r.text()
    );
    m.ok(&["provider", "enable", "m365"]);
    m.control(
        "/_fake/tenant",
        json!({"id": TENANT, "admin_consented": false, "user_consent_allowed": false}),
    )
    .await;
    let (status, text) = m.authorize(ACCOUNT, false).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("http://kith.test/oauth/m365/adminconsent") && text.contains("administrator"),
        "{text}"
    );
    assert!(
        !m.ok(&["source", "list", "--user", "admin"])
            .contains("m365")
    );
    // The tenant admin follows the link: Microsoft's admin consent, back to Kith.
    m.control("/_fake/admin", json!({"tenant": TENANT, "is_admin": true}))
        .await;
    let to_ms = m.s.anon("GET", "/oauth/m365/adminconsent").send().await;
    assert_eq!(to_ms.status, 303);
    let back = m.back_from(&to_ms.header("location").unwrap()).await;
    assert!(
        back.starts_with("/oauth/m365/adminconsent/callback?admin_consent=True"),
        "{back}"
    );
    let done = m.s.anon("GET", &back).send().await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(
        m.ok(&["provider", "status"])
            .contains(&format!("admin consent given by tenants: {TENANT}"))
    );
    // A forged or replayed answer is not recorded.
    let again = m.s.anon("GET", &back).send().await;
    assert_eq!(again.status, 400);
    // Now the user connects.
    let (status, text) = m.authorize(ACCOUNT, false).await;
    assert_eq!(status, 200, "{text}");
    // The other sign-in errors, each with its fix.
    let cases = [
        (
            json!({"id": TENANT, "admin_consented": true, "assignment_required": true}),
            "assigned",
        ),
        (
            json!({"id": TENANT, "admin_consented": true, "conditional_access_block": true}),
            "Conditional Access",
        ),
        (
            json!({"id": TENANT, "admin_consented": false, "user_consent_allowed": false, "consent_error": 90094}),
            "/oauth/m365/adminconsent",
        ),
        (
            json!({"id": TENANT, "admin_consented": false, "user_consent_allowed": false, "consent_error": 90093}),
            "policy",
        ),
    ];
    m.control(
        "/_fake/user",
        json!({"account": ACCOUNT, "assigned": false}),
    )
    .await;
    for (tenant, fix) in cases {
        m.control("/_fake/tenant", tenant).await;
        let (status, text) = m.authorize(ACCOUNT, false).await;
        assert_eq!(status, 400);
        assert!(text.contains(fix), "{fix}: {text}");
    }
    m.control(
        "/_fake/tenant",
        json!({"id": TENANT, "admin_consented": true}),
    )
    .await;
    let (_, text) = m.authorize(ACCOUNT, true).await;
    assert!(text.contains("declined"), "{text}");
}

/// A server for one organisation whose admin has not consented shows the admin path before
/// the user is sent to a sign-in that can only fail.
#[tokio::test]
async fn a_single_tenant_server_asks_for_admin_consent_first() {
    let m = M::start_for("fabrikam.example").await;
    m.ok(&["provider", "enable", "m365"]);
    let r = m.s.req("GET", "/oauth/m365/start").send().await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("/oauth/m365/adminconsent"),
        "{}",
        r.text()
    );
    let (ok, _, err) = m.cli(&["source", "add", "m365", "--user", "admin"]);
    assert!(!ok && err.contains("administrator"), "{err}");
    m.control(
        "/_fake/admin",
        json!({"tenant": "fabrikam.example", "is_admin": true}),
    )
    .await;
    let to_ms = m.s.anon("GET", "/oauth/m365/adminconsent").send().await;
    let loc = to_ms.header("location").unwrap();
    assert!(
        loc.contains("/fabrikam.example/v2.0/adminconsent?"),
        "{loc}"
    );
    let back = m.back_from(&to_ms.header("location").unwrap()).await;
    assert_eq!(m.s.anon("GET", &back).send().await.status, 200);
    let r = m.s.req("GET", "/oauth/m365/start").send().await;
    assert_eq!(r.status, 303, "consented: the sign-in goes ahead");
}

/// §5 #1: 2,500 contacts through pages of 7, every third page empty, each row twice and in
/// reverse order: the exact set, and a second run that changes nothing.
#[tokio::test]
async fn initial_sync_of_2500_contacts_through_tiny_empty_duplicated_pages() {
    let m = M::start().await;
    m.seed(many("P", 0..2500)).await;
    m.control(
        "/_fake/config",
        json!({"empty_every": 3, "duplicate_rows": true, "reverse_rows": true}),
    )
    .await;
    m.connect().await;
    let out = m.run();
    assert_eq!(count(&out, "create"), 2500, "{out}");
    let synced = sync_book(&m.s, "").await;
    assert_eq!(synced.present.len(), 2500);
    let log = m.log().await;
    let pages = log
        .iter()
        .filter(|e| e["path"].as_str().unwrap().contains("/contacts/delta"))
        .count();
    assert!(pages > 5000 / 7, "{pages} pages");
    assert!(
        log.iter()
            .filter(|e| e["path"].as_str().unwrap().starts_with("/v1.0/"))
            .all(|e| e["status"] == 200)
    );
    assert!(
        log.iter()
            .all(|e| e["in_flight"].as_u64().unwrap_or(0) <= 4),
        "never more than 4 in flight"
    );
    m.clear_log().await;
    m.run();
    assert!(sync_book(&m.s, &synced.token).await.present.is_empty());
    assert!(m.writes().await.is_empty());
}

/// §5 #2, #3 and echo suppression: edits to different fields on both sides are both kept; the
/// same field edited on both sides goes to Kith (the default owner); our own PATCH coming back
/// in the next delta, with a recomputed displayName and fileAs, is not a change.
#[tokio::test]
async fn edits_on_both_sides_merge_and_our_own_writes_do_not_echo() {
    let m = M::start().await;
    let ids = m
        .seed(vec![json!({
            "givenName": "Ada", "surname": "Lovelace",
            "emailAddresses": [{"address": "ada@analytical.example", "name": "Ada"}],
            "companyName": "Analytical Engines", "jobTitle": "Engineer"
        })])
        .await;
    m.connect().await;
    m.two_way();
    m.run();
    let (name, etag, text) = m.card_named("Ada Lovelace").await;
    let edited = text
        .replace("TITLE:Engineer", "TITLE:Chief Engineer")
        .replace("END:VCARD", "NOTE:met at the exhibition\r\nEND:VCARD");
    m.put(&name, &etag, &edited).await;
    m.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "id": ids[0], "set": {"companyName": "Babbage & Co", "jobTitle": "Lead Engineer"}}),
    )
    .await;
    let out = m.run();
    assert!(out.contains("conflict"), "{out}");
    let (_, _, text) = m.card_named("Ada Lovelace").await;
    assert!(
        text.contains("met at the exhibition") && text.contains("Babbage & Co"),
        "{text}"
    );
    assert!(text.contains("TITLE:Chief Engineer"), "{text}");
    let c = m.contacts().await;
    let ada = find(&c, "Ada");
    assert_eq!(ada["personalNotes"], "met at the exhibition");
    assert_eq!(ada["jobTitle"], "Chief Engineer");
    assert_eq!(ada["companyName"], "Babbage & Co");
    // The PATCH carried only what changed, with If-Match.
    let log = m.log().await;
    let patch = log.iter().find(|e| e["method"] == "PATCH").unwrap();
    assert_eq!(patch["status"], 200);
    m.clear_log().await;
    m.run();
    m.run();
    m.run();
    assert!(
        m.writes().await.is_empty(),
        "our own write did not come back as a change"
    );
}

/// §5 #4, #5 and #6: a delete in Outlook unlinks (delete protection); a delete in Kith with
/// source deletes blocked leaves Outlook alone; a mass delete trips the guard.
#[tokio::test]
async fn deletes_are_protected_and_a_mass_delete_trips_the_guard() {
    let m = M::start().await;
    let ids = m.seed(many("D", 0..20)).await;
    m.connect().await;
    m.two_way();
    m.rules(&["--block", "source:delete"]);
    m.run();
    assert_eq!(m.cards().await.len(), 20);
    m.control("/_fake/delete", json!({"account": ACCOUNT, "id": ids[0]}))
        .await;
    let out = m.run();
    assert_eq!(count(&out, "unlink"), 1, "{out}");
    assert_eq!(m.cards().await.len(), 20);
    m.delete_card("D01 Doe").await;
    m.clear_log().await;
    let out = m.run();
    assert!(m.writes().await.is_empty(), "{out}");
    assert_eq!(m.contacts().await.len(), 19);
    m.control(
        "/_fake/delete",
        json!({"account": ACCOUNT, "ids": ids[2..10]}),
    )
    .await;
    let (ok, out, err) = m.cli(&["sync", "run", "m365", "--user", "admin"]);
    assert!(ok, "{err}");
    assert!(out.contains("paused"), "{out}");
    assert_eq!(m.cards().await.len(), 19, "nothing applied");
}

/// §5 #7 and #8: an expired delta token (410) means a full round that deletes nothing; an
/// emptied folder trips the empty-side guard.
#[tokio::test]
async fn an_expired_delta_token_resyncs_without_deletes_and_an_empty_side_trips_the_guard() {
    let m = M::start().await;
    let ids = m.seed(many("E", 0..6)).await;
    m.connect().await;
    m.run();
    m.control("/_fake/delete", json!({"account": ACCOUNT, "id": ids[0]}))
        .await;
    m.control("/_fake/clock", json!({"advance_secs": 31 * 24 * 3600}))
        .await;
    let out = m.run();
    assert_eq!(count(&out, "unlink") + count(&out, "delete"), 0, "{out}");
    assert_eq!(m.cards().await.len(), 6);
    assert!(
        m.log().await.iter().any(|e| e["status"] == 410),
        "the expired token was met"
    );
    m.control(
        "/_fake/delete",
        json!({"account": ACCOUNT, "ids": ids[1..]}),
    )
    .await;
    m.control("/_fake/clock", json!({"advance_secs": 31 * 24 * 3600}))
        .await;
    let (_, out, err) = m.cli(&["sync", "run", "m365", "--user", "admin"]);
    assert!(format!("{out}{err}").contains("no contacts"), "{out}{err}");
    assert_eq!(m.cards().await.len(), 6);
}

/// §5 #9: a create whose answer was lost is found by the extended property Kith stored, and
/// linked, never created twice.
#[tokio::test]
async fn a_lost_create_response_never_duplicates() {
    let m = M::start().await;
    m.connect().await;
    m.two_way();
    m.run();
    m.s.req("PUT", &format!("{BOOK}grace.vcf"))
        .vcard(&card("grace-1", "Grace Hopper"))
        .send()
        .await;
    m.control("/_fake/config", json!({"lose_creates": 1})).await;
    m.run();
    assert_eq!(m.contacts().await.len(), 1);
    m.run();
    m.run();
    let c = m.contacts().await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["marker"], "grace.vcf");
    let creates = m
        .writes()
        .await
        .iter()
        .filter(|w| w.starts_with("POST"))
        .count();
    assert_eq!(creates, 1);
    let show = m.ok(&["source", "show", "m365", "--user", "admin"]);
    assert!(!show.contains("pending"), "{show}");
}

/// Stale change keys: an Outlook edit between plan and apply (412 on If-Match), and a 412
/// with a current key: re-read, merge, retry, converge.
#[tokio::test]
async fn stale_change_keys_are_merged_and_retried() {
    let m = M::start().await;
    let ids = m
        .seed(vec![contact("Alan", "Turing", "alan@example.net")])
        .await;
    m.connect().await;
    m.two_way();
    m.run();
    let (name, etag, text) = m.card_named("Alan Turing").await;
    m.put(
        &name,
        &etag,
        &text.replace("END:VCARD", "NOTE:codebreaker\r\nEND:VCARD"),
    )
    .await;
    m.clear_log().await;
    let plan = m.ok(&["sync", "plan", "m365", "--user", "admin"]);
    assert!(plan.contains("source-update in the source:"), "{plan}");
    assert!(m.writes().await.is_empty(), "a preview writes nothing");
    let run: String = plan
        .split_whitespace()
        .skip_while(|w| *w != "Run")
        .nth(1)
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()).to_string())
        .unwrap();
    m.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "id": ids[0], "set": {"nickName": "Prof"}}),
    )
    .await;
    m.control("/_fake/config", json!({"flaky_stale": 1})).await;
    m.ok(&["sync", "apply", &run]);
    let c = m.contacts().await;
    let alan = find(&c, "Alan");
    assert_eq!(alan["personalNotes"], "codebreaker");
    assert_eq!(
        alan["nickName"], "Prof",
        "Outlook's edit survived the merge"
    );
    let stale = m.log().await.iter().filter(|e| e["status"] == 412).count();
    assert!(stale >= 2, "{stale}");
}

/// §5 #14: 429 with `Retry-After: 30`: no request to that mailbox before T+30 s on the fake's
/// (virtual) clock, and the run completes.
#[tokio::test]
async fn retry_after_is_honoured_on_the_virtual_clock() {
    let m = M::start().await;
    m.seed(vec![contact("Rosalind", "Franklin", "rf@example.net")])
        .await;
    m.connect().await;
    m.control("/_fake/config", json!({"storm": 2, "retry_after_secs": 30}))
        .await;
    m.clear_log().await;
    m.run();
    assert_eq!(m.cards().await.len(), 1);
    let log = m.log().await;
    let graph: Vec<&Value> = log
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("/v1.0/"))
        .collect();
    let throttled: Vec<usize> = (0..graph.len())
        .filter(|i| graph[*i]["status"] == 429)
        .collect();
    assert_eq!(throttled.len(), 2);
    for i in throttled {
        let gap = graph[i + 1]["vt"].as_i64().unwrap() - graph[i]["vt"].as_i64().unwrap();
        assert!(
            gap >= 30_000,
            "the next request came {gap} ms (virtual) after the 429"
        );
    }
}

/// §5 #15: a contact moved between tracked folders, with ImmutableId and without (its id
/// changes): the same card, no delete, no duplicate.
#[tokio::test]
async fn folder_moves_keep_the_same_card_with_and_without_immutable_ids() {
    for ignore_immutable in [false, true] {
        let m = M::start().await;
        let work = m
            .control(
                "/_fake/folders",
                json!({"account": ACCOUNT, "name": "Work"}),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let ids = m
            .seed(vec![contact("Grace", "Hopper", "grace@navy.example")])
            .await;
        m.seed_in(&work, vec![contact("Alan", "Kay", "alan@parc.example")])
            .await;
        m.control(
            "/_fake/config",
            json!({"ignore_immutable": ignore_immutable}),
        )
        .await;
        m.connect().await;
        m.rules(&[
            "--folder",
            "default",
            "--folder",
            "Work",
            "--delete-protection",
            "off",
        ]);
        m.run();
        assert_eq!(m.cards().await.len(), 2);
        let (name, etag, _) = m.card_named("Grace Hopper").await;
        let before = sync_book(&m.s, "").await;
        m.control(
            "/_fake/move",
            json!({"account": ACCOUNT, "id": ids[0], "folder": work}),
        )
        .await;
        let out = m.run();
        assert_eq!(count(&out, "delete"), 0, "{out}");
        assert_eq!(count(&out, "create"), 0, "{out}");
        let cards = m.cards().await;
        assert_eq!(
            cards.len(),
            2,
            "immutable ignored: {ignore_immutable}: {out}"
        );
        assert_eq!(cards[&name].0, etag, "the same card, untouched");
        let after = sync_book(&m.s, &before.token).await;
        assert!(after.removed.is_empty());
        // And it still syncs from its new folder.
        let id = m
            .contacts()
            .await
            .iter()
            .find(|c| c["givenName"] == "Grace")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        m.control(
            "/_fake/edit",
            json!({"account": ACCOUNT, "id": id, "set": {"jobTitle": "Rear Admiral"}}),
        )
        .await;
        m.run();
        assert!(
            m.card_named("Grace Hopper")
                .await
                .2
                .contains("TITLE:Rear Admiral")
        );
    }
}

/// §5 #13, birthdays and slots: a no-year birthday goes out as 1604 and comes back without a
/// year; Outlook's birthdays (local midnight, stored in UTC) are read as the right date; five
/// emails on a card fit Outlook's three slots without an update loop, and the card keeps five.
#[tokio::test]
async fn birthdays_keep_their_day_and_no_year_and_slots_do_not_loop() {
    let m = M::start().await;
    m.seed(vec![json!({
        "givenName": "Mary", "surname": "Somerville",
        "birthday": "1780-12-25T23:00:00Z"
    })])
    .await;
    m.connect().await;
    m.two_way();
    m.run();
    let (name, etag, text) = m.card_named("Mary Somerville").await;
    assert!(
        text.contains("BDAY:17801226") || text.contains("BDAY:1780-12-26"),
        "{text}"
    );
    let mut edited = text.clone();
    for l in text.lines().filter(|l| l.starts_with("BDAY")) {
        edited = edited.replace(l, "BDAY:--1226");
    }
    let emails: String = (0..5)
        .map(|i| format!("EMAIL:m{i}@example.org\r\n"))
        .collect();
    edited = edited.replace("END:VCARD", &format!("{emails}END:VCARD"));
    m.put(&name, &etag, &edited).await;
    m.run();
    let c = m.contacts().await;
    let mary = find(&c, "Mary");
    assert!(
        mary["birthday"].as_str().unwrap().starts_with("1604-12-2"),
        "{mary}"
    );
    assert_eq!(mary["emailAddresses"].as_array().unwrap().len(), 3);
    m.clear_log().await;
    m.run();
    m.run();
    assert!(
        m.writes().await.is_empty(),
        "no loop over the no-year birthday or the slots"
    );
    let (_, _, text) = m.card_named("Mary Somerville").await;
    assert!(text.contains("BDAY:--1226"), "{text}");
    assert_eq!(
        text.matches("EMAIL").count(),
        5,
        "the card keeps every email"
    );
}

/// §5 #17 and token rotation: the refresh token rotates on every use and the newest is kept
/// (the old one is revoked here); access revoked mid-round stops the run with needs-reauth,
/// keeps the contacts and the cursor.
#[tokio::test]
async fn rotated_tokens_are_kept_and_revocation_mid_run_asks_to_reconnect() {
    let m = M::start().await;
    m.seed(many("R", 0..10)).await;
    m.control("/_fake/config", json!({"revoke_old_refresh": true}))
        .await;
    m.connect().await;
    m.run();
    for _ in 0..2 {
        // Access tokens expire; each run refreshes with the newest refresh token.
        m.control("/_fake/clock", json!({"advance_secs": 7200}))
            .await;
        m.run();
    }
    let tokens = m.get(&format!("/_fake/tokens?account={ACCOUNT}")).await;
    assert_eq!(
        tokens["refresh"].as_array().unwrap().len(),
        3,
        "two rotations"
    );
    m.seed(many("R", 10..25)).await;
    m.control("/_fake/config", json!({"revoke_after": 2})).await;
    let (ok, _, err) = m.cli(&["sync", "run", "m365", "--user", "admin"]);
    assert!(!ok);
    assert!(
        err.contains("password reset") || err.contains("connect"),
        "{err}"
    );
    assert_eq!(m.cards().await.len(), 10);
    assert!(
        m.ok(&["source", "list", "--user", "admin"])
            .contains("needs-reauth")
    );
    let (status, text) = m.authorize(ACCOUNT, false).await;
    assert_eq!(status, 200, "{text}");
    m.run();
    assert_eq!(m.cards().await.len(), 25, "resumed from the same cursor");
}

/// A contact edited over CardDAV reaches Graph in the next run, and an Outlook edit reaches
/// the CardDAV client through sync-collection.
#[tokio::test]
async fn a_carddav_edit_reaches_graph_and_an_outlook_edit_reaches_the_client() {
    let m = M::start().await;
    let ids = m
        .seed(vec![json!({
            "givenName": "Marie", "surname": "Curie",
            "emailAddresses": [{"address": "marie@radium.example", "name": "Marie"}],
            "businessPhones": ["+33 1 44 27 00 00"]
        })])
        .await;
    m.connect().await;
    m.two_way();
    m.run();
    let first = sync_book(&m.s, "").await;
    let (name, etag, text) = m.card_named("Marie Curie").await;
    m.put(
        &name,
        &etag,
        &text.replace(
            "END:VCARD",
            "TEL;TYPE=CELL:+33 6 12 34 56 78\r\nNOTE:Nobel 1903\r\nEND:VCARD",
        ),
    )
    .await;
    m.run();
    let c = m.contacts().await;
    let marie = find(&c, "Marie");
    assert_eq!(marie["personalNotes"], "Nobel 1903");
    assert_eq!(marie["mobilePhone"], "+33 6 12 34 56 78");
    assert_eq!(marie["businessPhones"][0], "+33 1 44 27 00 00");
    let mid = sync_book(&m.s, &first.token).await;
    // Updated contacts now come as partial rows: Kith reads the whole contact again.
    m.control("/_fake/config", json!({"partial_rows": true}))
        .await;
    m.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "id": ids[0], "set": {"companyName": "Institut du Radium", "jobTitle": "Director"}}),
    )
    .await;
    m.run();
    let later = sync_book(&m.s, &mid.token).await;
    assert_eq!(later.present.len(), 1);
    let (_, _, text) = m.card_named("Marie Curie").await;
    assert!(
        text.contains("ORG:Institut du Radium") && text.contains("TITLE:Director"),
        "{text}"
    );
}

/// The identity platform's rules, as Kith meets them: a refresh token unused for 90 days dies
/// (AADSTS700082: needs-reauth, contacts kept); an authorization code is used once
/// (AADSTS54005) and checked against its PKCE challenge; 503s are retried.
#[tokio::test]
async fn inactivity_single_use_codes_and_503s() {
    let m = M::start().await;
    m.seed(vec![
        json!({"givenName": "Emmy", "surname": "Noether", "categories": ["VIP", "Algebra"]}),
    ])
    .await;
    m.connect().await;
    m.control("/_fake/config", json!({"unavailable": 2})).await;
    m.run();
    let (_, _, text) = m.card_named("Emmy Noether").await;
    assert!(
        text.contains("CATEGORIES:") && text.contains("VIP") && text.contains("Algebra"),
        "{text}"
    );
    assert_eq!(
        m.log().await.iter().filter(|e| e["status"] == 503).count(),
        2,
        "retried"
    );
    m.control("/_fake/clock", json!({"advance_secs": 91 * 24 * 3600}))
        .await;
    let (ok, _, err) = m.cli(&["sync", "run", "m365", "--user", "admin"]);
    assert!(!ok);
    assert!(err.contains("90 days") && err.contains("kept"), "{err}");
    assert_eq!(m.cards().await.len(), 1);
    // A code replayed from the browser's history is refused, and says so.
    m.control("/_fake/signin", json!({"account": ACCOUNT}))
        .await;
    let (path, cookie) = m.through("/oauth/m365/start?source=m365").await;
    let first =
        m.s.anon("GET", &path)
            .header("cookie", &cookie)
            .send()
            .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let code = path
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let replay = m
        .http
        .post(format!("{}/common/oauth2/v2.0/token", m.fake))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2Fkith.test%2Foauth%2Fm365%2Fcallback&code_verifier=x&client_id=11111111-2222-3333-4444-555555555555&client_secret=fake-m365-secret"))
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&replay.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error_codes"][0], 54005, "{body}");
    m.run();
}

/// The CLI names the provider it connects, and the admin page shows the consent link as it is.
#[tokio::test]
async fn connecting_names_microsoft_and_the_admin_page_shows_the_consent_link() {
    let m = M::start().await;
    m.ok(&["provider", "enable", "m365"]);
    let out = m.ok(&["source", "add", "m365", "--user", "admin"]);
    assert!(
        out.contains("connect a Microsoft 365 account")
            && out.contains("When Microsoft 365 sends you back")
            && !out.contains("Google"),
        "{out}"
    );
    let cookie = m.s.web_session("admin", ADMIN_PW).await;
    let page =
        m.s.anon("GET", "/admin")
            .header("cookie", &cookie)
            .send()
            .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text()
            .contains("<code id=\"consent-url\">http://kith.test/oauth/m365/adminconsent</code>"),
        "{}",
        page.text()
    );
}

/// Creates go to the folder the rules name, which must be one of the synced folders.
#[tokio::test]
async fn creates_go_to_the_target_folder() {
    let m = M::start().await;
    let clients = m
        .control(
            "/_fake/folders",
            json!({"account": ACCOUNT, "name": "Clients"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    m.seed(vec![contact("Grace", "Hopper", "grace@navy.example")])
        .await;
    m.connect().await;
    m.two_way();
    let (ok, _, err) = m.cli(&[
        "source", "rules", "m365", "--user", "admin", "--target", "Clients",
    ]);
    assert!(
        !ok && err.contains("not one of the synced folders"),
        "{err}"
    );
    m.rules(&[
        "--folder", "default", "--folder", "Clients", "--target", "Clients",
    ]);
    let show = m.ok(&["source", "show", "m365", "--user", "admin"]);
    assert!(show.contains("creates go to      Clients"), "{show}");
    m.run();
    m.s.req("PUT", &format!("{BOOK}new.vcf"))
        .vcard(b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:new\r\nFN:Alan Kay\r\nN:Kay;Alan;;;\r\nEMAIL:alan@parc.example\r\nEND:VCARD\r\n")
        .send()
        .await;
    m.run();
    let all = m.contacts().await;
    let alan = all
        .iter()
        .find(|c| c["givenName"] == "Alan")
        .expect("created");
    assert_eq!(alan["folder"], clients.as_str(), "{alan}");
    let grace = all.iter().find(|c| c["givenName"] == "Grace").unwrap();
    assert_eq!(grace["folder"], "default");
}
