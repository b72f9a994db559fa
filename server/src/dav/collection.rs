//! Address books and calendars: MKCOL (plain and extended, RFC 5689), MKCALENDAR (RFC 4791
//! §5.3.1), PROPPATCH and DELETE.

use super::paths::{Target, collection_href, member_href};
use super::props::is_protected;
use super::{Ctx, respond};
use crate::store::{CollectionPatch, Kind, StoreError};
use axum::http::StatusCode;
use axum::response::Response;
use kith_dav::multistatus::{Multistatus, PropValue};
use kith_dav::names::{CALDAV, CARDDAV, DAV, Name};
use kith_dav::request::{Mkcol, PatchOp, parse_mkcol, parse_proppatch};
use kith_dav::xml::Element;

/// Maps a property set by a client to a collection change, or `None` if it is protected or
/// invalid. The component set can only be chosen when a calendar is made (`creating`).
fn patch_for(name: &Name, value: Option<&Element>, creating: bool) -> Option<CollectionPatch> {
    if is_protected(name) {
        return None;
    }
    let text = value.map(|v| v.text.trim().to_string());
    Some(if name.is(DAV, "displayname") {
        CollectionPatch::DisplayName(text)
    } else if name.is(CARDDAV, "addressbook-description") || name.is(CALDAV, "calendar-description")
    {
        CollectionPatch::Description(text)
    } else if name.is(CALDAV, "calendar-timezone") {
        // Only a time zone Kith can read is kept: floating times are resolved with it.
        match &text {
            Some(t) if kith_dav::ical::calendar_zone(t).is_none() => return None,
            _ => CollectionPatch::Timezone(text),
        }
    } else if name.is(CALDAV, "supported-calendar-component-set") {
        if !creating {
            return None;
        }
        let comps = components(value?)?;
        CollectionPatch::Components(comps)
    } else {
        CollectionPatch::Dead {
            ns: name.ns.clone(),
            name: name.local.clone(),
            xml: value.map(Element::to_xml),
        }
    })
}

/// What a patch stores, in bytes: the measure of the property quotas.
fn patch_size(p: &CollectionPatch) -> usize {
    match p {
        CollectionPatch::Dead { ns, name, xml } => {
            ns.len() + name.len() + xml.as_ref().map_or(0, String::len)
        }
        CollectionPatch::DisplayName(t)
        | CollectionPatch::Description(t)
        | CollectionPatch::Timezone(t) => t.as_ref().map_or(0, String::len),
        CollectionPatch::Components(c) => c.iter().map(String::len).sum(),
    }
}

/// The properties of `sets` (name and patch) too large to keep: each beyond
/// `dav.max_property_size`, or all the dead ones when they would take the collection's dead
/// properties (`existing`, less those replaced) past `dav.max_properties_size`.
fn too_large(
    ctx: &Ctx,
    sets: &[(Name, CollectionPatch)],
    existing: &[(String, String, String)],
) -> Vec<Name> {
    let limits = &ctx.app.config.dav;
    let mut out: Vec<Name> = sets
        .iter()
        .filter(|(_, p)| patch_size(p) > limits.max_property_size)
        .map(|(n, _)| n.clone())
        .collect();
    let kept: usize = existing
        .iter()
        .filter(|(ns, name, _)| !sets.iter().any(|(n, _)| n.ns == *ns && n.local == *name))
        .map(|(ns, name, xml)| ns.len() + name.len() + xml.len())
        .sum();
    let dead = |p: &CollectionPatch| matches!(p, CollectionPatch::Dead { .. });
    let added: usize = sets
        .iter()
        .filter(|(_, p)| dead(p))
        .map(|(_, p)| patch_size(p))
        .sum();
    if kept + added > limits.max_properties_size {
        for (n, p) in sets {
            if dead(p) && !out.contains(n) {
                out.push(n.clone());
            }
        }
    }
    out
}

