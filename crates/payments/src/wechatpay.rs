//! WeChat Pay API v3 (pay.weixin.qq.com/doc/v3/merchant), Native payment (the buyer
//! scans a code with WeChat), in "WeChat Pay public key" mode (微信支付公钥).
//!
//! - Every request carries `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",
//!   nonce_str="…",signature="…",timestamp="…",serial_no="…"`, the signature being
//!   SHA256withRSA by the merchant's API certificate key over
//!   `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` ("签名生成").
//! - Every answer and every notification is signed by WeChat Pay: `Wechatpay-Timestamp`,
//!   `Wechatpay-Nonce`, `Wechatpay-Signature`, `Wechatpay-Serial`; the signature is over
//!   `TIMESTAMP\nNONCE\nBODY\n` and is checked with the public key whose id is the serial
//!   ("验证签名"); the timestamp must be within 5 minutes; `Wechatpay-Signature-Type`,
//!   when sent (notifications always send it), must be `WECHATPAY2-SHA256-RSA2048`.
//!   Answers that fail are refused; notifications that fail get a 4xx (WeChat Pay also
//!   sends probes signed `WECHATPAY/SIGNTEST/…`, which fail the same way, as they must).
//! - A notification's `resource` is AEAD_AES_256_GCM-encrypted with the APIv3 key: the
//!   12-byte `nonce`, `associated_data` as AAD, `ciphertext` base64 of ciphertext and tag
//!   ("回调报文解密"). The decrypted transaction's `mchid` must be ours.
//! - Success is answered with 200 and no body; anything else makes WeChat Pay resend.
//!
//! Calls: `POST /v3/pay/transactions/native` (→ `code_url`), `GET
//! /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…`, `POST
//! /v3/refund/domestic/refunds`. Amounts are integers in fen; our attempt id is the
//! `out_trade_no`, our refund id the `out_refund_no`.

use crate::PaymentError;
use crate::keys::{SigningKey, VerifyingKey};
use crate::provider::{
    Checkout, Created, Method, NextStep, PayState, Provider, ProviderFuture, RefundAnswer,
    RefundState, Verified,
};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use simrenew_core::{Currency, Money};

/// The production API.
pub const API: &str = "https://api.mch.weixin.qq.com";

/// How far a signed timestamp may be from our clock.
pub const TOLERANCE_SECS: i64 = 300;

/// The one signature algorithm of API v3 in public-key mode, named by the
/// `Wechatpay-Signature-Type` header of answers and notifications ("回调通知": 签名算法,
/// enum `WECHATPAY2-SHA256-RSA2048`).
pub const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";

const METHODS: &[Method] = &[Method {
    value: "wechatpay:native",
    label: "pay-wechat",
    currency: Currency::Cny,
    scan: true,
}];

/// The merchant's credentials.
pub struct Credentials {
    pub mchid: String,
    pub appid: String,
    /// The serial number of the merchant's API certificate.
    pub serial_no: String,
    pub private_key: SigningKey,
    /// WeChat Pay's public key id (`PUB_KEY_ID_…`) and key.
    pub wechat_key_id: String,
    pub wechat_key: VerifyingKey,
    /// The APIv3 key (32 characters) that encrypts notifications.
    pub api_v3_key: String,
}

pub struct WeChatPay {
    base: String,
    c: Credentials,
    http: reqwest::Client,
}

impl std::fmt::Debug for WeChatPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeChatPay")
            .field("base", &self.base)
            .field("mchid", &self.c.mchid)
            .finish_non_exhaustive()
    }
}

/// The message WeChat Pay signs on answers and notifications.
pub fn answer_message(timestamp: &str, nonce: &str, body: &str) -> String {
    format!("{timestamp}\n{nonce}\n{body}\n")
}

/// The message a merchant signs on a request.
pub fn request_message(
    method: &str,
    path: &str,
    timestamp: &str,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The `Authorization` header's parameters, parsed (`key="value"` pairs).
pub fn authorization_params(header: &str) -> Option<std::collections::HashMap<String, String>> {
    let rest = header.strip_prefix("WECHATPAY2-SHA256-RSA2048 ")?;
    let mut out = std::collections::HashMap::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        out.insert(
            k.to_string(),
            v.strip_prefix('"')?.strip_suffix('"')?.to_string(),
        );
    }
    Some(out)
}

