//! PROPFIND (RFC 4918 §9.1) on every resource of the layout.

use super::paths::{
    Target, collection_href, group_href, home_href, homes_href, member_href, principal_href,
};
use super::props::{Resource, collect};
use super::{Ctx, Render, calendar, object, respond, stream};
use crate::store::{Collection, Kind, ObjectMeta};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::StreamExt;
use kith_dav::headers::Depth;
use kith_dav::ical::Tz;
use kith_dav::multistatus::{Multistatus, hrefs};
use kith_dav::names::{CALDAV, CALSERVER, CARDDAV, DAV, Name};
use kith_dav::request::{PropSelection, parse_propfind};

pub async fn propfind(ctx: &Ctx, body: &[u8]) -> Response {
    let select = match parse_propfind(body) {
        Ok(s) => s,
        Err(e) => return respond::bad_request(&format!("Invalid PROPFIND body: {e}")),
    };
    // Depth infinity would list every card of every book in one answer: refused, as RFC 4918
    // §9.1 allows. A request without Depth gets a Depth 1 listing (rule
    // `propfind-missing-depth` in `kith_dav::quirks`).
    let depth = match ctx.headers.depth(Depth::One) {
        Ok(Depth::Zero) => 0,
        Ok(Depth::One) => 1,
        Ok(Depth::Infinity) => {
            return respond::condition(
                StatusCode::FORBIDDEN,
                DAV,
                "propfind-finite-depth",
                "PROPFIND with Depth: infinity is not supported; send Depth: 0 or 1",
            );
        }
        Err(e) => return respond::bad_request(&e.to_string()),
    };
    let prefer = ctx.headers.prefer;
    // RFC 8144 depth-noroot: a Depth 1 listing without the collection itself.
    let root = depth == 0 || !prefer.no_root;
    let user = ctx.user_name().to_string();
    let mut ms = Multistatus::new().minimal(prefer.minimal);
    let pctx = ctx.prop_ctx();
    let none = &mut |_: &Name| None;
    match &ctx.target {
        Target::Root => {
            let href = ctx.request_path.as_str();
            let (f, m) = collect(&pctx, &Resource::Root, &select, none);
            ms.response(href, &f, &m);
            if depth == 1 {
                let (f, m) = collect(&pctx, &Resource::Principal, &select, none);
                ms.response(&principal_href(&user), &f, &m);
            }
        }
        Target::Principals | Target::Principal(_) => {
            if matches!(ctx.target, Target::Principals) {
                let (f, m) = collect(&pctx, &Resource::Home, &select, none);
                ms.response("/dav/principals/", &f, &m);
                if depth == 0 {
                    return respond::multistatus(ms.finish());
                }
            }
            // RFC 3744 §4.4: the groups the user is in, as group principals, and the
            // delegators' proxy groups (Apple's caldav-proxy).
            let groups = if select.wants(DAV, "group-membership") && ctx.delegated.is_none() {
                match ctx.app.store.groups_of(ctx.principal.user.id).await {
                    Ok(g) => g,
                    Err(e) => return respond::internal(e),
                }
            } else {
                Vec::new()
            };
            let (proxies, read_for, write_for) = match super::proxy::principal_extras(ctx).await {
                Ok(x) => x,
                Err(r) => return r,
            };
            // RFC 6638 §2.4.1: every address the user is known by, then the principal URL.
            let addresses = if select.wants(CALDAV, "calendar-user-address-set")
                || matches!(select.props, kith_dav::request::PropRequest::AllProp { .. })
            {
                let who = match &ctx.delegated {
                    Some(d) => ctx.app.store.user_by_name(&d.owner_name).await,
                    None => Ok(Some(ctx.principal.user.clone())),
                };
                let list = match who {
                    Ok(Some(u)) => {
                        crate::core::scheduling::addresses::of(ctx.app.store.as_ref(), &u).await
                    }
                    Ok(None) => Ok(Vec::new()),
                    Err(e) => Err(e),
                };
                match list {
                    Ok(l) => {
                        let mut v: Vec<String> = l.iter().map(|a| format!("mailto:{a}")).collect();
                        v.push(principal_href(&user));
                        Some(v)
                    }
                    Err(e) => return respond::internal(e),
                }
            } else {
                None
            };
            let mut membership = |name: &Name| {
                if name.is(CALDAV, "calendar-user-address-set")
                    && let Some(list) = &addresses
                {
                    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
                    return Some(Some(hrefs(&refs)));
                }
                if name.is(CALSERVER, "calendar-proxy-read-for") {
                    return Some(Some(read_for.clone()));
                }
                if name.is(CALSERVER, "calendar-proxy-write-for") {
                    return Some(Some(write_for.clone()));
                }
                name.is(DAV, "group-membership").then(|| {
                    let mut list: Vec<String> =
                        groups.iter().map(|g| group_href(&g.name)).collect();
                    list.extend(proxies.iter().cloned());
                    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
                    Some(hrefs(&refs))
                })
            };
            let (f, m) = collect(&pctx, &Resource::Principal, &select, &mut membership);
            ms.response(&principal_href(&user), &f, &m);
            if depth == 1
                && matches!(ctx.target, Target::Principal(_))
                && let Err(r) = super::proxy::children(ctx, &mut ms, &user, &select).await
            {
                return r;
            }
        }
        Target::Proxy(owner, write) => {
            return super::proxy::propfind(ctx, owner, *write, &select).await;
        }
        Target::Group(name) => {
            // A group's principal, for its members (RFC 3744 §4.3: group-member-set).
            let group = match ctx.app.store.group_by_name(name).await {
                Ok(Some(g)) => g,
                Ok(None) => return respond::not_found(),
                Err(e) => return respond::internal(e),
            };
            let members = match ctx.app.store.members(group.id).await {
                Ok(m) => m,
                Err(e) => return respond::internal(e),
            };
            if !members.iter().any(|m| m.id == ctx.principal.user.id) {
                return respond::not_found();
            }
            let href = group_href(&group.name);
            let mut group_props = |n: &Name| {
                if n.ns != DAV {
                    return None;
                }
                Some(match n.local.as_str() {
                    "resourcetype" => Some("<d:principal/>".to_string()),
                    "displayname" => Some(kith_dav::xml::escape(&group.name).into_owned()),
                    "principal-URL" => Some(hrefs(&[&href])),
                    "group-member-set" => {
                        let list: Vec<String> =
                            members.iter().map(|m| principal_href(&m.name)).collect();
                        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
                        Some(hrefs(&refs))
                    }
                    "group-membership" => Some(String::new()),
                    _ => return None,
                })
            };
            let (f, m) = collect(&pctx, &Resource::Root, &select, &mut group_props);
            ms.response(&href, &f, &m);
        }
        Target::Homes(kind) => {
            let (f, m) = collect(&pctx, &Resource::Root, &select, none);
            ms.response(&homes_href(*kind), &f, &m);
            if depth == 1 {
                let (f, m) = collect(&pctx, &Resource::Home, &select, none);
                ms.response(&home_href(*kind, &user), &f, &m);
            }
        }
        Target::Home(kind, _) => {
            if root {
                let (f, m) = collect(&pctx, &Resource::Home, &select, none);
                ms.response(&home_href(*kind, &user), &f, &m);
            }
            if depth == 1 {
                let colls = match ctx.collections(*kind).await {
                    Ok(c) => c,
                    Err(r) => return r,
                };
                for c in &colls {
                    if let Err(r) = collection_response(ctx, &mut ms, c, &select).await {
                        return r;
                    }
                }
            }
        }
        Target::Collection(kind, _, name) => {
            let coll = match ctx.collection(*kind, name).await {
                Ok(Some(b)) => b,
                Ok(None) => return respond::not_found(),
                Err(r) => return r,
            };
            if root && let Err(r) = collection_response(ctx, &mut ms, &coll, &select).await {
                return r;
            }
            if depth == 1 {
                let wants_data = select.wants(CARDDAV, "address-data")
                    || select.wants(CALDAV, "calendar-data")
                    || select.wants(CALDAV, "schedule-tag");
                let mut rows = ctx.app.store.objects(coll.id, wants_data, None);
                let render = ctx.render();
                let zone = calendar::zone(&ctx.app.config, &coll);
                return stream::multistatus(ms, move |mut w| async move {
                    while let Some(row) = rows.next().await {
                        match row {
                            Ok(o) => {
                                let data = wants_data.then_some(o.data.as_slice());
                                member_response(
                                    &render, &mut w.ms, &coll, zone, &o.meta, data, &select,
                                );
                                if !w.flush_if_full().await {
                                    return;
                                }
                            }
                            Err(e) => return w.fail(e).await,
                        }
                    }
                    w.finish().await;
                })
                .await;
            }
        }
        Target::Member(kind, _, coll, name) => {
            let coll = match ctx.collection(*kind, coll).await {
                Ok(Some(b)) => b,
                Ok(None) => return respond::not_found(),
                Err(r) => return r,
            };
            let obj = match ctx.app.store.object(coll.id, name).await {
                Ok(Some(o)) => o,
                Ok(None) => return respond::not_found(),
                Err(e) => return respond::internal(e),
            };
            let zone = calendar::zone(&ctx.app.config, &coll);
            member_response(
                &ctx.render(),
                &mut ms,
                &coll,
                zone,
                &obj.meta,
                Some(&obj.data),
                &select,
            );
        }
        Target::NotFound | Target::Push(_) => return respond::not_found(),
    }
    respond::multistatus(ms.finish())
}

