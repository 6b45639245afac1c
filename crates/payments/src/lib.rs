//! Payment connectors: each speaks one provider's published API and only translates —
//! create a payment for an order, fetch its status, and verify a notification before any
//! of its content is trusted. The rules (what a success does to an order, what is held)
//! live in the store (`simrenew_store::payments`).
//!
//! So far: YooKassa (API v3: bank cards incl. Mir, SBP; 54-FZ receipts) and Stripe's
//! webhook signatures. Alipay, WeChat Pay, PayPal and Stripe's API come next.

pub mod alipay;
pub mod keys;
pub mod paypal;
pub mod provider;
pub mod reports;
pub mod sandbox;
pub mod stripe;
pub mod wechatpay;
pub mod yookassa;

use simrenew_core::{Currency, Money};

/// Why a provider call or a notification failed; nothing here carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("provider unreachable: {0}")]
    Transport(String),
    #[error("provider refused the request ({status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("provider answered something unreadable: {0}")]
    Unreadable(String),
    #[error("notification rejected: {0}")]
    BadNotification(String),
    #[error("amount {0}: not a decimal amount in that currency")]
    BadAmount(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// The HTTP client every connector uses: rustls (ring), 30 s timeout.
pub fn http_client() -> Result<reqwest::Client, PaymentError> {
    install_crypto();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| PaymentError::Transport(e.to_string()))
}

/// Installs the rustls crypto provider (ring) once per process; reqwest is built
/// without one so that no other crypto library is linked.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `Money` as providers write amounts: a decimal string in major units ("750.00").
pub fn decimal(m: Money) -> String {
    m.major_string()
}

/// A provider's decimal amount back into `Money`.
pub fn parse_decimal(value: &str, currency: &str) -> Result<Money, PaymentError> {
    let c: Currency = currency
        .parse()
        .map_err(|_| PaymentError::BadAmount(format!("{value} {currency}")))?;
    Money::parse_major(value, c).map_err(|_| PaymentError::BadAmount(format!("{value} {currency}")))
}
