//! Paying orders through providers, shared by the pages and the webhooks: start a
//! payment (the store's attempt, then the provider's payment, then the buyer goes to the
//! provider), settle from a verified provider answer, and ask the provider about attempts
//! still open when the buyer comes back (so a lost notification never leaves them stuck).

use crate::AppState;
use simrenew_core::Currency;
use simrenew_payments::provider::{
    Checkout, Item, Method, NextStep, PayState, Provider, RefundState, Verified,
};
use simrenew_store::StoreError;
use simrenew_store::payments::Settlement;
use std::sync::Arc;

/// The provider methods the shop offers, those in `currency` when given.
pub fn methods(s: &AppState, currency: Option<Currency>) -> Vec<Method> {
    s.config
        .providers
        .iter()
        .flat_map(|p| p.methods().iter().copied())
        .filter(|m| currency.is_none_or(|c| m.currency == c))
        .collect()
}

/// The configured provider called `name`.
pub fn provider<'a>(s: &'a AppState, name: &str) -> Option<&'a Arc<dyn Provider>> {
    s.config.providers.iter().find(|p| p.name() == name)
}

/// A method offered here by its form value (`alipay:qr`), with its provider.
pub fn method<'a>(s: &'a AppState, value: &str) -> Option<(&'a Arc<dyn Provider>, Method)> {
    s.config.providers.iter().find_map(|p| {
        p.methods()
            .iter()
            .find(|m| m.value == value)
            .map(|m| (p, *m))
    })
}

/// The currency an order paid with form value `pay` is priced in: the method's, or a
/// saved method's provider's (None for the balance, the demo card, or unknown values).
pub async fn method_currency(s: &AppState, ctx: &crate::pages::Ctx, pay: &str) -> Option<Currency> {
    if let Some(id) = pay.strip_prefix("saved:") {
        let user = ctx.user.as_ref()?;
        let kept = s.store.saved_methods(&user.id).await.ok()?;
        let m = kept.iter().find(|m| m.id == id)?;
        return provider(s, &m.provider)?
            .methods()
            .first()
            .map(|m| m.currency);
    }
    method(s, pay).map(|(_, m)| m.currency)
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

/// Starts paying `order_id` with `method` (`yookassa:bank_card`, `alipay:qr`…): the
/// store's attempt, then the provider's payment; returns where the buyer goes next.
/// `email` goes on the 54-FZ receipt; without it, the line's number does.
pub async fn start(
    s: &AppState,
    order_id: &str,
    method_value: &str,
    email: Option<&str>,
    description: &str,
    save_method: bool,
) -> Result<NextStep, StartError> {
    let (p, m) = method(s, method_value).ok_or(StartError::NotOffered)?;
    let order = s.store.order(order_id).await?;
    if order.total.currency != m.currency {
        return Err(StartError::NotOffered);
    }
    let kind = m.value.split_once(':').map_or(m.value, |(_, k)| k);
    // Only for a signed-in buyer (the method is kept for their account).
    let save_method = save_method && email.is_some() && p.can_save(kind);
    let a = Attempt::open(s, &order, p.name(), kind).await?;
    let checkout = Checkout {
        order_id,
        attempt_id: &a.payment.id,
        amount: order.total,
        description,
        method: kind,
        return_url: &a.return_url,
        notify_url: &a.notify_url,
        customer_email: email,
        customer_phone: email.is_none().then_some(a.phone.as_str()),
        items: &a.items,
        vat_code: s.config.vat_code,
        save_method,
    };
    let created = p.create(&checkout).await?;
    s.store
        .payment_pending(
            &a.payment.id,
            &created.provider_id,
            Some(created.next.target()),
        )
        .await?;
    Ok(created.next)
}

/// Where the buyer goes after choosing a method: the provider's page, or the order page
/// (which shows the code to scan).
pub fn next_url(order_id: &str, next: &NextStep) -> String {
    match next {
        NextStep::Redirect(url) => url.clone(),
        NextStep::Scan(_) => format!("/orders/{order_id}"),
    }
}

/// Applies what `provider` says about one of our payments (already verified: a signed
/// notification or its API). None when the payment is still open.
pub async fn apply(
    s: &AppState,
    provider: &str,
    v: &Verified,
) -> Result<Option<Settlement>, StoreError> {
    match &v.state {
        PayState::Succeeded(paid) => {
            // A method the payment saved is kept with the settlement, in one transaction.
            let keep = v
                .saved
                .as_ref()
                .map(|m| (m.token.as_str(), m.title.as_str()));
            s.store
                .payment_succeeded_keeping(provider, &v.provider_id, *paid, keep)
                .await
                .map(Some)
        }
        PayState::Canceled => {
            s.store.payment_canceled(provider, &v.provider_id).await?;
            Ok(None)
        }
        PayState::Open => Ok(None),
    }
}

/// Pays `order_id` with one of `user_id`'s saved methods, without the buyer going to
/// the provider (the building block of auto-renew).
pub async fn pay_saved(
    s: &AppState,
    order_id: &str,
    user_id: &str,
    method_id: &str,
    description: &str,
) -> Result<Option<Settlement>, StartError> {
    let kept = s
        .store
        .saved_methods(user_id)
        .await?
        .into_iter()
        .find(|m| m.id == method_id)
        .ok_or(StartError::NotOffered)?;
    let p = provider(s, &kept.provider).ok_or(StartError::NotOffered)?;
    let order = s.store.order(order_id).await?;
    if !p
        .methods()
        .iter()
        .any(|m| m.currency == order.total.currency)
    {
        return Err(StartError::NotOffered);
    }
    let a = Attempt::open(s, &order, p.name(), "saved").await?;
    let checkout = Checkout {
        order_id,
        attempt_id: &a.payment.id,
        amount: order.total,
        description,
        method: "saved",
        return_url: &a.return_url,
        notify_url: &a.notify_url,
        customer_email: None,
        customer_phone: Some(&a.phone),
        items: &a.items,
        vat_code: s.config.vat_code,
        save_method: false,
    };
    let v = p.charge_saved(&kept.token, &checkout).await?;
    s.store
        .payment_pending(&a.payment.id, &v.provider_id, None)
        .await?;
    Ok(apply(s, p.name(), &v).await?)
}

/// An attempt just opened, and what a checkout for it names.
struct Attempt {
    payment: simrenew_store::payments::Payment,
    phone: String,
    return_url: String,
    notify_url: String,
    /// The order's items as receipt lines.
    items: Vec<Item>,
}

impl Attempt {
    async fn open(
        s: &AppState,
        order: &simrenew_store::orders::Order,
        provider: &str,
        kind: &str,
    ) -> Result<Self, StoreError> {
        let payment = s.store.start_payment(&order.id, provider, kind).await?;
        let public = s.config.public_url.trim_end_matches('/');
        Ok(Self {
            payment,
            phone: format!("+{}", order.msisdn),
            return_url: format!("{public}/orders/{}", order.id),
            notify_url: format!("{public}/webhooks/{provider}"),
            items: order
                .items
                .iter()
                .map(|i| Item {
                    description: format!("{} {}", i.kind, i.plan_id.as_deref().unwrap_or("")),
                    amount: i.price,
                })
                .collect(),
        })
    }
}

/// Asks the providers about every attempt still open after `older_than_secs` and
/// applies their answers; returns how many were asked. Run by `serve` every minute, so a
/// lost notification settles (or a payment the buyer abandoned is closed when the
/// provider cancels it) without anyone looking.
pub async fn refresh_open(s: &AppState, older_than_secs: i64) -> usize {
    if s.config.providers.is_empty() {
        return 0;
    }
    let open = match s.store.open_payments(older_than_secs, 100).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "open payments");
            return 0;
        }
    };
    let mut asked = 0;
    for a in &open {
        asked += usize::from(ask(s, a).await);
    }
    asked
}

