//! Microsoft 365 calendar sources end to end: a real `kith serve` and CLI against the fake
//! Graph. Each test checks what a CalDAV client then sees.

use crate::calendars::*;
use crate::common::upstream::*;
use serde_json::{Value, json};

pub(crate) const MS: &str = "ada@contoso.example";
pub(crate) const W: &str = "W. Europe Standard Time";

/// A Graph `dateTimeTimeZone`.
pub(crate) fn at(d: &str, t: &str, z: &str) -> Value {
    json!({"dateTime": format!("{d}T{t}.0000000"), "timeZone": z})
}

/// Weekly on Mondays from 16 March 2026, four times, made in Outlook in Berlin's zone.
fn standup() -> Value {
    json!({"id": "AAMkStandup", "subject": "Standup", "start": at("2026-03-16", "09:00:00", W), "end": at("2026-03-16", "09:15:00", W),
         "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                        "range": {"type": "numbered", "numberOfOccurrences": 4, "startDate": "2026-03-16", "recurrenceTimeZone": W}},
         "isReminderOn": true, "reminderMinutesBeforeStart": 10, "isOrganizer": true, "organizer": {"emailAddress": {"address": MS}}})
}

impl C {
    /// A server, Microsoft 365 enabled, and the mailbox's calendar `AAMkCal1` holding
    /// `events`, connected as source "work" filling Kith calendar "work".
    pub(crate) async fn outlook(events: Value) -> C {
        let (fake, _) = kith_fakes::m365::spawn();
        let config = format!(
            r#"[providers]
wait_scale = 0.01
[providers.m365]
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "fake-m365-secret"
redirect_base = "http://kith.test"
authority_url = "{fake}"
graph_url = "{fake}/v1.0"
page_size = 3
retry_base = "100ms"
"#
        );
        let c = C(Upstream::start(fake, config, None, "work"));
        c.control("/_fake/config", json!({"time_scale": 100.0}))
            .await;
        c.control(
            "/_fake/user",
            json!({"account": MS, "tenant": "contoso", "time_zone": W}),
        )
        .await;
        c.control(
            "/_fake/calendar/calendars",
            json!({"account": MS, "id": "AAMkCal1", "name": "Calendar"}),
        )
        .await;
        c.outlook_upsert(events).await;
        c.ok(&["provider", "enable", "m365"]);
        c.control("/_fake/signin", json!({"account": MS})).await;
        let out = c.ok(&[
            "source", "calendar", "m365", "--user", "admin", "--into", "work",
        ]);
        let url = out
            .lines()
            .find(|l| l.starts_with("http"))
            .unwrap()
            .to_string();
        let back = c.back_from(&url).await;
        let cb = c.s.anon("GET", &back).send().await;
        assert_eq!(cb.status, 200, "{}", cb.text());
        c
    }

    /// Events written as Outlook would (an exception names `seriesMasterId` and
    /// `originalStart`).
    pub(crate) async fn outlook_upsert(&self, events: Value) {
        self.control(
            "/_fake/calendar/events",
            json!({"account": MS, "calendar": "AAMkCal1", "events": events}),
        )
        .await;
    }
}

