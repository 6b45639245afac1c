//! Promotions in the store: kept by the back office (audited), read by the one pricing
//! path of orders and quotes (`orders::Store::price`, the same on every channel), and
//! redeemed in the order's own transaction so their limits hold with several servers.

use crate::db::{Store, from_unix, new_id, now};
use crate::error::{Result, StoreError};
use crate::sql::{Row, Tx};
use simrenew_core::promotion::{Discount, PromoCode, Promotion};
use simrenew_core::{Localized, Money};
use time::OffsetDateTime;

const COLUMNS: &str = "id, code, names, discount_kind, percent, amount_minor, amount_currency, starts_at, ends_at, plans, channels, per_customer_limit, total_limit, redeemed";

/// A promotion as the back office lists it: with how many orders used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRow {
    pub promotion: Promotion,
    pub redeemed: i64,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn limit(v: Option<i64>) -> Option<u32> {
    v.and_then(|n| u32::try_from(n).ok())
}

fn from_row(r: &Row) -> Result<PromotionRow> {
    let id: String = r.try_get("id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("promotion {id}: {what}"));
    let discount = match r.try_get::<String, _>("discount_kind")?.as_str() {
        "percent" => Discount::percent(r.try_get::<Option<i64>, _>("percent")?.unwrap_or(0))
            .map_err(|_| corrupt("percent"))?,
        "fixed" => {
            let currency = r
                .try_get::<Option<String>, _>("amount_currency")?
                .ok_or_else(|| corrupt("currency"))?
                .parse()?;
            let minor = r.try_get::<Option<i64>, _>("amount_minor")?.unwrap_or(0);
            Discount::fixed(Money::new(minor, currency)).map_err(|_| corrupt("amount"))?
        }
        _ => return Err(corrupt("discount kind")),
    };
    let code = r
        .try_get::<Option<String>, _>("code")?
        .map(|c| PromoCode::parse(&c).map_err(|_| corrupt("code")))
        .transpose()?;
    let names: Localized =
        serde_json::from_str(&r.try_get::<String, _>("names")?).map_err(|_| corrupt("names"))?;
    Ok(PromotionRow {
        promotion: Promotion {
            code,
            names,
            discount,
            starts_at: from_unix(r.try_get("starts_at")?),
            ends_at: from_unix(r.try_get("ends_at")?),
            plans: list(&r.try_get::<String, _>("plans")?),
            channels: list(&r.try_get::<String, _>("channels")?),
            per_customer_limit: limit(r.try_get("per_customer_limit")?),
            total_limit: limit(r.try_get("total_limit")?),
            id,
        },
        redeemed: r.try_get("redeemed")?,
    })
}

/// The promotions that could price an order of `customer` at `at`: the campaigns running
/// then with uses left (for this customer too), and the promotion of `code` whenever it
/// runs (so a refusal can say "not valid now"); a code whose uses are taken is refused
/// here, before anything is written.
pub(crate) async fn pricing_promotions(
    conn: &mut crate::sql::Conn,
    at: OffsetDateTime,
    code: Option<&PromoCode>,
    customer: &str,
) -> Result<Vec<Promotion>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM promotions
         WHERE (code IS NULL AND starts_at <= $1 AND ends_at > $1) OR code = $2
         ORDER BY created_at, id"
    );
    let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(at.unix_timestamp())
        .bind(code.map(|c| c.as_str().to_string()))
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let PromotionRow {
            promotion: p,
            redeemed,
        } = from_row(r)?;
        let typed = p.code.is_some();
        let code = p.code.as_ref().map(|c| c.to_string());
        if p.total_limit.is_some_and(|t| redeemed >= i64::from(t)) {
            if typed {
                return Err(StoreError::PromotionUsedUp { code });
            }
            continue;
        }
        if let Some(max) = p.per_customer_limit
            && uses_by(&mut *conn, &p.id, customer).await? >= i64::from(max)
        {
            if typed {
                return Err(StoreError::PromotionUsedByCustomer { code, limit: max });
            }
            continue;
        }
        out.push(p);
    }
    Ok(out)
}

async fn uses_by(conn: &mut crate::sql::Conn, promotion: &str, customer: &str) -> Result<i64> {
    crate::sql::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM promotion_redemptions WHERE promotion_id = $1 AND customer = $2",
    )
    .bind(promotion)
    .bind(customer)
    .fetch_one(conn)
    .await?
    .try_get("n")
}

