//! Paying orders through providers, shared by the pages and the webhooks: start a
//! payment (the store's attempt, then the provider's payment, then the buyer goes to the
//! provider), settle from a verified provider answer, and ask the provider about attempts
//! still open when the buyer comes back (so a lost notification never leaves them stuck).

use crate::AppState;
use simrenew_core::Currency;
use simrenew_payments::yookassa::{NewPayment, ReceiptItem, YkPayment};
use simrenew_store::StoreError;
use simrenew_store::payments::Settlement;

/// The provider methods the shop offers for an order in `currency`: (value, message key).
pub fn methods(s: &AppState, currency: Currency) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if s.config.yookassa.is_some() && currency == Currency::Rub {
        out.push(("yookassa:bank_card", "pay-card-mir"));
        out.push(("yookassa:sbp", "pay-sbp"));
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("this payment method is not offered for this order")]
    NotOffered,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] simrenew_payments::PaymentError),
}

/// Starts paying `order_id` with `method` (`yookassa:bank_card`…); returns where the
/// buyer confirms the payment. `email` goes on the 54-FZ receipt; without it, the line's
/// number does.
pub async fn start(
    s: &AppState,
    order_id: &str,
    method: &str,
    email: Option<&str>,
    description: &str,
) -> Result<String, StartError> {
    let Some(kind) = method.strip_prefix("yookassa:") else {
        return Err(StartError::NotOffered);
    };
    let (Some(yk), true) = (&s.config.yookassa, ["bank_card", "sbp"].contains(&kind)) else {
        return Err(StartError::NotOffered);
    };
    let order = s.store.order(order_id).await?;
    if order.total.currency != Currency::Rub {
        return Err(StartError::NotOffered);
    }
    let attempt = s.store.start_payment(order_id, "yookassa", kind).await?;
    let phone = format!("+{}", order.msisdn);
    let return_url = format!(
        "{}/orders/{order_id}",
        s.config.public_url.trim_end_matches('/')
    );
    let created = yk
        .create_payment(&NewPayment {
            order_id,
            amount: order.total,
            description,
            method: kind,
            return_url: &return_url,
            // The attempt's id: a retry of this call creates no second payment.
            idempotence_key: &attempt.id,
            customer_email: email,
            customer_phone: email.is_none().then_some(phone.as_str()),
            items: order
                .items
                .iter()
                .map(|i| ReceiptItem {
                    description: format!("{} {}", i.kind, i.plan_id.as_deref().unwrap_or("")),
                    amount: i.price,
                    vat_code: s.config.vat_code,
                })
                .collect(),
        })
        .await?;
    s.store
        .payment_pending(&attempt.id, &created.id, created.confirmation_url())
        .await?;
    created
        .confirmation_url()
        .map(str::to_string)
        .ok_or_else(|| {
            StartError::Provider(simrenew_payments::PaymentError::Unreadable(
                "no confirmation_url".into(),
            ))
        })
}

/// Applies what YooKassa says about one of our payments (already verified: fetched from
/// its API). None when the payment is still open.
pub async fn apply_yookassa(s: &AppState, p: &YkPayment) -> Result<Option<Settlement>, StoreError> {
    match p.status.as_str() {
        "succeeded" => {
            let paid = p
                .money()
                .map_err(|e| StoreError::invalid("amount", e.to_string()))?;
            s.store
                .payment_succeeded("yookassa", &p.id, paid)
                .await
                .map(Some)
        }
        "canceled" => {
            s.store.payment_canceled("yookassa", &p.id).await?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Asks the providers about every attempt still open after `older_than_secs` and
/// applies their answers; returns how many were asked. Run by `serve` every minute, so a
/// lost notification settles (or a payment the buyer abandoned is closed when the
/// provider cancels it) without anyone looking.
pub async fn refresh_open(s: &AppState, older_than_secs: i64) -> usize {
    let Some(yk) = &s.config.yookassa else {
        return 0;
    };
    let open = match s.store.open_payments(older_than_secs, 100).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "open payments");
            return 0;
        }
    };
    let mut asked = 0;
    for a in open.iter().filter(|a| a.provider == "yookassa") {
        asked += 1;
        ask_yookassa(s, yk, a).await;
    }
    asked
}

/// Asks YooKassa about one open attempt and applies the answer; failures are logged (the
/// next round asks again).
async fn ask_yookassa(
    s: &AppState,
    yk: &simrenew_payments::yookassa::YooKassa,
    a: &simrenew_store::payments::Payment,
) {
    let Some(id) = &a.provider_payment_id else {
        return;
    };
    match yk.get_payment(id).await {
        Ok(p) => {
            if let Err(e) = apply_yookassa(s, &p).await {
                tracing::warn!(error = %e, payment = %a.id, "payment refresh");
            }
        }
        Err(e) => tracing::warn!(error = %e, payment = %a.id, "provider unreachable"),
    }
}

/// Asks the provider about this order's open attempts (the buyer is back on the order
/// page, perhaps before the notification): settles what has settled.
pub async fn refresh_order(s: &AppState, order_id: &str) {
    let Some(yk) = &s.config.yookassa else { return };
    let Ok(attempts) = s.store.payments_of_order(order_id).await else {
        return;
    };
    for a in attempts
        .iter()
        .filter(|a| a.status == "pending" && a.provider == "yookassa")
    {
        ask_yookassa(s, yk, a).await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the provider refused the refund: {0}")]
    Refused(simrenew_payments::PaymentError),
    #[error("the provider could not be reached; the refund stays pending: {0}")]
    Unreachable(simrenew_payments::PaymentError),
    #[error("this payment's provider cannot refund from here")]
    NotSupported,
}

/// Refunds `amount` of a settled payment: recorded pending (checked against the refund
/// policy), asked of the provider with the refund's id as idempotency key, then completed
/// (money and quota back) or marked failed.
pub async fn refund(
    store: &simrenew_store::Store,
    yookassa: Option<&simrenew_payments::yookassa::YooKassa>,
    payment_id: &str,
    amount: simrenew_core::Money,
    reason: &str,
) -> Result<simrenew_store::refunds::Refund, RefundError> {
    let p = store.payment(payment_id).await?;
    let (Some(yk), "yookassa", Some(pid)) = (yookassa, p.provider.as_str(), &p.provider_payment_id)
    else {
        return Err(RefundError::NotSupported);
    };
    let r = store.begin_refund(payment_id, amount, reason).await?;
    match yk.refund(pid, amount, &r.id).await {
        Ok(done) if done.status == "succeeded" => {
            Ok(store.complete_refund(&r.id, &done.id).await?)
        }
        Ok(done) if done.status == "canceled" => {
            store.fail_refund(&r.id).await?;
            Err(RefundError::Refused(
                simrenew_payments::PaymentError::Refused {
                    status: 200,
                    detail: "refund canceled".into(),
                },
            ))
        }
        // Pending at the provider: stays pending here too.
        Ok(_) => Ok(r),
        Err(e @ simrenew_payments::PaymentError::Refused { .. }) => {
            store.fail_refund(&r.id).await?;
            Err(RefundError::Refused(e))
        }
        Err(e) => Err(RefundError::Unreachable(e)),
    }
}
