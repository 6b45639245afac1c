//! Attempts counted per key in a fixed window, in the database, so every server on it
//! shares the count: several `simrenew serve` processes on one PostgreSQL allow a guesser
//! `limit` tries in all, not `limit` per process, and a partner its rate in all. Keys are
//! stored hashed (SHA-256 of the key as given): the table holds no e-mail address or
//! client address in the clear.

use crate::db::{Store, now, sha256_hex};
use crate::error::Result;
use crate::sql::Tx;

/// Windows that ended this long ago are deleted by housekeeping.
pub(crate) const KEEP_SECS: i64 = 24 * 3600;

/// Seconds left, at least one, of a window that began at `start`.
fn seconds_left(start: i64, window_secs: i64, at: i64) -> u64 {
    (start + window_secs - at).max(1).unsigned_abs()
}

/// Counts one more attempt of `key` at `at`, in `tx`: the first of a new window when the
/// key's last window (`window_secs` from its first attempt) has ended. One statement, so
/// attempts racing on several servers are all counted. Returns how many the window holds
/// now and the seconds left of it.
pub(crate) async fn count_in(
    tx: &mut Tx,
    scope: &str,
    key: &str,
    window_secs: i64,
    at: i64,
) -> Result<(i64, u64)> {
    let row = crate::sql::query(
        "INSERT INTO throttles (scope, key_hash, window_start, failures) VALUES ($1, $2, $3, 1)
         ON CONFLICT (scope, key_hash) DO UPDATE SET
           failures = CASE WHEN throttles.window_start <= $4 THEN 1 ELSE throttles.failures + 1 END,
           window_start = CASE WHEN throttles.window_start <= $4 THEN $3 ELSE throttles.window_start END
         RETURNING window_start, failures",
    )
    .bind(scope)
    .bind(sha256_hex(key.as_bytes()))
    .bind(at)
    .bind(at - window_secs)
    .fetch_one(&mut **tx)
    .await?;
    let start: i64 = row.try_get("window_start")?;
    let count: i64 = row.try_get("failures")?;
    Ok((count, seconds_left(start, window_secs, at)))
}

impl Store {
    /// `Some(seconds to wait)` when `key` has used up its `limit` attempts of the window
    /// (`window_secs`, counted from its first attempt); `None` while it may try.
    pub async fn throttle_wait(
        &self,
        scope: &str,
        key: &str,
        limit: u32,
        window_secs: i64,
    ) -> Result<Option<u64>> {
        let row = crate::sql::query(
            "SELECT window_start, failures FROM throttles WHERE scope = $1 AND key_hash = $2",
        )
        .bind(scope)
        .bind(sha256_hex(key.as_bytes()))
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let start: i64 = row.try_get("window_start")?;
        let failures: i64 = row.try_get("failures")?;
        let at = now().unix_timestamp();
        let open = start + window_secs > at;
        Ok((failures >= i64::from(limit) && open).then(|| seconds_left(start, window_secs, at)))
    }

    /// Counts one failed attempt of `key`.
    pub async fn throttle_count(&self, scope: &str, key: &str, window_secs: i64) -> Result<()> {
        let mut tx = self.write.begin().await?;
        count_in(&mut tx, scope, key, window_secs, now().unix_timestamp()).await?;
        tx.commit().await
    }

    /// Forgets `key`'s attempts (a success).
    pub async fn throttle_clear(&self, scope: &str, key: &str) -> Result<()> {
        crate::sql::query("DELETE FROM throttles WHERE scope = $1 AND key_hash = $2")
            .bind(scope)
            .bind(sha256_hex(key.as_bytes()))
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
