//! The Google connector end to end: a real `kith serve` and the real CLI against the fake
//! Google (`kith-fakes`), which behaves as connectors.md §2.7/§5 describe. Each test is one of
//! the §5 scenarios (numbered as there) or part of the authorization flow.

use crate::common::upstream::*;
use crate::common::*;
use serde_json::{Value, json};

const ACCOUNT: &str = "ada@example.org";

struct G(Upstream);

impl std::ops::Deref for G {
    type Target = Upstream;
    fn deref(&self) -> &Upstream {
        &self.0
    }
}

fn config_text(fake: &str, extra: &str) -> String {
    format!(
        r#"[providers.google]
client_id = "kith-test.apps.googleusercontent.com"
client_secret = "fake-secret"
redirect_base = "http://kith.test"
auth_url = "{fake}/o/oauth2/v2/auth"
token_url = "{fake}/token"
revoke_url = "{fake}/revoke"
api_url = "{fake}"
page_size = 7
retry_base = "40ms"
{extra}
"#
    )
}

impl G {
    async fn start() -> G {
        Self::start_with("").await
    }

    async fn start_with(extra: &str) -> G {
        Self::start_on(extra, None).await
    }

    async fn start_on(extra: &str, db_url: Option<String>) -> G {
        let (fake, _) = kith_fakes::google::spawn();
        let config = config_text(&fake, extra);
        G(Upstream::start(fake, config, db_url, "google"))
    }

    async fn seed(&self, people: Vec<Value>) -> Vec<String> {
        let v = self
            .control(
                "/_fake/people",
                json!({"account": ACCOUNT, "people": people}),
            )
            .await;
        v["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect()
    }

    async fn people(&self) -> Vec<Value> {
        self.get(&format!("/_fake/people?account={ACCOUNT}"))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// The People API writes in the fake's log.
    async fn writes(&self) -> Vec<String> {
        self.writes_under("/v1/people").await
    }

    async fn through_google(&self) -> (String, String) {
        self.through("/oauth/google/start?source=google").await
    }

    /// The whole authorization as a browser makes it; the callback page's status and text.
    async fn authorize(&self, consent: Value) -> (u16, String) {
        self.control("/_fake/consent", consent).await;
        let (path, cookie) = self.through_google().await;
        let cb = self
            .s
            .anon("GET", &path)
            .header("cookie", &cookie)
            .send()
            .await;
        (cb.status.as_u16(), cb.text())
    }

    /// Enables Google and connects ACCOUNT as source "google".
    async fn connect(&self) {
        self.ok(&["provider", "enable", "google"]);
        let (status, text) = self.authorize(json!({"account": ACCOUNT})).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("Google connected"), "{text}");
    }
}

/// People `{prefix}{i}` Doe with emails `{prefix}{i}@example.net` (lowercase).
fn many(prefix: &str, range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| {
            let given = format!("{prefix}{i:02}");
            let email = format!("{}{i}@example.net", prefix.to_lowercase());
            person(&given, "Doe", &email)
        })
        .collect()
}

fn person(given: &str, family: &str, email: &str) -> Value {
    json!({
        "names": [{"givenName": given, "familyName": family}],
        "emailAddresses": [{"value": email, "type": "home"}]
    })
}

fn find<'a>(people: &'a [Value], given: &str) -> &'a Value {
    people
        .iter()
        .find(|p| p["names"][0]["givenName"] == given)
        .unwrap_or_else(|| panic!("no {given} at Google"))
}

