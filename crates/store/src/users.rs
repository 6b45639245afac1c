//! Customer accounts: sign-up and sign-in with e-mail and password (argon2id, RFC 9106
//! defaults of the argon2 crate), and bearer sessions kept as SHA-256 of the token, so a
//! copy of the database gives no usable token.

use crate::db::{Store, new_id, new_secret, now, sha256_hex};
use crate::error::{Result, StoreError};
use crate::sql::Row;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use time::Duration;

/// How long a session lasts without signing in again.
pub const SESSION_DAYS: i64 = 30;
/// How long a password-reset link works.
pub const RESET_MINUTES: i64 = 60;
/// How long an idempotency key and its stored answer are kept; a retry later than this
/// counts as a new request.
pub const IDEMPOTENCY_HOURS: i64 = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub locale: Option<String>,
}

/// Checks and normalizes an e-mail address (lower case, trimmed).
pub fn normalize_email(s: &str) -> Result<String> {
    let e = s.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !e.chars().any(char::is_whitespace);
    if ok {
        Ok(e)
    } else {
        Err(StoreError::invalid("email", "is not an e-mail address"))
    }
}

/// The longest password taken, in characters (Unicode scalar values, as JSON Schema's
/// `maxLength` counts them).
pub const MAX_PASSWORD_CHARS: usize = 256;

pub(crate) fn check_password(p: &str) -> Result<()> {
    let n = p.chars().count();
    if n < 8 {
        return Err(StoreError::invalid(
            "password",
            "must be at least 8 characters",
        ));
    }
    // As the API documents it (`maxLength: 256`); argon2 then hashes at most 1 KiB.
    if n > MAX_PASSWORD_CHARS {
        return Err(StoreError::invalid(
            "password",
            "must be at most 256 characters",
        ));
    }
    Ok(())
}

pub(crate) fn hash_password(p: &str) -> Result<String> {
    Argon2::default()
        .hash_password(p.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Corrupt(format!("password hashing failed: {e}")))
}

/// A hash of no one's password, verified against when the e-mail is unknown, so that
/// sign-in takes as long whether or not the address exists.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_secret()).unwrap_or_default())
}

fn user_of(r: &Row) -> Result<User> {
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        locale: r.try_get("locale")?,
    })
}

impl Store {
    pub async fn sign_up(&self, email: &str, password: &str, locale: Option<&str>) -> Result<User> {
        let email = normalize_email(email)?;
        check_password(password)?;
        let hash = hash_password(password)?;
        let id = new_id();
        let res = crate::sql::query("INSERT INTO users (id, email, password_hash, locale, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(&email)
            .bind(hash)
            .bind(locale)
            .bind(now().unix_timestamp())
            .execute(&self.write)
            .await;
        match res {
            Err(e) if e.is_unique_violation() => Err(StoreError::EmailTaken),
            Err(e) => Err(e),
            Ok(_) => Ok(User {
                id,
                email,
                locale: locale.map(str::to_string),
            }),
        }
    }

    /// Checks the password and opens a session; returns the bearer token (shown once).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<(String, User)> {
        let email = normalize_email(email).map_err(|_| StoreError::BadCredentials)?;
        let row = crate::sql::query("SELECT id, password_hash, locale FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.read)
            .await?;
        let (stored, user) = match &row {
            Some(r) => (
                r.try_get::<String, _>("password_hash")?,
                Some(User {
                    id: r.try_get("id")?,
                    email: email.clone(),
                    locale: r.try_get("locale")?,
                }),
            ),
            None => (decoy_hash().to_string(), None),
        };
        let verified = Argon2::default()
            .verify_password(password.as_bytes(), stored.as_str())
            .is_ok();
        let Some(user) = user.filter(|_| verified) else {
            return Err(StoreError::BadCredentials);
        };
        let token = self.open_session(&user.id).await?;
        Ok((token, user))
    }

    /// Opens a session for a user whose identity was just proven (a password checked, an
    /// account just created); returns the bearer token, which is stored only hashed.
    pub async fn open_session(&self, user_id: &str) -> Result<String> {
        let token = new_secret();
        let at = now();
        crate::sql::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(sha256_hex(token.as_bytes()))
            .bind(user_id)
            .bind(at.unix_timestamp())
            .bind((at + Duration::days(SESSION_DAYS)).unix_timestamp())
            .execute(&self.write)
            .await?;
        Ok(token)
    }

    /// A customer by e-mail address (support's search); None when no such account.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let Ok(email) = normalize_email(email) else {
            return Ok(None);
        };
        let row = crate::sql::query("SELECT id, email, locale FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(user_of).transpose()
    }