pub async fn collection_response(
    ctx: &Ctx,
    ms: &mut Multistatus,
    coll: &Collection,
    select: &PropSelection,
) -> Result<(), Response> {
    let mut dead = ctx
        .app
        .store
        .dead_props(coll.id)
        .await
        .map_err(respond::internal)?;
    // A sharee sees their own name, colour and description over the owner's.
    let mut coll = coll.clone();
    crate::core::access::with_personal(
        ctx.app.store.as_ref(),
        &ctx.principal.user,
        &mut coll,
        &mut dead,
    )
    .await
    .map_err(respond::internal)?;
    let coll = &coll;
    let invites = super::invite::load(ctx, coll, select).await?;
    // RFC 6638 §9.2: where invitations land, on the inbox.
    let default_calendar = if crate::core::scheduling::boxes::is_inbox(coll)
        && select.wants(CALDAV, "schedule-default-calendar-URL")
    {
        crate::core::scheduling::boxes::default_calendar(
            ctx.app.store.as_ref(),
            &ctx.principal.user,
        )
        .await
        .map_err(respond::internal)?
        .map(|c| collection_href(Kind::Calendar, ctx.user_name(), &c.name))
    } else {
        None
    };
    let (f, m) = collect(
        &ctx.prop_ctx(),
        &Resource::Collection(coll, &dead),
        select,
        &mut |n| {
            if n.is(CALDAV, "schedule-default-calendar-URL") && default_calendar.is_some() {
                return Some(default_calendar.as_deref().map(|h| hrefs(&[h])));
            }
            invites.as_ref().and_then(|i| i.render(n))
        },
    );
    ms.response(
        &collection_href(coll.kind, ctx.user_name(), &coll.name),
        &f,
        &m,
    );
    Ok(())
}

