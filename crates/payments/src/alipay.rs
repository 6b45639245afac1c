//! Alipay open platform (opendocs.alipay.com), RSA2 both ways, in public-key mode.
//!
//! Requests go to the gateway (`https://openapi.alipay.com/gateway.do`) as a form with the
//! common parameters (`app_id`, `method`, `format=JSON`, `charset=utf-8`,
//! `sign_type=RSA2`, `timestamp` in Beijing time `yyyy-MM-dd HH:mm:ss`, `version=1.0`,
//! `notify_url`, `biz_content` as JSON) and `sign`: SHA256withRSA, with the merchant's
//! application private key, over every other parameter with a non-empty value, sorted by
//! name, as `k=v` joined by `&`, values not URL-encoded ("签名" in the common rules).
//!
//! Answers are `{"<method with _>_response": {…}, "sign": "…"}`; the signature, by
//! Alipay's public key, is over the response node's JSON text exactly as received, so
//! the node is taken raw (never re-serialized) and verified before it is read. `code`
//! `10000` is success; anything else is refused with `sub_code`/`sub_msg`.
//!
//! Asynchronous notifications (异步通知) are POSTed as a form; they are verified by
//! removing `sign` and `sign_type`, sorting the rest (empty values left out) into the same
//! `k=v&…` string and checking `sign` with Alipay's public key; `app_id` must be ours.
//! The answer that stops Alipay from resending is the bare text `success`.
//!
//! Payments are created with `alipay.trade.precreate`: a `qr_code` the buyer scans with
//! Alipay (on a phone, the same link opens the Alipay app). Status is
//! `alipay.trade.query` by our `out_trade_no` (the attempt id); refunds are
//! `alipay.trade.refund` with our refund id as `out_request_no` (a retry refunds once).

use crate::keys::{SigningKey, VerifyingKey};
use crate::provider::{
    Checkout, Created, Method, NextStep, PayState, Provider, ProviderFuture, RefundAnswer,
    RefundState, Verified,
};
use crate::{PaymentError, decimal, parse_decimal};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use simrenew_core::Currency;
use std::collections::{BTreeMap, HashMap};

/// The production gateway.
pub const GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

const METHODS: &[Method] = &[Method {
    value: "alipay:qr",
    label: "pay-alipay",
    currency: Currency::Cny,
    scan: true,
}];

/// A client for one application (app_id).
pub struct Alipay {
    gateway: String,
    app_id: String,
    key: SigningKey,
    alipay_key: VerifyingKey,
    http: reqwest::Client,
}

impl std::fmt::Debug for Alipay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alipay")
            .field("gateway", &self.gateway)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// The string Alipay signs: parameters with a value, except those in `skip`, sorted by
/// name, `k=v` joined by `&`, raw values.
pub fn sign_content<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    skip: &[&str],
) -> String {
    let sorted: BTreeMap<&str, &str> = params
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && !skip.contains(k))
        .collect();
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The gateway's `timestamp` format (Beijing time, UTC+8).
pub const TIMESTAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// Now in Beijing time as the gateway's `timestamp`.
pub fn beijing_now() -> String {
    time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+8))
        .format(TIMESTAMP)
        .unwrap_or_default()
}

/// The node of an answer and its signature, the node's text exactly as received.
pub fn response_node<'t>(
    text: &'t str,
    method: &str,
) -> Result<(&'t str, Option<String>), PaymentError> {
    let doc: HashMap<&str, &RawValue> = serde_json::from_str(text)
        .map_err(|_| PaymentError::Unreadable("gateway answer is not a JSON object".into()))?;
    let name = format!("{}_response", method.replace('.', "_"));
    let node = doc
        .get(name.as_str())
        .or_else(|| doc.get("error_response"))
        .ok_or_else(|| PaymentError::Unreadable(format!("no {name} in the answer")))?;
    let sign = doc
        .get("sign")
        .and_then(|s| serde_json::from_str::<String>(s.get()).ok());
    Ok((node.get(), sign))
}

