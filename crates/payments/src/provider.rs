//! The one interface every connector implements. A connector only translates between
//! simrenew and its provider's published API: it creates a payment for an order, says
//! where the buyer goes next (a page to open, or a code to scan), verifies a
//! notification before anything in it is read, fetches a payment's status, and refunds.
//! What a success does to an order is decided elsewhere (`simrenew_store::payments`).

use crate::PaymentError;
use futures::future::BoxFuture;
use simrenew_core::{Currency, Money};

pub type ProviderFuture<'a, T> = BoxFuture<'a, Result<T, PaymentError>>;

/// One line of what is paid for (receipts: 54-FZ at YooKassa; the subject elsewhere).
#[derive(Debug, Clone)]
pub struct Item {
    pub description: String,
    pub amount: Money,
}

/// A payment to create for an order.
#[derive(Debug, Clone)]
pub struct Checkout<'a> {
    pub order_id: &'a str,
    /// Our attempt's id: the provider's idempotency key or merchant order number
    /// (`out_trade_no`), so a retry never creates a second payment.
    pub attempt_id: &'a str,
    pub amount: Money,
    pub description: &'a str,
    /// The connector's method (`bank_card`, `sbp`, `qr`…).
    pub method: &'a str,
    /// Where the buyer comes back to (the order page).
    pub return_url: &'a str,
    /// Where the provider posts its notification (`<public_url>/webhooks/<provider>`).
    pub notify_url: &'a str,
    pub customer_email: Option<&'a str>,
    pub customer_phone: Option<&'a str>,
    pub items: &'a [Item],
    /// VAT code on receipt lines, where receipts are sent with the payment.
    pub vat_code: u8,
    /// Ask the provider to keep the method for later charges (auto-renew), where the
    /// connector can ([`Provider::can_save`]).
    pub save_method: bool,
}

/// Where the buyer goes to confirm the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// A page of the provider's to open.
    Redirect(String),
    /// A code to scan with the provider's app (WeChat Pay Native `code_url`, Alipay
    /// precreate `qr_code`); on a phone, a link that opens the app where it can.
    Scan(String),
}

impl NextStep {
    pub fn target(&self) -> &str {
        match self {
            NextStep::Redirect(u) | NextStep::Scan(u) => u,
        }
    }
}

/// A payment just created at the provider.
#[derive(Debug, Clone)]
pub struct Created {
    /// The id we look the payment up by later (the provider's own, or our attempt id
    /// where the provider is asked by merchant order number).
    pub provider_id: String,
    pub next: NextStep,
}

/// What the provider says about a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayState {
    /// Not paid yet (waiting for the buyer, or in progress).
    Open,
    /// Paid: the amount and currency the provider took.
    Succeeded(Money),
    /// Closed without payment (canceled, expired, refused).
    Canceled,
}

/// A payment's state as verified from the provider (a signed notification or the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub provider_id: String,
    pub state: PayState,
    /// The method the provider kept for later charges, when the buyer asked.
    pub saved: Option<SavedMethod>,
}

/// A payment method kept by the provider: its token (never card data) and what to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMethod {
    pub token: String,
    /// "Bank card *4444".
    pub title: String,
}

/// A refund to ask of the provider.
#[derive(Debug, Clone)]
pub struct Refunding<'a> {
    /// The payment, as the provider knows it.
    pub provider_id: &'a str,
    pub amount: Money,
    /// What the payment was for in all.
    pub paid: Money,
    /// Our refund's id: the provider's idempotency key or refund number.
    pub key: &'a str,
    /// What is refunded, for the refund receipt (54-FZ, YooKassa).
    pub description: &'a str,
    pub customer_email: Option<&'a str>,
    pub customer_phone: Option<&'a str>,
    pub vat_code: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundState {
    Succeeded,
    Pending,
    Canceled,
}

#[derive(Debug, Clone)]
pub struct RefundAnswer {
    pub id: String,
    pub state: RefundState,
}

impl RefundAnswer {
    /// A refund object's `id` and `status` (`done` means succeeded, `failed` closed
    /// unpaid, anything else pending); `key` stands in for a missing id.
    pub fn from_json(r: &serde_json::Value, key: &str, done: &str, failed: &[&str]) -> Self {
        let status = r
            .get("status")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        Self {
            id: r
                .get("id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(key)
                .to_string(),
            state: if status == done {
                RefundState::Succeeded
            } else if failed.contains(&status) {
                RefundState::Canceled
            } else {
                RefundState::Pending
            },
        }
    }
}

/// A method a provider offers: `value` is `<provider>:<method>` in forms, `label` the
/// message key of its name, `currency` the currency an order paid with it is priced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub value: &'static str,
    pub label: &'static str,
    pub currency: Currency,
    /// The buyer scans a code (shown on the order page) instead of being sent away.
    pub scan: bool,
}

/// A provider connector.
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// The provider's name in the `payments` table and in `/webhooks/<name>`.
    fn name(&self) -> &'static str;

    /// The methods this connector offers.
    fn methods(&self) -> &'static [Method];

    fn create<'a>(&'a self, checkout: &'a Checkout<'a>) -> ProviderFuture<'a, Created>;

    /// The payment's state, asked of the provider's API.
    fn status<'a>(&'a self, provider_id: &'a str) -> ProviderFuture<'a, Verified>;

    /// A notification (its headers and raw body), verified as the provider specifies
    /// before any of it is trusted; `BadNotification` when it is not genuine.
    fn verify_notification<'a>(
        &'a self,
        headers: &'a axum::http::HeaderMap,
        body: &'a [u8],
    ) -> ProviderFuture<'a, Verified>;

    /// The body the provider expects as the answer to a notification it may stop
    /// sending (Alipay: `success`; others: empty with 200).
    fn acknowledgement(&self) -> &'static str {
        ""
    }

    /// Whether this connector can keep `method` for later charges.
    fn can_save(&self, _method: &str) -> bool {
        false
    }

    /// Charges a saved method for `checkout` without the buyer (auto-renew); the
    /// payment as created (usually settled at once).
    fn charge_saved<'a>(
        &'a self,
        _token: &'a str,
        _checkout: &'a Checkout<'a>,
    ) -> ProviderFuture<'a, Verified> {
        Box::pin(async {
            Err(PaymentError::Refused {
                status: 501,
                detail: "this provider keeps no methods for later charges".into(),
            })
        })
    }

    /// Refunds part or all of a payment; asking again with the same key refunds once.
    fn refund<'a>(&'a self, r: &'a Refunding<'a>) -> ProviderFuture<'a, RefundAnswer>;
}
