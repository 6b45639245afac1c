//! Staff of the console: accounts with a role (`simrenew_core::staff::Role`), an
//! argon2id password and an optional TOTP second factor; sessions that end after
//! [`STAFF_IDLE_MINUTES`] without use and [`STAFF_SESSION_HOURS`] after sign-in (a shift);
//! and the audit log every staff action writes in its own transaction (who, what, on
//! what, before and after), which the database itself refuses to change.

use crate::db::{Store, from_unix, new_id, new_secret, now, sha256_hex};
use crate::error::{Result, StoreError};
use crate::sql::{Row, Tx};
use crate::users::{check_password, decoy_hash, hash_password, normalize_email};
use argon2::{Argon2, PasswordVerifier};
use simrenew_core::staff::Role;
use time::OffsetDateTime;

/// A staff session ends this long after its last use…
pub const STAFF_IDLE_MINUTES: i64 = 30;
/// …and this long after sign-in, whatever happens.
pub const STAFF_SESSION_HOURS: i64 = 12;

/// A member of staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// A second factor (TOTP) is set up.
    pub totp: bool,
    pub active: bool,
}

impl Staff {
    /// How the audit log names them.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.email)
    }
}

/// An entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

const COLUMNS: &str = "id, email, name, role, totp_secret, active";

