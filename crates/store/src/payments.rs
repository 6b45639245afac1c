//! Payments through providers: an attempt to pay an order with a provider's method, its
//! provider-side id, and its settlement. A verified "succeeded" settles the order exactly
//! once, whatever the replays and races: the payment's status moves by a conditional
//! update in the same transaction as the order's fulfilment, and the provider's id is
//! unique. Money that arrives and cannot buy what it was for (the amount or currency
//! differs, the order was paid another way, the line is suspended) is held for review
//! and the buyer told, never silently applied or lost.

use crate::db::{Store, from_unix, new_id, now};
use crate::error::{Result, StoreError};
use crate::orders::{Order, Source, settle_in};
use crate::sql::Row;
use simrenew_core::{Money, OrderStatus};
use time::OffsetDateTime;

/// One attempt to pay an order through a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: String,
    pub order_id: String,
    pub provider: String,
    pub method: String,
    pub provider_payment_id: Option<String>,
    pub amount: Money,
    /// created, pending, succeeded, canceled or held
    pub status: String,
    pub hold_reason: Option<String>,
    pub confirmation_url: Option<String>,
    /// Who took it at a counter (`staff:<e-mail>`), for cash and card-terminal payments.
    pub recorded_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// How a customer pays at the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterPayment {
    /// Cash handed over (the change is given back).
    Cash { received: Money },
    /// A card on the shop's own terminal; the slip's reference is kept.
    Terminal { reference: String },
}

/// What a verified success did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The order was paid and fulfilled now.
    Fulfilled(Box<Order>),
    /// This success was settled before (a replay, or a race another server won).
    AlreadySettled,
    /// The money is kept for review (and refund); the order is unchanged.
    Held { reason: String },
}

const COLUMNS: &str = "id, order_id, provider, method, provider_payment_id, amount_minor, currency, status, hold_reason, confirmation_url, recorded_by, created_at, updated_at";

fn payment_from_row(r: &Row) -> Result<Payment> {
    let id: String = r.try_get("id")?;
    Ok(Payment {
        order_id: r.try_get("order_id")?,
        provider: r.try_get("provider")?,
        method: r.try_get("method")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        amount: Money::new(
            r.try_get("amount_minor")?,
            r.try_get::<String, _>("currency")?
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("payment {id}: currency")))?,
        ),
        status: r.try_get("status")?,
        hold_reason: r.try_get("hold_reason")?,
        confirmation_url: r.try_get("confirmation_url")?,
        recorded_by: r.try_get("recorded_by")?,
        created_at: from_unix(r.try_get("created_at")?),
        updated_at: from_unix(r.try_get("updated_at")?),
        id,
    })
}

impl Store {
    /// Opens an attempt to pay a pending order with `provider`'s `method`, for the
    /// order's total.
    pub async fn start_payment(
        &self,
        order_id: &str,
        provider: &str,
        method: &str,
    ) -> Result<Payment> {
        let order = self.order(order_id).await?;
        if order.status != OrderStatus::PendingPayment {
            return Err(StoreError::OrderNotPending(order.status));
        }
        let at = now();
        let id = new_id();
        crate::sql::query("INSERT INTO payments (id, order_id, provider, method, amount_minor, currency, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'created', $7, $7)")
            .bind(&id)
            .bind(order_id)
            .bind(provider)
            .bind(method)
            .bind(order.total.minor)
            .bind(order.total.currency.code())
            .bind(at.unix_timestamp())
            .execute(&self.write)
            .await?;
        self.payment(&id).await
    }

