//! Refunds of provider payments, in two steps around the provider's call: `begin_refund`
//! checks the amount against what the policy allows (`simrenew_core::refund`) minus what
//! was refunded or is being refunded, and records it pending; the caller asks the
//! provider with the refund's id as idempotency key; `complete_refund` then, in one
//! transaction, moves the money back (revenue to world, balanced postings) and takes back
//! the quota it paid for (the buckets' data in proportion, and for a whole refund the
//! periods end now; a new eSIM no phone has downloaded goes back to stock, through the
//! SM-DP+ when it was released there). A refund the provider refused is marked failed
//! and changes nothing.

use crate::db::{Store, new_id, now};
use crate::error::{Result, StoreError};
use crate::ledger::{TransferMeta, apply_transfer};
use crate::lines::lock_line;
use simrenew_core::ledger::accounts;
use simrenew_core::{Money, Transfer, refund};

/// A refund as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub payment_id: String,
    pub amount: Money,
    /// pending, succeeded or failed
    pub status: String,
    pub provider_refund_id: Option<String>,
}

/// What the policy allows to refund of an order's plan items at `at`, and the order's
/// line: the sum of `refund::refundable` over its buckets.
async fn policy_limit(conn: &mut crate::sql::Conn, order_id: &str, at: i64) -> Result<Money> {
    // A plan the supplier refused brought nothing: all of it may go back.
    let refused = crate::sql::query(
        "SELECT o.total_minor, o.currency FROM upstream_jobs j JOIN orders o ON o.id = j.order_id
         WHERE j.order_id = $1 AND j.state = 'refused'",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = refused {
        let currency = r
            .try_get::<String, _>("currency")?
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("order {order_id}: currency")))?;
        return Ok(Money::new(r.try_get("total_minor")?, currency));
    }
    let rows = crate::sql::query(
        "SELECT i.price_minor, o.currency, b.initial_bytes, b.remaining_bytes, b.valid_from, b.valid_until
         FROM order_items i JOIN orders o ON o.id = i.order_id
         JOIN buckets b ON b.order_id = i.order_id AND b.item_position = i.position
         WHERE i.order_id = $1",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut total: Option<Money> = None;
    for r in &rows {
        let currency = r
            .try_get::<String, _>("currency")?
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("order {order_id}: currency")))?;
        let price = Money::new(r.try_get("price_minor")?, currency);
        let part = refund::refundable(
            price,
            r.try_get::<i64, _>("valid_from")? <= at,
            r.try_get::<i64, _>("valid_until")? <= at,
            u64::try_from(r.try_get::<i64, _>("initial_bytes")?).unwrap_or(0),
            u64::try_from(r.try_get::<i64, _>("remaining_bytes")?).unwrap_or(0),
        );
        total = Some(match total {
            None => part,
            Some(t) => t.checked_add(part)?,
        });
    }
    Ok(total.unwrap_or_else(|| Money::zero(simrenew_core::Currency::Rub)))
}

/// The refunds of a payment, summed: (pending, succeeded), leaving out `except`.
async fn refunded(
    conn: &mut crate::sql::Conn,
    payment_id: &str,
    except: &str,
) -> Result<(i64, i64)> {
    let r = crate::sql::query("SELECT CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS pending, CAST(COALESCE(SUM(CASE WHEN status = 'succeeded' THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS done FROM refunds WHERE payment_id = $1 AND id <> $2")
        .bind(payment_id)
        .bind(except)
        .fetch_one(&mut *conn)
        .await?;
    Ok((r.try_get("pending")?, r.try_get("done")?))
}

/// What may still be refunded of a settled payment, leaving out refund `except`: the
/// policy on the data left now (completed refunds already took their share of it) less
/// what is being refunded, and never more than was paid less every refund.
async fn limit(
    conn: &mut crate::sql::Conn,
    p: &crate::payments::Payment,
    except: &str,
    at: i64,
) -> Result<Money> {
    if p.status != "succeeded" {
        return Ok(Money::zero(p.amount.currency));
    }
    let policy = policy_limit(conn, &p.order_id, at).await?;
    let (pending, done) = refunded(conn, &p.id, except).await?;
    let left = (policy.minor - pending).min(p.amount.minor - pending - done);
    Ok(Money::new(left.max(0), p.amount.currency))
}

