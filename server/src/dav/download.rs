//! Whole-collection downloads: GET on an address book returns every card as one vCard file,
//! GET on a calendar one iCalendar file. Both are streamed, so a large book costs no more
//! memory than a small one.

use super::{Ctx, respond};
use crate::core::export::{self, ExportFormat};
use crate::store::Kind;
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::StreamExt;

fn attachment(r: &mut Response, content_type: &'static str, file: &str) {
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&crate::core::export::content_disposition(file)) {
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
