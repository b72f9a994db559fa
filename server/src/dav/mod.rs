//! The DAV front: discovery, authentication, the ownership check and the CardDAV/CalDAV
//! methods. DAV methods are dispatched by hand, because axum's method filter has no DAV methods.

mod calendar;
mod collection;
mod copymove;
mod download;
mod invite;
mod object;
mod paths;
mod propfind;
mod props;
mod proxy;
mod push;
mod report;
mod respond;
mod schedule;
mod stream;
mod write;

use crate::app::{App, LoggedUser};
use crate::config::Config;
use crate::core::auth::{AuthError, Principal};
use crate::store::{Collection, Kind, User};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use kith_dav::headers::RequestHeaders;
pub use kith_dav::quirks::Client;
use paths::Target;
use std::sync::Arc;

/// Largest XML body (PROPFIND, REPORT, PROPPATCH, MKCOL) accepted.
const MAX_XML_BODY: usize = 1024 * 1024;

/// One authenticated DAV request.
pub struct Ctx {
    pub app: Arc<App>,
    pub principal: Principal,
    /// Every header the methods read, parsed once.
    pub headers: RequestHeaders,
    pub target: Target,
    /// Set when the principal acts in another user's calendar home as their delegate (Apple's
    /// calendar proxies): paths then name that user, and access is the delegation's.
    pub delegated: Option<crate::core::delegation::Delegated>,
    /// The request's path as sent, for the If header's tagged lists.
    pub path: String,
    /// The request path, canonical for the root (`/` or `/dav/`).
    pub request_path: String,
}

impl Ctx {
    /// Whether the request's If-Match, If-None-Match and If hold for its target, whose ETag
    /// is `current` (`None`: it does not exist).
    fn conditions_hold(&self, current: Option<&str>) -> bool {
        self.headers
            .conditions_hold(current, |url| paths::href_path(url) == self.path)
    }

    /// Whose resources the request's paths name: the principal's, or the delegator's.
    fn user_name(&self) -> &str {
        self.delegated
            .as_ref()
            .map_or(&self.principal.user.name, |d| &d.owner_name)
    }

    /// Who this request's writes are recorded as, in history.
    fn actor(&self) -> crate::store::Actor {
        let agent = self.headers.user_agent.as_deref().unwrap_or("");
        // A User-Agent is client input: bounded, so history rows stay small, and without
        // control characters, which `kith history` would otherwise print to a terminal.
        let agent: String = agent
            .chars()
            .filter(|c| !c.is_control())
            .take(120)
            .collect();
        crate::store::Actor::Client {
            user: self.principal.user.name.clone(),
            device: self.principal.device.clone(),
            agent,
        }
    }

