//! Health (`/healthz`: the process answers), readiness (`/readyz`: the database answers),
//! Prometheus metrics (`/metrics`), the demo landing page and the JSON 404.

use crate::AppState;
use crate::dto::Health;
use crate::problem::Problem;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// 200 while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
    })
}

/// 200 when the database answers a query, 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(s): State<AppState>) -> Response {
    match s.store.ping().await {
        Ok(()) => axum::Json(Health {
            status: "ready".into(),
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Database unavailable",
                "the database does not answer",
            )
            .into_response()
        }
    }
}

/// Prometheus text exposition: requests and latencies per route, orders by status, work
/// waiting on the outside (`simrenew_backlog{queue}`, with the oldest's age), the eSIM
/// stock, the database pool.
/// With `metrics_token` configured, only `Authorization: Bearer <metrics token>` is
/// answered.
#[utoipa::path(get, path = "/metrics", tag = "operations", security((), ("metrics" = [])),
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn metrics(
    State(s): State<AppState>,
    crate::extract::Bearer(token): crate::extract::Bearer,
) -> Response {
    if !s.may_scrape(token.as_deref()) {
        return crate::problem::Problem::unauthorized(
            "send Authorization: Bearer <metrics token> (metrics_token is set)",
        )
        .into_response();
    }
    // Read from the database at each scrape and written out here, beside the recorder's
    // request metrics: a process-wide recorder shared by several apps (tests) would mix
    // their figures, and a figure that could not be read is left out, not kept stale.
    let mut out = crate::metrics::handle().render();
    if let Ok(counts) = s.store.order_counts().await {
        let samples = simrenew_core::OrderStatus::ALL.iter().map(|status| {
            let n = counts
                .iter()
                .find(|(k, _)| k == status.code())
                .map_or(0, |(_, n)| *n);
            (vec![("status", status.code().to_string())], n as f64)
        });
        gauge(&mut out, "simrenew_orders", "Orders by status.", samples);
    }
    if let Ok(queues) = s.store.backlog().await {
        let now = time::OffsetDateTime::now_utc();
        let label = |q: &simrenew_store::backlog::Queue| vec![("queue", q.name.clone())];
        gauge(
            &mut out,
            "simrenew_backlog",
            "Work waiting on the outside, per queue.",
            queues.iter().map(|q| (label(q), q.waiting as f64)),
        );
        gauge(
            &mut out,
            "simrenew_backlog_oldest_seconds",
            "How long the oldest waiting item of each queue has waited (0: none waits).",
            queues.iter().map(|q| {
                let age = q
                    .oldest
                    .map_or(0.0, |t| (now - t).as_seconds_f64().max(0.0));
                (label(q), age.floor())
            }),
        );
    }
    if let Ok(counts) = s.store.profile_counts().await {
        let samples = simrenew_core::Operator::ALL.iter().flat_map(|op| {
            let counts = &counts;
            simrenew_core::esim::ProfileState::ALL
                .iter()
                .map(move |state| {
                    let n = counts
                        .iter()
                        .find(|(o, st, _)| o == op.code() && st == state)
                        .map_or(0, |(_, _, n)| *n);
                    (
                        vec![
                            ("operator", op.code().to_string()),
                            ("state", state.code().to_string()),
                        ],
                        n as f64,
                    )
                })
        });
        gauge(
            &mut out,
            "simrenew_esim_profiles",
            "The eSIM stock, per operator and profile state.",
            samples,
        );
    }
    let (size, idle) = s.store.pool_stats();
    gauge(
        &mut out,
        "simrenew_db_pool_connections",
        "Database connections open.",
        [(vec![], f64::from(size))],
    );
    gauge(
        &mut out,
        "simrenew_db_pool_idle",
        "Database connections open and idle.",
        [(vec![], idle as f64)],
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Appends one gauge family in the Prometheus text format 0.0.4: HELP, TYPE, then a
/// line per sample, label values escaped as the format requires (`\`, `"`, newline).
fn gauge(
    out: &mut String,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Vec<(&'static str, String)>, f64)>,
) {
    use std::fmt::Write;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        out.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    format!("{k}=\"{v}\"")
                })
                .collect();
            let _ = write!(out, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(out, " {value}");
    }
}

pub async fn not_found(uri: Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "No such resource",
        format!("nothing at {}", uri.path()),
    )
}
