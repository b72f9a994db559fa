//! Microsoft 365 (Outlook) contacts through Microsoft Graph: one delta round per tracked
//! contact folder, the whole `@odata.deltaLink` kept; creates, PATCHes of the changed fields
//! only (with `If-Match`), deletes; ImmutableId so a contact keeps its id across folders;
//! Kith's card name in a single-value extended property.

pub mod api;
pub mod calendar;
pub mod contact;
pub mod directory;
pub mod errors;
pub mod event;
mod occurrences;
pub mod recurrence;
mod watch;

use crate::connector::{Connector, ConnectorError, Fetched};
use crate::formats::SourceItem;
use crate::oauth::{self, OAuthError, Started, TokenSink, Tokens};
use crate::record::{Field, Record};
use api::{Api, ApiError};
use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub use api::Config;

pub const CONTACTS_SCOPE: &str = "https://graph.microsoft.com/Contacts.ReadWrite";
pub const SCOPES: &[&str] = &[
    "offline_access",
    "openid",
    "profile",
    "email",
    CONTACTS_SCOPE,
];
pub use crate::rules::DEFAULT_FOLDER;

/// Where each tracked folder's delta resumes: the whole deltaLink, as Graph gave it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cursor {
    pub folders: BTreeMap<String, String>,
}

/// The authorization URL for a user.
pub fn start(cfg: &Config, login_hint: Option<&str>) -> Result<Started, OAuthError> {
    let mut extra = vec![("response_mode", "query"), ("prompt", "select_account")];
    if let Some(h) = login_hint {
        extra.push(("login_hint", h));
    }
    oauth::start(&cfg.app, SCOPES, &extra)
}

/// Who signed in: their address, and their organisation (tenant id).
pub struct Finished {
    pub tokens: Tokens,
    pub tenant: Option<String>,
}

/// Finishes an authorization; the error is the message to show.
pub async fn finish(cfg: &Config, code: &str, verifier: &str) -> Result<Finished, OAuthError> {
    finish_for(cfg, code, verifier, "contacts.readwrite").await
}

/// [`finish`] for a grant that must include `needed` (a permission's name, in lowercase).
pub async fn finish_for(
    cfg: &Config,
    code: &str,
    verifier: &str,
    needed: &str,
) -> Result<Finished, OAuthError> {
    let http = oauth::http_client();
    let (mut tokens, id_token) = oauth::exchange(&cfg.app, &http, code, verifier).await?;
    let granted = tokens.scope.to_ascii_lowercase();
    if !granted.contains(needed) {
        let name = match needed {
            "user.read.all" => "User.Read.All",
            "calendars.readwrite" => "Calendars.ReadWrite",
            _ => "Contacts.ReadWrite",
        };
        return Err(OAuthError::new(
            "scope",
            format!("Microsoft did not grant {name}"),
        ));
    }
    if tokens.refresh_token.is_none() {
        return Err(OAuthError::new(
            "scope",
            "Microsoft issued no refresh token (offline_access was not granted)",
        ));
    }
    let claims = id_token.as_deref().map(oauth::claims).unwrap_or_default();
    tokens.account = claims
        .preferred_username
        .or(claims.email)
        .unwrap_or_default();
    Ok(Finished {
        tokens,
        tenant: claims.tid,
    })
}

/// The admin-consent URL for `tenant` (`organizations` lets the admin's own tenant answer).
pub fn admin_consent_url(
    authority: &str,
    tenant: &str,
    client_id: &str,
    redirect: &str,
    state: &str,
) -> String {
    // RFC 3986's unreserved characters stay as they are (a tenant is often a domain).
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, SET).to_string();
    format!(
        "{}/{}/v2.0/adminconsent?client_id={}&scope={}&redirect_uri={}&state={}",
        authority.trim_end_matches('/'),
        enc(tenant),
        enc(client_id),
        enc("https://graph.microsoft.com/.default"),
        enc(redirect),
        enc(state)
    )
}

