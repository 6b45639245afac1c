//! Usage reports from feeds that are not Diameter (upstream operators, CDR importers):
//! each event has an id and is recorded once; it draws from the line's buckets by the
//! rule in `simrenew_core::bucket` (earliest expiry first, never below zero), and what no
//! bucket covers is kept as overage on the event.

use crate::db::{Store, now};
use crate::error::{Result, StoreError};
use crate::idempotency::{Idem, remember};
use crate::lines::{buckets_of, lock_line};
use simrenew_core::{LineRef, draw_usage};
use time::OffsetDateTime;

/// The most events one report may carry.
pub const MAX_EVENTS: usize = 1000;

#[derive(Debug, Clone)]
pub struct UsageEvent {
    pub event_id: String,
    pub line: LineRef,
    pub bytes: u64,
    pub occurred_at: OffsetDateTime,
    /// False when the feed gave no time and `occurred_at` is the time of receipt: a retry
    /// of such an event has another receipt time and is still the same event.
    pub occurred_at_stated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageResult {
    pub event_id: String,
    pub line_id: String,
    /// false when the event had been recorded before (nothing drawn again)
    pub recorded: bool,
    pub drawn_bytes: u64,
    pub overage_bytes: u64,
}

/// The partner events a draw of `amount` from `bucket` causes: `data.80_percent_used`
/// when it crosses four fifths of the bucket used, `data.used_up` when it empties it;
/// each at most once per bucket, as a bucket's remaining data only goes down. Only for
/// buckets an order of a partner with a webhook brought (unlimited ones have no such
/// thresholds).
async fn data_events(
    tx: &mut crate::sql::Tx,
    bucket: &crate::lines::BucketRow,
    amount: u64,
    at: OffsetDateTime,
) -> Result<()> {
    if bucket.unlimited || bucket.initial_bytes == 0 || amount == 0 {
        return Ok(());
    }
    let initial = u128::from(bucket.initial_bytes);
    let used = |remaining: u64| initial - u128::from(remaining);
    let before = bucket.remaining_bytes;
    let after = before.saturating_sub(amount);
    let mut kinds = Vec::new();
    if used(before) * 5 < initial * 4 && used(after) * 5 >= initial * 4 {
        kinds.push("data.80_percent_used");
    }
    if before > 0 && after == 0 {
        kinds.push("data.used_up");
    }
    if kinds.is_empty() {
        return Ok(());
    }
    let Some(row) = crate::sql::query(
        "SELECT o.partner_id, o.id AS order_id, l.msisdn, l.iccid FROM buckets b
         JOIN orders o ON o.id = b.order_id JOIN partners p ON p.id = o.partner_id
         JOIN lines l ON l.id = b.line_id
         WHERE b.id = $1 AND p.webhook_url IS NOT NULL",
    )
    .bind(&bucket.id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(());
    };
    let partner: String = row.try_get("partner_id")?;
    let mut data = crate::partners::line_event_data(&row)?;
    data.insert("plan_id".into(), bucket.plan_id.clone().into());
    data.insert("bucket".into(), bucket.kind.clone().into());
    data.insert("initial_bytes".into(), bucket.initial_bytes.into());
    data.insert("remaining_bytes".into(), after.into());
    data.insert(
        "valid_until".into(),
        crate::partners::rfc3339(bucket.valid_until).into(),
    );
    data.insert("usage_as_of".into(), crate::partners::rfc3339(at).into());
    for kind in kinds {
        crate::partners::queue(tx, &partner, kind, data.clone().into()).await?;
    }
    Ok(())
}

impl Store {
    /// Records a batch of usage events in one transaction: all or none.
    pub async fn record_usage(
        &self,
        events: &[UsageEvent],
        idem: Option<&Idem<'_, Vec<UsageResult>>>,
    ) -> Result<Vec<UsageResult>> {
        if events.is_empty() || events.len() > MAX_EVENTS {
            return Err(StoreError::invalid(
                "events",
                format!("a report holds 1 to {MAX_EVENTS} events"),
            ));
        }
        let received = now();
        let mut lines = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            if e.event_id.trim().is_empty() || e.event_id.len() > 200 {
                return Err(StoreError::invalid(
                    &format!("events[{i}].event_id"),
                    "must be 1 to 200 characters",
                ));
            }
            if i64::try_from(e.bytes).is_err() {
                return Err(StoreError::invalid(
                    &format!("events[{i}].bytes"),
                    "too large",
                ));
            }
            if e.occurred_at > received + time::Duration::minutes(5) {
                return Err(StoreError::invalid(
                    &format!("events[{i}].occurred_at"),
                    "lies in the future",
                ));
            }
            lines.push(self.find_line(&e.line).await?.id);
        }
        let mut tx = self.write.begin().await?;
        let mut out = Vec::with_capacity(events.len());
        for (e, line_id) in events.iter().zip(lines) {
            out.push(record_one(&mut tx, e, line_id, received).await?);
        }
        remember(&mut tx, idem, &out).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The bytes a line used since `since` (reported events, overage included).
    pub async fn usage_since(&self, line_id: &str, since: OffsetDateTime) -> Result<u64> {
        let used: i64 = crate::sql::query("SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS used FROM usage_events WHERE line_id = $1 AND occurred_at >= $2")
            .bind(line_id)
            .bind(since.unix_timestamp())
            .fetch_one(&self.read)
            .await?
            .try_get("used")?;
        Ok(u64::try_from(used).unwrap_or(0))
    }

