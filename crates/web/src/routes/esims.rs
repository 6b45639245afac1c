//! eSIMs and paying from an app: `POST /api/v1/esims` buys a new eSIM (a number is
//! reserved from the stock and its first plan ordered, in one request),
//! `GET /api/v1/orders/{id}/payment-methods` and `POST /api/v1/orders/{id}/payments`
//! pay any order with a provider, and `GET /api/v1/orders/{id}/esim` follows the
//! profile to its activation code. The same rules as the pages (`pages::esim`).

use super::{claim, json, refused, rendered, replay};
use crate::AppState;
use crate::dto::{EsimDto, OrderDto, PaymentInput};
use crate::extract::{ApiJson, ClientIp, IdempotencyKey, MaybeUser};
use crate::pages::esim::{NewEsim, NewEsimError, Reserve, reserve};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use simrenew_core::{Currency, Locale};
use simrenew_store::idempotency::Idem;
use simrenew_store::orders::{ItemRequest, Order, OrderRequest, Payment};
use utoipa::ToSchema;

/// A new eSIM: the operator, its first plan, and optionally the phone and where the
/// install mail goes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "operator": "mts",
    "plan_id": "mts-month-30gb",
    "currency": "CNY",
    "email": "traveller@example.com",
    "locale": "zh-CN"
}))]
pub struct EsimInput {
    /// mts, beeline, megafon or t2
    #[schema(pattern = "^(mts|beeline|megafon|t2)$", example = "mts")]
    pub operator: String,
    /// The first plan (a renewal plan of this operator).
    #[schema(min_length = 1)]
    pub plan_id: String,
    /// The buyer's currency (RUB, CNY, USD, EUR); the line's when absent.
    #[serde(default)]
    #[schema(pattern = "^(RUB|CNY|USD|EUR)$")]
    pub currency: Option<String>,
    /// The phone's EID (32 digits): the profile then installs on that phone only. Empty
    /// (or absent) means none.
    #[serde(default)]
    #[schema(pattern = "EID_OR_BLANK")]
    pub eid: Option<String>,
    /// The phone's IMEI (15 digits, as *#06# shows it), kept for support; empty means none.
    #[serde(default)]
    #[schema(pattern = "IMEI_OR_BLANK")]
    pub imei: Option<String>,
    /// Where the install mail (QR code attached) goes; the signed-in buyer's address
    /// when absent.
    #[serde(default)]
    #[schema(format = "email")]
    pub email: Option<String>,
    /// The language of the install mail: en, ru or zh-CN.
    #[serde(default)]
    #[schema(pattern = "^(en|ru|zh-CN)$")]
    pub locale: Option<String>,
    /// A promo code (3 to 32 letters, digits or `-`, any case), priced as on every
    /// channel: the lowest of the code and any running campaign, never both.
    #[serde(default)]
    #[schema(example = "WELCOME10", pattern = "PROMO_CODE")]
    pub promo_code: Option<String>,
}

/// A new eSIM's order: pay it (`POST /api/v1/orders/{id}/payments`), then follow the
/// eSIM at `GET /api/v1/orders/{id}/esim`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EsimOrderDto {
    pub order: OrderDto,
    /// The new number, E.164.
    pub msisdn: String,
    pub esim: EsimDto,
    /// Until when the number is held for this order unpaid (RFC 3339); longer only while
    /// a payment opened before then is under way. After that the number goes back to
    /// the stock and the order is cancelled (a payment arriving later is held and
    /// refunded).
    pub reserved_until: String,
}

/// How long a reserved number waits for its payment (serve's minute loop frees it and
/// cancels its unpaid orders: `Store::expire_reservations`).
pub const RESERVATION_SECS: i64 = 30 * 60;

/// What is wrong with one field of a new eSIM's request, for the person who sent it.
fn why(e: &NewEsimError) -> String {
    match e {
        NewEsimError::Operator => "must be one of mts, beeline, megafon, t2".to_string(),
        NewEsimError::Email => "is not an e-mail address".to_string(),
        NewEsimError::Id(id) => id.to_string(),
    }
}

