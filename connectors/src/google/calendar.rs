//! One Google calendar as a source of events: a full listing (`singleEvents=false`), then
//! sync-token increments; a 410 means a full resync that infers no deletes. A changed
//! exception or cancelled instance re-reads its whole series, so a series is one item.

use super::FULL_SYNC_EVERY_MS;
use super::api::{Api, ApiError, Config, TokenSink};
use super::event::{self, FIELDS, MARKER};
use crate::connector::{Connector, ConnectorError, FeedCursor, Fetched};
use crate::formats::SourceItem;
use crate::oauth::{OAuthError, Started, Tokens};
use crate::record::{Field, Record};
use async_trait::async_trait;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const SCOPE: &str = "https://www.googleapis.com/auth/calendar";
pub const SCOPES: &[&str] = &["openid", "email", SCOPE];

/// The authorization URL for a user's calendars (incremental: contacts stay granted).
pub fn start(cfg: &Config, login_hint: Option<&str>) -> Result<Started, OAuthError> {
    super::start_for(cfg, SCOPES, login_hint)
}

pub async fn finish(cfg: &Config, code: &str, verifier: &str) -> Result<Tokens, String> {
    super::finish_for(cfg, code, verifier, SCOPE, "You did not allow Kith to see and edit your calendars (the Calendar box was unticked at Google). Connect again and tick it; without it Kith cannot sync your calendar.").await
}

/// A calendar the account can sync.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
    pub writable: bool,
}

pub struct CalendarConnector {
    api: Api,
    calendar: String,
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

impl CalendarConnector {
    pub fn new(cfg: Arc<Config>, tokens: Tokens, sink: Arc<dyn TokenSink>, calendar: &str) -> Self {
        CalendarConnector {
            api: Api::new(cfg, tokens, sink).for_calendar(),
            calendar: calendar.to_string(),
        }
    }

    fn events_path(&self) -> String {
        format!("/calendars/{}/events", enc(&self.calendar))
    }

    /// The calendars of the account.
    pub async fn calendars(&mut self) -> Result<Vec<Listed>, ConnectorError> {
        let path = "/users/me/calendarList".to_string();
        let v = self
            .api
            .call(Method::GET, &path, &[], None)
            .await
            .map_err(calendar_error)?;
        Ok(v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(Listed {
                    id: c["id"].as_str()?.to_string(),
                    name: c["summaryOverride"]
                        .as_str()
                        .or(c["summary"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    color: c["backgroundColor"].as_str().map(str::to_string),
                    writable: matches!(c["accessRole"].as_str(), Some("owner" | "writer")),
                })
            })
            .collect())
    }

    /// Every page of a listing with `extra` parameters; the sync token of the last page.
    async fn list(
        &mut self,
        extra: &[(&'static str, String)],
    ) -> Result<(Vec<Value>, Option<String>), ApiError> {
        let path = self.events_path();
        let mut rows = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut q = vec![
                ("singleEvents", "false".to_string()),
                (
                    "maxResults",
                    self.api.cfg.page_size.clamp(1, 2500).to_string(),
                ),
            ];
            q.extend(extra.iter().cloned());
            if let Some(p) = &page {
                q.push(("pageToken", p.clone()));
            }
            let v = self.api.call(Method::GET, &path, &q, None).await?;
            rows.extend(v["items"].as_array().into_iter().flatten().cloned());
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => page = Some(t.to_string()),
                _ => return Ok((rows, v["nextSyncToken"].as_str().map(str::to_string))),
            }
        }
    }

