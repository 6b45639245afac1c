//! What a provider's settlement report is checked against, and the fees it tells us.

use crate::db::{Store, now};
use crate::error::{Result, StoreError};
use crate::ledger::{TransferMeta, apply_transfer};
use simrenew_core::ledger::{Transfer, accounts};
use simrenew_core::reconcile::{Entry, Recorded};
use simrenew_core::{Currency, Money};
use time::OffsetDateTime;

fn currency(s: &str, what: &str) -> Result<Currency> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what}: currency {s}")))
}

impl Store {
    /// `provider`'s payments whose money arrived (succeeded, or held for review) and its
    /// completed refunds, settled in `[from, to)`.
    pub async fn settled_with(
        &self,
        provider: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Recorded>> {
        let (from, to) = (from.unix_timestamp(), to.unix_timestamp());
        let mut out = Vec::new();
        for (entry, sql) in [
            (
                Entry::Payment,
                "SELECT id, provider_payment_id AS ext, amount_minor, currency FROM payments WHERE provider = $1 AND status IN ('succeeded', 'held') AND updated_at >= $2 AND updated_at < $3 ORDER BY updated_at, id",
            ),
            (
                Entry::Refund,
                "SELECT r.id, r.provider_refund_id AS ext, r.amount_minor, r.currency FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.provider = $1 AND r.status = 'succeeded' AND r.updated_at >= $2 AND r.updated_at < $3 ORDER BY r.updated_at, r.id",
            ),
        ] {
            let rows = crate::sql::query(sql)
                .bind(provider)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?;
            for r in rows {
                let id: String = r.try_get("id")?;
                out.push(Recorded {
                    amount: Money::new(
                        r.try_get("amount_minor")?,
                        currency(&r.try_get::<String, _>("currency")?, &id)?,
                    ),
                    provider_id: r.try_get("ext")?,
                    entry,
                    id,
                });
            }
        }
        Ok(out)
    }

    /// Records the fee the provider kept on a settled payment, once: the payment notes
    /// it, and a `fee` transfer moves it from `fees:<currency>` to the outside world
    /// (the provider paid out that much less). False when it was recorded before (the
    /// same report imported again changes nothing).
    pub async fn record_fee(&self, payment_id: &str, fee: Money) -> Result<bool> {
        if fee.minor <= 0 {
            return Ok(false);
        }
        let mut tx = self.write.begin().await?;
        let row = crate::sql::query("UPDATE payments SET fee_minor = $1 WHERE id = $2 AND currency = $3 AND fee_minor IS NULL AND status IN ('succeeded', 'held') RETURNING order_id")
            .bind(fee.minor)
            .bind(payment_id)
            .bind(fee.currency.code())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let order_id: String = row.try_get("order_id")?;
        let meta = TransferMeta {
            kind: "fee",
            order_id: Some(&order_id),
            memo: Some(payment_id),
            actor: None,
            at: now(),
        };
        let t = Transfer::pay(
            accounts::fees(fee.currency),
            accounts::world(fee.currency),
            fee,
        )?;
        if apply_transfer(&mut tx, &t, &meta).await?.is_err() {
            return Err(StoreError::Corrupt("a fee transfer was refused".into()));
        }
        tx.commit().await?;
        Ok(true)
    }
}