impl Alipay {
    /// `app_private_key`: the application's private key (PEM or base64 PKCS#8/PKCS#1);
    /// `alipay_public_key`: Alipay's public key from the dashboard ("支付宝公钥").
    pub fn new(
        gateway: &str,
        app_id: &str,
        app_private_key: &str,
        alipay_public_key: &str,
    ) -> Result<Self, PaymentError> {
        crate::install_crypto();
        let key = SigningKey::parse(app_private_key)
            .map_err(|e| PaymentError::Config(format!("alipay_private_key: {e}")))?;
        let alipay_key = VerifyingKey::parse(alipay_public_key)
            .map_err(|e| PaymentError::Config(format!("alipay_public_key: {e}")))?;
        Ok(Self {
            gateway: gateway.to_string(),
            app_id: app_id.to_string(),
            key,
            alipay_key,
            http: crate::http_client()?,
        })
    }

    /// Calls `method` with `biz`; the verified response node on `code` 10000.
    async fn call(
        &self,
        method: &str,
        biz: &Value,
        notify_url: Option<&str>,
    ) -> Result<Value, PaymentError> {
        let biz_content = biz.to_string();
        let timestamp = beijing_now();
        let mut params: Vec<(&str, &str)> = vec![
            ("app_id", &self.app_id),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", &timestamp),
            ("version", "1.0"),
            ("biz_content", &biz_content),
        ];
        if let Some(n) = notify_url {
            params.push(("notify_url", n));
        }
        let sign = self
            .key
            .sign(sign_content(params.iter().copied(), &["sign"]).as_bytes());
        params.push(("sign", &sign));
        let res = self
            .http
            .post(&self.gateway)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(
                serde_urlencoded::to_string(&params)
                    .map_err(|e| PaymentError::Unreadable(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| PaymentError::Transport(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(PaymentError::Transport(format!(
                "gateway answered {status}"
            )));
        }
        let (node, sign) = response_node(&text, method)?;
        let verified = sign
            .as_deref()
            .is_some_and(|s| self.alipay_key.verify(node.as_bytes(), s));
        let v: Value =
            serde_json::from_str(node).map_err(|e| PaymentError::Unreadable(e.to_string()))?;
        let code = v.get("code").and_then(Value::as_str).unwrap_or("");
        if code == "10000" {
            if !verified {
                // A success we cannot attribute to Alipay is not one.
                return Err(PaymentError::Unreadable(
                    "answer's signature does not verify".into(),
                ));
            }
            return Ok(v);
        }
        // Errors are read for their codes only (some, such as a bad app_id, come unsigned).
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Err(PaymentError::Refused {
            status: 200,
            detail: format!(
                "{} {}: {}",
                field("code"),
                field("sub_code"),
                field("sub_msg")
            ),
        })
    }

    /// `alipay.trade.precreate`: the QR code for `out_trade_no`.
    pub async fn precreate(&self, c: &Checkout<'_>) -> Result<String, PaymentError> {
        if c.amount.currency != Currency::Cny {
            return Err(PaymentError::BadAmount(format!(
                "{} is not in yuan",
                decimal(c.amount)
            )));
        }
        let v = self
            .call(
                "alipay.trade.precreate",
                &json!({
                    "out_trade_no": c.attempt_id,
                    "total_amount": decimal(c.amount),
                    "subject": c.description.chars().take(256).collect::<String>(),
                    "timeout_express": "30m",
                }),
                Some(c.notify_url),
            )
            .await?;
        v.get("qr_code")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PaymentError::Unreadable("no qr_code".into()))
    }

    /// `alipay.trade.query` by our `out_trade_no`.
    pub async fn query(&self, out_trade_no: &str) -> Result<Verified, PaymentError> {
        match self
            .call(
                "alipay.trade.query",
                &json!({"out_trade_no": out_trade_no}),
                None,
            )
            .await
        {
            Ok(v) => {
                let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
                Ok(Verified {
                    provider_id: out_trade_no.to_string(),
                    state: trade_state(field("trade_status"), field("total_amount"))?,
                    saved: None,
                })
            }
            // Not scanned yet: the trade exists at Alipay only once the buyer has.
            Err(PaymentError::Refused { detail, .. }) if detail.contains("ACQ.TRADE_NOT_EXIST") => {
                Ok(Verified {
                    provider_id: out_trade_no.to_string(),
                    state: PayState::Open,
                    saved: None,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// A notification's form body, verified (RSA2 with Alipay's key, our app_id).
    pub fn verify_form(&self, body: &[u8]) -> Result<Verified, PaymentError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| PaymentError::BadNotification("not a form".into()))?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let sign = get("sign").ok_or_else(|| PaymentError::BadNotification("no sign".into()))?;
        let content = sign_content(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &["sign", "sign_type"],
        );
        if !self.alipay_key.verify(content.as_bytes(), sign) {
            return Err(PaymentError::BadNotification(
                "signature does not verify".into(),
            ));
        }
        if get("app_id") != Some(self.app_id.as_str()) {
            return Err(PaymentError::BadNotification("for another app_id".into()));
        }
        let out_trade_no = get("out_trade_no")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| PaymentError::BadNotification("no out_trade_no".into()))?;
        Ok(Verified {
            provider_id: out_trade_no.to_string(),
            state: trade_state(
                get("trade_status").unwrap_or(""),
                get("total_amount").unwrap_or(""),
            )
            .map_err(|e| PaymentError::BadNotification(e.to_string()))?,
            saved: None,
        })
    }
}

/// `trade_status` in our terms: TRADE_SUCCESS and TRADE_FINISHED are paid,
/// TRADE_CLOSED closed unpaid (or fully refunded), WAIT_BUYER_PAY open.
fn trade_state(status: &str, total: &str) -> Result<PayState, PaymentError> {
    Ok(match status {
        "TRADE_SUCCESS" | "TRADE_FINISHED" => PayState::Succeeded(parse_decimal(total, "CNY")?),
        "TRADE_CLOSED" => PayState::Canceled,
        _ => PayState::Open,
    })
}

impl Provider for Alipay {
    fn name(&self) -> &'static str {
        "alipay"
    }

    fn methods(&self) -> &'static [Method] {
        METHODS
    }

    fn create<'a>(&'a self, c: &'a Checkout<'a>) -> ProviderFuture<'a, Created> {
        Box::pin(async move {
            let code = self.precreate(c).await?;
            Ok(Created {
                provider_id: c.attempt_id.to_string(),
                next: NextStep::Scan(code),
            })
        })
    }

