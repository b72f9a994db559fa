//! Address books: MKCOL (plain and extended, RFC 5689), PROPPATCH and DELETE.

use super::paths::{Target, book_href, card_href};
use super::props::is_protected;
use super::{Ctx, respond};
use crate::store::{CollectionPatch, StoreError};
use axum::http::StatusCode;
use axum::response::Response;
use kith_dav::multistatus::{Multistatus, PropValue};
use kith_dav::names::{CALDAV, CARDDAV, DAV, Name};
use kith_dav::request::{Mkcol, PatchOp, parse_mkcol, parse_proppatch};
use kith_dav::xml::Element;

/// Maps a property set by a client to a collection change, or `None` if it is protected.
fn patch_for(name: &Name, value: Option<&Element>) -> Option<CollectionPatch> {
    if is_protected(name) {
        return None;
    }
    let text = value.map(|v| v.text.trim().to_string());
    Some(if name.is(DAV, "displayname") {
        CollectionPatch::DisplayName(text)
    } else if name.is(CARDDAV, "addressbook-description") {
        CollectionPatch::Description(text)
    } else {
        CollectionPatch::Dead {
            ns: name.ns.clone(),
            name: name.local.clone(),
            xml: value.map(Element::to_xml),
        }
    })
}

pub async fn mkcol(ctx: &Ctx, body: &[u8]) -> Response {
    // The body is checked first: an unreadable body is 415 wherever it is sent (RFC 4918 §9.3).
    let spec = if body.iter().all(u8::is_ascii_whitespace) {
        // A plain MKCOL in the address-book home makes an address book: it is the only kind of
        // collection Kith keeps there.
        Mkcol::default()
    } else {
        match parse_mkcol(body) {
            Ok(m) => m,
            Err(e) => {
                return respond::text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &format!("MKCOL takes no body or an extended MKCOL body: {e}"),
                );
            }
        }
    };
    let name = match &ctx.target {
        Target::Book(_, name) => name.clone(),
        Target::Card(_, book, _) => {
            return match ctx.book(book).await {
                Ok(Some(_)) => respond::text(
                    StatusCode::FORBIDDEN,
                    "Address books cannot contain collections",
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
    let types = &spec.resourcetypes;
    let wants_calendar = types.iter().any(|t| t.is(CALDAV, "calendar"));
    let unknown = types
        .iter()
        .any(|t| !t.is(DAV, "collection") && !t.is(CARDDAV, "addressbook"));
    if wants_calendar || unknown {
        return respond::condition(
            StatusCode::FORBIDDEN,
            DAV,
            "valid-resourcetype",
            "Only address books can be created here",
        );
    }
    let mut patches = Vec::new();
    let mut refused = Vec::new();
    for (pname, el) in &spec.props {
        match patch_for(pname, Some(el)) {
            Some(p) => patches.push(p),
            None => refused.push(pname.clone()),
        }
    }
    if !refused.is_empty() {
        return mkcol_failure(&spec, &refused);
    }
    match ctx
        .app
        .store
        .create_collection(ctx.principal.user.id, &name, &patches)
        .await
    {
        Ok(_) => {
            let mut r = respond::status(StatusCode::CREATED);
            if let Ok(v) = axum::http::HeaderValue::from_str(&book_href(ctx.user_name(), &name)) {
                r.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            r
        }
        Err(StoreError::Exists(_)) => respond::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "An address book with this name already exists",
        ),
        Err(e) => respond::internal(e),
    }
}

/// RFC 5689 §3: the whole MKCOL fails; refused properties get 403, the others 424.
fn mkcol_failure(spec: &Mkcol, refused: &[Name]) -> Response {
    let others: Vec<Name> = spec
        .props
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| !refused.contains(n))
        .collect();
    let mut body = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:mkcol-response");
    body.push_str(kith_dav::names::ROOT_XMLNS);
    body.push('>');
    for (code, names) in [(403u16, refused.to_vec()), (424, others)] {
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
    body.push_str("</d:mkcol-response>");
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
        Target::Book(_, b) => match ctx.book(b).await {
            Ok(Some(book)) => (book_href(ctx.user_name(), b), Some(book)),
            Ok(None) => return respond::not_found(),
            Err(r) => return r,
        },
        Target::Card(_, b, c) => (card_href(ctx.user_name(), b, c), None),
        _ => (ctx.request_path.clone(), None),
    };
    if let Target::Card(_, b, c) = &ctx.target {
        let exists = match ctx.book(b).await {
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
    let Some(book) = book else {
        // Only address books keep properties; cards and the fixed resources have none to set.
        ms.response(&href, &[], &[(403, names)]);
        return respond::multistatus(ms.finish());
    };
    let mut patches = Vec::new();
    let mut refused = Vec::new();
    for op in &ops {
        let (n, v) = match op {
            PatchOp::Set(n, el) => (n, Some(el)),
            PatchOp::Remove(n) => (n, None),
        };
        match patch_for(n, v) {
            Some(p) => patches.push(p),
            None => refused.push(n.clone()),
        }
    }
    if !refused.is_empty() {
        // PROPPATCH is atomic (RFC 4918 §9.2): nothing is applied.
        let others: Vec<Name> = names.into_iter().filter(|n| !refused.contains(n)).collect();
        ms.response(&href, &[], &[(403, refused), (424, others)]);
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
    let Target::Book(_, name) = &ctx.target else {
        return respond::text(StatusCode::FORBIDDEN, "This collection cannot be deleted");
    };
    let book = match ctx.book(name).await {
        Ok(Some(b)) => b,
        Ok(None) => return respond::not_found(),
        Err(r) => return r,
    };
    if let Some(m) = ctx.header("if-match") {
        let tag = format!("\"{}\"", super::props::sync_token(&book));
        if !kith_dav::headers::etag_list_matches(m, Some(&tag)) {
            return respond::status(StatusCode::PRECONDITION_FAILED);
        }
    }
    match ctx.app.store.delete_collection(book.id).await {
        Ok(()) => respond::status(StatusCode::NO_CONTENT),
        Err(e) => respond::internal(e),
    }
}
