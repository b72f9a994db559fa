//! Streaming multistatus bodies: responses are written as rows arrive from the store and sent
//! in 64 KiB chunks, so a PROPFIND or sync of a 100,000-card book needs no more memory than a
//! small one. Errors found before the first byte are ordinary responses; a store error midway
//! aborts the body, which the client sees as a failed request and retries.

use super::respond::XML;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use kith_dav::multistatus::Multistatus;
use std::future::Future;
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

type Chunk = Result<Bytes, std::io::Error>;

pub struct ChunkWriter {
    pub ms: Multistatus,
    tx: mpsc::Sender<Chunk>,
}

impl ChunkWriter {
    /// Sends the buffer once it passes the chunk size; `false` once the client has gone away.
    pub async fn flush_if_full(&mut self) -> bool {
        if self.ms.len() < CHUNK {
            return true;
        }
        let chunk = self.ms.take_chunk();
        self.tx.send(Ok(Bytes::from(chunk))).await.is_ok()
    }

    pub async fn finish(self) {
        let _ = self.tx.send(Ok(Bytes::from(self.ms.finish()))).await;
    }

    pub async fn fail(self, err: impl std::fmt::Display) {
        tracing::error!(error = %err, "streamed response aborted");
        let _ = self
            .tx
            .send(Err(std::io::Error::other("the response was aborted")))
            .await;
    }
}

/// A 207 response whose body `fill` writes, starting from `ms` (which may already hold the
/// first responses). A body that fits in one chunk is sent whole, with a Content-Length, in one
/// write; only larger ones are streamed.
pub async fn multistatus<F, Fut>(ms: Multistatus, fill: F) -> Response
where
    F: FnOnce(ChunkWriter) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    tokio::spawn(fill(ChunkWriter { ms, tx }));
    let first = rx.recv().await;
    let second = match first {
        Some(Ok(_)) => rx.recv().await,
        _ => None,
    };
    let body = match (first, second) {
        (Some(Ok(whole)), None) => Body::from(whole),
        (first, second) => {
            let head = futures_util::stream::iter(first.into_iter().chain(second));
            let rest = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            });
            Body::from_stream(head.chain(rest))
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::MULTI_STATUS;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(XML));
    r
}