/// The component names in a `supported-calendar-component-set`, if all are supported.
fn components(el: &Element) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for c in el.children_named(CALDAV, "comp") {
        let name = c.attr("name")?.trim().to_ascii_uppercase();
        if !kith_dav::ical::COMPONENTS.contains(&name.as_str()) {
            return None;
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    (!out.is_empty()).then_some(out)
}

pub async fn mkcol(ctx: &Ctx, body: &[u8], mkcalendar: bool) -> Response {
    // The body is checked first: an unreadable body is 415 wherever it is sent (RFC 4918 §9.3).
    let spec = if body.iter().all(u8::is_ascii_whitespace) && !mkcalendar {
        // A plain MKCOL makes the kind of collection its home keeps.
        Mkcol::default()
    } else {
        match parse_mkcol(body, mkcalendar) {
            Ok(m) => m,
            Err(e) => {
                return respond::text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &format!("MKCOL takes no body or an extended MKCOL body: {e}"),
                );
            }
        }
    };
    let (kind, name) = match &ctx.target {
        Target::Collection(kind, _, name) => (*kind, name.clone()),
        Target::Member(kind, _, coll, _) => {
            return match ctx.collection(*kind, coll).await {
                Ok(Some(_)) => respond::text(
                    StatusCode::FORBIDDEN,
                    "Address books and calendars cannot contain collections",
                ),
                Ok(None) => {
                    respond::text(StatusCode::CONFLICT, "The parent collection does not exist")
                }
                Err(r) => r,
            };
        }
        _ => {
            return respond::text(
                StatusCode::METHOD_NOT_ALLOWED,
                "This collection already exists",
            );
        }
    };
    // `~` joins an owner and a name in the alias of a shared collection (`core::access`).
    if name.contains('~') {
        return respond::text(
            StatusCode::FORBIDDEN,
            "Names with ~ are kept for collections others share with you; choose another name",
        );
    }
    let types = &spec.resourcetypes;
    let (own, other, what) = match kind {
        Kind::Addressbook => (
            Name::new(CARDDAV, "addressbook"),
            Name::new(CALDAV, "calendar"),
            "Only address books can be created here; calendars go under /dav/calendars/",
        ),
        Kind::Calendar => (
            Name::new(CALDAV, "calendar"),
            Name::new(CARDDAV, "addressbook"),
            "Only calendars can be created here; address books go under /dav/addressbooks/",
        ),
    };
    let unknown = types.iter().any(|t| !t.is(DAV, "collection") && *t != own);
    // Plain WebDAV collections have no place in Kith's tree.
    let plain = kind == Kind::Calendar && !types.contains(&own);
    if unknown || plain || types.contains(&other) {
        return respond::condition(StatusCode::FORBIDDEN, DAV, "valid-resourcetype", what);
    }
    let mut patches = Vec::new();
    let mut named = Vec::new();
    let mut refused = Vec::new();
    for (pname, el) in &spec.props {
        match patch_for(pname, Some(el), true) {
            Some(p) => {
                named.push((pname.clone(), p.clone()));
                patches.push(p);
            }
            None => refused.push(pname.clone()),
        }
    }
    if !refused.is_empty() {
        return mkcol_failure(&spec, &refused, 403, mkcalendar);
    }
    let big = too_large(ctx, &named, &[]);
    if !big.is_empty() {
        // RFC 4918 §9.2.1: no room to record the property.
        return mkcol_failure(&spec, &big, 507, mkcalendar);
    }
    let user = ctx.principal.user.id;
    let mut owned = 0;
    for k in [Kind::Addressbook, Kind::Calendar] {
        match ctx.app.store.collections(user, k).await {
            Ok(c) => owned += c.len(),
            Err(e) => return respond::internal(e),
        }
    }
    if owned >= ctx.app.config.dav.max_collections {
        return respond::condition(
            StatusCode::INSUFFICIENT_STORAGE,
            DAV,
            "quota-not-exceeded",
            &format!(
                "You have {owned} address books and calendars, the most this server allows; delete one first"
            ),
        );
    }
    if kind == Kind::Calendar
        && !patches
            .iter()
            .any(|p| matches!(p, CollectionPatch::Components(_)))
    {
        // RFC 4791 §5.2.3: without a component set, a calendar takes every type.
        patches.push(CollectionPatch::Components(
            ["VEVENT", "VTODO", "VJOURNAL"].map(String::from).to_vec(),
        ));
    }
    match ctx
        .app
        .store
        .create_collection(ctx.principal.user.id, kind, &name, &patches)
        .await
    {
        Ok(_) => {
            let mut r = respond::status(StatusCode::CREATED);
            let href = collection_href(kind, ctx.user_name(), &name);
            if let Ok(v) = axum::http::HeaderValue::from_str(&href) {
                r.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            r
        }
        Err(StoreError::Exists(_)) => respond::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "A collection with this name already exists",
        ),
        Err(e) => respond::internal(e),
    }
}

