//! The Google Workspace directory: the domain's profiles through
//! `people:listDirectoryPeople`, read whole at every run (a directory is a few pages, and
//! someone missing from a whole listing has left), mapped as contacts are, with the profile
//! photo's URL.

use super::api::{Api, Config, TokenSink};
use super::person;
use crate::connector::{Connector, ConnectorError, Fetched};
use crate::directory::{self, Photo};
use crate::formats::SourceItem;
use crate::oauth::{OAuthError, Started, Tokens};
use crate::record::{Field, Record};
use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Reading the domain's directory (granted by a Workspace user; profiles the admin shares).
pub const SCOPE: &str = "https://www.googleapis.com/auth/directory.readonly";
pub const SCOPES: &[&str] = &["openid", "email", SCOPE];
const READ_MASK: &str = "names,emailAddresses,phoneNumbers,organizations,addresses,photos";

pub fn start(cfg: &Config) -> Result<Started, OAuthError> {
    super::start_for(cfg, SCOPES, None)
}

pub async fn finish(cfg: &Config, code: &str, verifier: &str) -> Result<Tokens, String> {
    super::finish_for(cfg, code, verifier, SCOPE, "You did not allow Kith to read your organisation's directory (the box was unticked at Google). Connect the directory again and tick it.").await
}

pub struct DirectoryConnector {
    api: Api,
}

impl DirectoryConnector {
    pub fn new(cfg: Arc<Config>, tokens: Tokens, sink: Arc<dyn TokenSink>) -> Self {
        DirectoryConnector {
            api: Api::new(cfg, tokens, sink),
        }
    }
}

/// A directory person as a colleague's card: the contact fields that apply, and the photo
/// unless it is Google's generated initials.
fn colleague(p: &Value) -> SourceItem {
    let full = person::to_item(p, &HashMap::new());
    let mut record: Record = full.record.project(&directory::FIELDS);
    record.fill_full_name();
    let photo = p["photos"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|ph| !ph["default"].as_bool().unwrap_or(false))
        .and_then(|ph| ph["url"].as_str())
        .map(|u| Photo::Url(u.to_string()));
    directory::item(&full.id, record, full.etag, photo)
}

#[async_trait]
impl Connector for DirectoryConnector {
    fn fields(&self) -> &'static [Field] {
        &directory::FIELDS
    }

    fn writable(&self) -> bool {
        false
    }

    async fn changes(&mut self, _cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let mut items = Vec::new();
        let mut page: Option<String> = None;
        loop {
            // Every page repeats the first call's parameters: Google binds page tokens to them.
            let mut q = vec![
                ("readMask", READ_MASK.to_string()),
                (
                    "sources",
                    "DIRECTORY_SOURCE_TYPE_DOMAIN_PROFILE".to_string(),
                ),
                ("pageSize", self.api.cfg.page_size.to_string()),
            ];
            if let Some(p) = &page {
                q.push(("pageToken", p.clone()));
            }
            let v = self
                .api
                .call(Method::GET, "/v1/people:listDirectoryPeople", &q, None)
                .await
                .map_err(ConnectorError::from)?;
            items.extend(v["people"].as_array().into_iter().flatten().map(colleague));
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => page = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(Fetched {
            items,
            complete: true,
            full: true,
            ..Fetched::default()
        })
    }

    async fn get(&mut self, id: &str) -> Result<Option<SourceItem>, ConnectorError> {
        // Only writes re-read one item, and a directory is never written: a listing will do.
        let all = self.changes(None).await?;
        Ok(all.items.into_iter().find(|i| i.id == id))
    }
}
