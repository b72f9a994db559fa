//! The authorization-code flow around the provider: a pending authorization (its PKCE
//! verifier, sealed, single use, ten minutes) tied to the user who started it, and its
//! completion into sealed tokens and a source. Also Microsoft's admin consent, which records
//! the organisations (tenants) whose admin let everyone use Kith.

use super::Upstreams;
use super::apps::Apps;
use crate::store::sources::{Provider, SourceKind, SourcePatch, SourceStatus};
use crate::store::{Store, User};
use kith_connectors::oauth::{OAuthError, Tokens};
use kith_connectors::rules::Rules;
use kith_connectors::{google, m365};
use serde::{Deserialize, Serialize};

/// How long a user has to finish at the provider.
const PENDING_MS: i64 = 10 * 60 * 1000;

#[derive(Serialize, Deserialize, Default)]
struct Pending {
    user_id: i64,
    user: String,
    provider: String,
    verifier: String,
    source: String,
    book: String,
    /// Hash of the browser cookie set when the flow started in a browser: the callback must
    /// come from that browser. `None` for a URL the CLI printed.
    binding: Option<String>,
    /// A tenant admin's consent for everyone, not a user's connection.
    #[serde(default)]
    admin_consent: bool,
    /// A directory's readers: a group's name, or `everyone`.
    #[serde(default)]
    readers: Option<String>,
    /// A calendar source: the upstream calendar it syncs.
    #[serde(default)]
    calendar: Option<String>,
}

fn state_name(state: &str) -> String {
    format!("state:{}", blake3::hash(state.as_bytes()).to_hex())
}

pub fn binding_hash(cookie: &str) -> String {
    blake3::hash(cookie.as_bytes()).to_hex().to_string()
}

/// The setting that records a tenant's admin consent.
fn consent_key(tenant: &str) -> String {
    format!("m365:consent:{}", tenant.to_lowercase())
}

/// Whether the server signs users in through one organisation (not `common` and the like).
fn single_tenant(tenant: &str) -> bool {
    !matches!(
        tenant.to_ascii_lowercase().as_str(),
        "common" | "organizations" | "consumers"
    )
}

pub async fn consented(store: &dyn Store, tenant: &str) -> bool {
    matches!(store.setting(&consent_key(tenant)).await, Ok(Some(_)))
}

/// The plain-language message for a provider's OAuth error.
pub fn error_message(apps: &Apps, provider: &str, e: &OAuthError) -> String {
    match (provider, &apps.google, &apps.m365) {
        ("google", Some(g), _) => google::errors::oauth_message(e, &g.app.client_id),
        ("m365", _, Some(m)) => m365::errors::oauth_message(e, &m.app.client_id, &m.admin_link),
        _ => format!("{provider} refused the authorization ({e})"),
    }
}

/// What a user whose organisation has not consented is told instead of a failing sign-in.
/// The link a Microsoft tenant admin opens to consent for the organisation.
pub fn admin_link(apps: &Apps) -> Option<String> {
    apps.m365.as_ref().map(|m| m.admin_link.clone())
}

pub fn admin_path(apps: &Apps) -> String {
    let link = admin_link(apps).unwrap_or_default();
    format!(
        "Your organisation's Microsoft 365 administrator must allow Kith once before anyone can connect. Send them this link: {link} (they sign in and grant access for the organisation). Then connect your account again."
    )
}

async fn seal_pending(
    up: &Upstreams,
    store: &dyn Store,
    state: &str,
    owner: Option<i64>,
    p: &Pending,
) -> Result<(), String> {
    let name = state_name(state);
    let plain = serde_json::to_vec(p).map_err(|e| e.to_string())?;
    store
        .put_sealed(
            &name,
            owner,
            &up.sealer.seal(&name, &plain),
            Some(crate::store::now_ms() + PENDING_MS),
        )
        .await
        .map_err(|e| e.to_string())
}

