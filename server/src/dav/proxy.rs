//! Apple's calendar proxies (CalendarServer's caldav-proxy), over Kith's delegations: each
//! user's principal holds two group principals, `calendar-proxy-read` and
//! `calendar-proxy-write`, whose `group-member-set` is who the user delegated all their
//! calendars to. A delegate's own principal names the delegators in
//! `calendar-proxy-read-for` / `calendar-proxy-write-for`; macOS Calendar then opens the
//! delegator's principal and calendar home, which a delegate may read (and, with write
//! access, change events in) and no one else reaches. The owner edits the groups with
//! PROPPATCH, as Apple Calendar's Delegation settings do.

use super::paths::{Target, href_path, principal_href, proxy_href, resolve};
use super::props::{Resource, collect};
use super::write::need_privileges;
use super::{Ctx, respond};
use crate::core::delegation::{self, Delegated};
use crate::store::Kind;
use crate::store::shares::Delegation;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use kith_dav::multistatus::{Multistatus, hrefs};
use kith_dav::names::{CALSERVER, DAV, Name};
use kith_dav::request::{PatchOp, PropSelection, parse_proppatch};

/// Whether a delegation can open `target` of another user: their principal, its proxy
/// groups, and their calendars.
pub fn delegable(target: &Target) -> bool {
    matches!(
        target,
        Target::Principal(_)
            | Target::Proxy(..)
            | Target::Home(Kind::Calendar, _)
            | Target::Collection(Kind::Calendar, ..)
            | Target::Member(Kind::Calendar, ..)
    )
}

/// What a delegate may not do in the delegator's space, answered before anything is read:
/// only the owner makes, removes, copies or moves calendars, and edits who their proxies are.
pub fn refuse_method(target: &Target, method: &Method, d: &Delegated) -> Option<Response> {
    let m = method.as_str();
    let reads = matches!(m, "GET" | "HEAD" | "PROPFIND" | "REPORT");
    let allowed = match target {
        Target::Principal(_) | Target::Proxy(..) | Target::Home(..) => reads,
        // A delegate's own name and colour for a calendar are theirs (as for a share).
        Target::Collection(..) => reads || m == "PROPPATCH",
        Target::Member(..) => reads || (d.writable && matches!(m, "PUT" | "DELETE")),
        _ => reads,
    };
    if allowed {
        return None;
    }
    let why = if matches!(target, Target::Member(..)) && matches!(m, "PUT" | "DELETE") {
        format!(
            "{} gave you read-only access to their calendars",
            d.owner_name
        )
    } else {
        format!("only {} can do this with their calendars", d.owner_name)
    };
    let privilege = match m {
        "PROPPATCH" => "write-properties",
        "PUT" | "DELETE" if matches!(target, Target::Member(..)) => "write-content",
        _ => "bind",
    };
    Some(need_privileges(
        &super::paths::home_href(Kind::Calendar, &d.owner_name),
        privilege,
        &why,
    ))
}

fn principal_hrefs(list: &[Delegation]) -> String {
    let v: Vec<String> = list.iter().map(|d| principal_href(&d.name)).collect();
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    hrefs(&refs)
}

/// What a user's own principal says about delegation: `(group-membership additions,
/// calendar-proxy-read-for, calendar-proxy-write-for)`, from who delegated to them.
pub async fn principal_extras(ctx: &Ctx) -> Result<(Vec<String>, String, String), Response> {
    if ctx.delegated.is_some() {
        // A delegate reading the delegator's principal learns nothing of the delegator's own
        // delegations.
        return Ok((Vec::new(), String::new(), String::new()));
    }
    let from = ctx
        .app
        .store
        .delegators_of(ctx.principal.user.id)
        .await
        .map_err(respond::internal)?;
    let groups = from
        .iter()
        .map(|d| proxy_href(&d.name, d.writable))
        .collect();
    let (write, read): (Vec<Delegation>, Vec<Delegation>) =
        from.into_iter().partition(|d| d.writable);
    Ok((groups, principal_hrefs(&read), principal_hrefs(&write)))
}

/// The proxy groups' responses below a principal (a Depth 1 PROPFIND on it).
pub async fn children(
    ctx: &Ctx,
    ms: &mut Multistatus,
    owner: &str,
    select: &PropSelection,
) -> Result<(), Response> {
    for write in [false, true] {
        group_response(ctx, ms, owner, write, select).await?;
    }
    Ok(())
}