    /// The caller's address book or calendar named `name`, or one shared with them under its
    /// alias (see `core::access`), or `None`. A derived calendar is brought up to date first,
    /// so every read sees the current birthdays.
    async fn collection(&self, kind: Kind, name: &str) -> Result<Option<Collection>, Response> {
        let store = self.app.store.as_ref();
        if let Some(d) = &self.delegated {
            if kind != Kind::Calendar {
                return Ok(None);
            }
            return crate::core::delegation::calendar(store, d, name)
                .await
                .map_err(respond::internal);
        }
        let mut found = store
            .collection(self.principal.user.id, kind, name)
            .await
            .map_err(respond::internal)?;
        if found.is_none() && kind == Kind::Addressbook && name == crate::core::shared_cards::NAME {
            // Made when the first card is shared with the user.
            found = crate::core::shared_cards::book(store, &self.principal.user)
                .await
                .map_err(respond::internal)?;
        }
        if found.is_none()
            && kind == Kind::Calendar
            && name == crate::core::birthdays::NAME
            && self.app.config.caldav.birthdays
        {
            // Users created before the birthday calendar existed get it on first use.
            crate::core::birthdays::ensure(store, &self.principal.user)
                .await
                .map_err(respond::internal)?;
            found = store
                .collection(self.principal.user.id, kind, name)
                .await
                .map_err(respond::internal)?;
        }
        match found {
            Some(c) if crate::core::scheduling::boxes::is_box(&c) => Ok(Some(c)),
            None if kind == Kind::Calendar
                && matches!(
                    name,
                    crate::core::scheduling::boxes::INBOX | crate::core::scheduling::boxes::OUTBOX
                ) =>
            {
                // Made on first use, like the birthday calendar.
                crate::core::scheduling::boxes::ensure(store, &self.principal.user)
                    .await
                    .map_err(respond::internal)?;
                Ok(store
                    .collection(self.principal.user.id, kind, name)
                    .await
                    .map_err(respond::internal)?
                    .filter(crate::core::scheduling::boxes::is_box))
            }
            Some(c) if c.derived.as_deref() == Some(crate::core::shared_cards::DERIVED) => {
                crate::core::shared_cards::refresh(store, &self.principal.user, &c)
                    .await
                    .map_err(respond::internal)?;
                store
                    .collection(self.principal.user.id, kind, name)
                    .await
                    .map_err(respond::internal)
            }
            Some(c) if c.derived.is_some() => {
                if !self.app.config.caldav.birthdays {
                    return Ok(None);
                }
                crate::core::birthdays::refresh(store, &self.principal.user, &c)
                    .await
                    .map_err(respond::internal)?;
                store
                    .collection(self.principal.user.id, kind, name)
                    .await
                    .map_err(respond::internal)
            }
            Some(c) => Ok(Some(c)),
            // Another user's collection, reached through a share under its alias.
            None => crate::core::access::shared(store, &self.principal.user, kind, name)
                .await
                .map_err(respond::internal),
        }
    }

    /// The caller's collections of one kind, derived ones brought up to date (or hidden when
    /// switched off), then those shared with them that they have not hidden.
    async fn collections(&self, kind: Kind) -> Result<Vec<Collection>, Response> {
        let store = self.app.store.as_ref();
        if let Some(d) = &self.delegated {
            if kind != Kind::Calendar {
                return Ok(Vec::new());
            }
            return crate::core::delegation::calendars(store, d)
                .await
                .map_err(respond::internal);
        }
        let user = &self.principal.user;
        if kind == Kind::Calendar && self.app.config.caldav.birthdays {
            crate::core::birthdays::ensure(store, user)
                .await
                .map_err(respond::internal)?;
        }
        if kind == Kind::Calendar {
            crate::core::scheduling::boxes::ensure(store, user)
                .await
                .map_err(respond::internal)?;
        }
        if kind == Kind::Addressbook {
            crate::core::shared_cards::book(store, user)
                .await
                .map_err(respond::internal)?;
        }
        let all = store
            .collections(user.id, kind)
            .await
            .map_err(respond::internal)?;
        let mut out = Vec::with_capacity(all.len());
        for c in all {
            if c.derived.is_some() {
                if let Some(fresh) = self.collection(kind, &c.name).await? {
                    out.push(fresh);
                }
            } else {
                out.push(c);
            }
        }
        out.extend(
            crate::core::access::listed(store, user, kind)
                .await
                .map_err(respond::internal)?,
        );
        Ok(out)
    }

    fn prop_ctx(&self) -> props::PropCtx<'_> {
        props::PropCtx {
            user: &self.principal.user,
            subject: self.user_name(),
            config: &self.app.config,
            push: self.app.push.as_deref(),
        }
    }

    /// What rendering members needs, owned, for a task that streams a response.
    fn render(&self) -> Render {
        Render {
            user: self.principal.user.clone(),
            subject: self.user_name().to_string(),
            client: self.headers.client,
            config: Arc::new(self.app.config.clone()),
            push: self.app.push.clone(),
        }
    }
}

/// The request facts that shape how members are rendered.
#[derive(Clone)]
pub struct Render {
    pub user: User,
    /// Whose paths the members' hrefs are under: the caller's, or a delegator's.
    pub subject: String,
    pub client: Client,
    pub config: Arc<Config>,
    pub push: Option<Arc<crate::core::push::PushService>>,
}