    /// Records the provider's id for an attempt and where the buyer confirms it.
    pub async fn payment_pending(
        &self,
        payment_id: &str,
        provider_payment_id: &str,
        confirmation_url: Option<&str>,
    ) -> Result<()> {
        crate::sql::query("UPDATE payments SET provider_payment_id = $1, confirmation_url = $2, status = 'pending', updated_at = $3 WHERE id = $4 AND status = 'created'")
            .bind(provider_payment_id)
            .bind(confirmation_url)
            .bind(now().unix_timestamp())
            .bind(payment_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn payment(&self, id: &str) -> Result<Payment> {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::PaymentNotFound(id.to_string()))?;
        payment_from_row(&row)
    }

    /// The attempt a provider knows by `provider_payment_id`.
    pub async fn payment_by_provider_id(
        &self,
        provider: &str,
        provider_payment_id: &str,
    ) -> Result<Payment> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE provider = $1 AND provider_payment_id = $2"
        );
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(provider)
            .bind(provider_payment_id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::PaymentNotFound(provider_payment_id.to_string()))?;
        payment_from_row(&row)
    }

    /// The attempts to pay an order, newest first.
    pub async fn payments_of_order(&self, order_id: &str) -> Result<Vec<Payment>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE order_id = $1 ORDER BY created_at DESC, id DESC"
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(order_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(payment_from_row).collect()
    }

    /// The payments for a line's orders (every attempt, whatever its state), newest
    /// first, at most `limit`.
    pub async fn payments_of_line(&self, line_id: &str, limit: i64) -> Result<Vec<Payment>> {
        let cols = COLUMNS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols} FROM payments p JOIN orders o ON o.id = p.order_id
             WHERE o.line_id = $1 ORDER BY p.created_at DESC, p.id DESC LIMIT $2"
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(line_id)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(payment_from_row).collect()
    }

    /// Cash taken at the counter by `clerk` for a pending order: recorded as a settled
    /// payment (provider `cash`, who took it) and the order fulfilled, in one
    /// transaction. `received` is what the customer handed over, in the order's
    /// currency; the change to give back is returned with the order.
    pub async fn pay_cash(
        &self,
        order_id: &str,
        clerk: &str,
        received: Money,
    ) -> Result<(Order, Money)> {
        self.pay_at_counter(order_id, clerk, &CounterPayment::Cash { received })
            .await
    }

    /// A payment taken at the counter by `clerk` (cash, or a card on the shop's own
    /// terminal with its slip's reference), recorded with who took it, and the order
    /// fulfilled, in one transaction; audited. The change to give back (zero for a card).
    pub async fn pay_at_counter(
        &self,
        order_id: &str,
        clerk: &str,
        how: &CounterPayment,
    ) -> Result<(Order, Money)> {
        let order = self.order(order_id).await?;
        let (provider, method, reference, change) = match how {
            CounterPayment::Cash { received } => {
                if received.currency != order.total.currency {
                    return Err(StoreError::invalid(
                        "received",
                        format!("cash for this order is taken in {}", order.total.currency),
                    ));
                }
                let change = received
                    .checked_sub(order.total)
                    .ok()
                    .filter(|c| c.minor >= 0)
                    .ok_or_else(|| {
                        StoreError::invalid(
                            "received",
                            format!(
                                "{} short of the total {}",
                                Money::new(order.total.minor - received.minor, received.currency),
                                order.total
                            ),
                        )
                    })?;
                ("cash", "cash", None, change)
            }
            CounterPayment::Terminal { reference } => {
                let r = reference.trim();
                if r.is_empty() || r.len() > 64 {
                    return Err(StoreError::invalid(
                        "reference",
                        "the terminal slip's reference (1 to 64 characters) is needed",
                    ));
                }
                (
                    "terminal",
                    "card",
                    Some(r.to_string()),
                    Money::new(0, order.total.currency),
                )
            }
        };
        let at = now().unix_timestamp();
        let id = new_id();
        let mut tx = self.write.begin().await?;
        if provider == "cash" {
            crate::tills::require_open(&mut tx, clerk, order.total.currency).await?;
        }
        crate::sql::query("INSERT INTO payments (id, order_id, provider, method, provider_payment_id, amount_minor, currency, status, recorded_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'succeeded', $8, $9, $9)")
            .bind(&id)
            .bind(order_id)
            .bind(provider)
            .bind(method)
            .bind(reference.clone().unwrap_or_else(|| id.clone()))
            .bind(order.total.minor)
            .bind(order.total.currency.code())
            .bind(clerk)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        // Refuses (and so rolls back the payment row) a paid order or a suspended line.
        let done = settle_in(
            &mut tx,
            order_id,
            &order.line_id,
            Source::External(provider),
        )
        .await?;
        crate::staff::audit_change(
            &mut tx,
            clerk,
            "counter.paid",
            Some(&format!("order:{order_id}")),
            Some(&serde_json::json!({"status": order.status.code()}).to_string()),
            Some(
                &serde_json::json!({"status": done.status.code(), "paid_with": provider, "total": order.total.to_string(), "reference": reference})
                    .to_string(),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok((done, change))
    }

    /// A provider confirmed (after verification) that `paid` arrived for its payment:
    /// settles the order once, or holds the money when it cannot buy what it was for.
    pub async fn payment_succeeded(
        &self,
        provider: &str,
        provider_payment_id: &str,
        paid: Money,
    ) -> Result<Settlement> {
        self.payment_succeeded_keeping(provider, provider_payment_id, paid, None)
            .await
    }

    /// [`Store::payment_succeeded`], also keeping the method the payment saved
    /// (`(token, title)`) for the order's buyer, in the same transaction.
    pub async fn payment_succeeded_keeping(
        &self,
        provider: &str,
        provider_payment_id: &str,
        paid: Money,
        keep: Option<(&str, &str)>,
    ) -> Result<Settlement> {
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let claimed = crate::sql::query("UPDATE payments SET status = 'succeeded', updated_at = $1 WHERE provider = $2 AND provider_payment_id = $3 AND status IN ('created', 'pending') RETURNING id, order_id, amount_minor, currency")
            .bind(at)
            .bind(provider)
            .bind(provider_payment_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = claimed else {
            drop(tx);
            // Known and already settled (or held): a replay. Unknown: refused.
            self.payment_by_provider_id(provider, provider_payment_id)
                .await?;
            return Ok(Settlement::AlreadySettled);
        };
        let payment_id: String = row.try_get("id")?;
        let order_id: String = row.try_get("order_id")?;
        let expected = (
            row.try_get::<i64, _>("amount_minor")?,
            row.try_get::<String, _>("currency")?,
        );
        if expected != (paid.minor, paid.currency.code().to_string()) {
            return hold(
                tx,
                &payment_id,
                format!(
                    "amount: {paid} arrived, {} {} expected",
                    Money::new(expected.0, paid.currency).major_string(),
                    expected.1
                ),
            )
            .await;
        }
        let line_id: String = crate::sql::query("SELECT line_id FROM orders WHERE id = $1")
            .bind(&order_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("line_id")?;
        // settle_in writes nothing before it refuses a suspended line or a paid order
        // (beyond taking the line's lock), so holding after those refusals is clean.
        let settled = settle_in(&mut tx, &order_id, &line_id, Source::External(provider)).await;
        match settled {
            Ok(order) => {
                if let (Some((token, title)), Some(buyer)) = (keep, &order.buyer_id) {
                    crate::sql::query(KEEP_METHOD)
                        .bind(new_id())
                        .bind(buyer)
                        .bind(provider)
                        .bind(token)
                        .bind(title)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(Settlement::Fulfilled(Box::new(order)))
            }
            Err(StoreError::OrderNotPending(status)) => {
                hold(tx, &payment_id, format!("order already {}", status.code())).await
            }
            Err(StoreError::LineSuspended) => hold(tx, &payment_id, "line suspended".into()).await,
            Err(e) => Err(e),
        }
    }

    /// A provider reported the attempt canceled or expired; the order stays payable.
    pub async fn payment_canceled(&self, provider: &str, provider_payment_id: &str) -> Result<()> {
        crate::sql::query("UPDATE payments SET status = 'canceled', updated_at = $1 WHERE provider = $2 AND provider_payment_id = $3 AND status IN ('created', 'pending')")
            .bind(now().unix_timestamp())
            .bind(provider)
            .bind(provider_payment_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Attempts still open after `older_than_secs`: the ones to ask their provider about,
    /// so a lost notification never leaves a buyer stuck.
    pub async fn open_payments(&self, older_than_secs: i64, limit: i64) -> Result<Vec<Payment>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE status = 'pending' AND updated_at <= $1 ORDER BY updated_at LIMIT $2"
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now().unix_timestamp() - older_than_secs)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(payment_from_row).collect()
    }
}

/// Marks a succeeded payment held, in its transaction, and commits.
async fn hold(mut tx: crate::sql::Tx, payment_id: &str, reason: String) -> Result<Settlement> {
    crate::sql::query("UPDATE payments SET status = 'held', hold_reason = $1 WHERE id = $2")
        .bind(&reason)
        .bind(payment_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::warn!(payment = %payment_id, %reason, "payment held for review");
    Ok(Settlement::Held { reason })
}

/// Keeps a method (id, user, provider, token, title, created_at); the same token again
/// changes nothing.
const KEEP_METHOD: &str = "INSERT INTO saved_methods (id, user_id, provider, token, title, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, token) DO NOTHING";

/// A payment method a buyer let a provider keep for later charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMethod {
    pub id: String,
    pub user_id: String,
    pub provider: String,
    pub token: String,
    pub title: String,
    pub created_at: OffsetDateTime,
}

impl Store {
    /// The user's methods still kept, newest first.
    pub async fn saved_methods(&self, user_id: &str) -> Result<Vec<SavedMethod>> {
        let rows = crate::sql::query("SELECT id, user_id, provider, token, title, created_at FROM saved_methods WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id")
            .bind(user_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SavedMethod {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    provider: r.try_get("provider")?,
                    token: r.try_get("token")?,
                    title: r.try_get("title")?,
                    created_at: from_unix(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Forgets one of the user's methods; false when it was not theirs or already gone.
    pub async fn forget_method(&self, user_id: &str, id: &str) -> Result<bool> {
        let done = crate::sql::query("UPDATE saved_methods SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
            .bind(now().unix_timestamp())
            .bind(id)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