/// One member's response; `address-data` or `calendar-data` is rendered when the data is at
/// hand. `zone` is the calendar's, for expanding floating times.
pub fn member_response(
    r: &Render,
    ms: &mut Multistatus,
    coll: &Collection,
    zone: Tz,
    meta: &ObjectMeta,
    data: Option<&[u8]>,
    select: &PropSelection,
) {
    let kind = coll.kind;
    let mut too_large = false;
    let mut extra = |name: &Name| match kind {
        Kind::Addressbook if name.is(CARDDAV, "address-data") => {
            Some(data.map(|d| object::address_data_xml(r.client, d, select)))
        }
        Kind::Calendar if name.is(CALDAV, "schedule-tag") => Some(
            data.and_then(kith_dav::itip::schedule_tag)
                .map(|t| kith_dav::xml::escape(&t).into_owned()),
        ),
        Kind::Calendar if name.is(CALDAV, "calendar-data") => Some(data.and_then(|d| {
            calendar::calendar_data_xml(r, zone, d, select)
                .map_err(|_| too_large = true)
                .ok()
        })),
        _ => None,
    };
    let (f, mut m) = collect(
        &r.prop_ctx(),
        &Resource::Member(meta, coll),
        select,
        &mut extra,
    );
    if too_large {
        // Not missing: too large to expand here (RFC 4918 §11.5's 507 for this property).
        let name = Name::new(CALDAV, "calendar-data");
        for (_, names) in m.iter_mut() {
            names.retain(|n| *n != name);
        }
        m.push((507, vec![name]));
    }
    ms.response(
        &member_href(kind, &r.subject, &coll.name, &meta.name),
        &f,
        &m,
    );
}
