//! Upstream change notifications (issue 22): with `push.public_url` set, Microsoft 365 and
//! Google Calendar notify Kith of a change, and a CardDAV/CalDAV client sees it in
//! `sync-collection` within seconds while the source's own interval is a day. Lost
//! notifications are recovered through Graph's lifecycle events; forged ones change nothing.
//! Without a public URL, sources are polled quickly, and the source page says so.

use crate::common::upstream::*;
use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ACCOUNT: &str = "ada@contoso.example";
const WAIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server with `push.public_url` at its own address (or none), against `fake`.
fn start(fake: String, providers: &str, public: bool, source: &'static str) -> Upstream {
    let port = free_port();
    let push = if public {
        format!("[push]\npublic_url = \"http://127.0.0.1:{port}\"\n")
    } else {
        String::new()
    };
    let config = format!("[sync]\nscheduler_tick_secs = 1\n\n{push}\n{providers}");
    let listen = format!("127.0.0.1:{port}");
    Upstream::start_env(fake, config, None, source, &[("KITH_LISTEN", &listen)])
}

fn m365_config(fake: &str) -> String {
    format!(
        r#"[providers]
wait_scale = 0.01

[providers.m365]
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "fake-m365-secret"
redirect_base = "http://kith.test"
authority_url = "{fake}"
graph_url = "{fake}/v1.0"
retry_base = "100ms"
"#
    )
}

/// Waits (at most [`WAIT`]) until `check` holds, polling; how long it took.
async fn until<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if check().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn runs(u: &Upstream) -> usize {
    u.ok(&["sync", "history", "--user", "admin"])
        .lines()
        .filter(|l| l.contains(u.source))
        .count()
}

async fn connected_m365(public: bool) -> (Upstream, String) {
    let (fake, _) = kith_fakes::m365::spawn();
    let u = start(fake.clone(), &m365_config(&fake), public, "m365");
    u.control("/_fake/config", json!({"time_scale": 100.0}))
        .await;
    u.control(
        "/_fake/user",
        json!({"account": ACCOUNT, "tenant": "contoso"}),
    )
    .await;
    let v = u
        .control(
            "/_fake/contacts",
            json!({"account": ACCOUNT, "folder": "default", "contacts": [
                {"givenName": "Grace", "surname": "Hopper", "emailAddresses": [{"address": "grace@example.net"}]}
            ]}),
        )
        .await;
    let id = v["ids"][0].as_str().unwrap().to_string();
    u.ok(&["provider", "enable", "m365"]);
    u.control(
        "/_fake/signin",
        json!({"account": ACCOUNT, "decline": false}),
    )
    .await;
    let (path, cookie) = u.through("/oauth/m365/start?source=m365").await;
    let cb =
        u.s.anon("GET", &path)
            .header("cookie", &cookie)
            .send()
            .await;
    assert_eq!(cb.status, 200, "{}", cb.text());
    u.run();
    // Automatic, once a day: only a notification can bring a change in within seconds.
    u.rules(&["--auto", "on", "--every", "1d"]);
    (u, id)
}

