//! Sales reports for the back office: what was sold (fulfilled orders, item by item) per
//! day (Moscow time, the operators' own), channel, operator and plan, in each currency.

use crate::db::{Store, from_unix};
use crate::error::Result;
use simrenew_core::Money;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// One group of sales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesRow {
    /// YYYY-MM-DD, Moscow time.
    pub day: String,
    pub channel: String,
    pub operator: String,
    /// The plan, or `topup`.
    pub item: String,
    pub orders: i64,
    pub total: Money,
}

/// How many plan periods ended in a window, per operator, and how many of them were
/// renewed: the line had a next period starting no later than [`RENEWAL_GRACE`] after the
/// end (queued beforehand, or bought after a short lapse). As of now: a period that ended
/// in the last few days may still be renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalRow {
    pub operator: String,
    pub ended: i64,
    pub renewed: i64,
}

impl RenewalRow {
    /// Renewed as a whole percentage of those ended (rounded down), when any ended.
    pub fn percent(&self) -> Option<i64> {
        (self.ended > 0).then(|| self.renewed * 100 / self.ended)
    }
}

/// How long after a period's end a new one still counts as its renewal.
pub const RENEWAL_GRACE: time::Duration = time::Duration::days(7);

impl Store {
    /// The renewal rate of periods that ended in [from, to), per operator.
    pub async fn renewal_rate(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<RenewalRow>> {
        let rows = crate::sql::query(
            "SELECT l.operator, CAST(COUNT(*) AS BIGINT) AS ended,
               CAST(SUM(CASE WHEN EXISTS (SELECT 1 FROM periods q WHERE q.line_id = p.line_id
                   AND q.start_at > p.start_at AND q.start_at <= p.end_at + $3) THEN 1 ELSE 0 END) AS BIGINT) AS renewed
             FROM periods p JOIN lines l ON l.id = p.line_id
             WHERE p.end_at >= $1 AND p.end_at < $2
             GROUP BY l.operator ORDER BY l.operator",
        )
        .bind(from.unix_timestamp())
        .bind(to.unix_timestamp())
        .bind(RENEWAL_GRACE.whole_seconds())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RenewalRow {
                    operator: r.try_get("operator")?,
                    ended: r.try_get("ended")?,
                    renewed: r.try_get("renewed")?,
                })
            })
            .collect()
    }

    /// Sales of orders fulfilled in [from, to), grouped by day, channel, operator, item
    /// and currency; sorted by those.
    pub async fn sales(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<Vec<SalesRow>> {
        let rows = crate::sql::query(
            "SELECT o.id, o.fulfilled_at, o.channel, l.operator, o.currency, i.kind, i.plan_id, i.price_minor
             FROM orders o JOIN lines l ON l.id = o.line_id JOIN order_items i ON i.order_id = o.id
             WHERE o.status = 'fulfilled' AND o.fulfilled_at >= $1 AND o.fulfilled_at < $2",
        )
        .bind(from.unix_timestamp())
        .bind(to.unix_timestamp())
        .fetch_all(&self.read)
        .await?;
        let moscow = time::UtcOffset::from_hms(3, 0, 0).unwrap_or(time::UtcOffset::UTC);
        type Key = (String, String, String, String, String);
        let mut groups: BTreeMap<Key, (std::collections::BTreeSet<String>, i64)> = BTreeMap::new();
        for r in &rows {
            let at = from_unix(r.try_get::<Option<i64>, _>("fulfilled_at")?.unwrap_or(0));
            let d = at.to_offset(moscow).date();
            let day = format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
            let kind: String = r.try_get("kind")?;
            let item = match r.try_get::<Option<String>, _>("plan_id")? {
                Some(p) if kind != "topup" => p,
                _ => "topup".to_string(),
            };
            let key = (
                day,
                r.try_get("channel")?,
                r.try_get("operator")?,
                item,
                r.try_get("currency")?,
            );
            let g = groups.entry(key).or_default();
            g.0.insert(r.try_get("id")?);
            g.1 += r.try_get::<i64, _>("price_minor")?;
        }
        groups
            .into_iter()
            .map(
                |((day, channel, operator, item, currency), (orders, minor))| {
                    Ok(SalesRow {
                        day,
                        channel,
                        operator,
                        item,
                        orders: orders.len() as i64,
                        total: Money::new(minor, currency.parse()?),
                    })
                },
            )
            .collect()
    }
}