/// Microsoft 365: a series made in Outlook in `W. Europe Standard Time` with a moved and a
/// cancelled occurrence, an all-day event in a zone behind UTC, client edits pushed with
/// If-Match, and an evicted delta token.
#[tokio::test]
async fn an_outlook_calendar_arrives_whole_and_edits_flow_both_ways() {
    let c = C::outlook(json!([
        {"id": "AAMkStandup", "subject": "Standup", "start": at("2026-03-16", "09:00:00", W), "end": at("2026-03-16", "09:15:00", W),
         "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                        "range": {"type": "numbered", "numberOfOccurrences": 4, "startDate": "2026-03-16", "recurrenceTimeZone": W}},
         "isReminderOn": true, "reminderMinutesBeforeStart": 10, "isOrganizer": true, "organizer": {"emailAddress": {"address": MS}}},
        {"id": "AAMkExc1", "seriesMasterId": "AAMkStandup", "originalStart": "2026-03-23T08:00:00Z", "subject": "Standup (moved)",
         "start": at("2026-03-23", "11:00:00", W), "end": at("2026-03-23", "11:15:00", W)},
        {"id": "AAMkOffsite", "subject": "Offsite", "isAllDay": true, "start": at("2026-04-01", "00:00:00", "Pacific Standard Time"),
         "end": at("2026-04-03", "00:00:00", "Pacific Standard Time"), "showAs": "free"},
        {"id": "AAMkTokyo", "subject": "Tokyo trip", "isAllDay": true, "start": at("2026-05-10", "00:00:00", "Tokyo Standard Time"),
         "end": at("2026-05-13", "00:00:00", "Tokyo Standard Time")},
        {"id": "AAMkReview", "subject": "Review", "body": {"contentType": "html", "content": "<p>Quarterly &amp; numbers</p>"},
         "location": {"displayName": "Room 4"}, "start": at("2026-03-18", "14:00:00", W), "end": at("2026-03-18", "15:00:00", W),
         "sensitivity": "private", "isOrganizer": false, "organizer": {"emailAddress": {"address": "carol@contoso.example"}},
         "attendees": [{"emailAddress": {"address": "bob@contoso.example"}, "status": {"response": "accepted"}}]}
    ])).await;
    c.control(
        "/_fake/calendar/cancel",
        json!({"account": MS, "id": "AAMkStandup", "originalStart": "2026-04-06T07:00:00Z"}),
    )
    .await;

    let first = c.run();
    assert_eq!(count(&first, "create"), 4, "{first}");
    let (_, _, standup) = c.object_with("SUMMARY:Standup").await;
    assert!(
        standup.contains("DTSTART;TZID=Europe/Berlin:20260316T090000"),
        "{standup}"
    );
    assert!(
        standup.contains("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"),
        "{standup}"
    );
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
        "wall time kept across DST; moved and cancelled occurrences as in Outlook"
    );
    let (_, _, offsite) = c.object_with("SUMMARY:Offsite").await;
    assert!(
        offsite.contains("DTSTART;VALUE=DATE:20260401"),
        "a day behind UTC stays the day: {offsite}"
    );
    assert!(offsite.contains("DTEND;VALUE=DATE:20260403"), "{offsite}");
    let (_, _, tokyo) = c.object_with("SUMMARY:Tokyo trip").await;
    assert!(
        tokyo.contains("DTSTART;VALUE=DATE:20260510"),
        "a day ahead of UTC too: {tokyo}"
    );
    assert!(tokyo.contains("DTEND;VALUE=DATE:20260513"), "{tokyo}");
    // Outlook moves another occurrence; Graph throttles twice (429 with Retry-After) mid-run.
    c.outlook_upsert(json!([{"id": "AAMkExc2", "seriesMasterId": "AAMkStandup", "originalStart": "2026-03-30T07:00:00Z",
        "subject": "Standup (late)", "start": at("2026-03-30", "16:00:00", W), "end": at("2026-03-30", "16:15:00", W)}]))
    .await;
    c.control("/_fake/config", json!({"storm": 2, "retry_after_secs": 5}))
        .await;
    let out = c.run();
    assert_eq!(count(&out, "update"), 1, "{out}");
    assert_eq!(
        c.instants("SUMMARY:Standup").await,
        ["20260316T080000Z", "20260323T100000Z", "20260330T140000Z"],
    );
    assert_eq!(
        c.log().await.iter().filter(|e| e["status"] == 429).count(),
        2
    );
    let (rname, retag, review) = c.object_with("SUMMARY:Review").await;
    assert!(
        review.contains("DESCRIPTION:Quarterly & numbers"),
        "{review}"
    );
    assert!(review.contains("CLASS:PRIVATE"), "{review}");
    assert!(
        review.contains("ORGANIZER:mailto:carol@contoso.example"),
        "{review}"
    );

    // A client edit goes to Outlook, conditional on the changeKey: Outlook's own edit made
    // between the plan and its apply meets a 412, is read again and merged.
    c.rules(&["--direction", "two-way"]);
    let (oname, oetag, offsite) = c.object_with("SUMMARY:Offsite").await;
    let edited = offsite.replace("SUMMARY:Offsite", "SUMMARY:Offsite (Kith)");
    assert_eq!(c.put_event(&oname, Some(&oetag), &edited).await, 204);
    let plan = c.ok(&["sync", "plan", "work", "--user", "admin"]);
    let run = run_id(&plan);
    c.outlook_upsert(json!([{"id": "AAMkOffsite", "subject": "Offsite", "isAllDay": true, "location": {"displayName": "Lake house"},
        "start": at("2026-04-01", "00:00:00", "Pacific Standard Time"), "end": at("2026-04-03", "00:00:00", "Pacific Standard Time"), "showAs": "free"}]))
    .await;
    c.clear_log().await;
    c.ok(&["sync", "apply", &run]);
    let up = graph_events(&c, MS).await;
    let o = up.iter().find(|e| e["id"] == "AAMkOffsite").unwrap();
    assert_eq!(o["subject"], "Offsite (Kith)", "the client's edit went up");
    assert_eq!(
        o["location"]["displayName"], "Lake house",
        "Outlook's edit was not overwritten"
    );
    assert_eq!(
        c.log().await.iter().filter(|e| e["status"] == 412).count(),
        1,
        "one conditional write met the stale changeKey"
    );

    // A guest's copy of Carol's meeting: only the guest's own reminder goes to Outlook (the
    // organizer's mailbox owns the rest); the client's title stays in Kith.
    let edited = review.replace("SUMMARY:Review", "SUMMARY:Review (Kith)").replace(
        "END:VEVENT",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Review\r\nTRIGGER:-PT20M\r\nEND:VALARM\r\nEND:VEVENT",
    );
    assert_eq!(c.put_event(&rname, Some(&retag), &edited).await, 204);
    c.clear_log().await;
    c.run();
    let up = graph_events(&c, MS).await;
    let r = up.iter().find(|e| e["id"] == "AAMkReview").unwrap();
    assert_eq!(r["subject"], "Review");
    assert_eq!(r["reminderMinutesBeforeStart"], 20);
    assert_eq!(r["isReminderOn"], true);
    assert_eq!(
        r["attendees"][0]["emailAddress"]["address"], "bob@contoso.example",
        "guests untouched"
    );
    let writes = c.writes_under("/v1.0/me/events").await;
    assert_eq!(writes, ["PATCH /v1.0/me/events/AAMkReview"], "{writes:?}");
    assert!(
        c.object_with("SUMMARY:Review (Kith)")
            .await
            .2
            .contains("TRIGGER:-PT20M")
    );
    c.clear_log().await;
    c.run();
    assert!(
        c.writes_under("/v1.0/me").await.is_empty(),
        "and nothing more"
    );

    // Outlook edits the series and cancels another occurrence; the delta token is evicted.
    c.control(
        "/_fake/calendar/cancel",
        json!({"account": MS, "id": "AAMkStandup", "originalStart": "2026-03-30T07:00:00Z"}),
    )
    .await;
    c.outlook_upsert(json!([{"id": "AAMkStandup", "subject": "Daily standup", "start": at("2026-03-16", "09:00:00", W), "end": at("2026-03-16", "09:15:00", W),
         "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                        "range": {"type": "numbered", "numberOfOccurrences": 4, "startDate": "2026-03-16", "recurrenceTimeZone": W}},
         "isReminderOn": true, "reminderMinutesBeforeStart": 10, "isOrganizer": true, "organizer": {"emailAddress": {"address": MS}}}]))
    .await;
    let out = c.run();
    assert_eq!(count(&out, "update"), 1, "{out}");
    assert_eq!(
        c.instants("Daily standup").await,
        ["20260316T080000Z", "20260323T100000Z"],
        "the series' new title, and the occurrence cancelled since (no delta row of its own)"
    );
    let (_, _, daily) = c.object_with("SUMMARY:Daily standup").await;
    assert!(
        daily.contains("20260330T090000"),
        "the newly cancelled occurrence: {daily}"
    );
    c.control("/_fake/calendar/evict", json!({})).await;
    let out = c.run();
    assert_eq!(count(&out, "create"), 0, "{out}");
    assert_eq!(
        c.objects().await.len(),
        4,
        "a re-baseline duplicates nothing"
    );
    assert_eq!(
        c.get("/_fake/calendar/mail").await["mail"],
        json!([]),
        "no sync mails anyone"
    );
}

