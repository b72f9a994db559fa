//! Google Contacts through the People API: a full listing with `requestSyncToken`, then
//! incremental syncs with the sync token; creates, updates (with the person's etag) and
//! deletes; contact groups as categories; Kith's card name in `clientData`.

pub mod api;
pub mod calendar;
pub mod directory;
pub mod errors;
pub mod event;
pub mod person;

use crate::connector::{Connector, ConnectorError, FeedCursor, Fetched};
use crate::formats::SourceItem;
use crate::oauth::{self, OAuthError, Started, Tokens};
use crate::record::{Field, Record};
use api::{Api, ApiError};
use async_trait::async_trait;
use reqwest::Method;

use serde_json::{Value, json};
use std::collections::HashMap;

pub use api::{Config, TokenSink};

pub const CONTACTS_SCOPE: &str = "https://www.googleapis.com/auth/contacts";
pub const SCOPES: &[&str] = &["openid", "email", CONTACTS_SCOPE];

/// Sync tokens expire 7 days after the full sync that started the chain, whatever happened
/// since; a full resync every 6 days keeps an idle source from ever meeting that.
pub const FULL_SYNC_EVERY_MS: i64 = 6 * 24 * 3600 * 1000;

/// The authorization URL for a user (offline access, consent every time so a refresh token
/// is always issued).
pub fn start(cfg: &Config, login_hint: Option<&str>) -> Result<Started, OAuthError> {
    start_for(cfg, SCOPES, login_hint)
}

/// [`start`] for other scopes (the directory's).
pub fn start_for(
    cfg: &Config,
    scopes: &[&str],
    login_hint: Option<&str>,
) -> Result<Started, OAuthError> {
    let mut extra = vec![
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
    ];
    if let Some(h) = login_hint {
        extra.push(("login_hint", h));
    }
    oauth::start(&cfg.app, scopes, &extra)
}

/// Finishes an authorization: exchanges the code, checks that contacts were granted, and
/// reads who signed in. The error is the message to show the user. A connection refused after
/// the exchange gives its grant back, so no live token is left at Google for a source that
/// does not exist.
pub async fn finish(cfg: &Config, code: &str, verifier: &str) -> Result<Tokens, String> {
    finish_for(cfg, code, verifier, CONTACTS_SCOPE, "You did not allow Kith to see and manage your contacts (the Contacts box was unticked at Google). Connect again and tick it; without it Kith cannot sync.").await
}

/// [`finish`] for a grant that must include `scope`; `unticked` says what to do without it.
pub async fn finish_for(
    cfg: &Config,
    code: &str,
    verifier: &str,
    scope: &str,
    unticked: &str,
) -> Result<Tokens, String> {
    let http = oauth::http_client();
    let (mut tokens, id_token) = oauth::exchange(&cfg.app, &http, code, verifier)
        .await
        .map_err(|e| errors::oauth_message(&e, &cfg.app.client_id))?;
    let claims = id_token.as_deref().map(oauth::claims).unwrap_or_default();
    tokens.account = claims.email.unwrap_or_default();
    tokens.domain = claims.hd;
    if !tokens.scope.split_whitespace().any(|s| s == scope) {
        let _ = revoke(cfg, &tokens).await;
        return Err(unticked.into());
    }
    match refusal(&tokens) {
        None => Ok(tokens),
        Some(why) => {
            let _ = revoke(cfg, &tokens).await;
            Err(why.into())
        }
    }
}

/// Why tokens from an exchange cannot make a source.
fn refusal(tokens: &Tokens) -> Option<&'static str> {
    if tokens.refresh_token.is_none() {
        return Some(
            "Google issued no refresh token, so Kith could not sync in the background. Remove Kith under myaccount.google.com → Security → Third-party apps, then connect again.",
        );
    }
    if tokens.account.is_empty() {
        return Some(
            "Google did not say which account signed in (the email permission is missing); connect again and allow it.",
        );
    }
    None
}

