//! Slows down guessing: at most `limit` failed attempts per key (an e-mail address, a
//! line being attached, a client address reserving eSIMs) in a window; past that, 429
//! with `Retry-After` until the window ends. Counted in the database
//! (`simrenew_store::throttles`), so every server on it shares the count; keys are
//! normalized (case and spaces around them make no new key) and stored hashed. A success
//! clears the key's count.

use simrenew_store::Store;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        match (self.store)
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
        if let Err(e) = (self.store)
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

/// Requests per key per minute (a fixed one-minute window): past the key's limit,
/// `Err(seconds until the window ends)`. Per process (a partner's rate is a share of
/// capacity, not a guard against guessing: several servers each allow it).
#[derive(Default)]
pub struct RateLimit {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimit {
    /// Counts one request of `key`, allowed `per_minute` in a window.
    pub fn hit(&self, key: &str, per_minute: u32) -> Result<(), u64> {
        let window = Duration::from_secs(60);
        let mut map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| start.elapsed() < window);
        }
        let e = map.entry(key.to_string()).or_insert((Instant::now(), 0));
        if e.0.elapsed() >= window {
            *e = (Instant::now(), 0);
        }
        if e.1 >= per_minute {
            return Err((window - e.0.elapsed()).as_secs().max(1));
        }
        e.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn a_key_gets_its_rate_and_no_more_and_others_are_apart() {
        let r = RateLimit::default();
        for _ in 0..3 {
            assert!(r.hit("a", 3).is_ok());
        }
        let wait = r.hit("a", 3).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(r.hit("b", 3).is_ok());
    }
}