/// Counts one use of `promotion` by `customer` for `order_id`, inside the order's
/// transaction: refused (and so the order with it) when the total or the customer's limit
/// is reached. The total moves by a conditional update, which also locks the promotion's
/// row until commit, so the customer's count below is not raced either.
pub(crate) async fn redeem(
    tx: &mut Tx,
    promotion: &Promotion,
    order_id: &str,
    customer: &str,
) -> Result<()> {
    let moved = crate::sql::query(
        "UPDATE promotions SET redeemed = redeemed + 1
         WHERE id = $1 AND (total_limit IS NULL OR redeemed < total_limit)",
    )
    .bind(&promotion.id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(StoreError::PromotionUsedUp {
            code: promotion.code.as_ref().map(|c| c.to_string()),
        });
    }
    if let Some(max) = promotion.per_customer_limit
        && uses_by(tx, &promotion.id, customer).await? >= i64::from(max)
    {
        return Err(StoreError::PromotionUsedByCustomer {
            code: promotion.code.as_ref().map(|c| c.to_string()),
            limit: max,
        });
    }
    crate::sql::query(
        "INSERT INTO promotion_redemptions (promotion_id, order_id, customer, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&promotion.id)
    .bind(order_id)
    .bind(customer)
    .bind(now().unix_timestamp())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Undoes the uses an order made of promotions (it was cancelled unpaid), inside its
/// transaction: each promotion's total goes down by one and the order's redemptions go.
pub(crate) async fn give_back(tx: &mut Tx, order_id: &str) -> Result<()> {
    crate::sql::query(
        "UPDATE promotions SET redeemed = redeemed - 1
         WHERE id IN (SELECT promotion_id FROM promotion_redemptions WHERE order_id = $1)",
    )
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    crate::sql::query("DELETE FROM promotion_redemptions WHERE order_id = $1")
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Adds a promotion (checked first; a code already used by another is refused),
    /// audited as done by `actor`. Returns its id.
    pub async fn add_promotion(&self, actor: &str, p: &Promotion) -> Result<String> {
        p.validate()
            .map_err(|e| StoreError::invalid(promotion_field(&e), e.to_string()))?;
        for id in &p.plans {
            self.plan(id).await.map_err(|_| {
                StoreError::invalid("plans", format!("no plan {id:?} in the catalog"))
            })?;
        }
        let id = if p.id.is_empty() {
            new_id()
        } else {
            p.id.clone()
        };
        let (kind, percent, amount) = match p.discount {
            Discount::Percent { percent } => ("percent", Some(i64::from(percent)), None),
            Discount::Fixed { amount } => ("fixed", None, Some(amount)),
        };
        let names =
            serde_json::to_string(&p.names).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write.begin().await?;
        let inserted = crate::sql::query(
            "INSERT INTO promotions (id, code, names, discount_kind, percent, amount_minor, amount_currency, starts_at, ends_at, plans, channels, per_customer_limit, total_limit, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&id)
        .bind(p.code.as_ref().map(|c| c.to_string()))
        .bind(&names)
        .bind(kind)
        .bind(percent)
        .bind(amount.map(|a| a.minor))
        .bind(amount.map(|a| a.currency.code().to_string()))
        .bind(p.starts_at.unix_timestamp())
        .bind(p.ends_at.unix_timestamp())
        .bind(p.plans.join(","))
        .bind(p.channels.join(","))
        .bind(p.per_customer_limit.map(i64::from))
        .bind(p.total_limit.map(i64::from))
        .bind(actor)
        .bind(now().unix_timestamp())
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            let e = e;
            return Err(if e.is_unique_violation() {
                StoreError::invalid("code", "another promotion already has this code")
            } else {
                e
            });
        }
        let after = serde_json::json!({
            "code": p.code.as_ref().map(|c| c.to_string()),
            "name": p.names.get(simrenew_core::Locale::En),
            "discount": p.discount,
            "starts_at": p.starts_at.unix_timestamp(),
            "ends_at": p.ends_at.unix_timestamp(),
            "plans": p.plans,
            "channels": p.channels,
            "per_customer_limit": p.per_customer_limit,
            "total_limit": p.total_limit,
        })
        .to_string();
        crate::staff::audit_change(
            &mut tx,
            actor,
            "promotion.add",
            Some(&id),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Ends a promotion now (it prices nothing from this instant), audited. Orders placed
    /// with it keep their prices.
    pub async fn end_promotion(&self, actor: &str, id: &str) -> Result<()> {
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let before: Option<i64> = crate::sql::query("SELECT ends_at FROM promotions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("ends_at"))
            .transpose()?;
        let Some(before) = before else {
            return Err(StoreError::invalid("promotion", "no such promotion"));
        };
        if before > at {
            // It ends now; one not started yet gets the second before now as its start, so
            // the window stays non-empty (ends_at > starts_at) and never covers an instant
            // from now on.
            crate::sql::query(
                "UPDATE promotions SET ends_at = $2,
                                       starts_at = CASE WHEN starts_at >= $2 THEN $2 - 1 ELSE starts_at END
                 WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        let after = serde_json::json!({ "ends_at": at.min(before) }).to_string();
        let before = serde_json::json!({ "ends_at": before }).to_string();
        crate::staff::audit_change(
            &mut tx,
            actor,
            "promotion.end",
            Some(id),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every promotion, newest first, with its use count (the back office).
    pub async fn promotions(&self) -> Result<Vec<PromotionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM promotions ORDER BY created_at DESC, id DESC");
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The campaigns (no code) running at `at`: what plan cards show while they run.
    /// Those whose total is used up are left out; per-customer limits are not counted
    /// here (the card shows what a new customer pays).
    pub async fn running_campaigns(&self, at: OffsetDateTime) -> Result<Vec<Promotion>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM promotions
             WHERE code IS NULL AND starts_at <= $1 AND ends_at > $1
               AND (total_limit IS NULL OR redeemed < total_limit)
             ORDER BY created_at, id"
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(at.unix_timestamp())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| Ok(from_row(r)?.promotion)).collect()
    }
}

/// The form field a promotion's refusal is about.
fn promotion_field(e: &simrenew_core::promotion::PromotionError) -> &'static str {
    use simrenew_core::promotion::PromotionError as E;
    match e {
        E::BadCode(_) | E::CodeTooLong => "code",
        E::BadPercent(_) | E::BadFixed => "discount",
        E::BadWindow => "ends_at",
        E::BadChannel(_) => "channels",
        E::BadLimit(_) => "limits",
        E::NoName => "name",
    }
}