#[tokio::test]
async fn a_provider_must_be_enabled_and_every_oauth_error_names_its_fix() {
    let g = G::start().await;
    // Not enabled yet: the user is told who can enable it.
    let r = g.s.req("GET", "/oauth/google/start").send().await;
    assert_eq!(r.status, 403);
    assert!(
        r.text()
            .contains("A Kith admin enables it on the admin page"),
        "{}",
        r.text()
    );
    let (ok, _, err) = g.cli(&["source", "add", "google", "--user", "admin"]);
    assert!(!ok && err.contains("not enabled"), "{err}");
    g.ok(&["provider", "enable", "google"]);
    assert!(g.ok(&["provider", "status"]).contains("google: enabled"));

    // §5 #18: the Workspace admin has not trusted the client.
    let (status, text) = g
        .authorize(json!({"account": ACCOUNT, "error": "admin_policy_enforced"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        text.contains("kith-test.apps.googleusercontent.com") && text.contains("Trusted"),
        "{text}"
    );
    let (_, text) = g
        .authorize(json!({"account": ACCOUNT, "error": "org_internal"}))
        .await;
    assert!(text.contains("Internal"), "{text}");
    let (_, text) = g
        .authorize(json!({"account": ACCOUNT, "error": "access_denied"}))
        .await;
    assert!(text.contains("Allow"), "{text}");
    assert!(
        !g.log().await.iter().any(|e| e["path"] == "/token"),
        "a refused consent exchanges no code"
    );
    // The user unticked contacts.
    let (status, text) = g
        .authorize(json!({"account": ACCOUNT, "deny_contacts": true}))
        .await;
    assert_eq!(status, 400);
    assert!(text.contains("Contacts box was unticked"), "{text}");
    assert!(
        !g.ok(&["source", "list", "--user", "admin"])
            .contains("google")
    );
    // The refused connection gave its grant back: no live token is left at Google.
    let tokens = g.get(&format!("/_fake/tokens?account={ACCOUNT}")).await;
    assert_eq!(tokens["live"], 0, "{tokens}");

    // A good consent connects; the state and code are single use.
    g.control("/_fake/consent", json!({"account": ACCOUNT}))
        .await;
    let (path, cookie) = g.through_google().await;
    // From another browser (no cookie): refused, and the state is spent.
    let other = g.s.anon("GET", &path).send().await;
    assert_eq!(other.status, 400);
    assert!(other.text().contains("another browser"), "{}", other.text());
    let again =
        g.s.anon("GET", &path)
            .header("cookie", &cookie)
            .send()
            .await;
    assert!(again.text().contains("already used"), "{}", again.text());
    let (status, text) = g.authorize(json!({"account": ACCOUNT})).await;
    assert_eq!(status, 200, "{text}");
    let list = g.ok(&["source", "list", "--user", "admin"]);
    assert!(list.contains("google"), "{list}");

    // Tokens are sealed at rest: neither token is anywhere in the database file.
    let tokens = g.get(&format!("/_fake/tokens?account={ACCOUNT}")).await;
    if !postgres() {
        let db = std::fs::read(g.s.dir.path().join("kith.db")).unwrap();
        let wal = std::fs::read(g.s.dir.path().join("kith.db-wal")).unwrap_or_default();
        for t in tokens["refresh"].as_array().unwrap() {
            let t = t.as_str().unwrap().as_bytes();
            assert!(!db.windows(t.len()).any(|w| w == t) && !wal.windows(t.len()).any(|w| w == t));
        }
        let key = std::fs::metadata(g.s.dir.path().join("token.key")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key.permissions().mode() & 0o077, 0, "token.key is private");
    }
    // The CLI-only setup prints a URL to open.
    let out = g.ok(&[
        "source", "add", "google", "--user", "admin", "--name", "work",
    ]);
    assert!(
        out.contains(&format!("{}/o/oauth2/v2/auth?", g.fake))
            && out.contains("code_challenge_method=S256")
            && out.contains("access_type=offline")
            && out.contains("prompt=consent"),
        "{out}"
    );
}

/// §5 #1: 2,500 contacts, pages of 7, every third page empty: the exact set, one cursor, and
/// a second run that writes and reads nothing new.
#[tokio::test]
async fn initial_sync_of_2500_contacts_through_tiny_and_empty_pages() {
    let g = G::start().await;
    let people: Vec<Value> = many("P", 0..2500);
    g.seed(people).await;
    g.control("/_fake/config", json!({"empty_every": 3})).await;
    g.connect().await;
    let out = g.run();
    assert!(out.contains("applied"), "{out}");
    let synced = sync_book(&g.s, "").await;
    assert_eq!(synced.present.len(), 2500);
    let log = g.log().await;
    let pages = log
        .iter()
        .filter(|e| e["path"] == "/v1/people/me/connections")
        .count();
    // 358 full pages of 7 plus an empty one after every two.
    assert!(
        pages >= 2500_usize.div_ceil(7) + 2500 / 7 / 2 - 1,
        "{pages} pages"
    );
    assert!(
        log.iter()
            .filter(|e| e["path"].as_str().unwrap().starts_with("/v1/"))
            .all(|e| e["status"] == 200),
        "no request failed"
    );
    g.clear_log().await;
    let again = g.run();
    assert!(
        sync_book(&g.s, &synced.token).await.present.is_empty(),
        "nothing changed: {again}"
    );
    assert!(g.writes().await.is_empty());
}

/// §5 #2 and #3: edits to different fields on both sides are both kept; the same field edited
/// on both sides is a conflict Kith's value wins (the default field owner), every time.
#[tokio::test]
async fn edits_on_both_sides_merge_and_same_field_conflicts_resolve_the_same_way() {
    let g = G::start().await;
    let ids = g
        .seed(vec![json!({
            "names": [{"givenName": "Ada", "familyName": "Lovelace"}],
            "emailAddresses": [{"value": "ada@analytical.example"}],
            "organizations": [{"name": "Analytical Engines", "title": "Engineer"}]
        })])
        .await;
    g.connect().await;
    g.two_way();
    g.run();
    let (name, etag, text) = g.card_named("Ada Lovelace").await;
    // Kith side: a note and a new title; Google side: the company and the title.
    let edited = text
        .replace("TITLE:Engineer", "TITLE:Chief Engineer")
        .replace("END:VCARD", "NOTE:met at the exhibition\r\nEND:VCARD");
    g.put(&name, &etag, &edited).await;
    g.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "resourceName": ids[0], "set": {"organizations": [{"name": "Babbage & Co", "title": "Lead Engineer"}]}}),
    )
    .await;
    let out = g.run();
    assert!(out.contains("conflict"), "{out}");
    let (_, _, text) = g.card_named("Ada Lovelace").await;
    assert!(
        text.contains("met at the exhibition"),
        "Kith's note kept: {text}"
    );
    assert!(
        text.contains("Babbage & Co"),
        "Google's company kept: {text}"
    );
    assert!(
        text.contains("TITLE:Chief Engineer"),
        "the conflict went to Kith: {text}"
    );
    let people = g.people().await;
    let p = find(&people, "Ada");
    assert_eq!(p["biographies"][0]["value"], "met at the exhibition");
    assert_eq!(p["organizations"][0]["name"], "Babbage & Co");
    assert_eq!(p["organizations"][0]["title"], "Chief Engineer");
    // Converged: another run writes nothing.
    g.clear_log().await;
    g.run();
    assert!(g.writes().await.is_empty());
}

