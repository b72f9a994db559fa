//! One Microsoft 365 calendar as a source of events. Graph's `calendarView/delta` says which
//! series changed inside a window (its occurrence rows are stubs, and a deleted occurrence
//! leaves no row), so it is used as a trigger: a changed series is read whole again, master
//! and `/instances`, and its cancelled occurrences are those its pattern makes that Graph no
//! longer lists. A full listing re-baselines the window every 30 days and after an evicted
//! token; it infers no deletes.

use super::api::{Api, ApiError, Config, enc};
use super::event::{self, FIELDS};
use crate::connector::{Connector, ConnectorError, FeedCursor, Fetched};
use crate::event::when::When;
use crate::formats::SourceItem;
use crate::oauth::TokenSink;
use crate::oauth::{self, OAuthError, Started, Tokens};
use crate::record::{Field, Record};
use async_trait::async_trait;
use chrono::NaiveDateTime;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const SCOPE: &str = "https://graph.microsoft.com/Calendars.ReadWrite";
pub const SCOPES: &[&str] = &["offline_access", "openid", "profile", "email", SCOPE];

/// The named property holding Kith's name for an event it created.
pub const MARKER_ID: &str = "String {6f0a7c3e-6c1b-4c1e-9a51-4b1d2e3f5a70} Name KithEvent";

/// How far back and ahead the window reaches (days), and how often it is re-baselined.
const BEHIND_DAYS: i64 = 365;
const AHEAD_DAYS: i64 = 730;
const REBASE_MS: i64 = 30 * 24 * 3600 * 1000;

pub fn start(cfg: &Config) -> Result<Started, OAuthError> {
    oauth::start(
        &cfg.app,
        SCOPES,
        &[("response_mode", "query"), ("prompt", "select_account")],
    )
}

pub async fn finish(
    cfg: &Config,
    code: &str,
    verifier: &str,
) -> Result<super::Finished, OAuthError> {
    super::finish_for(cfg, code, verifier, "calendars.readwrite").await
}

pub struct CalendarConnector {
    api: Api,
    calendar: String,
    from: NaiveDateTime,
    to: NaiveDateTime,
}

