//! Provider notifications at `/webhooks/{provider}`. Each is verified by its connector
//! before anything in it is trusted (YooKassa's are not signed: only the payment id is
//! read and the payment fetched from the API; Alipay's RSA2 form signature; WeChat Pay's
//! signed headers and encrypted resource). A forged or unreadable one gets a 400 and a
//! log line without its body; a provider we cannot reach to verify gets a 503, so the
//! provider sends it again later. A verified one is answered the way its provider
//! expects (Alipay: the text `success`), whatever simrenew made of it.

use crate::AppState;
use crate::extract::RawBody;
use crate::problem::Problem;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use simrenew_payments::PaymentError;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/{provider}", post(notification))
}

async fn notification(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Response {
    let Some(p) = crate::payments::provider(&s, &name) else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such provider",
            "this payment provider is not configured in this shop",
        )
        .into_response();
    };
    let verified = match p.verify_notification(&headers, &body).await {
        Ok(v) => v,
        Err(e @ PaymentError::BadNotification(_)) => {
            tracing::warn!(provider = %name, reason = %e, bytes = body.len(), "notification rejected");
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-notification",
                "Notification rejected",
                e.to_string(),
            )
            .into_response();
        }
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "notification not verifiable now");
            return Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider-unreachable",
                "Cannot verify now",
                "the provider could not be asked; send the notification again later",
            )
            .into_response();
        }
    };
    let ack = (
        StatusCode::OK,
        [("content-type", "text/plain; charset=utf-8")],
        p.acknowledgement(),
    );
    match crate::payments::apply(&s, p.name(), &verified).await {
        Ok(Some(simrenew_store::payments::Settlement::Fulfilled(order))) => {
            // Paid for a new eSIM: released now (after the answer: the provider waits
            // for nobody's SM-DP+), so the install mail goes out at once.
            let s = s.clone();
            tokio::spawn(async move { crate::esim::release_if_new_esim(&s, &order).await });
            ack.into_response()
        }
        Ok(_) => ack.into_response(),
        Err(simrenew_store::StoreError::PaymentNotFound(_)) => {
            // A payment of this merchant account that simrenew did not create.
            tracing::warn!(provider = %name, payment = %verified.provider_id, "payment unknown here");
            ack.into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}