/// Checks WeChat Pay's signature headers over `body` with `key` (whose id must be the
/// serial) at `now` (Unix seconds).
pub fn verify_signed(
    headers: &HeaderMap,
    body: &str,
    key_id: &str,
    key: &VerifyingKey,
    now: i64,
) -> Result<(), String> {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("no {name} header"))
    };
    let (ts, nonce, sig, serial) = (
        h("wechatpay-timestamp")?,
        h("wechatpay-nonce")?,
        h("wechatpay-signature")?,
        h("wechatpay-serial")?,
    );
    if serial != key_id {
        return Err(format!("signed with key {serial:?}, not ours"));
    }
    if let Some(kind) = headers.get("wechatpay-signature-type")
        && kind.to_str().ok() != Some(SIGNATURE_TYPE)
    {
        return Err(format!("signed with {kind:?}, not {SIGNATURE_TYPE}"));
    }
    let t: i64 = ts
        .parse()
        .map_err(|_| "timestamp is not a number".to_string())?;
    if (now - t).abs() > TOLERANCE_SECS {
        return Err("timestamp too far from now".into());
    }
    if !key.verify(answer_message(ts, nonce, body).as_bytes(), sig) {
        return Err("signature does not verify".into());
    }
    Ok(())
}

/// Decrypts an AEAD_AES_256_GCM `resource` with the APIv3 key.
pub fn decrypt_resource(resource: &Value, api_v3_key: &[u8]) -> Result<Vec<u8>, String> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let field = |k: &str| resource.get(k).and_then(Value::as_str);
    if field("algorithm") != Some("AEAD_AES_256_GCM") {
        return Err("resource is not AEAD_AES_256_GCM".into());
    }
    let nonce = field("nonce").ok_or("no nonce")?;
    let nonce =
        Nonce::try_assume_unique_for_key(nonce.as_bytes()).map_err(|_| "nonce is not 12 bytes")?;
    let aad = field("associated_data").unwrap_or("");
    let mut data = B64
        .decode(field("ciphertext").ok_or("no ciphertext")?)
        .map_err(|_| "ciphertext is not base64")?;
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, api_v3_key).map_err(|_| "APIv3 key is not 32 bytes")?,
    );
    let plain = key
        .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut data)
        .map_err(|_| "resource does not decrypt with our APIv3 key")?;
    Ok(plain.to_vec())
}

/// Encrypts a resource as WeChat Pay does (the sandbox's notifications, tests).
pub fn encrypt_resource(plain: &[u8], api_v3_key: &[u8], nonce: &str, aad: &str) -> Option<Value> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, api_v3_key).ok()?);
    let mut data = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::try_assume_unique_for_key(nonce.as_bytes()).ok()?,
        Aad::from(aad.as_bytes()),
        &mut data,
    )
    .ok()?;
    Some(json!({
        "original_type": "transaction",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": B64.encode(data),
        "associated_data": aad,
        "nonce": nonce,
    }))
}

/// A random 32-character nonce.
pub fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string().to_uppercase()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `trade_state` of a transaction in our terms.
fn trade_state(tx: &Value) -> Result<PayState, PaymentError> {
    let state = tx.get("trade_state").and_then(Value::as_str).unwrap_or("");
    Ok(match state {
        // REFUND: paid, then (partly) refunded: it was paid.
        "SUCCESS" | "REFUND" => {
            let total = tx.pointer("/amount/total").and_then(Value::as_i64);
            let currency = tx
                .pointer("/amount/currency")
                .and_then(Value::as_str)
                .unwrap_or("CNY");
            let currency: Currency = currency
                .parse()
                .map_err(|_| PaymentError::BadAmount(currency.to_string()))?;
            let total = total.ok_or_else(|| PaymentError::Unreadable("no amount.total".into()))?;
            PayState::Succeeded(Money::new(total, currency))
        }
        "CLOSED" | "REVOKED" | "PAYERROR" => PayState::Canceled,
        _ => PayState::Open,
    })
}