    /// A line's recent usage events, newest first: (event id, bytes, overage, occurred at).
    pub async fn usage_of_line(
        &self,
        line_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, u64, u64, OffsetDateTime)>> {
        let rows = crate::sql::query("SELECT event_id, bytes, overage_bytes, occurred_at FROM usage_events WHERE line_id = $1 ORDER BY occurred_at DESC, event_id LIMIT $2")
            .bind(line_id)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("event_id")?,
                    r.try_get::<i64, _>("bytes")? as u64,
                    r.try_get::<i64, _>("overage_bytes")? as u64,
                    crate::db::from_unix(r.try_get("occurred_at")?),
                ))
            })
            .collect()
    }
}

/// One event inside the caller's transaction: recorded and drawn from the line's buckets,
/// or, seen before with the same content, answered as it was (nothing drawn again).
pub(crate) async fn record_one(
    tx: &mut crate::sql::Tx,
    e: &UsageEvent,
    line_id: String,
    received: OffsetDateTime,
) -> Result<UsageResult> {
    let prior = crate::sql::query(
        "SELECT line_id, bytes, occurred_at, overage_bytes FROM usage_events WHERE event_id = $1",
    )
    .bind(&e.event_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(p) = prior {
        let same = p.try_get::<String, _>("line_id")? == line_id
            && p.try_get::<i64, _>("bytes")? == e.bytes as i64
            && (!e.occurred_at_stated
                || p.try_get::<i64, _>("occurred_at")? == e.occurred_at.unix_timestamp());
        if !same {
            return Err(StoreError::UsageEventConflict(e.event_id.clone()));
        }
        let overage = p.try_get::<i64, _>("overage_bytes")? as u64;
        return Ok(UsageResult {
            event_id: e.event_id.clone(),
            line_id,
            recorded: false,
            drawn_bytes: e.bytes - overage,
            overage_bytes: overage,
        });
    }
    lock_line(tx, &line_id).await?;
    let rows = buckets_of(tx, &line_id, e.occurred_at).await?;
    let buckets: Vec<_> = rows.iter().map(|b| b.as_bucket()).collect();
    let draw = draw_usage(&buckets, e.bytes, e.occurred_at);
    crate::sql::query("INSERT INTO usage_events (event_id, line_id, bytes, overage_bytes, occurred_at, received_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&e.event_id)
        .bind(&line_id)
        .bind(e.bytes as i64)
        .bind(draw.overage as i64)
        .bind(e.occurred_at.unix_timestamp())
        .bind(received.unix_timestamp())
        .execute(&mut **tx)
        .await?;
    for (i, amount) in &draw.taken {
        let done = crate::sql::query("UPDATE buckets SET remaining_bytes = remaining_bytes - $1 WHERE id = $2 AND remaining_bytes >= $1")
            .bind(*amount as i64)
            .bind(&buckets[*i].id)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "bucket {} changed under a locked line",
                buckets[*i].id
            )));
        }
        crate::sql::query(
            "INSERT INTO usage_draws (event_id, bucket_id, bytes) VALUES ($1, $2, $3)",
        )
        .bind(&e.event_id)
        .bind(&buckets[*i].id)
        .bind(*amount as i64)
        .execute(&mut **tx)
        .await?;
        data_events(tx, &rows[*i], *amount, e.occurred_at).await?;
    }
    crate::sql::query("UPDATE lines SET usage_as_of = $1 WHERE id = $2 AND (usage_as_of IS NULL OR usage_as_of < $1)")
        .bind(e.occurred_at.unix_timestamp())
        .bind(&line_id)
        .execute(&mut **tx)
        .await?;
    Ok(UsageResult {
        event_id: e.event_id.clone(),
        line_id,
        recorded: true,
        drawn_bytes: e.bytes - draw.overage,
        overage_bytes: draw.overage,
    })
}