/// §5 #4, #5 and #6: deletes under delete protection, a blocked delete, and the mass-delete
/// guard.
#[tokio::test]
async fn deletes_are_protected_and_a_mass_delete_trips_the_guard() {
    let g = G::start().await;
    let people: Vec<Value> = many("D", 0..20);
    let ids = g.seed(people).await;
    g.connect().await;
    g.two_way();
    g.rules(&["--block", "source:delete"]);
    g.run();
    assert_eq!(g.cards().await.len(), 20);
    // #4: deleted in Google → the card stays (unlinked).
    g.control(
        "/_fake/delete",
        json!({"account": ACCOUNT, "resourceName": ids[0]}),
    )
    .await;
    let out = g.run();
    assert_eq!(count(&out, "unlink"), 1, "{out}");
    assert_eq!(
        g.cards().await.len(),
        20,
        "delete protection keeps the card"
    );
    // #5: deleted in Kith with source deletes blocked → Google untouched.
    g.delete_card("D01 Doe").await;
    g.clear_log().await;
    let out = g.run();
    assert!(g.writes().await.is_empty(), "{out}");
    assert_eq!(g.people().await.len(), 19);
    // #6: 8 of 18 linked deleted at Google → paused, nothing applied.
    g.control(
        "/_fake/delete",
        json!({"account": ACCOUNT, "resourceNames": ids[2..10]}),
    )
    .await;
    let (ok, out, err) = g.cli(&["sync", "run", "google", "--user", "admin"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("paused") || err.contains("guard"),
        "{out}{err}"
    );
    let events = g.ok(&["sync", "events", "--user", "admin"]);
    assert!(events.contains("guard"), "{events}");
}

/// §5 #7 and #8: an expired sync token means a full resync that deletes nothing; an emptied
/// account trips the empty-side guard.
#[tokio::test]
async fn token_expiry_resyncs_without_deletes_and_an_empty_side_trips_the_guard() {
    let g = G::start().await;
    let ids = g.seed(many("E", 0..6)).await;
    g.connect().await;
    g.run();
    // A deletion made just before the token expires is never reported: no delete is inferred.
    g.control(
        "/_fake/delete",
        json!({"account": ACCOUNT, "resourceName": ids[0]}),
    )
    .await;
    g.control("/_fake/clock", json!({"advance_secs": 8 * 24 * 3600}))
        .await;
    // Access tokens expired too: the connector refreshes.
    let out = g.run();
    assert_eq!(count(&out, "unlink") + count(&out, "delete"), 0, "{out}");
    assert_eq!(g.cards().await.len(), 6);
    let log = g.log().await;
    assert!(
        log.iter()
            .any(|e| e["status"] == 400 && e["path"] == "/v1/people/me/connections"),
        "the expired token was met"
    );
    // #8: everything gone at Google and the feed lost: an empty listing propagates nothing.
    g.control(
        "/_fake/delete",
        json!({"account": ACCOUNT, "resourceNames": ids[1..]}),
    )
    .await;
    g.control("/_fake/clock", json!({"advance_secs": 8 * 24 * 3600}))
        .await;
    let (_, out, err) = g.cli(&["sync", "run", "google", "--user", "admin"]);
    assert!(format!("{out}{err}").contains("no contacts"), "{out}{err}");
    assert_eq!(g.cards().await.len(), 6);
}

/// §5 #9: a create whose answer was lost: held as pending (no second create while Google's
/// listing lags), then linked by the marker, never duplicated.
#[tokio::test]
async fn a_lost_create_response_never_duplicates() {
    let g = G::start().await;
    g.connect().await;
    g.two_way();
    g.run();
    g.s.req("PUT", &format!("{BOOK}grace.vcf"))
        .vcard(&card("grace-1", "Grace Hopper"))
        .send()
        .await;
    g.control(
        "/_fake/config",
        json!({"lose_creates": 1, "propagation_secs": 300}),
    )
    .await;
    let out = g.run();
    assert!(out.contains("source-create"), "{out}");
    assert_eq!(
        g.people().await.len(),
        1,
        "created at Google although the answer was lost"
    );
    // Google's listing does not show it yet: still no second create.
    g.run();
    g.control("/_fake/clock", json!({"advance_secs": 301}))
        .await;
    g.run();
    g.run();
    let people = g.people().await;
    assert_eq!(people.len(), 1, "{people:?}");
    let creates = g
        .writes()
        .await
        .iter()
        .filter(|w| w.contains("createContact"))
        .count();
    assert_eq!(creates, 1);
    assert_eq!(g.cards().await.len(), 1);
    let show = g.ok(&["source", "show", "google", "--user", "admin"]);
    assert!(
        !show.contains("pending"),
        "the pending create was resolved: {show}"
    );
}

/// §5 #10: stale etags, deterministic (edited at Google between plan and apply) and flaky
/// (Google rejects a correct etag right after a write): re-read, merge, success.
#[tokio::test]
async fn stale_etags_are_merged_and_retried_until_they_converge() {
    let g = G::start().await;
    let ids = g
        .seed(vec![person("Alan", "Turing", "alan@example.net")])
        .await;
    g.connect().await;
    g.two_way();
    g.run();
    let (name, etag, text) = g.card_named("Alan Turing").await;
    g.put(
        &name,
        &etag,
        &text.replace("END:VCARD", "NOTE:codebreaker\r\nEND:VCARD"),
    )
    .await;
    g.clear_log().await;
    let plan = g.ok(&["sync", "plan", "google", "--user", "admin"]);
    // The preview shows the write to Google field by field, and nothing is sent yet.
    assert!(plan.contains("source-update in the source:"), "{plan}");
    assert!(
        plan.contains("note: \"\" → \"codebreaker\"") || plan.contains("note: + "),
        "{plan}"
    );
    assert!(g.writes().await.is_empty(), "a preview writes nothing");
    let run: String = plan
        .split_whitespace()
        .skip_while(|w| *w != "Run")
        .nth(1)
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()).to_string())
        .unwrap_or_default();
    assert!(!run.is_empty(), "{plan}");
    g.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "resourceName": ids[0], "set": {"nicknames": [{"value": "Prof"}]}}),
    )
    .await;
    g.control("/_fake/config", json!({"flaky_stale": 1})).await;
    g.ok(&["sync", "apply", &run]);
    let p = g.people().await;
    let p = find(&p, "Alan");
    assert_eq!(p["biographies"][0]["value"], "codebreaker");
    assert_eq!(
        p["nicknames"][0]["value"], "Prof",
        "Google's edit survived the merge"
    );
    let stale = g
        .log()
        .await
        .iter()
        .filter(|e| e["status"] == 400 && e["method"] == "PATCH")
        .count();
    assert!(stale >= 2, "both stale answers were met: {stale}");
    // Google keeps refusing: after three tries the write is deferred, not lost, and the run's
    // record says so.
    let (name, etag, text) = g.card_named("Alan Turing").await;
    g.put(
        &name,
        &etag,
        &text.replace("NOTE:codebreaker", "NOTE:mathematician"),
    )
    .await;
    g.control("/_fake/config", json!({"flaky_stale": 10})).await;
    let out = g.run();
    let run = out
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .to_string();
    let show = g.ok(&["sync", "show", &run]);
    assert!(show.contains("deferred"), "{out}{show}");
    assert_eq!(
        find(&g.people().await, "Alan")["biographies"][0]["value"],
        "codebreaker"
    );
    g.control("/_fake/config", json!({"flaky_stale": 0})).await;
    g.run();
    assert_eq!(
        find(&g.people().await, "Alan")["biographies"][0]["value"],
        "mathematician",
        "the next run carries the deferred write"
    );
}

