//! The Microsoft 365 directory: the tenant's member users through Graph's users delta (the
//! whole directory on the first round, then only who changed, joined or left), each with
//! their profile photo. Guests and disabled accounts are not colleagues.

use super::api::{Api, ApiError, Config};
use crate::connector::{Connector, ConnectorError, Fetched};
use crate::directory::{self, Photo};
use crate::formats::SourceItem;
use crate::oauth::{self, OAuthError, Started, TokenSink, Tokens};
use crate::record::{self, Field, Record};
use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Reading every user's full profile needs an admin's consent in the tenant.
pub const SCOPE: &str = "https://graph.microsoft.com/User.Read.All";
pub const SCOPES: &[&str] = &["offline_access", "openid", "profile", "email", SCOPE];
const SELECT: &str = "id,displayName,givenName,surname,jobTitle,department,companyName,mail,\
businessPhones,mobilePhone,streetAddress,city,state,postalCode,country,accountEnabled,userType";

pub fn start(cfg: &Config) -> Result<Started, OAuthError> {
    oauth::start(
        &cfg.app,
        SCOPES,
        &[("response_mode", "query"), ("prompt", "select_account")],
    )
}

/// Finishes the directory's authorization; the error is the message to show.
pub async fn finish(
    cfg: &Config,
    code: &str,
    verifier: &str,
) -> Result<super::Finished, OAuthError> {
    let done = super::finish_for(cfg, code, verifier, "user.read.all").await?;
    Ok(done)
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

    /// Every page of one delta round: the rows (the last of a user's rows wins) and the
    /// link the next round starts from.
    async fn round(&mut self, from: &str) -> Result<(Vec<Value>, String), ApiError> {
        let mut rows: Vec<Value> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        let mut next = from.to_string();
        loop {
            let v = self.api.call(Method::GET, &next, None, None).await?;
            for row in v["value"].as_array().into_iter().flatten() {
                let id = row["id"].as_str().unwrap_or("").to_string();
                match at.get(&id) {
                    Some(i) => rows[*i] = row.clone(),
                    None => {
                        at.insert(id, rows.len());
                        rows.push(row.clone());
                    }
                }
            }
            if let Some(n) = v["@odata.nextLink"].as_str() {
                next = n.to_string();
            } else if let Some(d) = v["@odata.deltaLink"].as_str() {
                return Ok((rows, d.to_string()));
            } else {
                return Err(ApiError::Unavailable(
                    "Graph ended a users delta round with neither a next nor a delta link".into(),
                ));
            }
        }
    }

    /// A user's photo, if they have one. A photo that cannot be read now is left out: the
    /// card is worth more than its picture.
    async fn photo(&mut self, id: &str) -> Option<Photo> {
        let bytes = self.api.bytes(&format!("/users/{id}/photo/$value")).await?;
        Some(Photo::Jpeg(bytes))
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// Whether a delta row is someone who is (still) a colleague.
fn present(row: &Value) -> bool {
    row.get("@removed").is_none()
        && row["accountEnabled"].as_bool() != Some(false)
        && !s(row, "userType").eq_ignore_ascii_case("guest")
}

fn record_of(u: &Value) -> Record {
    let mut r = Record::default();
    r.set(Field::GivenName, s(u, "givenName"));
    r.set(Field::FamilyName, s(u, "surname"));
    r.set(Field::FullName, s(u, "displayName"));
    r.fill_full_name();
    r.set(Field::Company, s(u, "companyName"));
    r.set(Field::Department, s(u, "department"));
    r.set(Field::Title, s(u, "jobTitle"));
    r.add(Field::Email, s(u, "mail"), Some("work"));
    for p in u["businessPhones"].as_array().into_iter().flatten() {
        r.add(Field::Phone, p.as_str().unwrap_or(""), Some("work"));
    }
    r.add(Field::Phone, s(u, "mobilePhone"), Some("cell"));
    let parts = [
        "",
        "",
        s(u, "streetAddress"),
        s(u, "city"),
        s(u, "state"),
        s(u, "postalCode"),
        s(u, "country"),
    ];
    if parts.iter().any(|p| !p.is_empty()) {
        r.add(Field::Address, &record::address(&parts), Some("work"));
    }
    r
}

#[async_trait]
impl Connector for DirectoryConnector {
    fn fields(&self) -> &'static [Field] {
        &directory::FIELDS
    }

    fn writable(&self) -> bool {
        false
    }

    async fn changes(&mut self, cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let first = format!("/users/delta?$select={SELECT}");
        let (rows, link, full) = match cursor {
            Some(c) => match self.round(c).await {
                Ok((rows, link)) => (rows, link, false),
                Err(ApiError::Expired) => {
                    tracing::info!("Graph users delta expired: full resync, no deletes inferred");
                    let (rows, link) = self.round(&first).await.map_err(ConnectorError::from)?;
                    (rows, link, true)
                }
                Err(e) => return Err(e.into()),
            },
            None => {
                let (rows, link) = self.round(&first).await.map_err(ConnectorError::from)?;
                (rows, link, true)
            }
        };
        let mut f = Fetched {
            complete: true,
            full,
            // A first or restarted listing proves nothing by absence; leavers arrive as
            // `@removed` rows of later rounds.
            resync: full,
            cursor: Some(link),
            ..Fetched::default()
        };
        for row in &rows {
            let id = s(row, "id");
            if present(row) {
                let photo = self.photo(id).await;
                f.items
                    .push(directory::item(id, record_of(row), None, photo));
            } else if !full {
                f.removed.push(id.to_string());
            }
        }
        Ok(f)
    }

    async fn get(&mut self, id: &str) -> Result<Option<SourceItem>, ConnectorError> {
        match self
            .api
            .call(
                Method::GET,
                &format!("/users/{id}?$select={SELECT}"),
                None,
                None,
            )
            .await
        {
            Ok(u) if present(&u) => Ok(Some(directory::item(id, record_of(&u), None, None))),
            Ok(_) | Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
