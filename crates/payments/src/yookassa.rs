//! YooKassa, API v3 (yookassa.ru/developers/api): HTTP Basic auth with the shop id and
//! secret key, an `Idempotence-Key` on every POST, amounts as decimal strings. A payment
//! is created with `capture: true` (the money is taken once the buyer confirms), a
//! `redirect` confirmation (bank cards incl. Mir; SBP opens the buyer's bank app from the
//! same page) and the 54-FZ `receipt` (items, VAT code, the buyer's e-mail or phone).
//!
//! Notifications ("HTTP notifications", `{"type":"notification","event":…,"object":…}`)
//! are not signed. They are therefore trusted for one thing only — which payment to look
//! at: the payment is fetched again from the API over TLS with our credentials, and only
//! that answer decides anything.

use crate::provider::{Checkout, Refunding};
use crate::{PaymentError, decimal, parse_decimal};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use simrenew_core::Money;
use std::time::Duration;

/// The production API.
pub const API: &str = "https://api.yookassa.ru/v3";

/// A client for one shop.
pub struct YooKassa {
    base: String,
    shop_id: String,
    secret_key: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for YooKassa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret key.
        f.debug_struct("YooKassa")
            .field("base", &self.base)
            .field("shop_id", &self.shop_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub value: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub confirmation_url: Option<String>,
}

/// A payment as the API returns it (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YkPayment {
    pub id: String,
    /// pending, waiting_for_capture, succeeded or canceled
    pub status: String,
    #[serde(default)]
    pub paid: bool,
    pub amount: Amount,
    #[serde(default)]
    pub confirmation: Option<Confirmation>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub payment_method: Option<YkMethod>,
}

/// The payment method object (the fields we use): `saved` when YooKassa keeps it for
/// later payments (`save_payment_method`), its `id` then charging it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YkMethod {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default)]
    pub saved: bool,
    #[serde(default)]
    pub title: Option<String>,
}

impl YkPayment {
    pub fn money(&self) -> Result<Money, PaymentError> {
        parse_decimal(&self.amount.value, &self.amount.currency)
    }
    pub fn confirmation_url(&self) -> Option<&str> {
        self.confirmation.as_ref()?.confirmation_url.as_deref()
    }
    /// The method YooKassa kept for later charges (a succeeded payment that asked).
    pub fn saved_method(&self) -> Option<crate::provider::SavedMethod> {
        let m = self.payment_method.as_ref().filter(|m| m.saved)?;
        (self.status == "succeeded").then(|| crate::provider::SavedMethod {
            token: m.id.clone(),
            title: m.title.clone().unwrap_or_else(|| m.kind.clone()),
        })
    }
    /// The order this payment was created for (our metadata).
    pub fn order_id(&self) -> Option<&str> {
        self.metadata.as_ref()?.get("order_id")?.as_str()
    }
}

/// Descriptions are at most 128 characters in the API.
fn clip(s: &str) -> String {
    s.chars().take(128).collect()
}

