//! Partners of the partner API: who they are, their key id, their signing secret as the
//! web layer sealed it (the store never sees it in the clear), their scopes; and the
//! nonces of their recent requests, each accepted once.

use crate::db::{Store, new_id, now};
use crate::error::{Result, StoreError};
use crate::sql::{Row, Tx};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A partner as the API checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub key_id: String,
    pub secret_sealed: String,
    /// `lines:read`, `orders:write`…
    pub scopes: Vec<String>,
    pub active: bool,
    /// Requests per minute it may send.
    pub rate_per_minute: i64,
    /// Where its events are posted, if anywhere.
    pub webhook_url: Option<String>,
}

impl Partner {
    /// Whether the key may do `scope` (the empty scope: any key).
    pub fn has_scope(&self, scope: &str) -> bool {
        scope.is_empty() || self.scopes.iter().any(|s| s == scope)
    }
    /// How the audit log and orders name them.
    pub fn actor(&self) -> String {
        format!("partner:{}", self.key_id)
    }
}

fn partner_of(r: &Row) -> Result<Partner> {
    let scopes: String = r.try_get("scopes")?;
    Ok(Partner {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        key_id: r.try_get("key_id")?,
        secret_sealed: r.try_get("secret_sealed")?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        active: r.try_get::<i64, _>("active")? != 0,
        rate_per_minute: r.try_get("rate_per_minute")?,
        webhook_url: r.try_get("webhook_url")?,
    })
}

/// The ledger account of a partner's prepaid deposit in `currency`.
pub fn deposit_account(partner_id: &str, currency: simrenew_core::Currency) -> String {
    format!("partner:{partner_id}:{currency}")
}

/// The partner whose deposit account `account` is (`partner:<id>:<currency>`).
pub fn partner_of_deposit(account: &str) -> Option<&str> {
    account
        .strip_prefix("partner:")
        .and_then(|rest| rest.rsplit_once(':'))
        .map(|(id, _)| id)
}