    fn status<'a>(&'a self, provider_id: &'a str) -> ProviderFuture<'a, Verified> {
        Box::pin(self.query(provider_id))
    }

    fn verify_notification<'a>(
        &'a self,
        _headers: &'a axum::http::HeaderMap,
        body: &'a [u8],
    ) -> ProviderFuture<'a, Verified> {
        Box::pin(async move { self.verify_form(body) })
    }

    fn acknowledgement(&self) -> &'static str {
        "success"
    }

    fn refund<'a>(
        &'a self,
        r: &'a crate::provider::Refunding<'a>,
    ) -> ProviderFuture<'a, RefundAnswer> {
        let (provider_id, amount, key) = (r.provider_id, r.amount, r.key);
        Box::pin(async move {
            // A 10000 answer is the refund done (fund_change "N" on a retry of the same
            // out_request_no: done before).
            self.call(
                "alipay.trade.refund",
                &json!({
                    "out_trade_no": provider_id,
                    "refund_amount": decimal(amount),
                    "out_request_no": key,
                }),
                None,
            )
            .await?;
            Ok(RefundAnswer {
                id: key.to_string(),
                state: RefundState::Succeeded,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_string_sorts_skips_empty_and_skipped_and_keeps_values_raw() {
        let s = sign_content(
            [
                ("sign_type", "RSA2"),
                ("app_id", "2021000000000001"),
                ("biz_content", r#"{"out_trade_no":"a&b=c"}"#),
                ("notify_url", ""),
                ("sign", "xyz"),
                ("charset", "utf-8"),
            ],
            &["sign", "sign_type"],
        );
        assert_eq!(
            s,
            r#"app_id=2021000000000001&biz_content={"out_trade_no":"a&b=c"}&charset=utf-8"#
        );
    }

    #[test]
    fn the_response_node_is_taken_exactly_as_received() {
        let text = r#"{"alipay_trade_query_response":{"code":"10000","msg":"Success","total_amount":"88.88"  },"sign":"c2ln"}"#;
        let (node, sign) = response_node(text, "alipay.trade.query").unwrap();
        assert_eq!(
            node,
            r#"{"code":"10000","msg":"Success","total_amount":"88.88"  }"#
        );
        assert_eq!(sign.as_deref(), Some("c2ln"));
        let err = r#"{"error_response":{"code":"40002","sub_code":"isv.invalid-app-id"}}"#;
        assert!(
            response_node(err, "alipay.trade.query")
                .unwrap()
                .1
                .is_none()
        );
        assert!(response_node("[]", "alipay.trade.query").is_err());
    }
}