/// The pending authorization `state` names, taken (it is used once).
async fn take_pending(up: &Upstreams, store: &dyn Store, state: &str) -> Result<Pending, String> {
    let name = state_name(state);
    let sealed = store
        .take_sealed(&name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or(
            "This authorization link expired or was already used. Start the connection again.",
        )?;
    up.sealer
        .open(&name, &sealed)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| "This authorization cannot be read (the server's token key changed). Start the connection again.".to_string())
}

/// Where to send the user to authorize `provider` for source `source`.
pub async fn start(
    up: &Upstreams,
    store: &dyn Store,
    user: &User,
    provider: &str,
    source: &str,
    book: &str,
    binding: Option<&str>,
) -> Result<String, AuthorizeError> {
    let apps = up.apps().await;
    if !up.enabled(store, provider).await? {
        return Err(not_enabled(&apps, provider));
    }
    allowed(store, &apps, provider, user).await?;
    let started = match (provider, &apps.google, &apps.m365) {
        ("google", Some(cfg), _) => google::start(cfg, None),
        ("m365", _, Some(cfg)) => {
            // One organisation that has not consented: its users would only meet AADSTS65001.
            if single_tenant(&apps.m365_tenant) && !consented(store, &apps.m365_tenant).await {
                return Err(admin_path(&apps).into());
            }
            m365::start(cfg, None)
        }
        _ => return Err(not_enabled(&apps, provider)),
    }
    .map_err(|e| error_message(&apps, provider, &e))?;
    let pending = Pending {
        user_id: user.id,
        user: user.name.clone(),
        provider: provider.to_string(),
        verifier: started.verifier,
        source: source.to_string(),
        book: book.to_string(),
        binding: binding.map(binding_hash),
        admin_consent: false,
        readers: None,
        calendar: None,
    };
    seal_pending(up, store, &started.state, Some(user.id), &pending).await?;
    Ok(started.url)
}

/// Where a user goes to let Kith sync their `provider` calendar `upstream` into their Kith
/// calendar `calendar` (made, with the upstream name and color, if missing) as source
/// `source`. A user who already connected a calendar of this provider needs no new consent:
/// the source is made at once with that grant, and `Ok(None)` is returned.
#[allow(clippy::too_many_arguments)]
pub async fn start_calendar(
    up: &Upstreams,
    store: &dyn Store,
    user: &User,
    provider: Provider,
    source: &str,
    calendar: &str,
    upstream: &str,
    binding: Option<&str>,
) -> Result<Option<String>, AuthorizeError> {
    let apps = up.apps().await;
    if !up.enabled(store, provider.id()).await? {
        return Err(not_enabled(&apps, provider.id()));
    }
    allowed(store, &apps, provider.id(), user).await?;
    let kind = SourceKind::Calendar(provider);
    let mut pending = Pending {
        user_id: user.id,
        user: user.name.clone(),
        provider: kind.as_str().to_string(),
        source: source.to_string(),
        book: calendar.to_string(),
        binding: binding.map(binding_hash),
        calendar: Some(upstream.to_string()),
        ..Pending::default()
    };
    // An account whose calendar grant Kith holds already: no second trip to the provider.
    for s in store.sources(user.id).await.map_err(|e| e.to_string())? {
        let Some(account) = s.location.clone().filter(|_| s.kind == kind) else {
            continue;
        };
        if let Ok(Some(tokens)) = up.tokens(store, kind.as_str(), user.id, &account).await {
            calendar_source(up, store, &apps, user, &pending, &tokens).await?;
            return Ok(None);
        }
    }
    let started = match (provider, &apps.google, &apps.m365) {
        (Provider::Google, Some(cfg), _) => google::calendar::start(cfg, None),
        (Provider::M365, _, Some(cfg)) => {
            if single_tenant(&apps.m365_tenant) && !consented(store, &apps.m365_tenant).await {
                return Err(admin_path(&apps).into());
            }
            m365::calendar::start(cfg)
        }
        _ => return Err(not_enabled(&apps, provider.id())),
    }
    .map_err(|e| error_message(&apps, provider.id(), &e))?;
    pending.verifier = started.verifier;
    seal_pending(up, store, &started.state, Some(user.id), &pending).await?;
    Ok(Some(started.url))
}

