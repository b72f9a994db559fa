//! The accept loop: each connection served by hyper (HTTP/1.1 and HTTP/2), with the limits
//! `[server.limits]` sets. A cap on connections served at once (the rest wait in the kernel's
//! listen queue, holding no file descriptor of ours), a deadline for each request's headers
//! (which also ends idle kept-alive connections and slow-header clients), and a deadline
//! between the chunks of a body. Each request carries the peer's address ([`crate::app::Peer`]).

use crate::app::Peer;
use crate::config::ConnectionLimits;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests under way
/// finish (for at most `grace`).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: &ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    // Descriptors beyond the connections: the database, uploads, backups.
    let fds = crate::alloc::raise_fd_limit();
    let room = usize::try_from(fds.saturating_sub(128)).unwrap_or(usize::MAX);
    let cap = limits.max_connections.min(room.max(16));
    if cap < limits.max_connections {
        tracing::warn!(
            max_connections = limits.max_connections,
            open_files = fds,
            "the open-files limit allows fewer connections; serving {cap} at once"
        );
    }
    let slots = Arc::new(Semaphore::new(cap));
    let body_timeout = limits.body_timeout();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout());
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout()))
        .keep_alive_timeout(limits.header_timeout());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // TCP_NODELAY: a DAV response is often written as headers plus a small body; Nagle's
        // algorithm with the client's delayed ACK would hold the second write for ~40 ms.
        let _ = stream.set_nodelay(true);
        let ip = Peer(peer.ip());
        let svc = router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ip);
                req.map(|b| {
                    axum::body::Body::new(http_body_util::BodyExt::map_err(
                        tower_http::timeout::TimeoutBody::new(body_timeout, b),
                        axum::Error::new,
                    ))
                })
            },
        );
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(svc))
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still under way at shutdown were cut short");
    }
}
