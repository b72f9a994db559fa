//! REPORTs on an address book: addressbook-multiget, addressbook-query (RFC 6352 §8) and
//! sync-collection (RFC 6578). Depth is ignored: Thunderbird sends Depth 1 on sync-collection.

use super::paths::{Target, book_href, card_href, href_path, resolve};
use super::propfind::card_response;
use super::props::parse_sync_token;
use super::{Ctx, respond, stream};
use crate::store::{Collection, Object, SyncItem};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::StreamExt;
use kith_dav::filter::{Filter, FilterError};
use kith_dav::multistatus::Multistatus;
use kith_dav::names::{CARDDAV, DAV, Name};
use kith_dav::request::{PropSelection, Report, RequestError, parse_report};
use kith_dav::vcard::parse_card;
use std::collections::HashMap;

pub async fn report(ctx: &Ctx, body: &[u8]) -> Response {
    let report = match parse_report(body) {
        Ok(r) => r,
        Err(RequestError::UnsupportedReport(name)) => {
            return respond::condition(
                StatusCode::FORBIDDEN,
                DAV,
                "supported-report",
                &format!("The report {name} is not supported here"),
            );
        }
        Err(RequestError::Filter(FilterError::Collation(c))) => {
            return respond::condition(
                StatusCode::FORBIDDEN,
                CARDDAV,
                "supported-collation",
                &format!(
                    "The collation {c:?} is not supported; use i;unicode-casemap, i;ascii-casemap or i;octet"
                ),
            );
        }
        Err(RequestError::Filter(e)) => {
            return respond::condition(
                StatusCode::FORBIDDEN,
                CARDDAV,
                "supported-filter",
                &e.to_string(),
            );
        }
        Err(e) => return respond::bad_request(&format!("Invalid REPORT body: {e}")),
    };
    let Target::Book(_, name) = &ctx.target else {
        return respond::condition(
            StatusCode::FORBIDDEN,
            DAV,
            "supported-report",
            "Reports run on an address book",
        );
    };
    let book = match ctx.book(name).await {
        Ok(Some(b)) => b,
        Ok(None) => return respond::not_found(),
        Err(r) => return r,
    };
    match report {
        Report::AddressbookMultiget { select, hrefs } => {
            multiget(ctx, &book, &select, &hrefs).await
        }
        Report::AddressbookQuery {
            select,
            filter,
            limit,
        } => query(ctx, &book, &select, &filter, limit).await,
        Report::SyncCollection {
            select,
            token,
            limit,
            ..
        } => sync_collection(ctx, &book, &select, &token, limit).await,
    }
}

async fn multiget(
    ctx: &Ctx,
    book: &Collection,
    select: &PropSelection,
    hrefs: &[String],
) -> Response {
    // Each href resolves to a member of this book, or is answered 404 as the client sent it.
    let resolved: Vec<(&str, Option<String>)> = hrefs
        .iter()
        .map(|href| {
            let name = match resolve(href_path(href)) {
                Target::Card(u, b, c) if u == ctx.user_name() && b == book.name => Some(c),
                _ => None,
            };
            (href.as_str(), name)
        })
        .collect();
    let names: Vec<String> = resolved.iter().filter_map(|(_, n)| n.clone()).collect();
    let objects = match ctx.app.store.objects_by_name(book.id, &names).await {
        Ok(o) => o,
        Err(e) => return respond::internal(e),
    };
    let by_name: HashMap<&str, &Object> =
        objects.iter().map(|o| (o.meta.name.as_str(), o)).collect();
    let render = ctx.render();
    let mut ms = Multistatus::new();
    for (href, name) in &resolved {
        match name.as_deref().and_then(|n| by_name.get(n)) {
            Some(o) => card_response(&render, &mut ms, &book.name, &o.meta, Some(&o.data), select),
            None => ms.status_response(href, 404),
        }
    }
    respond::multistatus(ms.finish())
}

async fn query(
    ctx: &Ctx,
    book: &Collection,
    select: &PropSelection,
    filter: &Filter,
    limit: Option<usize>,
) -> Response {
    let mut rows = ctx.app.store.objects(book.id, true, filter.index_hint());
    let (render, select, filter) = (ctx.render(), select.clone(), filter.clone());
    let book_href = book_href(ctx.user_name(), &book.name);
    let book_name = book.name.clone();
    stream::multistatus(Multistatus::new(), move |mut w| async move {
        let mut count = 0usize;
        let mut truncated = false;
        while let Some(row) = rows.next().await {
            let o = match row {
                Ok(o) => o,
                Err(e) => return w.fail(e).await,
            };
            // Stored cards always parse: they were validated by the same code when written.
            let Ok(info) = parse_card(&o.data) else {
                continue;
            };
            if !filter.matches(&info) {
                continue;
            }
            if limit.is_some_and(|l| count >= l) {
                truncated = true;
                break;
            }
            card_response(
                &render,
                &mut w.ms,
                &book_name,
                &o.meta,
                Some(&o.data),
                &select,
            );
            count += 1;
            if !w.flush_if_full().await {
                return;
            }
        }
        if truncated {
            w.ms.status_response_with_error(
                &book_href,
                507,
                &Name::new(DAV, "number-of-matches-within-limits"),
            );
        }
        w.finish().await;
    })
    .await
}

async fn sync_collection(
    ctx: &Ctx,
    book: &Collection,
    select: &PropSelection,
    token: &str,
    limit: Option<usize>,
) -> Response {
    let since = if token.is_empty() {
        0
    } else {
        match parse_sync_token(book, token) {
            Some(s) if s <= book.seq && s >= book.horizon => s,
            _ => {
                return respond::condition(
                    StatusCode::FORBIDDEN,
                    DAV,
                    "valid-sync-token",
                    "The sync token is unknown or has expired; sync again without a token",
                );
            }
        }
    };
    let wants_data = select.wants(CARDDAV, "address-data");
    // One row more than the limit tells whether the result is truncated.
    let fetch = limit.map(|l| l.saturating_add(1));
    let mut rows = ctx.app.store.changes(book.id, since, fetch, wants_data);
    let (render, select, book) = (ctx.render(), select.clone(), book.clone());
    stream::multistatus(Multistatus::new(), move |mut w| async move {
        let user = render.user.name.clone();
        let (mut last, mut count, mut truncated, mut current) = (since, 0usize, false, None);
        while let Some(item) = rows.next().await {
            let item = match item {
                Ok(i) => i,
                Err(e) => return w.fail(e).await,
            };
            if let SyncItem::End { current: c } = item {
                current = Some(c);
                continue;
            }
            if limit.is_some_and(|l| count >= l) {
                truncated = true;
                continue;
            }
            match item {
                SyncItem::Present(o) => {
                    last = o.meta.seq;
                    let data = wants_data.then_some(o.data.as_slice());
                    card_response(&render, &mut w.ms, &book.name, &o.meta, data, &select);
                }
                SyncItem::Removed { name, seq } => {
                    last = seq;
                    w.ms.status_response(&card_href(&user, &book.name, &name), 404);
                }
                SyncItem::End { .. } => {}
            }
            count += 1;
            if !w.flush_if_full().await {
                return;
            }
        }
        let next = if truncated {
            w.ms.status_response_with_error(
                &book_href(&user, &book.name),
                507,
                &Name::new(DAV, "number-of-matches-within-limits"),
            );
            last
        } else {
            match current {
                Some(c) => c,
                None => return w.fail("the change list ended early").await,
            }
        };
        w.ms.sync_token(&super::props::sync_token_at(&book, next));
        w.finish().await;
    })
    .await
}
