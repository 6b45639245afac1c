//! Our side of ES2+: `POST /gsma/rsp2/es2plus/handleDownloadProgressInfo`, where the
//! SM-DP+ reports how a profile's download and installation went (SGP.22 §5.3.5). The
//! caller is authenticated (its TLS client certificate as the reverse proxy verified it —
//! ES2+'s own mutual TLS — and/or an agreed bearer token, compared in constant time; and
//! its function requester identifier), the `X-Admin-Protocol` header checked, and the
//! profile moved by the rules of `ProfileState` (a late or repeated notification changes
//! nothing). The function is a notification, without output data: taken, it is
//! answered `204 No Content` (SGP.22 §6.5.1, the HTTP binding; osmocom's ES2+
//! implementation expects the same), with `X-Admin-Protocol` and, for callers that check
//! it on every answer, `Content-Type: application/json`. A function-level refusal (a
//! requester not allowed, an unknown profile) is answered as ES2+ answers a failed
//! function: HTTP 200 with `header.functionExecutionStatus` `Failed`.

use crate::AppState;
use crate::extract::RawBody;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use simrenew_esim::es2plus::{ProgressInfo, StatusCodeData, header_only, progress_state};
use simrenew_store::esim::ProfileChange;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/gsma/rsp2/es2plus/handleDownloadProgressInfo",
        post(handle_download_progress_info),
    )
}

/// Taken: 204, no body.
fn received() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            ("x-admin-protocol", simrenew_esim::es2plus::ADMIN_PROTOCOL),
            ("content-type", "application/json"),
        ],
    )
        .into_response()
}

fn es2(status: &str, data: Option<StatusCodeData>) -> Response {
    (
        StatusCode::OK,
        [
            ("x-admin-protocol", simrenew_esim::es2plus::ADMIN_PROTOCOL),
            ("content-type", "application/json;charset=UTF-8"),
        ],
        header_only(status, data.as_ref()).to_string(),
    )
        .into_response()
}

fn failed(subject: &str, reason: &str, message: &str) -> Response {
    es2(
        "Failed",
        Some(StatusCodeData {
            subject_code: subject.into(),
            reason_code: reason.into(),
            subject_identifier: None,
            message: Some(message.into()),
        }),
    )
}

async fn handle_download_progress_info(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Response {
    let Some(cb) = &s.config.esim_callback else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(token) = &cb.token {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !crate::secret_matches(token, bearer) {
            tracing::warn!("ES2+ call without the agreed token");
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    if let Some(name) = &cb.verify_header {
        // nginx's $ssl_client_verify: SUCCESS, or FAILED:<reason>, or NONE.
        if headers.get(name.as_str()).map(|v| v.as_bytes()) != Some(b"SUCCESS") {
            tracing::warn!(header = %name, "ES2+ call without a verified client certificate");
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    if cb.token.is_none() && cb.verify_header.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if let Err(r) = simrenew_esim::es2plus::check_protocol(&headers) {
        return r;
    }
    let info: ProgressInfo = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "ES2+ handleDownloadProgressInfo unreadable");
            return (
                StatusCode::BAD_REQUEST,
                "not a handleDownloadProgressInfo request",
            )
                .into_response();
        }
    };
    if info.header.function_requester_identifier != cb.smdp_id {
        return failed("8.1", "1.2", "function requester not allowed");
    }
    // Some SM-DP+ pad a 19-digit ICCID with F.
    let iccid = info.iccid.trim_end_matches(['F', 'f']);
    let Some(to) = progress_state(&info) else {
        // A point that moves nothing (eligibility checked…): noted, answered.
        tracing::info!(
            iccid,
            point = info.notification_point_id,
            "ES2+ progress noted"
        );
        return received();
    };
    let detail = format!(
        "handleDownloadProgressInfo point {} {}",
        info.notification_point_id, info.notification_point_status.status
    );
    let error = info
        .notification_point_status
        .status_code_data
        .as_ref()
        .map(|d| d.to_string());
    let change = ProfileChange {
        eid: info.eid.as_deref(),
        imei: info.imei.as_deref(),
        error: error.as_deref(),
        detail: Some(&detail),
        ..Default::default()
    };
    match s.store.set_profile_state(iccid, to, &change).await {
        Ok(_) => received(),
        Err(simrenew_store::StoreError::Invalid { .. }) => {
            failed("8.2.1", "3.9", "profile ICCID unknown")
        }
        Err(e) => {
            tracing::error!(error = %e, "ES2+ progress");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
