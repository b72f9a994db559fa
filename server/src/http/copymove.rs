//! COPY and MOVE of cards between the caller's own address books (RFC 4918 §9.8, §9.9).

use super::paths::{Target, href_path, resolve};
use super::{Ctx, respond};
use crate::store::{NewObject, PutOutcome};
use axum::http::StatusCode;
use axum::response::Response;
use kith_dav::names::CARDDAV;
use kith_dav::vcard::parse_card;

pub async fn copy_or_move(ctx: &Ctx, is_move: bool) -> Response {
    let Target::Card(_, src_book, src_name) = &ctx.target else {
        return respond::text(
            StatusCode::FORBIDDEN,
            "Only cards can be copied or moved; address books cannot",
        );
    };
    let Some(dest) = ctx.header("destination") else {
        return respond::bad_request("COPY and MOVE need a Destination header");
    };
    let Target::Card(dest_user, dest_book, dest_name) = resolve(href_path(dest)) else {
        return respond::text(
            StatusCode::FORBIDDEN,
            "The destination must be a card URL in one of your address books",
        );
    };
    if dest_user != ctx.user_name() {
        return respond::text(
            StatusCode::FORBIDDEN,
            "You can only copy into your own address books",
        );
    }
    let overwrite = !ctx
        .header("overwrite")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("f"));
    let (src, dst) = match (ctx.book(src_book).await, ctx.book(&dest_book).await) {
        (Ok(Some(s)), Ok(Some(d))) => (s, d),
        (Ok(None), _) => return respond::not_found(),
        (_, Ok(None)) => {
            return respond::text(
                StatusCode::CONFLICT,
                "The destination address book does not exist",
            );
        }
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if src.id == dst.id && *src_name == dest_name {
        return respond::text(StatusCode::FORBIDDEN, "Source and destination are the same");
    }
    let store = &ctx.app.store;
    let obj = match store.object(src.id, src_name).await {
        Ok(Some(o)) => o,
        Ok(None) => return respond::not_found(),
        Err(e) => return respond::internal(e),
    };
    let Ok(info) = parse_card(&obj.data) else {
        return respond::internal("a stored card no longer parses");
    };
    let uid = crate::store::effective_uid(&info, &dest_name);
    let new = NewObject {
        name: &dest_name,
        uid: &uid,
        etag: &obj.meta.etag,
        content_type: &obj.meta.content_type,
        data: &obj.data,
        index: info.index_entries(),
    };
    let outcome = if is_move && src.id == dst.id {
        // A rename keeps the row, its UID and its data: one transaction in the store.
        store
            .rename_object(src.id, src_name, &dest_name, &uid, overwrite)
            .await
    } else {
        let check = move |current: Option<&str>| overwrite || current.is_none();
        store.put_object(dst.id, &new, &check).await
    };
    let code = match outcome {
        Ok(PutOutcome::Created) => StatusCode::CREATED,
        Ok(PutOutcome::Updated) => StatusCode::NO_CONTENT,
        Ok(PutOutcome::PreconditionFailed) => {
            return respond::status(StatusCode::PRECONDITION_FAILED);
        }
        Ok(PutOutcome::UidConflict(_)) => {
            return respond::condition(
                StatusCode::FORBIDDEN,
                CARDDAV,
                "no-uid-conflict",
                "The destination address book already has a card with this UID",
            );
        }
        Err(e) => return respond::internal(e),
    };
    if is_move && src.id != dst.id {
        // The copy is committed; only now does the source go.
        if let Err(e) = store.delete_object(src.id, src_name, &|_| true).await {
            return respond::internal(e);
        }
    }
    respond::status(code)
}