fn staff_of(r: &Row) -> Result<Staff> {
    let role: String = r.try_get("role")?;
    let secret: Option<String> = r.try_get("totp_secret")?;
    Ok(Staff {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("staff role {role}")))?,
        totp: secret.is_some(),
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

/// The public view of a staff member for the audit log's before/after.
fn snapshot(s: &Staff) -> String {
    serde_json::json!({"email": s.email, "name": s.name, "role": s.role.code(), "totp": s.totp, "active": s.active})
        .to_string()
}

/// Appends to the audit log inside the caller's transaction: who, what, on what, and the
/// subject before and after (JSON), when the action changed one.
pub(crate) async fn audit_change(
    tx: &mut Tx,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<()> {
    crate::sql::query("INSERT INTO audit_log (at, actor, action, subject, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(now().unix_timestamp())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(before)
        .bind(after)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Adds a member of staff (audited as done by `actor`: an admin, or `cli:<user>`).
    pub async fn add_staff(
        &self,
        actor: &str,
        email: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<Staff> {
        let email = normalize_email(email)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::invalid("name", "must be 1 to 100 characters"));
        }
        check_password(password)?;
        let hash = hash_password(password)?;
        let staff = Staff {
            id: new_id(),
            email,
            name: name.to_string(),
            role,
            totp: false,
            active: true,
        };
        let mut tx = self.write.begin().await?;
        let res = crate::sql::query("INSERT INTO staff (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&staff.id)
            .bind(&staff.email)
            .bind(&staff.name)
            .bind(role.code())
            .bind(hash)
            .bind(now().unix_timestamp())
            .execute(&mut *tx)
            .await;
        match res {
            Err(e) if e.is_unique_violation() => return Err(StoreError::EmailTaken),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        audit_change(
            &mut tx,
            actor,
            "staff.add",
            Some(&staff.actor()),
            None,
            Some(&snapshot(&staff)),
        )
        .await?;
        tx.commit().await?;
        Ok(staff)
    }

    /// Every member of staff, by e-mail.
    pub async fn list_staff(&self) -> Result<Vec<Staff>> {
        let sql = format!("SELECT {COLUMNS} FROM staff ORDER BY email");
        crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(staff_of)
            .collect()
    }

    /// Checks e-mail, password and — when set up — the authenticator's code, and opens a
    /// session (the token, shown once). Audited, failures included (without the
    /// password). `TotpRequired` asks for the code; the password was right.
    pub async fn staff_sign_in(
        &self,
        email: &str,
        password: &str,
        totp_code: Option<&str>,
    ) -> Result<(String, Staff)> {
        let email = normalize_email(email).map_err(|_| StoreError::BadCredentials)?;
        let sql =
            format!("SELECT {COLUMNS}, password_hash, totp_last_step FROM staff WHERE email = $1");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&email)
            .fetch_optional(&self.read)
            .await?;
        let stored = match &row {
            Some(r) => r.try_get::<String, _>("password_hash")?,
            None => decoy_hash().to_string(),
        };
        let verified = argon2::PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        let failed = |why: &'static str| async move {
            let mut tx = self.write.begin().await?;
            audit_change(&mut tx, &format!("staff:{email}"), why, None, None, None).await?;
            tx.commit().await?;
            Ok::<(), StoreError>(())
        };
        let Some(r) = row.filter(|_| verified) else {
            failed("staff.sign_in_failed").await?;
            return Err(StoreError::BadCredentials);
        };
        let staff = staff_of(&r)?;
        if !staff.active {
            failed("staff.sign_in_failed").await?;
            return Err(StoreError::BadCredentials);
        }
        let mut tx = self.write.begin().await?;
        if let Some(secret) = r.try_get::<Option<String>, _>("totp_secret")? {
            let Some(code) = totp_code.filter(|c| !c.trim().is_empty()) else {
                return Err(StoreError::TotpRequired);
            };
            let key = simrenew_core::totp::base32_decode(&secret)
                .ok_or_else(|| StoreError::Corrupt("totp secret".into()))?;
            let used: Option<i64> = r.try_get("totp_last_step")?;
            let Some(step) = simrenew_core::totp::verify(&key, code, now().unix_timestamp(), used)
            else {
                drop(tx);
                failed("staff.totp_failed").await?;
                return Err(StoreError::WrongTotp);
            };
            // Remembered in the same transaction, conditionally: a code is good once,
            // even when two sign-ins race with it.
            let done = crate::sql::query("UPDATE staff SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
                .bind(step)
                .bind(&staff.id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                drop(tx);
                failed("staff.totp_failed").await?;
                return Err(StoreError::WrongTotp);
            }
        }
        let token = new_secret();
        let at = now().unix_timestamp();
        crate::sql::query("INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)")
            .bind(sha256_hex(token.as_bytes()))
            .bind(&staff.id)
            .bind(at)
            .bind(at + STAFF_SESSION_HOURS * 3600)
            .execute(&mut *tx)
            .await?;
        audit_change(&mut tx, &staff.actor(), "staff.sign_in", None, None, None).await?;
        tx.commit().await?;
        Ok((token, staff))
    }

    /// The member of staff of a live session, which this use keeps alive; None when the
    /// session is unknown, idle too long, past its shift, or its holder deactivated.
    pub async fn staff_by_token(&self, token: &str) -> Result<Option<Staff>> {
        let at = now().unix_timestamp();
        let hash = sha256_hex(token.as_bytes());
        let row = crate::sql::query("SELECT s.id, s.email, s.name, s.role, s.totp_secret, s.active FROM staff_sessions x JOIN staff s ON s.id = x.staff_id WHERE x.token_hash = $1 AND x.expires_at > $2 AND x.last_seen_at > $3 AND s.active = 1")
            .bind(&hash)
            .bind(at)
            .bind(at - STAFF_IDLE_MINUTES * 60)
            .fetch_optional(&self.read)
            .await?;
        let Some(r) = row else { return Ok(None) };
        // Kept alive at most once a minute (a write per page would be a write too many).
        crate::sql::query("UPDATE staff_sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at < $3")
            .bind(at)
            .bind(&hash)
            .bind(at - 60)
            .execute(&self.write)
            .await?;
        staff_of(&r).map(Some)
    }

    /// Ends a session (audited).
    pub async fn staff_sign_out(&self, token: &str, staff: &Staff) -> Result<()> {
        let mut tx = self.write.begin().await?;
        crate::sql::query("DELETE FROM staff_sessions WHERE token_hash = $1")
            .bind(sha256_hex(token.as_bytes()))
            .execute(&mut *tx)
            .await?;
        audit_change(&mut tx, &staff.actor(), "staff.sign_out", None, None, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes one's own password, the current one proving it is them; their other
    /// sessions end. Audited (without the passwords).
    pub async fn change_staff_password(
        &self,
        staff: &Staff,
        current: &str,
        new: &str,
        keep_token: &str,
    ) -> Result<()> {
        check_password(new)?;
        let stored: String =
            crate::sql::query_scalar("SELECT password_hash FROM staff WHERE id = $1")
                .bind(&staff.id)
                .fetch_one(&self.read)
                .await?;
        let ok = argon2::PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(current.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        if !ok {
            return Err(StoreError::BadCredentials);
        }
        let hash = hash_password(new)?;
        let mut tx = self.write.begin().await?;
        crate::sql::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(&staff.id)
            .execute(&mut *tx)
            .await?;
        crate::sql::query("DELETE FROM staff_sessions WHERE staff_id = $1 AND token_hash <> $2")
            .bind(&staff.id)
            .bind(sha256_hex(keep_token.as_bytes()))
            .execute(&mut *tx)
            .await?;
        audit_change(
            &mut tx,
            &staff.actor(),
            "staff.password_changed",
            Some(&staff.actor()),
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns a member of staff off (their sessions end at once; they cannot sign in) or
    /// on again. Audited with before and after; nobody turns themself off.
    pub async fn set_staff_active(
        &self,
        actor: &Staff,
        email: &str,
        active: bool,
    ) -> Result<Staff> {
        let email = normalize_email(email)?;
        if email == actor.email && !active {
            return Err(StoreError::invalid("email", "you cannot turn yourself off"));
        }
        let mut tx = self.write.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM staff WHERE email = $1");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::invalid("email", "no member of staff has this address"))?;
        let before = staff_of(&row)?;
        crate::sql::query("UPDATE staff SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(&before.id)
            .execute(&mut *tx)
            .await?;
        if !active {
            crate::sql::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                .bind(&before.id)
                .execute(&mut *tx)
                .await?;
        }
        let after = Staff {
            active,
            ..before.clone()
        };
        audit_change(
            &mut tx,
            &actor.actor(),
            if active {
                "staff.activated"
            } else {
                "staff.deactivated"
            },
            Some(&before.actor()),
            Some(&snapshot(&before)),
            Some(&snapshot(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Sets up the second factor: `secret` (base32) is kept once `code` proves the
    /// authenticator app has it. Audited (the secret is not).
    pub async fn enable_totp(&self, staff: &Staff, secret: &str, code: &str) -> Result<Staff> {
        let key = simrenew_core::totp::base32_decode(secret)
            .filter(|k| k.len() >= 10)
            .ok_or_else(|| {
                StoreError::invalid("secret", "is not a base32 secret of 80 bits or more")
            })?;
        let step = simrenew_core::totp::verify(&key, code, now().unix_timestamp(), None)
            .ok_or(StoreError::WrongTotp)?;
        let mut tx = self.write.begin().await?;
        crate::sql::query("UPDATE staff SET totp_secret = $1, totp_last_step = $2 WHERE id = $3")
            .bind(simrenew_core::totp::base32_encode(&key))
            .bind(step)
            .bind(&staff.id)
            .execute(&mut *tx)
            .await?;
        let after = Staff {
            totp: true,
            ..staff.clone()
        };
        audit_change(
            &mut tx,
            &staff.actor(),
            "staff.totp_enabled",
            Some(&staff.actor()),
            Some(&snapshot(staff)),
            Some(&snapshot(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Writes an audit entry on its own (for actions made of several transactions, such
    /// as a stock import: the entry records their outcome).
    pub async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        after: &str,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        audit_change(&mut tx, actor, action, Some(subject), None, Some(after)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest audit entries (at most `limit`), optionally of one actor or subject.
    pub async fn audit_entries(&self, limit: i64, who: Option<&str>) -> Result<Vec<AuditEntry>> {
        let rows = crate::sql::query("SELECT id, at, actor, action, subject, detail, before_json, after_json FROM audit_log WHERE ($1 IS NULL OR actor = $1 OR subject = $1) ORDER BY id DESC LIMIT $2")
            .bind(who)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: from_unix(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    subject: r.try_get("subject")?,
                    detail: r.try_get("detail")?,
                    before: r.try_get("before_json")?,
                    after: r.try_get("after_json")?,
                })
            })
            .collect()
    }
}
