//! Slows down guessing: at most `limit` failed attempts per key (an e-mail address, a
//! line being attached, a client address reserving eSIMs) in a window; past that, 429
//! with `Retry-After` until the window ends. Counted in the database
//! (`simrenew_store::throttles`), so every server on it shares the count; keys are
//! normalized (case and spaces around them make no new key) and stored hashed. A success
//! clears the key's count.

use simrenew_store::Store;
use std::time::Duration;

pub struct Throttle {
    store: Store,
    scope: &'static str,
    limit: u32,
    window_secs: i64,
}

impl Throttle {
    pub fn new(store: Store, scope: &'static str, limit: u32, window: Duration) -> Self {
        Self {
            store,
            scope,
            limit,
            window_secs: i64::try_from(window.as_secs()).unwrap_or(i64::MAX),
        }
    }

    fn key(key: &str) -> String {
        key.trim().to_lowercase()
    }

    /// `Err(seconds to wait)` when the key has used up its attempts. A database that
    /// cannot be asked lets the attempt through (logged): the attempt itself needs it.
    pub async fn check(&self, key: &str) -> Result<(), u64> {
        match self
            .store
            .throttle_wait(self.scope, &Self::key(key), self.limit, self.window_secs)
            .await
        {
            Ok(None) => Ok(()),
            Ok(Some(wait)) => Err(wait),
            Err(e) => {
                tracing::warn!(error = %e, scope = self.scope, "throttle not readable");
                Ok(())
            }
        }
    }

    pub async fn failed(&self, key: &str) {
        if let Err(e) = self
            .store
            .throttle_count(self.scope, &Self::key(key), self.window_secs)
            .await
        {
            tracing::warn!(error = %e, scope = self.scope, "throttle not counted");
        }
    }

    pub async fn succeeded(&self, key: &str) {
        if let Err(e) = self.store.throttle_clear(self.scope, &Self::key(key)).await {
            tracing::warn!(error = %e, scope = self.scope, "throttle not cleared");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    #[test]
    fn keys_ignore_case_and_surrounding_spaces() {
        assert_eq!(Throttle::key(" A@x.CN "), Throttle::key("a@x.cn"));
        assert_ne!(Throttle::key("a@x.cn"), Throttle::key("b@x.cn"));
    }
}