/// RFC 5689 §3 and RFC 4791 §5.3.1: the whole request fails; refused properties get 403, the
/// others 424.
fn mkcol_failure(spec: &Mkcol, refused: &[Name], code: u16, mkcalendar: bool) -> Response {
    let others: Vec<Name> = spec
        .props
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| !refused.contains(n))
        .collect();
    let root = if mkcalendar {
        "cal:mkcalendar-response"
    } else {
        "d:mkcol-response"
    };
    let mut body = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<{root}");
    body.push_str(kith_dav::names::ROOT_XMLNS);
    body.push('>');
    for (code, names) in [(code, refused.to_vec()), (424, others)] {
        if names.is_empty() {
            continue;
        }
        body.push_str("<d:propstat><d:prop>");
        for n in &names {
            n.write_empty(&mut body);
        }
        body.push_str("</d:prop><d:status>");
        body.push_str(&kith_dav::multistatus::status_line(code));
        body.push_str("</d:status></d:propstat>");
    }
    body.push_str(&format!("</{root}>"));
    respond::xml(StatusCode::FORBIDDEN, body)
}

pub async fn proppatch(ctx: &Ctx, body: &[u8]) -> Response {
    let ops = match parse_proppatch(body) {
        Ok(o) => o,
        Err(e) => return respond::bad_request(&format!("Invalid PROPPATCH body: {e}")),
    };
    let names: Vec<Name> = ops
        .iter()
        .map(|op| match op {
            PatchOp::Set(n, _) | PatchOp::Remove(n) => n.clone(),
        })
        .collect();
    let (href, book) = match &ctx.target {
        Target::Collection(k, _, b) => match ctx.collection(*k, b).await {
            Ok(Some(book)) => (collection_href(*k, ctx.user_name(), b), Some(book)),
            Ok(None) => return respond::not_found(),
            Err(r) => return r,
        },
        Target::Member(k, _, b, c) => (member_href(*k, ctx.user_name(), b, c), None),
        _ => (ctx.request_path.clone(), None),
    };
    if let Target::Member(k, _, b, c) = &ctx.target {
        let exists = match ctx.collection(*k, b).await {
            Ok(Some(book)) => match ctx.app.store.object(book.id, c).await {
                Ok(o) => o.is_some(),
                Err(e) => return respond::internal(e),
            },
            Ok(None) => false,
            Err(r) => return r,
        };
        if !exists {
            return respond::not_found();
        }
    }
    let mut ms = Multistatus::new();
    // A sharee sets their own name, colour and description (kept for them alone); every other
    // property is the owner's.
    if let Some(b) = &book
        && let Some(s) = &b.shared
    {
        if !names
            .iter()
            .all(|n| crate::core::access::is_personal(&n.ns, &n.local))
        {
            return super::write::need_privileges(
                &href,
                "write-properties",
                &format!(
                    "Only {} can change this collection's properties; your own name, colour and description for it you can set",
                    s.owner_name
                ),
            );
        }
        for op in &ops {
            let (n, xml) = match op {
                PatchOp::Set(n, el) => (n, Some(el.to_xml())),
                PatchOp::Remove(n) => (n, None),
            };
            let set = ctx
                .app
                .store
                .set_share_prop(ctx.principal.user.id, b.id, &n.ns, &n.local, xml.as_deref())
                .await;
            if let Err(e) = set {
                return respond::internal(e);
            }
        }
        let ok: Vec<PropValue> = names
            .into_iter()
            .map(|name| PropValue {
                name,
                xml: String::new(),
            })
            .collect();
        ms.response(&href, &ok, &[]);
        return respond::multistatus(ms.finish());
    }
    let Some(book) = book else {
        // Only collections keep properties; objects and the fixed resources have none to set.
        ms.response(&href, &[], &[(403, names)]);
        return respond::multistatus(ms.finish());
    };
    let mut patches = Vec::new();
    let mut named = Vec::new();
    let mut refused = Vec::new();
    for op in &ops {
        let (n, v) = match op {
            PatchOp::Set(n, el) => (n, Some(el)),
            PatchOp::Remove(n) => (n, None),
        };
        match patch_for(n, v, false) {
            Some(p) => {
                named.push((n.clone(), p.clone()));
                patches.push(p);
            }
            None => refused.push(n.clone()),
        }
    }
    // PROPPATCH is atomic (RFC 4918 §9.2): a refused property means nothing is applied.
    let mut code = 403;
    if refused.is_empty() {
        let existing = match ctx.app.store.dead_props(book.id).await {
            Ok(d) => d,
            Err(e) => return respond::internal(e),
        };
        refused = too_large(ctx, &named, &existing);
        code = 507;
    }
    if !refused.is_empty() {
        let others: Vec<Name> = names.into_iter().filter(|n| !refused.contains(n)).collect();
        ms.response(&href, &[], &[(code, refused), (424, others)]);
        return respond::multistatus(ms.finish());
    }
    if let Err(e) = ctx.app.store.patch_collection(book.id, &patches).await {
        return respond::internal(e);
    }
    let ok: Vec<PropValue> = names
        .into_iter()
        .map(|name| PropValue {
            name,
            xml: String::new(),
        })
        .collect();
    ms.response(&href, &ok, &[]);
    respond::multistatus(ms.finish())
}

