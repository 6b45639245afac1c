//! The outbox: side effects (an e-mail, an SMS, later webhooks) written in the same
//! transaction as the change that causes them, and delivered afterwards by a job that
//! claims due rows, tries, and marks each delivered or due again later (with backoff).
//! A claim is a lease: a job that dies mid-delivery leaves the row due again when the
//! lease ends, so a message is delivered at least once.

use crate::db::{Backend, Store, from_unix, now};
use crate::error::Result;
use crate::sql::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Topics of messages to people.
pub const MAIL: &str = "mail";
pub const SMS: &str = "sms";

/// A message to a person, as queued: the text is rendered (in the reader's language) when
/// it is queued, so delivery needs no templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// An e-mail address or an E.164 number.
    pub to: String,
    /// E-mail only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    pub body: String,
    /// E-mail only: files that go with it (an eSIM's QR code).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file sent with an e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The file name the reader sees (`esim.png`).
    pub name: String,
    /// Its MIME type (`image/png`).
    pub content_type: String,
    /// Its bytes, in standard base64.
    pub data_base64: String,
}

/// A claimed outbox row.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub topic: String,
    pub payload: String,
    pub attempts: i64,
}

/// An outbox row as an operator sees it.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: i64,
    pub topic: String,
    pub payload: String,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The wait before retrying after `attempts` failures: 30 s, 1 min, 2 min… up to an hour
/// (e-mail, SMS, partner webhooks).
pub fn backoff_secs(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    (30_i64 << exp).min(3600)
}

/// Queues a message to a person inside the caller's transaction, with its recipient
/// beside it (support lists a customer's messages by it).
pub(crate) async fn queue_message(tx: &mut Tx, topic: &str, m: &Message) -> Result<()> {
    let payload =
        serde_json::to_string(m).map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
    let at = now().unix_timestamp();
    crate::sql::query(
        "INSERT INTO outbox (topic, payload, created_at, available_at, recipient) VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(topic)
    .bind(payload)
    .bind(at)
    .bind(&m.to)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A message to a person as support sees it: to whom, what about, and whether it went;
/// never its body (it may hold a reset link or a code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// mail or sms
    pub topic: String,
    pub to: String,
    /// The e-mail's subject (empty for an SMS).
    pub subject: String,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl Store {
    /// The latest messages to any of `recipients` (e-mail addresses, E.164 numbers as
    /// `+7…`), newest first, at most `limit`.
    pub async fn messages_to(&self, recipients: &[String], limit: i64) -> Result<Vec<SentMessage>> {
        let mut out = Vec::new();
        for r in recipients {
            let rows = crate::sql::query(
                "SELECT topic, payload, recipient, created_at, delivered_at, attempts, last_error FROM outbox
                 WHERE recipient = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
            )
            .bind(r)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
            for row in &rows {
                let m: Message = serde_json::from_str(&row.try_get::<String, _>("payload")?)
                    .map_err(|e| crate::StoreError::Corrupt(format!("outbox message: {e}")))?;
                out.push(SentMessage {
                    topic: row.try_get("topic")?,
                    to: row.try_get("recipient")?,
                    subject: m.subject,
                    created_at: from_unix(row.try_get("created_at")?),
                    delivered_at: row
                        .try_get::<Option<i64>, _>("delivered_at")?
                        .map(from_unix),
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                });
            }
        }
        out.sort_by_key(|m| std::cmp::Reverse(m.created_at));
        out.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(out)
    }

    /// Queues messages a member of staff sends again (a receipt, an install mail), with
    /// an audit entry, in one transaction.
    pub async fn resend_messages(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        messages: &[(&str, Message)],
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for (topic, m) in messages {
            queue_message(&mut tx, topic, m).await?;
        }
        let to: Vec<&str> = messages.iter().map(|(_, m)| m.to.as_str()).collect();
        crate::staff::audit_change(
            &mut tx,
            actor,
            action,
            Some(subject),
            None,
            Some(&serde_json::json!({"to": to, "messages": messages.len()}).to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due rows of `topic` for `lease_secs`: they are not due again
    /// until then. On PostgreSQL concurrent jobs skip each other's rows (SKIP LOCKED); on
    /// SQLite the single writer serializes claims.
    pub async fn claim_due(&self, topic: &str, limit: i64, lease_secs: i64) -> Result<Vec<Due>> {
        let at = now().unix_timestamp();
        let pick = match self.backend() {
            Backend::Postgres => {
                "SELECT id FROM outbox WHERE topic = $1 AND delivered_at IS NULL AND available_at <= $2 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED"
            }
            Backend::Sqlite => {
                "SELECT id FROM outbox WHERE topic = $1 AND delivered_at IS NULL AND available_at <= $2 ORDER BY id LIMIT $3"
            }
        };
        let sql = format!(
            "UPDATE outbox SET available_at = $4, attempts = attempts + 1 WHERE id IN ({pick}) RETURNING id, topic, payload, attempts"
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(topic)
            .bind(at)
            .bind(limit)
            .bind(at + lease_secs)
            .fetch_all(&self.write)
            .await?;
        let mut out: Vec<Due> = rows
            .iter()
            .map(|r| {
                Ok(Due {
                    id: r.try_get("id")?,
                    topic: r.try_get("topic")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<_>>()?;
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    pub async fn mark_delivered(&self, id: i64) -> Result<()> {
        crate::sql::query("UPDATE outbox SET delivered_at = $1, last_error = NULL WHERE id = $2")
            .bind(now().unix_timestamp())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Ends a claimed row's attempt: delivered when `outcome` is Ok, else due again after
    /// the backoff of its attempts ([`backoff_secs`]) with the error kept.
    pub async fn finish_due(
        &self,
        d: &Due,
        outcome: &std::result::Result<(), String>,
    ) -> Result<()> {
        match outcome {
            Ok(()) => self.mark_delivered(d.id).await,
            Err(e) => self.mark_failed(d.id, e, backoff_secs(d.attempts)).await,
        }
    }

    /// Records a failed attempt; the row is due again after `retry_in_secs`.
    pub async fn mark_failed(&self, id: i64, error: &str, retry_in_secs: i64) -> Result<()> {
        let error: String = error.chars().take(500).collect();
        crate::sql::query("UPDATE outbox SET last_error = $1, available_at = $2 WHERE id = $3")
            .bind(error)
            .bind(now().unix_timestamp() + retry_in_secs)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// The latest rows of `topics`, newest first (the demo's outbox page, operators).
    pub async fn recent_outbox(&self, topics: &[&str], limit: i64) -> Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        for topic in topics {
            let rows = crate::sql::query("SELECT id, topic, payload, created_at, delivered_at, attempts, last_error FROM outbox WHERE topic = $1 ORDER BY id DESC LIMIT $2")
                .bind(*topic)
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
            for r in &rows {
                out.push(OutboxEntry {
                    id: r.try_get("id")?,
                    topic: r.try_get("topic")?,
                    payload: r.try_get("payload")?,
                    created_at: from_unix(r.try_get("created_at")?),
                    delivered_at: r.try_get::<Option<i64>, _>("delivered_at")?.map(from_unix),
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                });
            }
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.id));
        out.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(out)
    }
}
