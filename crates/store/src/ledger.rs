//! Writing transfers to the ledger and reading balances. A line's balance is kept beside
//! its postings and moved only here, in the same statement set; it can never go below
//! zero (the conditional update refuses), which is what makes "the balance can pay only
//! once" hold across processes. System accounts are sums of their postings.

use crate::db::{Store, new_id, values};
use crate::error::{Result, StoreError};
use crate::sql::Tx;
use simrenew_core::{Currency, Money, Transfer};
use time::OffsetDateTime;

/// Why a transfer happened, kept on the transfer row.
pub struct TransferMeta<'a> {
    pub kind: &'a str,
    pub order_id: Option<&'a str>,
    pub memo: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub at: OffsetDateTime,
}

/// A line account that could not cover its debit.
#[derive(Debug)]
pub struct Overdraft {
    pub account: String,
    pub available: Money,
}

/// Writes `transfer` inside `tx`. `Ok(Err(overdraft))` when a line account would go
/// negative: nothing of the transfer is written then, and the caller rolls back.
pub async fn apply_transfer(
    tx: &mut Tx,
    transfer: &Transfer,
    meta: &TransferMeta<'_>,
) -> Result<std::result::Result<String, Overdraft>> {
    // Debits first, so a refused one leaves nothing to undo.
    let mut postings: Vec<_> = transfer.postings().iter().collect();
    postings.sort_by_key(|p| p.amount.minor >= 0);
    for p in &postings {
        // Kept balances that never go below zero: lines' and partners' deposits.
        if !(p.account.starts_with("line:") || p.account.starts_with("partner:")) {
            continue;
        }
        let done = crate::sql::query(
            "UPDATE accounts SET balance_minor = balance_minor + $1
             WHERE id = $2 AND currency = $3 AND balance_minor + $1 >= 0",
        )
        .bind(p.amount.minor)
        .bind(&p.account)
        .bind(p.amount.currency.code())
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            let row =
                crate::sql::query("SELECT balance_minor, currency FROM accounts WHERE id = $1")
                    .bind(&p.account)
                    .fetch_optional(&mut **tx)
                    .await?;
            let Some(row) = row else {
                // A partner's deposit in a currency it never paid in is opened by its first
                // credit: until then it is empty, and paying from it is short by the whole
                // amount (a line's account always exists).
                if p.account.starts_with("partner:") {
                    return Ok(Err(Overdraft {
                        account: p.account.clone(),
                        available: Money::new(0, p.amount.currency),
                    }));
                }
                return Err(StoreError::Corrupt(format!("no account {}", p.account)));
            };
            let currency: Currency = row.try_get::<String, _>("currency")?.parse()?;
            if currency != p.amount.currency {
                return Err(StoreError::Corrupt(format!(
                    "account {} is in {currency}",
                    p.account
                )));
            }
            return Ok(Err(Overdraft {
                account: p.account.clone(),
                available: Money::new(row.try_get("balance_minor")?, currency),
            }));
        }
    }
    let id = new_id();
    let head = crate::sql::query("INSERT INTO transfers (id, kind, order_id, memo, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(meta.kind)
        .bind(meta.order_id)
        .bind(meta.memo)
        .bind(meta.actor)
        .bind(meta.at.unix_timestamp());
    // All postings in one statement: (transfer, account, amount, currency) per row.
    let sql = format!(
        "INSERT INTO postings (transfer_id, account_id, amount_minor, currency) {}",
        values(transfer.postings().len(), 2, "($1, ?, ?, ?)")
    );
    let mut q = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str())).bind(&id);
    for p in transfer.postings() {
        q = q
            .bind(&p.account)
            .bind(p.amount.minor)
            .bind(p.amount.currency.code());
    }
    crate::sql::execute_all(tx, vec![head, q]).await?;
    Ok(Ok(id))
}

/// The result of checking the whole ledger (tests, `simrenew ledger check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    /// Per currency, the sum of all postings; must be zero.
    pub sums: Vec<(String, i64)>,
    /// Line accounts whose kept balance differs from the sum of their postings.
    pub mismatched_accounts: Vec<String>,
    pub postings: i64,
}

impl LedgerCheck {
    pub fn is_sound(&self) -> bool {
        self.sums.iter().all(|(_, s)| *s == 0) && self.mismatched_accounts.is_empty()
    }
}