/// Records a refund of `amount` of a payment as pending, inside the caller's transaction
/// (the caller has checked it is allowed).
pub(crate) async fn record_pending(
    tx: &mut crate::sql::Tx,
    payment_id: &str,
    amount: Money,
    reason: &str,
    at: i64,
) -> Result<Refund> {
    let id = new_id();
    crate::sql::query("INSERT INTO refunds (id, payment_id, amount_minor, currency, status, reason, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6)")
        .bind(&id)
        .bind(payment_id)
        .bind(amount.minor)
        .bind(amount.currency.code())
        .bind(reason)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(Refund {
        id,
        payment_id: payment_id.to_string(),
        amount,
        status: "pending".into(),
        provider_refund_id: None,
    })
}

impl Store {
    /// How much of a settled payment may still be refunded now.
    pub async fn refundable(&self, payment_id: &str) -> Result<Money> {
        let p = self.payment(payment_id).await?;
        let mut conn = self.read.acquire().await?;
        limit(&mut conn, &p, "", now().unix_timestamp()).await
    }

    /// Records a refund of `amount` of a settled payment as pending, when the policy
    /// allows it; the line is locked so two refunds cannot both pass the check.
    pub async fn begin_refund(
        &self,
        payment_id: &str,
        amount: Money,
        reason: &str,
    ) -> Result<Refund> {
        let p = self.payment(payment_id).await?;
        if amount.currency != p.amount.currency || amount.minor <= 0 {
            return Err(StoreError::invalid(
                "amount",
                format!("must be more than 0 {}", p.amount.currency),
            ));
        }
        let line_id: String = crate::sql::query("SELECT line_id FROM orders WHERE id = $1")
            .bind(&p.order_id)
            .fetch_one(&self.read)
            .await?
            .try_get("line_id")?;
        let at = now();
        let mut tx = self.write.begin().await?;
        lock_line(&mut tx, &line_id).await?;
        let allowed = limit(&mut tx, &p, "", at.unix_timestamp()).await?;
        if amount.minor > allowed.minor {
            return Err(StoreError::RefundTooLarge {
                asked: amount,
                allowed,
            });
        }
        let r = record_pending(&mut tx, payment_id, amount, reason, at.unix_timestamp()).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// The provider refunded: the money goes back and the quota it bought is taken back,
    /// once (a second call finds the refund no longer pending and does nothing).
    pub async fn complete_refund(
        &self,
        refund_id: &str,
        provider_refund_id: &str,
    ) -> Result<Refund> {
        let at = now();
        let ts = at.unix_timestamp();
        let mut tx = self.write.begin().await?;
        let row = crate::sql::query("UPDATE refunds SET status = 'succeeded', provider_refund_id = $1, updated_at = $2 WHERE id = $3 AND status = 'pending' RETURNING payment_id, amount_minor, currency")
            .bind(provider_refund_id)
            .bind(ts)
            .bind(refund_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            drop(tx);
            return self.refund(refund_id).await;
        };
        let payment_id: String = row.try_get("payment_id")?;
        let p = self.payment(&payment_id).await?;
        let amount = Money::new(row.try_get("amount_minor")?, p.amount.currency);
        // What was refundable without this refund: it takes that share of the data left.
        let before = limit(&mut tx, &p, refund_id, ts)
            .await?
            .minor
            .max(amount.minor);
        let meta = TransferMeta {
            kind: "refund",
            order_id: Some(&p.order_id),
            memo: Some(refund_id),
            actor: None,
            at,
        };
        let back = Transfer::pay(
            accounts::revenue(amount.currency),
            accounts::world(amount.currency),
            amount,
        )?;
        if apply_transfer(&mut tx, &back, &meta).await?.is_err() {
            return Err(StoreError::Corrupt("a refund transfer was refused".into()));
        }
        if amount.minor >= before {
            // All that was left: the data goes, the periods end now (or never start).
            // (A period or bucket keeps a positive length: one not started yet becomes the
            // second just before now.)
            for sql in [
                "UPDATE buckets SET remaining_bytes = 0 WHERE order_id = $2 AND $1 = $1",
                "UPDATE buckets SET valid_from = $1 - 1, valid_until = $1 WHERE order_id = $2 AND valid_from >= $1",
                "UPDATE buckets SET valid_until = $1 WHERE order_id = $2 AND valid_until > $1",
                "UPDATE periods SET start_at = $1 - 1, end_at = $1 WHERE order_id = $2 AND start_at >= $1",
                "UPDATE periods SET end_at = $1 WHERE order_id = $2 AND end_at > $1",
            ] {
                crate::sql::query(sql)
                    .bind(ts)
                    .bind(&p.order_id)
                    .execute(&mut *tx)
                    .await?;
            }
            // A new eSIM no phone has goes back to stock.
            crate::esim::take_back_refunded(&mut tx, &p.order_id, ts).await?;
        } else {
            // A part: the same part of the data left.
            let rows =
                crate::sql::query("SELECT id, remaining_bytes FROM buckets WHERE order_id = $1")
                    .bind(&p.order_id)
                    .fetch_all(&mut *tx)
                    .await?;
            for r in &rows {
                let left = u128::try_from(r.try_get::<i64, _>("remaining_bytes")?).unwrap_or(0);
                let take = (left * amount.minor as u128).div_ceil(before as u128) as i64;
                crate::sql::query(
                    "UPDATE buckets SET remaining_bytes = remaining_bytes - $1 WHERE id = $2",
                )
                .bind(take.min(left as i64))
                .bind(r.try_get::<String, _>("id")?)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.refund(refund_id).await
    }

    /// The provider refused: the refund no longer counts against the payment.
    pub async fn fail_refund(&self, refund_id: &str) -> Result<()> {
        crate::sql::query("UPDATE refunds SET status = 'failed', updated_at = $1 WHERE id = $2 AND status = 'pending'")
            .bind(now().unix_timestamp())
            .bind(refund_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Refunds still pending (the provider was not reached, or said "pending") after
    /// `older_than_secs`: asked again, with the same key, until they settle.
    pub async fn pending_refunds(&self, older_than_secs: i64, limit: i64) -> Result<Vec<Refund>> {
        let ids = crate::sql::query("SELECT id FROM refunds WHERE status = 'pending' AND updated_at <= $1 ORDER BY updated_at LIMIT $2")
            .bind(now().unix_timestamp() - older_than_secs)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for r in ids {
            out.push(self.refund(&r.try_get::<String, _>("id")?).await?);
        }
        Ok(out)
    }

    /// A payment's refunds, oldest first.
    pub async fn refunds_of_payment(&self, payment_id: &str) -> Result<Vec<Refund>> {
        let ids = crate::sql::query(
            "SELECT id FROM refunds WHERE payment_id = $1 ORDER BY created_at, id",
        )
        .bind(payment_id)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for r in ids {
            out.push(self.refund(&r.try_get::<String, _>("id")?).await?);
        }
        Ok(out)
    }

    pub async fn refund(&self, id: &str) -> Result<Refund> {
        let r = crate::sql::query("SELECT id, payment_id, amount_minor, currency, status, provider_refund_id FROM refunds WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::invalid("refund", format!("no refund {id}")))?;
        Ok(Refund {
            id: r.try_get("id")?,
            payment_id: r.try_get("payment_id")?,
            amount: Money::new(
                r.try_get("amount_minor")?,
                r.try_get::<String, _>("currency")?
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("refund {id}: currency")))?,
            ),
            status: r.try_get("status")?,
            provider_refund_id: r.try_get("provider_refund_id")?,
        })
    }
}