fn iso(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse_utc(s: &str) -> Option<NaiveDateTime> {
    let whole = s.split('.').next()?.trim_end_matches('Z');
    NaiveDateTime::parse_from_str(whole, "%Y-%m-%dT%H:%M:%S").ok()
}

/// The UTC starts the series' rule makes in [from, to), through calcard's expansion.
fn expected(
    rule: &str,
    start: &When,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Vec<NaiveDateTime> {
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\n{}\r\nRRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        start.ical_line("DTSTART")
    );
    let mut p = calcard::Parser::new(&ics);
    let calcard::Entry::ICalendar(cal) = p.entry() else {
        return Vec::new();
    };
    cal.expand_dates(calcard::common::timezone::Tz::UTC, 5000)
        .events
        .into_iter()
        .map(|e| e.start.naive_utc())
        .filter(|t| *t >= from && *t < to)
        .collect()
}

impl CalendarConnector {
    pub fn new(cfg: Arc<Config>, tokens: Tokens, sink: Arc<dyn TokenSink>, calendar: &str) -> Self {
        let now = chrono::Utc::now().naive_utc();
        CalendarConnector {
            api: Api::new(cfg, tokens, sink),
            calendar: calendar.to_string(),
            from: now - chrono::Duration::days(BEHIND_DAYS),
            to: now + chrono::Duration::days(AHEAD_DAYS),
        }
    }

    /// The account's calendars: id, name, color, and whether Kith may write to it.
    pub async fn calendars(
        &mut self,
    ) -> Result<Vec<crate::google::calendar::Listed>, ConnectorError> {
        let v = self
            .api
            .call(Method::GET, "/me/calendars", None, None)
            .await
            .map_err(calendar_error)?;
        let mut list: Vec<&Value> = v["value"].as_array().into_iter().flatten().collect();
        // The mailbox's default calendar first: what "primary" means here.
        list.sort_by_key(|c| c["isDefaultCalendar"] != true);
        Ok(list
            .into_iter()
            .filter_map(|c| {
                Some(crate::google::calendar::Listed {
                    id: c["id"].as_str()?.to_string(),
                    name: c["name"].as_str().unwrap_or("").to_string(),
                    color: c["hexColor"]
                        .as_str()
                        .filter(|h| !h.is_empty())
                        .map(str::to_string),
                    writable: c["canEdit"] != false,
                })
            })
            .collect())
    }

    /// Every page from `target` on; the deltaLink the last page carries.
    async fn pages(&mut self, target: &str) -> Result<(Vec<Value>, Option<String>), ApiError> {
        self.walk(target, true).await
    }

    /// Pages from `target` to the end, keeping their rows only if `keep` (a new delta round
    /// is walked for where it ends, and its rows would be most of a first pull's memory).
    async fn walk(
        &mut self,
        target: &str,
        keep: bool,
    ) -> Result<(Vec<Value>, Option<String>), ApiError> {
        let mut rows = Vec::new();
        let mut next = target.to_string();
        loop {
            let mut v = self.api.call(Method::GET, &next, None, None).await?;
            if keep && let Value::Array(page) = v["value"].take() {
                rows.extend(page);
            }
            match v["@odata.nextLink"].as_str() {
                Some(n) => next = n.to_string(),
                None => return Ok((rows, v["@odata.deltaLink"].as_str().map(str::to_string))),
            }
        }
    }

    fn window(&self) -> String {
        format!(
            "startDateTime={}&endDateTime={}",
            iso(&self.from),
            iso(&self.to)
        )
    }

    /// A series (or single event) as it is now, read whole: the master and, for a series, its
    /// occurrences and exceptions inside the window.
    async fn rows(&mut self, id: &str) -> Result<Option<(Value, Vec<Value>)>, ApiError> {
        let m = match self
            .api
            .call(Method::GET, &format!("/me/events/{}", enc(id)), None, None)
            .await
        {
            Ok(m) => m,
            Err(ApiError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let rows = self.instances(&m).await?;
        Ok(Some((m, rows)))
    }

    async fn series(&mut self, id: &str) -> Result<Option<SourceItem>, ApiError> {
        Ok(self.rows(id).await?.map(|(m, rows)| self.item(&m, rows)))
    }

    async fn instances(&mut self, master: &Value) -> Result<Vec<Value>, ApiError> {
        if master["type"] != "seriesMaster" {
            return Ok(Vec::new());
        }
        let id = master["id"].as_str().unwrap_or("");
        let target = format!("/me/events/{}/instances?{}", enc(id), self.window());
        Ok(self.pages(&target).await?.0)
    }

    fn item(&self, master: &Value, rows: Vec<Value>) -> SourceItem {
        let id = master["id"].as_str().unwrap_or("").to_string();
        let mut exceptions = Vec::new();
        let mut cancelled = Vec::new();
        if master["type"] == "seriesMaster" {
            let present: BTreeSet<NaiveDateTime> = rows
                .iter()
                .filter_map(|r| parse_utc(r["originalStart"].as_str()?))
                .collect();
            let start = event::series_start(master);
            let rule = start
                .as_ref()
                .and_then(|s| super::recurrence::from_graph(master.get("recurrence")?, s));
            if let (Some(s), Some(rule)) = (start, rule) {
                cancelled = expected(&rule, &s, self.from, self.to)
                    .into_iter()
                    .filter(|t| !present.contains(t))
                    .collect();
            }
            exceptions = rows
                .into_iter()
                .filter(|r| r["type"] == "exception")
                .collect();
        }
        let ex: Vec<&Value> = exceptions.iter().collect();
        let record = event::to_record(master, &ex, &cancelled);
        let marker = master["singleValueExtendedProperties"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["id"]
                    .as_str()
                    .is_some_and(|i| i.eq_ignore_ascii_case(MARKER_ID))
            })
            .and_then(|p| p["value"].as_str())
            .map(str::to_string);
        SourceItem {
            id,
            record,
            line: 0,
            raw: None,
            etag: master["@odata.etag"].as_str().map(str::to_string),
            marker,
        }
    }

    async fn full(&mut self) -> Result<Fetched, ConnectorError> {
        let target = format!(
            "/me/calendars/{}/events?$expand=singleValueExtendedProperties($filter=id eq '{MARKER_ID}')",
            enc(&self.calendar)
        );
        let (rows, _) = self.pages(&target).await.map_err(calendar_error)?;
        let mut items = Vec::new();
        for m in rows {
            let occurrences = self.instances(&m).await.map_err(calendar_error)?;
            items.push(self.item(&m, occurrences));
        }
        // A new delta round from now: its rows are not needed, only where it ends.
        let start = format!(
            "/me/calendars/{}/calendarView/delta?{}",
            enc(&self.calendar),
            self.window()
        );
        let (_, link) = self.walk(&start, false).await.map_err(calendar_error)?;
        Ok(Fetched {
            items,
            complete: true,
            full: true,
            resync: true,
            cursor: FeedCursor::begin(link),
            ..Fetched::default()
        })
    }
}

fn calendar_error(e: ApiError) -> ConnectorError {
    match e {
        ApiError::Reauth(m) if m.contains("403") || m.to_lowercase().contains("access") => {
            ConnectorError::NeedsReauth(format!(
                "Microsoft 365 did not let Kith read the calendar (Calendars.ReadWrite); connect the calendar again and accept it ({m})"
            ))
        }
        e => ConnectorError::from(e),
    }
}

#[async_trait]
impl Connector for CalendarConnector {
    fn fields(&self) -> &'static [Field] {
        &FIELDS
    }

    async fn watch(
        &mut self,
        req: &crate::watch::WatchRequest,
    ) -> Result<Vec<crate::watch::Watch>, ConnectorError> {
        let resource = format!("me/calendars/{}/events", self.calendar);
        Ok(vec![
            super::watch::subscribe(&mut self.api, &resource, req).await?,
        ])
    }

    async fn renew_watch(
        &mut self,
        w: &crate::watch::Watch,
        req: &crate::watch::WatchRequest,
    ) -> Result<crate::watch::Watch, ConnectorError> {
        super::watch::renew(&mut self.api, w, req).await
    }

    async fn unwatch(&mut self, w: &crate::watch::Watch) -> Result<(), ConnectorError> {
        super::watch::unsubscribe(&mut self.api, w).await
    }

    fn writable(&self) -> bool {
        true
    }

    fn fit(&self, record: Record) -> Record {
        event::fit(record, self.api.session.account())
    }

    async fn changes(&mut self, cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let Some(c) = FeedCursor::resume(cursor, REBASE_MS) else {
            return self.full().await;
        };
        let (rows, link) = match self.pages(&c.token).await {
            Ok(x) => x,
            Err(ApiError::Expired) => {
                tracing::info!(
                    "Graph calendar delta token evicted: full resync, no deletes inferred"
                );
                return self.full().await;
            }
            Err(e) => return Err(calendar_error(e)),
        };
        let mut f = Fetched {
            complete: true,
            cursor: c.then(link),
            ..Fetched::default()
        };
        let mut touched: BTreeMap<String, ()> = BTreeMap::new();
        for r in &rows {
            let Some(id) = r["id"].as_str() else { continue };
            if r.get("@removed").is_some() {
                f.removed.push(id.to_string());
            } else {
                let series = r["seriesMasterId"].as_str().unwrap_or(id);
                touched.insert(series.to_string(), ());
            }
        }
        for id in touched.into_keys() {
            match self.series(&id).await.map_err(calendar_error)? {
                Some(item) => f.items.push(item),
                None => f.removed.push(id),
            }
        }
        let present: BTreeSet<String> = f.items.iter().map(|i| i.id.clone()).collect();
        f.removed.retain(|id| !present.contains(id));
        Ok(f)
    }

    async fn get(&mut self, id: &str) -> Result<Option<SourceItem>, ConnectorError> {
        self.series(id).await.map_err(calendar_error)
    }

    async fn create(
        &mut self,
        record: &Record,
        marker: &str,
    ) -> Result<SourceItem, ConnectorError> {
        let mut body = event::to_event(record).map_err(|e| ConnectorError::Rejected(e.0))?;
        // Graph keeps the transaction id: the same create sent again returns the first event.
        let tx = blake3::hash(format!("kith-event:{marker}").as_bytes()).to_hex()[..32].to_string();
        body["transactionId"] = json!(tx);
        body["singleValueExtendedProperties"] = json!([{"id": MARKER_ID, "value": marker}]);
        let target = format!("/me/calendars/{}/events", enc(&self.calendar));
        let e = self
            .api
            .call(Method::POST, &target, Some(&body), None)
            .await
            .map_err(calendar_error)?;
        let rows = self.instances(&e).await.map_err(calendar_error)?;
        let made = self.item(&e, rows.clone());
        // A series made in a client with edited or cancelled occurrences: those are written to
        // the occurrences Outlook has just made.
        let writes = crate::event::instances::instance_writes(&made.record, record);
        if writes.is_empty() {
            return Ok(made);
        }
        let start = event::series_start(&e);
        super::occurrences::write(&mut self.api, &rows, start.as_ref(), &writes)
            .await
            .map_err(calendar_error)?;
        self.get(&made.id)
            .await?
            .ok_or_else(|| ConnectorError::Rejected("the event is gone from Microsoft 365".into()))
    }

    /// Only what changed is sent, and a series' occurrences are written one by one: a master
    /// PATCH that restates its pattern would make Outlook drop the series' exceptions.
    async fn update(
        &mut self,
        id: &str,
        version: &str,
        record: &Record,
    ) -> Result<SourceItem, ConnectorError> {
        let gone = || ConnectorError::Rejected("the event is gone from Microsoft 365".into());
        let (master, rows) = self
            .rows(id)
            .await
            .map_err(calendar_error)?
            .ok_or_else(gone)?;
        let have = self.item(&master, rows.clone()).record;
        let mut body = event::to_event(record).map_err(|e| ConnectorError::Rejected(e.0))?;
        let guest = record
            .get(Field::Organizer)
            .is_some_and(|o| !o.eq_ignore_ascii_case(self.api.session.account()));
        if let (Ok(old), Some(b)) = (event::to_event(&have), body.as_object_mut()) {
            b.retain(|k, v| {
                old.get(k) != Some(v) && (!guest || event::PERSONAL.contains(&k.as_str()))
            });
        }
        let etag = version.rsplit_once('@').map_or(version, |(_, e)| e);
        let etag = (!etag.is_empty()).then_some(etag);
        let mut rows = rows;
        if body.as_object().is_some_and(|b| !b.is_empty()) {
            let repattern = body.get("recurrence").is_some();
            match self
                .api
                .call(
                    Method::PATCH,
                    &format!("/me/events/{}", enc(id)),
                    Some(&body),
                    etag,
                )
                .await
            {
                Ok(m) if repattern => rows = self.instances(&m).await.map_err(calendar_error)?,
                Ok(_) => {}
                Err(ApiError::NotFound) => return Err(gone()),
                Err(e) => return Err(calendar_error(e)),
            }
        }
        let writes = crate::event::instances::instance_writes(&have, record);
        if !writes.is_empty() {
            let start = event::series_start(&master);
            super::occurrences::write(&mut self.api, &rows, start.as_ref(), &writes)
                .await
                .map_err(calendar_error)?;
        }
        self.get(id).await?.ok_or_else(gone)
    }

    async fn delete(&mut self, id: &str, version: &str) -> Result<(), ConnectorError> {
        let etag = version.rsplit_once('@').map_or(version, |(_, e)| e);
        let etag = (!etag.is_empty()).then_some(etag);
        match self
            .api
            .call(
                Method::DELETE,
                &format!("/me/events/{}", enc(id)),
                None,
                etag,
            )
            .await
        {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(calendar_error(e)),
        }
    }
}
