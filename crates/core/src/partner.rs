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

/// Reads a partner's wholesale price list as an operator keeps it in a spreadsheet: one
/// `plan_id,currency,price` per line, the price in major units (`500`, `499.50`); blank
/// lines and a first header line (neither a plan id nor a price) are skipped. Each plan id
/// is checked for its form (the store checks that it exists).
pub fn parse_price_list(text: &str) -> Result<Vec<(String, crate::Money)>, crate::CsvError> {
    let mut rows = Vec::new();
    for (line, fields) in crate::csv_records(text) {
        let err = |reason: String| crate::CsvError { line, reason };
        let [plan, currency, price, ..] = fields[..] else {
            return Err(err("expected plan_id,currency,price".into()));
        };
        let plan_ok = crate::plan::valid_plan_id(plan);
        if line == 1 && !plan_ok && !price.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        if !plan_ok {
            return Err(err(format!("plan id {plan:?} is not a plan id")));
        }
        let currency: crate::Currency = currency
            .parse()
            .map_err(|e| err(format!("currency: {e}")))?;
        let price =
            crate::Money::parse_major(price, currency).map_err(|e| err(format!("price: {e}")))?;
        rows.push((plan.to_string(), price));
    }
    Ok(rows)
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

    #[test]
    fn a_price_list_reads_as_a_spreadsheet_exports_it() {
        use crate::{Currency, Money};
        let text = "\u{feff}plan_id;currency;price\nmts-month-30gb;RUB;500\n\n mts-week-10gb , cny , 29.90 \n";
        assert_eq!(
            parse_price_list(text).unwrap(),
            vec![
                (
                    "mts-month-30gb".to_string(),
                    Money::new(500_00, Currency::Rub)
                ),
                (
                    "mts-week-10gb".to_string(),
                    Money::new(29_90, Currency::Cny)
                ),
            ]
        );
        for (bad, line, says) in [
            ("mts-month-30gb,RUB", 1, "expected plan_id"),
            ("mts-a,RUB,1\nMTS MONTH,RUB,5", 2, "not a plan id"),
            ("mts-month-30gb,XXX,5", 1, "currency"),
            ("mts-month-30gb,RUB,zero", 1, "price"),
            ("mts-month-30gb,RUB,5\nmts-week-10gb,RUB,cheap", 2, "price"),
        ] {
            let e = parse_price_list(bad).unwrap_err();
            assert_eq!(e.line, line, "{bad}");
            assert!(e.reason.contains(says), "{bad}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_price_list_written_out_reads_back(rows in proptest::collection::vec(("[a-z]{3,8}(-[a-z0-9]{1,8}){0,3}", 1i64..100_000_000), 0..20)) {
            use crate::{Currency, Money};
            let text: String = rows.iter().map(|(p, m)| format!("{p},RUB,{}\n", Money::new(*m, Currency::Rub).major_string())).collect();
            let want: Vec<_> = rows.iter().map(|(p, m)| (p.clone(), Money::new(*m, Currency::Rub))).collect();
            proptest::prop_assert_eq!(parse_price_list(&text).unwrap(), want);
        }

        #[test]
        fn junk_never_panics_a_price_list(s in "\\PC{0,200}") {
            let _ = parse_price_list(&s);
        }
    }
}
