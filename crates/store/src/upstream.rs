//! Upstream fulfilment in the store: which plans a supplier fulfils, the supplier's part
//! of each paid order (a job: pending, then done or refused), the link between a line and
//! its profile at the supplier, and the supplier's usage figures drawn from the line's
//! buckets.
//!
//! The money moves when the order is paid, as for every order; the quota is granted when
//! the supplier confirms, in one transaction with the order's move paid -> fulfilled (a
//! conditional update: it happens once, whatever the retries). A refusal gives the money
//! back in one place, [`Store::refuse_upstream`]: to the line's balance or the partner's
//! deposit it came from, in the same transaction, or, for a provider's payment, as a
//! refund of that payment the caller asks of the provider.

use crate::db::{Store, now};
use crate::error::{Result, StoreError};
use crate::ledger::{TransferMeta, apply_transfer};
use crate::lines::lock_line;
use crate::orders::{Order, grant, grant_items, load_order};
use crate::sql::Tx;
use simrenew_core::ledger::accounts;
use simrenew_core::{LineRef, OrderStatus, Transfer};
use time::OffsetDateTime;

/// Who fulfils a plan the business resells, and under which of the supplier's codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supplier {
    /// The adapter's name (`esimaccess`).
    pub adapter: String,
    /// The supplier's package code.
    pub package_code: String,
}

/// A supplier's part of a paid order, claimed for a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamJob {
    pub order_id: String,
    pub line_id: String,
    pub iccid: String,
    pub supplier: Supplier,
    /// Calls made so far, this one included.
    pub attempts: i64,
    /// The line's profile at the supplier, when found before.
    pub profile_ref: Option<String>,
}

/// Where a refused order's money went back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refunded {
    /// Already back in the ledger (the line's balance, the partner's deposit), in the
    /// refusal's transaction.
    InLedger,
    /// Paid through a provider: this refund of the whole payment was recorded pending in
    /// the refusal's transaction; ask the provider for it (`serve` asks again every
    /// minute for refunds left pending, so a crash before the call loses nothing).
    Provider(crate::refunds::Refund),
    /// Refused before (a retry after a crash): nothing more to do.
    Already,
}

/// An order paid and waiting on its supplier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub order_id: String,
    /// The line's number, digits only (E.164 without `+`).
    pub msisdn: String,
    pub since: OffsetDateTime,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// A line's profile at a supplier, for reading its usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedProfile {
    pub line_id: String,
    pub iccid: String,
    pub adapter: String,
    pub profile_ref: String,
    pub used_bytes: u64,
}

