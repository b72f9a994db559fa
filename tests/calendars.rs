//! Calendar sources end to end: a real `kith serve` and CLI against the fake Google
//! Calendar. Each test checks what a CalDAV client then sees.

use crate::common::upstream::*;
use crate::common::*;
use serde_json::{Value, json};

pub(crate) const ACCOUNT: &str = "ada@example.org";
pub(crate) const CAL: &str = "/dav/calendars/admin/work/";

pub(crate) struct C(pub(crate) Upstream);

impl std::ops::Deref for C {
    type Target = Upstream;
    fn deref(&self) -> &Upstream {
        &self.0
    }
}

pub(crate) fn config_text(fake: &str) -> String {
    format!(
        r#"[providers.google]
client_id = "kith-test.apps.googleusercontent.com"
client_secret = "fake-secret"
redirect_base = "http://kith.test"
auth_url = "{fake}/o/oauth2/v2/auth"
token_url = "{fake}/token"
revoke_url = "{fake}/revoke"
api_url = "{fake}"
calendar_url = "{fake}"
page_size = 3
retry_base = "20ms"
"#
    )
}

pub(crate) fn timed(date: &str, time: &str) -> Value {
    json!({"dateTime": format!("{date}T{time}"), "timeZone": "Europe/Berlin"})
}

impl C {
    /// A server, Google enabled, and the account's calendar "primary" holding `events`,
    /// connected as source "work" filling Kith calendar "work".
    pub(crate) async fn start(events: Vec<Value>) -> C {
        let (fake, _) = kith_fakes::google::spawn();
        let c = C(Upstream::start(
            fake.clone(),
            config_text(&fake),
            None,
            "work",
        ));
        c.ok(&["provider", "enable", "google"]);
        c.control(
            "/_fake/calendar/calendars",
            json!({"account": ACCOUNT, "id": "primary", "summary": "Ada's work", "timeZone": "Europe/Berlin"}),
        )
        .await;
        c.upsert(events).await;
        c.control("/_fake/consent", json!({"account": ACCOUNT}))
            .await;
        let out = c.ok(&[
            "source", "calendar", "google", "--user", "admin", "--into", "work",
        ]);
        let url = out
            .lines()
            .find(|l| l.starts_with("http"))
            .unwrap_or_else(|| panic!("no URL in {out}"))
            .to_string();
        let back = c.back_from(&url).await;
        let cb = c.s.anon("GET", &back).send().await;
        assert_eq!(cb.status, 200, "{}", cb.text());
        c
    }

    pub(crate) async fn upsert(&self, events: Vec<Value>) -> Vec<Value> {
        let v = self
            .control(
                "/_fake/calendar/events",
                json!({"account": ACCOUNT, "calendar": "primary", "events": events}),
            )
            .await;
        v["items"].as_array().unwrap().clone()
    }

    pub(crate) async fn upstream(&self) -> Vec<Value> {
        let v = self
            .get(&format!(
                "/_fake/calendar/events?account={ACCOUNT}&calendar=primary"
            ))
            .await;
        v["items"].as_array().unwrap().clone()
    }