async fn subscriptions(u: &Upstream) -> Vec<Value> {
    u.get("/_fake/subscriptions").await["subscriptions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn source_id(u: &Upstream) -> i64 {
    let subs = subscriptions(u).await;
    let url = subs[0]["notificationUrl"].as_str().unwrap();
    url.rsplit('/').next().unwrap().parse().unwrap()
}

async fn named(u: &Upstream, given: &str) -> bool {
    u.cards().await.values().any(|(_, t)| t.contains(given))
}

#[tokio::test]
async fn an_outlook_edit_reaches_a_client_through_a_notification() {
    let (u, id) = connected_m365(true).await;
    // Kith subscribes by itself, after Graph's validation handshake on both URLs.
    until("a Graph subscription", || async {
        subscriptions(&u).await.len() == 1
    })
    .await;
    let sub = &subscriptions(&u).await[0];
    assert_eq!(sub["resource"], "me/contacts");
    assert!(
        sub["lifecycleNotificationUrl"]
            .as_str()
            .unwrap()
            .ends_with("/lifecycle")
    );
    let sid = source_id(&u).await;
    let page_cookie = u.s.web_session("admin", ADMIN_PW).await;
    let page =
        u.s.anon("GET", "/sources/m365")
            .header("cookie", &page_cookie)
            .send()
            .await
            .text();
    assert!(page.contains("tells Kith of each change at once"), "{page}");

    let before = sync_book(&u.s, "").await;
    u.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "id": id, "set": {"givenName": "Amazing Grace"}}),
    )
    .await;
    let took = until("the edit in a client's sync", || async {
        let d = sync_book(&u.s, &before.token).await;
        !d.present.is_empty() && named(&u, "Amazing Grace").await
    })
    .await;
    assert!(took < Duration::from_secs(20), "{took:?}");
    let delivered = u.get("/_fake/subscriptions").await["deliveries"].clone();
    assert!(
        delivered
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["status"] == 202),
        "Kith accepted the notification: {delivered}"
    );

    // A forged notification: the wrong clientState, or a subscription Kith does not have.
    let runs_before = runs(&u);
    for (state, subscription) in [
        ("forged", sub["id"].as_str().unwrap()),
        (sub["clientState"].as_str().unwrap(), "not-a-subscription"),
    ] {
        let r = u
            .s
            .anon("POST", &format!("/hooks/m365/{sid}"))
            .header("content-type", "application/json")
            .body(
                json!({"value": [{"subscriptionId": subscription, "clientState": state, "changeType": "updated"}]})
                    .to_string(),
            )
            .send()
            .await;
        assert_eq!(r.status, 403);
    }

    // A lost notification (Graph gave up on it) is recovered by the lifecycle's `missed`.
    u.control("/_fake/config", json!({"drop_notifications": 1}))
        .await;
    u.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "id": id, "set": {"givenName": "Admiral Grace"}}),
    )
    .await;
    until("the dropped notification", || async {
        u.get("/_fake/config").await["drop_notifications"] == 0
    })
    .await;
    assert!(!named(&u, "Admiral Grace").await);
    u.control("/_fake/subscriptions/lifecycle", json!({"event": "missed"}))
        .await;
    until("the missed change", || async {
        named(&u, "Admiral Grace").await
    })
    .await;
    assert_eq!(
        runs(&u),
        runs_before + 1,
        "one run, for the missed change; none for the forged notifications"
    );

    // Graph removed the subscription: Kith makes a new one and reads what changed.
    u.control(
        "/_fake/subscriptions/lifecycle",
        json!({"event": "subscriptionRemoved"}),
    )
    .await;
    until("a new subscription", || async {
        let subs = subscriptions(&u).await;
        subs.len() == 1 && subs[0]["id"] != sub["id"]
    })
    .await;
    u.control(
        "/_fake/edit",
        json!({"account": ACCOUNT, "id": id, "set": {"givenName": "Rear Admiral Grace"}}),
    )
    .await;
    until("an edit through the new subscription", || async {
        named(&u, "Rear Admiral Grace").await
    })
    .await;

    // Automatic sync off: the subscription ends.
    u.rules(&["--auto", "off"]);
    until("the subscription's end", || async {
        subscriptions(&u).await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn without_a_public_url_sources_are_polled_and_the_page_says_why() {
    let (u, _) = connected_m365(false).await;
    let cookie = u.s.web_session("admin", ADMIN_PW).await;
    let page =
        u.s.anon("GET", "/sources/m365")
            .header("cookie", &cookie)
            .send()
            .await
            .text();
    assert!(
        page.contains("checks for changes every 5 minutes")
            && page.contains("no public URL is set (push.public_url)"),
        "{page}"
    );
    assert!(subscriptions(&u).await.is_empty());
    // Notifications are refused outright.
    let r =
        u.s.anon("POST", "/hooks/m365/1")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await;
    assert_eq!(r.status, 403);
}

const CAL: &str = "/dav/calendars/admin/work/";
const GACCOUNT: &str = "ada@example.org";

fn event(id: &str, summary: &str) -> Value {
    json!({"id": id, "summary": summary,
        "start": {"dateTime": "2027-03-01T10:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2027-03-01T11:00:00", "timeZone": "Europe/Berlin"}})
}

async fn calendar_text(u: &Upstream) -> String {
    let r = u
        .s
        .req("REPORT", CAL)
        .header("depth", "1")
        .xml(r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>"#)
        .send()
        .await;
    r.text()
}

async fn channels(u: &Upstream) -> Value {
    u.get("/_fake/channels").await
}

#[tokio::test]
async fn a_google_calendar_change_reaches_caldav_through_its_channel() {
    let (fake, _) = kith_fakes::google::spawn();
    let u = start(
        fake.clone(),
        &crate::calendars::config_text(&fake),
        true,
        "work",
    );
    u.ok(&["provider", "enable", "google"]);
    u.control(
        "/_fake/calendar/calendars",
        json!({"account": GACCOUNT, "id": "primary", "summary": "Work", "timeZone": "Europe/Berlin"}),
    )
    .await;
    u.control(
        "/_fake/calendar/events",
        json!({"account": GACCOUNT, "calendar": "primary", "events": [event("standup1", "Standup")]}),
    )
    .await;
    u.control("/_fake/consent", json!({"account": GACCOUNT}))
        .await;
    let out = u.ok(&[
        "source", "calendar", "google", "--user", "admin", "--into", "work",
    ]);
    let url = out
        .lines()
        .find(|l| l.starts_with("http"))
        .unwrap()
        .to_string();
    let back = u.back_from(&url).await;
    let cb = u.s.anon("GET", &back).send().await;
    assert_eq!(cb.status, 200, "{}", cb.text());
    u.run();
    u.rules(&["--auto", "on", "--every", "1d"]);

    // The channel is made, and its `sync` message accepted.
    until("a channel and its sync message", || async {
        let c = channels(&u).await;
        c["channels"].as_array().is_some_and(|a| a.len() == 1)
            && c["deliveries"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["state"] == "sync" && d["status"] == 200))
    })
    .await;
    let c = channels(&u).await;
    let channel = c["channels"][0]["id"].as_str().unwrap().to_string();
    let sync_url = c["deliveries"][0]["url"].as_str().unwrap().to_string();
    let hook = path_of(&sync_url);

    u.control(
        "/_fake/calendar/events",
        json!({"account": GACCOUNT, "calendar": "primary", "events": [event("standup1", "Standup, moved online")]}),
    )
    .await;
    let took = until("the moved standup in CalDAV", || async {
        calendar_text(&u).await.contains("Standup\\, moved online")
    })
    .await;
    assert!(took < Duration::from_secs(20), "{took:?}");

    // Forged: the wrong channel token; and a replay of a message already seen changes nothing.
    let r =
        u.s.anon("POST", &hook)
            .header("x-goog-channel-id", &channel)
            .header("x-goog-channel-token", "forged")
            .header("x-goog-resource-state", "exists")
            .header("x-goog-message-number", "99")
            .send()
            .await;
    assert_eq!(r.status, 403);

    // Automatic sync off: the channel is stopped at Google.
    u.rules(&["--auto", "off"]);
    until("the channel's stop", || async {
        channels(&u).await["channels"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    })
    .await;
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".into(), |i| rest[i..].to_string())
}