impl YooKassa {
    /// `base` is [`API`] in production (a stand-in's address in tests and the demo).
    pub fn new(base: &str, shop_id: &str, secret_key: &str) -> Result<Self, PaymentError> {
        crate::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| PaymentError::Transport(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            shop_id: shop_id.to_string(),
            secret_key: secret_key.to_string(),
            http,
        })
    }

    /// The 54-FZ `receipt` object: the buyer's e-mail or phone, one line per item.
    pub fn receipt(
        email: Option<&str>,
        phone: Option<&str>,
        items: &[(&str, Money)],
        vat_code: u8,
    ) -> Value {
        let mut customer = serde_json::Map::new();
        if let Some(e) = email {
            customer.insert("email".into(), json!(e));
        }
        if let Some(ph) = phone {
            customer.insert("phone".into(), json!(ph.trim_start_matches('+')));
        }
        let items: Vec<Value> = items
            .iter()
            .map(|(description, amount)| {
                json!({
                    "description": clip(description),
                    "quantity": "1.00",
                    "amount": {"value": decimal(*amount), "currency": amount.currency.code()},
                    "vat_code": vat_code,
                    "payment_mode": "full_payment",
                    "payment_subject": "service",
                })
            })
            .collect();
        json!({"customer": customer, "items": items})
    }

    /// The request body of "Create a payment" (POST /payments).
    pub fn payment_body(p: &Checkout<'_>) -> Value {
        let items: Vec<(&str, Money)> = p
            .items
            .iter()
            .map(|i| (i.description.as_str(), i.amount))
            .collect();
        let mut body = json!({
            "amount": {"value": decimal(p.amount), "currency": p.amount.currency.code()},
            "capture": true,
            "confirmation": {"type": "redirect", "return_url": p.return_url},
            "payment_method_data": {"type": p.method},
            "description": clip(p.description),
            "metadata": {"order_id": p.order_id},
            "receipt": Self::receipt(p.customer_email, p.customer_phone, &items, p.vat_code),
        });
        if p.save_method {
            body["save_payment_method"] = json!(true);
        }
        body
    }

    /// The body of a payment charged to a saved method (`payment_method_id`, no
    /// confirmation: the buyer is not there).
    pub fn saved_charge_body(token: &str, p: &Checkout<'_>) -> Value {
        let mut body = Self::payment_body(p);
        if let Some(o) = body.as_object_mut() {
            o.remove("confirmation");
            o.remove("payment_method_data");
            o.remove("save_payment_method");
            o.insert("payment_method_id".into(), json!(token));
        }
        body
    }

    /// Creates a payment; the buyer confirms it at its `confirmation_url`.
    pub async fn create_payment(&self, p: &Checkout<'_>) -> Result<YkPayment, PaymentError> {
        self.post_payment(p.attempt_id, &Self::payment_body(p))
            .await
    }

    async fn post_payment(&self, key: &str, body: &Value) -> Result<YkPayment, PaymentError> {
        let res = self
            .http
            .post(format!("{}/payments", self.base))
            .basic_auth(&self.shop_id, Some(&self.secret_key))
            .header("Idempotence-Key", key)
            .json(body)
            .send()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        read(res).await
    }

    /// The payment as YooKassa knows it now.
    pub async fn get_payment(&self, id: &str) -> Result<YkPayment, PaymentError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(PaymentError::BadNotification(
                "payment id is not an id".into(),
            ));
        }
        let res = self
            .http
            .get(format!("{}/payments/{id}", self.base))
            .basic_auth(&self.shop_id, Some(&self.secret_key))
            .send()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        read(res).await
    }

    /// Refunds part of a succeeded payment ("Create a refund", POST /refunds) with the
    /// 54-FZ refund receipt (one line: what is refunded, for the amount refunded); the
    /// refund's key for a retry of the same refund.
    pub async fn refund(&self, r: &Refunding<'_>) -> Result<YkRefund, PaymentError> {
        let res = self
            .http
            .post(format!("{}/refunds", self.base))
            .basic_auth(&self.shop_id, Some(&self.secret_key))
            .header("Idempotence-Key", r.key)
            .json(&json!({
                "payment_id": r.provider_id,
                "amount": {"value": decimal(r.amount), "currency": r.amount.currency.code()},
                "receipt": Self::receipt(r.customer_email, r.customer_phone, &[(r.description, r.amount)], r.vat_code),
            }))
            .send()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        read(res).await
    }

    /// A notification, verified the only way YooKassa allows: its payment id is read from
    /// the body, and the payment is fetched from the API; the fetched payment is returned
    /// and the notification's own `object` is never used.
    pub async fn verify_notification(&self, body: &[u8]) -> Result<YkPayment, PaymentError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| PaymentError::BadNotification("not JSON".into()))?;
        if v.get("type").and_then(Value::as_str) != Some("notification") {
            return Err(PaymentError::BadNotification("not a notification".into()));
        }
        let event = v.get("event").and_then(Value::as_str).unwrap_or("");
        if !event.starts_with("payment.") {
            return Err(PaymentError::BadNotification(format!(
                "event {event:?} is not about a payment"
            )));
        }
        let id = v
            .pointer("/object/id")
            .and_then(Value::as_str)
            .ok_or_else(|| PaymentError::BadNotification("no object.id".into()))?;
        match self.get_payment(id).await {
            Err(PaymentError::Refused { status: 404, .. }) => Err(PaymentError::BadNotification(
                "YooKassa knows no such payment".into(),
            )),
            other => other,
        }
    }
}