fn field_problem(fields: &[(&'static str, NewEsimError)]) -> Problem {
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-error",
        "A field is not valid",
        fields
            .iter()
            .map(|(f, e)| format!("{f}: {}", why(e)))
            .collect::<Vec<_>>()
            .join("; "),
    );
    for (f, e) in fields {
        p = p.field(f, why(e));
    }
    p
}

/// Buys a new eSIM: a number of the operator is reserved from the stock for this order
/// and the first plan ordered for it, waiting in `pending_payment`. Once paid, the
/// profile is released at the SM-DP+ and the install mail sent. Reservations per client
/// address are limited (429 with Retry-After).
#[utoipa::path(post, path = "/api/v1/esims", tag = "esim", request_body = EsimInput, security((), ("session" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended purchase (a UUID, say); a retry with the same key and body returns the first answer and reserves nothing more", pattern = "^[!-~]{1,255}$")),
    responses((status = 201, body = EsimOrderDto, headers(("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 500, body = Problem, content_type = "application/problem+json")))]
pub async fn buy_esim(
    State(s): State<AppState>,
    MaybeUser(user): MaybeUser,
    ClientIp(ip): ClientIp,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<EsimInput>,
) -> ApiResult<Response> {
    let scope = user
        .as_ref()
        .map_or_else(|| "anon".to_string(), |u| format!("user:{}", u.id));
    let c = claim(scope, key, "POST /api/v1/esims", &body.canonical_hash);
    if let Some(r) = replay(&s, &c).await? {
        return Ok(r);
    }
    let input = &body.value;
    let email = input
        .email
        .clone()
        .or_else(|| user.as_ref().map(|u| u.email.clone()))
        .unwrap_or_default();
    let want = NewEsim::parse(
        &input.operator,
        input.eid.as_deref().unwrap_or(""),
        input.imei.as_deref().unwrap_or(""),
        &email,
    )
    .map_err(|f| field_problem(&f))?;
    let currency = input
        .currency
        .as_deref()
        .map(str::parse::<Currency>)
        .transpose()
        .map_err(|e| Problem::invalid("currency", e.to_string()))?;
    let locale = match input.locale.as_deref() {
        None => user
            .as_ref()
            .and_then(|u| u.locale.as_deref())
            .and_then(|l| l.parse().ok())
            .unwrap_or(Locale::En),
        Some(l) => l
            .parse::<Locale>()
            .map_err(|_| Problem::invalid("locale", "must be en, ru or zh-CN"))?,
    };
    let promo_code = super::orders::promo_code(input.promo_code.as_deref())?;
    // The plan is checked before a number is taken for it.
    let plan = s.store.plan(&input.plan_id).await?;
    if plan.operator != want.operator {
        return Err(Problem::invalid(
            "plan_id",
            format!(
                "is a plan of {}, not of {}",
                plan.operator.code(),
                want.operator.code()
            ),
        ));
    }
    let line = match reserve(&s, &ip, &want, locale).await {
        Ok(l) => l,
        Err(Reserve::SoldOut) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "esim-sold-out",
                "No eSIM left",
                format!("no eSIM of {} is left right now", want.operator.code()),
            )
            .field("operator", "sold out"));
        }
        Err(Reserve::TooMany(wait)) => {
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-reservations",
                "Too many numbers reserved",
                format!(
                    "this address reserved {} numbers in the last half hour; pay for one or wait {wait} s",
                    crate::RESERVATIONS_PER_CLIENT
                ),
            )
            .retry_after(wait));
        }
        Err(Reserve::Failed) => return Err(Problem::internal()),
    };
    let req = OrderRequest {
        line: simrenew_core::LineRef::Iccid(line.iccid.clone()),
        items: vec![ItemRequest::Renew {
            plan_id: input.plan_id.clone(),
            start: simrenew_core::StartMode::Queued,
        }],
        currency,
        channel: super::orders::CHANNEL.into(),
        buyer: user.as_ref().map(|u| u.id.clone()),
        payment: Payment::External,
        promo_code,
    };
    let public_url = s.config.public_url.clone();
    let render = |o: &Order| {
        rendered(
            StatusCode::CREATED,
            &answer(o, &line, &public_url, line.iccid.as_str()),
        )
    };
    let order = match s
        .store
        .create_order(
            &req,
            Some(&Idem {
                claim: &c,
                render: &render,
            }),
        )
        .await
    {
        Ok(o) => o,
        Err(e) => {
            // The number goes back at once: nobody is buying it.
            if let Err(ce) = s.store.cancel_reservation(line.iccid.as_str()).await {
                tracing::warn!(error = %ce, "giving back a reserved eSIM");
            }
            return super::first_answer(&s, &c, Err(refused(e))).await;
        }
    };
    if let Err(e) = s
        .store
        .bind_profile_order(line.iccid.as_str(), &order.id)
        .await
    {
        // Bound at payment otherwise (release_if_new_esim).
        tracing::warn!(error = %e, order = %order.id, "binding a new eSIM to its order");
    }
    let mut res = json(
        StatusCode::CREATED,
        &answer(&order, &line, &public_url, line.iccid.as_str()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/orders/{}/esim", order.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

fn answer(
    o: &Order,
    line: &simrenew_store::lines::Line,
    public_url: &str,
    iccid: &str,
) -> EsimOrderDto {
    let until = o.created_at + time::Duration::seconds(RESERVATION_SECS);
    EsimOrderDto {
        order: OrderDto::from(o),
        msisdn: line.msisdn.e164(),
        esim: EsimDto {
            iccid: iccid.to_string(),
            state: "allocated".into(),
            state_as_of: crate::dto::ts(o.created_at),
            install_url: Some(format!(
                "{}/orders/{}/esim",
                public_url.trim_end_matches('/'),
                o.id
            )),
            reissues: 0,
        },
        reserved_until: crate::dto::ts(until),
    }
}

/// An eSIM's way onto a phone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivationDto {
    /// The whole code as the QR code holds it: `LPA:1$<SM-DP+ address>$<matching id>[$$1]`
    /// (SGP.22 §4.1).
    pub lpa: String,
    pub smdp_address: String,
    pub matching_id: String,
    /// The phone will ask for the confirmation code.
    pub confirmation_code_required: bool,
    /// Apple's one-tap install link (iOS 17.4+).
    pub apple_link: String,
    /// The QR code as a PNG.
    pub qr_png_url: String,
}

/// An order's eSIM as its buyer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EsimInstallDto {
    #[serde(flatten)]
    pub esim: EsimDto,
    /// Present once the profile is released (and while it shows a code).
    pub activation: Option<ActivationDto>,
    /// The confirmation code, for the buyer only: the signed-in buyer of their own
    /// order, or anyone holding an anonymous order's id.
    pub confirmation_code: Option<String>,
    /// Why the last installation failed (state `error`); a reissue is the way out.
    pub error: Option<String>,
}

/// The order's eSIM: its state with the as-of time, and once released the activation
/// code with every way in. The order id is the capability, as for the order itself.
#[utoipa::path(get, path = "/api/v1/orders/{id}/esim", tag = "esim", params(("id" = String, Path)), security((), ("session" = [])),
    responses((status = 200, body = EsimInstallDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn order_esim(
    State(s): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> ApiResult<Json<EsimInstallDto>> {
    let no_esim = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no eSIM for this order",
        )
    };
    let order = s.store.order(&id).await.map_err(|_| no_esim())?;
    // Paid and not released yet (the notification's release failed, say): now.
    crate::esim::release_if_new_esim(&s, &order).await;
    let p = s.store.profile_of_order(&id).await?.ok_or_else(no_esim)?;
    let ac = crate::esim::activation_code(&p);
    let is_buyer = match &order.buyer_id {
        Some(b) => user.as_ref().is_some_and(|u| &u.id == b),
        None => true,
    };
    let public = s.config.public_url.trim_end_matches('/').to_string();
    Ok(Json(EsimInstallDto {
        esim: EsimDto::new(&p, &public),
        confirmation_code: p
            .confirmation_code
            .clone()
            .filter(|_| is_buyer && ac.is_some()),
        error: p
            .last_error
            .clone()
            .filter(|_| p.state == simrenew_core::esim::ProfileState::Error),
        activation: ac.map(|ac| ActivationDto {
            lpa: ac.qr_text(),
            apple_link: ac.apple_link(),
            confirmation_code_required: ac.confirmation_code_required,
            qr_png_url: format!("{public}/orders/{id}/esim/qr.png"),
            smdp_address: ac.smdp_address,
            matching_id: ac.matching_id,
        }),
    }))
}

/// A way to pay an order here.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MethodDto {
    /// What to send as `method` (`yookassa:bank_card`, `alipay:qr`…).
    pub method: String,
    pub label: String,
    pub currency: String,
    /// The buyer scans a code with the provider's app instead of opening a page.
    pub scan: bool,
}

/// The payment methods that can pay this order (those in its currency).
#[utoipa::path(get, path = "/api/v1/orders/{id}/payment-methods", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = Vec<MethodDto>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn payment_methods(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<MethodDto>>> {
    let order = s.store.order(&id).await?;
    Ok(Json(
        crate::payments::methods(&s, Some(order.total.currency))
            .into_iter()
            .map(|m| MethodDto {
                method: m.value.into(),
                label: m.label.into(),
                currency: m.currency.code().into(),
                scan: m.scan,
            })
            .collect(),
    ))
}

