//! Stripe webhook signatures ("Check the webhook signatures", docs.stripe.com/webhooks):
//! the `Stripe-Signature` header is `t=<unix time>,v1=<hex>[,v1=<hex>…][,v0=…]`; each v1
//! is HMAC-SHA256, keyed with the endpoint's signing secret, of `<t>.<raw body>`. A
//! request is genuine when one v1 matches (compared in constant time) and `t` is within
//! the tolerance of now (Stripe's libraries default to 300 s), which stops replays.

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

/// Stripe's default tolerance, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Stripe-Signature header missing or malformed")]
    Malformed,
    #[error("no v1 signature in Stripe-Signature")]
    NoSignature,
    #[error("timestamp outside the tolerance (replayed or clock skew)")]
    Stale,
    #[error("no signature matches the body")]
    Mismatch,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The v1 signature of `body` sent at `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a `Stripe-Signature` header against the raw body, at `now` (unix seconds).
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => v1.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    if (now - t).abs() > tolerance {
        return Err(SignatureError::Stale);
    }
    let want = sign(secret, t, body);
    if v1
        .iter()
        .any(|s| bool::from(want.as_bytes().ct_eq(s.as_bytes())))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

// ---------------------------------------------------------------------------------------
// The API: Checkout Sessions (docs.stripe.com/api/checkout/sessions) for card payments.
//
// Requests are form-encoded (`application/x-www-form-urlencoded`, nested keys as
// `line_items[0][price_data][currency]`), authenticated with `Authorization: Bearer
// <secret key>`, and every POST carries an `Idempotency-Key`. A payment is a Checkout
// Session in `payment` mode: the buyer pays on Stripe's page (`url`) and comes back to
// `success_url`/`cancel_url`. It is settled by the `checkout.session.completed` (or
// `checkout.session.async_payment_succeeded`) event, whose body is trusted only once its
// `Stripe-Signature` verifies, or by retrieving the session (`payment_status: paid`).
// Refunds are `POST /v1/refunds` on the session's `payment_intent`.

use crate::PaymentError;
use crate::provider::{
    Checkout, Created, Method, NextStep, PayState, Provider, ProviderFuture, RefundAnswer,
    SavedMethod, Verified,
};
use serde_json::Value;
use simrenew_core::{Currency, Money};

/// The production API.
pub const API: &str = "https://api.stripe.com";

const METHODS: &[Method] = &[
    Method {
        value: "stripe:card",
        label: "pay-card-usd",
        currency: Currency::Usd,
        scan: false,
    },
    Method {
        value: "stripe:card_eur",
        label: "pay-card-eur",
        currency: Currency::Eur,
        scan: false,
    },
];

