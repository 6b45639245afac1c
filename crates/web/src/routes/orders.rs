//! Quotes and orders: `POST /api/v1/quotes`, `POST /api/v1/orders`,
//! `GET /api/v1/orders/{id}`, `POST /api/v1/orders/{id}/pay`.

use super::{claim, first_answer, json, line_ref, refused, rendered};
use crate::AppState;
use crate::dto::{ItemInput, OrderDto, OrderInput, PayInput, PayWith, QuoteDto};
use crate::extract::{ApiJson, IdempotencyKey, MaybeUser, SignedIn};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use simrenew_core::Currency;
use simrenew_core::promotion::PromoCode;
use simrenew_store::idempotency::Idem;
use simrenew_store::orders::{ItemRequest, Order, OrderRequest, Payment};

/// Orders placed through this API are on the `app` channel.
pub const CHANNEL: &str = "app";

pub(crate) fn request(input: &OrderInput, buyer: Option<String>) -> ApiResult<OrderRequest> {
    let line = line_ref("line", &input.line)?;
    let currency = input
        .currency
        .as_deref()
        .map(str::parse::<Currency>)
        .transpose()
        .map_err(|e| Problem::invalid("currency", e.to_string()))?;
    let items = input
        .items
        .iter()
        .map(|i| match i {
            ItemInput::Renew { plan_id, start } => ItemRequest::Renew {
                plan_id: plan_id.clone(),
                start: (*start).into(),
            },
            ItemInput::Addon { plan_id } => ItemRequest::AddOn {
                plan_id: plan_id.clone(),
            },
            ItemInput::Topup { amount_minor } => ItemRequest::TopUp {
                amount_minor: *amount_minor,
            },
        })
        .collect();
    let payment = match input.pay_with {
        Some(PayWith::Balance) => Payment::Balance,
        None => Payment::External,
    };
    Ok(OrderRequest {
        line,
        items,
        currency,
        channel: CHANNEL.into(),
        buyer,
        payment,
        promo_code: promo_code(input.promo_code.as_deref())?,
    })
}

/// A promo code as typed (empty means none), or which field is wrong and why.
pub(crate) fn promo_code(typed: Option<&str>) -> ApiResult<Option<PromoCode>> {
    typed
        .map(PromoCode::typed)
        .transpose()
        .map(Option::flatten)
        .map_err(|e| Problem::invalid("promo_code", e.to_string()))
}

fn scope(user: &Option<simrenew_store::users::User>) -> String {
    user.as_ref()
        .map_or_else(|| "anon".to_string(), |u| format!("user:{}", u.id))
}

/// What renewing, adding or topping up would cost and bring if paid now. Changes nothing.
#[utoipa::path(post, path = "/api/v1/quotes", tag = "orders", request_body = OrderInput, security((), ("session" = [])),
    responses((status = 200, body = QuoteDto),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn quote(
    State(s): State<AppState>,
    MaybeUser(user): MaybeUser,
    body: ApiJson<OrderInput>,
) -> ApiResult<Json<QuoteDto>> {
    let req = request(&body.value, user.map(|u| u.id))?;
    let q = s.store.quote(&req).await?;
    Ok(Json(QuoteDto::from(&q)))
}

/// Places an order. With `pay_with: balance` (the signed-in owner only) it is paid and
/// fulfilled at once, or refused whole (402 says how much is missing). Without, it waits
/// in `pending_payment` for a payment. Requires an `Idempotency-Key` header.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", request_body = OrderInput, security((), ("session" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended change (a UUID, say); a retry with the same key and body returns the first answer", pattern = "^[!-~]{1,255}$")),
    responses((status = 201, body = OrderDto, headers(("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 402, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_order(
    State(s): State<AppState>,
    MaybeUser(user): MaybeUser,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<OrderInput>,
) -> ApiResult<Response> {
    let c = claim(
        scope(&user),
        key,
        "POST /api/v1/orders",
        &body.canonical_hash,
    );
    let render = |o: &Order| rendered(StatusCode::CREATED, &OrderDto::from(o));
    let placed = match request(&body.value, user.map(|u| u.id)) {
        Err(refused) => Err(refused),
        Ok(req) => s
            .store
            .create_order(
                &req,
                Some(&Idem {
                    claim: &c,
                    render: &render,
                }),
            )
            .await
            .map(|o| created(&o))
            .map_err(refused),
    };
    first_answer(&s, &c, placed).await
}

fn created(o: &Order) -> Response {
    let mut res = json(StatusCode::CREATED, &OrderDto::from(o));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/orders/{}", o.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// An order's status and what it granted. The order id is the capability: whoever placed
/// the order (even anonymously) can follow it.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_order(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderDto>> {
    let o = s.store.order(&id).await?;
    Ok(Json(OrderDto::from(&o)))
}

/// Pays a pending order from the line's balance (owner only) and fulfils it at once.
/// Requires an `Idempotency-Key` header.
#[utoipa::path(post, path = "/api/v1/orders/{id}/pay", tag = "orders", request_body = PayInput, security(("session" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "Unique per intended change (a UUID, say); a retry with the same key and body returns the first answer", pattern = "^[!-~]{1,255}$")),
    responses((status = 200, body = OrderDto),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 402, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn pay_order(
    State(s): State<AppState>,
    SignedIn(user): SignedIn,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    body: ApiJson<PayInput>,
) -> ApiResult<Response> {
    let PayWith::Balance = body.value.method;
    let c = claim(
        format!("user:{}", user.id),
        key,
        &format!("POST /api/v1/orders/{id}/pay"),
        &body.canonical_hash,
    );
    let render = |o: &Order| rendered(StatusCode::OK, &OrderDto::from(o));
    let paid = s
        .store
        .pay_from_balance(
            &id,
            &user.id,
            Some(&Idem {
                claim: &c,
                render: &render,
            }),
        )
        .await
        .map(|o| json(StatusCode::OK, &OrderDto::from(&o)))
        .map_err(refused);
    first_answer(&s, &c, paid).await
}
