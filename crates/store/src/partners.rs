//! Partners of the partner API: who they are, their key id, their signing secret as the
//! web layer sealed it (the store never sees it in the clear), their scopes; and the
//! nonces of their recent requests, each accepted once.

use crate::db::{Store, new_id, now};
use crate::error::{Result, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

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

fn partner_of(r: &AnyRow) -> Result<Partner> {
    let scopes: String = r.try_get("scopes")?;
    Ok(Partner {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        key_id: r.try_get("key_id")?,
        secret_sealed: r.try_get("secret_sealed")?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        active: r.try_get::<i64, _>("active")? != 0,
        rate_per_minute: r.try_get("rate_per_minute")?,
    })
}

/// The ledger account of a partner's prepaid deposit in `currency`.
pub fn deposit_account(partner_id: &str, currency: simrenew_core::Currency) -> String {
    format!("partner:{partner_id}:{currency}")
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
        sqlx::query("INSERT INTO accounts (id, currency, kind) VALUES ($1, $2, 'system') ON CONFLICT (id) DO NOTHING")
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
        let balance: i64 = sqlx::query_scalar("SELECT balance_minor FROM accounts WHERE id = $1")
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
            sqlx::query_scalar("SELECT balance_minor FROM accounts WHERE id = $1")
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
        };
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO partners (id, name, key_id, secret_sealed, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
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
            sqlx::query_scalar("SELECT rate_per_minute FROM partners WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(before) = before else {
            return Err(StoreError::invalid("key_id", "no such partner"));
        };
        sqlx::query("UPDATE partners SET rate_per_minute = $1 WHERE key_id = $2")
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
        let done = sqlx::query("UPDATE partners SET secret_sealed = $1 WHERE key_id = $2")
            .bind(secret_sealed)
            .bind(key_id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An active partner by key id.
    pub async fn partner_by_key(&self, key_id: &str) -> Result<Option<Partner>> {
        let row = sqlx::query("SELECT id, name, key_id, secret_sealed, scopes, active, rate_per_minute FROM partners WHERE key_id = $1 AND active = 1")
            .bind(key_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(partner_of).transpose()
    }

    /// Records a request's nonce: false when this partner used it already (a replay).
    /// Nonces older than `keep_secs` are forgotten (their requests are stale anyway).
    pub async fn use_nonce(&self, partner_id: &str, nonce: &str, keep_secs: i64) -> Result<bool> {
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM partner_nonces WHERE seen_at < $1")
            .bind(at - keep_secs)
            .execute(&mut *tx)
            .await?;
        let res = sqlx::query(
            "INSERT INTO partner_nonces (partner_id, nonce, seen_at) VALUES ($1, $2, $3)",
        )
        .bind(partner_id)
        .bind(nonce)
        .bind(at)
        .execute(&mut *tx)
        .await;
        match res.map_err(StoreError::from) {
            Err(e) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e),
            Ok(_) => {
                tx.commit().await?;
                Ok(true)
            }
        }
    }
}
