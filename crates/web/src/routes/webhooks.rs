//! Provider notifications. Each is verified before anything in it is trusted (YooKassa's
//! are not signed: only the payment id is read, and the payment fetched from the API);
//! a forged or unreadable one gets a 400 and a log line without its body; a provider we
//! cannot reach to verify gets a 503, so the provider sends it again later.

use crate::AppState;
use crate::problem::Problem;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use simrenew_payments::PaymentError;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/yookassa", post(yookassa))
}

async fn yookassa(State(s): State<AppState>, body: Bytes) -> Response {
    let Some(yk) = &s.config.yookassa else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such provider",
            "YooKassa is not configured in this shop",
        )
        .into_response();
    };
    let payment = match yk.verify_notification(&body).await {
        Ok(p) => p,
        Err(e @ PaymentError::BadNotification(_)) => {
            tracing::warn!(reason = %e, bytes = body.len(), "YooKassa notification rejected");
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-notification",
                "Notification rejected",
                e.to_string(),
            )
            .into_response();
        }
        Err(e) => {
            tracing::warn!(error = %e, "YooKassa notification not verifiable now");
            return Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider-unreachable",
                "Cannot verify now",
                "the provider could not be asked; send the notification again later",
            )
            .into_response();
        }
    };
    match crate::payments::apply_yookassa(&s, &payment).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(simrenew_store::StoreError::PaymentNotFound(_)) => {
            // A payment of this shop's account that simrenew did not create.
            tracing::warn!(payment = %payment.id, "YooKassa payment unknown here");
            StatusCode::OK.into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}
