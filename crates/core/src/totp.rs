//! Time-based one-time passwords for the staff's second factor: TOTP (RFC 6238) over
//! HOTP (RFC 4226) with HMAC-SHA1, 30-second steps and 6 digits — what authenticator
//! apps do by default — and the secret's base32 (RFC 4648 §6) as they scan it from an
//! `otpauth://totp/…` link (the Key Uri Format authenticator apps share).

use hmac::{KeyInit, Mac};

/// Seconds per step (RFC 6238 §4.1 default X).
pub const STEP: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, without padding (as authenticator apps show secrets).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            let idx = (n >> (35 - i * 5)) & 31;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

/// Reads base32 as people type it: any case, spaces and `=` padding ignored. None for
/// any other character, or trailing bits that are not zero.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = ALPHABET
            .iter()
            .position(|a| char::from(*a) == c.to_ascii_uppercase())?;
        acc = (acc << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA1 of the counter, dynamically truncated, `digits`
/// digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The step of a Unix time.
pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(STEP)
}

/// The code of a step, zero-padded.
pub fn code_at(secret: &[u8], step: i64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step.max(0) as u64, DIGITS),
        width = DIGITS as usize
    )
}

/// Checks a typed code at `unix` time, allowing one step of clock drift either way
/// (RFC 6238 §5.2), and never a step at or before `used` (a code is good once, §5.2).
/// The step it matched, to remember as used.
pub fn verify(secret: &[u8], typed: &str, unix: i64, used: Option<i64>) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix);
    (now - 1..=now + 1)
        .filter(|s| used.is_none_or(|u| *s > u))
        .find(|s| {
            let want = code_at(secret, *s);
            // Constant time: every byte compared.
            want.bytes()
                .zip(typed.bytes())
                .fold(0u8, |d, (a, b)| d | (a ^ b))
                == 0
        })
}

/// The `otpauth://` link an authenticator app scans (issuer and account label, the
/// secret in base32, SHA1, 6 digits, 30 s).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(account),
        base32_encode(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 4226 appendix D: the secret "12345678901234567890", counters 0–9.
    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (c, w) in want.iter().enumerate() {
            assert_eq!(
                hotp(b"12345678901234567890", c as u64, 6),
                *w,
                "counter {c}"
            );
        }
    }

    /// RFC 6238 appendix B, SHA1 column (8 digits).
    #[test]
    fn totp_matches_rfc_6238_appendix_b() {
        let secret = b"12345678901234567890";
        for (t, want) in [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, step_of(t) as u64, 8), want, "T = {t}");
        }
    }

    #[test]
    fn a_code_is_good_for_a_step_either_side_and_once() {
        let secret = b"12345678901234567890";
        let t = 1_800_000_000;
        let code = code_at(secret, step_of(t));
        assert_eq!(verify(secret, &code, t, None), Some(step_of(t)));
        assert_eq!(verify(secret, &code, t + STEP, None), Some(step_of(t)));
        assert_eq!(verify(secret, &code, t - STEP, None), Some(step_of(t)));
        assert_eq!(verify(secret, &code, t + 3 * STEP, None), None, "too late");
        assert_eq!(verify(secret, &code, t, Some(step_of(t))), None, "used");
        assert_eq!(verify(secret, "12345", t, None), None);
        assert_eq!(verify(secret, "abcdef", t, None), None);
    }

    #[test]
    fn base32_matches_rfc_4648_section_10() {
        for (plain, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW1"), None, "1 is not base32");
    }

    proptest! {
        #[test]
        fn base32_roundtrip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(base32_decode(&base32_encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn base32_junk_never_panics(s in "\\PC{0,80}") {
            let _ = base32_decode(&s);
        }
    }
}