pub struct GraphConnector {
    api: Api,
    /// Folder names to track (empty: the default folder).
    wanted: Vec<String>,
    /// The folder (one of `wanted`) contacts Kith creates go to; unset: the first.
    target: Option<String>,
    /// Tracked folders, resolved: key (`default` or the folder id) → display name.
    folders: Option<Vec<(String, String)>>,
    /// The mailbox's time zone, which birthdays are read in.
    tz: Option<Option<calcard::common::timezone::Tz>>,
    /// Contacts as read in this run, so a PATCH carries only what changed.
    seen: HashMap<String, Record>,
}

/// One folder's round: its rows in arrival order and where the next round starts.
struct Round {
    rows: Vec<Value>,
    delta_link: String,
    full: bool,
}

impl GraphConnector {
    pub fn new(
        cfg: Arc<Config>,
        tokens: Tokens,
        sink: Arc<dyn TokenSink>,
        folders: Vec<String>,
        target: Option<String>,
    ) -> Self {
        GraphConnector {
            api: Api::new(cfg, tokens, sink),
            wanted: folders,
            target,
            folders: None,
            tz: None,
            seen: HashMap::new(),
        }
    }

    async fn time_zone(&mut self) -> Option<calcard::common::timezone::Tz> {
        if self.tz.is_none() {
            use std::str::FromStr;
            let tz = match self
                .api
                .call(Method::GET, "/me/mailboxSettings", None, None)
                .await
            {
                Ok(v) => v["timeZone"]
                    .as_str()
                    .and_then(|z| calcard::common::timezone::Tz::from_str(z).ok()),
                Err(e) => {
                    tracing::info!(error = %e, "mailbox time zone unknown; birthdays read by the UTC rule");
                    None
                }
            };
            self.tz = Some(tz);
        }
        self.tz.flatten()
    }

    /// The folder names to track, in the order the user gave them.
    fn wanted(&self) -> Vec<String> {
        if self.wanted.is_empty() {
            vec![DEFAULT_FOLDER.to_string()]
        } else {
            self.wanted.clone()
        }
    }

    /// The tracked folders: `default`, or the named ones by id.
    async fn folders(&mut self) -> Result<Vec<(String, String)>, ConnectorError> {
        if let Some(f) = &self.folders {
            return Ok(f.clone());
        }
        let wanted = self.wanted();
        let mut all: Vec<(String, String)> = Vec::new();
        if wanted.iter().any(|w| w != DEFAULT_FOLDER) {
            let mut next = Some("/me/contactFolders?$top=100".to_string());
            while let Some(url) = next {
                let v = self
                    .api
                    .call(Method::GET, &url, None, None)
                    .await
                    .map_err(ConnectorError::from)?;
                for f in v["value"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(name)) = (f["id"].as_str(), f["displayName"].as_str()) {
                        all.push((id.to_string(), name.to_string()));
                    }
                }
                next = v["@odata.nextLink"].as_str().map(str::to_string);
            }
        }
        let mut out = Vec::new();
        for w in &wanted {
            if w == DEFAULT_FOLDER {
                out.push((DEFAULT_FOLDER.to_string(), "Contacts".to_string()));
                continue;
            }
            match all.iter().find(|(_, n)| n.eq_ignore_ascii_case(w)) {
                Some(f) => out.push(f.clone()),
                None => {
                    let names: Vec<&str> = all.iter().map(|(_, n)| n.as_str()).collect();
                    return Err(ConnectorError::Rejected(format!(
                        "the mailbox has no contact folder named {w:?} (it has: default, {}); correct the folders in the source's rules",
                        names.join(", ")
                    )));
                }
            }
        }
        self.folders = Some(out.clone());
        Ok(out)
    }

    fn initial(folder: &str) -> String {
        // The default folder's delta (`/me/contacts/delta`) works but is not in the v1.0
        // reference; named folders use the documented per-folder delta.
        let base = if folder == DEFAULT_FOLDER {
            "/me/contacts/delta".to_string()
        } else {
            format!("/me/contactFolders/{folder}/contacts/delta")
        };
        format!("{base}?$select={}", contact::SELECT)
    }

    /// One folder's round, from `link` (or from scratch), through empty pages to the
    /// deltaLink. An expired link starts the folder over.
    async fn round(&mut self, folder: &str, link: Option<&str>) -> Result<Round, ApiError> {
        let mut full = link.is_none();
        let mut url = link
            .map(str::to_string)
            .unwrap_or_else(|| Self::initial(folder));
        let mut rows = Vec::new();
        loop {
            let v = match self.api.call(Method::GET, &url, None, None).await {
                Ok(v) => v,
                Err(ApiError::Expired) if !full => {
                    tracing::info!(
                        folder,
                        "Graph delta token expired: full round, no deletes inferred"
                    );
                    full = true;
                    rows.clear();
                    url = Self::initial(folder);
                    continue;
                }
                Err(e) => return Err(e),
            };
            rows.extend(v["value"].as_array().cloned().unwrap_or_default());
            if let Some(next) = v["@odata.nextLink"].as_str() {
                url = next.to_string();
                continue;
            }
            let Some(delta) = v["@odata.deltaLink"].as_str() else {
                return Err(ApiError::Unavailable(
                    "Graph ended a delta round without a deltaLink".into(),
                ));
            };
            return Ok(Round {
                rows,
                delta_link: delta.to_string(),
                full,
            });
        }
    }

    /// The whole contact: a delta row for an update may carry only what changed.
    async fn complete(&mut self, row: Value) -> Result<Option<Value>, ApiError> {
        if row.get("emailAddresses").is_some() && row.get("givenName").is_some() {
            return Ok(Some(row));
        }
        let id = row["id"].as_str().unwrap_or("").to_string();
        match self
            .api
            .call(
                Method::GET,
                &format!("/me/contacts/{id}?$select={}", contact::SELECT),
                None,
                None,
            )
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn item(&mut self, v: &Value) -> SourceItem {
        let tz = self.time_zone().await;
        let item = contact::to_item(v, tz.as_ref());
        self.seen.insert(item.id.clone(), item.record.clone());
        item
    }
}