/// Asks the attempt's provider about it and applies the answer; failures are logged
/// (the next round asks again). Whether a provider was asked.
async fn ask(s: &AppState, a: &simrenew_store::payments::Payment) -> bool {
    let (Some(p), Some(id)) = (provider(s, &a.provider), &a.provider_payment_id) else {
        return false;
    };
    match p.status(id).await {
        Ok(v) => {
            if let Err(e) = apply(s, p.name(), &v).await {
                tracing::warn!(error = %e, payment = %a.id, "payment refresh");
            }
        }
        Err(e) => tracing::warn!(error = %e, payment = %a.id, "provider unreachable"),
    }
    true
}

/// Asks the provider about this order's open attempts (the buyer is back on the order
/// page, perhaps before the notification): settles what has settled.
pub async fn refresh_order(s: &AppState, order_id: &str) {
    let Ok(attempts) = s.store.payments_of_order(order_id).await else {
        return;
    };
    for a in attempts.iter().filter(|a| a.status == "pending") {
        ask(s, a).await;
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
/// (money and quota back) or marked failed. `vat_code` goes on the refund receipt.
pub async fn refund(
    store: &simrenew_store::Store,
    providers: &[Arc<dyn Provider>],
    vat_code: u8,
    payment_id: &str,
    amount: simrenew_core::Money,
    reason: &str,
) -> Result<simrenew_store::refunds::Refund, RefundError> {
    let p = store.payment(payment_id).await?;
    if !providers.iter().any(|x| x.name() == p.provider) || p.provider_payment_id.is_none() {
        return Err(RefundError::NotSupported);
    }
    let r = store.begin_refund(payment_id, amount, reason).await?;
    ask_refund(store, providers, vat_code, &r).await
}

/// Asks the provider for a pending refund (again: the same key refunds once) and
/// applies the answer.
pub async fn ask_refund(
    store: &simrenew_store::Store,
    providers: &[Arc<dyn Provider>],
    vat_code: u8,
    r: &simrenew_store::refunds::Refund,
) -> Result<simrenew_store::refunds::Refund, RefundError> {
    let p = store.payment(&r.payment_id).await?;
    let (Some(provider), Some(pid)) = (
        providers.iter().find(|x| x.name() == p.provider),
        &p.provider_payment_id,
    ) else {
        return Err(RefundError::NotSupported);
    };
    let order = store.order(&p.order_id).await?;
    let phone = format!("+{}", order.msisdn);
    let description = format!(
        "Возврат / refund: {}",
        crate::pages::line::order_description(&order)
    );
    let asked = provider
        .refund(&simrenew_payments::provider::Refunding {
            provider_id: pid,
            amount: r.amount,
            paid: p.amount,
            key: &r.id,
            description: &description,
            customer_email: None,
            customer_phone: Some(&phone),
            vat_code,
        })
        .await;
    match asked {
        Ok(done) => match done.state {
            RefundState::Succeeded => Ok(store.complete_refund(&r.id, &done.id).await?),
            RefundState::Canceled => {
                store.fail_refund(&r.id).await?;
                Err(RefundError::Refused(
                    simrenew_payments::PaymentError::Refused {
                        status: 200,
                        detail: "refund canceled".into(),
                    },
                ))
            }
            // Pending at the provider: stays pending here too.
            RefundState::Pending => Ok(r.clone()),
        },
        Err(e @ simrenew_payments::PaymentError::Refused { .. }) => {
            store.fail_refund(&r.id).await?;
            Err(RefundError::Refused(e))
        }
        Err(e) => Err(RefundError::Unreachable(e)),
    }
}

/// Asks again about refunds left pending (a provider that could not be reached, or that
/// answered "pending"); run by `serve` with [`refresh_open`]. How many were asked.
pub async fn refresh_refunds(s: &AppState, older_than_secs: i64) -> usize {
    retry_refunds(
        &s.store,
        &s.config.providers,
        s.config.vat_code,
        older_than_secs,
    )
    .await
}

/// [`refresh_refunds`] for a store and providers.
pub async fn retry_refunds(
    store: &simrenew_store::Store,
    providers: &[Arc<dyn Provider>],
    vat_code: u8,
    older_than_secs: i64,
) -> usize {
    let pending = match store.pending_refunds(older_than_secs, 100).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "pending refunds");
            return 0;
        }
    };
    for r in &pending {
        if let Err(e) = ask_refund(store, providers, vat_code, r).await {
            tracing::warn!(error = %e, refund = %r.id, "refund asked again");
        }
    }
    pending.len()
}

