//! PayPal, Orders API v2 (developer.paypal.com/docs/api/orders/v2) with webhooks.
//!
//! - Authentication: OAuth 2.0 client credentials (`POST /v1/oauth2/token`, Basic
//!   `client_id:secret`, `grant_type=client_credentials`); the access token is kept until
//!   shortly before `expires_in`.
//! - A payment is an order with `intent: CAPTURE`, created with `PayPal-Request-Id` (our
//!   attempt id, so a retry creates no second order); the buyer approves at the
//!   `payer-action` link and comes back to the return URL; the merchant then captures
//!   (`POST /v2/checkout/orders/{id}/capture`, its own `PayPal-Request-Id`). Capturing is
//!   what [`PayPal::status`] does for an `APPROVED` order, so the buyer's return, the
//!   webhook and the periodic re-query all settle it the same way, once.
//! - Webhooks (`CHECKOUT.ORDER.APPROVED`, `PAYMENT.CAPTURE.COMPLETED`, …) are verified with
//!   `POST /v1/notifications/verify-webhook-signature` (the `PAYPAL-*` transmission headers,
//!   our webhook id, and the event exactly as received); only `verification_status:
//!   SUCCESS` is trusted, and even then the order is fetched again before anything is
//!   decided.
//! - Refunds: `POST /v2/payments/captures/{capture_id}/refund` with our refund id as
//!   `PayPal-Request-Id`.

use crate::provider::{
    Checkout, Created, Method, NextStep, PayState, Provider, ProviderFuture, RefundAnswer, Verified,
};
use crate::{PaymentError, decimal, parse_decimal};
use serde_json::{Value, json};
use simrenew_core::Currency;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The production API.
pub const API: &str = "https://api-m.paypal.com";

const METHODS: &[Method] = &[
    Method {
        value: "paypal:paypal",
        label: "pay-paypal-usd",
        currency: Currency::Usd,
        scan: false,
    },
    Method {
        value: "paypal:paypal_eur",
        label: "pay-paypal-eur",
        currency: Currency::Eur,
        scan: false,
    },
];

/// The transmission headers a webhook comes with.
pub const TRANSMISSION_HEADERS: [(&str, &str); 5] = [
    ("paypal-auth-algo", "auth_algo"),
    ("paypal-cert-url", "cert_url"),
    ("paypal-transmission-id", "transmission_id"),
    ("paypal-transmission-sig", "transmission_sig"),
    ("paypal-transmission-time", "transmission_time"),
];

pub struct PayPal {
    base: String,
    client_id: String,
    secret: String,
    webhook_id: String,
    token: Mutex<Option<(String, Instant)>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for PayPal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayPal")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The first capture of an order, if any.
fn capture(order: &Value) -> Option<&Value> {
    order.pointer("/purchase_units/0/payments/captures/0")
}

/// An order in our terms, once captured where it was approved.
fn order_state(order: &Value) -> Result<PayState, PaymentError> {
    let status = order.get("status").and_then(Value::as_str).unwrap_or("");
    Ok(match (status, capture(order)) {
        ("COMPLETED", Some(c)) => match c.get("status").and_then(Value::as_str) {
            Some("COMPLETED") => {
                let f = |k: &str| {
                    c.pointer(&format!("/amount/{k}"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                };
                PayState::Succeeded(parse_decimal(f("value"), f("currency_code"))?)
            }
            Some("DECLINED") | Some("FAILED") => PayState::Canceled,
            // PENDING (under review at PayPal): not paid yet.
            _ => PayState::Open,
        },
        ("VOIDED", _) => PayState::Canceled,
        _ => PayState::Open,
    })
}

impl PayPal {
    pub fn new(
        base: &str,
        client_id: &str,
        secret: &str,
        webhook_id: &str,
    ) -> Result<Self, PaymentError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            secret: secret.to_string(),
            webhook_id: webhook_id.to_string(),
            token: Mutex::new(None),
            http: crate::http_client()?,
        })
    }