impl Render {
    fn prop_ctx(&self) -> props::PropCtx<'_> {
        props::PropCtx {
            user: &self.user,
            subject: &self.subject,
            config: &self.config,
            push: self.push.as_deref(),
        }
    }
}

pub const DAV_HEADER: &str =
    "1, 3, addressbook, calendar-access, calendar-auto-schedule, calendar-proxy, extended-mkcol";
/// The DAV header where WebDAV-Push is on.
const DAV_HEADER_PUSH: &str = "1, 3, addressbook, calendar-access, calendar-auto-schedule, calendar-proxy, extended-mkcol, webdav-push";
pub const ALLOW: &str = "OPTIONS, GET, HEAD, POST, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, COPY, MOVE, REPORT";

fn unauthorized(msg: &str) -> Response {
    let mut r = respond::text(StatusCode::UNAUTHORIZED, msg);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Kith\", charset=\"UTF-8\""),
    );
    r
}

fn options(app: &App) -> Response {
    let mut r = respond::status(StatusCode::OK);
    let h = r.headers_mut();
    let dav = if app.push.is_some() {
        DAV_HEADER_PUSH
    } else {
        DAV_HEADER
    };
    h.insert("DAV", HeaderValue::from_static(dav));
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// Answers a request that no other front took: discovery, OPTIONS and the DAV methods, for
/// an authenticated principal inside their own home.
pub async fn handle(app: &Arc<App>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();

    let bare = path.trim_end_matches('/');
    if bare.ends_with("/.well-known/carddav") || bare.ends_with("/.well-known/caldav") {
        let code = StatusCode::from_u16(kith_dav::quirks::WELL_KNOWN_REDIRECT)
            .unwrap_or(StatusCode::MOVED_PERMANENTLY);
        let mut r = respond::status(code);
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static(paths::DAV_ROOT));
        return r;
    }
    if method == Method::OPTIONS {
        return options(app);
    }
    let target = paths::resolve(&path);

    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ip = crate::app::client_ip(
        req.extensions().get::<crate::app::Peer>(),
        req.headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok()),
    );
    let principal = match app
        .auth
        .authenticate(app.store.as_ref(), auth.as_deref(), ip)
        .await
    {
        Ok(p) => p,
        Err(AuthError::Missing) => {
            return drained(req, unauthorized("Authentication required")).await;
        }
        Err(AuthError::Malformed) => {
            return drained(req, unauthorized("Use HTTP Basic authentication")).await;
        }
        Err(AuthError::Rejected) => {
            tracing::info!(%path, "authentication failed");
            return drained(req, unauthorized("Wrong user name or password")).await;
        }
        Err(AuthError::Throttled(wait)) => {
            tracing::info!(%path, "authentication throttled");
            let mut r = respond::text(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many wrong passwords lately; try again in {} s. App passwords keep working.",
                    wait.secs()
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&wait.secs().to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return drained(req, r).await;
        }
        Err(AuthError::Store(e)) => return respond::internal(e),
    };
    crate::core::lease::failpoint("dav-request").await;
    let logged = match &principal.device {
        Some(d) => format!("{}[{d}]", principal.user.name),
        None => principal.user.name.clone(),
    };

    // Isolation: a principal reaches only its own resources. Others' look like they don't exist,
    // except a delegator's principal and calendars to their delegates.
    let mut foreign = target.owner().is_some_and(|o| o != principal.user.name);
    let mut delegated = None;
    if foreign && proxy::delegable(&target) {
        let owner = target.owner().unwrap_or_default();
        match crate::core::delegation::reach(app.store.as_ref(), &principal.user, owner).await {
            Ok(Some(d)) => {
                if let Some(refusal) = proxy::refuse_method(&target, &method, &d) {
                    return drained(req, refusal).await;
                }
                foreign = false;
                delegated = Some(d);
            }
            Ok(None) => {}
            Err(e) => return drained(req, respond::internal(e)).await,
        }
    }
    let in_own_home = [Kind::Addressbook, Kind::Calendar]
        .iter()
        .any(|k| path.starts_with(&paths::home_href(*k, &principal.user.name)));
    let mut resp = if foreign {
        drained(req, respond::not_found()).await
    } else if matches!(target, Target::NotFound) {
        // Creating something below a missing parent in one's own home is a conflict, not 404.
        let creates = matches!(method.as_str(), "MKCOL" | "MKCALENDAR" | "PUT");
        let r = if creates && in_own_home {
            respond::text(StatusCode::CONFLICT, "The parent collection does not exist")
        } else {
            respond::not_found()
        };
        drained(req, r).await
    } else {
        let (parts, body) = req.into_parts();
        let headers = parsed_headers(&parts.headers);
        let request_path = if path == "/" {
            "/".to_string()
        } else {
            paths::DAV_ROOT.to_string()
        };
        let ctx = Ctx {
            request_path,
            app: app.clone(),
            principal,
            headers,
            target,
            delegated,
            path: path.clone(),
        };
        if let Some(bad) = ctx.headers.malformed_if() {
            let _ = axum::body::to_bytes(body, MAX_XML_BODY).await;
            respond::bad_request(&bad.to_string())
        } else {
            serve_method(ctx, method, body).await
        }
    };
    resp.extensions_mut().insert(LoggedUser(logged));
    resp
}

