//! COPY and MOVE of cards between the caller's own address books, and of events between
//! their calendars (RFC 4918 §9.8, §9.9).

use super::paths::{Target, href_path, resolve};
use super::{Ctx, respond, write};
use crate::core::objects::prepare;
use crate::store::{Kind, PutOutcome};
use axum::http::StatusCode;
use axum::response::Response;
use kith_dav::names::{CALDAV, CARDDAV};

pub async fn copy_or_move(ctx: &Ctx, is_move: bool) -> Response {
    let Target::Member(kind, _, src_book, src_name) = &ctx.target else {
        return respond::text(
            StatusCode::FORBIDDEN,
            "Only cards and calendar objects can be copied or moved; collections cannot",
        );
    };
    let kind = *kind;
    let Some(dest) = ctx.headers.destination.as_deref() else {
        return respond::bad_request("COPY and MOVE need a Destination header");
    };
    let (dest_user, dest_book, dest_name) = match resolve(href_path(dest)) {
        Target::Member(k, u, b, n) if k == kind => (u, b, n),
        _ => {
            return respond::text(
                StatusCode::FORBIDDEN,
                "The destination must be an object URL in one of your collections of the same kind",
            );
        }
    };
    if dest_user != ctx.user_name() {
        return respond::text(
            StatusCode::FORBIDDEN,
            "You can only copy into your own address books",
        );
    }
    let overwrite = match ctx.headers.overwrite() {
        Ok(o) => o,
        Err(e) => return respond::bad_request(&e.to_string()),
    };
    let (src, dst) = match (
        ctx.collection(kind, src_book).await,
        ctx.collection(kind, &dest_book).await,
    ) {
        (Ok(Some(s)), Ok(Some(d))) => (s, d),
        (Ok(None), _) => return respond::not_found(),
        (_, Ok(None)) => {
            return respond::text(
                StatusCode::CONFLICT,
                "The destination collection does not exist",
            );
        }
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let refused = write::refuse_write(&dst, href_path(dest), "bind").or_else(|| {
        is_move
            .then(|| write::refuse_write(&src, &ctx.path, "unbind"))
            .flatten()
    });
    if let Some(r) = refused {
        return r;
    }
    if src.id == dst.id && *src_name == dest_name {
        return respond::text(StatusCode::FORBIDDEN, "Source and destination are the same");
    }
    let store = &ctx.app.store;
    let obj = match store.object(src.id, src_name).await {
        Ok(Some(o)) => o,
        Ok(None) => return respond::not_found(),
        Err(e) => return respond::internal(e),
    };
    // The destination checks the object as a PUT would (a calendar may not take its component).
    let prepared = match prepare(&ctx.app.config, &dst, &dest_name, obj.data, obj.meta.etag) {
        Ok(p) => p,
        Err(e) => return write::refused(e, ""),
    };
    let (new, uid) = (prepared.as_new(), &prepared.uid);
    let outcome = if is_move && src.id == dst.id {
        // A rename keeps the row, its UID and its data: one transaction in the store.
        store
            .rename_object(src.id, src_name, &dest_name, uid, overwrite, &ctx.actor())
            .await
    } else {
        let check = move |current: Option<&str>| overwrite || current.is_none();
        store.put_object(dst.id, &new, &check, &ctx.actor()).await
    };
    let code = match outcome {
        Ok(PutOutcome::Created) => StatusCode::CREATED,
        Ok(PutOutcome::Updated) => StatusCode::NO_CONTENT,
        Ok(PutOutcome::PreconditionFailed) => {
            return respond::status(StatusCode::PRECONDITION_FAILED);
        }
        Ok(outcome @ (PutOutcome::UidConflict(_) | PutOutcome::UidChanged(_))) => {
            let ns = if kind == Kind::Calendar {
                CALDAV
            } else {
                CARDDAV
            };
            let why = if matches!(outcome, PutOutcome::UidChanged(_)) {
                "The destination holds an object with another UID, which an overwrite may not replace"
            } else {
                "The destination collection already has an object with this UID"
            };
            return respond::condition(StatusCode::FORBIDDEN, ns, "no-uid-conflict", why);
        }
        Err(e) => return respond::internal(e),
    };
    if is_move && src.id != dst.id {
        // The copy is committed; only now does the source go.
        if let Err(e) = store
            .delete_object(src.id, src_name, &|_| true, &ctx.actor())
            .await
        {
            return respond::internal(e);
        }
    }
    respond::status(code)
}