    async fn access_token(&self) -> Result<String, PaymentError> {
        if let Some((t, until)) = self
            .token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let res = self
            .http
            .post(format!("{}/v1/oauth2/token", self.base))
            .basic_auth(&self.client_id, Some(&self.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        let v = read(res).await?;
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| PaymentError::Unreadable("no access_token".into()))?
            .to_string();
        let ttl = v.get("expires_in").and_then(Value::as_u64).unwrap_or(300);
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(ttl.saturating_sub(60)),
        ));
        Ok(token)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        request_id: Option<&str>,
    ) -> Result<Value, PaymentError> {
        let token = self.access_token().await?;
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.unwrap_or_else(|| "{}".into())),
        };
        req = req
            .bearer_auth(token)
            .header("prefer", "return=representation");
        if let Some(r) = request_id {
            req = req.header("paypal-request-id", r);
        }
        let res = req
            .send()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        read(res).await
    }

    async fn order(&self, id: &str) -> Result<Value, PaymentError> {
        if !id_ok(id) {
            return Err(PaymentError::BadNotification("not an order id".into()));
        }
        self.call("GET", &format!("/v2/checkout/orders/{id}"), None, None)
            .await
    }

    /// The order's state; an approved order is captured first (once: the capture's
    /// request id is derived from the order's).
    pub async fn settle(&self, id: &str) -> Result<Verified, PaymentError> {
        let mut order = self.order(id).await?;
        if order.get("status").and_then(Value::as_str) == Some("APPROVED") {
            order = match self
                .call(
                    "POST",
                    &format!("/v2/checkout/orders/{id}/capture"),
                    None,
                    Some(&format!("capture-{id}")),
                )
                .await
            {
                Ok(o) => o,
                // Captured meanwhile by another server: read it again.
                Err(PaymentError::Refused { detail, .. })
                    if detail.contains("ORDER_ALREADY_CAPTURED") =>
                {
                    self.order(id).await?
                }
                Err(e) => return Err(e),
            };
        }
        Ok(Verified {
            provider_id: id.to_string(),
            state: order_state(&order)?,
            saved: None,
        })
    }

    /// A webhook, verified by PayPal's verify-webhook-signature API: the order it is
    /// about, settled.
    pub async fn verify(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Verified, PaymentError> {
        let bad = |e: &str| PaymentError::BadNotification(e.to_string());
        let event = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
        let parsed: Value = serde_json::from_str(event).map_err(|_| bad("not JSON"))?;
        let mut request = serde_json::Map::new();
        for (header, field) in TRANSMISSION_HEADERS {
            let v = headers
                .get(header)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| bad(&format!("no {header} header")))?;
            request.insert(field.into(), json!(v));
        }
        request.insert("webhook_id".into(), json!(self.webhook_id));
        // The event exactly as received (re-serialising it can change what was signed).
        let mut text = Value::Object(request).to_string();
        text.pop();
        text.push_str(",\"webhook_event\":");
        text.push_str(event);
        text.push('}');
        let answer = self
            .call(
                "POST",
                "/v1/notifications/verify-webhook-signature",
                Some(text),
                None,
            )
            .await?;
        if answer.get("verification_status").and_then(Value::as_str) != Some("SUCCESS") {
            return Err(bad("PayPal says the signature does not verify"));
        }
        let kind = parsed
            .get("event_type")
            .and_then(Value::as_str)
            .unwrap_or("");
        let order_id = match kind {
            k if k.starts_with("CHECKOUT.ORDER.") => parsed.pointer("/resource/id"),
            k if k.starts_with("PAYMENT.CAPTURE.") => {
                parsed.pointer("/resource/supplementary_data/related_ids/order_id")
            }
            _ => None,
        }
        .and_then(Value::as_str)
        .ok_or_else(|| bad(&format!("event {kind:?} names no order")))?;
        self.settle(order_id).await
    }
}

async fn read(res: reqwest::Response) -> Result<Value, PaymentError> {
    let status = res.status();
    let text = res
        .text()
        .await
        .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
    if status.is_server_error() {
        return Err(PaymentError::Transport(format!("PayPal answered {status}")));
    }
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() {
        // {"name", "message", "details": [{"issue", …}]} or OAuth's {"error", …}.
        let f = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        return Err(PaymentError::Refused {
            status: status.as_u16(),
            detail: format!(
                "{}{} {}: {}",
                f("/name"),
                f("/error"),
                f("/details/0/issue"),
                f("/message")
            ),
        });
    }
    if v.is_null() {
        return Err(PaymentError::Unreadable("not JSON".into()));
    }
    Ok(v)
}