fn valid_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The supplier of an order's plans, when one fulfils them. A supplier's plan is sold on
/// an order of its own: with other items beside it the order is refused when `strict`
/// (placing it), and treated as ours otherwise (settling one placed before the plan was
/// resold).
pub(crate) async fn supplier_of(
    conn: &mut crate::sql::Conn,
    plan_ids: &[Option<&str>],
    strict: bool,
) -> Result<Option<Supplier>> {
    let mut found = None;
    for id in plan_ids.iter().flatten() {
        let row = crate::sql::query(
            "SELECT adapter, package_code FROM upstream_plans WHERE plan_id = $1",
        )
        .bind(*id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = row {
            found = Some(Supplier {
                adapter: r.try_get("adapter")?,
                package_code: r.try_get("package_code")?,
            });
        }
    }
    one_supplier(found, plan_ids.len(), strict)
}

/// The supplier of an order of `items` items, given the supplier `found` for its plans
/// (the last one found): a supplier's plan is sold on an order of its own (`strict`:
/// refused otherwise; else such an order stays ours).
pub(crate) fn one_supplier(
    found: Option<Supplier>,
    items: usize,
    strict: bool,
) -> Result<Option<Supplier>> {
    match found {
        Some(_) if items > 1 && strict => Err(StoreError::invalid(
            "items",
            "a plan fulfilled by an outside supplier is sold on an order of its own",
        )),
        Some(_) if items > 1 => Ok(None),
        other => Ok(other),
    }
}

/// A supplier tops up cards it issued: an eSIM from this shop's own SM-DP+ stock is not
/// one of them, so a resold plan is refused for it before anything is paid.
pub(crate) async fn check_line_for_supplier(tx: &mut Tx, line: &crate::lines::Line) -> Result<()> {
    let ours = crate::sql::query("SELECT 1 AS one FROM esim_profiles WHERE iccid = $1")
        .bind(line.iccid.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    if ours {
        return Err(StoreError::invalid(
            "plan_id",
            "this plan is added by an outside supplier to the cards it issued; an eSIM from this shop's own stock cannot take it",
        ));
    }
    Ok(())
}

/// Who fulfils `plan_id` from now on, inside the caller's transaction; audited
/// (`plan.fulfilment`) when it changes. A package code is 1 to 64 letters, digits, `_`,
/// `-` or `.` (refused on the field `supplier` otherwise).
pub(crate) async fn set_supplier_in(
    tx: &mut Tx,
    actor: &str,
    plan_id: &str,
    supplier: Option<&Supplier>,
) -> Result<()> {
    if let Some(s) = supplier
        && !valid_code(&s.package_code)
    {
        return Err(StoreError::invalid(
            "supplier",
            "a package code is 1 to 64 letters, digits, '_', '-' or '.'",
        ));
    }
    if supplier_of(tx, &[Some(plan_id)], false).await?.as_ref() == supplier {
        return Ok(());
    }
    crate::sql::query("DELETE FROM upstream_plans WHERE plan_id = $1")
        .bind(plan_id)
        .execute(&mut **tx)
        .await?;
    let detail = match supplier {
        Some(s) => {
            crate::sql::query(
                "INSERT INTO upstream_plans (plan_id, adapter, package_code) VALUES ($1, $2, $3)",
            )
            .bind(plan_id)
            .bind(&s.adapter)
            .bind(&s.package_code)
            .execute(&mut **tx)
            .await?;
            format!("{}:{}", s.adapter, s.package_code)
        }
        None => "local".to_string(),
    };
    crate::lines::audit(tx, actor, "plan.fulfilment", Some(plan_id), Some(&detail)).await?;
    Ok(())
}

/// Queues the supplier's part of a paid order, inside the order's transaction.
pub(crate) async fn queue_job(
    tx: &mut Tx,
    order_id: &str,
    supplier: &Supplier,
    at: OffsetDateTime,
) -> Result<()> {
    let ts = at.unix_timestamp();
    crate::sql::query("INSERT INTO upstream_jobs (order_id, adapter, package_code, state, attempts, available_at, created_at, updated_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4, $4)")
        .bind(order_id)
        .bind(&supplier.adapter)
        .bind(&supplier.package_code)
        .bind(ts)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Makes a supplier fulfil `plan_id` under its `package_code` (or ours again with
    /// `None`), audited. Orders already paid keep the fulfilment they were paid under.
    pub async fn set_upstream_plan(
        &self,
        actor: &str,
        plan_id: &str,
        supplier: Option<&Supplier>,
    ) -> Result<()> {
        {
            let mut conn = self.read.acquire().await?;
            crate::catalog::any_plan_in(&mut conn, plan_id).await?;
        }
        let mut tx = self.write.begin().await?;
        set_supplier_in(&mut tx, actor, plan_id, supplier).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who fulfils `plan_id`: a supplier, or `None` for our own buckets.
    pub async fn upstream_plan(&self, plan_id: &str) -> Result<Option<Supplier>> {
        let mut conn = self.read.acquire().await?;
        supplier_of(&mut conn, &[Some(plan_id)], false).await
    }

    /// Claims up to `limit` jobs due at `at` (now, but for tests) for a call: each one's
    /// next try is pushed `lease_secs` ahead by a conditional update, so two servers never
    /// call for the same job at once; a job whose server died is due again when its lease
    /// ends.
    pub async fn claim_upstream_jobs(
        &self,
        at: OffsetDateTime,
        limit: i64,
        lease_secs: i64,
    ) -> Result<Vec<UpstreamJob>> {
        let at = at.unix_timestamp();
        let due: Vec<String> = crate::sql::query(
            "SELECT order_id FROM upstream_jobs WHERE state = 'pending' AND available_at <= $1 ORDER BY available_at LIMIT $2",
        )
        .bind(at)
        .bind(limit)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| r.try_get("order_id"))
        .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(due.len());
        for order_id in due {
            let claimed = crate::sql::query("UPDATE upstream_jobs SET available_at = $1, attempts = attempts + 1, updated_at = $2 WHERE order_id = $3 AND state = 'pending' AND available_at <= $2")
                .bind(at + lease_secs)
                .bind(at)
                .bind(&order_id)
                .execute(&self.write)
                .await?;
            if claimed.rows_affected() != 1 {
                continue;
            }
            let r = crate::sql::query(
                "SELECT j.adapter, j.package_code, j.attempts, o.line_id, l.iccid, p.profile_ref
                 FROM upstream_jobs j JOIN orders o ON o.id = j.order_id JOIN lines l ON l.id = o.line_id
                 LEFT JOIN upstream_profiles p ON p.line_id = o.line_id AND p.adapter = j.adapter
                 WHERE j.order_id = $1",
            )
            .bind(&order_id)
            .fetch_one(&self.write)
            .await?;
            out.push(UpstreamJob {
                order_id,
                line_id: r.try_get("line_id")?,
                iccid: r.try_get("iccid")?,
                supplier: Supplier {
                    adapter: r.try_get("adapter")?,
                    package_code: r.try_get("package_code")?,
                },
                attempts: r.try_get("attempts")?,
                profile_ref: r.try_get("profile_ref")?,
            });
        }
        Ok(out)
    }

    /// A call that got no usable answer: due again after the outbox's backoff.
    pub async fn retry_upstream(&self, order_id: &str, attempts: i64, error: &str) -> Result<()> {
        let at = now().unix_timestamp();
        crate::sql::query("UPDATE upstream_jobs SET available_at = $1, last_error = $2, updated_at = $3 WHERE order_id = $4 AND state = 'pending'")
            .bind(at + crate::outbox::backoff_secs(attempts))
            .bind(error)
            .bind(at)
            .bind(order_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Remembers a line's profile at a supplier (found by the line's ICCID); the usage
    /// it already shows is the starting point, not drawn again.
    pub async fn link_upstream_profile(
        &self,
        line_id: &str,
        adapter: &str,
        profile_ref: &str,
        used_bytes: u64,
    ) -> Result<()> {
        crate::sql::query("INSERT INTO upstream_profiles (line_id, adapter, profile_ref, used_bytes) VALUES ($1, $2, $3, $4) ON CONFLICT (line_id) DO NOTHING")
            .bind(line_id)
            .bind(adapter)
            .bind(profile_ref)
            .bind(i64::try_from(used_bytes).unwrap_or(i64::MAX))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// The supplier confirmed: the job done, the order paid -> fulfilled, the quota
    /// granted on the line's periods as they are now (queued after the current one, or
    /// from now), in one transaction. A second confirmation changes nothing.
    pub async fn complete_upstream(&self, order_id: &str) -> Result<Order> {
        let at = now();
        let mut tx = self.write.begin().await?;
        let done = crate::sql::query("UPDATE upstream_jobs SET state = 'done', last_error = NULL, updated_at = $1 WHERE order_id = $2 AND state = 'pending'")
            .bind(at.unix_timestamp())
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            drop(tx);
            return self.order(order_id).await;
        }
        let mut order = load_order(&mut tx, order_id).await?;
        let line = lock_line(&mut tx, &order.line_id).await?;
        let moved = crate::sql::query("UPDATE orders SET status = 'fulfilled', fulfilled_at = $1 WHERE id = $2 AND status = 'paid'")
            .bind(at.unix_timestamp())
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::OrderNotPending(order.status));
        }
        order.status = OrderStatus::Fulfilled;
        order.fulfilled_at = Some(at);
        let items = grant_items(&mut tx, &mut order, &line.id, at).await?;
        grant(&mut tx, order_id, &line, &items, at).await?;
        partner_event(&mut tx, &order).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// The supplier refused: the job refused, the order paid -> refunded, and the money
    /// back where it came from, in one transaction — the line's balance, the partner's
    /// deposit, or (cash or a card at the counter, the demo card) the line's balance as
    /// credit when paid in its currency, else back to the outside world; a provider's
    /// payment is handed back to the caller to refund through the provider, recorded
    /// pending here. A second refusal changes nothing.
    pub async fn refuse_upstream(&self, order_id: &str, reason: &str) -> Result<Refunded> {
        let at = now();
        let mut tx = self.write.begin().await?;
        let done = crate::sql::query("UPDATE upstream_jobs SET state = 'refused', last_error = $1, updated_at = $2 WHERE order_id = $3 AND state = 'pending'")
            .bind(reason)
            .bind(at.unix_timestamp())
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(Refunded::Already);
        }
        let order = load_order(&mut tx, order_id).await?;
        let line = lock_line(&mut tx, &order.line_id).await?;
        let moved = crate::sql::query(
            "UPDATE orders SET status = 'refunded' WHERE id = $1 AND status = 'paid'",
        )
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::OrderNotPending(order.status));
        }
        let payment = crate::sql::query(
            "SELECT id FROM payments WHERE order_id = $1 AND status = 'succeeded' AND provider_payment_id IS NOT NULL AND provider NOT IN ('cash', 'terminal')",
        )
        .bind(order_id)
        .fetch_optional(&mut *tx)
        .await?;
        let out = if let Some(p) = payment {
            let payment_id: String = p.try_get("id")?;
            let refund = crate::refunds::record_pending(
                &mut tx,
                &payment_id,
                order.total,
                &format!("refused by the supplier: {reason}"),
                at.unix_timestamp(),
            )
            .await?;
            Refunded::Provider(refund)
        } else {
            let back_to = match (
                order.payment_method.as_deref(),
                partner_of(&mut tx, order_id).await?,
            ) {
                (Some("deposit"), Some(partner)) => {
                    crate::partners::deposit_account(&partner, order.total.currency)
                }
                // Paid outside in the line's currency (cash, a card terminal, the demo
                // card): credited to the line's balance.
                _ if order.total.currency == line.currency => line.account_id.clone(),
                // In another currency there is no balance to hold it: it goes back out
                // the way it came (the sale reversed to the outside world; the counter
                // hands cash back).
                _ => accounts::world(order.total.currency),
            };
            if order.total.minor > 0 {
                let memo = format!("refused by the supplier: {reason}");
                let transfer = Transfer::pay(
                    accounts::revenue(order.total.currency),
                    back_to,
                    order.total,
                )?;
                let meta = TransferMeta {
                    kind: "refund",
                    order_id: Some(order_id),
                    memo: Some(&memo),
                    actor: Some("upstream"),
                    at,
                };
                if apply_transfer(&mut tx, &transfer, &meta).await?.is_err() {
                    return Err(StoreError::Corrupt("a refund credit was refused".into()));
                }
            }
            Refunded::InLedger
        };
        tx.commit().await?;
        Ok(out)
    }

    /// The supplier's part of an order: its state (pending, done, refused) and the last
    /// error, when a supplier fulfils it.
    pub async fn upstream_state(&self, order_id: &str) -> Result<Option<(String, Option<String>)>> {
        let row =
            crate::sql::query("SELECT state, last_error FROM upstream_jobs WHERE order_id = $1")
                .bind(order_id)
                .fetch_optional(&self.read)
                .await?;
        row.map(|r| Ok((r.try_get("state")?, r.try_get("last_error")?)))
            .transpose()
    }

    /// Orders paid and still waiting on a supplier, oldest first, at most `limit`: (order
    /// id, the line's number, paid at, calls made, the last error).
    pub async fn upstream_waiting(&self, limit: i64) -> Result<Vec<Waiting>> {
        let rows = crate::sql::query(
            "SELECT j.order_id, l.msisdn, j.created_at, j.attempts, j.last_error FROM upstream_jobs j
             JOIN orders o ON o.id = j.order_id JOIN lines l ON l.id = o.line_id
             WHERE j.state = 'pending' ORDER BY j.created_at, j.order_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Waiting {
                    order_id: r.try_get("order_id")?,
                    msisdn: r.try_get("msisdn")?,
                    since: crate::db::from_unix(r.try_get("created_at")?),
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Every line linked to a profile at `adapter`.
    pub async fn upstream_profiles(&self, adapter: &str) -> Result<Vec<LinkedProfile>> {
        let rows = crate::sql::query(
            "SELECT p.line_id, l.iccid, p.adapter, p.profile_ref, p.used_bytes FROM upstream_profiles p
             JOIN lines l ON l.id = p.line_id WHERE p.adapter = $1 ORDER BY p.line_id",
        )
        .bind(adapter)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LinkedProfile {
                    line_id: r.try_get("line_id")?,
                    iccid: r.try_get("iccid")?,
                    adapter: r.try_get("adapter")?,
                    profile_ref: r.try_get("profile_ref")?,
                    used_bytes: u64::try_from(r.try_get::<i64, _>("used_bytes")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// The supplier says `used_bytes` were used on a line's profile so far: what is new
    /// since the last figure is drawn from the line's buckets as a usage event (the rule
    /// of every usage report), in one transaction with the new figure, so a figure is
    /// never drawn twice. A figure lower than the last one (the supplier's counter reset
    /// with a new package) starts again from it. Returns the bytes drawn.
    pub async fn record_upstream_usage(&self, line_id: &str, used_bytes: u64) -> Result<u64> {
        let at = now();
        let mut tx = self.write.begin().await?;
        let row = crate::sql::query(
            "SELECT p.adapter, p.profile_ref, p.used_bytes, l.iccid FROM upstream_profiles p
             JOIN lines l ON l.id = p.line_id WHERE p.line_id = $1",
        )
        .bind(line_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::invalid("line", "not linked to a supplier's profile"))?;
        let before = u64::try_from(row.try_get::<i64, _>("used_bytes")?).unwrap_or(0);
        let moved = crate::sql::query("UPDATE upstream_profiles SET used_bytes = $1, usage_at = $2 WHERE line_id = $3 AND used_bytes = $4")
            .bind(i64::try_from(used_bytes).unwrap_or(i64::MAX))
            .bind(at.unix_timestamp())
            .bind(line_id)
            .bind(i64::try_from(before).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() != 1 || used_bytes <= before {
            tx.commit().await?;
            return Ok(0);
        }
        let adapter: String = row.try_get("adapter")?;
        let profile: String = row.try_get("profile_ref")?;
        let iccid = simrenew_core::Iccid::parse(&row.try_get::<String, _>("iccid")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let event = crate::usage::UsageEvent {
            event_id: format!("{adapter}:{profile}:{before}-{used_bytes}"),
            line: LineRef::Iccid(iccid),
            bytes: used_bytes - before,
            occurred_at: at,
            occurred_at_stated: true,
        };
        let r = crate::usage::record_one(&mut tx, &event, line_id.to_string(), at).await?;
        tx.commit().await?;
        Ok(r.drawn_bytes)
    }
}

/// The partner whose deposit paid an order, if any.
async fn partner_of(tx: &mut Tx, order_id: &str) -> Result<Option<String>> {
    crate::sql::query("SELECT partner_id FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("partner_id")
}

/// A partner's `order.fulfilled` event for an order it placed, when it has a webhook.
async fn partner_event(tx: &mut Tx, order: &Order) -> Result<()> {
    let hooked = crate::sql::query(
        "SELECT o.partner_id FROM orders o JOIN partners p ON p.id = o.partner_id
         WHERE o.id = $1 AND p.webhook_url IS NOT NULL",
    )
    .bind(&order.id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(r) = hooked {
        let partner: String = r.try_get("partner_id")?;
        crate::partners::queue_event(tx, &partner, "order.fulfilled", order).await?;
    }
    Ok(())
}