/// Revokes a refresh token at Google (on `kith source remove`); best effort.
pub async fn revoke(cfg: &Config, tokens: &Tokens) -> Result<(), String> {
    let token = tokens
        .refresh_token
        .as_deref()
        .unwrap_or(&tokens.access_token);
    let r = oauth::http_client()
        .post(&cfg.revoke_url)
        .form(&[("token", token)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().is_success() || r.status().as_u16() == 400 {
        Ok(())
    } else {
        Err(format!("Google answered {}", r.status()))
    }
}

pub struct GoogleConnector {
    api: Api,
    /// The label contacts Kith creates get; unset: only their own categories.
    target: Option<String>,
    /// Contact groups: resource name → name, and lowercase name → resource name.
    groups: Option<(HashMap<String, String>, HashMap<String, String>)>,
}

impl GoogleConnector {
    pub fn new(
        cfg: std::sync::Arc<Config>,
        tokens: Tokens,
        sink: std::sync::Arc<dyn TokenSink>,
        target: Option<String>,
    ) -> Self {
        GoogleConnector {
            api: Api::new(cfg, tokens, sink),
            target,
            groups: None,
        }
    }

    async fn groups(
        &mut self,
    ) -> Result<&(HashMap<String, String>, HashMap<String, String>), ConnectorError> {
        if self.groups.is_none() {
            let mut by_name = HashMap::new();
            let mut by_key = HashMap::new();
            let mut page: Option<String> = None;
            loop {
                let mut q = vec![("pageSize", "1000".to_string())];
                if let Some(p) = &page {
                    q.push(("pageToken", p.clone()));
                }
                let v = self
                    .api
                    .call(Method::GET, "/v1/contactGroups", &q, None)
                    .await
                    .map_err(ConnectorError::from)?;
                for g in v["contactGroups"].as_array().into_iter().flatten() {
                    // System groups (myContacts, starred…) are not categories.
                    if g["groupType"].as_str() == Some("USER_CONTACT_GROUP")
                        && let (Some(r), Some(n)) = (g["resourceName"].as_str(), g["name"].as_str())
                    {
                        by_name.insert(r.to_string(), n.to_string());
                        by_key.insert(n.to_lowercase(), r.to_string());
                    }
                }
                match v["nextPageToken"].as_str() {
                    Some(t) if !t.is_empty() => page = Some(t.to_string()),
                    _ => break,
                }
            }
            self.groups = Some((by_name, by_key));
        }
        self.groups.as_ref().ok_or_else(|| {
            ConnectorError::Unavailable("Google's contact groups could not be read".into())
        })
    }

    /// Groups for every category of `r`, creating the missing ones (so the pushed categories
    /// read back the same, and are not seen as changes).
    async fn ensure_groups(
        &mut self,
        r: &Record,
    ) -> Result<HashMap<String, String>, ConnectorError> {
        let wanted: Vec<String> = r
            .elems(Field::Category)
            .map(|(_, e)| e.value.clone())
            .collect();
        for name in wanted {
            if self.groups().await?.1.contains_key(&name.to_lowercase()) {
                continue;
            }
            let v = self
                .api
                .call(
                    Method::POST,
                    "/v1/contactGroups",
                    &[],
                    Some(&json!({"contactGroup": {"name": name}})),
                )
                .await
                .map_err(ConnectorError::from)?;
            if let (Some(res), Some(g)) = (v["resourceName"].as_str(), self.groups.as_mut()) {
                g.0.insert(res.to_string(), name.clone());
                g.1.insert(name.to_lowercase(), res.to_string());
            }
        }
        Ok(self.groups().await?.1.clone())
    }

    /// Every page of one listing (full when `token` is `None`).
    async fn list(
        &mut self,
        token: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ApiError> {
        let mut people = Vec::new();
        let mut page: Option<String> = None;
        loop {
            // Every page repeats the first call's parameters: Google binds page tokens to them.
            let mut q = vec![
                ("personFields", person::PERSON_FIELDS.to_string()),
                ("pageSize", self.api.cfg.page_size.to_string()),
                ("requestSyncToken", "true".to_string()),
            ];
            if let Some(t) = token {
                q.push(("syncToken", t.to_string()));
            }
            if let Some(p) = &page {
                q.push(("pageToken", p.clone()));
            }
            let v = self
                .api
                .call(Method::GET, "/v1/people/me/connections", &q, None)
                .await?;
            if let Some(c) = v["connections"].as_array() {
                people.extend(c.iter().cloned());
            }
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => page = Some(t.to_string()),
                _ => return Ok((people, v["nextSyncToken"].as_str().map(str::to_string))),
            }
        }
    }

    fn item(&self, p: &Value) -> SourceItem {
        let empty = HashMap::new();
        person::to_item(p, self.groups.as_ref().map(|g| &g.0).unwrap_or(&empty))
    }
}

#[async_trait]
impl Connector for GoogleConnector {
    fn create_label(&self) -> Option<&str> {
        self.target.as_deref()
    }

    fn fields(&self) -> &'static [Field] {
        &person::FIELDS
    }

    fn writable(&self) -> bool {
        true
    }

    async fn changes(&mut self, cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        self.groups().await?;
        if let Some(c) = FeedCursor::resume(cursor, FULL_SYNC_EVERY_MS) {
            match self.list(Some(&c.token)).await {
                Ok((people, next)) => {
                    let mut f = Fetched {
                        complete: true,
                        cursor: c.then(next),
                        ..Fetched::default()
                    };
                    // The feed may list a person more than once: the last row wins.
                    let mut at: HashMap<String, usize> = HashMap::new();
                    for p in &people {
                        let id = p["resourceName"].as_str().unwrap_or("").to_string();
                        if person::is_deleted(p) {
                            f.removed.push(id);
                        } else {
                            let item = self.item(p);
                            match at.get(&id) {
                                Some(i) => f.items[*i] = item,
                                None => {
                                    at.insert(id, f.items.len());
                                    f.items.push(item);
                                }
                            }
                        }
                    }
                    f.removed.retain(|id| !at.contains_key(id));
                    return Ok(f);
                }
                Err(ApiError::Expired) => {
                    tracing::info!("Google sync token expired: full resync, no deletes inferred");
                }
                Err(e) => return Err(ConnectorError::from(e)),
            }
        }
        let (people, next) = self.list(None).await.map_err(ConnectorError::from)?;
        let items = people
            .iter()
            .filter(|p| !person::is_deleted(p))
            .map(|p| self.item(p))
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

    async fn get(&mut self, id: &str) -> Result<Option<SourceItem>, ConnectorError> {
        self.groups().await?;
        let q = [("personFields", person::PERSON_FIELDS.to_string())];
        match self
            .api
            .call(Method::GET, &format!("/v1/{id}"), &q, None)
            .await
        {
            Ok(p) => Ok(Some(self.item(&p))),
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(ConnectorError::from(e)),
        }
    }

    async fn create(
        &mut self,
        record: &Record,
        marker: &str,
    ) -> Result<SourceItem, ConnectorError> {
        let groups = self.ensure_groups(record).await?;
        let body = person::to_person(record, &groups, Some(marker));
        let q = [("personFields", person::PERSON_FIELDS.to_string())];
        let p = self
            .api
            .call(Method::POST, "/v1/people:createContact", &q, Some(&body))
            .await
            .map_err(ConnectorError::from)?;
        Ok(self.item(&p))
    }

    async fn update(
        &mut self,
        id: &str,
        version: &str,
        record: &Record,
    ) -> Result<SourceItem, ConnectorError> {
        let groups = self.ensure_groups(record).await?;
        // clientData is not in the update mask: the marker a create stored stays.
        let mut body = person::to_person(record, &groups, None);
        body["etag"] = json!(version);
        let q = [
            ("updatePersonFields", person::UPDATE_FIELDS.to_string()),
            ("personFields", person::PERSON_FIELDS.to_string()),
        ];
        let p = self
            .api
            .call(
                Method::PATCH,
                &format!("/v1/{id}:updateContact"),
                &q,
                Some(&body),
            )
            .await
            .map_err(ConnectorError::from)?;
        Ok(self.item(&p))
    }

    async fn delete(&mut self, id: &str, _version: &str) -> Result<(), ConnectorError> {
        match self
            .api
            .call(
                Method::DELETE,
                &format!("/v1/{id}:deleteContact"),
                &[],
                None,
            )
            .await
        {
            // Already gone is what was wanted.
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(ConnectorError::from(e)),
        }
    }

    fn retry_delay(&self, attempt: u32) -> std::time::Duration {
        // Google's stale-etag window: 1, 4, 16 × the configured base.
        self.api
            .cfg
            .retry_base
            .saturating_mul(4u32.saturating_pow(attempt.saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct NoSink;
    #[async_trait]
    impl TokenSink for NoSink {
        async fn save(&self, _: &Tokens) {}
    }

    async fn post(url: &str, body: Value) -> Value {
        let r = reqwest::Client::new()
            .post(url)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    /// Sync tokens die 7 days after their chain's full sync however busy the chain was, so a
    /// cursor whose full sync is 6 days old is not used: a full (no-delete) resync is.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_full_resync_happens_every_six_days() {
        let (url, _fake) = kith_fakes::google::spawn();
        let people: Vec<Value> = (0..3)
            .map(|i| json!({"names": [{"givenName": format!("P{i}")}]}))
            .collect();
        post(
            &format!("{url}/_fake/people"),
            json!({"account": "a@example.org", "people": people}),
        )
        .await;
        let t = post(
            &format!("{url}/_fake/tokens"),
            json!({"account": "a@example.org"}),
        )
        .await;
        let cfg = Config {
            app: crate::oauth::App {
                client_id: "kith-test.apps.googleusercontent.com".into(),
                client_secret: "fake-secret".into(),
                auth_url: format!("{url}/o/oauth2/v2/auth"),
                token_url: format!("{url}/token"),
                redirect_url: "http://kith.test/oauth/google/callback".into(),
            },
            api_url: url.clone(),
            calendar_url: url.clone(),
            revoke_url: format!("{url}/revoke"),
            page_size: 2,
            retry_base: std::time::Duration::from_millis(10),
            max_retries: 3,
            wait_scale: 1.0,
        };
        let tokens = Tokens {
            access_token: t["access_token"].as_str().unwrap().into(),
            expires_at: t["expires_at"].as_i64().unwrap(),
            account: "a@example.org".into(),
            ..Tokens::default()
        };
        let mut c = GoogleConnector::new(Arc::new(cfg), tokens, Arc::new(NoSink), None);
        let first = c.changes(None).await.unwrap();
        assert!(first.full && first.resync && first.complete);
        assert_eq!(first.items.len(), 3);
        let cursor = first.cursor.unwrap();
        let next = c.changes(Some(&cursor)).await.unwrap();
        assert!(
            !next.full && next.items.is_empty(),
            "a fresh cursor syncs incrementally"
        );
        let mut old: FeedCursor = serde_json::from_str(&cursor).unwrap();
        old.full_at = crate::time::now_ms() - FULL_SYNC_EVERY_MS - 1;
        let aged = c
            .changes(Some(&serde_json::to_string(&old).unwrap()))
            .await
            .unwrap();
        assert!(
            aged.full && aged.resync,
            "six days after the full sync: a full resync"
        );
        assert_eq!(aged.items.len(), 3);
        let fresh_cursor = aged.cursor.unwrap();
        let fresh: FeedCursor = serde_json::from_str(&fresh_cursor).unwrap();
        assert!(fresh.full_at > old.full_at, "the new chain starts now");
        // Expiry as the guide describes it (410) is met the same way as the 400 clients see.
        post(
            &format!("{url}/_fake/config"),
            json!({"expired_status": 410, "sync_token_ttl_secs": 0}),
        )
        .await;
        post(&format!("{url}/_fake/clock"), json!({"advance_secs": 1})).await;
        let t = post(
            &format!("{url}/_fake/tokens"),
            json!({"account": "a@example.org"}),
        )
        .await;
        c.api.session.set_access_token(
            t["access_token"].as_str().unwrap(),
            t["expires_at"].as_i64().unwrap(),
        );
        let expired = c.changes(Some(&fresh_cursor)).await.unwrap();
        assert!(expired.full && expired.resync && expired.removed.is_empty());
        assert_eq!(expired.items.len(), 3);
    }
}