pub struct Stripe {
    base: String,
    secret_key: String,
    webhook_secret: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A Checkout Session in our terms: `paid` is paid; `expired` (or complete unpaid) is
/// closed; anything else is open.
pub fn session_state(s: &Value) -> Result<PayState, PaymentError> {
    let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
    Ok(match (field("status"), field("payment_status")) {
        (_, "paid") => {
            let currency: Currency = field("currency")
                .to_uppercase()
                .parse()
                .map_err(|_| PaymentError::BadAmount(field("currency").to_string()))?;
            let total = s
                .get("amount_total")
                .and_then(Value::as_i64)
                .ok_or_else(|| PaymentError::Unreadable("no amount_total".into()))?;
            PayState::Succeeded(Money::new(total, currency))
        }
        ("expired", _) => PayState::Canceled,
        _ => PayState::Open,
    })
}

/// The method a paid session kept for off-session charges: the session's customer and
/// the payment intent's payment method (the session retrieved with
/// `expand[]=payment_intent.payment_method`), as `cus_…/pm_…`.
pub fn session_saved(s: &Value) -> Option<SavedMethod> {
    if s.get("payment_status").and_then(Value::as_str) != Some("paid")
        || s.pointer("/metadata/save").and_then(Value::as_str) != Some("1")
    {
        return None;
    }
    let customer = s.get("customer").and_then(Value::as_str)?;
    let pm = s.pointer("/payment_intent/payment_method")?;
    let id = pm.get("id").and_then(Value::as_str)?;
    let f = |k: &str| {
        pm.pointer(&format!("/card/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    Some(SavedMethod {
        token: format!("{customer}/{id}"),
        title: format!("{} •••• {}", f("brand"), f("last4"))
            .trim()
            .to_string(),
    })
}

/// A PaymentIntent (an off-session charge) in our terms.
pub fn intent_state(pi: &Value) -> Result<PayState, PaymentError> {
    let field = |k: &str| pi.get(k).and_then(Value::as_str).unwrap_or("");
    Ok(match field("status") {
        "succeeded" => {
            let currency: Currency = field("currency")
                .to_uppercase()
                .parse()
                .map_err(|_| PaymentError::BadAmount(field("currency").to_string()))?;
            let amount = pi
                .get("amount_received")
                .or_else(|| pi.get("amount"))
                .and_then(Value::as_i64)
                .ok_or_else(|| PaymentError::Unreadable("no amount".into()))?;
            PayState::Succeeded(Money::new(amount, currency))
        }
        "canceled" | "requires_payment_method" => PayState::Canceled,
        _ => PayState::Open,
    })
}

fn intent_id_ok(id: &str) -> bool {
    id.starts_with("pi_")
        && id.len() < 256
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn session_id_ok(id: &str) -> bool {
    id.starts_with("cs_")
        && id.len() < 256
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Stripe {
    pub fn new(base: &str, secret_key: &str, webhook_secret: &str) -> Result<Self, PaymentError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            secret_key: secret_key.to_string(),
            webhook_secret: webhook_secret.to_string(),
            http: crate::http_client()?,
        })
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        form: &[(String, String)],
        key: Option<&str>,
    ) -> Result<Value, PaymentError> {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(
                    serde_urlencoded::to_string(form)
                        .map_err(|e| PaymentError::Unreadable(e.to_string()))?,
                ),
        };
        req = req.bearer_auth(&self.secret_key);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let res = req
            .send()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        if status.is_server_error() {
            return Err(PaymentError::Transport(format!("Stripe answered {status}")));
        }
        let v: Value =
            serde_json::from_str(&text).map_err(|e| PaymentError::Unreadable(e.to_string()))?;
        if !status.is_success() {
            let f = |k: &str| {
                v.pointer(&format!("/error/{k}"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            return Err(PaymentError::Refused {
                status: status.as_u16(),
                detail: format!("{} {}: {}", f("type"), f("code"), f("message")),
            });
        }
        Ok(v)
    }

    /// Retrieves a Checkout Session.
    async fn session(&self, id: &str) -> Result<Value, PaymentError> {
        if !session_id_ok(id) {
            return Err(PaymentError::BadNotification("not a session id".into()));
        }
        self.call(
            "GET",
            &format!("/v1/checkout/sessions/{id}?expand[]=payment_intent.payment_method"),
            &[],
            None,
        )
        .await
    }

    /// The session's form: one line item per order item, in the order's currency.
    pub fn session_form(c: &Checkout<'_>) -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = vec![
            ("mode".into(), "payment".into()),
            ("success_url".into(), c.return_url.into()),
            ("cancel_url".into(), c.return_url.into()),
            ("client_reference_id".into(), c.order_id.into()),
            ("metadata[order_id]".into(), c.order_id.into()),
            ("metadata[attempt_id]".into(), c.attempt_id.into()),
            // On the payment intent too: reports carry it as payment_metadata[attempt_id].
            (
                "payment_intent_data[metadata][attempt_id]".into(),
                c.attempt_id.into(),
            ),
            ("payment_method_types[0]".into(), "card".into()),
        ];
        if let Some(e) = c.customer_email {
            f.push(("customer_email".into(), e.into()));
        }
        if c.save_method {
            // A customer to keep the card on, and the card set up for off-session use.
            f.push(("customer_creation".into(), "always".into()));
            f.push((
                "payment_intent_data[setup_future_usage]".into(),
                "off_session".into(),
            ));
            f.push(("metadata[save]".into(), "1".into()));
        }
        for (n, i) in c.items.iter().enumerate() {
            let p = format!("line_items[{n}]");
            f.push((format!("{p}[quantity]"), "1".into()));
            f.push((
                format!("{p}[price_data][currency]"),
                i.amount.currency.code().to_lowercase(),
            ));
            f.push((
                format!("{p}[price_data][unit_amount]"),
                i.amount.minor.to_string(),
            ));
            f.push((
                format!("{p}[price_data][product_data][name]"),
                i.description.clone(),
            ));
        }
        f
    }
}

impl Provider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn methods(&self) -> &'static [Method] {
        METHODS
    }

