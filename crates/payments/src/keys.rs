//! RSA keys as the providers hand them out, for SHA256withRSA (PKCS#1 v1.5) signatures:
//! Alipay's "RSA2" and WeChat Pay API v3's `WECHATPAY2-SHA256-RSA2048`.
//!
//! Keys are read from PEM (`BEGIN PRIVATE KEY` PKCS#8, `BEGIN RSA PRIVATE KEY` PKCS#1,
//! `BEGIN PUBLIC KEY` SubjectPublicKeyInfo, `BEGIN RSA PUBLIC KEY`) or from the bare
//! base64 of the same DER that Alipay's key tool and dashboard show. The arithmetic is the
//! RustCrypto `rsa` crate 0.10 (constant-time `crypto-bigint`); a private key is never
//! printed by `Debug`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::sha2::Sha256;

/// A key that could not be read; says which kind was expected, never the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}: not an RSA key in PEM or base64 DER (PKCS#8/PKCS#1, SubjectPublicKeyInfo)")]
pub struct KeyError(pub &'static str);

/// The DER inside PEM armour or bare base64 (whitespace and line breaks ignored).
fn der(text: &str) -> Option<Vec<u8>> {
    let b64: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    B64.decode(b64).ok().filter(|d| !d.is_empty())
}

/// Our private key: signs requests (and, in the sandboxes, the provider's answers).
pub struct SigningKey(rsa::PrivateKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

impl SigningKey {
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let d = der(text).ok_or(KeyError("private key"))?;
        rsa::PrivateKey::from_pkcs8_der(&d)
            .or_else(|_| rsa::PrivateKey::from_pkcs1_der(&d))
            .map(Self)
            .map_err(|_| KeyError("private key"))
    }

    /// A new 2048-bit key (the sandboxes' and the tests' keys).
    pub fn generate() -> Self {
        // The system RNG failing is not something a shop can go on from.
        #[allow(clippy::expect_used)]
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("system RNG");
        Self(key)
    }

    /// SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256) of `msg`, base64.
    pub fn sign(&self, msg: &[u8]) -> String {
        // Signing with a well-formed key does not fail; an error here is a broken key.
        match self.0.pkcs1v15_sign::<Sha256>(msg) {
            Ok(sig) => B64.encode(sig),
            Err(_) => String::new(),
        }
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.to_public_key())
    }

    /// PKCS#8 PEM, as a merchant's key file is written.
    pub fn to_pem(&self) -> String {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .unwrap_or_default()
    }
}

/// The provider's public key: checks its signatures.
#[derive(Clone)]
pub struct VerifyingKey(rsa::PublicKey);

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyingKey(…)")
    }
}

impl VerifyingKey {
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let d = der(text).ok_or(KeyError("public key"))?;
        rsa::PublicKey::from_public_key_der(&d)
            .or_else(|_| rsa::PublicKey::from_pkcs1_der(&d))
            .map(Self)
            .map_err(|_| KeyError("public key"))
    }

    /// Whether `sig_b64` is a valid SHA256withRSA signature of `msg` by this key.
    pub fn verify(&self, msg: &[u8], sig_b64: &str) -> bool {
        let Ok(sig) = B64.decode(sig_b64.trim()) else {
            return false;
        };
        self.0.pkcs1v15_verify::<Sha256>(msg, &sig).is_ok()
    }

    /// SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`).
    pub fn to_pem(&self) -> String {
        self.0.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_key_only_and_survives_every_key_form() {
        let k = SigningKey::generate();
        let other = SigningKey::generate();
        let sig = k.sign(b"app_id=1&method=x");
        // PEM and the bare base64 of the same DER, as the dashboards show it.
        let pem = k.verifying_key().to_pem();
        let bare: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        for text in [pem.as_str(), bare.as_str()] {
            let v = VerifyingKey::parse(text).unwrap();
            assert!(v.verify(b"app_id=1&method=x", &sig));
            assert!(!v.verify(b"app_id=1&method=y", &sig));
        }
        assert!(!other.verifying_key().verify(b"app_id=1&method=x", &sig));
        let again = SigningKey::parse(&k.to_pem()).unwrap();
        assert!(k.verifying_key().verify(b"m", &again.sign(b"m")));
        assert!(!k.verifying_key().verify(b"m", "not base64!"));
    }

    #[test]
    fn junk_is_not_a_key() {
        for junk in [
            "",
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
            "AAAA",
            "hello",
        ] {
            assert!(SigningKey::parse(junk).is_err());
            assert!(VerifyingKey::parse(junk).is_err());
        }
    }
}