/// Completes a calendar's authorization: the tokens (the calendar scope granted), and the
/// source.
async fn finish_calendar(
    up: &Upstreams,
    store: &dyn Store,
    apps: &Apps,
    pending: &Pending,
    code: &str,
) -> Result<Connected, AuthorizeError> {
    let kind = SourceKind::parse(&pending.provider)
        .filter(|k| k.is_calendar())
        .ok_or("This authorization cannot be read. Start the connection again.")?;
    let tokens = match (kind.provider(), &apps.google, &apps.m365) {
        (Some(Provider::Google), Some(cfg), _) => {
            google::calendar::finish(cfg, code, &pending.verifier).await?
        }
        (Some(Provider::M365), _, Some(cfg)) => m365::calendar::finish(cfg, code, &pending.verifier)
            .await
            .map_err(|e| match e.code.as_str() {
                "scope" => format!("You did not allow Kith to read and write your calendar ({}). Connect the calendar again and accept Calendars.ReadWrite.", e.description),
                _ => error_message(apps, "m365", &e),
            })?
            .tokens,
        _ => return Err(not_enabled(apps, &pending.provider)),
    };
    let provider = kind.provider().map_or("google", |p| p.id());
    let user = pending_user(store, pending, false).await?;
    if let Err(e) = allowed(store, apps, provider, &user).await {
        if let (Some(Provider::Google), Some(cfg)) = (kind.provider(), &apps.google) {
            let _ = google::revoke(cfg, &tokens).await;
        }
        return Err(e);
    }
    up.save_tokens(store, kind.as_str(), user.id, &tokens)
        .await?;
    let created = calendar_source(up, store, apps, &user, pending, &tokens).await?;
    tracing::info!(user = %user.name, source = %pending.source, account = %tokens.account, "calendar connected");
    Ok(Connected {
        user: user.name,
        source: pending.source.clone(),
        account: tokens.account,
        created,
    })
}