impl Provider for PayPal {
    fn name(&self) -> &'static str {
        "paypal"
    }

    fn methods(&self) -> &'static [Method] {
        METHODS
    }

    fn create<'a>(&'a self, c: &'a Checkout<'a>) -> ProviderFuture<'a, Created> {
        Box::pin(async move {
            let body = json!({
                "intent": "CAPTURE",
                "purchase_units": [{
                    "reference_id": c.order_id,
                    "custom_id": c.attempt_id,
                    "description": c.description.chars().take(127).collect::<String>(),
                    "amount": {"currency_code": c.amount.currency.code(), "value": decimal(c.amount)},
                }],
                "payment_source": {"paypal": {"experience_context": {
                    "return_url": c.return_url,
                    "cancel_url": c.return_url,
                    "user_action": "PAY_NOW",
                    "shipping_preference": "NO_SHIPPING",
                }}},
            });
            let o = self
                .call(
                    "POST",
                    "/v2/checkout/orders",
                    Some(body.to_string()),
                    Some(c.attempt_id),
                )
                .await?;
            let id = o.get("id").and_then(Value::as_str).filter(|i| id_ok(i));
            let link = o
                .get("links")
                .and_then(Value::as_array)
                .and_then(|ls| {
                    ls.iter().find(|l| {
                        matches!(
                            l.get("rel").and_then(Value::as_str),
                            Some("payer-action" | "approve")
                        )
                    })
                })
                .and_then(|l| l.get("href"))
                .and_then(Value::as_str);
            match (id, link) {
                (Some(id), Some(link)) => Ok(Created {
                    provider_id: id.to_string(),
                    next: NextStep::Redirect(link.to_string()),
                }),
                _ => Err(PaymentError::Unreadable(
                    "no order id or payer-action link".into(),
                )),
            }
        })
    }

    fn status<'a>(&'a self, provider_id: &'a str) -> ProviderFuture<'a, Verified> {
        Box::pin(self.settle(provider_id))
    }

    fn verify_notification<'a>(
        &'a self,
        headers: &'a axum::http::HeaderMap,
        body: &'a [u8],
    ) -> ProviderFuture<'a, Verified> {
        Box::pin(self.verify(headers, body))
    }

    fn refund<'a>(
        &'a self,
        r: &'a crate::provider::Refunding<'a>,
    ) -> ProviderFuture<'a, RefundAnswer> {
        let (provider_id, amount, key) = (r.provider_id, r.amount, r.key);
        Box::pin(async move {
            let order = self.order(provider_id).await?;
            let capture_id = capture(&order)
                .and_then(|c| c.get("id"))
                .and_then(Value::as_str)
                .filter(|i| id_ok(i))
                .ok_or_else(|| PaymentError::Refused {
                    status: 422,
                    detail: "the order has no capture".into(),
                })?;
            let r = self
                .call(
                    "POST",
                    &format!("/v2/payments/captures/{capture_id}/refund"),
                    Some(json!({"amount": {"value": decimal(amount), "currency_code": amount.currency.code()}}).to_string()),
                    Some(key),
                )
                .await?;
            Ok(RefundAnswer::from_json(
                &r,
                key,
                "COMPLETED",
                &["CANCELLED", "FAILED"],
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simrenew_core::Money;

    #[test]
    fn an_order_is_paid_only_when_its_capture_completed() {
        let captured = |status: &str| {
            json!({"id": "5O190127TN364715T", "status": "COMPLETED", "purchase_units": [{"payments": {"captures": [
                {"id": "3C679366HH908993F", "status": status, "amount": {"currency_code": "USD", "value": "8.00"}}
            ]}}]})
        };
        assert_eq!(
            order_state(&captured("COMPLETED")).unwrap(),
            PayState::Succeeded(Money::new(8_00, Currency::Usd))
        );
        assert_eq!(order_state(&captured("PENDING")).unwrap(), PayState::Open);
        assert_eq!(
            order_state(&captured("DECLINED")).unwrap(),
            PayState::Canceled
        );
        assert_eq!(
            order_state(&json!({"status": "APPROVED"})).unwrap(),
            PayState::Open
        );
        assert_eq!(
            order_state(&json!({"status": "VOIDED"})).unwrap(),
            PayState::Canceled
        );
        assert!(!id_ok("../v1/oauth2") && id_ok("5O190127TN364715T"));
    }
}