    /// Every object of the Kith calendar: name → (etag, text).
    pub(crate) async fn objects(&self) -> std::collections::BTreeMap<String, (String, String)> {
        let r = self
            .s
            .req("REPORT", CAL)
            .header("depth", "1")
            .xml(r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>"#)
            .send()
            .await;
        assert_eq!(r.status, 207, "{}", r.text());
        let ms = r.xml();
        responses(&ms)
            .into_iter()
            .map(|(href, resp)| {
                let etag = prop(resp, "DAV:", "getetag").unwrap().text.clone();
                let data = prop(resp, "urn:ietf:params:xml:ns:caldav", "calendar-data")
                    .unwrap()
                    .text
                    .clone();
                (href.rsplit('/').next().unwrap().to_string(), (etag, data))
            })
            .collect()
    }

    pub(crate) async fn object_with(&self, needle: &str) -> (String, String, String) {
        self.objects()
            .await
            .into_iter()
            .find(|(_, (_, t))| t.contains(needle))
            .map(|(n, (e, t))| (n, e, t))
            .unwrap_or_else(|| panic!("no event with {needle}"))
    }

    pub(crate) async fn put_event(&self, name: &str, etag: Option<&str>, text: &str) -> u16 {
        let mut r = self
            .s
            .req("PUT", &format!("{CAL}{name}"))
            .header("content-type", "text/calendar; charset=utf-8")
            .body(text.to_string());
        if let Some(e) = etag {
            r = r.header("if-match", e);
        }
        r.send().await.status.as_u16()
    }

    /// Start instants (UTC) of the occurrences of the event with `needle` in March–April 2026.
    pub(crate) async fn instants(&self, needle: &str) -> Vec<String> {
        let r = self
            .s
            .req("REPORT", CAL)
            .header("depth", "1")
            .xml(r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data><c:expand start="20260301T000000Z" end="20260501T000000Z"/></c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20260301T000000Z" end="20260501T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#)
            .send()
            .await;
        assert_eq!(r.status, 207, "{}", r.text());
        let ms = r.xml();
        let mut out = Vec::new();
        for (_, resp) in responses(&ms) {
            let data = &prop(resp, "urn:ietf:params:xml:ns:caldav", "calendar-data")
                .unwrap()
                .text;
            if !data.contains(needle) {
                continue;
            }
            for l in data.lines() {
                if let Some(v) = l.trim_end().strip_prefix("DTSTART:") {
                    out.push(v.to_string());
                }
            }
        }
        out.sort();
        out
    }
}

/// The events of the fake Graph calendar `AAMkCal1` of `account`.
pub(crate) async fn graph_events(c: &C, account: &str) -> Vec<Value> {
    c.get(&format!(
        "/_fake/calendar/events?account={account}&calendar=AAMkCal1"
    ))
    .await["value"]
        .as_array()
        .unwrap()
        .clone()
}

/// An all-day event over three days, as a client writes it.
pub(crate) const TRIP: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:trip-1\r\nDTSTAMP:20260301T000000Z\r\nDTSTART;VALUE=DATE:20260410\r\nDTEND;VALUE=DATE:20260413\r\nSUMMARY:Trip\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// The run a `sync plan` made.
pub(crate) fn run_id(plan: &str) -> String {
    plan.split_whitespace()
        .skip_while(|w| *w != "Run")
        .nth(1)
        .unwrap_or_else(|| panic!("no run id in {plan}"))
        .to_string()
}

fn standup() -> Value {
    // Weekly on Mondays from 16 March 2026: the 30 March occurrence is after the switch to
    // summer time, so 09:00 in Berlin is 07:00 UTC there and 08:00 UTC before.
    json!({"id": "standup0001", "summary": "Standup", "start": timed("2026-03-16", "09:00:00"), "end": timed("2026-03-16", "09:15:00"),
           "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"], "organizer": {"email": ACCOUNT, "self": true},
           "reminders": {"useDefault": false, "overrides": [{"method": "popup", "minutes": 10}]}})
}

fn offsite() -> Value {
    json!({"id": "offsite0001", "summary": "Offsite", "start": {"date": "2026-04-01"}, "end": {"date": "2026-04-03"}, "transparency": "transparent"})
}

fn review() -> Value {
    json!({"id": "review00001", "summary": "Review", "location": "Room 4", "description": "Quarterly numbers",
           "start": timed("2026-03-18", "14:00:00"), "end": timed("2026-03-18", "15:00:00"), "visibility": "private",
           "attendees": [{"email": "bob@example.org", "responseStatus": "accepted"}], "organizer": {"email": ACCOUNT, "self": true}})
}

#[tokio::test]
async fn a_google_calendar_arrives_whole_and_edits_flow_both_ways() {
    let party = json!({"id": "party000001", "summary": "Carol's party", "start": timed("2026-03-20", "19:00:00"), "end": timed("2026-03-20", "23:00:00"),
        "organizer": {"email": "carol@example.org"}, "attendees": [{"email": ACCOUNT, "self": true, "responseStatus": "accepted"}],
        "reminders": {"useDefault": false, "overrides": [{"method": "popup", "minutes": 30}]}});
    let c = C::start(vec![standup(), offsite(), review(), party]).await;
    let plan = c.ok(&["sync", "plan", "work", "--user", "admin"]);
    assert_eq!(count(&plan, "create"), 4, "{plan}");
    assert!(c.objects().await.is_empty(), "a preview changes nothing");
    c.run();
    let objs = c.objects().await;
    assert_eq!(objs.len(), 4);
    let (_, _, standup) = c.object_with("SUMMARY:Standup").await;
    assert!(
        standup.contains("DTSTART;TZID=Europe/Berlin:20260316T090000"),
        "{standup}"
    );
    assert!(
        standup.contains("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"),
        "{standup}"
    );
    assert!(standup.contains("TRIGGER:-PT10M"), "{standup}");
    // The DST-crossing series keeps its wall time: 08:00Z before the switch, 07:00Z after.
    assert_eq!(
        c.instants("Standup").await,
        [
            "20260316T080000Z",
            "20260323T080000Z",
            "20260330T070000Z",
            "20260406T070000Z"
        ]
    );
    let (_, _, offsite) = c.object_with("SUMMARY:Offsite").await;
    assert!(offsite.contains("DTSTART;VALUE=DATE:20260401"), "{offsite}");
    assert!(offsite.contains("DTEND;VALUE=DATE:20260403"), "{offsite}");
    assert!(offsite.contains("TRANSP:TRANSPARENT"), "{offsite}");
    let (rname, retag, review) = c.object_with("SUMMARY:Review").await;
    assert!(
        review.contains("CLASS:PRIVATE"),
        "private stays private: {review}"
    );
    assert!(
        review.contains("ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org"),
        "{review}"
    );
    assert!(
        review.contains(&format!("ORGANIZER:mailto:{ACCOUNT}")),
        "{review}"
    );

    // An upstream edit of one occurrence (moved to 11:00) and a cancelled one.
    c.upsert(vec![
        json!({"id": "standup0001_20260323T080000Z", "recurringEventId": "standup0001", "originalStartTime": timed("2026-03-23", "09:00:00"),
               "summary": "Standup (moved)", "start": timed("2026-03-23", "11:00:00"), "end": timed("2026-03-23", "11:15:00")}),
        json!({"id": "standup0001_20260406T070000Z", "recurringEventId": "standup0001", "originalStartTime": timed("2026-04-06", "09:00:00"), "status": "cancelled"}),
    ])
    .await;
    let out = c.run();
    assert_eq!(count(&out, "update"), 1, "{out}");
    let (_, _, standup) = c.object_with("SUMMARY:Standup").await;
    assert!(
        standup.contains("RECURRENCE-ID;TZID=Europe/Berlin:20260323T090000"),
        "{standup}"
    );
    assert!(
        standup.contains("EXDATE;TZID=Europe/Berlin:20260406T090000"),
        "{standup}"
    );
    assert_eq!(
        c.instants("Standup").await,
        ["20260316T080000Z", "20260323T100000Z", "20260330T070000Z"],
        "the moved occurrence is at 11:00 Berlin, the cancelled one is gone"
    );

    // A client edit goes upstream, with what Kith does not map kept in Kith's copy.
    c.rules(&["--direction", "two-way"]);
    let edited = review
        .replace("SUMMARY:Review", "SUMMARY:Review (moved rooms)")
        .replace("LOCATION:Room 4", "LOCATION:Room 7")
        .replace("END:VEVENT", "X-CUSTOM-THING:keep me\r\nEND:VEVENT");
    assert_eq!(c.put_event(&rname, Some(&retag), &edited).await, 204);
    let out = c.run();
    assert_eq!(count(&out, "refresh") + count(&out, "update"), 1, "{out}");
    let up = c.upstream().await;
    let r = up.iter().find(|e| e["id"] == "review00001").unwrap();
    assert_eq!(r["summary"], "Review (moved rooms)");
    assert_eq!(r["location"], "Room 7");
    assert_eq!(
        r["attendees"][0]["email"], "bob@example.org",
        "guests are never rewritten"
    );
    assert_eq!(r["visibility"], "private");
    // A guest's copy of someone else's meeting: only the reminder goes to Google (it refuses
    // the rest, `forbiddenForNonOrganizer`); the client's own title stays in Kith.
    let (pname, petag, party) = c.object_with("SUMMARY:Carol's party").await;
    let edited = party
        .replace("SUMMARY:Carol's party", "SUMMARY:Party (bring cake)")
        .replace("TRIGGER:-PT30M", "TRIGGER:-PT60M");
    assert_eq!(c.put_event(&pname, Some(&petag), &edited).await, 204);
    c.run();
    let up = c.upstream().await;
    let p = up.iter().find(|e| e["id"] == "party000001").unwrap();
    assert_eq!(p["summary"], "Carol's party");
    assert_eq!(p["reminders"]["overrides"][0]["minutes"], 60);
    assert!(
        c.log().await.iter().all(|e| e["status"] != 403),
        "no refused write"
    );
    assert!(
        c.object_with("SUMMARY:Party (bring cake)")
            .await
            .2
            .contains("TRIGGER:-PT60M")
    );
    c.run();
    assert!(
        c.object_with("SUMMARY:Party (bring cake)")
            .await
            .2
            .contains("TRIGGER:-PT60M"),
        "and it stays"
    );
    // An upstream edit later keeps the client's own property.
    c.upsert(vec![json!({"id": "review00001", "summary": "Review (moved rooms)", "location": "Room 9", "description": "Quarterly numbers",
        "start": timed("2026-03-18", "14:00:00"), "end": timed("2026-03-18", "15:00:00"), "visibility": "private",
        "attendees": [{"email": "bob@example.org", "responseStatus": "declined"}], "organizer": {"email": ACCOUNT, "self": true}})])
    .await;
    c.run();
    let (_, _, review) = c.object_with("Review (moved rooms)").await;
    assert!(review.contains("LOCATION:Room 9"), "{review}");
    assert!(review.contains("X-CUSTOM-THING:keep me"), "{review}");
    assert!(
        review.contains("PARTSTAT=DECLINED"),
        "the RSVP shows: {review}"
    );
    // Nothing changed: nothing is written on either side.
    c.clear_log().await;
    let out = c.run();
    assert!(c.writes_under("/calendar/v3").await.is_empty(), "{out}");
    // Runs with nothing to do skip reading the calendar, but never a client's edit made since.
    c.run();
    let (name, etag, text) = c.object_with("Review (moved rooms)").await;
    let edited = text.replace("LOCATION:Room 9", "LOCATION:Room 10");
    assert_eq!(c.put_event(&name, Some(&etag), &edited).await, 204);
    c.run();
    let up = c.upstream().await;
    let r = up.iter().find(|e| e["id"] == "review00001").unwrap();
    assert_eq!(r["location"], "Room 10");
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_merged_not_overwritten() {
    let c = C::start(vec![review()]).await;
    c.run();
    c.rules(&["--direction", "two-way"]);
    let (name, etag, text) = c.object_with("SUMMARY:Review").await;
    let edited = text.replace("SUMMARY:Review", "SUMMARY:Review (Kith)");
    assert_eq!(c.put_event(&name, Some(&etag), &edited).await, 204);
    let plan = c.ok(&["sync", "plan", "work", "--user", "admin"]);
    let run = run_id(&plan);
    // Google's copy changes between the plan and its apply: the planned etag is stale.
    c.upsert(vec![json!({"id": "review00001", "summary": "Review", "location": "Room 5", "description": "Quarterly numbers",
        "start": timed("2026-03-18", "14:00:00"), "end": timed("2026-03-18", "15:00:00"), "visibility": "private",
        "attendees": [{"email": "bob@example.org", "responseStatus": "accepted"}], "organizer": {"email": ACCOUNT, "self": true}})])
    .await;
    c.ok(&["sync", "apply", &run]);
    let up = c.upstream().await;
    let r = up.iter().find(|e| e["id"] == "review00001").unwrap();
    assert_eq!(r["summary"], "Review (Kith)", "the client's edit went up");
    assert_eq!(r["location"], "Room 5", "Google's edit was not overwritten");
    let failed: Vec<Value> = c
        .log()
        .await
        .into_iter()
        .filter(|e| e["status"] == 412)
        .collect();
    assert_eq!(failed.len(), 1, "one conditional write met the stale etag");
}

#[tokio::test]
async fn an_expired_sync_token_and_throttling_lose_nothing_and_duplicate_nothing() {
    let events: Vec<Value> = (0..8)
        .map(|i| {
            json!({"id": format!("ev{i:08}"), "summary": format!("Event {i}"),
                   "start": timed("2026-03-20", &format!("{:02}:00:00", 8 + i)), "end": timed("2026-03-20", &format!("{:02}:30:00", 8 + i))})
        })
        .collect();
    let c = C::start(events).await;
    c.run();
    assert_eq!(c.objects().await.len(), 8);
    // Nothing new: a run reads nothing and plans nothing, and still says what is linked.
    let idle = c.run();
    assert_eq!(count(&idle, "create") + count(&idle, "update"), 0, "{idle}");
    let history = c.ok(&["sync", "history", "--user", "admin"]);
    assert!(
        history.lines().count() >= 3,
        "the idle run is in the history: {history}"
    );
    let before =
        c.s.req("PROPFIND", CAL)
            .header("depth", "0")
            .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>"#)
            .send()
            .await;
    assert_eq!(before.status, 207);
    // Google drops the sync token and re-indexes (new etags everywhere); one event changes.
    c.control("/_fake/calendar/expire", json!({})).await;
    c.control(
        "/_fake/calendar/churn",
        json!({"account": ACCOUNT, "calendar": "primary"}),
    )
    .await;
    c.upsert(vec![
        json!({"id": "ev00000003", "summary": "Event 3 (renamed)",
        "start": timed("2026-03-20", "11:00:00"), "end": timed("2026-03-20", "11:30:00")}),
    ])
    .await;
    // Throttled twice mid-run: backoff, then the run completes.
    c.control("/_fake/calendar/storm", json!({"requests": 2}))
        .await;
    let out = c.run();
    assert_eq!(count(&out, "update"), 1, "{out}");
    assert_eq!(count(&out, "create"), 0, "{out}");
    let objs = c.objects().await;
    assert_eq!(objs.len(), 8, "a full resync makes no duplicates");
    assert!(objs.values().any(|(_, t)| t.contains("Event 3 (renamed)")));
    let throttled = c.log().await.iter().filter(|e| e["status"] == 403).count();
    assert_eq!(throttled, 2);
}

#[tokio::test]
async fn a_mass_delete_upstream_trips_the_guard_and_a_run_can_be_undone() {
    let events: Vec<Value> = (0..10)
        .map(|i| {
            json!({"id": format!("ev{i:08}"), "summary": format!("Event {i}"),
                   "start": timed("2026-03-21", &format!("{:02}:00:00", 8 + i)), "end": timed("2026-03-21", &format!("{:02}:30:00", 8 + i))})
        })
        .collect();
    let c = C::start(events).await;
    let first = c.run();
    assert_eq!(count(&first, "create"), 10, "{first}");
    c.rules(&["--delete-protection", "off", "--allow", "kith:delete"]);
    for i in 0..8 {
        c.control(
            "/_fake/calendar/delete",
            json!({"account": ACCOUNT, "calendar": "primary", "id": format!("ev{i:08}")}),
        )
        .await;
    }
    guard_then_undo(&c).await;
}

/// After 8 of 10 linked events were deleted upstream (delete protection off): the run is paused
/// by the guard and deletes nothing; applied anyway, it leaves 2; undone, all 10 are back.
pub(crate) async fn guard_then_undo(c: &C) {
    let (ok, out, err) = c.cli(&["sync", "run", "work", "--user", "admin"]);
    let all = format!("{out}{err}");
    assert!(!ok || all.contains("paused"), "{all}");
    assert!(
        all.contains("8 of 10 linked events would be unlinked or deleted"),
        "{all}"
    );
    assert_eq!(
        c.objects().await.len(),
        10,
        "a tripped guard deletes nothing"
    );
    // The user looks, and applies it anyway; then undoes it.
    let history = c.ok(&["sync", "history", "--user", "admin"]);
    let paused = history
        .lines()
        .find(|l| l.contains("paused"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{history}"))
        .to_string();
    c.ok(&["sync", "apply", &paused, "--force"]);
    assert_eq!(c.objects().await.len(), 2);
    c.ok(&["sync", "undo", &paused]);
    let objs = c.objects().await;
    assert_eq!(objs.len(), 10, "undo brings the events back");
    assert!(objs.values().any(|(_, t)| t.contains("SUMMARY:Event 0")));
}

#[tokio::test]
async fn an_event_made_in_a_client_is_created_upstream_once_and_a_split_series_is_two() {
    let c = C::start(vec![standup()]).await;
    c.run();
    c.rules(&["--direction", "two-way", "--allow", "source:create"]);
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:made-in-thunderbird\r\nDTSTAMP:20260301T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260325T100000\r\nDTEND;TZID=Europe/Berlin:20260325T110000\r\nSUMMARY:Dentist\r\nCATEGORIES:Personal\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(c.put_event("dentist.ics", None, ics).await, 201);
    assert_eq!(c.put_event("trip.ics", None, TRIP).await, 201);
    c.run();
    c.run();
    let up = c.upstream().await;
    let dentist: Vec<&Value> = up.iter().filter(|e| e["summary"] == "Dentist").collect();
    assert_eq!(dentist.len(), 1, "{up:?}");
    assert_eq!(dentist[0]["start"]["timeZone"], "Europe/Berlin");
    assert_eq!(dentist[0]["start"]["dateTime"], "2026-03-25T10:00:00+01:00");
    // An all-day trip stays whole days: not midnight UTC, not a day early.
    let trip = up.iter().find(|e| e["summary"] == "Trip").unwrap();
    assert_eq!(trip["start"], json!({"date": "2026-04-10"}));
    assert_eq!(trip["end"], json!({"date": "2026-04-13"}));
    let (_, _, back) = c.object_with("SUMMARY:Trip").await;
    assert!(back.contains("DTSTART;VALUE=DATE:20260410"), "{back}");
    // "This and following" in Google: the old series ends, a new one starts.
    c.upsert(vec![
        json!({"id": "standup0001", "summary": "Standup", "start": timed("2026-03-16", "09:00:00"), "end": timed("2026-03-16", "09:15:00"),
               "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260329T215959Z"], "organizer": {"email": ACCOUNT, "self": true}}),
        json!({"id": "standup0001_R20260330T070000", "summary": "Standup (new time)", "start": timed("2026-03-30", "09:30:00"), "end": timed("2026-03-30", "09:45:00"),
               "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2"], "organizer": {"email": ACCOUNT, "self": true}}),
    ])
    .await;
    let out = c.run();
    assert_eq!(count(&out, "create"), 1, "{out}");
    assert_eq!(
        c.instants("SUMMARY:Standup\r").await.len() + c.instants("Standup (new time)").await.len(),
        4,
        "two before the split, two after"
    );
    assert_eq!(c.objects().await.len(), 4);
}

/// The client's override VEVENT moving the 30 March standup to 16:00 Berlin, and an EXDATE
/// cancelling the 6 April one, added to `series` as a client writes them.
pub(crate) fn move_and_cancel(series: &str, uid: &str) -> String {
    let moved = format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260301T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\r\nDTSTART;TZID=Europe/Berlin:20260330T160000\r\nDTEND;TZID=Europe/Berlin:20260330T161500\r\nSUMMARY:Standup (late)\r\nEND:VEVENT\r\nEND:VCALENDAR"
    );
    series
        .replacen(
            "END:VEVENT",
            "EXDATE;TZID=Europe/Berlin:20260406T090000\r\nEND:VEVENT",
            1,
        )
        .replace("END:VCALENDAR", &moved)
}

pub(crate) fn uid_of(ics: &str) -> String {
    ics.lines()
        .find_map(|l| l.strip_prefix("UID:"))
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test]
async fn an_occurrence_moved_or_cancelled_in_a_client_is_written_to_that_occurrence_at_google() {
    let c = C::start(vec![standup()]).await;
    c.run();
    c.rules(&["--direction", "two-way"]);
    let (name, etag, text) = c.object_with("SUMMARY:Standup").await;
    let edited = move_and_cancel(&text, &uid_of(&text));
    assert_eq!(c.put_event(&name, Some(&etag), &edited).await, 204);
    c.run();
    let up = c.upstream().await;
    let moved = up
        .iter()
        .find(|e| e["id"] == "standup0001_20260330T070000Z")
        .unwrap_or_else(|| panic!("no exception at Google: {up:?}"));
    assert_eq!(moved["summary"], "Standup (late)");
    assert_eq!(moved["start"]["dateTime"], "2026-03-30T16:00:00+02:00");
    assert_eq!(moved["recurringEventId"], "standup0001");
    let master = up.iter().find(|e| e["id"] == "standup0001").unwrap();
    assert!(
        master["recurrence"]
            .to_string()
            .contains("EXDATE;TZID=Europe/Berlin:20260406T090000"),
        "{master}"
    );
    // Kith and Google now agree: the next run writes nothing, and the client's copy stands.
    c.clear_log().await;
    c.run();
    assert!(c.writes_under("/calendar/v3").await.is_empty());
    assert_eq!(
        c.instants("SUMMARY:Standup").await,
        ["20260316T080000Z", "20260323T080000Z", "20260330T140000Z"]
    );
    // The client takes the move back: the occurrence is the series' own again.
    let (name, etag, text) = c.object_with("SUMMARY:Standup").await;
    let cut = text.find("BEGIN:VEVENT\r\nUID").unwrap();
    let override_at = text[cut + 10..].find("BEGIN:VEVENT").unwrap() + cut + 10;
    let end = text[override_at..].find("END:VEVENT\r\n").unwrap() + override_at + 12;
    let reverted = format!("{}{}", &text[..override_at], &text[end..]);
    assert_eq!(c.put_event(&name, Some(&etag), &reverted).await, 204);
    c.run();
    let up = c.upstream().await;
    let back = up
        .iter()
        .find(|e| e["id"] == "standup0001_20260330T070000Z")
        .unwrap();
    assert_eq!(back["start"]["dateTime"], "2026-03-30T09:00:00+02:00");
    assert_eq!(back["summary"], "Standup");
}

/// Google's usage limits make a calendar read-only for a while: the run stops with what to do,
/// the client's edit waits in Kith, and a later run writes it. A listing that suddenly comes
/// back empty trips the guard and deletes nothing.
#[tokio::test]
async fn usage_limits_and_an_empty_listing_lose_nothing() {
    let c = C::start(vec![standup(), review()]).await;
    c.run();
    c.rules(&["--direction", "two-way"]);
    let (name, etag, text) = c.object_with("SUMMARY:Review").await;
    let edited = text.replace("SUMMARY:Review", "SUMMARY:Review (Kith)");
    assert_eq!(c.put_event(&name, Some(&etag), &edited).await, 204);
    c.control("/_fake/calendar/usage-limit", json!({"minutes": 60}))
        .await;
    let (ok, out, err) = c.cli(&["sync", "run", "work", "--user", "admin"]);
    assert!(!ok, "{out}");
    assert!(err.contains("read-only for a while"), "{err}");
    assert!(err.contains("Nothing is lost"), "{err}");
    let quota = c.log().await.iter().filter(|e| e["status"] == 403).count();
    assert_eq!(quota, 1, "one refused write, not a retry storm");
    assert!(
        c.object_with("SUMMARY:Review (Kith)")
            .await
            .2
            .contains("Review (Kith)")
    );
    c.control("/_fake/clock", json!({"advance_secs": 3700}))
        .await;
    c.run();
    let up = c.upstream().await;
    let r = up.iter().find(|e| e["id"] == "review00001").unwrap();
    assert_eq!(
        r["summary"], "Review (Kith)",
        "written once the limit lifts"
    );

    // The listing after an expired token comes back empty: the guard trips, nothing goes.
    c.rules(&["--delete-protection", "off", "--allow", "kith:delete"]);
    c.control("/_fake/calendar/expire", json!({})).await;
    c.control("/_fake/calendar/empty", json!({"listings": 1}))
        .await;
    let (_, out, err) = c.cli(&["sync", "run", "work", "--user", "admin"]);
    assert!(
        out.contains("Guard empty-side: the source yielded no events but 2 are linked"),
        "{out}{err}"
    );
    assert_eq!(c.objects().await.len(), 2);
    c.run();
    assert_eq!(c.objects().await.len(), 2);
    assert_eq!(
        c.upstream().await.len(),
        2,
        "and nothing was deleted at Google"
    );
}