/// §5 #11 and #13: our own write coming back three runs later is not a change, and a birthday
/// without a year stays without one.
#[tokio::test]
async fn late_echoes_cause_no_writes_and_no_year_birthdays_round_trip() {
    let g = G::start().await;
    g.seed(vec![json!({
        "names": [{"givenName": "Mary", "familyName": "Somerville"}],
        "birthdays": [{"date": {"month": 12, "day": 26}}]
    })])
    .await;
    g.connect().await;
    g.two_way();
    g.run();
    let (name, etag, text) = g.card_named("Mary Somerville").await;
    assert!(text.contains("BDAY:--1226"), "{text}");
    g.control("/_fake/config", json!({"propagation_secs": 600}))
        .await;
    g.put(
        &name,
        &etag,
        &text.replace("END:VCARD", "NOTE:mathematician\r\nEND:VCARD"),
    )
    .await;
    g.clear_log().await;
    g.run();
    g.run();
    g.run();
    g.control("/_fake/clock", json!({"advance_secs": 601}))
        .await;
    g.run();
    g.run();
    let writes = g.writes().await;
    assert_eq!(writes.len(), 1, "one update, no echo loop: {writes:?}");
    let p = g.people().await;
    assert!(p[0]["birthdays"][0]["date"].get("year").is_none(), "{p:?}");
    let (_, _, text) = g.card_named("Mary Somerville").await;
    assert!(text.contains("BDAY:--1226"), "{text}");
}

/// Throttling: 429 storms are waited out with growing backoff (no request before it), and the
/// run completes.
#[tokio::test]
async fn a_429_storm_is_waited_out_with_backoff() {
    let g = G::start().await;
    g.seed(vec![person("Rosalind", "Franklin", "rf@example.net")])
        .await;
    g.connect().await;
    g.control("/_fake/config", json!({"storm": 3})).await;
    g.clear_log().await;
    g.run();
    assert_eq!(g.cards().await.len(), 1);
    let log = g.log().await;
    let api: Vec<&Value> = log
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("/v1/"))
        .collect();
    let throttled: Vec<usize> = (0..api.len())
        .filter(|i| api[*i]["status"] == 429)
        .collect();
    assert_eq!(throttled.len(), 3);
    for (n, i) in throttled.iter().enumerate() {
        let gap = api[i + 1]["t_ms"].as_u64().unwrap() - api[*i]["t_ms"].as_u64().unwrap();
        let min = 40 << n;
        assert!(
            gap >= min,
            "retry {} came after {gap} ms, before the {min} ms backoff",
            n + 1
        );
    }
}

/// §5 #17: access revoked in the middle of a paged listing: the run stops cleanly, the source
/// needs re-authorization, the cursor does not move, and synced contacts are kept.
#[tokio::test]
async fn revocation_mid_run_stops_cleanly_and_asks_to_reconnect() {
    let g = G::start().await;
    g.seed(many("R", 0..10)).await;
    g.connect().await;
    g.run();
    g.seed(many("R", 10..25)).await;
    g.control("/_fake/config", json!({"revoke_after": 3})).await;
    let (ok, out, err) = g.cli(&["sync", "run", "google", "--user", "admin"]);
    assert!(!ok, "{out}");
    assert!(
        err.to_lowercase().contains("connect the account again"),
        "{err}"
    );
    assert_eq!(
        g.cards().await.len(),
        10,
        "nothing half-applied, nothing lost"
    );
    let list = g.ok(&["source", "list", "--user", "admin"]);
    assert!(list.contains("needs-reauth"), "{list}");
    let events = g.ok(&["sync", "events", "--user", "admin"]);
    assert!(events.contains("kept"), "{events}");
    // Reconnecting resumes from the same cursor: the 15 new contacts arrive.
    let (status, text) = g.authorize(json!({"account": ACCOUNT})).await;
    assert_eq!(status, 200, "{text}");
    let out = g.run();
    assert_eq!(g.cards().await.len(), 25, "{out}");
    // `kith source revoke` keeps the contacts too.
    let out = g.ok(&["source", "revoke", "google", "--user", "admin"]);
    assert!(out.contains("kept"), "{out}");
    assert_eq!(g.cards().await.len(), 25);
    let (ok, _, err) = g.cli(&["sync", "run", "google", "--user", "admin"]);
    assert!(!ok && err.contains("connect"), "{err}");
    // `kith source remove` revokes Kith's grant at Google and, asked to, keeps the cards.
    let (status, text) = g.authorize(json!({"account": ACCOUNT})).await;
    assert_eq!(status, 200, "{text}");
    let live = |v: Value| v["live"].as_u64().unwrap();
    assert!(live(g.get(&format!("/_fake/tokens?account={ACCOUNT}")).await) > 0);
    g.ok(&[
        "source",
        "remove",
        "google",
        "--user",
        "admin",
        "--keep-cards",
    ]);
    assert_eq!(
        live(g.get(&format!("/_fake/tokens?account={ACCOUNT}")).await),
        0,
        "revoked at Google"
    );
    assert_eq!(g.cards().await.len(), 25);
}