#[tokio::test]
async fn an_occurrence_moved_or_cancelled_in_a_client_is_written_to_that_occurrence_in_outlook() {
    let c = C::outlook(json!([standup()])).await;
    c.run();
    c.rules(&["--direction", "two-way"]);
    let (name, etag, text) = c.object_with("SUMMARY:Standup").await;
    let edited = move_and_cancel(&text, &uid_of(&text));
    assert_eq!(c.put_event(&name, Some(&etag), &edited).await, 204);
    c.clear_log().await;
    c.run();
    let writes = c.writes_under("/v1.0/me/events").await;
    assert_eq!(
        writes,
        [
            "DELETE /v1.0/me/events/AAMkStandup%5FOCC%5F20260406T070000Z",
            "PATCH /v1.0/me/events/AAMkStandup%5FOCC%5F20260330T070000Z"
        ],
        "the occurrences themselves; the series' pattern is not restated"
    );
    let up = graph_events(&c, MS).await;
    let master = up.iter().find(|e| e["id"] == "AAMkStandup").unwrap();
    assert_eq!(
        master["cancelledOccurrences"],
        json!(["2026-04-06T07:00:00Z"])
    );
    let moved = up
        .iter()
        .find(|e| e["type"] == "exception")
        .unwrap_or_else(|| panic!("no exception in Outlook: {up:?}"));
    assert_eq!(moved["subject"], "Standup (late)");
    assert_eq!(moved["start"]["dateTime"], "2026-03-30T14:00:00.0000000");
    assert_eq!(moved["originalStart"], "2026-03-30T07:00:00Z");
    // Kith and Outlook agree: the next run writes nothing, and the client's copy stands.
    c.clear_log().await;
    c.run();
    assert!(c.writes_under("/v1.0/me").await.is_empty());
    assert_eq!(
        c.instants("SUMMARY:Standup").await,
        ["20260316T080000Z", "20260323T080000Z", "20260330T140000Z"]
    );
    // Outlook cannot move an occurrence onto its neighbour's day: the run says so, and the
    // move stays in Kith.
    let (name, etag, text) = c.object_with("SUMMARY:Standup").await;
    let onto = text.replace(
        "SUMMARY:Standup (late)",
        "SUMMARY:Standup (late)\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:X\r\nDTSTAMP:20260301T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\r\nDTSTART;TZID=Europe/Berlin:20260316T120000\r\nDTEND;TZID=Europe/Berlin:20260316T121500\r\nSUMMARY:Standup (too early)",
    ).replace("UID:X", &format!("UID:{}", uid_of(&text)));
    assert_eq!(c.put_event(&name, Some(&etag), &onto).await, 204);
    let (_, out, err) = c.cli(&["sync", "run", "work", "--user", "admin"]);
    assert!(
        format!("{out}{err}").contains("onto or past the day of the occurrence before or after it"),
        "{out}{err}"
    );
    assert!(
        c.object_with("Standup (too early)")
            .await
            .2
            .contains("20260316T120000"),
        "Kith keeps the client's move"
    );
    assert_eq!(
        c.log().await.iter().filter(|e| e["status"] == 400).count(),
        1
    );
}