/// A refund as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YkRefund {
    pub id: String,
    pub payment_id: String,
    /// pending, succeeded or canceled
    pub status: String,
    pub amount: Amount,
}

async fn read<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> Result<T, PaymentError> {
    let status = res.status();
    let text = res
        .text()
        .await
        .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
    if !status.is_success() {
        // The API's error object: {"type":"error","code":…,"description":…}.
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                Some(format!(
                    "{}: {}",
                    v.get("code")?.as_str()?,
                    v.get("description").and_then(Value::as_str).unwrap_or("")
                ))
            })
            .unwrap_or_else(|| "no error object".into());
        return Err(PaymentError::Refused {
            status: status.as_u16(),
            detail,
        });
    }
    serde_json::from_str(&text).map_err(|e| PaymentError::Unreadable(e.to_string()))
}

const METHODS: &[crate::provider::Method] = &[
    crate::provider::Method {
        value: "yookassa:bank_card",
        label: "pay-card-mir",
        currency: simrenew_core::Currency::Rub,
        scan: false,
    },
    crate::provider::Method {
        value: "yookassa:sbp",
        label: "pay-sbp",
        currency: simrenew_core::Currency::Rub,
        scan: false,
    },
];

impl YkPayment {
    /// In the connectors' common terms.
    pub fn verified(&self) -> Result<crate::provider::Verified, PaymentError> {
        use crate::provider::PayState;
        Ok(crate::provider::Verified {
            provider_id: self.id.clone(),
            state: match self.status.as_str() {
                "succeeded" => PayState::Succeeded(self.money()?),
                "canceled" => PayState::Canceled,
                _ => PayState::Open,
            },
            saved: self.saved_method(),
        })
    }
}

impl crate::provider::Provider for YooKassa {
    fn name(&self) -> &'static str {
        "yookassa"
    }

    fn methods(&self) -> &'static [crate::provider::Method] {
        METHODS
    }

    fn create<'a>(
        &'a self,
        c: &'a crate::provider::Checkout<'a>,
    ) -> crate::provider::ProviderFuture<'a, crate::provider::Created> {
        Box::pin(async move {
            let created = self.create_payment(c).await?;
            let url = created
                .confirmation_url()
                .ok_or_else(|| PaymentError::Unreadable("no confirmation_url".into()))?;
            Ok(crate::provider::Created {
                provider_id: created.id.clone(),
                next: crate::provider::NextStep::Redirect(url.to_string()),
            })
        })
    }

    fn status<'a>(
        &'a self,
        provider_id: &'a str,
    ) -> crate::provider::ProviderFuture<'a, crate::provider::Verified> {
        Box::pin(async move { self.get_payment(provider_id).await?.verified() })
    }

    fn verify_notification<'a>(
        &'a self,
        _headers: &'a axum::http::HeaderMap,
        body: &'a [u8],
    ) -> crate::provider::ProviderFuture<'a, crate::provider::Verified> {
        Box::pin(async move { self.verify_notification(body).await?.verified() })
    }

    fn can_save(&self, method: &str) -> bool {
        method == "bank_card"
    }

    fn charge_saved<'a>(
        &'a self,
        token: &'a str,
        c: &'a Checkout<'a>,
    ) -> crate::provider::ProviderFuture<'a, crate::provider::Verified> {
        Box::pin(async move {
            self.post_payment(c.attempt_id, &Self::saved_charge_body(token, c))
                .await?
                .verified()
        })
    }

    fn refund<'a>(
        &'a self,
        r: &'a crate::provider::Refunding<'a>,
    ) -> crate::provider::ProviderFuture<'a, crate::provider::RefundAnswer> {
        use crate::provider::RefundState;
        Box::pin(async move {
            let r = self.refund(r).await?;
            Ok(crate::provider::RefundAnswer {
                id: r.id,
                state: match r.status.as_str() {
                    "succeeded" => RefundState::Succeeded,
                    "canceled" => RefundState::Canceled,
                    _ => RefundState::Pending,
                },
            })
        })
    }
}