/// Contact groups are categories both ways (a new category makes its group), and contacts on
/// the account's own Workspace domain (the `hd` claim) are ignored.
#[tokio::test]
async fn groups_are_categories_and_the_own_domain_is_ignored() {
    let g = G::start().await;
    let friends = g
        .control(
            "/_fake/groups",
            json!({"account": ACCOUNT, "name": "Friends"}),
        )
        .await["resourceName"]
        .as_str()
        .unwrap()
        .to_string();
    g.seed(vec![
        json!({
            "names": [{"givenName": "Emmy", "familyName": "Noether"}],
            "emailAddresses": [{"value": "emmy@algebra.example"}],
            "memberships": [
                {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}},
                {"contactGroupMembership": {"contactGroupResourceName": friends}}
            ]
        }),
        person("Colleague", "Inhouse", "colleague@example.org"),
    ])
    .await;
    g.ok(&["provider", "enable", "google"]);
    let (status, text) = g
        .authorize(json!({"account": ACCOUNT, "hd": "example.org"}))
        .await;
    assert_eq!(status, 200, "{text}");
    let show = g.ok(&["source", "show", "google", "--user", "admin"]);
    assert!(
        show.contains("example.org"),
        "the own domain is in the rules: {show}"
    );
    g.two_way();
    let out = g.run();
    assert_eq!(count(&out, "ignore"), 1, "{out}");
    let cards = g.cards().await;
    assert_eq!(cards.len(), 1, "the colleague is ignored");
    let (name, etag, text) = g.card_named("Emmy Noether").await;
    assert!(text.contains("CATEGORIES:Friends"), "{text}");
    g.put(
        &name,
        &etag,
        &text.replace("CATEGORIES:Friends", "CATEGORIES:Friends,Climbing"),
    )
    .await;
    g.run();
    let groups = g.log().await;
    assert!(
        groups
            .iter()
            .any(|e| e["method"] == "POST" && e["path"] == "/v1/contactGroups"),
        "the Climbing group was made"
    );
    let p = g.people().await;
    let emmy = find(&p, "Emmy");
    assert_eq!(emmy["memberships"].as_array().unwrap().len(), 3, "{emmy}");
    g.clear_log().await;
    g.run();
    assert!(g.writes().await.is_empty(), "categories read back the same");
}

/// §5 #12 and the computed fields: a photo re-hosted on every read and `formattedType` in
/// another language are not changes.
#[tokio::test]
async fn computed_fields_and_churning_photos_are_not_changes() {
    let g = G::start().await;
    g.seed(vec![json!({
        "names": [{"givenName": "Lise", "familyName": "Meitner"}],
        "phoneNumbers": [{"value": "+43 1 4277 0", "type": "mobile"}],
        "addresses": [{"streetAddress": "Boltzmanngasse 5", "city": "Wien", "country": "Austria", "type": "work"}]
    })])
    .await;
    g.connect().await;
    g.two_way();
    g.run();
    let before = sync_book(&g.s, "").await;
    g.control(
        "/_fake/config",
        json!({"photo_churn": true, "default_language": "de"}),
    )
    .await;
    // Gmail touches the contact (a new etag and re-localized types, nothing Kith keeps).
    let id = g.people().await[0]["resourceName"]
        .as_str()
        .unwrap()
        .to_string();
    g.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "resourceName": id, "set": {}}),
    )
    .await;
    g.clear_log().await;
    g.run();
    g.run();
    assert!(g.writes().await.is_empty());
    assert!(
        sync_book(&g.s, &before.token).await.present.is_empty(),
        "the card did not change"
    );
}

/// Pushes: Kith's creates go one at a time (the fake refuses overlapping writes with 409),
/// and with delete protection off and source deletes allowed a card deleted in Kith is deleted
/// at Google.
#[tokio::test]
async fn creates_are_sequential_and_allowed_deletes_reach_google() {
    let g = G::start().await;
    g.connect().await;
    g.two_way();
    g.rules(&["--delete-protection", "off"]);
    for i in 0..12 {
        g.s.req("PUT", &format!("{BOOK}n{i}.vcf"))
            .vcard(&card(&format!("n{i}"), &format!("Newton {i}")))
            .send()
            .await;
    }
    let out = g.run();
    assert_eq!(count(&out, "source-create"), 12, "{out}");
    let log = g.log().await;
    assert!(
        log.iter().all(|e| e["status"] != 409),
        "no overlapping writes"
    );
    assert_eq!(g.people().await.len(), 12);
    g.delete_card("Newton 3").await;
    let out = g.run();
    assert_eq!(count(&out, "source-delete"), 1, "{out}");
    let people = g.people().await;
    assert_eq!(people.len(), 11);
    assert!(
        !people
            .iter()
            .any(|p| p["names"][0]["unstructuredName"] == "Newton 3")
    );
}

