//! WebDAV-Push on the DAV front: a device registers with a POST of `push-register` to an
//! address book or calendar, and ends its registration with a DELETE of the URL it got back.
//! A client that writes with `Push-Dont-Notify` is not told of its own change.

use super::{Ctx, paths::Target, respond};
use crate::core::push::{self, Refusal};
use crate::store::Collection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kith_dav::names::PUSH;
use kith_dav::push::{DontNotify, Trigger};

/// Where this server is reached, for the registration URL the draft wants absolute.
fn base_url(ctx: &Ctx) -> String {
    let configured = ctx.app.config.web.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    let scheme = if ctx.headers.forwarded_https {
        "https"
    } else {
        "http"
    };
    format!(
        "{scheme}://{}",
        ctx.headers.host.as_deref().unwrap_or("localhost")
    )
}

fn refuse(name: &str, why: &str) -> Response {
    respond::condition(StatusCode::FORBIDDEN, PUSH, name, why)
}

/// POST `push-register` to a collection.
pub async fn register(ctx: &Ctx, body: &[u8]) -> Response {
    let Target::Collection(kind, _, name) = &ctx.target else {
        return refuse(
            "push-not-available",
            "Push is offered on address books and calendars; register there.",
        );
    };
    let Some(service) = ctx.app.push.as_deref() else {
        return refuse(
            "push-not-available",
            "Push is switched off on this server (push.enabled).",
        );
    };
    let req = match kith_dav::push::parse_register(body) {
        Ok(r) => r,
        Err(e) => return refuse(e.precondition(), &e.to_string()),
    };
    if !req.triggers.is_empty() && !req.triggers.contains(&Trigger::ContentUpdate) {
        return refuse(
            "no-supported-trigger",
            "Only content updates are pushed; ask for content-update.",
        );
    }
    let collection = match ctx.collection(*kind, name).await {
        Ok(Some(c)) => c,
        Ok(None) => return respond::not_found(),
        Err(r) => return r,
    };
    let store = ctx.app.store.as_ref();
    match push::register(service, store, ctx.principal.user.id, collection.id, &req).await {
        Ok(done) => {
            let mut r = respond::status(StatusCode::CREATED);
            let location = format!(
                "{}{}{}/{}",
                base_url(ctx),
                super::paths::DAV_ROOT,
                super::paths::PUSH_SEGMENT,
                done.token
            );
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&location) {
                h.insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&crate::time::http_date(done.expires_at)) {
                h.insert(header::EXPIRES, v);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            r
        }
        Err(Refusal::Invalid(why)) => refuse("invalid-subscription", &why),
        Err(Refusal::Store(e)) => respond::internal(e),
    }
}

/// DELETE `/dav/push/TOKEN`: only the user who registered may end it.
pub async fn unregister(ctx: &Ctx, token: &str) -> Response {
    match push::unregister(ctx.app.store.as_ref(), ctx.principal.user.id, token).await {
        Ok(true) => respond::status(StatusCode::NO_CONTENT),
        Ok(false) => respond::not_found(),
        Err(e) => respond::internal(e),
    }
}

/// After a write to `before` (the collection as it was just before): the writer's own
/// registrations it named in `Push-Dont-Notify` are not told of its change.
pub async fn dont_notify(ctx: &Ctx, before: &Collection) {
    let Some(dn) = &ctx.headers.dont_notify else {
        return;
    };
    let tokens: Option<Vec<String>> = match dn {
        DontNotify::All => None,
        DontNotify::Urls(urls) => Some(
            urls.iter()
                .filter_map(|u| {
                    let path = super::paths::href_path(u);
                    let token = path
                        .trim_end_matches('/')
                        .strip_prefix(super::paths::DAV_ROOT)?
                        .strip_prefix(super::paths::PUSH_SEGMENT)?
                        .strip_prefix('/')?;
                    Some(token.to_string())
                })
                .collect(),
        ),
    };
    if let Err(e) = ctx
        .app
        .store
        .skip_push(
            ctx.principal.user.id,
            before.id,
            tokens.as_deref(),
            before.seq,
        )
        .await
    {
        tracing::warn!(error = %e, "cannot apply Push-Dont-Notify");
    }
}

/// The push properties of an address book or calendar; `None` for other names.
pub fn property(
    service: &crate::core::push::PushService,
    c: &Collection,
    local: &str,
) -> Option<String> {
    match local {
        "transports" => Some(kith_dav::push::transports(service.vapid_public_key())),
        "topic" => Some(kith_dav::xml::escape(&service.topic(c.id)).into_owned()),
        "supported-triggers" => Some(kith_dav::push::SUPPORTED_TRIGGERS.to_string()),
        _ => None,
    }
}