#[tokio::test]
async fn a_series_split_in_outlook_is_two_series_and_a_client_event_is_created_once() {
    let c = C::outlook(json!([standup()])).await;
    c.run();
    // "This and following" in Outlook: the old series ends, a new one starts.
    let mut old = standup();
    old["recurrence"]["range"] = json!({"type": "endDate", "startDate": "2026-03-16", "endDate": "2026-03-29", "recurrenceTimeZone": W});
    c.outlook_upsert(json!([old, {"id": "AAMkStandup2", "subject": "Standup (new time)",
        "start": at("2026-03-30", "09:30:00", W), "end": at("2026-03-30", "09:45:00", W),
        "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                       "range": {"type": "numbered", "numberOfOccurrences": 2, "startDate": "2026-03-30", "recurrenceTimeZone": W}},
        "isOrganizer": true, "organizer": {"emailAddress": {"address": MS}}}]))
    .await;
    let out = c.run();
    assert_eq!(count(&out, "create"), 1, "{out}");
    assert_eq!(count(&out, "update"), 1, "{out}");
    assert_eq!(
        c.instants("SUMMARY:Standup\r").await,
        ["20260316T080000Z", "20260323T080000Z"]
    );
    assert_eq!(
        c.instants("Standup (new time)").await,
        ["20260330T073000Z", "20260406T073000Z"]
    );
    assert_eq!(c.objects().await.len(), 2);

    // An event made in a client reaches Outlook once, however often runs go.
    c.rules(&["--direction", "two-way", "--allow", "source:create"]);
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:made-in-thunderbird\r\nDTSTAMP:20260301T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260325T100000\r\nDTEND;TZID=Europe/Berlin:20260325T110000\r\nSUMMARY:Dentist\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:dr.who@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(c.put_event("dentist.ics", None, ics).await, 201);
    assert_eq!(c.put_event("trip.ics", None, TRIP).await, 201);
    c.run();
    c.run();
    let up = graph_events(&c, MS).await;
    // An all-day trip stays whole days in Outlook, whatever the mailbox's zone.
    let trip = up.iter().find(|e| e["subject"] == "Trip").unwrap();
    assert_eq!(trip["isAllDay"], true);
    assert_eq!(trip["start"]["dateTime"], "2026-04-10T00:00:00");
    assert_eq!(trip["end"]["dateTime"], "2026-04-13T00:00:00");
    let (_, _, back) = c.object_with("SUMMARY:Trip").await;
    assert!(back.contains("DTEND;VALUE=DATE:20260413"), "{back}");
    let dentist: Vec<&Value> = up.iter().filter(|e| e["subject"] == "Dentist").collect();
    assert_eq!(dentist.len(), 1, "{up:?}");
    assert_eq!(
        dentist[0]["start"]["dateTime"],
        "2026-03-25T09:00:00.0000000"
    );
    assert_eq!(dentist[0]["originalStartTimeZone"], W);
    assert!(
        dentist[0]["attendees"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "guest lists are never written"
    );
    assert_eq!(
        c.get("/_fake/calendar/mail").await["mail"],
        json!([]),
        "so nobody is mailed"
    );
    assert_eq!(
        c.objects().await.len(),
        4,
        "and is not pulled back as a second"
    );
}

#[tokio::test]
async fn an_empty_listing_or_a_mass_delete_in_outlook_trips_the_guard_and_a_run_can_be_undone() {
    let events: Vec<Value> = (0..10)
        .map(|i| {
            json!({"id": format!("AAMkEv{i}"), "subject": format!("Event {i}"),
                   "start": at("2026-03-21", &format!("{:02}:00:00", 8 + i), W), "end": at("2026-03-21", &format!("{:02}:30:00", 8 + i), W)})
        })
        .collect();
    let c = C::outlook(json!(events)).await;
    assert_eq!(count(&c.run(), "create"), 10);
    c.rules(&["--delete-protection", "off", "--allow", "kith:delete"]);
    // A re-baseline whose listing comes back empty: the guard trips, nothing goes.
    c.control("/_fake/calendar/evict", json!({})).await;
    c.control("/_fake/calendar/empty", json!({"listings": 1}))
        .await;
    let (_, out, _) = c.cli(&["sync", "run", "work", "--user", "admin"]);
    assert!(out.contains("Guard empty-side"), "{out}");
    assert_eq!(c.objects().await.len(), 10);
    c.run();
    for i in 0..8 {
        c.control(
            "/_fake/calendar/delete",
            json!({"account": MS, "id": format!("AAMkEv{i}")}),
        )
        .await;
    }
    guard_then_undo(&c).await;
}

/// The fake Graph keeps Outlook's calendar rules, so Kith is tested against them: recurrence
/// patterns are checked, an occurrence cannot cross its neighbour's day, a create with
/// guests sends invitations (and Kith's syncs send none).
#[tokio::test]
async fn the_fake_keeps_outlooks_calendar_rules() {
    let c = C::outlook(json!([standup()])).await;
    let token = c.control("/_fake/tokens", json!({"account": MS})).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let post = |body: Value| {
        let (c, token) = (&c, token.clone());
        async move {
            let r = c
                .http
                .post(format!("{}/v1.0/me/calendars/AAMkCal1/events", c.fake))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let with = |pattern: Value, range: Value| {
        json!({"subject": "x", "start": at("2026-03-16", "09:00:00", W), "end": at("2026-03-16", "10:00:00", W),
               "recurrence": {"pattern": pattern, "range": range}})
    };
    let weekly = json!({"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]});
    let (s, e) = post(with(
        weekly.clone(),
        json!({"type": "numbered", "startDate": "16/03/2026", "numberOfOccurrences": 2}),
    ))
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("UnableToDeserializePostBody"))
    );
    let (s, e) = post(with(
        json!({"type": "weekly", "interval": 1}),
        json!({"type": "noEnd", "startDate": "2026-03-16"}),
    ))
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("ErrorPropertyValidationFailure"))
    );
    let (s, e) = post(with(
        weekly.clone(),
        json!({"type": "endDate", "startDate": "2026-03-16", "endDate": "2026-03-01"}),
    ))
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("ErrorPropertyValidationFailure"))
    );
    let (s, _) = post(with(
        weekly,
        json!({"type": "numbered", "startDate": "2026-03-16", "numberOfOccurrences": 2}),
    ))
    .await;
    assert_eq!(s, 201);
    // An occurrence moved onto the next one's day is refused.
    let r = c
        .http
        .patch(format!("{}/v1.0/me/events/AAMkStandup_OCC_20260316T080000Z", c.fake))
        .bearer_auth(&token)
        .json(&json!({"start": at("2026-03-23", "12:00:00", W), "end": at("2026-03-23", "12:15:00", W)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "ErrorOccurrenceCrossingBoundary");
    // Within its own days it moves, and becomes an exception.
    let r = c
        .http
        .patch(format!("{}/v1.0/me/events/AAMkStandup_OCC_20260316T080000Z", c.fake))
        .bearer_auth(&token)
        .json(&json!({"start": at("2026-03-17", "12:00:00", W), "end": at("2026-03-17", "12:15:00", W)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["type"], "exception");
    assert_eq!(e["originalStart"], "2026-03-16T08:00:00Z");
    // A create with guests is a send: Outlook mails the invitation.
    assert!(
        c.get("/_fake/calendar/mail").await["mail"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let mut meeting = with(Value::Null, Value::Null);
    meeting["recurrence"] = Value::Null;
    meeting["attendees"] =
        json!([{"emailAddress": {"address": "bob@contoso.example"}, "type": "required"}]);
    assert_eq!(post(meeting).await.0, 201);
    let mail = c.get("/_fake/calendar/mail").await;
    assert_eq!(mail["mail"][0]["kind"], "invitation");
    assert_eq!(mail["mail"][0]["to"], json!(["bob@contoso.example"]));
}
