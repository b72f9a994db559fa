//! Whole-collection downloads: GET on an address book returns every card as one vCard file,
//! GET on a calendar one iCalendar file, and `/account/export.zip` the user's archive. All are
//! streamed, so a large book costs no more memory than a small one.

use super::{Ctx, respond};
use crate::export::{self, ExportFormat};
use crate::store::{Kind, User};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use std::sync::Arc;

fn attachment(r: &mut Response, content_type: &'static str, file: &str) {
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // File names here are built from collection and user names, which are URL-safe segments;
    // quotes are dropped anyway so the header cannot be broken.
    let file = file.replace(['"', '\\', '\r', '\n'], "_");
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
}

/// GET or HEAD on a collection.
pub async fn collection(ctx: &Ctx, kind: Kind, name: &str, head: bool) -> Response {
    let coll = match ctx.collection(kind, name).await {
        Ok(Some(c)) => c,
        Ok(None) => return respond::not_found(),
        Err(r) => return r,
    };
    let (format, content_type) = match kind {
        Kind::Addressbook => (ExportFormat::Vcf, "text/vcard; charset=utf-8"),
        Kind::Calendar => (ExportFormat::Ics, "text/calendar; charset=utf-8"),
    };
    let file = export::file_name(&coll, format);
    let mut r = if head {
        Response::new(Body::empty())
    } else {
        let title = coll
            .displayname
            .clone()
            .unwrap_or_else(|| coll.name.clone());
        let chunks = export::stream(ctx.app.store.clone(), vec![coll], format, title);
        // A store error midway aborts the body; the client sees a failed download.
        Response::new(Body::from_stream(chunks.map(|c| {
            c.map_err(|e| {
                tracing::error!(error = %e, "collection download aborted");
                std::io::Error::other("the download was aborted")
            })
        })))
    };
    attachment(&mut r, content_type, &file);
    r
}

/// `GET /account/export.zip`: the signed-in user's archive of everything they own.
pub async fn archive(store: Arc<dyn crate::store::Store>, user: &User, head: bool) -> Response {
    let file = match crate::archive::build(store, user).await {
        Ok(f) => f,
        Err(e) => return respond::internal(e),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let body = if head {
        Body::empty()
    } else {
        let file = tokio::fs::File::from_std(file);
        let chunks = futures_util::stream::unfold(file, |mut f| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 64 * 1024];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(Bytes::from(buf)), f))
                }
                Err(e) => Some((Err(e), f)),
            }
        });
        Body::from_stream(chunks)
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    attachment(&mut r, "application/zip", &crate::archive::file_name(user));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}