    /// One series as it is now: the master and its exception and cancelled-instance rows.
    async fn series(&mut self, id: &str) -> Result<Option<(Value, Vec<Value>)>, ApiError> {
        let path = format!("{}/{}", self.events_path(), enc(id));
        let master = match self.api.call(Method::GET, &path, &[], None).await {
            Ok(m) if event::is_deleted(&m) => return Ok(None),
            Ok(m) => m,
            Err(ApiError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut instances = Vec::new();
        if master["recurrence"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
            && let Some(uid) = master["iCalUID"].as_str()
        {
            let (rows, _) = self
                .list(&[
                    ("iCalUID", uid.to_string()),
                    ("showDeleted", "true".to_string()),
                ])
                .await?;
            instances = rows
                .into_iter()
                .filter(|r| r["recurringEventId"].as_str() == Some(id))
                .collect();
        }
        Ok(Some((master, instances)))
    }

    fn item(master: &Value, instances: &[&Value]) -> SourceItem {
        SourceItem {
            id: master["id"].as_str().unwrap_or("").to_string(),
            record: event::to_record(master, instances),
            line: 0,
            raw: None,
            etag: master["etag"].as_str().map(str::to_string),
            marker: master["extendedProperties"]["private"][MARKER]
                .as_str()
                .map(str::to_string),
        }
    }

    async fn full(&mut self) -> Result<Fetched, ConnectorError> {
        let (rows, next) = self.list(&[]).await.map_err(calendar_error)?;
        let mut masters: BTreeMap<String, &Value> = BTreeMap::new();
        let mut instances: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for r in &rows {
            match (r["recurringEventId"].as_str(), r["id"].as_str()) {
                (Some(m), _) => instances.entry(m.to_string()).or_default().push(r),
                (None, Some(id)) if !event::is_deleted(r) => {
                    masters.insert(id.to_string(), r);
                }
                _ => {}
            }
        }
        let items = masters
            .iter()
            .map(|(id, m)| {
                let inst = instances.get(id).cloned().unwrap_or_default();
                Self::item(m, &inst)
            })
            .collect();
        Ok(Fetched {
            items,
            complete: true,
            full: true,
            resync: true,
            cursor: FeedCursor::begin(next),
            ..Fetched::default()
        })
    }
}

/// The Calendar API's refusals, in words that say what to do.
fn calendar_error(e: ApiError) -> ConnectorError {
    match e {
        ApiError::Reauth(m) if m.contains("insufficient") => ConnectorError::NeedsReauth(format!(
            "Google did not grant Kith the calendar scope ({SCOPE}); connect the calendar again and allow Calendar ({m})"
        )),
        e => ConnectorError::from(e),
    }
}

impl CalendarConnector {
    /// Writes the occurrences of series `id` that `want` edits (Google takes them one by one,
    /// as `<id>_<original start>` instances), then reads the series back.
    async fn occurrences(&mut self, id: &str, want: &Record) -> Result<SourceItem, ConnectorError> {
        let gone = || ConnectorError::Rejected("the event is gone from Google".into());
        let have = self.get(id).await?.ok_or_else(gone)?;
        let writes = crate::event::instances::instance_writes(&have.record, want);
        if writes.is_empty() {
            return Ok(have);
        }
        let q = [("sendUpdates", "none".to_string())];
        for o in &writes.edits {
            let path = format!(
                "{}/{}",
                self.events_path(),
                enc(&event::instance_id(id, &o.rid))
            );
            match self
                .api
                .call(Method::PATCH, &path, &q, Some(&event::occurrence(o)))
                .await
            {
                Ok(_) | Err(ApiError::NotFound) => {}
                Err(e) => return Err(calendar_error(e)),
            }
        }
        for at in &writes.cancels {
            let path = format!(
                "{}/{}",
                self.events_path(),
                enc(&event::instance_id(id, at))
            );
            match self.api.call(Method::DELETE, &path, &q, None).await {
                Ok(_) | Err(ApiError::NotFound) | Err(ApiError::Expired) => {}
                Err(e) => return Err(calendar_error(e)),
            }
        }
        self.get(id).await?.ok_or_else(gone)
    }

    /// Whether the account organizes the event (or it is nobody's meeting): only then may Kith
    /// change what every guest sees. Google refuses anything else to a guest
    /// (`forbiddenForNonOrganizer`).
    fn organizes(&self, r: &Record) -> bool {
        r.get(Field::Organizer)
            .is_none_or(|o| o.eq_ignore_ascii_case(self.api.session.account()))
    }
}

#[async_trait]
impl Connector for CalendarConnector {
    fn fields(&self) -> &'static [Field] {
        &FIELDS
    }

    /// An `events.watch` channel: Google POSTs to `req.url` when an event changes.
    async fn watch(
        &mut self,
        req: &crate::watch::WatchRequest,
    ) -> Result<Vec<crate::watch::Watch>, ConnectorError> {
        let id = format!("kith-{:032x}", rand::random::<u128>());
        let body = serde_json::json!({
            "id": id,
            "type": "web_hook",
            "address": req.url,
            "token": req.secret,
            "expiration": req.expires_at,
        });
        let path = format!("{}/watch", self.events_path());
        let v = self.api.call(Method::POST, &path, &[], Some(&body)).await?;
        let expires_at = v["expiration"]
            .as_str()
            .and_then(|e| e.parse::<i64>().ok())
            .or_else(|| v["expiration"].as_i64())
            .unwrap_or(req.expires_at);
        Ok(vec![crate::watch::Watch {
            remote_id: v["id"].as_str().unwrap_or(&id).to_string(),
            resource_id: v["resourceId"].as_str().map(str::to_string),
            expires_at,
        }])
    }

    /// Google channels cannot be extended: a new one first, then the old one stops, so no
    /// change falls between them.
    async fn renew_watch(
        &mut self,
        w: &crate::watch::Watch,
        req: &crate::watch::WatchRequest,
    ) -> Result<crate::watch::Watch, ConnectorError> {
        let fresh = self
            .watch(req)
            .await?
            .pop()
            .ok_or_else(|| ConnectorError::Unavailable("Google made no channel".into()))?;
        self.unwatch(w).await?;
        Ok(fresh)
    }

    async fn unwatch(&mut self, w: &crate::watch::Watch) -> Result<(), ConnectorError> {
        let body = serde_json::json!({
            "id": w.remote_id,
            "resourceId": w.resource_id,
        });
        match self
            .api
            .call(Method::POST, "/channels/stop", &[], Some(&body))
            .await
        {
            Ok(_) | Err(crate::exchange::ApiError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A guest's copy takes only the guest's own reminders; the rest of a client's edit stays
    /// in Kith.
    fn fit(&self, record: Record) -> Record {
        if self.organizes(&record) {
            record
        } else {
            record.project(&[Field::Alarm, Field::Organizer])
        }
    }

    fn writable(&self) -> bool {
        true
    }

    async fn changes(&mut self, cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let Some(c) = FeedCursor::resume(cursor, FULL_SYNC_EVERY_MS) else {
            return self.full().await;
        };
        let (rows, next) = match self.list(&[("syncToken", c.token.clone())]).await {
            Ok(x) => x,
            Err(ApiError::Expired) => {
                tracing::info!(
                    "Google Calendar sync token expired: full resync, no deletes inferred"
                );
                return self.full().await;
            }
            Err(e) => return Err(calendar_error(e)),
        };
        let mut f = Fetched {
            complete: true,
            cursor: c.then(next),
            ..Fetched::default()
        };
        // A series is read whole again when any row of it changed: its exceptions arrive
        // apart from it, and without its master an exception means nothing.
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for r in &rows {
            if event::is_deleted(r) {
                if let Some(id) = r["id"].as_str() {
                    f.removed.push(id.to_string());
                }
            } else if let Some(s) = event::series_of(r) {
                touched.insert(s.to_string());
            }
        }
        for id in touched {
            match self.series(&id).await.map_err(calendar_error)? {
                Some((m, inst)) => {
                    let inst: Vec<&Value> = inst.iter().collect();
                    f.items.push(Self::item(&m, &inst));
                }
                None => f.removed.push(id),
            }
        }
        let present: BTreeSet<&str> = f.items.iter().map(|i| i.id.as_str()).collect();
        let removed: Vec<String> = f
            .removed
            .iter()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        f.removed = removed;
        Ok(f)
    }

    async fn get(&mut self, id: &str) -> Result<Option<SourceItem>, ConnectorError> {
        Ok(self
            .series(id)
            .await
            .map_err(calendar_error)?
            .map(|(m, inst)| {
                let inst: Vec<&Value> = inst.iter().collect();
                Self::item(&m, &inst)
            }))
    }

    async fn create(
        &mut self,
        record: &Record,
        marker: &str,
    ) -> Result<SourceItem, ConnectorError> {
        let id = event::id_for(marker);
        let mut body = event::to_event(record, Some(marker));
        body["id"] = Value::String(id.clone());
        let path = self.events_path();
        let q = [("sendUpdates", "none".to_string())];
        match self.api.call(Method::POST, &path, &q, Some(&body)).await {
            Ok(e) if record.elems(Field::Override).next().is_none() => Ok(Self::item(&e, &[])),
            Ok(_) => self.occurrences(&id, record).await,
            // Made before, by a try whose answer was lost: the id is Kith's own.
            Err(ApiError::Rejected(m)) if m.contains("409") => {
                self.get(&id).await?.ok_or_else(|| {
                    ConnectorError::Rejected(format!(
                        "Google holds the id {id} for a deleted event; {m}"
                    ))
                })
            }
            Err(e) => Err(calendar_error(e)),
        }
    }

    async fn update(
        &mut self,
        id: &str,
        version: &str,
        record: &Record,
    ) -> Result<SourceItem, ConnectorError> {
        let mut body = event::to_event(record, None);
        if !self.organizes(record) {
            body = serde_json::json!({"reminders": body["reminders"].clone()});
        }
        let path = format!("{}/{}", self.events_path(), enc(id));
        let etag = version.rsplit_once('@').map_or(version, |(_, e)| e);
        let q = [("sendUpdates", "none".to_string())];
        match self
            .api
            .call_if_match(Method::PATCH, &path, &q, Some(&body), Some(etag))
            .await
        {
            Ok(_) => {}
            // 410 `deleted`: deleted at Google since it was read.
            Err(ApiError::Expired | ApiError::NotFound) => {
                return Err(ConnectorError::Rejected(
                    "the event is gone from Google".into(),
                ));
            }
            Err(e) => return Err(calendar_error(e)),
        }
        self.occurrences(id, record).await
    }

    async fn delete(&mut self, id: &str, version: &str) -> Result<(), ConnectorError> {
        let path = format!("{}/{}", self.events_path(), enc(id));
        let etag = version.rsplit_once('@').map_or(version, |(_, e)| e);
        let etag = (!etag.is_empty()).then_some(etag);
        let q = [("sendUpdates", "none".to_string())];
        match self
            .api
            .call_if_match(Method::DELETE, &path, &q, None, etag)
            .await
        {
            // Already gone (410 `deleted`, 404) is what was wanted.
            Ok(_) | Err(ApiError::NotFound) | Err(ApiError::Expired) => Ok(()),
            Err(e) => Err(calendar_error(e)),
        }
    }

    async fn find(&mut self, marker: &str) -> Result<Option<SourceItem>, ConnectorError> {
        self.get(&event::id_for(marker)).await
    }

    fn retry_delay(&self, attempt: u32) -> std::time::Duration {
        self.api
            .cfg
            .retry_base
            .saturating_mul(4u32.saturating_pow(attempt.saturating_sub(1)))
    }
}
