//! One module per resource. Shared here: how a money-moving POST honours its
//! `Idempotency-Key` (replay the stored answer, refuse a different body, store the first
//! success in the same transaction as the change).

pub mod accounts;
pub mod es2plus;
pub mod esims;
pub mod lines;
pub mod orders;
pub mod partner;
pub mod plans;
pub mod system;
pub mod usage;
pub mod webhooks;

use crate::AppState;
use crate::problem::{ApiResult, Problem};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use simrenew_store::StoreError;
use simrenew_store::idempotency::IdemClaim;

/// The header set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Builds the claim for this request: keys are per caller, hashes cover method, route and body.
pub fn claim(scope: String, key: String, route: &str, body_hash: &str) -> IdemClaim {
    let request_hash = simrenew_store::db::sha256_hex(format!("{route}\n{body_hash}").as_bytes());
    IdemClaim {
        scope,
        key,
        request_hash,
    }
}

/// 409: the key was used for another request.
pub fn key_reused() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "idempotency-key-reused",
        "Idempotency-Key used for another request",
        "this Idempotency-Key was already used with a different request; use a new key for a new request",
    )
    .field("Idempotency-Key", "already used with a different body")
}

/// The stored answer for this claim, if any: replayed when the request is the same,
/// refused (409) when the key was used for another request.
pub async fn replay(state: &AppState, c: &IdemClaim) -> ApiResult<Option<Response>> {
    let Some(stored) = state.store.stored_response(&c.scope, &c.key).await? else {
        return Ok(None);
    };
    if stored.request_hash != c.request_hash {
        return Err(key_reused());
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = (status, stored.body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    Ok(Some(res))
}

/// How a money-moving POST answers, given what its attempt came to. The change's
/// transaction ends by storing its answer under the claim, so the attempt is made without
/// looking for a stored answer first (a round trip saved on every new request): a repeat
/// fails there (on the key) or before it (on what the first attempt changed: an order
/// already paid, a balance spent, a promotion used up), changes nothing, and is answered
/// here with what the first attempt stored, or refused (409) when its body differs. Only
/// a refusal with nothing stored under the key stands as it is.
pub async fn first_answer(
    state: &AppState,
    c: &IdemClaim,
    attempt: ApiResult<Response>,
) -> ApiResult<Response> {
    match attempt {
        Ok(answer) => Ok(answer),
        Err(refused) => replay(state, c).await?.ok_or(refused),
    }
}

/// A store failure of a change made under a claim: the key taken by a twin whose answer
/// is not visible yet (still committing) is 409 "in progress", not a conflict of ours.
pub fn refused(e: StoreError) -> Problem {
    if e.is_unique_violation() {
        Problem::from(StoreError::IdempotencyRace)
    } else {
        Problem::from(e)
    }
}

/// A JSON response with a status.
pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The render function stored with an idempotency key.
pub fn rendered<T: serde::Serialize>(status: StatusCode, body: &T) -> (u16, String) {
    (
        status.as_u16(),
        serde_json::to_string(body).unwrap_or_default(),
    )
}

/// Parses a line reference from a path or body field.
pub fn line_ref(field: &str, s: &str) -> ApiResult<simrenew_core::LineRef> {
    simrenew_core::LineRef::parse(s).map_err(|e| Problem::bad_id(field, &e))
}
