//! Accounts: `POST /api/v1/accounts` (sign up), `POST /api/v1/sessions` (sign in),
//! `DELETE /api/v1/sessions/current` (sign out), `GET /api/v1/me` and
//! `POST /api/v1/me/lines` (attach a line, proven by its PUK).

use super::{json, line_ref};
use crate::AppState;
use crate::dto::{
    AttachLineInput, LineOwnerView, MeDto, SessionDto, SignInInput, SignUpInput, UserDto,
};
use crate::extract::{ApiJson, Lang, SignedIn};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use simrenew_store::users::{SESSION_DAYS, User};

fn user_dto(u: &User) -> UserDto {
    UserDto {
        id: u.id.clone(),
        email: u.email.clone(),
        locale: u.locale.clone(),
    }
}

/// Creates a customer account.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = SignUpInput,
    responses((status = 201, body = UserDto), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn sign_up(State(s): State<AppState>, body: ApiJson<SignUpInput>) -> ApiResult<Response> {
    let i = &body.value;
    let locale = i
        .locale
        .as_deref()
        .map(str::parse::<simrenew_core::Locale>)
        .transpose()
        .map_err(|e| Problem::invalid("locale", e))?;
    let u = s
        .store
        .sign_up(&i.email, &i.password, locale.map(|l| l.tag()))
        .await?;
    Ok(json(StatusCode::CREATED, &user_dto(&u)))
}

/// Signs in; the token in the answer is the bearer credential for the other calls.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", request_body = SignInInput,
    responses((status = 201, body = SessionDto), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins for this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn sign_in(State(s): State<AppState>, body: ApiJson<SignInInput>) -> ApiResult<Response> {
    let email = &body.value.email;
    if let Err(wait) = s.sign_in_throttle.check(email).await {
        return Ok(too_many(wait, "too many wrong passwords for this address"));
    }
    let (token, u) = match s.store.sign_in(email, &body.value.password).await {
        Ok(ok) => {
            s.sign_in_throttle.succeeded(email).await;
            ok
        }
        Err(e) => {
            if matches!(e, simrenew_store::StoreError::BadCredentials) {
                s.sign_in_throttle.failed(email).await;
            }
            return Err(e.into());
        }
    };
    let mut res = json(
        StatusCode::CREATED,
        &SessionDto {
            token,
            expires_in_days: SESSION_DAYS,
            user: user_dto(&u),
        },
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// Ends the current session.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "accounts", security(("session" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn sign_out(
    State(s): State<AppState>,
    _user: SignedIn,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, t)| t.trim())
        .unwrap_or("");
    s.store.sign_out(token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signed-in user and their lines, each with balance and data.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("session" = [])),
    responses((status = 200, body = MeDto), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "lang is not supported", body = Problem, content_type = "application/problem+json")))]
pub async fn me(
    State(s): State<AppState>,
    SignedIn(u): SignedIn,
    Lang(lang): Lang,
) -> ApiResult<Json<MeDto>> {
    let mut lines = Vec::new();
    for l in s.store.lines_of_user(&u.id).await? {
        lines.push(LineOwnerView::new(&s.store.line_detail(&l).await?, lang));
    }
    Ok(Json(MeDto {
        user: user_dto(&u),
        lines,
    }))
}

/// Attaches a line to the signed-in account, proven by the PUK on the card's holder.
#[utoipa::path(post, path = "/api/v1/me/lines", tag = "accounts", request_body = AttachLineInput, security(("session" = [])),
    responses((status = 200, body = LineOwnerView), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn attach_line(
    State(s): State<AppState>,
    SignedIn(u): SignedIn,
    Lang(lang): Lang,
    body: ApiJson<AttachLineInput>,
) -> ApiResult<Response> {
    let r = line_ref("line", &body.value.line)?;
    // PUK guesses are limited per line, as on the pages (the same counter).
    let key = format!("attach:{}", crate::pages::line::line_key(&r));
    if let Err(wait) = s.sign_in_throttle.check(&key).await {
        return Ok(too_many(wait, "too many wrong PUKs for this line"));
    }
    let line = match s.store.attach_line(&u.id, &r, &body.value.puk).await {
        Ok(l) => l,
        Err(e) => {
            if matches!(e, simrenew_store::StoreError::WrongPuk) {
                s.sign_in_throttle.failed(&key).await;
            }
            return Err(e.into());
        }
    };
    s.sign_in_throttle.succeeded(&key).await;
    Ok(Json(LineOwnerView::new(&s.store.line_detail(&line).await?, lang)).into_response())
}

/// 429 with `Retry-After` (RFC 9110 §10.2.3) for a caller that guessed too often.
fn too_many(wait: u64, what: &str) -> Response {
    let mut res = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-attempts",
        "Too many failed attempts",
        format!("{what}; try again in {} minutes", wait.div_ceil(60)),
    )
    .into_response();
    if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}