/// Makes (or reconnects) the calendar source `pending` describes, checking that the account
/// has the upstream calendar and naming the Kith calendar after it.
async fn calendar_source(
    up: &Upstreams,
    store: &dyn Store,
    apps: &Apps,
    user: &User,
    pending: &Pending,
    tokens: &Tokens,
) -> Result<bool, AuthorizeError> {
    let kind = SourceKind::parse(&pending.provider)
        .ok_or("This authorization cannot be read. Start the connection again.")?;
    let listed = up
        .calendars_of(kind, user.id, tokens.clone())
        .await
        .map_err(|e| e.to_string())?;
    // Microsoft 365 names no calendar `primary`: the default calendar is the one meant.
    let upstream = match pending.calendar.clone() {
        Some(c) if !(c == "primary" && kind.provider() == Some(Provider::M365)) => c,
        _ => listed
            .first()
            .map(|c| c.id.clone())
            .unwrap_or_else(|| "primary".into()),
    };
    let _ = apps;
    let Some(cal) = listed.iter().find(|c| c.id == upstream) else {
        let ids: Vec<String> = listed
            .iter()
            .map(|c| format!("{} ({})", c.id, c.name))
            .collect();
        return Err(format!(
            "{} has no calendar {upstream:?}; its calendars are: {}",
            tokens.account,
            ids.join(", ")
        )
        .into());
    };
    let mut rules = Rules {
        calendar: Some(upstream.clone()),
        ..Rules::default()
    };
    if !cal.writable {
        rules.source = kith_connectors::rules::Side {
            create: false,
            update: false,
            delete: false,
        };
    }
    let coll = crate::core::sources::source_calendar(
        store,
        user,
        &pending.book,
        &cal.name,
        cal.color.as_deref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    match store
        .source_by_name(user.id, &pending.source)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(s) if s.kind.is_calendar() => Ok(reconnect(store, &s, tokens).await?),
        Some(s) => Err(taken(&s).into()),
        None => {
            store
                .create_source(
                    user.id,
                    &pending.source,
                    kind,
                    coll,
                    Some(&tokens.account),
                    &serde_json::to_string(&rules).unwrap_or_default(),
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(true)
        }
    }
}

/// Where an admin goes to let Kith read the organisation's directory of `provider` into
/// their book `book`, shared read-only with `readers` (a group, or everyone; empty when
/// connecting again, which keeps the book's shares).
pub async fn start_directory(
    up: &Upstreams,
    store: &dyn Store,
    user: &User,
    provider: Provider,
    book: &str,
    readers: &str,
    binding: Option<&str>,
) -> Result<String, AuthorizeError> {
    if !user.is_admin {
        return Err("Only a Kith admin connects the organisation's directory.".into());
    }
    if !readers.is_empty() {
        readers_group(store, readers).await?;
    }
    let apps = up.apps().await;
    if !up.enabled(store, provider.id()).await? {
        return Err(not_enabled(&apps, provider.id()));
    }
    crate::core::sources::directory_book(store, user, book)
        .await
        .map_err(|e| e.to_string())?;
    let started = match (provider, &apps.google, &apps.m365) {
        (Provider::Google, Some(cfg), _) => google::directory::start(cfg),
        (Provider::M365, _, Some(cfg)) => m365::directory::start(cfg),
        _ => return Err(not_enabled(&apps, provider.id())),
    }
    .map_err(|e| error_message(&apps, provider.id(), &e))?;
    let kind = SourceKind::Directory(provider);
    let pending = Pending {
        user_id: user.id,
        user: user.name.clone(),
        provider: kind.as_str().to_string(),
        verifier: started.verifier,
        source: kind.as_str().to_string(),
        book: book.to_string(),
        binding: binding.map(binding_hash),
        admin_consent: false,
        readers: Some(readers.to_string()),
        calendar: None,
    };
    seal_pending(up, store, &started.state, Some(user.id), &pending).await?;
    Ok(started.url)
}

/// The group a directory is shared with: `everyone` is made (holding every user) the first
/// time it is named; any other group must exist.
async fn readers_group(
    store: &dyn Store,
    readers: &str,
) -> Result<crate::store::groups::Group, AuthorizeError> {
    if readers == crate::store::groups::EVERYONE
        && let Some(g) = store
            .group_by_name(readers)
            .await
            .map_err(|e| e.to_string())?
    {
        return Ok(g);
    }
    let found = if readers == crate::store::groups::EVERYONE {
        crate::core::groups::create(store, readers).await
    } else {
        crate::core::groups::find(store, readers).await
    };
    found.map_err(|e| AuthorizeError::Refused(e.to_string()))
}

/// Why an authorization cannot start. The fronts word it: each knows where its user enables a
/// provider.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// Configured, but an admin has not turned it on.
    #[error("{0} is not enabled on this server")]
    NotEnabled(String),
    /// The config has no `[providers.X]` section with a client id and secret.
    #[error("{0} is not set up on this server")]
    NotSetUp(String),
    /// The admin limited who may connect the provider, and this user is not among them.
    #[error(
        "{provider} is open only to the users an admin chose; ask an admin ({admins}) to add you"
    )]
    NotAllowed { provider: String, admins: String },
    /// Anything else, already worded for the user.
    #[error("{0}")]
    Refused(String),
}

impl From<String> for AuthorizeError {
    fn from(s: String) -> Self {
        AuthorizeError::Refused(s)
    }
}

impl From<&str> for AuthorizeError {
    fn from(s: &str) -> Self {
        AuthorizeError::Refused(s.to_string())
    }
}