/// Where the buyer goes to pay.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentStartDto {
    /// `redirect`: open `url` (the provider's page); `scan`: show `url` as a QR code to
    /// scan with the provider's app (or open it on the phone that has the app).
    pub next: String,
    pub url: String,
    /// Where to follow the order.
    pub order_url: String,
}

/// Starts paying a pending order with a provider. Nothing is charged here: the buyer
/// pays at the provider, and the order is fulfilled when the provider's signed
/// notification (or our own check with it) says so. Each call opens a new attempt; only
/// one payment can settle an order.
#[utoipa::path(post, path = "/api/v1/orders/{id}/payments", tag = "orders", request_body = PaymentInput, params(("id" = String, Path)), security((), ("session" = [])),
    responses((status = 201, body = PaymentStartDto),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")))]
pub async fn start_payment(
    State(s): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
    body: ApiJson<PaymentInput>,
) -> ApiResult<Response> {
    let order = s.store.order(&id).await?;
    if order.status != simrenew_core::OrderStatus::PendingPayment {
        return Err(simrenew_store::StoreError::OrderNotPending(order.status).into());
    }
    let method = body.value.method.as_str();
    if crate::payments::method(&s, method).is_none_or(|(_, m)| m.currency != order.total.currency) {
        return Err(Problem::invalid(
            "method",
            "is not offered for this order (see its payment-methods)",
        ));
    }
    let email = user.as_ref().map(|u| u.email.as_str());
    let description = crate::pages::line::order_description(&order);
    match crate::payments::start(&s, &id, method, email, &description, false).await {
        Ok(next) => {
            let (kind, url) = match next {
                simrenew_payments::provider::NextStep::Redirect(u) => ("redirect", u),
                simrenew_payments::provider::NextStep::Scan(u) => ("scan", u),
            };
            Ok(json(
                StatusCode::CREATED,
                &PaymentStartDto {
                    next: kind.into(),
                    url,
                    order_url: format!("/api/v1/orders/{id}"),
                },
            ))
        }
        Err(crate::payments::StartError::NotOffered) => Err(Problem::invalid(
            "method",
            "is not offered for this order (see its payment-methods)",
        )),
        Err(crate::payments::StartError::Store(e)) => Err(e.into()),
        Err(crate::payments::StartError::Provider(e)) => {
            tracing::warn!(error = %e, order = %id, "payment not started");
            Err(Problem::new(
                StatusCode::BAD_GATEWAY,
                "provider-unavailable",
                "The payment provider did not answer",
                "the payment provider could not start this payment; try again or choose another method",
            ))
        }
    }
}
