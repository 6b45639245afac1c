//! Stripe webhook signatures ("Check the webhook signatures", docs.stripe.com/webhooks):
//! the `Stripe-Signature` header is `t=<unix time>,v1=<hex>[,v1=<hex>…][,v0=…]`; each v1
//! is HMAC-SHA256, keyed with the endpoint's signing secret, of `<t>.<raw body>`. A
//! request is genuine when one v1 matches (compared in constant time) and `t` is within
//! the tolerance of now (Stripe's libraries default to 300 s), which stops replays.

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

/// Stripe's default tolerance, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Stripe-Signature header missing or malformed")]
    Malformed,
    #[error("no v1 signature in Stripe-Signature")]
    NoSignature,
    #[error("timestamp outside the tolerance (replayed or clock skew)")]
    Stale,
    #[error("no signature matches the body")]
    Mismatch,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The v1 signature of `body` sent at `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a `Stripe-Signature` header against the raw body, at `now` (unix seconds).
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => v1.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    if (now - t).abs() > tolerance {
        return Err(SignatureError::Stale);
    }
    let want = sign(secret, t, body);
    if v1
        .iter()
        .any(|s| bool::from(want.as_bytes().ct_eq(s.as_bytes())))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently (Python: hmac.new(b"whsec_test_secret",
    // b'1700000000.{"id":"evt_1","type":"payment_intent.succeeded"}', hashlib.sha256)).
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    const SECRET: &str = "whsec_test_secret";
    const VECTOR: &str = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";

    #[test]
    fn matches_an_independently_computed_signature() {
        assert_eq!(sign(SECRET, 1_700_000_000, BODY), VECTOR);
        let header = format!("t=1700000000,v1={VECTOR},v0=ignored");
        assert_eq!(
            verify(&header, BODY, SECRET, 1_700_000_100, TOLERANCE_SECS),
            Ok(())
        );
    }

    #[test]
    fn refuses_forged_stale_and_malformed_headers() {
        let good = format!("t=1700000000,v1={VECTOR}");
        let now = 1_700_000_000;
        assert_eq!(
            verify(&good, b"{}", SECRET, now, TOLERANCE_SECS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&good, BODY, "whsec_other", now, TOLERANCE_SECS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&good, BODY, SECRET, now + 301, TOLERANCE_SECS),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("t=1700000000", BODY, SECRET, now, TOLERANCE_SECS),
            Err(SignatureError::NoSignature)
        );
        for bad in ["", "garbage", "t=abc,v1=00", "v1=00"] {
            assert_eq!(
                verify(bad, BODY, SECRET, now, TOLERANCE_SECS),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // A second, rotated secret's signature beside the right one still verifies.
        let rotated = format!("t=1700000000,v1=deadbeef,v1={VECTOR}");
        assert_eq!(verify(&rotated, BODY, SECRET, now, TOLERANCE_SECS), Ok(()));
    }
}
