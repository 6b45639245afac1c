//! The HTTP/1.1 server loop `simrenew serve` runs: axum's own `serve` sets no timer, so a
//! client could hold a connection (and its task and buffers) for ever by sending a
//! request head a byte at a time, by never finishing a body, or by idling between
//! requests. Here each connection has one limit, `timeout`:
//!
//! - the whole request head must arrive within it, counted from when the server starts
//!   waiting for a head, so an idle keep-alive connection is closed after it too
//!   (hyper's `header_read_timeout`, with a Tokio timer);
//! - a request body may pause at most that long between two pieces (tower-http's
//!   `TimeoutBody`); the extractor then answers 408 (`extract::body_problem`).
//!
//! A handler that has its request is never cut off: a renewal half-way through its
//! transaction finishes (or rolls back) by the store's rules, not by a clock.
//! Connections get `TCP_NODELAY`, and each request carries the peer's address
//! (`ConnectInfo<SocketAddr>`) for per-client limits. On shutdown the server stops
//! accepting, lets each connection finish the request it is serving, and returns when
//! all have closed.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Serves `app` on `listener` until `shutdown` resolves, then drains the connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `stop` tells every connection to finish; each holds a `done` receiver, so
    // `done_tx.closed()` resolves when the last one has gone.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let (done_tx, done) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
        };
        // Small answers go out at once instead of waiting for the peer's ACK.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let (mut stopping, done) = (stopping.clone(), done.clone());
        tokio::spawn(async move {
            let service = app.map_request(move |req: axum::extract::Request<Incoming>| {
                let (mut parts, body) = req.into_parts();
                parts.extensions.insert(ConnectInfo(peer));
                let body =
                    axum::body::Body::new(tower_http::timeout::TimeoutBody::new(timeout, body));
                axum::extract::Request::from_parts(parts, body)
            });
            let service = hyper_util::service::TowerToHyperService::new(service);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                // Ended (closed by the peer, timed out, or a protocol error: nothing to
                // tell anyone beyond the trace).
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, %peer, "connection ended");
                    }
                }
                _ = stopping.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(done);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(done);
    done_tx.closed().await;
    Ok(())
}

/// A failed accept: the peer gave up meanwhile (nothing to do), or the process is out of
/// file descriptors or memory; then wait a moment for connections to close rather than
/// spin (as hyper's server did).
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(500)).await;
}