/// The fake itself keeps Google's rules, so Kith is tested against them: page tokens bound
/// to the query, PKCE and single-use codes, singleton fields, the memberships rule, quotas.
#[tokio::test]
async fn the_fake_keeps_googles_rules() {
    let g = G::start().await;
    g.seed(many("F", 0..5)).await;
    g.control("/_fake/consent", json!({"account": ACCOUNT}))
        .await;
    let auth = |challenge: &str| {
        format!(
            "{}/o/oauth2/v2/auth?client_id=kith-test.apps.googleusercontent.com&redirect_uri=http%3A%2F%2Fkith.test%2Fcb&response_type=code&scope=openid%20email%20https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcontacts&state=s&code_challenge={challenge}&code_challenge_method=S256&access_type=offline",
            g.fake
        )
    };
    // S256 of "verifier-verifier-verifier-verifier-verifier-1".
    let verifier = "verifier-verifier-verifier-verifier-verifier-1";
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
    };
    let code_of = |r: reqwest::Response| {
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        loc.split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string()
    };
    let exchange = |code: String, verifier: &'static str| {
        g.http
            .post(format!("{}/token", g.fake))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2Fkith.test%2Fcb&code_verifier={verifier}&client_id=kith-test.apps.googleusercontent.com&client_secret=fake-secret"))
            .send()
    };
    let code = code_of(g.http.get(auth(&challenge)).send().await.unwrap());
    let bad = exchange(code.clone(), "wrong-verifier-wrong-verifier-wrong-verifier")
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "PKCE is checked");
    let reused = exchange(code, verifier).await.unwrap();
    assert_eq!(
        reused.status(),
        400,
        "a code is used once, even after a failed exchange"
    );
    let code = code_of(g.http.get(auth(&challenge)).send().await.unwrap());
    let ok: Value = serde_json::from_slice(
        &exchange(code, verifier)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let access = ok["access_token"].as_str().unwrap().to_string();
    assert!(ok["refresh_token"].is_string() && ok["id_token"].is_string());
    let api = |path: String| {
        g.http
            .get(format!("{}{path}", g.fake))
            .bearer_auth(&access)
            .send()
    };
    let first: Value = serde_json::from_slice(
        &api("/v1/people/me/connections?personFields=names&pageSize=2".into())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let page = first["nextPageToken"].as_str().unwrap();
    let other = api(format!(
        "/v1/people/me/connections?personFields=names,emailAddresses&pageSize=2&pageToken={page}"
    ))
    .await
    .unwrap();
    assert_eq!(other.status(), 400, "a page token is bound to its query");
    let body: Value = serde_json::from_slice(&other.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let no_fields = api("/v1/people/me/connections".into()).await.unwrap();
    assert_eq!(no_fields.status(), 400, "personFields is required");
    let create = |body: Value| {
        g.http
            .post(format!("{}/v1/people:createContact", g.fake))
            .bearer_auth(&access)
            .body(body.to_string())
            .send()
    };
    let two_names = create(json!({"names": [{"givenName": "A"}, {"givenName": "B"}]}))
        .await
        .unwrap();
    assert_eq!(two_names.status(), 400, "names is a singleton");
    let no_group = create(json!({"names": [{"givenName": "A"}], "memberships": []}))
        .await
        .unwrap();
    assert_eq!(no_group.status(), 400, "a contact needs a group membership");
    // A per-user quota answers 429 RESOURCE_EXHAUSTED, without Retry-After.
    g.control("/_fake/config", json!({"reads_per_min": 2}))
        .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = api("/v1/contactGroups".into()).await.unwrap();
        assert!(r.headers().get("retry-after").is_none());
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
    g.control("/_fake/clock", json!({"advance_secs": 60})).await;
    assert_eq!(
        api("/v1/contactGroups".into()).await.unwrap().status(),
        200,
        "the bucket refills on the virtual clock"
    );
    // An expired access token gets Google's 401 with WWW-Authenticate.
    g.control("/_fake/clock", json!({"advance_secs": 3600}))
        .await;
    let expired = api("/v1/contactGroups".into()).await.unwrap();
    assert_eq!(expired.status(), 401);
    assert!(
        expired.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

/// An iPhone-like client's edit over CardDAV reaches Google in the next run, and a change made
/// at Google reaches the client through sync-collection.
#[tokio::test]
async fn an_iphone_edit_reaches_google_and_a_google_edit_reaches_the_iphone() {
    const IOS: &str = "iOS/17.4 (21E219) dataaccessd/1.0";
    let g = G::start().await;
    let ids = g
        .seed(vec![json!({
            "names": [{"givenName": "Marie", "familyName": "Curie"}],
            "emailAddresses": [{"value": "marie@radium.example", "type": "work"}]
        })])
        .await;
    g.connect().await;
    g.two_way();
    g.run();
    let first = sync_book(&g.s, "").await;
    let (name, etag, text) = g.card_named("Marie Curie").await;
    let uid = text
        .lines()
        .find_map(|l| l.strip_prefix("UID:"))
        .unwrap()
        .trim()
        .to_string();
    // What iOS writes back: vCard 3.0, grouped properties, Apple labels, its own PRODID.
    let apple = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.4//EN\r\nN:Curie;Marie;;;\r\nFN:Marie Curie\r\nitem1.EMAIL;type=INTERNET;type=pref:marie@radium.example\r\nitem1.X-ABLabel:_$!<Other>!$_\r\nTEL;type=CELL;type=VOICE;type=pref:+33 1 44 27 00 00\r\nNOTE:Nobel 1903 and 1911\r\nUID:{uid}\r\nEND:VCARD\r\n"
    );
    let r =
        g.s.req("PUT", &format!("{BOOK}{name}"))
            .header("if-match", &etag)
            .header("user-agent", IOS)
            .vcard(apple.as_bytes())
            .send()
            .await;
    assert_eq!(r.status, 204);
    g.run();
    let p = g.people().await;
    let marie = find(&p, "Marie");
    assert_eq!(marie["biographies"][0]["value"], "Nobel 1903 and 1911");
    assert_eq!(marie["phoneNumbers"][0]["value"], "+33 1 44 27 00 00");
    assert_eq!(
        marie["emailAddresses"].as_array().unwrap().len(),
        1,
        "{marie}"
    );
    // The phone syncs: its edit did not come back as a change.
    let mid = sync_book(&g.s, &first.token).await;
    g.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "resourceName": ids[0], "set": {"organizations": [{"name": "Institut du Radium", "title": "Director"}]}}),
    )
    .await;
    g.run();
    let later = sync_book(&g.s, &mid.token).await;
    assert_eq!(later.present.len(), 1, "the client sees the card changed");
    let got =
        g.s.req("GET", &format!("{BOOK}{name}"))
            .header("user-agent", IOS)
            .send()
            .await;
    let text = got.text();
    assert!(
        text.contains("ORG:Institut du Radium") && text.contains("TITLE:Director"),
        "{text}"
    );
    assert!(
        text.contains("item1.X-ABLabel"),
        "the client's own properties are kept: {text}"
    );
}

