//! REPORTs on an address book: addressbook-multiget, addressbook-query (RFC 6352 §8); on a
//! calendar: calendar-multiget, calendar-query and free-busy-query (RFC 4791 §7); on both:
//! sync-collection (RFC 6578). Depth is ignored (rule `report-depth-ignored` in
//! `kith_dav::quirks`): Thunderbird sends Depth 1 on sync-collection.

use super::paths::{Target, collection_href, href_path, member_href, resolve};
use super::propfind::member_response;
use super::props::parse_sync_token;
use super::{Ctx, calendar, respond, stream};
use crate::store::{Collection, Kind, Narrow, Object, RowStream, SyncItem};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::StreamExt;
use kith_dav::filter::{Filter, FilterError};
use kith_dav::ical::filter::CalFilter;
use kith_dav::ical::{calendar_zone, parse_calendar, render};
use kith_dav::multistatus::Multistatus;
use kith_dav::names::{CALDAV, CARDDAV, DAV, Name};
use kith_dav::request::{PropSelection, Report, RequestError, parse_report};
use kith_dav::vcard::parse_card;
use std::collections::HashMap;

pub async fn report(ctx: &Ctx, body: &[u8]) -> Response {
    // Filter errors name the precondition of the protocol the collection speaks.
    let filter_ns = match ctx.target {
        Target::Collection(Kind::Calendar, ..) | Target::Member(Kind::Calendar, ..) => CALDAV,
        _ => CARDDAV,
    };
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
                filter_ns,
                "supported-collation",
                &format!(
                    "The collation {c:?} is not supported; use i;unicode-casemap, i;ascii-casemap or i;octet"
                ),
            );
        }
        Err(RequestError::Filter(e)) if filter_ns == CALDAV => {
            return respond::condition(
                StatusCode::FORBIDDEN,
                CALDAV,
                "valid-filter",
                &e.to_string(),
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
    if matches!(
        ctx.target,
        Target::Root | Target::Principals | Target::Principal(_)
    ) {
        match report {
            Report::PrincipalPropertySearch {
                select,
                searches,
                all_of,
            } => return principal_search(ctx, &select, &searches, all_of),
            Report::PrincipalSearchPropertySet => return search_property_set(),
            _ => {}
        }
    }
    // A query on a home holds no objects of its own: an empty answer (RFC 6352 §8.6 and
    // RFC 4791 §7.8 leave the home's members out).
    if matches!(ctx.target, Target::Home(..))
        && matches!(
            report,
            Report::AddressbookQuery { .. } | Report::CalendarQuery { .. }
        )
    {
        return respond::multistatus(Multistatus::new().finish());
    }
    // A query on one object answers for that object alone (RFC 6352 §8.6, RFC 4791 §7.8:
    // the Request-URI may name an object resource); a multiget there reads its collection.
    let (kind, name, only) = match &ctx.target {
        Target::Collection(kind, _, name) => (kind, name, None),
        Target::Member(kind, _, name, member)
            if !matches!(
                report,
                Report::SyncCollection { .. } | Report::FreeBusyQuery { .. }
            ) =>
        {
            (kind, name, Some(member.as_str()))
        }
        _ => {
            return respond::condition(
                StatusCode::FORBIDDEN,
                DAV,
                "supported-report",
                "Reports run on an address book or a calendar",
            );
        }
    };
    let coll = match ctx.collection(*kind, name).await {
        Ok(Some(b)) => b,
        Ok(None) => return respond::not_found(),
        Err(r) => return r,
    };
    let only = match only {
        None => None,
        Some(member) => match ctx.app.store.object(coll.id, member).await {
            Ok(Some(o)) => Some(o),
            Ok(None) => return respond::not_found(),
            Err(e) => return respond::internal(e),
        },
    };
    let unsupported = || {
        respond::condition(
            StatusCode::FORBIDDEN,
            DAV,
            "supported-report",
            "This report does not run on this kind of collection",
        )
    };
    match (report, kind) {
        (Report::AddressbookMultiget { select, hrefs }, Kind::Addressbook)
        | (Report::CalendarMultiget { select, hrefs }, Kind::Calendar) => {
            multiget(ctx, &coll, &select, &hrefs).await
        }
        (
            Report::AddressbookQuery {
                select,
                filter,
                limit,
            },
            Kind::Addressbook,
        ) => query(ctx, &coll, only, &select, &filter, limit).await,
        (
            Report::CalendarQuery {
                select,
                filter,
                timezone,
            },
            Kind::Calendar,
        ) => calendar_query(ctx, &coll, only, &select, &filter, timezone.as_deref()).await,
        (Report::FreeBusyQuery { start, end }, Kind::Calendar) => {
            free_busy(ctx, &coll, start, end).await
        }
        (
            Report::SyncCollection {
                select,
                token,
                limit,
                ..
            },
            _,
        ) => sync_collection(ctx, &coll, &select, &token, limit).await,
        _ => unsupported(),
    }
}

async fn multiget(
    ctx: &Ctx,
    book: &Collection,
    select: &PropSelection,
    hrefs: &[String],
) -> Response {
    // Each href resolves to a member of this book, or is answered 404 as the client sent it.
    // An href named twice is answered once: the response grows with the distinct members, not
    // with how often a request repeats one.
    let mut seen = std::collections::HashSet::new();
    let resolved: Vec<(&str, Option<String>)> = hrefs
        .iter()
        .filter(|href| seen.insert(href.as_str()))
        .map(|href| {
            let name = match resolve(href_path(href)) {
                Target::Member(k, u, b, c)
                    if k == book.kind && u == ctx.user_name() && b == book.name =>
                {
                    Some(c)
                }
                _ => None,
            };
            (href.as_str(), name)
        })
        .collect();
    // Two spellings of one member's href are one member too.
    let mut members = std::collections::HashSet::new();
    let resolved: Vec<(&str, Option<String>)> = resolved
        .into_iter()
        .filter(|(_, n)| n.as_ref().is_none_or(|n| members.insert(n.clone())))
        .collect();
    let resolved: Vec<(String, Option<String>)> = resolved
        .into_iter()
        .map(|(h, n)| (h.to_string(), n))
        .collect();
    let (render, select, book) = (ctx.render(), select.clone(), book.clone());
    let zone = calendar::zone(&ctx.app.config, &book);
    let store = ctx.app.store.clone();
    // Streamed in batches: however many members a request names, only one batch of their
    // data is in memory at a time.
    stream::multistatus(Multistatus::new(), move |mut w| async move {
        for batch in resolved.chunks(MULTIGET_BATCH) {
            let names: Vec<String> = batch.iter().filter_map(|(_, n)| n.clone()).collect();
            let objects = match store.objects_by_name(book.id, &names).await {
                Ok(o) => o,
                Err(e) => return w.fail(e).await,
            };
            let by_name: HashMap<&str, &Object> =
                objects.iter().map(|o| (o.meta.name.as_str(), o)).collect();
            for (href, name) in batch {
                match name.as_deref().and_then(|n| by_name.get(n)) {
                    Some(o) => member_response(
                        &render,
                        &mut w.ms,
                        &book,
                        zone,
                        &o.meta,
                        Some(&o.data),
                        &select,
                    ),
                    None => w.ms.status_response(href, 404),
                }
                if !w.flush_if_full().await {
                    return;
                }
            }
        }
        w.finish().await;
    })
    .await
}

/// Members a multiget reads from the store at once.
const MULTIGET_BATCH: usize = 200;

/// The objects a query reads: the collection's, narrowed, or only the member it was sent to.
fn rows(
    ctx: &Ctx,
    coll: &Collection,
    only: Option<Object>,
    narrow: Option<Narrow>,
) -> RowStream<Object> {
    match only {
        Some(o) => futures_util::stream::once(async move { Ok(o) }).boxed(),
        None => ctx.app.store.objects(coll.id, true, narrow),
    }
}

async fn query(
    ctx: &Ctx,
    book: &Collection,
    only: Option<Object>,
    select: &PropSelection,
    filter: &Filter,
    limit: Option<usize>,
) -> Response {
    let mut rows = rows(ctx, book, only, filter.index_hint().map(Narrow::Index));
    let (render, select, filter) = (ctx.render(), select.clone(), filter.clone());
    let book_href = collection_href(book.kind, ctx.user_name(), &book.name);
    let book = book.clone();
    let zone = calendar::zone(&ctx.app.config, &book);
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
            member_response(
                &render,
                &mut w.ms,
                &book,
                zone,
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
    let wants_data = select.wants(CARDDAV, "address-data")
        || select.wants(CALDAV, "calendar-data")
        || select.wants(CALDAV, "schedule-tag");
    // One row more than the limit tells whether the result is truncated.
    let fetch = limit.map(|l| l.saturating_add(1));
    let mut rows = ctx
        .app
        .store
        .changes(book.id, since, book.seq, fetch, wants_data);
    let (render, select, book) = (ctx.render(), select.clone(), book.clone());
    let zone = calendar::zone(&ctx.app.config, &book);
    stream::multistatus(Multistatus::new(), move |mut w| async move {
        let user = render.subject.clone();
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
                    member_response(&render, &mut w.ms, &book, zone, &o.meta, data, &select);
                }
                SyncItem::Removed { name, seq } => {
                    last = seq;
                    w.ms.status_response(&member_href(book.kind, &user, &book.name, &name), 404);
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
                &collection_href(book.kind, &user, &book.name),
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

/// calendar-query (RFC 4791 §7.8): candidates come from the stored spans when the filter has
/// a time range, and each candidate is then checked exactly against its instances.
async fn calendar_query(
    ctx: &Ctx,
    cal: &Collection,
    only: Option<Object>,
    select: &PropSelection,
    filter: &CalFilter,
    timezone: Option<&str>,
) -> Response {
    let zone = match timezone {
        Some(t) => match calendar_zone(t) {
            Some(z) => z,
            None => {
                return respond::condition(
                    StatusCode::FORBIDDEN,
                    CALDAV,
                    "valid-calendar-data",
                    "The query's timezone is not a VTIMEZONE or time zone name Kith knows",
                );
            }
        },
        None => calendar::zone(&ctx.app.config, cal),
    };
    let narrow = filter.span().map(|tr| Narrow::Span {
        start: tr.start,
        end: tr.end,
    });
    let mut rows = rows(ctx, cal, only, narrow);
    let (render, select, filter, cal) = (ctx.render(), select.clone(), filter.clone(), cal.clone());
    let limit = ctx.app.config.caldav.max_instances;
    stream::multistatus(Multistatus::new(), move |mut w| async move {
        while let Some(row) = rows.next().await {
            let o = match row {
                Ok(o) => o,
                Err(e) => return w.fail(e).await,
            };
            // Stored objects always parse: they were validated by the same code when written.
            let Ok(obj) = parse_calendar(&o.data) else {
                continue;
            };
            if !filter.matches(&obj, zone, limit) {
                continue;
            }
            member_response(
                &render,
                &mut w.ms,
                &cal,
                zone,
                &o.meta,
                Some(&o.data),
                &select,
            );
            if !w.flush_if_full().await {
                return;
            }
        }
        w.finish().await;
    })
    .await
}

/// free-busy-query (RFC 4791 §7.10): one VFREEBUSY with the busy time of the calendar.
async fn free_busy(ctx: &Ctx, cal: &Collection, start: i64, end: i64) -> Response {
    let zone = calendar::zone(&ctx.app.config, cal);
    let limit = ctx.app.config.caldav.max_instances;
    let mut rows = ctx
        .app
        .store
        .objects(cal.id, true, Some(Narrow::Span { start, end }));
    let mut busy = Vec::new();
    while let Some(row) = rows.next().await {
        let o = match row {
            Ok(o) => o,
            Err(e) => return respond::internal(e),
        };
        if let Ok(obj) = parse_calendar(&o.data) {
            busy.extend(render::busy(&obj, zone, start, end, limit));
        }
    }
    let now = crate::store::now_ms() / 1000;
    let body = render::freebusy(busy, start, end, now);
    let mut r = axum::response::Response::new(axum::body::Body::from(body));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    r
}

/// principal-property-search (RFC 3744 §9.4). Nobody may list other users: the search only
/// ever finds the caller's own principal, when it matches.
fn principal_search(
    ctx: &Ctx,
    select: &PropSelection,
    searches: &[(Vec<Name>, String)],
    all_of: bool,
) -> Response {
    let user = ctx.user_name();
    let hit = |(props, text): &(Vec<Name>, String)| {
        let needle = text.to_lowercase();
        // The user name is the display name and the calendar user address Kith knows.
        let searchable = |p: &Name| {
            p.is(DAV, "displayname")
                || p.is(CALDAV, "calendar-user-address-set")
                || p.ns.contains("email")
        };
        props.iter().any(searchable) && user.to_lowercase().contains(&needle)
    };
    let matched = if all_of {
        searches.iter().all(hit)
    } else {
        searches.is_empty() || searches.iter().any(hit)
    };
    let mut ms = Multistatus::new();
    if matched {
        let (f, m) = super::props::collect(
            &ctx.prop_ctx(),
            &super::props::Resource::Principal,
            select,
            &mut |_| None,
        );
        ms.response(&super::paths::principal_href(user), &f, &m);
    }
    respond::multistatus(ms.finish())
}

/// principal-search-property-set (RFC 3744 §9.5): the display name is searchable.
fn search_property_set() -> Response {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:principal-search-property-set",
    );
    body.push_str(kith_dav::names::ROOT_XMLNS);
    body.push_str("><d:principal-search-property><d:prop><d:displayname/></d:prop>");
    body.push_str(
        "<d:description xml:lang=\"en\">Name</d:description></d:principal-search-property>",
    );
    body.push_str("</d:principal-search-property-set>");
    respond::xml(StatusCode::OK, body)
}
