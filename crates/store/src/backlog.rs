//! Work waiting on something outside simrenew, for /metrics and the operator's alerts:
//! messages not delivered yet (per outbox topic), supplier top-ups not answered, refunds
//! a provider has not confirmed, money held for a person to look at, and paid eSIMs the
//! SM-DP+ has not released. Each queue with how many wait and since when the oldest has:
//! retries go on by themselves, but one that never ends is for a person
//! (docs/operations.md has alert rules).

use crate::db::{Store, from_unix};
use crate::error::Result;
use time::OffsetDateTime;

/// One queue of waiting work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// `outbox_<topic>`, `upstream`, `refunds`, `held_payments` or `esim_release`.
    pub name: String,
    pub waiting: i64,
    /// When the oldest waiting item entered the queue; None when none waits.
    pub oldest: Option<OffsetDateTime>,
}

/// The queues always reported, even empty (an alert on a series that vanished when it
/// emptied would not see it fill again).
pub const QUEUES: [&str; 7] = [
    "outbox_mail",
    "outbox_sms",
    "outbox_esim_take_back",
    "upstream",
    "refunds",
    "held_payments",
    "esim_release",
];

impl Store {
    /// Every queue of [`QUEUES`], then any other outbox topic with messages waiting.
    pub async fn backlog(&self) -> Result<Vec<Queue>> {
        let sql = format!(
            "SELECT 'outbox_' || topic AS queue, CAST(COUNT(*) AS BIGINT) AS n, MIN(created_at) AS oldest
               FROM outbox WHERE delivered_at IS NULL GROUP BY topic
             UNION ALL SELECT 'upstream', CAST(COUNT(*) AS BIGINT), MIN(created_at)
               FROM upstream_jobs WHERE state = 'pending'
             UNION ALL SELECT 'refunds', CAST(COUNT(*) AS BIGINT), MIN(created_at)
               FROM refunds WHERE status = 'pending'
             UNION ALL SELECT 'held_payments', CAST(COUNT(*) AS BIGINT), MIN(updated_at)
               FROM payments WHERE status = 'held'
             UNION ALL SELECT 'esim_release', CAST(COUNT(*) AS BIGINT), MIN(o.fulfilled_at)
               FROM {}",
            crate::esim::PAID_UNRELEASED
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(&self.read)
            .await?;
        let mut found = rows
            .iter()
            .map(|r| {
                Ok(Queue {
                    name: r.try_get("queue")?,
                    waiting: r.try_get("n")?,
                    oldest: r.try_get::<Option<i64>, _>("oldest")?.map(from_unix),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut queues: Vec<Queue> = QUEUES
            .iter()
            .map(|name| match found.iter().position(|q| q.name == *name) {
                Some(i) => found.swap_remove(i),
                None => Queue {
                    name: (*name).to_string(),
                    waiting: 0,
                    oldest: None,
                },
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        queues.extend(found);
        Ok(queues)
    }
}
