//! Slows down password guessing: at most `limit` failed sign-ins per e-mail address in a
//! window; past that, 429 with `Retry-After` until the window ends. Kept in memory per
//! process (several processes each allow `limit`), keyed by the normalized address so
//! case and spaces do not make new keys. A success clears the address's count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Throttle {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(email: &str) -> String {
        email.trim().to_lowercase()
    }

    /// `Err(seconds to wait)` when the address has used up its attempts.
    pub fn check(&self, email: &str) -> Result<(), u64> {
        let map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&Self::key(email)) {
            Some((start, n)) if *n >= self.limit && start.elapsed() < self.window => {
                Err((self.window - start.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, email: &str) {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (start, _)| start.elapsed() < window);
        }
        let e = map.entry(Self::key(email)).or_insert((Instant::now(), 0));
        if e.0.elapsed() >= self.window {
            *e = (Instant::now(), 0);
        }
        e.1 += 1;
    }

    pub fn succeeded(&self, email: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&Self::key(email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_and_clears_on_success() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.check("A@x.cn").is_ok());
            t.failed("A@x.cn");
        }
        assert!(t.check(" a@x.cn").is_err(), "same address, other spelling");
        assert!(
            t.check("b@x.cn").is_ok(),
            "other addresses are not affected"
        );
        t.succeeded("a@x.cn");
        assert!(t.check("a@x.cn").is_ok());
    }
}

/// Requests per key per minute (a fixed one-minute window): past the key's limit,
/// `Err(seconds until the window ends)`. Per process, like [`Throttle`].
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
