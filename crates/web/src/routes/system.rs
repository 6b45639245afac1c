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

/// Prometheus text exposition: requests and latencies per route, orders by status, pool.
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
    if let Ok(counts) = s.store.order_counts().await {
        for status in simrenew_core::OrderStatus::ALL {
            let n = counts
                .iter()
                .find(|(k, _)| k == status.code())
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("simrenew_orders", "status" => status.code()).set(n as f64);
        }
    }
    let (size, idle) = s.store.pool_stats();
    metrics::gauge!("simrenew_db_pool_connections").set(f64::from(size));
    metrics::gauge!("simrenew_db_pool_idle").set(idle as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
        .into_response()
}

pub async fn not_found(uri: Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "No such resource",
        format!("nothing at {}", uri.path()),
    )
}