impl Store {
    /// Credits a partner's prepaid deposit with money they paid in (a bank transfer the
    /// operator saw): world → deposit, audited. The deposit's new balance.
    pub async fn credit_partner(
        &self,
        actor: &str,
        key_id: &str,
        amount: simrenew_core::Money,
        memo: &str,
    ) -> Result<simrenew_core::Money> {
        if amount.minor <= 0 {
            return Err(StoreError::invalid("amount", "must be more than zero"));
        }
        let p = self
            .partner_by_key(key_id)
            .await?
            .ok_or_else(|| StoreError::invalid("key_id", "no such partner"))?;
        let account = deposit_account(&p.id, amount.currency);
        let at = now();
        let mut tx = self.write.begin().await?;
        crate::sql::query("INSERT INTO accounts (id, currency, kind) VALUES ($1, $2, 'system') ON CONFLICT (id) DO NOTHING")
            .bind(&account)
            .bind(amount.currency.code())
            .execute(&mut *tx)
            .await?;
        let transfer = simrenew_core::Transfer::pay(
            simrenew_core::ledger::accounts::world(amount.currency),
            account.clone(),
            amount,
        )?;
        let meta = crate::ledger::TransferMeta {
            kind: "deposit",
            order_id: None,
            memo: Some(memo),
            actor: Some(actor),
            at,
        };
        if crate::ledger::apply_transfer(&mut tx, &transfer, &meta)
            .await?
            .is_err()
        {
            return Err(StoreError::Corrupt("a deposit credit was refused".into()));
        }
        let balance: i64 =
            crate::sql::query_scalar("SELECT balance_minor FROM accounts WHERE id = $1")
                .bind(&account)
                .fetch_one(&mut *tx)
                .await?;
        crate::staff::audit_change(
            &mut tx,
            actor,
            "partner.deposit",
            Some(&p.actor()),
            Some(&serde_json::json!({"deposit": simrenew_core::Money::new(balance - amount.minor, amount.currency).to_string()}).to_string()),
            Some(&serde_json::json!({"deposit": simrenew_core::Money::new(balance, amount.currency).to_string(), "memo": memo}).to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(simrenew_core::Money::new(balance, amount.currency))
    }

    /// A partner's deposit in `currency` (zero when none was ever credited).
    pub async fn partner_deposit(
        &self,
        partner_id: &str,
        currency: simrenew_core::Currency,
    ) -> Result<simrenew_core::Money> {
        let balance: Option<i64> =
            crate::sql::query_scalar("SELECT balance_minor FROM accounts WHERE id = $1")
                .bind(deposit_account(partner_id, currency))
                .fetch_optional(&self.read)
                .await?;
        Ok(simrenew_core::Money::new(balance.unwrap_or(0), currency))
    }

    /// Adds a partner (audited as done by `actor`).
    pub async fn add_partner(
        &self,
        actor: &str,
        name: &str,
        key_id: &str,
        secret_sealed: &str,
        scopes: &[&str],
    ) -> Result<Partner> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::invalid("name", "must be 1 to 100 characters"));
        }
        let p = Partner {
            id: new_id(),
            name: name.to_string(),
            key_id: key_id.to_string(),
            secret_sealed: secret_sealed.to_string(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            active: true,
            rate_per_minute: 120,
            webhook_url: None,
        };
        let mut tx = self.write.begin().await?;
        crate::sql::query("INSERT INTO partners (id, name, key_id, secret_sealed, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&p.id)
            .bind(&p.name)
            .bind(&p.key_id)
            .bind(&p.secret_sealed)
            .bind(p.scopes.join(" "))
            .bind(now().unix_timestamp())
            .execute(&mut *tx)
            .await?;
        crate::staff::audit_change(
            &mut tx,
            actor,
            "partner.add",
            Some(&p.actor()),
            None,
            Some(&serde_json::json!({"name": p.name, "scopes": p.scopes}).to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Sets how many requests per minute a partner may send (audited).
    pub async fn set_partner_rate(&self, actor: &str, key_id: &str, per_minute: i64) -> Result<()> {
        if !(1..=100_000).contains(&per_minute) {
            return Err(StoreError::invalid(
                "rate_per_minute",
                "must be 1 to 100000",
            ));
        }
        let mut tx = self.write.begin().await?;
        let before: Option<i64> =
            crate::sql::query_scalar("SELECT rate_per_minute FROM partners WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(before) = before else {
            return Err(StoreError::invalid("key_id", "no such partner"));
        };
        crate::sql::query("UPDATE partners SET rate_per_minute = $1 WHERE key_id = $2")
            .bind(per_minute)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        crate::staff::audit_change(
            &mut tx,
            actor,
            "partner.rate",
            Some(&format!("partner:{key_id}")),
            Some(&serde_json::json!({"rate_per_minute": before}).to_string()),
            Some(&serde_json::json!({"rate_per_minute": per_minute}).to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a partner's sealed secret (the demo reseals its partner's at each start).
    pub async fn reseal_partner(&self, key_id: &str, secret_sealed: &str) -> Result<bool> {
        let done = crate::sql::query("UPDATE partners SET secret_sealed = $1 WHERE key_id = $2")
            .bind(secret_sealed)
            .bind(key_id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An active partner by key id.
    pub async fn partner_by_key(&self, key_id: &str) -> Result<Option<Partner>> {
        let row = crate::sql::query("SELECT id, name, key_id, secret_sealed, scopes, active, rate_per_minute, webhook_url FROM partners WHERE key_id = $1 AND active = 1")
            .bind(key_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(partner_of).transpose()
    }

    /// Admits a signed request of a partner: records its nonce (a nonce this partner used
    /// already is a replay; nonces older than `keep_secs` are forgotten, their requests
    /// being stale anyway) and counts it against the partner's rate per minute, in one
    /// transaction, shared by every server on the database.
    pub async fn admit_partner_request(
        &self,
        partner_id: &str,
        nonce: &str,
        keep_secs: i64,
        per_minute: u32,
    ) -> Result<Admission> {
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        crate::sql::query("DELETE FROM partner_nonces WHERE seen_at < $1")
            .bind(at - keep_secs)
            .execute(&mut *tx)
            .await?;
        let res = crate::sql::query(
            "INSERT INTO partner_nonces (partner_id, nonce, seen_at) VALUES ($1, $2, $3)",
        )
        .bind(partner_id)
        .bind(nonce)
        .bind(at)
        .execute(&mut *tx)
        .await;
        match res {
            Err(e) if e.is_unique_violation() => return Ok(Admission::Replayed),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let (count, left) =
            crate::throttles::count_in(&mut tx, "partner-rate", partner_id, 60, at).await?;
        tx.commit().await?;
        Ok(if count > i64::from(per_minute) {
            Admission::RateLimited(left)
        } else {
            Admission::Admitted
        })
    }
}

/// What became of a partner's signed request at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Its nonce was used already.
    Replayed,
    /// Past the partner's rate: the seconds until its window ends (the request counted).
    RateLimited(u64),
}

/// An event for a partner's webhook, as queued and as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerEvent {
    pub id: String,
    pub partner_id: String,
    pub kind: String,
    /// The JSON body posted.
    pub payload: String,
    pub created_at: OffsetDateTime,
    pub attempts: i64,
    pub delivered_at: Option<OffsetDateTime>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

const EVENT_COLUMNS: &str =
    "id, partner_id, type, payload, created_at, attempts, delivered_at, last_status, last_error";

fn event_of(r: &Row) -> Result<PartnerEvent> {
    Ok(PartnerEvent {
        id: r.try_get("id")?,
        partner_id: r.try_get("partner_id")?,
        kind: r.try_get("type")?,
        payload: r.try_get("payload")?,
        created_at: crate::db::from_unix(r.try_get("created_at")?),
        attempts: r.try_get("attempts")?,
        delivered_at: r
            .try_get::<Option<i64>, _>("delivered_at")?
            .map(crate::db::from_unix),
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
    })
}

/// Queues an event about `order` for the partner's webhook, in the caller's transaction.
pub(crate) async fn queue_event(
    tx: &mut Tx,
    partner_id: &str,
    kind: &str,
    order: &crate::orders::Order,
) -> Result<()> {
    let data = serde_json::json!({
        "order_id": order.id,
        "status": order.status.code(),
        "msisdn": format!("+{}", order.msisdn.trim_start_matches('+')),
        "total": {"minor": order.total.minor, "currency": order.total.currency.code()},
        "items": order.items.iter().map(|i| serde_json::json!({
            "type": i.kind,
            "plan_id": i.plan_id,
            "valid_from": i.valid_from.and_then(|t| t.format(&Rfc3339).ok()),
            "valid_until": i.valid_until.and_then(|t| t.format(&Rfc3339).ok()),
        })).collect::<Vec<_>>(),
    });
    queue(tx, partner_id, kind, data).await
}

/// Queues an event of `kind` with `data` for the partner's webhook, in the caller's
/// transaction: `{"id", "type", "created_at", "data"}`.
pub(crate) async fn queue(
    tx: &mut Tx,
    partner_id: &str,
    kind: &str,
    data: serde_json::Value,
) -> Result<()> {
    let id = new_id();
    let at = now();
    let payload = serde_json::json!({
        "id": id,
        "type": kind,
        "created_at": rfc3339(at),
        "data": data,
    });
    crate::sql::query("INSERT INTO partner_events (id, partner_id, type, payload, created_at, available_at) VALUES ($1, $2, $3, $4, $5, $5)")
        .bind(&id)
        .bind(partner_id)
        .bind(kind)
        .bind(payload.to_string())
        .bind(at.unix_timestamp())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The fields every event about one of a partner's lines carries, from a row with the
/// line's `msisdn` and `iccid` and the partner's `order_id` that brought the plan; the
/// caller adds what its event is about.
pub(crate) fn line_event_data(r: &Row) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut data = serde_json::Map::new();
    data.insert(
        "msisdn".into(),
        format!("+{}", r.try_get::<String, _>("msisdn")?).into(),
    );
    data.insert("iccid".into(), r.try_get::<String, _>("iccid")?.into());
    data.insert(
        "order_id".into(),
        r.try_get::<String, _>("order_id")?.into(),
    );
    Ok(data)
}

/// RFC 3339, as every partner event gives instants.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// How long before a partner's line runs out of plan (its last period ends, none queued
/// after it) the partner's `plan.ending` event is queued.
pub const PLAN_ENDING_NOTICE: time::Duration = time::Duration::hours(24);

impl Store {
    /// Queues `plan.ending` for every period a partner's order brought that ends within
    /// [`PLAN_ENDING_NOTICE`] of `at` with no period queued after it on the line, once per
    /// period (the partner's webhook, when it has one). Returns how many were queued.
    pub async fn queue_plan_endings(&self, at: OffsetDateTime) -> Result<usize> {
        let rows = crate::sql::query(
            "SELECT p.id, p.plan_id, p.end_at, o.id AS order_id, o.partner_id, l.msisdn, l.iccid
             FROM periods p JOIN orders o ON o.id = p.order_id
             JOIN partners pa ON pa.id = o.partner_id JOIN lines l ON l.id = p.line_id
             WHERE p.ending_noticed_at IS NULL AND p.order_id IS NOT NULL
               AND p.end_at > $1 AND p.end_at <= $2 AND pa.webhook_url IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM periods q WHERE q.line_id = p.line_id AND q.end_at > p.end_at)
             ORDER BY p.end_at LIMIT 500",
        )
        .bind(at.unix_timestamp())
        .bind((at + PLAN_ENDING_NOTICE).unix_timestamp())
        .fetch_all(&self.read)
        .await?;
        let mut queued = 0;
        for r in &rows {
            let id: String = r.try_get("id")?;
            let mut tx = self.write.begin().await?;
            let claimed = crate::sql::query(
                "UPDATE periods SET ending_noticed_at = $1 WHERE id = $2 AND ending_noticed_at IS NULL",
            )
            .bind(at.unix_timestamp())
            .bind(&id)
            .execute(&mut tx)
            .await?;
            if claimed.rows_affected() != 1 {
                continue;
            }
            let mut data = line_event_data(r)?;
            data.insert("plan_id".into(), r.try_get::<String, _>("plan_id")?.into());
            let end = crate::db::from_unix(r.try_get("end_at")?);
            data.insert("ends_at".into(), rfc3339(end).into());
            let partner: String = r.try_get("partner_id")?;
            queue(&mut tx, &partner, "plan.ending", data.into()).await?;
            tx.commit().await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Sets (or clears) where a partner's events are posted (audited).
    pub async fn set_partner_webhook(
        &self,
        actor: &str,
        key_id: &str,
        url: Option<&str>,
    ) -> Result<()> {
        if let Some(u) = url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(StoreError::invalid("webhook_url", "must be an http(s) URL"));
        }
        let mut tx = self.write.begin().await?;
        let done = crate::sql::query("UPDATE partners SET webhook_url = $1 WHERE key_id = $2")
            .bind(url)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::invalid("key_id", "no such partner"));
        }
        crate::staff::audit_change(
            &mut tx,
            actor,
            "partner.webhook",
            Some(&format!("partner:{key_id}")),
            None,
            Some(&serde_json::json!({"webhook_url": url}).to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A partner by its id (the webhook sender's lookup; inactive ones too).
    pub async fn partner(&self, id: &str) -> Result<Option<Partner>> {
        let row = crate::sql::query("SELECT id, name, key_id, secret_sealed, scopes, active, rate_per_minute, webhook_url FROM partners WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(partner_of).transpose()
    }

    /// Claims up to `limit` due events for `lease_secs` (a sender that dies leaves them
    /// due again).
    pub async fn claim_partner_events(
        &self,
        limit: i64,
        lease_secs: i64,
    ) -> Result<Vec<PartnerEvent>> {
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM partner_events WHERE delivered_at IS NULL AND available_at <= $1 ORDER BY available_at LIMIT $2"
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(at)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let events: Vec<PartnerEvent> = rows.iter().map(event_of).collect::<Result<_>>()?;
        for e in &events {
            crate::sql::query("UPDATE partner_events SET available_at = $1 WHERE id = $2")
                .bind(at + lease_secs)
                .bind(&e.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(events)
    }

    /// Records one delivery attempt: delivered, or due again in `retry_in_secs`.
    pub async fn record_event_attempt(
        &self,
        id: &str,
        status: Option<i64>,
        error: Option<&str>,
        retry_in_secs: i64,
    ) -> Result<()> {
        let at = now().unix_timestamp();
        let delivered = error.is_none();
        crate::sql::query("UPDATE partner_events SET attempts = attempts + 1, last_status = $1, last_error = $2, delivered_at = $3, available_at = $4 WHERE id = $5")
            .bind(status)
            .bind(error)
            .bind(delivered.then_some(at))
            .bind(at + retry_in_secs)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// A partner's events, newest first: its delivery log.
    pub async fn partner_events(&self, partner_id: &str, limit: i64) -> Result<Vec<PartnerEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM partner_events WHERE partner_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(partner_id)
            .bind(limit)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(event_of)
            .collect()
    }
}

/// One line of a partner's wholesale price list: what the partner pays from its deposit
/// for `plan_id`, in the price's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholesalePrice<'a> {
    pub plan_id: &'a str,
    pub price: simrenew_core::Money,
}

/// A partner's wholesale prices in `currency`, by plan id: what [`Store::price`] charges
/// its deposit when lower than the retail price.
pub(crate) async fn wholesale_in(
    conn: &mut crate::sql::Conn,
    partner_id: &str,
    currency: simrenew_core::Currency,
) -> Result<std::collections::HashMap<String, simrenew_core::Money>> {
    let rows = crate::sql::query(
        "SELECT plan_id, price_minor FROM partner_prices WHERE partner_id = $1 AND currency = $2",
    )
    .bind(partner_id)
    .bind(currency.code())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("plan_id")?,
                simrenew_core::Money::new(r.try_get("price_minor")?, currency),
            ))
        })
        .collect()
}

/// A stored wholesale price, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPrice {
    pub plan_id: String,
    pub price: simrenew_core::Money,
}

impl Store {
    /// Replaces a partner's whole wholesale price list with `prices` (an empty list
    /// clears it), audited with the list before and after. Refused whole, naming the
    /// entry, when a plan is unknown, a price is not above zero or above the catalog's
    /// largest price, or a plan is listed twice in one currency.
    pub async fn set_wholesale_prices(
        &self,
        actor: &str,
        key_id: &str,
        prices: &[WholesalePrice<'_>],
    ) -> Result<usize> {
        let mut seen = std::collections::HashSet::new();
        for (i, w) in prices.iter().enumerate() {
            if w.price.minor <= 0 || w.price.minor > simrenew_core::plan::MAX_PLAN_PRICE_MINOR {
                return Err(StoreError::invalid(
                    &format!("prices[{i}].price"),
                    format!(
                        "must be more than 0 and at most {}",
                        simrenew_core::Money::new(
                            simrenew_core::plan::MAX_PLAN_PRICE_MINOR,
                            w.price.currency
                        )
                    ),
                ));
            }
            if !seen.insert((w.plan_id, w.price.currency)) {
                return Err(StoreError::invalid(
                    &format!("prices[{i}].plan_id"),
                    format!("{} is listed twice in {}", w.plan_id, w.price.currency),
                ));
            }
        }
        let mut tx = self.write.begin().await?;
        let partner_id: Option<String> =
            crate::sql::query_scalar("SELECT id FROM partners WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(partner_id) = partner_id else {
            return Err(StoreError::invalid("key_id", "no such partner"));
        };
        let before = listed_in(&mut tx, &partner_id).await?;
        for (i, w) in prices.iter().enumerate() {
            let known: Option<String> =
                crate::sql::query_scalar("SELECT id FROM plans WHERE id = $1")
                    .bind(w.plan_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if known.is_none() {
                return Err(StoreError::invalid(
                    &format!("prices[{i}].plan_id"),
                    format!("no plan {}", w.plan_id),
                ));
            }
        }
        crate::sql::query("DELETE FROM partner_prices WHERE partner_id = $1")
            .bind(&partner_id)
            .execute(&mut *tx)
            .await?;
        for w in prices {
            crate::sql::query("INSERT INTO partner_prices (partner_id, plan_id, currency, price_minor) VALUES ($1, $2, $3, $4)")
                .bind(&partner_id)
                .bind(w.plan_id)
                .bind(w.price.currency.code())
                .bind(w.price.minor)
                .execute(&mut *tx)
                .await?;
        }
        let shown = |list: &[ListedPrice]| {
            serde_json::Value::from(
                list.iter()
                    .map(
                        |l| serde_json::json!({"plan_id": l.plan_id, "price": l.price.to_string()}),
                    )
                    .collect::<Vec<_>>(),
            )
            .to_string()
        };
        let after = listed_in(&mut tx, &partner_id).await?;
        crate::staff::audit_change(
            &mut tx,
            actor,
            "partner.prices",
            Some(&format!("partner:{key_id}")),
            Some(&shown(&before)),
            Some(&shown(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after.len())
    }

    /// A partner's wholesale price list, by plan and currency.
    pub async fn wholesale_prices(&self, partner_id: &str) -> Result<Vec<ListedPrice>> {
        let mut conn = self.read.acquire().await?;
        listed_in(&mut conn, partner_id).await
    }
}

async fn listed_in(conn: &mut crate::sql::Conn, partner_id: &str) -> Result<Vec<ListedPrice>> {
    let rows = crate::sql::query(
        "SELECT plan_id, currency, price_minor FROM partner_prices WHERE partner_id = $1 ORDER BY plan_id, currency",
    )
    .bind(partner_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let code: String = r.try_get("currency")?;
            let currency = code
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("wholesale price in {code}")))?;
            Ok(ListedPrice {
                plan_id: r.try_get("plan_id")?,
                price: simrenew_core::Money::new(r.try_get("price_minor")?, currency),
            })
        })
        .collect()
}

impl Store {
    /// Whether `partner_id` has sold to the line: an order of it, paid from the partner's
    /// deposit. Such a partner sees the line as its owner does (the customer bought
    /// through it); any other partner sees what anyone sees.
    pub async fn partner_sold_to(&self, partner_id: &str, line_id: &str) -> Result<bool> {
        let found: Option<String> = crate::sql::query_scalar(
            "SELECT id FROM orders WHERE partner_id = $1 AND line_id = $2 LIMIT 1",
        )
        .bind(partner_id)
        .bind(line_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(found.is_some())
    }
}