pub fn not_enabled(apps: &Apps, provider: &str) -> AuthorizeError {
    if apps.configured(provider) {
        AuthorizeError::NotEnabled(provider.to_string())
    } else {
        AuthorizeError::NotSetUp(provider.to_string())
    }
}

/// Refuses a user outside the set the admin allowed to connect `provider`, naming who to ask.
async fn allowed(
    store: &dyn Store,
    apps: &Apps,
    provider: &str,
    user: &User,
) -> Result<(), AuthorizeError> {
    let Some(p) = Provider::parse(provider) else {
        return Ok(());
    };
    let groups = crate::core::groups::ids_of(store, user.id)
        .await
        .map_err(|e| e.to_string())?;
    if apps.allows(p, user.id, &groups) {
        return Ok(());
    }
    let admins: Vec<String> = store
        .list_users()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|u| u.is_admin && u.disabled_at.is_none())
        .map(|u| u.name)
        .collect();
    Err(AuthorizeError::NotAllowed {
        provider: p.title().to_string(),
        admins: admins.join(", "),
    })
}

/// Spends a pending authorization the provider refused, so its state cannot be used again.
pub async fn discard(store: &dyn Store, state: &str) {
    let _ = store.take_sealed(&state_name(state)).await;
}

/// A finished authorization.
pub struct Connected {
    pub user: String,
    pub source: String,
    pub account: String,
    pub created: bool,
}

/// Completes the callback: `state` must name a pending authorization (used once), and
/// `cookie` must match the browser that started it, if one did.
pub async fn finish(
    up: &Upstreams,
    store: &dyn Store,
    state: &str,
    code: &str,
    cookie: Option<&str>,
) -> Result<Connected, AuthorizeError> {
    let pending = take_pending(up, store, state).await?;
    if pending.admin_consent {
        return Err("This link belongs to an admin consent, not a connection. Start again.".into());
    }
    if let Some(b) = &pending.binding
        && cookie.map(binding_hash).as_ref() != Some(b)
    {
        return Err("This authorization was started in another browser or session. Start the connection again from here.".into());
    }
    let provider = pending.provider.as_str();
    let apps = up.apps().await;
    if pending.readers.is_some() {
        return finish_directory(up, store, &apps, &pending, code).await;
    }
    if pending.calendar.is_some() {
        return finish_calendar(up, store, &apps, &pending, code).await;
    }
    let (tokens, domain) = match (provider, &apps.google, &apps.m365) {
        ("google", Some(cfg), _) => {
            let tokens = google::finish(cfg, code, &pending.verifier).await?;
            if !up.google_domains.is_empty()
                && !tokens
                    .domain
                    .as_ref()
                    .is_some_and(|d| up.google_domains.contains(&d.to_lowercase()))
            {
                // Refused after the exchange: the grant goes back, as in `google::finish`.
                let _ = google::revoke(cfg, &tokens).await;
                return Err(format!(
                    "{} is not an account of {}, the Google Workspace domains this server accepts. Sign in with your organisation's account.",
                    tokens.account,
                    up.google_domains.join(", ")
                )
                .into());
            }
            // Colleagues on a Workspace domain come from the directory, not from contacts.
            let domain = tokens.domain.clone();
            (tokens, domain)
        }
        ("m365", _, Some(cfg)) => {
            let done = m365::finish(cfg, code, &pending.verifier)
                .await
                .map_err(|e| match e.code.as_str() {
                    "scope" => format!("You did not allow everything Kith needs ({}). Connect again and accept the permissions (contacts, and staying signed in).", e.description),
                    _ => error_message(&apps, provider, &e),
                })?;
            // A work account's own domain: its colleagues are in the organisation's directory.
            let domain = done
                .tenant
                .filter(|t| t != MSA_TENANT)
                .and(done.tokens.account.split_once('@'))
                .map(|(_, d)| d.to_lowercase());
            (done.tokens, domain)
        }
        _ => return Err(not_enabled(&apps, provider)),
    };
    let user = pending_user(store, &pending, false).await?;
    if let Err(e) = allowed(store, &apps, provider, &user).await {
        // The admin changed the set while the user was at the provider: the grant goes back.
        if let ("google", Some(cfg)) = (provider, &apps.google) {
            let _ = google::revoke(cfg, &tokens).await;
        }
        return Err(e);
    }
    up.save_tokens(store, provider, user.id, &tokens).await?;
    let created = connect_source(store, &user, &pending, &tokens, domain).await?;
    tracing::info!(user = %user.name, source = %pending.source, account = %tokens.account, provider, "account connected");
    Ok(Connected {
        user: user.name,
        source: pending.source,
        account: tokens.account,
        created,
    })
}