/// Several instances on one PostgreSQL database: an authorization started through one
/// instance finishes on another (the pending state and the token key are in the database), and
/// either can then run the source. Needs PostgreSQL in both test passes, as tests/instances.rs.
#[tokio::test]
async fn an_authorization_started_on_one_instance_finishes_on_another() {
    let name = format!("kith_t_{}_oauth", std::process::id());
    psql(&format!("CREATE DATABASE {name}"));
    struct Drop_(String);
    impl Drop for Drop_ {
        fn drop(&mut self) {
            psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
        }
    }
    let _drop = Drop_(name.clone());
    let admin = postgres_admin_url();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let a = G::start_on("", Some(url.clone())).await;
    let b = Server::start_with(&[
        ("KITH_CONFIG", a.config.to_str().unwrap()),
        ("KITH_DATABASE_URL", &url),
    ]);
    a.seed(vec![person("Ada", "Lovelace", "ada@analytical.example")])
        .await;
    a.ok(&["provider", "enable", "google"]);
    a.control("/_fake/consent", json!({"account": ACCOUNT}))
        .await;
    let (path, cookie) = a.through_google().await;
    let done = b.anon("GET", &path).header("cookie", &cookie).send().await;
    assert_eq!(done.status, 200, "{}", done.text());
    a.run();
    let on_b = download_book(&b).await;
    assert_eq!(
        on_b.len(),
        1,
        "the pulled card is served by the other instance too"
    );
}

