//! How a third-party seller signs its requests to `/partner/v1` (docs/partner-api.md):
//! HMAC-SHA256 under the partner's secret of
//!
//! ```text
//! METHOD \n PATH[?QUERY] \n TIMESTAMP \n NONCE \n hex(SHA-256(body))
//! ```
//!
//! sent as `X-Simrenew-Key` (the key id), `X-Simrenew-Timestamp` (Unix seconds),
//! `X-Simrenew-Nonce` (unique per request, 8–64 visible characters) and
//! `X-Simrenew-Signature` (lowercase hex). A request older or newer than
//! [`MAX_SKEW_SECS`] is stale; a nonce seen before within that window is a replay.

use hmac::{KeyInit, Mac};
use sha2::Digest;

/// How far a request's timestamp may be from our clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a signed request was refused (each its own problem type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("header {0} is missing")]
    Missing(&'static str),
    #[error("X-Simrenew-Timestamp must be Unix seconds")]
    BadTimestamp,
    #[error(
        "the request is {0} s away from our clock (at most {MAX_SKEW_SECS} s): check the clock and sign again"
    )]
    Stale(i64),
    #[error("X-Simrenew-Nonce must be 8 to 64 visible ASCII characters")]
    BadNonce,
    #[error("the signature does not match this request")]
    Mismatch,
}

/// The string that is signed.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        timestamp,
        nonce,
        hex::encode(sha2::Sha256::digest(body))
    )
}

/// The signature of a request, lowercase hex.
pub fn sign(secret: &[u8], canonical: &str) -> String {
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the timestamp against `now` and the nonce's form; the timestamp.
pub fn check_fresh(timestamp: &str, nonce: &str, now: i64) -> Result<i64, SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = ts - now;
    if skew.abs() > MAX_SKEW_SECS {
        return Err(SignatureError::Stale(skew));
    }
    if !(8..=64).contains(&nonce.len()) || !nonce.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SignatureError::BadNonce);
    }
    Ok(ts)
}

/// Whether `given` is the signature of `canonical` under `secret` (constant time).
pub fn verify(secret: &[u8], canonical: &str, given: &str) -> Result<(), SignatureError> {
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(canonical.as_bytes());
    let given = hex::decode(given.trim()).map_err(|_| SignatureError::Mismatch)?;
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Computed independently (Python's hmac and hashlib), as docs/partner-api.md shows.
    #[test]
    fn matches_the_documented_example() {
        let c = canonical(
            "post",
            "/partner/v1/orders",
            "1764072000",
            "n-0001",
            br#"{"line":"+79161234561"}"#,
        );
        assert!(c.ends_with("c7990dd9e64f9d34c7a30ea8a75252596ef6db962b1d0b7b9eb1e66b661649fe"));
        assert_eq!(
            sign(b"sk_test_secret", &c),
            "4ce3a14fde4722f73af87211c12108884c3535479f0e8377bd0094e47d4a1206"
        );
        let g = canonical(
            "GET",
            "/partner/v1/lines/79161234561",
            "1764072000",
            "n-0002",
            b"",
        );
        assert_eq!(
            sign(b"sk_test_secret", &g),
            "b56701614f09eea600cfa950e8417eb14a1a035d4ca8c924a0d73fef6f8bae8f"
        );
        assert_eq!(
            verify(
                b"sk_test_secret",
                &g,
                "B56701614F09EEA600CFA950E8417EB14A1A035D4CA8C924A0D73FEF6F8BAE8F"
            ),
            Ok(())
        );
        assert_eq!(
            verify(b"other", &g, &sign(b"sk_test_secret", &g)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_malformed_requests_are_named() {
        assert_eq!(
            check_fresh("1000", "nonce-123", 1000 + 301),
            Err(SignatureError::Stale(-301))
        );
        assert_eq!(
            check_fresh("1301", "nonce-123", 1000),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            check_fresh("soon", "nonce-123", 1000),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check_fresh("1000", "short", 1000),
            Err(SignatureError::BadNonce)
        );
        assert_eq!(
            check_fresh("1000", "has space", 1000),
            Err(SignatureError::BadNonce)
        );
        assert_eq!(check_fresh("1000", "nonce-123", 1299), Ok(1000));
    }

    proptest! {
        /// Any change to the method, path, timestamp, nonce or body breaks the signature.
        #[test]
        fn every_part_is_covered(body in proptest::collection::vec(any::<u8>(), 0..64), flip in 0usize..5) {
            let parts = ["POST", "/partner/v1/orders", "1764072000", "nonce-abc1"];
            let c = canonical(parts[0], parts[1], parts[2], parts[3], &body);
            let sig = sign(b"k", &c);
            let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            let mut b = body.clone();
            match flip {
                4 => b.push(b'x'),
                i => p[i].push('x'),
            }
            let changed = canonical(&p[0], &p[1], &p[2], &p[3], &b);
            prop_assert_eq!(verify(b"k", &changed, &sig), Err(SignatureError::Mismatch));
            prop_assert_eq!(verify(b"k", &c, &sig), Ok(()));
        }
    }
}