impl WeChatPay {
    pub fn new(base: &str, c: Credentials) -> Result<Self, PaymentError> {
        if c.api_v3_key.len() != 32 {
            return Err(PaymentError::Config(
                "wechatpay_api_v3_key: must be 32 characters".into(),
            ));
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            c,
            http: crate::http_client()?,
        })
    }

    fn authorization(&self, method: &str, path: &str, body: &str) -> String {
        let ts = now().to_string();
        let nonce = nonce();
        let sig = self
            .c
            .private_key
            .sign(request_message(method, path, &ts, &nonce, body).as_bytes());
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{sig}\",timestamp=\"{ts}\",serial_no=\"{}\"",
            self.c.mchid, self.c.serial_no
        )
    }

    /// One signed call; the answer's body once its signature is verified.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, PaymentError> {
        let text = body.map(Value::to_string).unwrap_or_default();
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(&url),
            _ => self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(text.clone()),
        };
        let res = req
            .header("authorization", self.authorization(method, path, &text))
            .header("accept", "application/json")
            .header(
                "user-agent",
                concat!("simrenew/", env!("CARGO_PKG_VERSION")),
            )
            .send()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        let status = res.status();
        let headers = res.headers().clone();
        let answer = res
            .text()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        if status.is_server_error() {
            return Err(PaymentError::Transport(format!(
                "WeChat Pay answered {status}"
            )));
        }
        if !status.is_success() {
            // {"code": "...", "message": "..."}; read for its code only.
            let v: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            let f = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            return Err(PaymentError::Refused {
                status: status.as_u16(),
                detail: format!("{}: {}", f("code"), f("message")),
            });
        }
        verify_signed(
            &headers,
            &answer,
            &self.c.wechat_key_id,
            &self.c.wechat_key,
            now(),
        )
        .map_err(|e| PaymentError::Unreadable(format!("answer not from WeChat Pay: {e}")))?;
        if answer.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&answer).map_err(|e| PaymentError::Unreadable(e.to_string()))
    }

    /// The transaction by our `out_trade_no`.
    pub async fn query(&self, out_trade_no: &str) -> Result<Verified, PaymentError> {
        if out_trade_no.is_empty()
            || !out_trade_no
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_|*".contains(c))
        {
            return Err(PaymentError::BadNotification(
                "out_trade_no is not an id".into(),
            ));
        }
        let v = self
            .call(
                "GET",
                &format!(
                    "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
                    self.c.mchid
                ),
                None,
            )
            .await?;
        Ok(Verified {
            provider_id: out_trade_no.to_string(),
            state: trade_state(&v)?,
            saved: None,
        })
    }

    /// A notification: signature, then decryption, then our mchid.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, PaymentError> {
        let bad = |e: String| PaymentError::BadNotification(e);
        let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8".into()))?;
        verify_signed(
            headers,
            text,
            &self.c.wechat_key_id,
            &self.c.wechat_key,
            now(),
        )
        .map_err(bad)?;
        let v: Value = serde_json::from_str(text).map_err(|_| bad("not JSON".into()))?;
        let event = v.get("event_type").and_then(Value::as_str).unwrap_or("");
        if !event.starts_with("TRANSACTION.") {
            return Err(bad(format!("event {event:?} is not about a payment")));
        }
        let resource = v.get("resource").ok_or_else(|| bad("no resource".into()))?;
        let plain = decrypt_resource(resource, self.c.api_v3_key.as_bytes()).map_err(bad)?;
        let tx: Value =
            serde_json::from_slice(&plain).map_err(|_| bad("resource is not JSON".into()))?;
        if tx.get("mchid").and_then(Value::as_str) != Some(self.c.mchid.as_str()) {
            return Err(bad("for another merchant".into()));
        }
        let out_trade_no = tx
            .get("out_trade_no")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no out_trade_no".into()))?;
        Ok(Verified {
            provider_id: out_trade_no.to_string(),
            state: trade_state(&tx).map_err(|e| bad(e.to_string()))?,
            saved: None,
        })
    }
}