#[async_trait]
impl Connector for GraphConnector {
    fn fields(&self) -> &'static [Field] {
        contact::FIELDS
    }

    /// One subscription per tracked folder.
    async fn watch(
        &mut self,
        req: &crate::watch::WatchRequest,
    ) -> Result<Vec<crate::watch::Watch>, ConnectorError> {
        let mut made = Vec::new();
        for (folder, _) in self.folders().await? {
            let resource = if folder == DEFAULT_FOLDER {
                "me/contacts".to_string()
            } else {
                format!("me/contactFolders/{folder}/contacts")
            };
            made.push(watch::subscribe(&mut self.api, &resource, req).await?);
        }
        Ok(made)
    }

    async fn renew_watch(
        &mut self,
        w: &crate::watch::Watch,
        req: &crate::watch::WatchRequest,
    ) -> Result<crate::watch::Watch, ConnectorError> {
        watch::renew(&mut self.api, w, req).await
    }

    async fn unwatch(&mut self, w: &crate::watch::Watch) -> Result<(), ConnectorError> {
        watch::unsubscribe(&mut self.api, w).await
    }

    fn writable(&self) -> bool {
        true
    }

    fn fit(&self, record: Record) -> Record {
        contact::fit(record)
    }

    async fn changes(&mut self, cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let cursor: Cursor = cursor
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        let folders = self.folders().await?;
        let mut next = Cursor::default();
        // Rows of every folder first, then removals: a contact moved between tracked
        // folders is removed from one and added to the other in the same run.
        let mut items: Vec<SourceItem> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        let mut removed: Vec<String> = Vec::new();
        let mut all_full = true;
        for (key, _) in &folders {
            let round = self
                .round(key, cursor.folders.get(key).map(String::as_str))
                .await
                .map_err(ConnectorError::from)?;
            all_full &= round.full;
            next.folders.insert(key.clone(), round.delta_link);
            for row in round.rows {
                let id = row["id"].as_str().unwrap_or("").to_string();
                if row.get("@removed").is_some() {
                    removed.push(id);
                    continue;
                }
                let Some(full_row) = self.complete(row).await.map_err(ConnectorError::from)? else {
                    removed.push(id);
                    continue;
                };
                let item = self.item(&full_row).await;
                // The same contact may come more than once in a round: the last row wins.
                match at.get(&id) {
                    Some(i) => items[*i] = item,
                    None => {
                        at.insert(id, items.len());
                        items.push(item);
                    }
                }
            }
        }
        let present: HashSet<&String> = at.keys().collect();
        removed.retain(|id| !present.contains(id));
        removed.sort();
        removed.dedup();
        Ok(Fetched {
            items,
            removed,
            complete: true,
            full: all_full,
            resync: all_full,
            errors: Vec::new(),
            cursor: serde_json::to_string(&next).ok(),
        })
    }

    async fn get(&mut self, id: &str) -> Result<Option<SourceItem>, ConnectorError> {
        match self
            .api
            .call(
                Method::GET,
                &format!("/me/contacts/{id}?$select={}", contact::SELECT),
                None,
                None,
            )
            .await
        {
            Ok(v) => Ok(Some(self.item(&v).await)),
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(ConnectorError::from(e)),
        }
    }

    async fn find(&mut self, marker: &str) -> Result<Option<SourceItem>, ConnectorError> {
        let esc = marker.replace('\'', "''");
        let filter = format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq '{}' and ep/value eq '{esc}')",
            contact::MARKER_PROP
        );
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let url = format!(
            "/me/contacts?$filter={}&$expand={}&$select={}",
            enc(&filter),
            enc(&format!(
                "singleValueExtendedProperties($filter=id eq '{}')",
                contact::MARKER_PROP
            )),
            contact::SELECT
        );
        let v = self
            .api
            .call(Method::GET, &url, None, None)
            .await
            .map_err(ConnectorError::from)?;
        match v["value"].as_array().and_then(|a| a.first()) {
            Some(c) => {
                let mut item = self.item(c).await;
                item.marker = Some(marker.to_string());
                Ok(Some(item))
            }
            None => Ok(None),
        }
    }

    async fn create(
        &mut self,
        record: &Record,
        marker: &str,
    ) -> Result<SourceItem, ConnectorError> {
        let tz = self.time_zone().await;
        let mut body = contact::to_contact(record, contact::FIELDS, tz.as_ref());
        body.insert(
            "singleValueExtendedProperties".into(),
            json!([{ "id": contact::MARKER_PROP, "value": marker }]),
        );
        let folders = self.folders().await?;
        // `folders()` resolves the wanted names in order, so the target's place is its folder's.
        let at = self
            .target
            .as_ref()
            .and_then(|t| self.wanted().iter().position(|w| w.eq_ignore_ascii_case(t)))
            .unwrap_or(0);
        let path = match folders.get(at) {
            Some((id, _)) if id != DEFAULT_FOLDER => format!("/me/contactFolders/{id}/contacts"),
            _ => "/me/contacts".to_string(),
        };
        let v = self
            .api
            .call(Method::POST, &path, Some(&Value::Object(body)), None)
            .await
            .map_err(ConnectorError::from)?;
        let mut item = self.item(&v).await;
        item.marker = Some(marker.to_string());
        Ok(item)
    }

    async fn update(
        &mut self,
        id: &str,
        version: &str,
        record: &Record,
    ) -> Result<SourceItem, ConnectorError> {
        let before = match self.seen.get(id) {
            Some(r) => r.clone(),
            None => match self.get(id).await? {
                Some(i) => i.record,
                None => {
                    return Err(ConnectorError::Rejected(
                        "the contact is gone from Outlook".into(),
                    ));
                }
            },
        };
        let fields = contact::changed(&contact::fit(before), &contact::fit(record.clone()));
        let tz = self.time_zone().await;
        let body = contact::to_contact(record, &fields, tz.as_ref());
        let etag = Some(version).filter(|v| !v.is_empty());
        let v = self
            .api
            .call(
                Method::PATCH,
                &format!("/me/contacts/{id}"),
                Some(&Value::Object(body)),
                etag,
            )
            .await
            .map_err(ConnectorError::from)?;
        Ok(self.item(&v).await)
    }

    async fn delete(&mut self, id: &str, version: &str) -> Result<(), ConnectorError> {
        let etag = Some(version).filter(|v| !v.is_empty());
        match self
            .api
            .call(Method::DELETE, &format!("/me/contacts/{id}"), None, etag)
            .await
        {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(ConnectorError::from(e)),
        }
    }

    fn retry_delay(&self, attempt: u32) -> std::time::Duration {
        self.api
            .cfg
            .retry_base
            .saturating_mul(4u32.saturating_pow(attempt.saturating_sub(1)))
            .mul_f64(self.api.cfg.wait_scale.max(0.0))
    }
}
