//! Idempotency keys: a request that changes money or quota carries a key; its first
//! successful answer is stored in the same transaction as the change, so a retry with the
//! same key and body gets that answer back and changes nothing, and a retry with another
//! body is refused. Failed requests change nothing and store nothing, so they may be retried.

use crate::db::{Store, now};
use crate::error::Result;
use crate::sql::Tx;

/// A caller's claim on a key: who (scope), which key, and a hash of what was asked.
#[derive(Debug, Clone)]
pub struct IdemClaim {
    /// The principal the key belongs to (`user:<id>`, `feed`, `anon`): keys of different
    /// callers never collide.
    pub scope: String,
    pub key: String,
    /// SHA-256 of the method, path and body.
    pub request_hash: String,
}

/// How to store the answer to a request: the claim and a renderer of the result into the
/// HTTP status and body the caller would have received.
pub struct Idem<'a, T> {
    pub claim: &'a IdemClaim,
    pub render: &'a (dyn Fn(&T) -> (u16, String) + Sync),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

impl Store {
    /// The stored answer for a key, if a request with it succeeded before.
    pub async fn stored_response(&self, scope: &str, key: &str) -> Result<Option<StoredResponse>> {
        let row = crate::sql::query("SELECT request_hash, status_code, body FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            Ok(StoredResponse {
                request_hash: r.try_get("request_hash")?,
                status: u16::try_from(r.try_get::<i64, _>("status_code")?).unwrap_or(200),
                body: r.try_get("body")?,
            })
        })
        .transpose()
    }
}

/// Stores the answer inside the transaction that made the change. A concurrent request
/// with the same key makes one of the two fail here on the primary key, and roll back.
pub(crate) async fn remember<T>(tx: &mut Tx, idem: Option<&Idem<'_, T>>, result: &T) -> Result<()> {
    let Some(idem) = idem else { return Ok(()) };
    let (status, body) = (idem.render)(result);
    crate::sql::query("INSERT INTO idempotency_keys (scope, key, request_hash, status_code, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&idem.claim.scope)
        .bind(&idem.claim.key)
        .bind(&idem.claim.request_hash)
        .bind(i64::from(status))
        .bind(body)
        .bind(now().unix_timestamp())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