/// The headers the DAV methods read, parsed once. A value that is not visible ASCII reads as
/// absent, as it would from a client that did not send it.
fn parsed_headers(h: &HeaderMap) -> RequestHeaders {
    RequestHeaders::parse(|name| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })
}

/// Rule `drain-refused-body` (`kith_dav::quirks`): reads and drops the body of a request
/// answered without it. A body left unread makes hyper close the connection after the
/// response, and clients that first send without credentials (python-caldav, Apple) then race
/// the close with their next request on that connection.
async fn drained(req: Request, resp: Response) -> Response {
    let _ = axum::body::to_bytes(req.into_body(), MAX_XML_BODY).await;
    resp
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        respond::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("The request body is larger than {limit} bytes"),
        )
    })
}

async fn serve_method(ctx: Ctx, method: Method, body: Body) -> Response {
    match method.as_str() {
        "GET" | "HEAD" => object::get(&ctx, method == Method::HEAD).await,
        "PUT" => {
            // One byte over the limit is enough to tell that the card is too large.
            let limit = ctx.app.config.dav.max_resource_size + 1;
            match read_body(body, limit).await {
                Ok(b) => write::put(&ctx, b).await,
                Err(_) => write::too_large(&ctx),
            }
        }
        "DELETE" => match &ctx.target {
            Target::Member(..) => object::delete(&ctx).await,
            Target::Push(token) => push::unregister(&ctx, token).await,
            _ => collection::delete(&ctx).await,
        },
        "PROPFIND" => match read_body(body, MAX_XML_BODY).await {
            Ok(b) => propfind::propfind(&ctx, &b).await,
            Err(r) => r,
        },
        "PROPPATCH" => match read_body(body, MAX_XML_BODY).await {
            Ok(b) if matches!(ctx.target, Target::Proxy(..)) => proxy::proppatch(&ctx, &b).await,
            Ok(b) => collection::proppatch(&ctx, &b).await,
            Err(r) => r,
        },
        "MKCOL" | "MKCALENDAR" => match read_body(body, MAX_XML_BODY).await {
            Ok(b) => collection::mkcol(&ctx, &b, method.as_str() == "MKCALENDAR").await,
            Err(r) => r,
        },
        "REPORT" => match read_body(body, MAX_XML_BODY).await {
            Ok(b) => report::report(&ctx, &b).await,
            Err(r) => r,
        },
        "POST" => match read_body(body, MAX_XML_BODY).await {
            Ok(b) if kith_dav::push::is_register(&b) => push::register(&ctx, &b).await,
            Ok(b) => schedule::post(&ctx, &b).await,
            Err(r) => r,
        },
        "COPY" => copymove::copy_or_move(&ctx, false).await,
        "MOVE" => copymove::copy_or_move(&ctx, true).await,
        _ => {
            let mut r = respond::text(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{method} is not supported here"),
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
            r
        }
    }
}
