//! Errors as RFC 9457 problem details (`application/problem+json`): a stable `type` per
//! kind of problem, a human `detail`, and the fields at fault. Every error of the store
//! and of request parsing becomes one of these here, in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use simrenew_core::{IdError, Money, RenewalError};
use simrenew_store::StoreError;
use utoipa::ToSchema;

/// A field at fault and what is wrong with it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path or parameter name (`line`, `items[0].plan_id`, `Idempotency-Key`).
    pub field: String,
    pub detail: String,
}

/// RFC 9457 problem details, with simrenew's extension members.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem; stable, safe to match on.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For insufficient-balance: what the order costs, what the balance holds, what is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed: Option<Box<crate::dto::MoneyDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<Box<crate::dto::MoneyDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Box<crate::dto::MoneyDto>>,
    /// Seconds to wait, sent as the `Retry-After` header (429).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            type_: format!("/problems/{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: vec![],
            needed: None,
            available: None,
            missing: None,
            retry_after: None,
        }
    }
    /// Asks the client to wait this many seconds (`Retry-After`).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub fn field(mut self, field: &str, detail: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.to_string(),
            detail: detail.into(),
        });
        self
    }
    /// 422 with one field at fault.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
            "A field is not valid",
            format!("{field}: {detail}"),
        )
        .field(field, detail)
    }
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Sign-in required",
            detail,
        )
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "something went wrong on our side; it has been logged",
        )
    }
    /// An identifier (line number, ICCID) that does not parse.
    pub fn bad_id(field: &str, e: &IdError) -> Self {
        Self::invalid(field, e.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(&self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(v) = self
            .retry_after
            .and_then(|w| HeaderValue::from_str(&w.to_string()).ok())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"simrenew\""),
            );
        }
        res
    }
}