/// A scheduled run inside `kith serve` syncs Google like the CLI does, and `/metrics` counts
/// its calls to Google and the throttled ones.
#[tokio::test]
async fn scheduled_runs_count_upstream_calls_and_throttles() {
    let g = G::start_with("[sync]\nscheduler_tick_secs = 1").await;
    g.seed(many("S", 0..3)).await;
    g.connect().await;
    g.run();
    g.seed(many("S", 3..5)).await;
    g.control("/_fake/config", json!({"storm": 1})).await;
    g.rules(&["--auto", "on", "--every", "1h"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if g.cards().await.len() == 5 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled run did not happen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let metrics = g.s.req("GET", "/metrics").send().await.text();
    let value = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(
        value("kith_upstream_calls_total{provider=\"google\",outcome=\"ok\"}") >= 2.0,
        "{metrics}"
    );
    assert_eq!(
        value("kith_upstream_calls_total{provider=\"google\",outcome=\"429\"}"),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        value("kith_upstream_throttles_total{provider=\"google\"}"),
        1.0,
        "{metrics}"
    );
}

/// Issue 25's safe default: turning a source two-way writes nothing to Google that did not come
/// from it. The LinkedIn imports in the same book are listed as skips with the reason, and
/// reach Google only once creates are allowed.
#[tokio::test]
async fn two_way_creates_nothing_at_google_until_allowed() {
    let g = G::start().await;
    let csv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/sources/linkedin-2024.csv"
    );
    g.ok(&["import", csv, "--user", "admin"]);
    let imported = g.cards().await.len();
    assert!(imported >= 5, "{imported}");
    g.connect().await;
    // Automatic runs stay inside Google's quotas.
    let (ok, _, err) = g.cli(&[
        "source", "rules", "google", "--user", "admin", "--every", "1m",
    ]);
    assert!(!ok && err.contains("at most every 15 minutes"), "{err}");
    g.rules(&["--direction", "two-way"]);
    let out = g.run();
    assert_eq!(count(&out, "source-create"), 0, "{out}");
    assert!(g.writes().await.is_empty(), "nothing was written to Google");
    assert!(g.people().await.is_empty());
    let plan = g.ok(&["sync", "plan", "google", "--user", "admin"]);
    assert_eq!(count(&plan, "skip"), imported, "{plan}");
    assert!(plan.contains("blocked by the rules"), "{plan}");

    g.rules(&["--allow", "source:create"]);
    let out = g.run();
    assert_eq!(count(&out, "source-create"), imported, "{out}");
    assert_eq!(g.people().await.len(), imported);
}

/// Issue 25, bug 9: a narrower scope applies to contacts already linked, on the next run,
/// though Google's change feed reports no change for them.
#[tokio::test]
async fn narrowing_the_scope_unlinks_contacts_outside_it_and_keeps_their_cards() {
    let g = G::start().await;
    let clients = g
        .control(
            "/_fake/groups",
            json!({"account": ACCOUNT, "name": "Clients"}),
        )
        .await["resourceName"]
        .as_str()
        .unwrap()
        .to_string();
    g.seed(vec![
        json!({
            "names": [{"givenName": "Emmy", "familyName": "Noether"}],
            "emailAddresses": [{"value": "emmy@algebra.example"}],
            "memberships": [{"contactGroupMembership": {"contactGroupResourceName": clients}}]
        }),
        person("Ada", "Lovelace", "ada@engines.example"),
        person("Grace", "Hopper", "grace@navy.example"),
    ])
    .await;
    g.connect().await;
    g.two_way();
    let out = g.run();
    assert_eq!(count(&out, "create"), 3, "{out}");

    g.rules(&["--scope", "Clients"]);
    let plan = g.ok(&["sync", "plan", "google", "--user", "admin"]);
    assert_eq!(count(&plan, "unlink"), 2, "{plan}");
    assert!(plan.contains("outside the scope (Clients)"), "{plan}");
    assert!(plan.contains("the card stays in your book"), "{plan}");
    g.run();
    assert_eq!(g.cards().await.len(), 3, "no card is deleted");
    let show = g.ok(&["source", "show", "google", "--user", "admin"]);
    assert!(show.contains("Emmy Noether"), "{show}");
    assert!(
        !show.contains("Ada Lovelace"),
        "Ada is no longer linked: {show}"
    );

    // An edit to an unlinked card stays in Kith; the next run has nothing to do.
    g.clear_log().await;
    let (name, etag, text) = g.card_named("Ada Lovelace").await;
    g.put(
        &name,
        &etag,
        &text.replace("FN:Ada Lovelace", "FN:Ada King"),
    )
    .await;
    let out = g.run();
    assert!(g.writes().await.is_empty(), "{out}");
    assert_eq!(
        find(&g.people().await, "Ada")["names"][0]["familyName"],
        "Lovelace"
    );
}

/// Contacts Kith creates at Google get the label the rules name, and the card gets it too.
#[tokio::test]
async fn creates_get_the_target_label() {
    let g = G::start().await;
    g.connect().await;
    g.two_way();
    g.rules(&["--target", "From Kith"]);
    g.run();
    let r = g
        .s
        .req("PUT", &format!("{BOOK}new.vcf"))
        .vcard(b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:new\r\nFN:Alan Kay\r\nN:Kay;Alan;;;\r\nEMAIL:alan@parc.example\r\nEND:VCARD\r\n")
        .send()
        .await;
    assert_eq!(r.status, 201);
    g.run();
    let log = g.log().await;
    assert!(
        log.iter()
            .any(|e| e["method"] == "POST" && e["path"] == "/v1/contactGroups"),
        "the label was made"
    );
    let people = g.people().await;
    let before = find(&people, "Alan")["memberships"]
        .as_array()
        .unwrap()
        .len();
    assert!(before > 0, "{people:?}");
    g.run();
    let (_, _, text) = g.card_named("Alan Kay").await;
    assert!(
        text.contains("From Kith"),
        "the label reads back onto the card: {text}"
    );
    g.clear_log().await;
    g.run();
    assert!(g.writes().await.is_empty(), "and then nothing moves");
    // A later edit in Kith keeps the label at Google.
    let (name, etag, text) = g.card_named("Alan Kay").await;
    g.put(&name, &etag, &text.replace("FN:Alan Kay", "FN:Alan C. Kay"))
        .await;
    g.run();
    let people = g.people().await;
    let alan = find(&people, "Alan");
    assert_eq!(
        alan["memberships"].as_array().unwrap().len(),
        before,
        "{alan}"
    );
}

/// Issue 25: an admin sets and rotates the app from the CLI (the secret from standard input,
/// never shown again) and limits who may connect; a user outside the set is told who to ask,
/// and a source of theirs stops syncing and keeps its contacts.
#[tokio::test]
async fn the_app_is_rotated_from_the_cli_and_only_allowed_users_connect() {
    let g = G::start().await;
    g.seed(vec![person("Ada", "Lovelace", "ada@engines.example")])
        .await;
    g.connect().await;
    g.run();
    assert_eq!(g.cards().await.len(), 1);
    // A wrong secret breaks the next token refresh: the stored app overrides the config's.
    let (ok, out, err) = g.cli_stdin(
        &["provider", "set", "google", "--client-secret-stdin"],
        "a-wrong-secret-value\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("/oauth/google/callback"), "{out}");
    let status = g.ok(&["provider", "status"]);
    assert!(
        status.contains("client secret: set (ends in …alue)"),
        "{status}"
    );
    assert!(!status.contains("a-wrong-secret"), "{status}");
    g.control("/_fake/clock", json!({"advance_secs": 3700}))
        .await;
    let (ok, _, _) = g.cli(&["sync", "run", "google", "--user", "admin"]);
    assert!(!ok, "the wrong secret is used");
    g.cli_stdin(
        &["provider", "set", "google", "--client-secret-stdin"],
        "fake-secret\n",
    );

    // Only ana may connect now.
    let (ok, _, err) = g.cli(&["provider", "allow", "google", "--user", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");
    g.s.add_user("ana", "anas-password");
    g.ok(&["provider", "allow", "google", "--user", "ana"]);
    let (ok, _, err) = g.cli(&["source", "add", "google", "--user", "admin", "--name", "g2"]);
    assert!(!ok && err.contains("ask an admin (admin)"), "{err}");
    g.ok(&["source", "add", "google", "--user", "ana"]);
    let (ok, _, err) = g.cli(&["sync", "run", "google", "--user", "admin"]);
    assert!(
        !ok && err.contains("no longer lets you connect Google"),
        "{err}"
    );
    assert_eq!(g.cards().await.len(), 1, "what was synced stays");
    g.ok(&["provider", "allow", "google", "--user", "all"]);
    g.run();
}

/// Issue 20: a sharee's edit in a shared book that Google feeds goes upstream under the
/// owner's rules, and the plan names the sharee; the sharee never sees the owner's account.
#[tokio::test]
async fn a_sharees_edit_flows_upstream_under_the_owners_rules_and_the_plan_names_them() {
    let g = G::start().await;
    g.seed(vec![json!({
        "names": [{"givenName": "Ada", "familyName": "Lovelace"}],
        "emailAddresses": [{"value": "ada@engine.example"}]
    })])
    .await;
    g.connect().await;
    g.two_way();
    g.run();
    g.s.add_user("bob", "bobs-long-password");
    g.ok(&[
        "share",
        "add",
        "--user",
        "admin",
        "--book",
        "contacts",
        "--with-user",
        "bob",
        "--write",
    ]);
    let (name, _, text) = g.card_named("Ada Lovelace").await;
    let shared = format!("/dav/addressbooks/bob/admin~contacts/{name}");
    let got =
        g.s.req("GET", &shared)
            .auth("bob", "bobs-long-password")
            .send()
            .await;
    assert_eq!(got.status, 200);
    let edited = text.replace("END:VCARD", "NOTE:First programmer\r\nEND:VCARD");
    let r =
        g.s.req("PUT", &shared)
            .auth("bob", "bobs-long-password")
            .header("if-match", &got.etag())
            .header("user-agent", "DAVx5/4.4.3-ose")
            .vcard(edited.as_bytes())
            .send()
            .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let plan = g.ok(&["sync", "plan", "google", "--user", "admin"]);
    assert!(
        plan.contains("changed in Kith by bob (DAVx5/4.4.3-ose)"),
        "{plan}"
    );
    g.run();
    let p = g.people().await;
    assert_eq!(
        find(&p, "Ada")["biographies"][0]["value"],
        "First programmer"
    );
    // Nothing of the owner's sources is bob's: his own source list is empty.
    let (ok, out, _) = g.cli(&["source", "list", "--user", "bob"]);
    assert!(ok && !out.contains("google"), "{out}");
}