/// PROPFIND on `/dav/principals/OWNER/calendar-proxy-(read|write)/`.
pub async fn propfind(ctx: &Ctx, owner: &str, write: bool, select: &PropSelection) -> Response {
    let mut ms = Multistatus::new().minimal(ctx.headers.prefer.minimal);
    match group_response(ctx, &mut ms, owner, write, select).await {
        Ok(()) => respond::multistatus(ms.finish()),
        Err(r) => r,
    }
}

async fn group_response(
    ctx: &Ctx,
    ms: &mut Multistatus,
    owner: &str,
    write: bool,
    select: &PropSelection,
) -> Result<(), Response> {
    let owner_id = match &ctx.delegated {
        Some(d) => d.owner_id,
        None => ctx.principal.user.id,
    };
    let members: Vec<Delegation> = ctx
        .app
        .store
        .delegates_of(owner_id)
        .await
        .map_err(respond::internal)?
        .into_iter()
        .filter(|d| d.writable == write)
        .collect();
    let href = proxy_href(owner, write);
    let kind = if write {
        "calendar-proxy-write"
    } else {
        "calendar-proxy-read"
    };
    let mut props = |n: &Name| {
        Some(match (n.ns.as_str(), n.local.as_str()) {
            (DAV, "resourcetype") => Some(format!("<d:principal/><cs:{kind}/>")),
            (DAV, "displayname") => Some(kith_dav::xml::escape(&format!("{owner} ({kind})")).into_owned()),
            (DAV, "principal-URL") => Some(hrefs(&[&href])),
            (DAV, "group-member-set") => Some(principal_hrefs(&members)),
            (DAV, "group-membership") => Some(String::new()),
            (DAV, "current-user-privilege-set") if ctx.delegated.is_none() => Some(
                "<d:privilege><d:read/></d:privilege><d:privilege><d:write-properties/></d:privilege>"
                    .to_string(),
            ),
            (DAV, "current-user-privilege-set") => {
                Some("<d:privilege><d:read/></d:privilege>".to_string())
            }
            (CALSERVER, _) => None,
            _ => return None,
        })
    };
    let (f, m) = collect(&ctx.prop_ctx(), &Resource::Root, select, &mut props);
    ms.response(&href, &f, &m);
    Ok(())
}

/// PROPPATCH of a proxy group's `group-member-set` by its owner: who may read (or write) all
/// their calendars from now on.
pub async fn proppatch(ctx: &Ctx, body: &[u8]) -> Response {
    let Target::Proxy(owner, write) = &ctx.target else {
        return respond::not_found();
    };
    let ops = match parse_proppatch(body) {
        Ok(o) => o,
        Err(e) => return respond::bad_request(&format!("Invalid PROPPATCH body: {e}")),
    };
    let href = proxy_href(owner, *write);
    let mut ms = Multistatus::new();
    let names: Vec<Name> = ops
        .iter()
        .map(|op| match op {
            PatchOp::Set(n, _) | PatchOp::Remove(n) => n.clone(),
        })
        .collect();
    if names.iter().any(|n| !n.is(DAV, "group-member-set")) {
        // Atomic (RFC 4918 §9.2): a property that cannot be set means none is.
        ms.response(&href, &[], &[(403, names)]);
        return respond::multistatus(ms.finish());
    }
    let mut members = Vec::new();
    for op in &ops {
        if let PatchOp::Set(_, el) = op {
            for h in el.children.iter().filter(|c| c.is(DAV, "href")) {
                match resolve(href_path(&h.text)) {
                    Target::Principal(u) => members.push(u),
                    _ => {
                        return respond::condition(
                            StatusCode::CONFLICT,
                            DAV,
                            "recognized-principal",
                            &format!("{} is not a user's principal", h.text.trim()),
                        );
                    }
                }
            }
        } else {
            members.clear();
        }
    }
    let store = ctx.app.store.as_ref();
    if let Err(e) = delegation::set_proxies(store, &ctx.principal.user, *write, &members).await {
        return respond::condition(
            StatusCode::CONFLICT,
            DAV,
            "recognized-principal",
            &e.to_string(),
        );
    }
    let ok: Vec<kith_dav::multistatus::PropValue> = names
        .into_iter()
        .map(|name| kith_dav::multistatus::PropValue {
            name,
            xml: String::new(),
        })
        .collect();
    ms.response(&href, &ok, &[]);
    respond::multistatus(ms.finish())
}