fn money(m: Money) -> Option<Box<crate::dto::MoneyDto>> {
    Some(Box::new(m.into()))
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        use StatusCode as S;
        let d = e.to_string();
        match e {
            StoreError::Invalid { field, reason } => Problem::invalid(&field, reason),
            StoreError::Id(err) => Problem::bad_id("line", &err),
            StoreError::Money(err) => Problem::invalid("amount", err.to_string()),
            StoreError::LineNotFound(_) => {
                Problem::new(S::NOT_FOUND, "line-not-found", "No such line", d)
                    .field("line", "no line has this number or ICCID")
            }
            StoreError::PlanNotFound(_) => {
                Problem::new(S::UNPROCESSABLE_ENTITY, "plan-not-found", "No such plan", d)
                    .field("plan_id", "unknown or withdrawn plan")
            }
            StoreError::OrderNotFound(_) => {
                Problem::new(S::NOT_FOUND, "order-not-found", "No such order", d)
            }
            StoreError::NotSold => Problem::new(
                S::CONFLICT,
                "esim-not-sold",
                "This eSIM number is not sold",
                d,
            )
            .field(
                "line",
                "a new eSIM in stock: buy one with POST /api/v1/esims",
            ),
            StoreError::LineSuspended => {
                Problem::new(S::CONFLICT, "line-suspended", "The line is suspended", d)
                    .field("line", "suspended")
            }
            StoreError::Renewal(r) => match r {
                RenewalError::OperatorMismatch { .. } => Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "plan-operator-mismatch",
                    "The plan is for another operator",
                    d,
                )
                .field("plan_id", "plan of another operator than the line's"),
                RenewalError::NotABasePlan { .. } | RenewalError::NotAnAddOn { .. } => {
                    Problem::new(
                        S::UNPROCESSABLE_ENTITY,
                        "plan-kind-mismatch",
                        "Wrong kind of plan",
                        d,
                    )
                    .field("type", "does not match the plan's kind")
                }
                RenewalError::NoActivePeriod => {
                    Problem::new(S::CONFLICT, "no-active-period", "No current period", d)
                }
                RenewalError::NotSoldOnChannel { .. } => Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "plan-not-on-channel",
                    "Plan not sold here",
                    d,
                )
                .field("plan_id", "not sold on this channel"),
            },
            StoreError::InsufficientBalance {
                needed,
                available,
                missing,
            } => Problem {
                needed: money(needed),
                available: money(available),
                missing: money(missing),
                ..Problem::new(
                    S::PAYMENT_REQUIRED,
                    "insufficient-balance",
                    "The line's balance is too small",
                    d,
                )
            },
            StoreError::CurrencyNotOffered { .. } => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "currency-not-offered",
                "Not sold in this currency",
                d,
            )
            .field("currency", "the plan has no price in it"),
            StoreError::BalanceCurrency { .. } => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "balance-currency",
                "The balance is in another currency",
                d,
            )
            .field("currency", "must be the balance's currency"),
            StoreError::NoFxRate { .. } => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "currency-not-offered",
                "No exchange rate",
                d,
            )
            .field("currency", "no rate to the line's currency"),
            StoreError::PromoCode { refusal, .. } => {
                use simrenew_core::promotion::CodeRefusal as R;
                let (kind, title, why) = match refusal {
                    R::Unknown => (
                        "promo-code-unknown",
                        "Unknown promo code",
                        "no promotion has this code",
                    ),
                    R::NotRunning => (
                        "promo-code-not-running",
                        "The promo code is not valid now",
                        "not valid at this time",
                    ),
                    R::NotApplicable => (
                        "promo-code-not-applicable",
                        "The promo code does not apply",
                        "does not apply to these plans on this channel in this currency",
                    ),
                };
                Problem::new(S::UNPROCESSABLE_ENTITY, kind, title, d).field("promo_code", why)
            }
            StoreError::PromotionUsedUp { .. } => Problem::new(
                S::CONFLICT,
                "promotion-used-up",
                "Every use of the promotion is taken",
                d,
            )
            .field("promo_code", "no uses left"),
            StoreError::PromotionUsedByCustomer { .. } => Problem::new(
                S::CONFLICT,
                "promotion-used-by-customer",
                "The promotion was used as often as one customer may",
                d,
            )
            .field("promo_code", "used as often as one customer may"),
            StoreError::NotOwner => Problem::new(
                S::FORBIDDEN,
                "not-owner",
                "Only the line's owner may do this",
                d,
            ),
            StoreError::OrderNotPending(_) => Problem::new(
                S::CONFLICT,
                "order-not-pending",
                "The order is not awaiting payment",
                d,
            ),
            StoreError::EmailTaken => {
                Problem::new(S::CONFLICT, "email-taken", "E-mail already registered", d)
                    .field("email", "already registered")
            }
            StoreError::BadCredentials => Problem::new(
                S::UNAUTHORIZED,
                "bad-credentials",
                "Wrong e-mail or password",
                d,
            ),
            StoreError::NotPlaced => Problem::new(S::CONFLICT, "not-placed", "Not placed", d),
            StoreError::TotpRequired | StoreError::WrongTotp => Problem::new(
                S::UNAUTHORIZED,
                "second-factor",
                "The authenticator's code is needed",
                d,
            )
            .field("totp", "the 6-digit code from the authenticator app"),
            StoreError::LineAlreadyAttached => Problem::new(
                S::CONFLICT,
                "line-already-attached",
                "The line belongs to an account",
                d,
            )
            .field("line", "already attached"),
            StoreError::WrongPuk => Problem::new(S::FORBIDDEN, "wrong-puk", "Wrong PUK", d)
                .field("puk", "does not match"),
            StoreError::RefundTooLarge { .. } => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "refund-too-large",
                "Refund larger than allowed",
                d,
            )
            .field("amount", "more than may be refunded now"),
            StoreError::PaymentNotFound(_) => {
                Problem::new(S::NOT_FOUND, "payment-not-found", "No such payment", d)
            }
            StoreError::NoProfileLeft { .. } => {
                Problem::new(S::CONFLICT, "no-esim-left", "No eSIM profile left", d)
            }
            StoreError::ResetTokenInvalid => Problem::new(
                S::GONE,
                "reset-link-expired",
                "Password-reset link used or expired",
                d,
            ),
            StoreError::WrongCode => Problem::new(S::FORBIDDEN, "wrong-code", "Wrong code", d)
                .field("code", "wrong or expired"),
            StoreError::TooManyCodes => {
                Problem::new(S::TOO_MANY_REQUESTS, "too-many-codes", "Too many codes", d)
            }
            StoreError::UsageEventConflict(id) => Problem::new(
                S::CONFLICT,
                "usage-event-conflict",
                "Usage event recorded differently",
                d,
            )
            .field("event_id", format!("{id} was recorded with other content")),
            StoreError::IdempotencyRace => Problem::new(
                S::CONFLICT,
                "idempotency-in-progress",
                "Same request in progress",
                d,
            ),
            StoreError::Ledger(_)
            | StoreError::Db(_)
            | StoreError::Sqlite(_)
            | StoreError::CommitFailed(_)
            | StoreError::Migrate(_)
            | StoreError::Corrupt(_) => {
                tracing::error!(error = %d, "internal error");
                Problem::internal()
            }
        }
    }
}

/// The handlers' result type.
pub type ApiResult<T> = Result<T, Problem>;