    fn create<'a>(&'a self, c: &'a Checkout<'a>) -> ProviderFuture<'a, Created> {
        Box::pin(async move {
            let s = self
                .call(
                    "POST",
                    "/v1/checkout/sessions",
                    &Self::session_form(c),
                    Some(c.attempt_id),
                )
                .await?;
            let id = s.get("id").and_then(Value::as_str).unwrap_or("");
            let url = s.get("url").and_then(Value::as_str).unwrap_or("");
            if !session_id_ok(id) || url.is_empty() {
                return Err(PaymentError::Unreadable("no session id or url".into()));
            }
            Ok(Created {
                provider_id: id.to_string(),
                next: NextStep::Redirect(url.to_string()),
            })
        })
    }

    fn status<'a>(&'a self, provider_id: &'a str) -> ProviderFuture<'a, Verified> {
        Box::pin(async move {
            if intent_id_ok(provider_id) {
                // An off-session charge: a payment intent of its own.
                let pi = self
                    .call(
                        "GET",
                        &format!("/v1/payment_intents/{provider_id}"),
                        &[],
                        None,
                    )
                    .await?;
                return Ok(Verified {
                    provider_id: provider_id.to_string(),
                    state: intent_state(&pi)?,
                    saved: None,
                });
            }
            let s = self.session(provider_id).await?;
            Ok(Verified {
                provider_id: provider_id.to_string(),
                state: session_state(&s)?,
                saved: session_saved(&s),
            })
        })
    }

    fn can_save(&self, _method: &str) -> bool {
        true
    }

    fn charge_saved<'a>(
        &'a self,
        token: &'a str,
        c: &'a Checkout<'a>,
    ) -> ProviderFuture<'a, Verified> {
        Box::pin(async move {
            let (customer, pm) = token.split_once('/').ok_or_else(|| PaymentError::Refused {
                status: 400,
                detail: "not a saved Stripe method".into(),
            })?;
            let pi = self
                .call(
                    "POST",
                    "/v1/payment_intents",
                    &[
                        ("amount".into(), c.amount.minor.to_string()),
                        ("currency".into(), c.amount.currency.code().to_lowercase()),
                        ("customer".into(), customer.into()),
                        ("payment_method".into(), pm.into()),
                        ("off_session".into(), "true".into()),
                        ("confirm".into(), "true".into()),
                        ("description".into(), c.description.into()),
                        ("metadata[order_id]".into(), c.order_id.into()),
                        ("metadata[attempt_id]".into(), c.attempt_id.into()),
                    ],
                    Some(c.attempt_id),
                )
                .await?;
            let id = pi
                .get("id")
                .and_then(Value::as_str)
                .filter(|i| intent_id_ok(i));
            Ok(Verified {
                provider_id: id
                    .ok_or_else(|| PaymentError::Unreadable("no payment intent id".into()))?
                    .to_string(),
                state: intent_state(&pi)?,
                saved: None,
            })
        })
    }

    fn verify_notification<'a>(
        &'a self,
        headers: &'a axum::http::HeaderMap,
        body: &'a [u8],
    ) -> ProviderFuture<'a, Verified> {
        Box::pin(async move {
            let bad = |e: String| PaymentError::BadNotification(e);
            let header = headers
                .get("stripe-signature")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| bad("no Stripe-Signature".into()))?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            verify(header, body, &self.webhook_secret, now, TOLERANCE_SECS)
                .map_err(|e| bad(e.to_string()))?;
            let event: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON".into()))?;
            let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
            if !kind.starts_with("checkout.session.") {
                return Err(bad(format!(
                    "event {kind:?} is not about a Checkout Session"
                )));
            }
            let s = event
                .pointer("/data/object")
                .ok_or_else(|| bad("no data.object".into()))?;
            let id = s.get("id").and_then(Value::as_str).unwrap_or("");
            if !session_id_ok(id) {
                return Err(bad("no session id".into()));
            }
            let state = session_state(s).map_err(|e| bad(e.to_string()))?;
            // A card kept for later: the event does not carry its payment method, the
            // session (expanded) does.
            let saved = match (&state, s.pointer("/metadata/save").and_then(Value::as_str)) {
                (PayState::Succeeded(_), Some("1")) => session_saved(&self.session(id).await?),
                _ => None,
            };
            Ok(Verified {
                provider_id: id.to_string(),
                state,
                saved,
            })
        })
    }

    fn refund<'a>(
        &'a self,
        r: &'a crate::provider::Refunding<'a>,
    ) -> ProviderFuture<'a, RefundAnswer> {
        let (provider_id, amount, key) = (r.provider_id, r.amount, r.key);
        Box::pin(async move {
            let pi = if intent_id_ok(provider_id) {
                provider_id.to_string()
            } else {
                let s = self.session(provider_id).await?;
                s.get("payment_intent")
                    .and_then(|p| p.as_str().or_else(|| p.get("id")?.as_str()))
                    .ok_or_else(|| PaymentError::Refused {
                        status: 400,
                        detail: "session has no payment_intent".into(),
                    })?
                    .to_string()
            };
            let pi = pi.as_str();
            let r = self
                .call(
                    "POST",
                    "/v1/refunds",
                    &[
                        ("payment_intent".into(), pi.into()),
                        ("amount".into(), amount.minor.to_string()),
                    ],
                    Some(key),
                )
                .await?;
            Ok(RefundAnswer::from_json(
                &r,
                key,
                "succeeded",
                &["failed", "canceled"],
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently (Python: hmac.new(b"whsec_test_secret",
    // b'1700000000.{"id":"evt_1","type":"payment_intent.succeeded"}', hashlib.sha256)).
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    const SECRET: &str = "whsec_test_secret";
    const VECTOR: &str = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";

    #[test]
    fn matches_an_independently_computed_signature() {
        assert_eq!(sign(SECRET, 1_700_000_000, BODY), VECTOR);
        let header = format!("t=1700000000,v1={VECTOR},v0=ignored");
        assert_eq!(
            verify(&header, BODY, SECRET, 1_700_000_100, TOLERANCE_SECS),
            Ok(())
        );
    }

    #[test]
    fn refuses_forged_stale_and_malformed_headers() {
        let good = format!("t=1700000000,v1={VECTOR}");
        let now = 1_700_000_000;
        assert_eq!(
            verify(&good, b"{}", SECRET, now, TOLERANCE_SECS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&good, BODY, "whsec_other", now, TOLERANCE_SECS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&good, BODY, SECRET, now + 301, TOLERANCE_SECS),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("t=1700000000", BODY, SECRET, now, TOLERANCE_SECS),
            Err(SignatureError::NoSignature)
        );
        for bad in ["", "garbage", "t=abc,v1=00", "v1=00"] {
            assert_eq!(
                verify(bad, BODY, SECRET, now, TOLERANCE_SECS),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // A second, rotated secret's signature beside the right one still verifies.
        let rotated = format!("t=1700000000,v1=deadbeef,v1={VECTOR}");
        assert_eq!(verify(&rotated, BODY, SECRET, now, TOLERANCE_SECS), Ok(()));
    }
}