/// Completes a directory's authorization: its own tokens, the directory source feeding the
/// admin's book, and that book shared read-only with the readers.
async fn finish_directory(
    up: &Upstreams,
    store: &dyn Store,
    apps: &Apps,
    pending: &Pending,
    code: &str,
) -> Result<Connected, AuthorizeError> {
    let kind = SourceKind::parse(&pending.provider)
        .filter(|k| k.is_directory())
        .ok_or("This authorization cannot be read. Start the connection again.")?;
    let tokens = match (kind.provider(), &apps.google, &apps.m365) {
        (Some(Provider::Google), Some(cfg), _) => {
            google::directory::finish(cfg, code, &pending.verifier).await?
        }
        (Some(Provider::M365), _, Some(cfg)) => m365::directory::finish(cfg, code, &pending.verifier)
            .await
            .map_err(|e| match e.code.as_str() {
                "scope" => format!("Microsoft did not let Kith read the directory ({}). A tenant admin grants User.Read.All (the admin-consent link on the Admin page); then connect the directory again.", e.description),
                _ => error_message(apps, "m365", &e),
            })?
            .tokens,
        _ => return Err(not_enabled(apps, &pending.provider)),
    };
    let user = pending_user(store, pending, true).await?;
    let readers = pending.readers.clone().unwrap_or_default();
    let group = match readers.as_str() {
        "" => None,
        r => Some(readers_group(store, r).await?),
    };
    up.save_tokens(store, kind.as_str(), user.id, &tokens)
        .await?;
    let created = connect_source(store, &user, pending, &tokens, None).await?;
    let book = store
        .collection(user.id, crate::store::Kind::Addressbook, &pending.book)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the directory's address book is gone")?;
    if let Some(g) = group {
        store
            .put_share(book.id, crate::store::shares::Grantee::Group(g.id), false)
            .await
            .map_err(|e| e.to_string())?;
    }
    tracing::info!(user = %user.name, account = %tokens.account, kind = %kind, readers = %readers, "directory connected");
    Ok(Connected {
        user: user.name,
        source: pending.source.clone(),
        account: tokens.account,
        created,
    })
}

/// Points an existing source at the account again and lets it run; `Ok(false)`: not new.
async fn reconnect(
    store: &dyn Store,
    s: &crate::store::sources::Source,
    tokens: &Tokens,
) -> Result<bool, String> {
    store
        .patch_source(s.id, SourcePatch::Location(tokens.account.clone()))
        .await
        .map_err(|e| e.to_string())?;
    let status = if s.applied_once {
        SourceStatus::Ready
    } else {
        SourceStatus::Manual
    };
    store
        .patch_source(s.id, SourcePatch::Status(status, None))
        .await
        .map_err(|e| e.to_string())?;
    Ok(false)
}

fn taken(s: &crate::store::sources::Source) -> String {
    format!(
        "you already have a source named {:?} (of kind {}); connect under another name",
        s.name, s.kind
    )
}

/// The user who started `pending`, if they still exist (and are an admin, when `admin`).
async fn pending_user(
    store: &dyn Store,
    pending: &Pending,
    admin: bool,
) -> Result<User, AuthorizeError> {
    let found = store
        .user_by_name(&pending.user)
        .await
        .map_err(|e| e.to_string())?
        .filter(|u| u.id == pending.user_id);
    match found {
        Some(u) if u.is_admin || !admin => Ok(u),
        _ if admin => Err("the admin who started this authorization is no longer an admin".into()),
        _ => Err("the user who started this authorization no longer exists".into()),
    }
}

