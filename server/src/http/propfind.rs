//! PROPFIND (RFC 4918 §9.1) on every resource of the layout.

use super::paths::{Target, book_href, card_href, home_href, principal_href};
use super::props::{Resource, collect};
use super::{Ctx, Render, object, respond, stream};
use crate::store::{Collection, ObjectMeta};
use axum::response::Response;
use futures_util::StreamExt;
use kith_dav::headers::Depth;
use kith_dav::multistatus::Multistatus;
use kith_dav::names::{CARDDAV, Name};
use kith_dav::request::{PropSelection, parse_propfind};

pub async fn propfind(ctx: &Ctx, body: &[u8]) -> Response {
    let select = match parse_propfind(body) {
        Ok(s) => s,
        Err(e) => return respond::bad_request(&format!("Invalid PROPFIND body: {e}")),
    };
    // Depth infinity is treated as 1: Kith's tree is shallow and no client needs more.
    let depth = match Depth::parse(ctx.header("depth"), Depth::Infinity) {
        Some(Depth::Zero) => 0,
        Some(_) => 1,
        None => return respond::bad_request("Depth must be 0, 1 or infinity"),
    };
    let user = ctx.user_name().to_string();
    let mut ms = Multistatus::new();
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
            let (f, m) = collect(&pctx, &Resource::Principal, &select, none);
            ms.response(&principal_href(&user), &f, &m);
        }
        Target::AddressbookHomes | Target::Home(_) => {
            if matches!(ctx.target, Target::AddressbookHomes) {
                let (f, m) = collect(&pctx, &Resource::Root, &select, none);
                ms.response("/dav/addressbooks/", &f, &m);
                if depth == 1 {
                    let (f, m) = collect(&pctx, &Resource::Home, &select, none);
                    ms.response(&home_href(&user), &f, &m);
                }
                return respond::multistatus(ms.finish());
            }
            let (f, m) = collect(&pctx, &Resource::Home, &select, none);
            ms.response(&home_href(&user), &f, &m);
            if depth == 1 {
                let books = match ctx.app.store.collections(ctx.principal.user.id).await {
                    Ok(b) => b,
                    Err(e) => return respond::internal(e),
                };
                for book in &books {
                    if let Err(r) = book_response(ctx, &mut ms, book, &select).await {
                        return r;
                    }
                }
            }
        }
        Target::Book(_, name) => {
            let book = match ctx.book(name).await {
                Ok(Some(b)) => b,
                Ok(None) => return respond::not_found(),
                Err(r) => return r,
            };
            if let Err(r) = book_response(ctx, &mut ms, &book, &select).await {
                return r;
            }
            if depth == 1 {
                let wants_data = select.wants(CARDDAV, "address-data");
                let mut rows = ctx.app.store.objects(book.id, wants_data, None);
                let render = ctx.render();
                return stream::multistatus(ms, move |mut w| async move {
                    while let Some(row) = rows.next().await {
                        match row {
                            Ok(o) => {
                                let data = wants_data.then_some(o.data.as_slice());
                                card_response(
                                    &render, &mut w.ms, &book.name, &o.meta, data, &select,
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
        Target::Card(_, book, card) => {
            let book = match ctx.book(book).await {
                Ok(Some(b)) => b,
                Ok(None) => return respond::not_found(),
                Err(r) => return r,
            };
            let obj = match ctx.app.store.object(book.id, card).await {
                Ok(Some(o)) => o,
                Ok(None) => return respond::not_found(),
                Err(e) => return respond::internal(e),
            };
            card_response(
                &ctx.render(),
                &mut ms,
                &book.name,
                &obj.meta,
                Some(&obj.data),
                &select,
            );
        }
        Target::NotFound => return respond::not_found(),
    }
    respond::multistatus(ms.finish())
}

pub async fn book_response(
    ctx: &Ctx,
    ms: &mut Multistatus,
    book: &Collection,
    select: &PropSelection,
) -> Result<(), Response> {
    let dead = ctx
        .app
        .store
        .dead_props(book.id)
        .await
        .map_err(respond::internal)?;
    let (f, m) = collect(
        &ctx.prop_ctx(),
        &Resource::Book(book, &dead),
        select,
        &mut |_| None,
    );
    ms.response(&book_href(ctx.user_name(), &book.name), &f, &m);
    Ok(())
}

/// One card's response; `address-data` is rendered when the data is at hand.
pub fn card_response(
    r: &Render,
    ms: &mut Multistatus,
    book: &str,
    meta: &ObjectMeta,
    data: Option<&[u8]>,
    select: &PropSelection,
) {
    let mut extra = |name: &Name| {
        if name.is(CARDDAV, "address-data") {
            Some(data.map(|d| object::address_data_xml(r.client, d, select)))
        } else {
            None
        }
    };
    let (f, m) = collect(&r.prop_ctx(), &Resource::Card(meta), select, &mut extra);
    ms.response(&card_href(&r.user.name, book, &meta.name), &f, &m);
}
