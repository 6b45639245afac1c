//! Prometheus metrics: request counts and latencies per route, recorded here and
//! rendered at `GET /metrics` beside the figures read from the database at each scrape
//! (orders by status, work waiting, eSIM stock, the pool: `routes::system::metrics`).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// The process-wide recorder (metrics has one global recorder per process).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            )
            .expect("static buckets are valid");
        match builder.install_recorder() {
            Ok(h) => h,
            // Another recorder is installed (a test harness): keep a private one.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Folds the latencies recorded since the last round into their histograms, every
/// `every`, for ever. The recorder keeps each request's latency as a raw sample until it
/// is folded, and only a scrape of `/metrics` folds them otherwise
/// (metrics-exporter-prometheus: with `install_recorder` "the caller is responsible for
/// ensuring that upkeep is run periodically"): on a server nobody scraped, memory grew by
/// some 25 bytes a request, about 10 MB per benchmark round of ~400,000 requests, for ever
/// (docs/benchmarks.md, 2026-12-06, fourth run).
pub fn spawn_upkeep(every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    let handle = handle();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    })
}

/// Counts each request and times it, labelled by the matched route (never the raw path,
/// which would carry phone numbers into the metrics).
pub async fn track(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    res
}