/// What importing a settlement report found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReconcileReport {
    pub provider: String,
    pub findings: Vec<simrenew_core::reconcile::Finding>,
    /// Fees recorded now (matched payments whose fee the report gives, not known before).
    pub fees_recorded: usize,
}

impl ReconcileReport {
    /// Whether everything matched.
    pub fn clean(&self) -> bool {
        self.findings
            .iter()
            .all(|f| matches!(f, simrenew_core::reconcile::Finding::Matched { .. }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Report(#[from] simrenew_payments::reports::ReportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads `provider`'s settlement report and checks it against what was settled with
/// that provider in `[from, to)`; with `record_fees`, the fees of matched payments are
/// recorded in the ledger (once, however often the report is imported).
pub async fn reconcile(
    store: &simrenew_store::Store,
    provider: &str,
    report: &[u8],
    from: time::OffsetDateTime,
    to: time::OffsetDateTime,
    record_fees: bool,
) -> Result<ReconcileReport, ReconcileError> {
    use simrenew_core::reconcile::{Entry, Finding};
    let lines = simrenew_payments::reports::parse(provider, report)?;
    let ours = store.settled_with(provider, from, to).await?;
    let findings = simrenew_core::reconcile::reconcile(&ours, &lines);
    let mut fees_recorded = 0;
    if record_fees {
        for f in &findings {
            if let Finding::Matched { line, ours } = f
                && let (Entry::Payment, Some(fee)) = (ours.entry, line.fee)
                && store.record_fee(&ours.id, fee).await?
            {
                fees_recorded += 1;
            }
        }
    }
    Ok(ReconcileReport {
        provider: provider.to_string(),
        findings,
        fees_recorded,
    })
}