    /// A customer by id (a line's owner, an order's buyer).
    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let row = crate::sql::query("SELECT id, email, locale FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(user_of).transpose()
    }

    /// The user a bearer token belongs to, if the session is live.
    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        let row = crate::sql::query(
            "SELECT u.id, u.email, u.locale FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(sha256_hex(token.as_bytes()))
        .bind(now().unix_timestamp())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(user_of).transpose()
    }

    /// Starts a password reset for `email`: when an account has that address, a one-time
    /// token (valid `RESET_MINUTES`, stored hashed) and the e-mail `mail` makes of it (the
    /// user, the token) are written in one transaction. An unknown address does nothing
    /// and looks the same to the caller, so the answer reveals no accounts.
    pub async fn request_password_reset(
        &self,
        email: &str,
        mail: impl Fn(&User, &str) -> crate::outbox::Message,
    ) -> Result<()> {
        let Ok(email) = normalize_email(email) else {
            return Ok(());
        };
        let row = crate::sql::query("SELECT id, locale FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.read)
            .await?;
        let Some(r) = row else { return Ok(()) };
        let user = User {
            id: r.try_get("id")?,
            email,
            locale: r.try_get("locale")?,
        };
        let token = new_secret();
        let at = now();
        let mut tx = self.write.begin().await?;
        crate::sql::query("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(sha256_hex(token.as_bytes()))
            .bind(&user.id)
            .bind(at.unix_timestamp())
            .bind((at + Duration::minutes(RESET_MINUTES)).unix_timestamp())
            .execute(&mut *tx)
            .await?;
        crate::outbox::queue_message(&mut tx, crate::outbox::MAIL, &mail(&user, &token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a reset token is live (unused, unexpired): the page asks before showing
    /// the new-password form.
    pub async fn reset_token_valid(&self, token: &str) -> Result<bool> {
        let row = crate::sql::query("SELECT 1 AS ok FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
            .bind(sha256_hex(token.as_bytes()))
            .bind(now().unix_timestamp())
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }

    /// Sets a new password with a live reset token, once: the token is spent, every
    /// session of the account ends (whoever knew the old password is signed out), and a
    /// new session is opened; returns its token.
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<String> {
        check_password(password)?;
        let hash = hash_password(password)?;
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let row = crate::sql::query("UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id")
            .bind(at)
            .bind(sha256_hex(token.as_bytes()))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::ResetTokenInvalid);
        };
        let user_id: String = row.try_get("user_id")?;
        crate::sql::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        crate::sql::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.open_session(&user_id).await
    }

    /// Remembers the language a user chose (pages and messages use it).
    pub async fn set_user_locale(&self, user_id: &str, locale: &str) -> Result<()> {
        crate::sql::query("UPDATE users SET locale = $1 WHERE id = $2")
            .bind(locale)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Deletes expired sessions and idempotency keys older than `IDEMPOTENCY_HOURS`
    /// (returns how many of each went), and throttle windows long ended.
    pub async fn purge_expired(&self) -> Result<(u64, u64)> {
        let at = now().unix_timestamp();
        let sessions = crate::sql::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(at)
            .execute(&self.write)
            .await?
            .rows_affected();
        let keys = crate::sql::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(at - IDEMPOTENCY_HOURS * 3600)
            .execute(&self.write)
            .await?
            .rows_affected();
        crate::sql::query("DELETE FROM throttles WHERE window_start < $1")
            .bind(at - crate::throttles::KEEP_SECS)
            .execute(&self.write)
            .await?;
        Ok((sessions, keys))
    }

    pub async fn sign_out(&self, token: &str) -> Result<()> {
        crate::sql::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(sha256_hex(token.as_bytes()))
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Li.Wei@Example.CN ").unwrap(),
            "li.wei@example.cn"
        );
        for bad in ["", "a@", "@b.c", "a@b", "a b@c.d", "a@b.c@d.e", "a@.cn"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