impl Store {
    /// Sums every posting per currency and compares each line balance with its postings.
    pub async fn check_ledger(&self) -> Result<LedgerCheck> {
        let rows = crate::sql::query("SELECT currency, CAST(SUM(amount_minor) AS BIGINT) AS s, CAST(COUNT(*) AS BIGINT) AS n FROM postings GROUP BY currency ORDER BY currency")
            .fetch_all(&self.read)
            .await?;
        let mut sums = Vec::new();
        let mut postings = 0;
        for r in &rows {
            sums.push((
                r.try_get::<String, _>("currency")?,
                r.try_get::<i64, _>("s")?,
            ));
            postings += r.try_get::<i64, _>("n")?;
        }
        let bad = crate::sql::query(
            "SELECT a.id FROM accounts a
             LEFT JOIN (SELECT account_id, CAST(SUM(amount_minor) AS BIGINT) AS s FROM postings GROUP BY account_id) p
               ON p.account_id = a.id
             WHERE (a.kind = 'line' OR a.id LIKE 'partner:%') AND a.balance_minor <> COALESCE(p.s, 0)",
        )
        .fetch_all(&self.read)
        .await?;
        let mismatched_accounts = bad
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        Ok(LedgerCheck {
            sums,
            mismatched_accounts,
            postings,
        })
    }

    /// An account's balance: kept for line accounts, summed for system ones.
    pub async fn account_balance(&self, account: &str) -> Result<Money> {
        let row = crate::sql::query(
            "SELECT a.currency, a.kind, a.balance_minor,
                    CAST(COALESCE((SELECT SUM(amount_minor) FROM postings WHERE account_id = a.id), 0) AS BIGINT) AS summed
             FROM accounts a WHERE a.id = $1",
        )
        .bind(account)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("no account {account}")))?;
        let currency: Currency = row.try_get::<String, _>("currency")?.parse()?;
        let minor = if row.try_get::<String, _>("kind")? == "line" {
            row.try_get("balance_minor")?
        } else {
            row.try_get("summed")?
        };
        Ok(Money::new(minor, currency))
    }
}

/// Orders whose effects do not match their status (tests, `simrenew ledger-check`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderCheck {
    pub orders: i64,
    pub fulfilled: i64,
    /// Fulfilled orders without exactly one bucket per plan item, or one transfer per
    /// top-up plus one for the sale.
    pub misfulfilled: Vec<String>,
    /// Orders not fulfilled that nevertheless granted data or moved money.
    pub half_applied: Vec<String>,
}

impl OrderCheck {
    pub fn is_sound(&self) -> bool {
        self.misfulfilled.is_empty() && self.half_applied.is_empty()
    }
}

impl Store {
    /// Checks every order's effects against its status: fulfilled exactly once, or not at all.
    pub async fn check_orders(&self) -> Result<OrderCheck> {
        let rows = crate::sql::query(
            "SELECT o.id, o.status,
                CAST((SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id AND i.kind <> 'topup') AS BIGINT) AS plan_items,
                CAST((SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id AND i.kind = 'topup') AS BIGINT) AS topups,
                CAST((SELECT COUNT(*) FROM buckets b WHERE b.order_id = o.id) AS BIGINT) AS buckets,
                CAST((SELECT COUNT(*) FROM periods p WHERE p.order_id = o.id) AS BIGINT) AS periods,
                CAST((SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id AND i.kind = 'renew') AS BIGINT) AS renewals,
                CAST((SELECT COUNT(*) FROM transfers t WHERE t.order_id = o.id AND t.kind = 'order') AS BIGINT) AS transfers,
                (SELECT j.state FROM upstream_jobs j WHERE j.order_id = o.id) AS upstream
             FROM orders o",
        )
        .fetch_all(&self.read)
        .await?;
        let mut out = OrderCheck::default();
        for r in &rows {
            let id: String = r.try_get("id")?;
            let n = |c: &str| r.try_get::<i64, _>(c);
            out.orders += 1;
            let (plan_items, topups, buckets, periods, renewals, transfers) = (
                n("plan_items")?,
                n("topups")?,
                n("buckets")?,
                n("periods")?,
                n("renewals")?,
                n("transfers")?,
            );
            let status: String = r.try_get("status")?;
            let upstream: Option<String> = r.try_get("upstream")?;
            let sales = i64::from(plan_items > 0);
            if status == "fulfilled" {
                out.fulfilled += 1;
                if buckets != plan_items || periods != renewals || transfers != sales + topups {
                    out.misfulfilled.push(id);
                }
            } else if matches!(
                (status.as_str(), upstream.as_deref()),
                ("paid", Some("pending")) | ("refunded", Some("refused"))
            ) {
                // Paid and waiting for the supplier, or refused by it (the money came back
                // by a refund transfer): charged once, no quota.
                if buckets + periods > 0 || transfers != sales + topups {
                    out.half_applied.push(id);
                }
            } else if buckets + periods + transfers > 0 {
                out.half_applied.push(id);
            }
        }
        Ok(out)
    }
}