pub async fn delete(ctx: &Ctx) -> Response {
    let Target::Collection(kind, _, name) = &ctx.target else {
        return respond::text(StatusCode::FORBIDDEN, "This collection cannot be deleted");
    };
    let book = match ctx.collection(*kind, name).await {
        Ok(Some(b)) => b,
        Ok(None) => return respond::not_found(),
        Err(r) => return r,
    };
    if book.derived.as_deref() == Some(crate::core::shared_cards::DERIVED) {
        return respond::text(
            StatusCode::FORBIDDEN,
            "This book holds the contacts others share with you; it empties when they stop sharing",
        );
    }
    if book.derived.is_some() {
        return respond::text(
            StatusCode::FORBIDDEN,
            "The birthday calendar is derived from your address books; an administrator can switch it off with [caldav] birthdays = false",
        );
    }
    // A sharee's DELETE takes the shared collection out of their own home; it stays the
    // owner's, and shared. (Clients offer "delete" as the way to stop seeing a calendar.)
    if book.shared.is_some() {
        return match ctx
            .app
            .store
            .set_share_hidden(ctx.principal.user.id, book.id, true)
            .await
        {
            Ok(()) => respond::status(StatusCode::NO_CONTENT),
            Err(e) => respond::internal(e),
        };
    }
    let tag = format!("\"{}\"", super::props::sync_token(&book));
    if !ctx.conditions_hold(Some(&tag)) {
        return respond::status(StatusCode::PRECONDITION_FAILED);
    }
    match ctx.app.store.delete_collection(book.id, &ctx.actor()).await {
        Ok(()) => respond::status(StatusCode::NO_CONTENT),
        Err(e) => respond::internal(e),
    }
}
