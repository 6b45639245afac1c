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
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
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

impl Store {
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