/// Personal Microsoft accounts' tenant: no organisation, no own domain to ignore.
const MSA_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Creates the source, or points an existing one of the same kind at the account again.
async fn connect_source(
    store: &dyn Store,
    user: &User,
    pending: &Pending,
    tokens: &Tokens,
    domain: Option<String>,
) -> Result<bool, String> {
    let kind = SourceKind::parse(&pending.provider)
        .filter(|k| k.provider().is_some())
        .ok_or_else(|| format!("Kith cannot connect {} accounts", pending.provider))?;
    let existing = store
        .source_by_name(user.id, &pending.source)
        .await
        .map_err(|e| e.to_string())?;
    match existing {
        Some(s) if s.kind == kind => reconnect(store, &s, tokens).await,
        Some(s) => Err(taken(&s)),
        None => {
            let coll = crate::core::sources::book_id(store, user, &pending.book)
                .await
                .map_err(|e| e.to_string())?;
            let mut rules = Rules::default();
            rules.ignore_domains.extend(domain);
            if kind.is_directory() {
                // Leavers leave the book (the usual guards still stop a mass removal).
                rules.delete_protection = false;
                rules.kith.delete = true;
                // Refreshed on its schedule once the admin applied a previewed first run.
                rules.schedule.auto = true;
            }
            let rules = serde_json::to_string(&rules).unwrap_or_default();
            store
                .create_source(
                    user.id,
                    &pending.source,
                    kind,
                    coll,
                    Some(&tokens.account),
                    &rules,
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(true)
        }
    }
}

/// Where a tenant admin grants consent for everyone: Microsoft's admin-consent page.
pub async fn admin_start(up: &Upstreams, store: &dyn Store) -> Result<String, AuthorizeError> {
    let apps = up.apps().await;
    if !up.enabled(store, "m365").await? {
        return Err(not_enabled(&apps, "m365"));
    }
    let cfg = apps
        .m365
        .as_ref()
        .ok_or_else(|| not_enabled(&apps, "m365"))?;
    let state = hex(&rand::random::<[u8; 24]>());
    let pending = Pending {
        provider: "m365".into(),
        admin_consent: true,
        ..Pending::default()
    };
    seal_pending(up, store, &state, None, &pending).await?;
    // A multi-tenant app lets the admin's own organisation answer.
    let tenant = if single_tenant(&apps.m365_tenant) {
        apps.m365_tenant.as_str()
    } else {
        "organizations"
    };
    Ok(m365::admin_consent_url(
        &up.m365_authority,
        tenant,
        &cfg.app.client_id,
        &format!("{}/callback", cfg.admin_link),
        &state,
    ))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Records the consent Microsoft reports for `tenant`; the message is for the admin.
pub async fn admin_finish(
    up: &Upstreams,
    store: &dyn Store,
    state: &str,
    tenant: &str,
) -> Result<String, String> {
    let pending = take_pending(up, store, state).await?;
    if !pending.admin_consent || tenant.trim().is_empty() {
        return Err("This admin-consent answer does not match a consent Kith started. Open the admin-consent link again.".into());
    }
    store
        .set_setting(
            &consent_key(tenant),
            Some(crate::store::now_ms().to_string().as_bytes()),
        )
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(tenant, "Microsoft 365 admin consent recorded");
    Ok(format!(
        "Kith may now be used by everyone in your organisation (tenant {tenant}). Each user connects their own account from Kith."
    ))
}

/// Tenants whose admin consented, for `kith provider status`.
pub async fn consented_tenants(store: &dyn Store) -> Vec<String> {
    store
        .settings_with_prefix("m365:consent:")
        .await
        .unwrap_or_default()
}