impl Provider for WeChatPay {
    fn name(&self) -> &'static str {
        "wechatpay"
    }

    fn methods(&self) -> &'static [Method] {
        METHODS
    }

    fn create<'a>(&'a self, c: &'a Checkout<'a>) -> ProviderFuture<'a, Created> {
        Box::pin(async move {
            if c.amount.currency != Currency::Cny {
                return Err(PaymentError::BadAmount(format!(
                    "{} is not in yuan",
                    crate::decimal(c.amount)
                )));
            }
            let v = self
                .call(
                    "POST",
                    "/v3/pay/transactions/native",
                    Some(&json!({
                        "appid": self.c.appid,
                        "mchid": self.c.mchid,
                        // At most 127 bytes.
                        "description": clip_bytes(c.description, 127),
                        "out_trade_no": c.attempt_id,
                        "notify_url": c.notify_url,
                        "amount": {"total": c.amount.minor, "currency": "CNY"},
                    })),
                )
                .await?;
            let code = v
                .get("code_url")
                .and_then(Value::as_str)
                .ok_or_else(|| PaymentError::Unreadable("no code_url".into()))?;
            Ok(Created {
                provider_id: c.attempt_id.to_string(),
                next: NextStep::Scan(code.to_string()),
            })
        })
    }

    fn status<'a>(&'a self, provider_id: &'a str) -> ProviderFuture<'a, Verified> {
        Box::pin(self.query(provider_id))
    }

    fn verify_notification<'a>(
        &'a self,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> ProviderFuture<'a, Verified> {
        Box::pin(async move { self.verify(headers, body) })
    }

    fn refund<'a>(
        &'a self,
        r: &'a crate::provider::Refunding<'a>,
    ) -> ProviderFuture<'a, RefundAnswer> {
        let (provider_id, amount, paid, key) = (r.provider_id, r.amount, r.paid, r.key);
        Box::pin(async move {
            let v = self
                .call(
                    "POST",
                    "/v3/refund/domestic/refunds",
                    Some(&json!({
                        "out_trade_no": provider_id,
                        "out_refund_no": key,
                        "amount": {"refund": amount.minor, "total": paid.minor, "currency": "CNY"},
                    })),
                )
                .await?;
            let state = match v.get("status").and_then(Value::as_str) {
                Some("SUCCESS") => RefundState::Succeeded,
                Some("CLOSED") | Some("ABNORMAL") => RefundState::Canceled,
                _ => RefundState::Pending,
            };
            let id = v.get("refund_id").and_then(Value::as_str).unwrap_or(key);
            Ok(RefundAnswer {
                id: id.to_string(),
                state,
            })
        })
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn clip_bytes(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_sealed_with_the_key_opens_only_with_it() {
        let key = b"0123456789abcdef0123456789abcdef";
        let r = encrypt_resource(br#"{"mchid":"1"}"#, key, "abcdefghijkl", "transaction").unwrap();
        assert_eq!(decrypt_resource(&r, key).unwrap(), br#"{"mchid":"1"}"#);
        assert!(decrypt_resource(&r, b"1123456789abcdef0123456789abcdef").is_err());
        let mut tampered = r.clone();
        tampered["associated_data"] = json!("refund");
        assert!(decrypt_resource(&tampered, key).is_err());
    }

    #[test]
    fn signed_headers_are_checked_for_key_time_and_body() {
        let k = SigningKey::generate();
        let v = k.verifying_key();
        let body = r#"{"code_url":"weixin://wxpay/bizpayurl?pr=abc"}"#;
        let headers = |ts: i64, serial: &str, sig: String| {
            let mut h = HeaderMap::new();
            h.insert("wechatpay-timestamp", ts.to_string().parse().unwrap());
            h.insert("wechatpay-nonce", "n0nce".parse().unwrap());
            h.insert("wechatpay-serial", serial.parse().unwrap());
            h.insert("wechatpay-signature", sig.parse().unwrap());
            h
        };
        let sig = k.sign(answer_message("1700000000", "n0nce", body).as_bytes());
        let ok = headers(1_700_000_000, "PUB_KEY_ID_1", sig.clone());
        assert!(verify_signed(&ok, body, "PUB_KEY_ID_1", &v, 1_700_000_100).is_ok());
        assert!(verify_signed(&ok, "{}", "PUB_KEY_ID_1", &v, 1_700_000_100).is_err());
        assert!(verify_signed(&ok, body, "PUB_KEY_ID_2", &v, 1_700_000_100).is_err());
        assert!(verify_signed(&ok, body, "PUB_KEY_ID_1", &v, 1_700_000_301).is_err());
        let probe = headers(
            1_700_000_000,
            "PUB_KEY_ID_1",
            format!("WECHATPAY/SIGNTEST/{sig}"),
        );
        assert!(verify_signed(&probe, body, "PUB_KEY_ID_1", &v, 1_700_000_000).is_err());
        // The algorithm named, as notifications name it: ours passes, another is refused.
        let mut named = ok.clone();
        named.insert("wechatpay-signature-type", SIGNATURE_TYPE.parse().unwrap());
        assert!(verify_signed(&named, body, "PUB_KEY_ID_1", &v, 1_700_000_100).is_ok());
        named.insert(
            "wechatpay-signature-type",
            "WECHATPAY2-SM2-WITH-SM3".parse().unwrap(),
        );
        let refused = verify_signed(&named, body, "PUB_KEY_ID_1", &v, 1_700_000_100);
        assert!(refused.unwrap_err().contains("WECHATPAY2-SM2-WITH-SM3"));
    }

    #[test]
    fn the_authorization_header_round_trips() {
        let p = authorization_params(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1900009191",nonce_str="N",signature="S/+=",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C""#,
        )
        .unwrap();
        assert_eq!(p["mchid"], "1900009191");
        assert_eq!(p["signature"], "S/+=");
        assert!(authorization_params("Bearer x").is_none());
    }

    #[test]
    fn descriptions_are_clipped_on_a_character_boundary() {
        let s = "续费".repeat(30);
        let c = clip_bytes(&s, 127);
        assert!(c.len() <= 127 && s.starts_with(c));
    }
}
